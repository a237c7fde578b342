"""The one progress path: a running job's reporter saves progress on the Job and broadcasts it.

Messages follow SPEC §5. Saves and broadcasts are rate-limited (JOB_PROGRESS_MIN_INTERVAL, ~10/s);
the final message is always sent. The database copy is the truth: a client that connects late, or
after a broker restart, reads it first.
"""

import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils import timezone

from gan.models import Job
from pdm_site.realtime import broadcast


class JobCancelled(Exception):
    """Raised inside a job's work when someone asked to cancel it."""


class JobInterrupted(Exception):
    """Raised inside a job's work when the process running it is stopping."""


# Set once when the embedded server stops: running work ends at its next step instead of holding the exit.
_process_stopping = threading.Event()


def interrupt_running_jobs() -> None:
    _process_stopping.set()


def job_message(job: Job, message_type: str, **extra) -> dict:
    last_epoch, last_loss = job.loss_history[-1] if job.loss_history else (None, None)
    message = {
        "type": message_type,
        "job": job.pk,
        "machine_id": job.machine.machine_id if job.machine_id else None,
        "kind": job.kind,
        "stage": job.stage,
        "current": job.current,
        "total": job.total,
        "progress": round(job.progress, 2),
        "status": job.status,
        "epoch": last_epoch,
        "loss": last_loss,
        "message": (job.error or job.message) if job.status == Job.Status.FAILURE else job.message,
        "timestamp": timezone.now().isoformat(),
    }
    message.update(extra)
    return message


def job_broadcast(job: Job, message_type: str, **extra) -> None:
    broadcast(job.group_name, {"type": "job.message", "message": job_message(job, message_type, **extra)})


class ProgressReporter:
    """Handed to a job's work: `update(...)` as it goes, `check_cancelled()` at each step."""

    SAVED_FIELDS = ["current", "total", "progress", "stage", "message", "loss_history", "heartbeat_at"]
    CANCEL_CHECK_INTERVAL = 0.5

    def __init__(self, job: Job):
        self.job = job
        self._last_sent = 0.0
        self._last_cancel_check = 0.0
        self._losses_sent = len(job.loss_history)

    def update(
        self,
        *,
        current: int | None = None,
        total: int | None = None,
        stage: str | None = None,
        message: str | None = None,
        epoch: int | None = None,
        loss: float | None = None,
        force: bool = False,
    ) -> None:
        job = self.job
        if total is not None:
            job.total = total
        if current is not None:
            job.current = current
        if stage is not None:
            job.stage = stage
        if message is not None:
            job.message = message[:500]
        if epoch is not None and loss is not None:
            job.loss_history.append([epoch, round(float(loss), 6)])
        job.progress = min(100.0, 100.0 * job.current / job.total) if job.total else job.progress
        now = time.monotonic()
        if not force and now - self._last_sent < settings.JOB_PROGRESS_MIN_INTERVAL:
            return
        self._last_sent = now
        job.heartbeat_at = timezone.now()
        Job.objects.filter(pk=job.pk).update(**{field: getattr(job, field) for field in self.SAVED_FIELDS})
        # Every epoch's loss reaches the chart, even when several epochs share one message.
        job_broadcast(job, "progress", losses=job.loss_history[self._losses_sent :])
        self._losses_sent = len(job.loss_history)

    def check_cancelled(self) -> None:
        if _process_stopping.is_set():
            raise JobInterrupted()
        now = time.monotonic()
        if now - self._last_cancel_check < self.CANCEL_CHECK_INTERVAL:
            return
        self._last_cancel_check = now
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()


@contextmanager
def heartbeat(job_id: int):
    """Beat the job's heartbeat from a thread while its work runs, so long silent steps are not stale."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
