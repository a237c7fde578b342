"""Drift against the serving model's training data (the machine's seed rows): none for telemetry replayed
from the same physics, found for shifted telemetry (raising the drift rule, offering retraining), and
degradation alone is not drift when the machine's life stage is known."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alarm, AlertRule, DriftReport
from alerts.services.drift import drift_compute, drift_retrain, reference_version
from gan.models import Job
from gan.selectors import holdout_frame
from gan.services.synthetic import seed_create
from predictions.models import Kind, ModelVersion, SensorReading
from predictions.services.models import registry_changed
from tests.alerts.conftest import add_prediction

pytestmark = pytest.mark.django_db
SENSORS = ["bearing_de_temp_C", "winding_temp_C", "vibration_mm_s", "current_A"]


@pytest.fixture
def seeded(motor, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    seed = seed_create(machine=motor, rows=1_200, seed=11)
    ModelVersion.objects.create(
        kind=Kind.HEALTH,
        category=motor.category,
        version=1,
        file="predictions/categories/x/models/health.joblib",
        source=ModelVersion.Source.SEED,
        training_data={"source": "seed", "machines": [motor.machine_id], "rows_available": 800},
        sensors=SENSORS,
        trained_at=timezone.now(),
        is_active=True,
    )
    return motor, seed


def replay(machine, rows, *, shift: dict | None = None) -> None:
    """The rows as the machine's readings, one a minute up to now, with `shift` added to sensors."""
    SensorReading.objects.filter(machine=machine).delete()
    now = timezone.now()
    SensorReading.objects.bulk_create(
        SensorReading(
            machine=machine,
            timestamp=now - timedelta(minutes=len(rows) - i),
            values={s: float(row[s]) + (shift or {}).get(s, 0.0) for s in SENSORS},
        )
        for i, row in enumerate(rows)
    )


def test_same_physics_is_not_drift_and_a_shift_is(seeded, make_rule):
    motor, seed = seeded
    rule = make_rule(AlertRule.Kind.DRIFT, psi_threshold=0.2)
    run = holdout_frame(seed).to_dict("records")  # a run to failure the model never saw
    replay(motor, run)
    report = drift_compute(machine=motor)
    assert not report.drifted and report.max_psi < 0.2
    assert report.reference["source"] == "seed" and report.reference["life_stage"] is None
    assert report.recent_rows == len(run) and {s["sensor"] for s in report.sensors} == set(SENSORS)
    assert not Alarm.objects.exists()

    replay(motor, run, shift={"bearing_de_temp_C": 12.0})  # a recalibrated or moved sensor
    report = drift_compute(machine=motor)
    drifted = {s["sensor"]: s for s in report.sensors if s["drifted"]}
    assert report.drifted and set(drifted) == {"bearing_de_temp_C"}
    assert drifted["bearing_de_temp_C"]["ks"] > 0.2
    (alarm,) = Alarm.objects.filter(status="open")
    assert alarm.rule == rule and alarm.details["sensors"] == ["bearing_de_temp_C"]

    replay(motor, run)
    drift_compute(machine=motor)
    alarm.refresh_from_db()
    assert alarm.status == "resolved" and DriftReport.objects.filter(machine=motor).count() == 3


def test_late_life_compared_with_the_same_life_stage_is_not_drift(seeded, make_rule):
    motor, seed = seeded
    make_rule(AlertRule.Kind.DRIFT)
    late = holdout_frame(seed).query("rul < 250").to_dict("records")
    replay(motor, late)
    whole_life = drift_compute(machine=motor)
    assert whole_life.drifted  # a worn machine against a whole life of training rows
    # RUL predictions along the window (every 10th reading, as a refresh would make them).
    readings = list(SensorReading.objects.filter(machine=motor).order_by("timestamp"))
    for reading, row in list(zip(readings, late, strict=True))[::10]:
        prediction = add_prediction(
            motor, Kind.RUL, {"rul": row["rul"], "lower": row["rul"] * 0.8, "unit": "hours"}
        )
        prediction.created_at = reading.timestamp
        prediction.save(update_fields=["created_at"])
    same_stage = drift_compute(machine=motor)
    low, high = same_stage.reference["life_stage"]
    assert 0 <= low < 20 and 200 < high < 250
    assert not same_stage.drifted


def test_no_report_without_a_model_or_enough_readings(motor, seeded):
    assert drift_compute(machine=motor) is None  # no readings
    other = type(motor).objects.create(machine_id="motor_nomodel_001", category=motor.category)
    other.category.model_versions.update(is_active=False)
    registry_changed()  # the raw update above skips the services that announce it
    assert reference_version(other) is None and drift_compute(machine=other) is None


def test_retraining_after_drift_trains_the_machines_own_models(seeded, operator):
    motor, _ = seeded
    job = drift_retrain(machine=motor, user=operator)
    (unit,) = job.params["units"]
    assert job.kind == Job.Kind.MODEL_TRAINING and job.requested_by == operator
    assert (unit["scope"], unit["machine"], unit["source"], unit["kinds"]) == (
        "machine",
        motor.pk,
        "seed",
        ["health"],
    )
