"""The assistant as `make run` serves it: one daphne process in embedded mode (SQLite, in-process worker,
in-memory channel layer) with the tiny model; explanations and chat over /ws/assistant/, a PDF report made
by the in-process worker.

    PDM_TEST_MODE=embedded .venv/bin/pytest -m embedded tests/assistant
"""

import io
import json
import os

import pytest
from pypdf import PdfReader
from websockets.sync.client import connect

pytestmark = pytest.mark.embedded
MACHINE_ID = "motor_weg_w22_003"
TIMEOUT = 60
# The demo fleet, one refresh of a motor whose bearing runs hot, and a day of readings drifting there.
SEED = """
from datetime import timedelta
from django.utils import timezone
from machines.models import Machine
from machines.services import fleet_load
from predictions.models import MachineHealth, Prediction, SensorReading
fleet_load()
machine = Machine.objects.get(machine_id="MACHINE_ID")
now = timezone.now()
reading = {"bearing_de_temp_C": 61.0, "winding_temp_C": 74.0, "vibration_mm_s": 5.3, "current_A": 11.5}
for hour in range(24):
    values = {name: value * (0.7 + 0.3 * hour / 23) for name, value in reading.items()}
    SensorReading.objects.create(machine=machine, timestamp=now - timedelta(hours=24 - hour), values=values)
results = {
    "health": {"state": 2, "state_name": "Warning", "confidence": 0.8},
    "rul": {"rul": 150.0, "lower": 110.0, "upper": 190.0, "unit": "hours", "state": 2},
    "anomaly": {"score": 3.1, "threshold": 2.0, "normalized_score": 1.55, "is_anomaly": True},
}
for kind, result in results.items():
    Prediction.objects.create(machine=machine, kind=kind, input={"latest": reading},
                              result={"kind": kind, **result}, confidence=result.get("confidence"),
                              latency_ms=1.0)
MachineHealth.objects.update_or_create(machine=machine, defaults={
    "state": 2, "confidence": 0.8, "rul": 150.0, "rul_lower": 110.0, "rul_upper": 190.0, "rul_unit": "hours",
    "anomaly": True, "anomaly_score": 1.55, "last_reading_at": now, "predicted_at": now})
print(Prediction.objects.get(machine=machine, kind="health").pk)
""".replace("MACHINE_ID", MACHINE_ID)


@pytest.fixture(scope="module")
def server(request, tiny_model_env):
    """The embedded server configured with the tiny model (it reads the settings from its environment)."""
    env = {**tiny_model_env, "LLM_MAX_TOKENS": "48"}
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        embedded = request.getfixturevalue("embedded_server")
        embedded.prediction = int(embedded.manage("shell", "-c", SEED).stdout.split()[-1])
        yield embedded
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def frames_until(socket, last_type: str) -> list[dict]:
    frames = [json.loads(socket.recv(timeout=TIMEOUT))]
    while frames[-1]["type"] not in (last_type, "error"):
        frames.append(json.loads(socket.recv(timeout=TIMEOUT)))
    return frames


def test_explain_chat_and_a_report_in_one_process(server):
    session = server.session("operator")
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}"}
    with connect(f"{server.ws_url}/ws/assistant/", origin=server.url, additional_headers=headers) as socket:
        assert json.loads(socket.recv(timeout=TIMEOUT))["type"] == "history"
        socket.send(json.dumps({"type": "explain", "prediction": server.prediction}))
        explained = frames_until(socket, "final")
        socket.send(
            json.dumps({"type": "ask", "question": "What should I check first?", "machine": MACHINE_ID})
        )
        answered = frames_until(socket, "final")

    kinds = [frame["type"] for frame in explained]
    assert kinds[0] in ("draft", "queued") and kinds.index("draft") < kinds.index("token"), kinds
    assert explained[-1]["source"] == "llm" and explained[-1]["explanation"]
    assert "token" in [frame["type"] for frame in answered] and answered[-1]["kind"] == "chat"
    assert answered[-1]["conversation"]["machine"] == MACHINE_ID

    started = session.post(f"{server.url}/api/v1/reports/", json={"machine": MACHINE_ID}, timeout=10)
    assert started.status_code == 202, started.text
    with connect(
        f"{server.ws_url}{started.json()['ws_url']}", origin=server.url, additional_headers=headers
    ) as socket:
        progress = frames_until(socket, "closing")
    assert progress[-1]["status"] == "SUCCESS", progress[-1]
    pdf = session.get(f"{server.url}{started.json()['download_url']}", timeout=10)
    assert pdf.status_code == 200
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 2 and MACHINE_ID in reader.pages[0].extract_text()
