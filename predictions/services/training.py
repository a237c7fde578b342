"""Training predictors as one Job (kind model_training): from seed, synthetic or real data, for a machine or
for every machine of a category, and the demo bootstrap that makes the fleet predict from the first minute.

A job trains one or more *units* (a scope, a data source, kinds). Each fit reports the core's progress
through the job's reporter and can be cancelled at any step; each model is stored as the next version of
its kind and scope and becomes the active one (the newest successful fit serves, as for synthesizers).
"""

import logging
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from gan.models import Job, SeedDataset
from gan.selectors import (
    ACTIVE,
    machine_latest_seed,
    machine_latest_synthetic,
    seed_fit_frame,
    synthetic_frame,
)
from gan.services.files import local_path, removed_on_error, store_file
from gan.services.jobs import job_start
from gan.services.progress import ProgressReporter
from gan.services.synthetic import seed_create
from machines.models import Machine, MachineCategory
from machines.selectors import fleet_document
from pdm_site.api import Conflict
from predictions.files import category_folder, machine_folder, model_names
from predictions.ml import (
    DataLayout,
    DerivedFeature,
    FeatureSpec,
    MLError,
    TrainingDataError,
    create_predictor,
)
from predictions.models import Kind, ModelVersion, RealDataset, SensorReading
from predictions.services.models import CORE_KIND, FLEET_KINDS, KINDS, json_safe, registry_changed
from predictions.services.telemetry import refresh_request

logger = logging.getLogger(__name__)

TASK = "predictions.tasks.train_models"
RUN, TIME, RUL = "_run", "timestamp", "rul"
SOURCES = tuple(ModelVersion.Source.values)
# The demo's first models: fewer boosting rounds and importance repeats, so that all 11 categories train
# in about two minutes on a busy 2-core host (measured: 3-12 s per category at 4,000 rows).
QUICK_PARAMS = {Kind.HEALTH: {"max_iter": 60}, Kind.RUL: {"max_iter": 100, "learning_rate": 0.1}}
QUICK_IMPORTANCE_REPEATS = 2
# Where each core stage sits within one model's share of the job's progress (percent).
STAGE_SPANS = {
    "features": (0, 5),
    "threshold": (5, 25),
    "fit": (25, 45),
    "calibrate": (45, 50),
    "evaluate": (50, 55),
    "importance": (55, 75),
    "refit": (75, 98),
    "done": (98, 100),
}


# --- Starting ------------------------------------------------------------------------------------------


def _kinds(kinds, allowed) -> list[str]:
    if not isinstance(kinds, list | tuple) or not kinds:
        raise ValidationError({"kinds": [f"a non-empty list of {', '.join(allowed)}"]})
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValidationError({"kinds": [f"unknown kind(s) {unknown}: choose from {', '.join(KINDS)}"]})
    refused = [kind for kind in kinds if kind not in allowed]
    if refused:
        raise ValidationError(
            {"kinds": [f"{refused} cannot be trained from this data: {', '.join(allowed)} can"]}
        )
    return list(dict.fromkeys(kinds))


def _scope_machines(unit: dict) -> list[Machine]:
    if unit["scope"] == "machine":
        return list(Machine.objects.filter(pk=unit["machine"]).select_related("category"))
    return list(
        Machine.objects.filter(category_id=unit["category"], is_active=True)
        .select_related("category")
        .order_by("machine_id")
    )


def _check_data(unit: dict) -> None:
    machines = _scope_machines(unit)
    label = unit["label"]
    if unit["source"] == ModelVersion.Source.SEED and not any(machine_latest_seed(m) for m in machines):
        raise Conflict(f"Generate seed data for {label} first: the models learn from it.")
    if unit["source"] == ModelVersion.Source.SYNTHETIC and not any(
        machine_latest_synthetic(m) for m in machines
    ):
        raise Conflict(f"Generate synthetic data for {label} first: the models learn from its train split.")


def _check_idle(unit: dict) -> None:
    for job in Job.objects.filter(kind=Job.Kind.MODEL_TRAINING, status__in=ACTIVE):
        for running in job.params.get("units", []):
            same = running["scope"] == unit["scope"] and running[unit["scope"]] == unit[unit["scope"]]
            if same and set(running["kinds"]) & set(unit["kinds"]):
                raise Conflict(
                    f"Models of {unit['label']} are already being trained (job {job.pk}): wait for it or "
                    "cancel it."
                )


@transaction.atomic
def training_start(
    *,
    kinds,
    source: str = ModelVersion.Source.SEED,
    machine: Machine | None = None,
    category: MachineCategory | None = None,
    real_dataset: RealDataset | None = None,
    quick: bool = False,
    user=None,
) -> Job:
    """Queue the training of `kinds` for a machine or a category from seed, synthetic or real data.

    quick: fewer boosting rounds and importance repeats — a first model in seconds rather than minutes.
    """
    if source not in SOURCES:
        raise ValidationError({"source": [f"must be one of {', '.join(SOURCES)}, got {source!r}"]})
    if source == ModelVersion.Source.REAL:
        if real_dataset is None:
            raise ValidationError({"real_dataset": ["required to train from real data"]})
        if real_dataset.status != RealDataset.Status.READY:
            raise Conflict(
                f"Real dataset {real_dataset.pk} is {real_dataset.get_status_display().lower()}: confirm its "
                "mapping and wait until it is ready to train."
            )
        kinds = _kinds(kinds, real_dataset.trainable_kinds)
        machine = machine or (None if category else real_dataset.machine)
    else:
        kinds = _kinds(kinds, FLEET_KINDS)
    if (machine is None) == (category is None):
        raise ValidationError({"machine": ["give a machine or a category (one of them)"]})
    if machine is not None:
        Machine.objects.select_for_update().get(pk=machine.pk)
    else:
        MachineCategory.objects.select_for_update().get(pk=category.pk)
    unit = {
        "scope": "machine" if machine else "category",
        "machine": machine.pk if machine else None,
        "category": category.pk if category else None,
        "label": machine.machine_id if machine else f"category {category.name}",
        "kinds": kinds,
        "source": source,
        "real_dataset": real_dataset.pk if real_dataset else None,
    }
    _check_data(unit)
    _check_idle(unit)
    return job_start(
        kind=Job.Kind.MODEL_TRAINING,
        task_name=TASK,
        machine=machine,
        user=user,
        params={"units": [unit], "quick": bool(quick)},
        message=f"Queued: {', '.join(kinds)} for {unit['label']} from {source} data",
    )


def model_retrain(*, version: ModelVersion, user=None) -> Job:
    """Train the version's kind and scope again from the same kind of data (e.g. after a library upgrade)."""
    real = version.real_dataset if version.source == ModelVersion.Source.REAL else None
    if version.source == ModelVersion.Source.REAL and real is None:
        raise Conflict(f"The real data v{version.version} learned from is gone: upload it again to retrain.")
    return training_start(
        kinds=[version.kind],
        source=version.source,
        machine=version.machine,
        category=version.category,
        real_dataset=real,
        user=user,
    )


# --- The demo bootstrap ------------------------------------------------------------------------------------


def _stable_seed(machine_id: str) -> int:
    return zlib.crc32(machine_id.encode())


def demo_bootstrap(*, categories: list[str] | None = None) -> dict:
    """Seed data for every demo machine without any (milliseconds each), then ONE visible job training the
    first predictors of each demo category that has none yet (its machines' seed rows, quick settings).

    In embedded mode the job waits PENDING until the web process starts its worker, which queues it.
    """
    demo_ids = [profile["machine_id"] for profile in fleet_document()["machines"]]
    machines = list(Machine.objects.filter(machine_id__in=demo_ids).select_related("category"))
    seeded = 0
    for machine in machines:
        if not SeedDataset.objects.filter(machine=machine).exists():
            seed_create(
                machine=machine,
                rows=settings.PREDICTIONS_DEMO_SEED_ROWS,
                seed=_stable_seed(machine.machine_id),
            )
            seeded += 1
    sizes: dict[MachineCategory, int] = {}
    for machine in machines:
        if categories is None or machine.category.name in categories:
            sizes[machine.category] = sizes.get(machine.category, 0) + 1
    served = set(
        ModelVersion.objects.filter(is_active=True, category__in=list(sizes)).values_list(
            "category_id", "kind"
        )
    )
    # The biggest categories first: most of the fleet lights up early.
    wanted = [
        category
        for category in sorted(sizes, key=lambda c: (-sizes[c], c.name))
        if any((category.pk, kind) not in served for kind in FLEET_KINDS)
    ]
    running = Job.objects.filter(kind=Job.Kind.MODEL_TRAINING, status__in=ACTIVE, params__demo=True).first()
    if not wanted or running is not None:
        return {"seeded": seeded, "job": running, "categories": []}
    with transaction.atomic():
        job = job_start(
            kind=Job.Kind.MODEL_TRAINING,
            task_name=TASK,
            params={
                "demo": True,
                "quick": True,
                "max_rows": settings.PREDICTIONS_DEMO_MAX_ROWS,
                "units": [_demo_unit(category) for category in wanted],
            },
            message=f"Queued: first predictors of the demo fleet ({len(wanted)} categories)",
        )
    return {"seeded": seeded, "job": job, "categories": [c.name for c in wanted]}


def _demo_unit(category: MachineCategory) -> dict:
    return {
        "scope": "category",
        "machine": None,
        "category": category.pk,
        "label": f"category {category.name}",
        "kinds": list(FLEET_KINDS),
        "source": ModelVersion.Source.SEED,
        "real_dataset": None,
    }


# --- The work (Celery worker) -----------------------------------------------------------------------------


@dataclass
class TrainingData:
    frame: pd.DataFrame
    layout: DataLayout
    record: dict
    max_rul: float | None
    thresholds: tuple[float, float, float]
    rul_unit: str
    derived: tuple[DerivedFeature, ...] = ()
    real_dataset: RealDataset | None = None

    def features(self, kind: str) -> FeatureSpec | None:
        if kind == Kind.FAILURE:
            # The core's default for failure tables (independent records): no rolling windows.
            return FeatureSpec(windows=(), derived=self.derived)
        return FeatureSpec(derived=self.derived) if self.derived else None


def training_run(job: Job, reporter: ProgressReporter) -> dict:
    units = job.params["units"]
    max_rows = job.params.get("max_rows") or settings.PREDICTIONS_TRAINING_MAX_ROWS
    quick = bool(job.params.get("quick"))
    steps = sum(len(unit["kinds"]) for unit in units)
    reporter.update(total=steps * 100, stage="loading", message="Reading the training data", force=True)
    done, versions, failures = 0, [], []
    for unit in units:
        reporter.check_cancelled()
        try:
            data = _training_data(unit, max_rows)
        except (MLError, ValueError) as exc:
            failures += [{"scope": unit["label"], "kind": kind, "error": str(exc)} for kind in unit["kinds"]]
            done += len(unit["kinds"])
            continue
        for kind in unit["kinds"]:
            try:
                version = _fit_and_store(job, reporter, unit, kind, data, base=done * 100, quick=quick)
            except MLError as exc:
                logger.warning("training %s of %s failed: %s", kind, unit["label"], exc)
                failures.append({"scope": unit["label"], "kind": kind, "error": str(exc)})
            else:
                versions.append(
                    {"id": version.pk, "kind": kind, "scope": unit["label"], "version": version.version}
                )
            done += 1
            reporter.update(current=done * 100, force=True)
    if not versions:
        raise TrainingDataError("; ".join(f"{f['scope']} {f['kind']}: {f['error']}" for f in failures))
    failed = f", {len(failures)} failed" if failures else ""
    reporter.update(message=f"{len(versions)} model(s) trained and active{failed}", force=True)
    return {"versions": versions, "failed": failures}


def _progress(reporter: ProgressReporter, base: int, label: str, kind: str):
    last = [base]

    def report(stage: str, current: int, total: int) -> None:
        reporter.check_cancelled()
        low, high = STAGE_SPANS.get(stage, (0, 100))
        position = base + int(low + (high - low) * (current / total if total else 1.0))
        last[0] = max(last[0], position)  # a later stage never moves the bar back
        reporter.update(
            current=last[0],
            stage=f"{kind}: {stage}",
            message=f"{label} · {kind}: {stage} {current}/{total}",
        )

    return report


def _fit_and_store(job, reporter, unit, kind, data: TrainingData, *, base: int, quick: bool) -> ModelVersion:
    params = dict(QUICK_PARAMS.get(kind, {})) if quick else {}
    if quick:
        params["importance_repeats"] = QUICK_IMPORTANCE_REPEATS
    if kind == Kind.ANOMALY:
        params.update(healthy_above=data.thresholds[0], pre_failure_at_or_below=data.thresholds[2])
    model = create_predictor(
        CORE_KIND[kind],
        data.layout,
        data.features(kind),
        max_rul=data.max_rul,
        thresholds=data.thresholds,
        unit=data.rul_unit,
        threads=settings.PREDICTIONS_TRAINING_THREADS,
        **params,
    )
    model.fit(data.frame, progress=_progress(reporter, base, unit["label"], kind))
    reporter.update(stage=f"{kind}: saving", message=f"{unit['label']} · {kind}: saving", force=True)
    return _version_store(job, unit, kind, model, data)


def _version_store(job: Job, unit: dict, kind: str, model, data: TrainingData) -> ModelVersion:
    folder = machine_folder(unit["machine"]) if unit["machine"] else category_folder(unit["category"])
    with tempfile.TemporaryDirectory(prefix="pdm-predictor-") as temporary:
        local = Path(temporary) / "model.joblib"
        metadata = model.save(local)
        model_name, meta_name = model_names(folder)
        with removed_on_error([]) as stored:
            stored.append(store_file(local, model_name))
            stored.append(store_file(local.with_suffix(".json"), meta_name))
            if stored[1] != stored[0].rsplit(".", 1)[0] + ".json":
                raise RuntimeError(f"the storage renamed the model files: {stored}")
            return _version_record(job, unit, kind, model, data, stored[0], local.stat().st_size, metadata)


@transaction.atomic
def _version_record(job, unit, kind, model, data, name, size, metadata) -> ModelVersion:
    scope = {"machine_id": unit["machine"], "category_id": unit["category"]}
    if unit["machine"]:
        Machine.objects.select_for_update().get(pk=unit["machine"])
    else:
        MachineCategory.objects.select_for_update().get(pk=unit["category"])
    versions = ModelVersion.objects.filter(kind=kind, **scope)
    number = (versions.aggregate(last=Max("version"))["last"] or 0) + 1
    versions.filter(is_active=True).update(is_active=False)
    report = model.report
    now = timezone.now()
    version = ModelVersion.objects.create(
        kind=kind,
        **scope,
        version=number,
        file=name,
        bytes=size,
        source=unit["source"],
        training_data={**data.record, "rows_used": report["rows"], "runs": report["runs"]},
        real_dataset=data.real_dataset,
        metrics=json_safe(report["metrics"]),
        feature_importance=json_safe(report["feature_importance"]),
        sensors=list(model.sensors),
        params=json_safe(
            {
                "layout": metadata["layout"],
                "features": metadata["features"],
                "params": metadata["params"],
                "n_features": report["n_features"],
                "refit_on_all_rows": report["refit_on_all_rows"],
            }
        ),
        library_versions=metadata["versions"],
        history_rows=model.history_rows,
        fit_seconds=report["fit_seconds"],
        trained_at=now,
        is_active=True,
        activated_at=now,
        job=job,
        created_by=job.requested_by,
    )
    registry_changed()
    machine_pks = [m.pk for m in _scope_machines(unit)]
    with_readings = list(
        SensorReading.objects.filter(machine_id__in=machine_pks)
        .values_list("machine_id", flat=True)
        .distinct()
    )
    # The dashboard should not wait for the next reading to show what the new model says.
    transaction.on_commit(lambda: [refresh_request(pk) for pk in with_readings])
    return version


# --- Training frames ------------------------------------------------------------------------------------


def _training_data(unit: dict, max_rows: int) -> TrainingData:
    if unit["source"] == ModelVersion.Source.REAL:
        return _real_data(
            RealDataset.objects.select_related("machine__category").get(pk=unit["real_dataset"])
        )
    machines = _scope_machines(unit)
    if unit["scope"] == "machine":
        category = machines[0].category
        sensors = list(machines[0].sensors.order_by("order", "id").values_list("name", flat=True))
    else:
        category = MachineCategory.objects.get(pk=unit["category"])
        sensors = list(category.sensors.order_by("order", "id").values_list("name", flat=True))
    reader = _seed_part if unit["source"] == ModelVersion.Source.SEED else _synthetic_part
    parts, used = [], []
    for machine in machines:
        part = reader(machine, sensors)
        if part is not None:
            parts.append(part)
            used.append(machine.machine_id)
    if not parts:
        raise TrainingDataError(f"no {unit['source']} data with the sensors {sensors} for {unit['label']}")
    frame = _sample_runs(pd.concat(parts, ignore_index=True), max_rows)
    return TrainingData(
        frame=frame,
        layout=DataLayout(sensors=sensors, run_column=RUN, time_column=TIME, rul_column=RUL),
        record={"source": unit["source"], "machines": used, "rows_available": int(sum(map(len, parts)))},
        max_rul=category.max_rul_hours,
        thresholds=(category.healthy_above, category.degrading_above, category.warning_above),
        rul_unit="hours",
    )


def _seed_part(machine: Machine, sensors: list[str]) -> pd.DataFrame | None:
    """The machine's latest seed rows without the held-out cycle; runs are its cycles."""
    seed = machine_latest_seed(machine)
    if seed is None or not set(sensors) <= {s["name"] for s in seed.params.get("sensors", [])}:
        return None
    part = seed_fit_frame(seed, columns=[TIME, "cycle", RUL, *sensors])
    part[RUN] = f"{machine.pk}-" + part.pop("cycle").astype(str)
    return part


def _synthetic_part(machine: Machine, sensors: list[str]) -> pd.DataFrame | None:
    """The train split of the machine's latest synthetic data: one chronological run to failure."""
    dataset = machine_latest_synthetic(machine)
    if dataset is None:
        return None
    try:
        part = synthetic_frame(dataset, "train", columns=[TIME, RUL, *sensors])
    except (KeyError, ValueError):  # another sensor list, or no train split
        return None
    part[RUN] = str(machine.pk)
    return part


def _sample_runs(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Whole runs, in a fixed random order, up to max_rows (at least one run, however long)."""
    if len(frame) <= max_rows:
        return frame
    sizes = frame.groupby(RUN, sort=False).size()
    order = np.random.default_rng(0).permutation(sizes.index.to_numpy())
    kept, total = [], 0
    for run in order:
        if kept and total + sizes[run] > max_rows:
            continue
        kept.append(run)
        total += sizes[run]
    return frame[frame[RUN].isin(kept)].reset_index(drop=True)


def _real_data(dataset: RealDataset) -> TrainingData:
    import pyarrow.parquet as pq

    with local_path(dataset.prepared_file) as path:
        frame = pq.read_table(path).to_pandas()
    category = dataset.machine.category
    return TrainingData(
        frame=frame,
        layout=DataLayout.from_dict(dataset.layout),
        record={
            "source": "real",
            "real_dataset": dataset.pk,
            "name": dataset.name,
            "rows_available": len(frame),
        },
        # Real runs have their own lives: each run's length is the reference of its health fraction.
        max_rul=None,
        thresholds=(category.healthy_above, category.degrading_above, category.warning_above),
        rul_unit=dataset.rul_unit or "cycles",
        derived=tuple(DerivedFeature(**item) for item in dataset.plan.get("derived", [])),
        real_dataset=dataset,
    )
