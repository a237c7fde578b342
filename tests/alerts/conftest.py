"""Fixtures for the alerts tests: demo-category machines, rules, readings and predictions written directly
(the rules read stored rows, so no model has to run), and the channel layer's long socket timeout."""

from datetime import timedelta

import pytest
from django.utils import timezone
from threadpoolctl import threadpool_limits

from alerts.models import AlertRule
from machines.models import Machine, MachineCategory
from machines.selectors import fleet_document
from machines.services import category_create, machine_create
from predictions.models import Kind, MachineHealth, Prediction, SensorReading


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _alert_settings(settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 300
    settings.ALERTS_DRIFT_MIN_READINGS = 30


def category(name: str = "motor") -> MachineCategory:
    found = MachineCategory.objects.filter(name=name).first()
    if found is None:
        found = category_create(data={"name": name, **fleet_document()["categories"][name]}, user=None)
    return found


@pytest.fixture
def make_machine(db):
    def make(machine_id: str = "motor_alerts_001", category_name: str = "motor") -> Machine:
        category(category_name)
        machine = machine_create(profile={"machine_id": machine_id, "machine_type": category_name}, user=None)
        return Machine.objects.select_related("category").get(pk=machine.pk)

    return make


@pytest.fixture
def motor(make_machine):
    return make_machine()


@pytest.fixture
def make_rule(db):
    """make_rule(kind, **fields); the fleet-wide default rules are removed first, so a test sees its own."""
    AlertRule.objects.all().delete()

    def make(kind: str, *, severity: str = "warning", **fields) -> AlertRule:
        return AlertRule.objects.create(name=f"{kind} rule", kind=kind, severity=severity, **fields)

    return make


HEALTHY_MOTOR = {"bearing_de_temp_C": 40.0, "winding_temp_C": 50.0, "vibration_mm_s": 2.5, "current_A": 8.0}


def add_reading(machine: Machine, values: dict | None = None, *, seconds_ago: float = 0) -> SensorReading:
    return SensorReading.objects.create(
        machine=machine,
        timestamp=timezone.now() - timedelta(seconds=seconds_ago),
        values={**HEALTHY_MOTOR, **(values or {})},
    )


def add_prediction(
    machine: Machine, kind: str, result: dict, *, source: str = "refresh", **fields
) -> Prediction:
    return Prediction.objects.create(
        machine=machine,
        kind=kind,
        input={"source": source, "rows": 1},
        result={"kind": kind, **result},
        confidence=result.get("confidence"),
        latency_ms=1.0,
        **fields,
    )


def set_health(machine: Machine, **fields) -> MachineHealth:
    health, _ = MachineHealth.objects.update_or_create(machine=machine, defaults=fields)
    return health


def health_prediction(machine: Machine, state: int) -> Prediction:
    return add_prediction(machine, Kind.HEALTH, {"state": state, "confidence": 0.9})
