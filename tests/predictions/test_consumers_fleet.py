"""/ws/fleet/ over the real channel layer (Redis in server mode): roles, then "machine updated" messages."""

import pytest
from channels.db import database_sync_to_async

from predictions.services.serving import machine_refresh
from tests.predictions.conftest import add_readings

pytestmark = pytest.mark.django_db(transaction=True)


async def test_anonymous_and_roleless_sockets_are_closed(make_user, open_socket):
    anonymous = await open_socket("/ws/fleet/")
    assert await anonymous.receive_output() == {"type": "websocket.close", "code": 4401}
    roleless = await open_socket("/ws/fleet/", await database_sync_to_async(make_user)(None))
    assert await roleless.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_a_refresh_reaches_every_viewer(viewer, motor, motor_models, open_socket):
    await database_sync_to_async(add_readings)(motor, 20)
    communicator = await open_socket("/ws/fleet/", viewer)
    assert await communicator.receive_json_from(timeout=5) == {"type": "connected", "group": "fleet"}
    health = await database_sync_to_async(machine_refresh)(motor.pk)
    message = await communicator.receive_json_from(timeout=10)
    assert message["type"] == "machine.updated" and message["machine_id"] == motor.machine_id
    assert message["state"] == health.state and message["rul"] == pytest.approx(health.rul)
    assert message["last_reading_at"] == health.last_reading_at.isoformat()
    await communicator.send_json_to({"type": "hello"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
