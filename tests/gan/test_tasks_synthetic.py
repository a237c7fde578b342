"""Every synthetic-data job end to end: the API starts it, a real Celery worker runs it (Redis broker,
PostgreSQL), and its frames arrive over a real WebSocket through the Redis channel layer."""

import time

import pytest
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from gan.models import Job, QualityReport, SynthesizerModel, SyntheticDataset
from gan.services.batch import batch_start
from gan.services.jobs import job_cancel
from gan.services.synthetic import seed_create, train_start
from gan.signals import synthetic_ready
from tests.conftest import frames_until_closing

pytestmark = pytest.mark.django_db(transaction=True)
SPEC_MESSAGE_KEYS = {
    "type",
    "job",
    "machine_id",
    "kind",
    "stage",
    "current",
    "total",
    "progress",
    "status",
    "epoch",
    "loss",
    "message",
    "timestamp",
}


def _wait(job_id: int, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _post(user, path: str, data: dict):
    client = APIClient()
    client.force_authenticate(user)
    return client.post(path, data, format="json")


def _get(user, path: str):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(path)


async def test_seed_train_generate_validate_through_the_worker_with_live_frames(
    celery_worker, operator, viewer, make_motor, open_socket
):
    machine = await database_sync_to_async(make_motor)()
    base = f"/api/v1/machines/{machine.machine_id}"
    post, wait = database_sync_to_async(_post), database_sync_to_async(_wait)

    started = await post(operator, f"{base}/seed/", {"rows": 1_000, "seed": 11})
    assert started.status_code == 202, started.data
    seed_job = await wait(started.data["job"])
    assert (seed_job.status, seed_job.result["rows"]) == (Job.Status.SUCCESS, 1_000)

    started = await post(operator, f"{base}/train/", {"epochs": 4, "batch_size": 100})
    assert started.status_code == 202, started.data
    assert started.data["ws_url"] == f"/ws/jobs/{started.data['job']}/"
    frames = await frames_until_closing(await open_socket(started.data["ws_url"], viewer))
    connected, live, closing = frames[0], frames[1:-1], frames[-1]
    assert connected["type"] == "connected"
    assert all(set(frame) >= SPEC_MESSAGE_KEYS for frame in frames)
    epochs = {epoch for epoch, _ in connected["loss_history"]}
    epochs |= {epoch for frame in live for epoch, _ in frame.get("losses", [])}
    assert epochs == {1, 2, 3, 4}
    training = [frame for frame in live if frame["stage"] == "training" and frame["epoch"]]
    assert training, [frame["stage"] for frame in live]
    assert all(frame["total"] == 4 and frame["loss"] > 0 for frame in training)
    assert [frame["epoch"] for frame in training] == sorted(frame["epoch"] for frame in training)
    assert (closing["status"], closing["progress"], closing["epoch"]) == ("SUCCESS", 100, 4)

    late = await frames_until_closing(await open_socket(started.data["ws_url"], viewer))
    assert [frame["type"] for frame in late] == ["connected", "closing"]
    assert [epoch for epoch, _ in late[0]["loss_history"]] == [1, 2, 3, 4]

    model = await database_sync_to_async(SynthesizerModel.objects.get)(machine=machine)
    assert (model.version, model.is_active, model.epochs_run, model.device) == (1, True, 4, "cpu")
    assert model.losses == pytest.approx([loss for _, loss in late[0]["loss_history"]], rel=1e-6)

    ready = []
    synthetic_ready.connect(lambda **kw: ready.append(kw), weak=False, dispatch_uid="test-ready")
    try:
        started = await post(
            operator, f"{base}/generate/", {"train_rows": 1_000, "val_rows": 100, "test_rows": 100}
        )
        assert started.status_code == 202, started.data
        generate_job = await wait(started.data["job"])
    finally:
        synthetic_ready.disconnect(dispatch_uid="test-ready")
    assert generate_job.status == Job.Status.SUCCESS, generate_job.error
    dataset = await database_sync_to_async(SyntheticDataset.objects.get)(machine=machine)
    assert [(kw["machine_pk"], kw["dataset_pk"]) for kw in ready] == [(machine.pk, dataset.pk)]
    assert dataset.rows == 1_200 and dataset.synthesizer_id == model.pk

    started = await post(operator, f"{base}/validate/", {})
    assert started.status_code == 202, started.data
    validate_job = await wait(started.data["job"])
    assert validate_job.status == Job.Status.SUCCESS, validate_job.error
    report = await database_sync_to_async(QualityReport.objects.get)(dataset=dataset)
    assert validate_job.result["verdict"] == report.verdict

    status = (await database_sync_to_async(_get)(viewer, f"{base}/status/")).data
    states = {step["key"]: step["state"] for step in status["steps"]}
    assert states == {
        "profile": "done",
        "seed": "done",
        "train": "done",
        "generate": "done",
        "validate": "failed" if report.verdict == "fail" else "done",
    }
    assert status["report"]["overall"] == report.overall
    assert status["synthesizer"]["losses"] == pytest.approx(model.losses)


def test_cancel_mid_training_stops_at_the_next_epoch(celery_worker, operator, make_motor, wait_job):
    machine = make_motor()
    seed_create(machine=machine, rows=1_000, seed=11)
    job = train_start(machine=machine, epochs=500, batch_size=100, user=operator)
    deadline = time.monotonic() + 60
    while job.current < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.current >= 2
    job_cancel(job=job)
    job = wait_job(job)
    assert job.status == Job.Status.CANCELLED
    assert 2 <= job.current < 500
    assert [epoch for epoch, _ in job.loss_history] == list(range(1, len(job.loss_history) + 1))
    assert not SynthesizerModel.objects.filter(machine=machine).exists()


def test_a_failing_training_leaves_failure_with_the_reason(celery_worker, operator, make_motor, wait_job):
    machine = make_motor()
    seed = seed_create(machine=machine, rows=1_000, seed=11)
    default_storage.delete(seed.file.name)  # the seed file went missing from the store
    job = wait_job(train_start(machine=machine, epochs=3, batch_size=100, user=operator))
    assert job.status == Job.Status.FAILURE
    assert job.error.startswith("FileNotFoundError")
    assert job.message == "Failed"
    assert not SynthesizerModel.objects.filter(machine=machine).exists()


def test_batches_run_every_child_and_count_them(celery_worker, with_model, make_motor, operator, wait_job):
    bare = make_motor("motor_gan_002")
    rows = {"train": 1_000, "val": 100, "test": 100}
    batch = batch_start(operation="generate", machines=[with_model, bare], rows=rows, user=operator)
    batch = wait_job(batch)
    assert batch.status == Job.Status.SUCCESS, batch.error
    assert (batch.result["children"], batch.result["succeeded"]) == (1, 1)
    assert set(batch.result["skipped"]) == {"motor_gan_002"}
    assert (batch.current, batch.total, batch.progress) == (1, 1, 100.0)

    batch = wait_job(batch_start(operation="validate", user=operator))
    assert batch.status == Job.Status.SUCCESS, batch.error
    child = batch.children.get()
    assert (child.kind, child.machine, child.status) == (Job.Kind.VALIDATE, with_model, Job.Status.SUCCESS)
    assert QualityReport.objects.filter(dataset__machine=with_model).count() == 1
