"""Telemetry in: validated readings stored all or nothing (duplicates skipped and counted), the throttled
refresh of the machine's predictions they trigger, and retention (old readings downsampled)."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from machines.models import Machine
from pdm_site.celery import app as celery_app
from predictions.models import FleetSnapshot, Prediction, ReadingAggregate, SensorReading
from predictions.signals import announce, readings_stored

MAX_BATCH = 10_000
# Enough to show what is wrong without answering with 10,000 messages.
MAX_ERRORS = 50
LOOKUP_CHUNK = 900
RETENTION_CHUNK = 20_000


@dataclass
class IngestResult:
    machine_id: str
    received: int
    stored: int
    duplicates: int
    first: datetime | None
    last: datetime | None


class _Errors(dict):
    def add(self, path: str, message: str) -> None:
        if len(self) < MAX_ERRORS:
            self.setdefault(path, []).append(message)


def _timestamp(raw, path: str, errors: _Errors, now: datetime) -> datetime | None:
    if not isinstance(raw, str):
        errors.add(path, "must be an ISO 8601 date-time string, e.g. 2025-01-01T12:00:00Z")
        return None
    try:
        parsed = parse_datetime(raw.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        errors.add(path, f"{raw!r} is not an ISO 8601 date-time, e.g. 2025-01-01T12:00:00Z")
        return None
    try:
        # Stored in UTC: ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59.
        parsed = parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except OverflowError:
        errors.add(path, f"{raw} is out of range once converted to UTC")
        return None
    ahead = (parsed - now).total_seconds()
    if ahead > settings.TELEMETRY_MAX_FUTURE_SECONDS:
        errors.add(
            path,
            f"{raw} is {ahead / 60:.0f} minutes in the future (at most "
            f"{settings.TELEMETRY_MAX_FUTURE_SECONDS / 60:.0f} allowed): check the sender's clock",
        )
        return None
    return parsed


def _values(
    raw, path: str, sensors: set[str], labels: set[str], machine_id: str, errors: _Errors
) -> dict | None:
    if not isinstance(raw, dict):
        errors.add(path, 'must be an object of sensor values, e.g. {"vibration_mm_s": 2.4}')
        return None
    if not raw:
        errors.add(path, "holds no sensor value")
        return None
    clean = {}
    for name, value in raw.items():
        here = f"{path}.{name}"
        if name in labels and isinstance(value, str):
            clean[name] = value
        elif name not in sensors:
            errors.add(here, f"unknown sensor — {machine_id} has {', '.join(sorted(sensors))}")
        elif value is None:
            continue  # a sensor that did not report this time
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.add(here, f"not a number (got {value!r})")
        elif not math.isfinite(value):
            errors.add(here, "not a finite number")
        else:
            clean[name] = float(value)
    return clean


def _path(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def readings_validate(
    machine: Machine, payload, *, also_known: tuple[str, ...] = (), labels: tuple[str, ...] = ()
) -> list[tuple[datetime, dict]]:
    """(timestamp, values) of one reading {"timestamp", "values"} or a batch {"readings": [...]}.

    Sensor names must be the machine's (or in also_known: a model's inputs); values are finite numbers,
    except for `labels` (a model's categorical inputs), which may be text. Every problem is reported with
    its path (`readings[3].values.vibration_mm_s: not a finite number`); a single reading without a
    timestamp is stamped now.
    """
    now = timezone.now()
    sensors = set(machine.sensors.values_list("name", flat=True)) | set(also_known)
    errors = _Errors()
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": ['send {"timestamp", "values"} or {"readings": [...]}']})
    batch = "readings" in payload
    items = payload["readings"] if batch else [payload]
    if batch and (not isinstance(items, list) or not items):
        raise ValidationError({"readings": ["must be a non-empty list of readings"]})
    if len(items) > MAX_BATCH:
        raise ValidationError(
            {"readings": [f"at most {MAX_BATCH:,} readings per request, got {len(items):,}"]}
        )
    readings = []
    for index, item in enumerate(items):
        prefix = f"readings[{index}]" if batch else ""
        if not isinstance(item, dict):
            errors.add(prefix or "non_field_errors", 'must be an object {"timestamp", "values"}')
            continue
        if "timestamp" in item:
            timestamp = _timestamp(item["timestamp"], _path(prefix, "timestamp"), errors, now)
        elif batch:
            errors.add(_path(prefix, "timestamp"), "required for each reading of a batch")
            timestamp = None
        else:
            timestamp = now
        values = _values(
            item.get("values"), _path(prefix, "values"), sensors, set(labels), machine.machine_id, errors
        )
        if timestamp is not None and values is not None:
            readings.append((timestamp, values))
    if errors:
        raise ValidationError(dict(errors))
    return readings


@transaction.atomic
def readings_ingest(*, machine: Machine, payload) -> IngestResult:
    """Store the readings or none of them; readings already stored (same machine and time) are skipped."""
    readings = readings_validate(machine, payload)
    unique: dict[datetime, dict] = {}
    for timestamp, values in readings:
        unique.setdefault(timestamp, values)
    existing = _existing_times(machine, list(unique))
    new = [
        SensorReading(machine=machine, timestamp=timestamp, values=values)
        for timestamp, values in unique.items()
        if timestamp not in existing
    ]
    # ignore_conflicts: a concurrent request storing the same reading must not fail this one.
    SensorReading.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    if new:
        _announce(machine.pk, new)
    times = [timestamp for timestamp, _ in readings]
    return IngestResult(
        machine_id=machine.machine_id,
        received=len(readings),
        stored=len(new),
        duplicates=len(readings) - len(new),
        first=min(times, default=None),
        last=max(times, default=None),
    )


def _announce(machine_pk: int, new: list[SensorReading]) -> None:
    first, last = min(r.timestamp for r in new), max(r.timestamp for r in new)

    def after_commit():
        refresh_request(machine_pk)
        announce(
            readings_stored,
            sender=SensorReading,
            machine_pk=machine_pk,
            count=len(new),
            first=first,
            last=last,
        )

    transaction.on_commit(after_commit)


def _existing_times(machine: Machine, timestamps: list[datetime]) -> set[datetime]:
    found = set()
    for start in range(0, len(timestamps), LOOKUP_CHUNK):
        chunk = timestamps[start : start + LOOKUP_CHUNK]
        found.update(
            SensorReading.objects.filter(machine=machine, timestamp__in=chunk).values_list(
                "timestamp", flat=True
            )
        )
    return found


def refresh_request(machine_pk: int) -> bool:
    """Queue a refresh of the machine's predictions unless one was queued in the last
    PREDICTIONS_REFRESH_SECONDS; True when queued. The cache key is the throttle, shared by every process."""
    key = f"predictions:refresh:{machine_pk}"
    if not cache.add(key, 1, timeout=settings.PREDICTIONS_REFRESH_SECONDS):
        return False
    celery_app.send_task("predictions.tasks.refresh_machine", args=[machine_pk])
    return True


# --- Retention --------------------------------------------------------------------------------------


def telemetry_retention(*, now: datetime | None = None) -> dict:
    """Downsample raw readings older than TELEMETRY_RETENTION_DAYS into per-bucket aggregates, then delete
    them; prune the prediction log and snapshots older than PREDICTIONS_RETENTION_DAYS."""
    now = now or timezone.now()
    bucket = settings.TELEMETRY_AGGREGATE_SECONDS
    cutoff = now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    # Cut at a bucket boundary: a bucket is aggregated in one go, never half now and half later.
    cutoff = datetime.fromtimestamp(cutoff.timestamp() // bucket * bucket, tz=UTC)
    machine_pks = (
        SensorReading.objects.filter(timestamp__lt=cutoff).values_list("machine", flat=True).distinct()
    )
    downsampled = 0
    for machine_pk in list(machine_pks):
        while count := _downsample_chunk(machine_pk, cutoff, bucket):
            downsampled += count
    log_cutoff = now - timedelta(days=settings.PREDICTIONS_RETENTION_DAYS)
    predictions, _ = Prediction.objects.filter(created_at__lt=log_cutoff).delete()
    snapshots, _ = FleetSnapshot.objects.filter(created_at__lt=log_cutoff).delete()
    return {"downsampled": downsampled, "predictions_deleted": predictions, "snapshots_deleted": snapshots}


@transaction.atomic
def _downsample_chunk(machine_pk: int, cutoff: datetime, bucket: int) -> int:
    rows = list(
        SensorReading.objects.filter(machine_id=machine_pk, timestamp__lt=cutoff)
        .order_by("timestamp")
        .values_list("pk", "timestamp", "values")[:RETENTION_CHUNK]
    )
    if not rows:
        return 0
    buckets: dict[int, dict] = defaultdict(lambda: {"count": 0, "stats": {}})
    for _, timestamp, values in rows:
        entry = buckets[int(timestamp.timestamp() // bucket * bucket)]
        entry["count"] += 1
        for sensor, value in values.items():
            if value is not None:
                entry["stats"][sensor] = _merge(entry["stats"].get(sensor), _single(value))
    for start, entry in buckets.items():
        bucket_start = datetime.fromtimestamp(start, tz=UTC)
        aggregate = (
            ReadingAggregate.objects.select_for_update()
            .filter(machine_id=machine_pk, bucket_start=bucket_start, bucket_seconds=bucket)
            .first()
        )
        if aggregate is None:
            ReadingAggregate.objects.create(
                machine_id=machine_pk,
                bucket_start=bucket_start,
                bucket_seconds=bucket,
                count=entry["count"],
                stats=entry["stats"],
            )
            continue
        aggregate.count += entry["count"]
        for sensor, stats in entry["stats"].items():
            aggregate.stats[sensor] = _merge(aggregate.stats.get(sensor), stats)
        aggregate.save(update_fields=["count", "stats"])
    SensorReading.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return len(rows)


def _single(value: float) -> dict:
    return {"count": 1, "mean": value, "min": value, "max": value}


def _merge(a: dict | None, b: dict) -> dict:
    """Two summaries of one sensor as one: counts add, the mean is count-weighted."""
    if a is None:
        return dict(b)
    count = a["count"] + b["count"]
    return {
        "count": count,
        "mean": (a["mean"] * a["count"] + b["mean"] * b["count"]) / count,
        "min": min(a["min"], b["min"]),
        "max": max(a["max"], b["max"]),
    }
