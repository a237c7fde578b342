"""Celery tasks: a few lines each; the work lives in the services."""

from celery import shared_task

from gan.services.jobs import job_execute
from predictions.services.ingestion import ingestion_run
from predictions.services.serving import fleet_snapshot_take, machine_refresh
from predictions.services.simulation import simulate_tick
from predictions.services.telemetry import telemetry_retention as retention
from predictions.services.training import training_run


@shared_task(ignore_result=True)
def train_models(job_id: int) -> None:
    job_execute(job_id=job_id, work=training_run)


@shared_task(ignore_result=True)
def ingest_dataset(job_id: int) -> None:
    job_execute(job_id=job_id, work=ingestion_run)


@shared_task(ignore_result=True)
def refresh_machine(machine_pk: int) -> None:
    machine_refresh(machine_pk)


@shared_task(ignore_result=True)
def telemetry_retention() -> dict:
    return retention()


@shared_task(ignore_result=True)
def fleet_snapshot() -> None:
    fleet_snapshot_take()


@shared_task(ignore_result=True)
def simulate_fleet_tick() -> dict:
    return simulate_tick()
