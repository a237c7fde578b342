"""/ws/jobs/<id>/ over the real channel layer (Redis in server mode)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from gan.models import Job
from gan.services.jobs import job_start
from gan.services.progress import ProgressReporter
from pdm_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://127.0.0.1"),
    ]


async def connect(path, user=None):
    headers = (
        await database_sync_to_async(session_cookie)(user) if user else [(b"origin", b"http://127.0.0.1")]
    )
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@database_sync_to_async
def make_job(user, **fields):
    job = job_start(kind=Job.Kind.TRAIN, task_name="tests.never_runs", user=user)
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


async def test_anonymous_socket_closes_with_4401(db):
    communicator = await connect("/ws/jobs/1/")
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_user_without_role_closes_with_4403(make_user):
    user = await database_sync_to_async(make_user)(None)
    communicator = await connect("/ws/jobs/1/", user)
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_unknown_job_gets_an_error_frame_and_4404(viewer):
    communicator = await connect("/ws/jobs/999999/", viewer)
    assert (await communicator.receive_json_from())["type"] == "error"
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4404}


async def test_late_joiner_gets_state_and_history_then_live_frames(viewer):
    job = await make_job(viewer, status=Job.Status.RUNNING, total=10, loss_history=[[1, 2.0], [2, 1.5]])
    communicator = await connect(f"/ws/jobs/{job.pk}/", viewer)
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
    await communicator.disconnect()


async def test_finished_job_sends_state_then_closing(viewer):
    job = await make_job(viewer, status=Job.Status.FAILURE, error="ValueError: bad")
    communicator = await connect(f"/ws/jobs/{job.pk}/", viewer)
    first = await communicator.receive_json_from()
    assert (first["type"], first["status"], first["message"]) == ("connected", "FAILURE", "ValueError: bad")
    assert (await communicator.receive_json_from())["type"] == "closing"


@pytest.mark.slow
async def test_an_idle_socket_still_receives_frames_after_seven_seconds(viewer):
    # redis-py 8's 5 s read timeout used to race channels-redis' 5 s blocking pop and end the receive loop.
    import asyncio

    job = await make_job(viewer, status=Job.Status.RUNNING, total=10)
    communicator = await connect(f"/ws/jobs/{job.pk}/", viewer)
    assert (await communicator.receive_json_from())["type"] == "connected"
    await asyncio.sleep(7)
    await database_sync_to_async(ProgressReporter(job).update)(current=1, epoch=1, loss=0.5)
    assert (await communicator.receive_json_from(timeout=5))["epoch"] == 1
    await communicator.disconnect()
