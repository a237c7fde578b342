"""The demo bootstrap and model training through the one job path: seed data for the whole demo fleet and
ONE training job; a real Celery worker (Redis broker, PostgreSQL) trains it, the core's progress streams
over the job's WebSocket, and each model becomes the active version of its kind and category."""

import io

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command

from gan.models import Job, SeedDataset
from machines.models import Machine
from machines.services import fleet_load
from predictions.models import ModelVersion
from predictions.services.training import demo_bootstrap
from tests.conftest import frames_until_closing


def test_bootstrap_seeds_every_demo_machine_and_queues_one_job(db):
    fleet_load()
    call_command("demo_bootstrap", stdout=io.StringIO())
    assert SeedDataset.objects.count() == Machine.objects.count() == 32
    (job,) = Job.objects.filter(kind=Job.Kind.MODEL_TRAINING)
    assert job.status == Job.Status.PENDING and job.params["demo"] and job.params["quick"]
    units = job.params["units"]
    assert len(units) == 11 and {u["scope"] for u in units} == {"category"}
    assert [u["label"] for u in units[:2]] == ["category cnc", "category motor"]  # the biggest first
    assert all(u["kinds"] == ["health", "rul", "anomaly", "forecast"] for u in units)
    # Running it again changes nothing: the seeds exist and the job is still pending.
    assert demo_bootstrap() == {"seeded": 0, "job": job, "categories": []}
    assert Job.objects.filter(kind=Job.Kind.MODEL_TRAINING).count() == 1


@pytest.mark.django_db(transaction=True)
async def test_the_worker_trains_the_bootstrap_job_with_live_progress(celery_worker, viewer, open_socket):
    await database_sync_to_async(fleet_load)()
    outcome = await database_sync_to_async(demo_bootstrap)(categories=["motor"])
    job = outcome["job"]
    frames = await frames_until_closing(await open_socket(f"/ws/jobs/{job.pk}/", viewer), timeout=120)

    assert frames[-1]["status"] == "SUCCESS", frames[-1]
    stages = {frame["stage"] for frame in frames}
    assert {
        "health: fit",
        "health: importance",
        "rul: calibrate",
        "anomaly: fit",
        "forecast: saving",
    } <= stages
    progress = [frame["progress"] for frame in frames if frame["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 100

    job = await database_sync_to_async(Job.objects.get)(pk=job.pk)
    assert [v["kind"] for v in job.result["versions"]] == ["health", "rul", "anomaly", "forecast"]
    assert job.result["failed"] == []
    versions = await database_sync_to_async(
        lambda: {v.kind: v for v in ModelVersion.objects.filter(category__name="motor", is_active=True)}
    )()
    assert set(versions) == {"health", "rul", "anomaly", "forecast"}
    health, rul = versions["health"], versions["rul"]
    assert health.metrics["accuracy"] > 0.8 and len(health.metrics["confusion_matrix"]) == 4
    assert rul.metrics["interval"]["level"] == 0.9 and rul.metrics["rmse"] > 0
    assert {item["feature"] for item in health.feature_importance} <= set(health.sensors)
    assert health.library_versions["sklearn"] and health.history_rows == 20
    assert health.training_data["source"] == "seed" and len(health.training_data["machines"]) == 7
    assert health.training_data["rows_used"]["used"] <= 1_500  # PREDICTIONS_DEMO_MAX_ROWS in the tests
