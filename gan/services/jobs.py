"""Job lifecycle: start → (worker) execute → finish, cancel, retry, and the stale-job sweeper.

Every long operation of the product goes through `job_start` and `job_execute`:
a service creates the Job (PENDING) and queues its task after commit; the task calls `job_execute`
with the work to do; the work reports through a ProgressReporter. A task only runs a PENDING job,
so a redelivered message never runs the same work twice.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gan.models import Job
from gan.services.progress import (
    JobCancelled,
    JobInterrupted,
    ProgressReporter,
    heartbeat,
    job_broadcast,
)
from gan.signals import job_finished
from pdm_site.celery import app as celery_app

logger = logging.getLogger(__name__)

JobWork = Callable[[Job, ProgressReporter], dict | None]
INTERRUPTED = "interrupted: the server stopped while the job ran (retry it)"


class JobStateError(Exception):
    """The job is not in a state that allows this (e.g. retrying a running job)."""


def _enqueue(job: Job) -> None:
    celery_app.send_task(job.task_name, args=[job.pk], task_id=job.celery_task_id)


@transaction.atomic
def job_start(
    *,
    kind: str,
    task_name: str,
    machine=None,
    user=None,
    params: dict | None = None,
    parent: Job | None = None,
    message: str = "Queued",
) -> Job:
    """Create a PENDING job and queue its task once the transaction commits."""
    job = Job.objects.create(
        kind=kind,
        task_name=task_name,
        machine=machine,
        requested_by=user if user is not None and user.is_authenticated else None,
        params=params or {},
        parent=parent,
        message=message,
        celery_task_id=str(uuid.uuid4()),
    )
    transaction.on_commit(lambda: _enqueue(job))
    return job


def _finish(job: Job, status: str, *, result: dict | None = None, error: str = "", message: str = "") -> bool:
    """Move a RUNNING job to a final state; False when something else (the sweeper) finished it first."""
    now = timezone.now()
    fields = {"status": status, "finished_at": now, "heartbeat_at": now, "error": error[:5000]}
    if result is not None:
        fields["result"] = result
    if message:
        fields["message"] = message[:500]
    if status == Job.Status.SUCCESS:
        fields.update(progress=100.0, current=job.total or job.current)
    if not Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(**fields):
        return False
    _announce_finished(job.pk)
    return True


def _announce_finished(job_id: int) -> None:
    job = Job.objects.select_related("machine").get(pk=job_id)
    job_broadcast(job, "error" if job.status == Job.Status.FAILURE else "progress")
    job_broadcast(job, "closing")
    transaction.on_commit(
        lambda: job_finished.send(sender=Job, job_id=job.pk, kind=job.kind, status=job.status)
    )


def _run(work: JobWork, job: Job, reporter: ProgressReporter) -> tuple[str, dict | None, str]:
    try:
        return Job.Status.SUCCESS, work(job, reporter) or {}, ""
    except JobCancelled:
        return Job.Status.CANCELLED, None, ""
    except JobInterrupted:
        return Job.Status.FAILURE, None, INTERRUPTED
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        return Job.Status.FAILURE, None, f"{type(exc).__name__}: {exc}"


def job_execute(*, job_id: int, work: JobWork) -> Job | None:
    """Run `work` for a PENDING job: RUNNING with a heartbeat, then SUCCESS, FAILURE (with the reason)
    or CANCELLED. Returns None when the job was not PENDING (redelivered, cancelled, or unknown)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.PENDING).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, message="Started"
    )
    if not claimed:
        logger.info("Job %s is not pending; its task does nothing.", job_id)
        return None
    job = Job.objects.select_related("machine", "requested_by").get(pk=job_id)
    reporter = ProgressReporter(job)
    job_broadcast(job, "progress")
    with heartbeat(job_id):
        status, result, error = _run(work, job, reporter)
        reporter.update(force=True)  # the last losses and progress, whatever the rate limit held back
        message = {Job.Status.SUCCESS: job.message or "Done", Job.Status.CANCELLED: "Cancelled"}.get(
            status, "Failed"
        )
        _finish(job, status, result=result, error=error, message=message)
    job.refresh_from_db()
    return job


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    """A pending job is cancelled at once; a running one gets a flag its work checks at each step."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobStateError(f"Job {job.pk} already finished ({job.status}).")
    if job.status == Job.Status.PENDING:
        job.status = Job.Status.CANCELLED
        job.finished_at = timezone.now()
        job.message = "Cancelled before it started"
        job.save(update_fields=["status", "finished_at", "message"])
        _announce_finished(job.pk)
    else:
        job.cancel_requested = True
        job.message = "Cancelling…"
        job.save(update_fields=["cancel_requested", "message"])
    for child in job.children.exclude(status__in=Job.FINISHED):
        job_cancel(job=child)
    return job


@transaction.atomic
def job_retry(*, job: Job, user) -> Job:
    """Start a new job with the same kind, machine and parameters as a failed or cancelled one."""
    if job.status not in (Job.Status.FAILURE, Job.Status.CANCELLED):
        raise JobStateError(f"Only failed or cancelled jobs can be retried; job {job.pk} is {job.status}.")
    return job_start(
        kind=job.kind,
        task_name=job.task_name,
        machine=job.machine,
        user=user,
        params=job.params,
        message=f"Retry of job {job.pk}",
    )


def jobs_sweep_stale() -> int:
    """Mark RUNNING jobs whose heartbeat went stale FAILURE ("worker lost"); return how many."""
    limit = settings.JOB_STALE_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=limit)
    stale_ids = list(
        Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    )
    swept = 0
    for job_id in stale_ids:
        with transaction.atomic():
            reason = f"worker lost: no heartbeat for more than {limit:.0f} s"
            updated = Job.objects.filter(
                pk=job_id, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff
            ).update(
                status=Job.Status.FAILURE, finished_at=timezone.now(), error=reason, message="Worker lost"
            )
            if updated:
                swept += 1
                _announce_finished(job_id)
    return swept


def jobs_recover_after_restart() -> str:
    """Embedded mode starts with an empty in-memory broker: queue pending jobs again, fail running ones."""
    running = Job.objects.filter(status=Job.Status.RUNNING)
    failed = running.update(
        status=Job.Status.FAILURE,
        finished_at=timezone.now(),
        error="worker lost: the server restarted while the job ran",
        message="Worker lost",
    )
    pending = list(Job.objects.filter(status=Job.Status.PENDING).order_by("created_at"))
    for job in pending:
        _enqueue(job)
    return f"{len(pending)} pending job(s) queued again, {failed} interrupted job(s) marked failed"
