"""Drift: a machine's recent telemetry against the data its serving models learned from.

The reference is the training data of the model serving the machine (health first, then RUL, anomaly,
forecast): seed rows, a synthetic train split, or a prepared real dataset, read through the gan selectors
and the predictions files. When the reference has RUL and the machine has recent RUL predictions, each
reading is compared with reference rows of the same life stage (degradation is not drift). Reports are made
by a Celery beat task every ALERTS_DRIFT_SECONDS and on demand; a drifted report raises the drift rule.
"""

import functools
import logging
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import DriftReport
from alerts.services.evaluation import baseline_since, drift_evaluate, drift_threshold
from alerts.stats import frame_drift, life_stage_rows
from gan.models import Job, SeedDataset, SyntheticDataset
from gan.selectors import machine_latest_seed, machine_latest_synthetic, seed_fit_frame, synthetic_frame
from gan.services.files import local_path
from machines.models import Machine
from pdm_site.api import Conflict
from predictions.models import Kind, ModelVersion, Prediction, RealDataset, SensorReading
from predictions.services.models import FLEET_KINDS, active_versions
from predictions.services.training import training_start

logger = logging.getLogger(__name__)
REFERENCE_ORDER = (Kind.HEALTH, Kind.RUL, Kind.ANOMALY, Kind.FORECAST, Kind.FAILURE)
RUL_COLUMN = "rul"
# RUL predictions this long before the window's first reading still tell its life stage.
PREDICTION_MARGIN = timedelta(minutes=10)


def reference_version(machine: Machine) -> ModelVersion | None:
    """The model whose training data is the machine's reference: the first kind that serves it."""
    versions = active_versions([machine], REFERENCE_ORDER)
    for kind in REFERENCE_ORDER:
        if (machine.pk, kind) in versions:
            return versions[(machine.pk, kind)]
    return None


@functools.lru_cache(maxsize=32)
def _stored_frame(kind: str, pk: int) -> pd.DataFrame:
    """A training source's rows (files never change once written: cached per process)."""
    if kind == "seed":
        return seed_fit_frame(SeedDataset.objects.get(pk=pk))
    if kind == "synthetic":
        return synthetic_frame(SyntheticDataset.objects.get(pk=pk), "train")
    dataset = RealDataset.objects.get(pk=pk)
    with local_path(dataset.prepared_file) as path:
        return pq.read_table(path).to_pandas()


def _sources(version: ModelVersion) -> list[tuple[str, int]]:
    """(source kind, pk) of the rows the version learned from. Training records the machines whose latest
    seed or synthetic data it read (or the dataset ids, where it records them)."""
    record = version.training_data or {}
    if version.source == ModelVersion.Source.REAL:
        return [("real", version.real_dataset_id)] if version.real_dataset_id else []
    key = "seed_datasets" if version.source == ModelVersion.Source.SEED else "synthetic_datasets"
    if record.get(key):
        return [(version.source, pk) for pk in record[key]]
    latest = machine_latest_seed if version.source == ModelVersion.Source.SEED else machine_latest_synthetic
    sources = []
    for machine in Machine.objects.filter(machine_id__in=record.get("machines", [])):
        found = latest(machine)
        if found is not None:
            sources.append((version.source, found.pk))
    return sources


def reference_frame(version: ModelVersion, sensors: list[str]) -> pd.DataFrame | None:
    """The version's training rows: the sensors it shares with `sensors`, and RUL when there is one."""
    parts = []
    for kind, pk in _sources(version):
        try:
            frame = _stored_frame(kind, pk)
        except (
            KeyError,
            OSError,
            ValueError,
            SeedDataset.DoesNotExist,
            SyntheticDataset.DoesNotExist,
        ) as exc:
            logger.warning("drift reference %s %s of %s unreadable: %s", kind, pk, version, exc)
            continue
        parts.append(frame[[c for c in [RUL_COLUMN, *sensors] if c in frame.columns]])
    return pd.concat(parts, ignore_index=True) if parts else None


def _recent(machine: Machine) -> pd.DataFrame:
    """The latest ALERTS_DRIFT_WINDOW readings since the last baseline reset, oldest first."""
    readings = SensorReading.objects.filter(machine=machine)
    since = baseline_since(machine)
    if since is not None:
        readings = readings.filter(timestamp__gte=since)
    rows = list(
        readings.order_by("-timestamp").values_list("timestamp", "values")[: settings.ALERTS_DRIFT_WINDOW]
    )
    frame = pd.DataFrame.from_records([values for _, values in reversed(rows)])
    frame.insert(0, "timestamp", [timestamp for timestamp, _ in reversed(rows)])
    return frame


def _life_stage(machine: Machine, reference: pd.DataFrame, recent: pd.DataFrame, version: ModelVersion):
    """The reference rows at the life stage of each recent reading (its RUL interpolated between the RUL
    predictions of the window), and that stage's RUL range; (whole reference, None) when it cannot be told."""
    if version.source == ModelVersion.Source.REAL or RUL_COLUMN not in reference.columns or recent.empty:
        return reference, None
    start = recent["timestamp"].iloc[0].to_pydatetime() - PREDICTION_MARGIN
    points = [
        (created_at.timestamp(), result["rul"])
        for created_at, result in Prediction.objects.filter(
            machine=machine, kind=Kind.RUL, created_at__gte=start
        )
        .order_by("created_at")
        .values_list("created_at", "result")
        if result.get("unit") in ("hours", None) and isinstance(result.get("rul"), int | float)
    ]
    if not points:
        return reference, None
    times = recent["timestamp"].map(lambda t: t.timestamp()).to_numpy(dtype=float)
    targets = np.interp(times, [t for t, _ in points], [rul for _, rul in points])
    selected = life_stage_rows(reference, RUL_COLUMN, targets, min_rows=settings.ALERTS_DRIFT_MIN_READINGS)
    if selected is None:
        return reference, None
    return selected, [round(float(targets.min()), 1), round(float(targets.max()), 1)]


def drift_compute(*, machine: Machine) -> DriftReport | None:
    """A drift report of the machine, stored and evaluated; None without a serving model, its training
    data, or ALERTS_DRIFT_MIN_READINGS recent readings."""
    version = reference_version(machine)
    if version is None:
        return None
    sensors = list(machine.sensors.values_list("name", flat=True))
    reference = reference_frame(version, sensors)
    recent = _recent(machine)
    if reference is None or len(recent) < settings.ALERTS_DRIFT_MIN_READINGS:
        return None
    compared, stage = _life_stage(machine, reference, recent, version)
    _, threshold = drift_threshold(machine)
    result = frame_drift(
        compared, recent, sensors, psi_threshold=threshold, min_rows=settings.ALERTS_DRIFT_MIN_READINGS
    )
    with transaction.atomic():
        report = DriftReport.objects.create(
            machine=machine,
            model_version=version,
            reference={
                "source": version.source,
                "label": f"{version.get_source_display().lower()} of {version}",
                "rows": len(compared),
                "life_stage": stage,
            },
            recent_rows=len(recent),
            window_from=recent["timestamp"].iloc[0].to_pydatetime(),
            window_to=recent["timestamp"].iloc[-1].to_pydatetime(),
            sensors=result.to_dict()["sensors"],
            max_psi=result.max_psi,
            psi_threshold=threshold,
            drifted=result.drifted,
        )
        stale = DriftReport.objects.filter(machine=machine).order_by("-created_at", "-id")[
            settings.ALERTS_DRIFT_REPORTS_KEPT :
        ]
        DriftReport.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    drift_evaluate(report)
    return report


def drift_check_fleet() -> dict:
    """A drift report of every active machine with recent readings (Celery beat)."""
    recent = timezone.now() - timedelta(seconds=settings.ALERTS_DRIFT_SECONDS * 2)
    machines = Machine.objects.filter(is_active=True, readings__received_at__gte=recent).distinct()
    reports = drifted = 0
    for machine in machines.select_related("category"):
        try:
            report = drift_compute(machine=machine)
        except Exception:
            logger.exception("drift of %s failed", machine.machine_id)
            continue
        if report is not None:
            reports += 1
            drifted += report.drifted
    return {"reports": reports, "drifted": drifted}


def drift_retrain(*, machine: Machine, user) -> Job:
    """Retrain the machine's models after drift: its own models (machine scope) from the same kind of data
    the serving ones learned from — its own seed or synthetic rows, or the same real dataset."""
    version = reference_version(machine)
    if version is None:
        raise Conflict(f"No model serves {machine.machine_id}: train one first (Models page).")
    serving = active_versions([machine], FLEET_KINDS if version.source != "real" else REFERENCE_ORDER)
    kinds = [kind for (_, kind), v in serving.items() if v.source == version.source]
    real = version.real_dataset if version.source == ModelVersion.Source.REAL else None
    if real is not None:
        kinds = [kind for kind in kinds if kind in real.trainable_kinds]
    return training_start(kinds=kinds, source=version.source, machine=machine, real_dataset=real, user=user)
