"""Seed and training end to end in embedded mode, as `make run` serves it: one daphne process (SQLite,
in-process worker, in-memory channel layer), driven over HTTP and watched over a real WebSocket."""

import asyncio
import json
import os

import pytest
import websockets

pytestmark = pytest.mark.embedded

PROFILE = {
    "machine_id": "pump_embedded_001",
    "machine_type": "embedded_pump",
    "manufacturer": "ACME",
    "model": "E1",
    "sensors": [
        {"name": "bearing_temp_C", "unit": "C", "base": 38, "range": 30, "noise": 0.5},
        {"name": "vibration_mm_s", "unit": "mm/s", "base": 2.0, "range": 5.5, "noise": 0.2},
        {"name": "flow_rate_m3_h", "unit": "m3/h", "base": 30, "range": -10, "noise": 0.5},
    ],
    "rul": {
        "max_rul": 800,
        "cycles": 3,
        "degradation_pattern": "linear_medium",
        "noise": 12,
        "failure_modes": ["bearing wear"],
    },
}
SERVER_ENV = {"GAN_MIN_EPOCHS": "1", "GAN_TORCH_THREADS": "1"}


@pytest.fixture(scope="module")
def server(request):
    """The embedded server, allowed short fits and one torch thread (it reads them from its environment)."""
    previous = {name: os.environ.get(name) for name in SERVER_ENV}
    os.environ.update(SERVER_ENV)
    try:
        yield request.getfixturevalue("embedded_server")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def watch(server, session, ws_path: str, timeout: float = 120) -> list[dict]:
    """Every frame of /ws/jobs/<id>/ until `closing`."""
    cookie = f"sessionid={session.cookies['sessionid']}"

    async def frames():
        received = []
        async with websockets.connect(
            f"{server.ws_url}{ws_path}", origin=server.url, additional_headers={"Cookie": cookie}
        ) as socket:
            while not received or received[-1]["type"] != "closing":
                received.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
        return received

    return asyncio.run(frames())


def test_seed_then_training_with_live_epochs_in_one_process(server):
    operator = server.session("operator")
    api = f"{server.url}/api/v1"
    created = operator.post(f"{api}/machines/", json=PROFILE, timeout=10)
    assert created.status_code == 201, created.text
    base = f"{api}/machines/{PROFILE['machine_id']}"

    started = operator.post(f"{base}/seed/", json={"rows": 1_000, "seed": 1}, timeout=10)
    assert started.status_code == 202, started.text
    frames = watch(server, operator, started.json()["ws_url"])
    assert frames[-1]["status"] == "SUCCESS", frames[-1]

    started = operator.post(f"{base}/train/", json={"epochs": 3, "batch_size": 100}, timeout=10)
    assert started.status_code == 202, started.text
    frames = watch(server, operator, started.json()["ws_url"])
    epochs = {epoch for epoch, _ in frames[0].get("loss_history", [])}
    epochs |= {epoch for frame in frames for epoch, _ in frame.get("losses", [])}
    assert epochs == {1, 2, 3}
    assert {frame["stage"] for frame in frames} >= {"preparing", "training"}
    assert frames[-1]["type"] == "closing" and frames[-1]["status"] == "SUCCESS", frames[-1]

    status = operator.get(f"{base}/status/", timeout=10).json()
    assert [step["state"] for step in status["steps"][:3]] == ["done", "done", "done"]
    assert status["synthesizer"]["epochs_run"] == 3 and status["synthesizer"]["is_active"]
    assert status["next_step"] == "generate"


def test_stopping_the_server_interrupts_a_running_training_at_once(server):
    """SIGTERM with a long training running: the process exits within seconds, and after the restart the
    job says it was interrupted (nothing left RUNNING, the retry is one click away)."""
    import time

    operator = server.session("operator")
    api = f"{server.url}/api/v1"
    started = operator.post(
        f"{api}/machines/{PROFILE['machine_id']}/train/", json={"epochs": 1000, "batch_size": 100}, timeout=10
    )
    assert started.status_code == 202, started.text
    job_url = f"{server.url}{started.json()['url']}"
    deadline = time.monotonic() + 60
    while operator.get(job_url, timeout=10).json()["current"] < 1:
        assert time.monotonic() < deadline, "the training did not start its epochs"
        time.sleep(0.2)

    stopping = time.monotonic()
    server.stop()
    assert time.monotonic() - stopping < 10
    server.start()

    job = server.session("operator").get(job_url, timeout=10).json()
    assert job["status"] == "FAILURE" and job["error"].startswith("interrupted: the server stopped"), job
