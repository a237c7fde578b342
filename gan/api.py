"""The jobs API and the synthetic-data API (SPEC §3): start each step, follow it, read what it made.

Starting a step answers 202 with the job and its WebSocket URL; watch /ws/jobs/<id>/ or poll
/api/v1/jobs/<id>/. Parameters outside SPEC §3 bounds answer 400 naming the field; a missing earlier
step answers 409 saying which step comes first.
"""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role
from gan import selectors
from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.serializers import (
    BatchStartSerializer,
    GenerateStartSerializer,
    JobSerializer,
    JobStartedSerializer,
    QualityReportSerializer,
    SeedDatasetSerializer,
    SeedStartSerializer,
    SynthesizerSerializer,
    SyntheticDatasetSerializer,
    TrainStartSerializer,
    ValidateStartSerializer,
    WorkflowStatusSerializer,
)
from gan.services import synthetic
from gan.services.batch import batch_start
from gan.services.files import open_file
from gan.services.jobs import JobStateError, job_cancel, job_retry
from machines.models import Machine
from pdm_site.api import Conflict

PARQUET = "application/vnd.apache.parquet"
STARTED = OpenApiExample(
    "Started",
    value={
        "job": 42,
        "status": "PENDING",
        "kind": "train",
        "ws_url": "/ws/jobs/42/",
        "url": "/api/v1/jobs/42/",
    },
    response_only=True,
    status_codes=["202"],
)
CONFLICT = OpenApiResponse(description="A missing earlier step, or the same step already running.")


class JobFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")

    class Meta:
        model = Job
        fields = ["machine", "kind", "status", "parent"]


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every long operation of the product, whatever its kind."""

    serializer_class = JobSerializer
    filterset_class = JobFilter
    ordering_fields = ["created_at", "finished_at", "status"]
    search_fields = ["machine__machine_id", "message"]

    def get_queryset(self):
        return selectors.job_list()

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


# --- Starting the steps --------------------------------------------------------------------------------


class StepStartView(APIView):
    """POST starts the step for the machine: 202 with the job."""

    throttle_scope = "costly"
    input_serializer = None

    def start(self, machine: Machine, data: dict, user) -> Job:
        raise NotImplementedError

    def post(self, request, machine_id):
        machine = get_object_or_404(Machine, machine_id=machine_id)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = self.start(machine, serializer.validated_data, request.user)
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _step_schema(summary: str, serializer, example: dict, description: str = ""):
    return extend_schema(
        summary=summary,
        description=description,
        request=serializer,
        responses={202: JobStartedSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Parameters", value=example, request_only=True), STARTED],
    )


class SeedStartView(StepStartView):
    input_serializer = SeedStartSerializer

    @_step_schema(
        "Generate seed data",
        SeedStartSerializer,
        {"rows": 10000, "seed": 7},
        "Physics-based run-to-failure rows from the machine's profile (SPEC §3.1); the last cycle is held "
        "out of training. 400 when rows is outside 1,000–100,000.",
    )
    def post(self, request, machine_id):
        return super().post(request, machine_id)

    def start(self, machine, data, user):
        return synthetic.seed_start(machine=machine, rows=data["rows"], seed=data["seed"], user=user)


class TrainStartView(StepStartView):
    input_serializer = TrainStartSerializer

    @_step_schema(
        "Train a TVAE synthesizer",
        TrainStartSerializer,
        {"epochs": 300, "batch_size": 500, "variant": "residual"},
        "Learns from the latest seed data; a new version that becomes active when it succeeds. Progress "
        "(epoch, loss) streams on the job's WebSocket. 409 without seed data.",
    )
    def post(self, request, machine_id):
        return super().post(request, machine_id)

    def start(self, machine, data, user):
        return synthetic.train_start(machine=machine, user=user, **data)


class GenerateStartView(StepStartView):
    input_serializer = GenerateStartSerializer

    @_step_schema(
        "Generate synthetic train/val/test data",
        GenerateStartSerializer,
        {"train_rows": 35000, "val_rows": 7500, "test_rows": 7500},
        "Samples the active synthesizer (SPEC §3.3). 409 without a trained synthesizer.",
    )
    def post(self, request, machine_id):
        return super().post(request, machine_id)

    def start(self, machine, data, user):
        return synthetic.generate_start(machine=machine, user=user, **data)


class ValidateStartView(StepStartView):
    input_serializer = ValidateStartSerializer

    @_step_schema(
        "Validate synthetic data",
        ValidateStartSerializer,
        {"split": "train"},
        "Quality report (SDMetrics, per-sensor KS and Wasserstein, RUL correlations, TSTR) of the latest "
        "synthetic dataset, or of `dataset`. 409 without synthetic data.",
    )
    def post(self, request, machine_id):
        return super().post(request, machine_id)

    def start(self, machine, data, user):
        dataset = None
        if data["dataset"] is not None:
            dataset = SyntheticDataset.objects.filter(pk=data["dataset"]).first()
            if dataset is None:
                raise ValidationError({"dataset": [f"no synthetic dataset {data['dataset']}"]})
        return synthetic.validate_start(machine=machine, dataset=dataset, split=data["split"], user=user)


class WorkflowStatusView(APIView):
    @extend_schema(
        summary="The machine's synthetic-data workflow",
        description="profile → seed → model trained → synthetic → validated: each step's state "
        "(done, running, failed, todo) with its latest job, and the records the steps made.",
        responses=WorkflowStatusSerializer,
    )
    def get(self, request, machine_id):
        machine = get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)
        return Response(WorkflowStatusSerializer(selectors.machine_workflow_status(machine)).data)


class BatchStartView(APIView):
    throttle_scope = "costly"

    @extend_schema(
        summary="Start a batch operation",
        description="validate (every machine with synthetic data, or the selection), retrain_failing "
        "(active model's verdict fail: trains again with twice the epochs, at most 1,000), generate (the "
        "selected machines). One batch job whose children are per-machine jobs; machines that cannot take "
        "the step are skipped with the reason (the batch job's params.skipped).",
        request=BatchStartSerializer,
        responses={202: JobStartedSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample("Validate all", value={"operation": "validate"}, request_only=True),
            OpenApiExample(
                "Generate for two machines",
                value={"operation": "generate", "machines": ["motor_siemens_1la7_001", "cnc_haas_vf2_001"]},
                request_only=True,
            ),
            STARTED,
        ],
    )
    def post(self, request):
        serializer = BatchStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        machines = list(Machine.objects.filter(machine_id__in=data["machines"]))
        unknown = sorted(set(data["machines"]) - {machine.machine_id for machine in machines})
        if unknown:
            raise ValidationError({"machines": [f"unknown machine_id(s): {', '.join(unknown)}"]})
        rows = {split: data[f"{split}_rows"] for split in ("train", "val", "test")}
        job = batch_start(operation=data["operation"], machines=machines, rows=rows, user=request.user)
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- What the steps made -------------------------------------------------------------------------------


class MachineFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id", help_text="machine_id")


class SeedFilter(MachineFilter):
    class Meta:
        model = SeedDataset
        fields = ["machine"]


class SynthesizerFilter(MachineFilter):
    class Meta:
        model = SynthesizerModel
        fields = ["machine", "is_active", "verdict", "variant"]


class SyntheticFilter(MachineFilter):
    class Meta:
        model = SyntheticDataset
        fields = ["machine", "synthesizer"]


class QualityReportFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="dataset__machine__machine_id", help_text="machine_id")

    class Meta:
        model = QualityReport
        fields = ["machine", "dataset", "verdict"]


def _parquet_response(name: str, filename: str) -> FileResponse:
    """Streamed from the storage in blocks; the file is never loaded whole."""
    return FileResponse(open_file(name), as_attachment=True, filename=filename, content_type=PARQUET)


class SeedDatasetViewSet(viewsets.ReadOnlyModelViewSet):
    """Seed datasets, newest first."""

    serializer_class = SeedDatasetSerializer
    filterset_class = SeedFilter
    ordering_fields = ["created_at", "rows"]

    def get_queryset(self):
        return selectors.seed_list()

    @extend_schema(
        summary="Download the seed rows (parquet)", responses={(200, PARQUET): OpenApiTypes.BINARY}
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        seed = self.get_object()
        return _parquet_response(seed.file.name, f"{seed.machine.machine_id}_seed_{seed.pk}.parquet")


class SynthesizerViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained synthesizers: versions per machine, never overwritten. Admins activate a version."""

    serializer_class = SynthesizerSerializer
    filterset_class = SynthesizerFilter
    ordering_fields = ["created_at", "version"]
    action_roles = {"activate": Role.ADMIN}

    def get_queryset(self):
        return selectors.synthesizer_list()

    @extend_schema(
        summary="Activate this version",
        description="It becomes the machine's active model (generation samples from it); admins only.",
        request=None,
        responses={200: SynthesizerSerializer},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        model = synthetic.synthesizer_activate(synthesizer=self.get_object(), user=request.user)
        return Response(SynthesizerSerializer(model).data)


class SyntheticDatasetViewSet(viewsets.ReadOnlyModelViewSet):
    """Synthetic datasets (train/val/test splits), newest first."""

    serializer_class = SyntheticDatasetSerializer
    filterset_class = SyntheticFilter
    ordering_fields = ["created_at", "rows"]

    def get_queryset(self):
        return selectors.synthetic_list()

    @extend_schema(
        summary="Download one split (parquet)",
        parameters=[OpenApiParameter("split", str, enum=list(SyntheticDataset.SPLITS), default="train")],
        responses={(200, PARQUET): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        dataset = self.get_object()
        split = request.query_params.get("split", "train")
        try:
            name = selectors.synthetic_split_name(dataset, split)
        except KeyError as exc:
            raise NotFound(f"No split {split!r}: use train, val or test.") from exc
        return _parquet_response(name, f"{dataset.machine.machine_id}_{split}_{dataset.pk}.parquet")


class QualityReportViewSet(viewsets.ReadOnlyModelViewSet):
    """Quality reports of synthetic datasets, newest first."""

    serializer_class = QualityReportSerializer
    filterset_class = QualityReportFilter
    ordering_fields = ["created_at", "overall"]

    def get_queryset(self):
        return selectors.quality_report_list()
