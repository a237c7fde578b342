"""Telemetry in: validation naming each problem, duplicates skipped and counted, all or nothing, and the
refresh it queues at most once per machine and throttle window."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from predictions.models import SensorReading
from predictions.services import telemetry
from predictions.services.telemetry import readings_ingest
from predictions.signals import readings_stored


def stamp(seconds_ago: float) -> str:
    return (timezone.now() - timedelta(seconds=seconds_ago)).isoformat()


def batch(count: int, start_ago: float = 600) -> dict:
    return {
        "readings": [
            {"timestamp": stamp(start_ago - i), "values": {"vibration_mm_s": 2.0 + i / 100, "current_A": 8.0}}
            for i in range(count)
        ]
    }


@pytest.fixture
def queued(monkeypatch):
    """The refresh tasks sent to the broker: (task name, args)."""
    sent = []
    monkeypatch.setattr(telemetry.celery_app, "send_task", lambda name, args: sent.append((name, args)))
    return sent


def errors_of(motor, payload) -> dict:
    with pytest.raises(ValidationError) as raised:
        readings_ingest(machine=motor, payload=payload)
    return raised.value.detail


def test_a_batch_is_stored_counted_and_announced(motor, queued, django_capture_on_commit_callbacks):
    announced = []
    readings_stored.connect(lambda sender, **event: announced.append(event), weak=False, dispatch_uid="test")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = readings_ingest(machine=motor, payload=batch(5))
    finally:
        readings_stored.disconnect(dispatch_uid="test")
    assert (result.received, result.stored, result.duplicates) == (5, 5, 0)
    assert SensorReading.objects.filter(machine=motor).count() == 5
    assert result.first < result.last
    assert queued == [("predictions.tasks.refresh_machine", [motor.pk])]
    assert announced == [
        {
            "signal": readings_stored,
            "machine_pk": motor.pk,
            "count": 5,
            "first": result.first,
            "last": result.last,
        }
    ]


def test_one_reading_without_timestamp_is_stamped_now(motor, queued):
    before = timezone.now()
    result = readings_ingest(machine=motor, payload={"values": {"winding_temp_C": 55.5}})
    reading = SensorReading.objects.get(machine=motor)
    assert result.stored == 1 and reading.values == {"winding_temp_C": 55.5}
    assert before <= reading.timestamp <= timezone.now()


def test_duplicates_within_the_batch_and_already_stored_are_skipped(motor, queued):
    first = batch(4)
    readings_ingest(machine=motor, payload=first)
    again = {"readings": [*first["readings"][2:], first["readings"][3], *batch(3, start_ago=300)["readings"]]}
    result = readings_ingest(machine=motor, payload=again)
    assert (result.received, result.stored, result.duplicates) == (6, 3, 3)
    assert SensorReading.objects.filter(machine=motor).count() == 7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        ("12.5", "not a number (got '12.5')"),
        (True, "not a number (got True)"),
    ],
)
def test_bad_values_are_named_by_path_and_nothing_is_stored(motor, queued, value, message):
    payload = batch(5)
    payload["readings"][3]["values"]["vibration_mm_s"] = value
    assert errors_of(motor, payload) == {"readings[3].values.vibration_mm_s": [message]}
    assert not SensorReading.objects.exists() and not queued


def test_unknown_sensor_lists_the_known_ones(motor, queued):
    payload = batch(2)
    payload["readings"][1]["values"]["vibraton_mm_s"] = 2.0
    errors = errors_of(motor, payload)
    assert list(errors) == ["readings[1].values.vibraton_mm_s"]
    assert "unknown sensor" in errors["readings[1].values.vibraton_mm_s"][0]
    assert "vibration_mm_s" in errors["readings[1].values.vibraton_mm_s"][0]


def test_timestamps_far_in_the_future_or_malformed_are_refused(motor, queued):
    payload = batch(3)
    payload["readings"][0]["timestamp"] = (timezone.now() + timedelta(hours=2)).isoformat()
    payload["readings"][1]["timestamp"] = "yesterday"
    del payload["readings"][2]["timestamp"]
    errors = errors_of(motor, payload)
    assert "in the future" in errors["readings[0].timestamp"][0]
    assert "not an ISO 8601 date-time" in errors["readings[1].timestamp"][0]
    assert errors["readings[2].timestamp"] == ["required for each reading of a batch"]


def test_any_iso_offset_is_stored_in_utc_and_one_off_the_calendar_is_refused(motor, queued):
    """ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59 (a 500 before)."""
    values = {"current_A": 8.0}
    stored = readings_ingest(
        machine=motor, payload={"readings": [{"timestamp": "2025-03-19T08:48:40-20:29", "values": values}]}
    )
    assert stored.stored == 1
    assert SensorReading.objects.get(machine=motor).timestamp.isoformat() == "2025-03-20T05:17:40+00:00"
    errors = errors_of(motor, {"readings": [{"timestamp": "0001-01-01T00:00:00+01:00", "values": values}]})
    assert errors["readings[0].timestamp"] == [
        "0001-01-01T00:00:00+01:00 is out of range once converted to UTC"
    ]


def test_a_single_reading_names_its_fields_without_prefix(motor, queued):
    assert errors_of(motor, {"values": {"current_A": "high"}}) == {
        "values.current_A": ["not a number (got 'high')"]
    }
    assert errors_of(motor, {"values": {}}) == {"values": ["holds no sensor value"]}


def test_batches_are_bounded(motor, queued):
    too_many = {"readings": [{"timestamp": stamp(1), "values": {"current_A": 1.0}}] * 10_001}
    assert "at most 10,000" in errors_of(motor, too_many)["readings"][0]
    assert errors_of(motor, {"readings": []}) == {"readings": ["must be a non-empty list of readings"]}


def test_refresh_is_queued_once_per_throttle_window(
    motor, queued, settings, django_capture_on_commit_callbacks
):
    settings.PREDICTIONS_REFRESH_SECONDS = 60
    for start in (600, 500, 400):
        with django_capture_on_commit_callbacks(execute=True):
            readings_ingest(machine=motor, payload=batch(2, start_ago=start))
    assert queued == [("predictions.tasks.refresh_machine", [motor.pk])]


def test_only_duplicates_queue_no_refresh(motor, queued, django_capture_on_commit_callbacks):
    payload = batch(2)
    readings_ingest(machine=motor, payload=payload)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = readings_ingest(machine=motor, payload=payload)
    assert result.stored == 0 and callbacks == []
