"""Celery tasks of the assistant: each runs its job's work through the one job path."""

from celery import shared_task

from assistant.services.reports import report_run
from gan.services.jobs import job_execute


@shared_task(ignore_result=True)
def build_report(job_id: int) -> None:
    job_execute(job_id=job_id, work=report_run)
