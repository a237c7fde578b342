"""Retention: raw readings older than TELEMETRY_RETENTION_DAYS become hourly aggregates (count, mean, min,
max per sensor), merged into buckets that exist already; old predictions go."""

from datetime import UTC, datetime, timedelta

import pytest

from predictions.models import Prediction, ReadingAggregate, SensorReading
from predictions.services.telemetry import telemetry_retention

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    settings.TELEMETRY_AGGREGATE_SECONDS = 3600
    settings.PREDICTIONS_RETENTION_DAYS = 30


def reading(machine, at: datetime, **values) -> SensorReading:
    return SensorReading.objects.create(machine=machine, timestamp=at, values=values)


def test_old_readings_become_hourly_aggregates_and_recent_ones_stay(motor):
    old_hour = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    reading(motor, old_hour + timedelta(minutes=5), current_A=8.0, vibration_mm_s=2.0)
    reading(motor, old_hour + timedelta(minutes=35), current_A=10.0)
    reading(motor, old_hour + timedelta(minutes=59), current_A=12.0, vibration_mm_s=4.0)
    reading(motor, old_hour + timedelta(hours=1, minutes=1), current_A=9.0)
    recent = reading(motor, NOW - timedelta(days=1), current_A=11.0)

    outcome = telemetry_retention(now=NOW)

    assert outcome["downsampled"] == 4
    assert list(SensorReading.objects.values_list("pk", flat=True)) == [recent.pk]
    first, second = ReadingAggregate.objects.filter(machine=motor).order_by("bucket_start")
    assert (first.bucket_start, first.bucket_seconds, first.count) == (old_hour, 3600, 3)
    assert first.stats["current_A"] == {"count": 3, "mean": 10.0, "min": 8.0, "max": 12.0}
    assert first.stats["vibration_mm_s"] == {"count": 2, "mean": 3.0, "min": 2.0, "max": 4.0}
    assert (second.count, second.stats["current_A"]["mean"]) == (1, 9.0)


def test_a_later_run_merges_into_the_existing_bucket(motor):
    hour = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)
    reading(motor, hour + timedelta(minutes=1), current_A=6.0)
    telemetry_retention(now=NOW)
    # A late reading of the same hour arrives, then retention runs again.
    reading(motor, hour + timedelta(minutes=2), current_A=12.0)
    telemetry_retention(now=NOW)
    aggregate = ReadingAggregate.objects.get(machine=motor)
    assert aggregate.count == 2
    assert aggregate.stats["current_A"] == {"count": 2, "mean": 9.0, "min": 6.0, "max": 12.0}
    assert not SensorReading.objects.exists()


def test_the_prediction_log_is_pruned(motor):
    old = Prediction.objects.create(machine=motor, kind="rul", latency_ms=1.0)
    Prediction.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=31))
    kept = Prediction.objects.create(machine=motor, kind="rul", latency_ms=1.0)
    assert telemetry_retention(now=NOW)["predictions_deleted"] == 1
    assert list(Prediction.objects.values_list("pk", flat=True)) == [kept.pk]
