"""Fixtures of the assistant's Django side: the tiny GGUF as the configured model, a motor in the Warning
state with its readings and one refresh's predictions, and a real daphne serving /ws/assistant/ (server
mode)."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from assistant.llm import close_backends
from assistant.llm.tiny_model import tiny_model_logit_bias, write_tiny_model

REPO = Path(__file__).resolve().parents[2]
# Healthy → failing values of the motor's sensors (SPEC §1): bearing 40 → 75 °C, winding 50 → 90 °C, …
WARNING_READING = {
    "bearing_de_temp_C": 61.0,
    "winding_temp_C": 74.0,
    "vibration_mm_s": 5.3,
    "current_A": 11.5,
}
HEALTHY_READING = {"bearing_de_temp_C": 40.2, "winding_temp_C": 50.1, "vibration_mm_s": 2.5, "current_A": 8.1}
TINY_MAX_TOKENS = 24


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture(scope="session")
def tiny_model_env(tiny_model_path) -> dict[str, str]:
    """The settings that make a process use the tiny model, as environment variables."""
    return {
        "LLM_ENABLED": "1",
        "LLM_MODEL_PATH": str(tiny_model_path),
        "LLM_LOGIT_BIAS": json.dumps({str(k): v for k, v in tiny_model_logit_bias().items()}),
        "LLM_THREADS": "1",
        "LLM_CONTEXT": "4096",
    }


@pytest.fixture(autouse=True)
def tiny_model(settings, tiny_model_path):
    """Every test of this folder runs the tiny random model (fast, gibberish) unless it says otherwise."""
    settings.LLM_ENABLED = True
    settings.LLM_MODEL_PATH = str(tiny_model_path)
    settings.LLM_LOGIT_BIAS = tiny_model_logit_bias()
    settings.LLM_THREADS = 1
    settings.LLM_CONTEXT = 4096
    settings.LLM_MAX_TOKENS = TINY_MAX_TOKENS
    return tiny_model_path


@pytest.fixture(scope="session", autouse=True)
def _free_models():
    yield
    close_backends()


@pytest.fixture
def make_machine(db, operator):
    """make_machine(machine_id, category="motor") → a machine of the demo fleet's category (made once)."""
    from machines.models import MachineCategory
    from machines.selectors import fleet_document
    from machines.services import category_create, machine_create

    def make(machine_id: str = "motor_assist_001", category: str = "motor"):
        if not MachineCategory.objects.filter(name=category).exists():
            category_create(data={"name": category, **fleet_document()["categories"][category]}, user=None)
        return machine_create(profile={"machine_id": machine_id, "machine_type": category}, user=operator)

    return make


def _store_refresh(machine, reading: dict, *, state: int, rul: float, anomaly: bool, moment=None) -> dict:
    """One refresh as the predictions app stores it: a health, an RUL and an anomaly prediction of the same
    moment, and the machine's MachineHealth. Returns {kind: Prediction}."""
    from predictions.models import MachineHealth, Prediction

    moment = moment or timezone.now()
    names = ["Healthy", "Degrading", "Warning", "Critical"]
    latest = {"source": "refresh", "rows": 50, "latest": reading}
    results = {
        "health": {"kind": "health", "state": state, "state_name": names[state], "confidence": 0.82},
        "rul": {
            "kind": "rul",
            "rul": rul,
            "lower": rul * 0.75,
            "upper": rul * 1.25,
            "interval": 0.9,
            "unit": "hours",
            "confidence": None,
            "state": state,
            "state_name": names[state],
        },
        "anomaly": {
            "kind": "anomaly",
            "score": 3.2 if anomaly else 0.6,
            "threshold": 2.0,
            "normalized_score": 1.6 if anomaly else 0.3,
            "is_anomaly": anomaly,
            "contributions": {"bearing_de_temp_C": 0.7, "vibration_mm_s": 0.3},
        },
    }
    stored = {}
    for kind, result in results.items():
        prediction = Prediction.objects.create(
            machine=machine,
            kind=kind,
            input=latest,
            result=result,
            confidence=result.get("confidence"),
            latency_ms=1.0,
        )
        Prediction.objects.filter(pk=prediction.pk).update(created_at=moment)
        prediction.refresh_from_db()
        stored[kind] = prediction
    MachineHealth.objects.update_or_create(
        machine=machine,
        defaults={
            "state": state,
            "confidence": 0.82,
            "rul": rul,
            "rul_lower": rul * 0.75,
            "rul_upper": rul * 1.25,
            "rul_unit": "hours",
            "anomaly": anomaly,
            "anomaly_score": results["anomaly"]["normalized_score"],
            "last_reading_at": moment,
            "predicted_at": moment,
        },
    )
    return stored


def _store_history(machine, *, readings: int = 40, refreshes: int = 8) -> None:
    """Readings drifting from healthy to the warning values, and RUL predictions falling with them."""
    from predictions.models import Prediction, SensorReading

    start = timezone.now() - timedelta(hours=readings)
    for step in range(readings):
        wear = step / max(1, readings - 1)
        values = {
            name: HEALTHY_READING[name] + (WARNING_READING[name] - HEALTHY_READING[name]) * wear
            for name in WARNING_READING
        }
        SensorReading.objects.create(machine=machine, timestamp=start + timedelta(hours=step), values=values)
    for step in range(refreshes):
        rul = 400 - 30 * step
        prediction = Prediction.objects.create(
            machine=machine,
            kind="rul",
            input={"source": "refresh", "latest": HEALTHY_READING},
            result={"kind": "rul", "rul": rul, "lower": rul - 40, "upper": rul + 40, "unit": "hours"},
            latency_ms=1.0,
        )
        moment = start + timedelta(hours=step * readings / refreshes)
        Prediction.objects.filter(pk=prediction.pk).update(created_at=moment)


@pytest.fixture
def store_refresh(db):
    """store_refresh(machine, reading, state=, rul=, anomaly=) → {kind: Prediction} of one refresh."""
    return _store_refresh


@pytest.fixture
def store_history(db):
    """store_history(machine): 40 hourly readings drifting toward failure and 8 falling RUL predictions."""
    return _store_history


@pytest.fixture
def sample_readings() -> dict[str, dict]:
    return {"warning": WARNING_READING, "healthy": HEALTHY_READING}


@pytest.fixture
def warning_motor(make_machine):
    """(machine, {kind: Prediction}): a motor in the Warning state, its bearing running hot."""
    machine = make_machine("motor_assist_001")
    return machine, _store_refresh(machine, WARNING_READING, state=2, rul=150.0, anomaly=True)


# --- A real daphne in server mode, on this test run's database and Redis ------------------------------------


class Daphne:
    def __init__(self, port: int, env: dict, log: Path):
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        log_file = log.open("w")
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pdm_site.asgi:application"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(f"{self.url}/login/", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"daphne did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:  # daphne waits for open sockets; the tests are done with them
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker, tiny_model_env, tmp_path_factory):
    """daphne serving the ASGI app in server mode on the test database, the tiny model configured.

    Tests that use it write through transactional_db, so the server sees their rows.
    """
    from django.conf import settings
    from django.db import connection

    from tests.conftest import free_port

    with django_db_blocker.unblock():
        database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        **tiny_model_env,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": settings.REDIS_URL,
        "LLM_MAX_TOKENS": "400",
        "OMP_NUM_THREADS": "1",
        "LOG_LEVEL": "WARNING",
    }
    server = Daphne(free_port(), env, tmp_path_factory.mktemp("daphne") / "daphne.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
