from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gan.models import Job
from gan.selectors import job_list
from gan.serializers import JobSerializer, JobStartedSerializer
from gan.services.jobs import JobStateError, job_cancel, job_retry
from pdm_site.api import Conflict


class JobFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")

    class Meta:
        model = Job
        fields = ["machine", "kind", "status"]


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every long operation of the product, whatever its kind."""

    serializer_class = JobSerializer
    filterset_class = JobFilter
    ordering_fields = ["created_at", "finished_at", "status"]
    search_fields = ["machine__machine_id", "message"]

    def get_queryset(self):
        return job_list()

    @extend_schema(request=None, responses={200: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            job = job_cancel(job=self.get_object())
        except JobStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(JobSerializer(job).data)

    @extend_schema(request=None, responses={202: JobStartedSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        try:
            job = job_retry(job=self.get_object(), user=request.user)
        except JobStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)
