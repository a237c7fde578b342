"""Celery tasks: each loads ids and calls a service."""

from celery import shared_task

from gan.services.jobs import jobs_sweep_stale


@shared_task(ignore_result=True)
def sweep_stale_jobs() -> int:
    return jobs_sweep_stale()
