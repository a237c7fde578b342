"""Embedded mode end to end (`make run`: one daphne process, SQLite, in-process worker): the demo bootstrap's
training job runs as soon as the server starts, then predictions are asked for over the API."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.predictions.conftest import bootstrapped_server, wait_for_training

pytestmark = pytest.mark.embedded
MOTOR = "motor_siemens_1la7_001"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with bootstrapped_server(tmp_path_factory, PDM_SIMULATE_FLEET="0") as running:
        yield running


def test_predictions_after_the_bootstrap_training(server):
    operator = server.session("operator")
    api = f"{server.url}/api/v1"
    job = wait_for_training(server, operator)
    assert job["status"] == "SUCCESS", job
    assert [v["kind"] for v in job["result"]["versions"]] == ["health", "rul", "anomaly", "forecast"]

    start = datetime.now(UTC) - timedelta(minutes=5)
    readings = [
        {
            "timestamp": (start + timedelta(seconds=10 * i)).isoformat(),
            "values": {
                "bearing_de_temp_C": 45 + i / 5,
                "winding_temp_C": 56 + i / 4,
                "vibration_mm_s": 3.2 + i / 50,
                "current_A": 9 + i / 30,
            },
        }
        for i in range(25)
    ]
    stored = operator.post(f"{api}/machines/{MOTOR}/readings/", json={"readings": readings}, timeout=10)
    assert stored.status_code == 201 and stored.json()["stored"] == 25, stored.text

    for kind in ("health", "rul", "anomaly", "forecast"):
        answer = operator.post(f"{api}/predictions/", json={"kind": kind, "machine": MOTOR}, timeout=10)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["model"]["scope"] == "category motor" and body["input"]["rows"] == 20
    batch = operator.post(
        f"{api}/predictions/batch/", json={"machines": [MOTOR, "pump_ksb_etanorm_001"]}, timeout=10
    )
    codes = {(r["machine_id"], r["error"]["code"] if r["error"] else "ok") for r in batch.json()["results"]}
    assert codes == {(MOTOR, "ok"), ("pump_ksb_etanorm_001", "no_model")}
    # The readings refreshed the motor's card in the background, with predictions of every kind.
    deadline = time.monotonic() + 20
    while (health := operator.get(f"{api}/machines/{MOTOR}/health/", timeout=10)).status_code == 404:
        assert time.monotonic() < deadline, "the motor's health was not refreshed"
        time.sleep(0.2)
    assert health.json()["state"] in (0, 1, 2, 3) and health.json()["rul"] is not None
