"""The demo fleet's live telemetry: every active machine replays a run to failure (the held-out cycle of its
seed data, or its synthetic test split when one exists), a few readings per tick stamped with the current
time, through the same ingestion path as real telemetry (so each tick refreshes the predictions too).
Machines start at different points of their run, so the fleet shows every health state from the start."""

import functools
import logging
import zlib
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from gan.models import SeedDataset, SyntheticDataset
from gan.selectors import holdout_frame, machine_latest_seed, machine_latest_synthetic, synthetic_frame
from machines.models import Machine
from predictions.models import MachineRun, ReplayCursor, SensorReading
from predictions.services.telemetry import readings_ingest

logger = logging.getLogger(__name__)


def replay_source(machine: Machine) -> tuple[str, int] | None:
    """("synthetic", dataset pk) when the machine has a synthetic test split, else ("seed", seed pk)."""
    synthetic = machine_latest_synthetic(machine)
    if synthetic is not None and "test" in synthetic.splits:
        return "synthetic", synthetic.pk
    seed = machine_latest_seed(machine)
    return ("seed", seed.pk) if seed is not None else None


@functools.lru_cache(maxsize=64)
def _replay_rows(source: str, pk: int, sensors: tuple[str, ...]) -> tuple[dict, ...]:
    """The run to replay as readings {sensor: value}, oldest first (files never change: cached)."""
    if source == "synthetic":
        frame = synthetic_frame(SyntheticDataset.objects.get(pk=pk), "test", columns=list(sensors))
    else:
        frame = holdout_frame(SeedDataset.objects.get(pk=pk), columns=list(sensors))
    return tuple(frame.to_dict("records"))


def _cursor(machine: Machine, source: str, rows: int) -> ReplayCursor:
    cursor, created = ReplayCursor.objects.get_or_create(
        machine=machine, defaults={"source": source, "rows": rows}
    )
    if created or cursor.source != source or cursor.rows != rows:
        cursor.source, cursor.rows = source, rows
        cursor.position = zlib.crc32(machine.machine_id.encode()) % rows
    return cursor


def _run_restart(machine: Machine, at: datetime) -> None:
    MachineRun.objects.update_or_create(
        machine=machine, defaults={"started_at": at, "reason": "the demo replay started the run again"}
    )


def simulate_tick(
    *, rows: int | None = None, interval: float | None = None, now: datetime | None = None
) -> dict:
    """Send the next `rows` readings of every active machine, spread over the last `interval` seconds."""
    rows = rows or settings.PREDICTIONS_SIMULATE_ROWS
    interval = interval or settings.PREDICTIONS_SIMULATE_SECONDS
    now = now or timezone.now()
    machines = sent = 0
    for machine in Machine.objects.filter(is_active=True).prefetch_related("sensors").order_by("machine_id"):
        source = replay_source(machine)
        if source is None:
            continue
        sensors = tuple(sensor.name for sensor in machine.sensors.all())
        try:
            replay = _replay_rows(*source, sensors)
        except (KeyError, ValueError, OSError) as exc:  # another sensor list than the data, a missing file
            logger.warning("cannot replay %s for %s: %s", source, machine.machine_id, exc)
            continue
        if not replay:
            continue
        cursor = _cursor(machine, f"{source[0]}:{source[1]}", len(replay))
        step = timedelta(seconds=interval / rows)
        first = now - step * (rows - 1)
        last = (
            SensorReading.objects.filter(machine=machine)
            .order_by("-timestamp")
            .values_list("timestamp", flat=True)
        )
        if (previous := last.first()) is not None and first <= previous:
            first = previous + step  # ticks closer than the interval: keep the readings in replay order
        readings = [
            {
                "timestamp": (first + step * i).isoformat(),
                "values": replay[(cursor.position + i) % len(replay)],
            }
            for i in range(rows)
        ]
        for i in range(rows):
            if (cursor.position + i) % len(replay) == 0:
                # Back at the start of the run: as after a repair, the old run's readings leave the windows.
                _run_restart(machine, first + step * i)
        sent += readings_ingest(machine=machine, payload={"readings": readings}).stored
        cursor.position = (cursor.position + rows) % len(replay)
        cursor.save()
        machines += 1
    return {"machines": machines, "readings": sent}
