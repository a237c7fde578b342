"""Reads shared by the pages and the API."""

from django.db.models import QuerySet

from gan.models import Job


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("machine", "requested_by")
