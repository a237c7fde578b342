"""Celery tasks: each runs its job's work through the one job path (gan.services.jobs.job_execute).

Training is routed to the `gpu` queue when CELERY_GPU_QUEUE is set (settings.CELERY_TASK_ROUTES); its
torch threads come from GAN_TORCH_THREADS, set by the work for the length of the fit.
"""

from celery import shared_task

from gan.services.batch import batch_run
from gan.services.jobs import job_execute, jobs_sweep_stale
from gan.services.synthetic import generate_run, seed_run, train_run, validate_run


@shared_task(ignore_result=True)
def sweep_stale_jobs() -> int:
    return jobs_sweep_stale()


@shared_task(ignore_result=True)
def generate_seed(job_id: int) -> None:
    job_execute(job_id=job_id, work=seed_run)


@shared_task(ignore_result=True)
def train_synthesizer(job_id: int) -> None:
    job_execute(job_id=job_id, work=train_run)


@shared_task(ignore_result=True)
def generate_synthetic(job_id: int) -> None:
    job_execute(job_id=job_id, work=generate_run)


@shared_task(ignore_result=True)
def validate_synthetic(job_id: int) -> None:
    job_execute(job_id=job_id, work=validate_run)


@shared_task(ignore_result=True)
def run_batch(job_id: int) -> None:
    job_execute(job_id=job_id, work=batch_run)
