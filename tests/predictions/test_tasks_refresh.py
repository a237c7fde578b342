"""New readings → a throttled refresh on a real Celery worker → predictions logged, the machine's health
rewritten and "machine updated" broadcast to the fleet group, over the real broker and channel layer."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from predictions.models import MachineHealth, Prediction
from predictions.services.telemetry import readings_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def send(machine, count: int, start_ago: float) -> None:
    start = timezone.now() - timedelta(seconds=start_ago)
    readings_ingest(
        machine=machine,
        payload={
            "readings": [
                {
                    "timestamp": (start + timedelta(seconds=i)).isoformat(),
                    "values": {
                        "bearing_de_temp_C": 60.0 + i / 10,
                        "winding_temp_C": 75.0,
                        "vibration_mm_s": 5.5,
                        "current_A": 12.0,
                    },
                }
                for i in range(count)
            ]
        },
    )


async def test_readings_refresh_predictions_once_per_window(
    celery_worker, settings, viewer, motor, motor_models, open_socket
):
    settings.PREDICTIONS_REFRESH_SECONDS = 30
    socket = await open_socket("/ws/fleet/", viewer)
    assert (await socket.receive_json_from(timeout=5))["type"] == "connected"

    await database_sync_to_async(send)(motor, 20, start_ago=120)
    message = await socket.receive_json_from(timeout=60)
    assert message["type"] == "machine.updated" and message["machine_id"] == motor.machine_id

    health = await database_sync_to_async(MachineHealth.objects.get)(machine=motor)
    assert health.state == message["state"] is not None and health.predicted_at is not None
    kinds = await database_sync_to_async(
        lambda: sorted(Prediction.objects.filter(machine=motor).values_list("kind", flat=True))
    )()
    assert kinds == ["anomaly", "forecast", "health", "rul"]

    # More readings inside the window: stored, but no second refresh.
    await database_sync_to_async(send)(motor, 5, start_ago=60)
    assert await socket.receive_nothing(timeout=2, interval=0.1)
    assert await database_sync_to_async(Prediction.objects.filter(machine=motor).count)() == 4
