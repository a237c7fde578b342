"""/ws/jobs/<id>/ over the real channel layer (Redis in server mode)."""

import pytest
from channels.db import database_sync_to_async

from gan.models import Job
from gan.services.jobs import job_start
from gan.services.progress import ProgressReporter

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_job(user, **fields):
    job = job_start(kind=Job.Kind.TRAIN, task_name="tests.never_runs", user=user)
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


async def test_anonymous_socket_closes_with_4401(db, open_socket):
    communicator = await open_socket("/ws/jobs/1/")
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_user_without_role_closes_with_4403(make_user, open_socket):
    user = await database_sync_to_async(make_user)(None)
    communicator = await open_socket("/ws/jobs/1/", user)
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_unknown_job_gets_an_error_frame_and_4404(viewer, open_socket):
    communicator = await open_socket("/ws/jobs/999999/", viewer)
    assert (await communicator.receive_json_from())["type"] == "error"
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4404}


async def test_late_joiner_gets_state_and_history_then_live_frames(viewer, open_socket):
    job = await make_job(viewer, status=Job.Status.RUNNING, total=10, loss_history=[[1, 2.0], [2, 1.5]])
    communicator = await open_socket(f"/ws/jobs/{job.pk}/", viewer)
    connected = await communicator.receive_json_from()
    assert connected["type"] == "connected"
    assert connected["loss_history"] == [[1, 2.0], [2, 1.5]]
    assert (connected["status"], connected["epoch"], connected["loss"]) == ("RUNNING", 2, 1.5)

    reporter = ProgressReporter(job)
    await database_sync_to_async(reporter.update)(current=3, epoch=3, loss=1.25, stage="training")
    live = await communicator.receive_json_from(timeout=5)
    assert live["type"] == "progress"
    assert (live["current"], live["progress"], live["epoch"], live["loss"]) == (3, 30.0, 3, 1.25)
    assert live["losses"] == [[3, 1.25]]
    assert set(live) >= {"job", "machine_id", "kind", "stage", "total", "status", "message", "timestamp"}


async def test_finished_job_sends_state_then_closing(viewer, open_socket):
    job = await make_job(viewer, status=Job.Status.FAILURE, error="ValueError: bad")
    communicator = await open_socket(f"/ws/jobs/{job.pk}/", viewer)
    first = await communicator.receive_json_from()
    assert (first["type"], first["status"], first["message"]) == ("connected", "FAILURE", "ValueError: bad")
    assert (await communicator.receive_json_from())["type"] == "closing"


@pytest.mark.slow
async def test_an_idle_socket_still_receives_frames_after_seven_seconds(viewer, open_socket):
    # redis-py 8's 5 s read timeout used to race channels-redis' 5 s blocking pop and end the receive loop.
    import asyncio

    job = await make_job(viewer, status=Job.Status.RUNNING, total=10)
    communicator = await open_socket(f"/ws/jobs/{job.pk}/", viewer)
    assert (await communicator.receive_json_from())["type"] == "connected"
    await asyncio.sleep(7)
    await database_sync_to_async(ProgressReporter(job).update)(current=1, epoch=1, loss=0.5)
    assert (await communicator.receive_json_from(timeout=5))["epoch"] == 1
