"""The synthetic-data workflow of one machine (SPEC §3): seed → train → generate → validate.

Each step has a `*_start` service for the web side (checks the parameters against SPEC §3 bounds → 400
naming the field, checks the earlier step exists → 409 naming it, creates the Job) and a `*_run` work
function the Celery task runs through `job_execute`, reporting through the job's ProgressReporter.
`seed_create` makes seed data synchronously (milliseconds) for code that bootstraps a fleet.
"""

import io
import math
import secrets
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.selectors import (
    holdout_frame,
    machine_active_job,
    machine_active_synthesizer,
    machine_latest_seed,
    machine_latest_synthetic,
    seed_fit_frame,
    synthetic_frame,
)
from gan.services import files
from gan.services.jobs import job_start
from gan.services.progress import JobCancelled, ProgressReporter
from gan.signals import synthetic_ready
from gan.synth.bounds import (
    BATCH_SIZE_RANGE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_VARIANT,
    EPOCHS_RANGE,
    VARIANTS,
)
from gan.synth.generate import DEFAULT_ROWS, validate_split_rows
from gan.synth.profile import DegradationProfile, SensorProfile
from gan.synth.seed import SEED_DEFAULT_ROWS, SEED_MAX_ROWS, SEED_MIN_ROWS, generate_seed, split_holdout
from machines.models import Machine
from pdm_site.api import Conflict

# SPEC §3.2; the lower epoch bound is a setting (GAN_MIN_EPOCHS) so that tests and demos may train briefly.
EPOCHS_MAX = EPOCHS_RANGE[1]
DEFAULT_TRAINING = {"epochs": DEFAULT_EPOCHS, "batch_size": DEFAULT_BATCH_SIZE, "variant": DEFAULT_VARIANT}
SEED_MAX_RANDOM_SEED = 2**32 - 1
TASKS = {
    Job.Kind.SEED: "gan.tasks.generate_seed",
    Job.Kind.TRAIN: "gan.tasks.train_synthesizer",
    Job.Kind.GENERATE: "gan.tasks.generate_synthetic",
    Job.Kind.VALIDATE: "gan.tasks.validate_synthetic",
}
STAGE_MESSAGES = {
    "preparing": "Preparing the data (trends, encoders)",
    "training": "Training",
    "calibrating": "Calibrating the residuals",
}


# --- Parameters ----------------------------------------------------------------------------------------


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _core_error(exc: ValueError) -> ValidationError:
    """The core names the parameter first ("train_rows: must be …"): keep that as the error's field."""
    field, _, message = str(exc).partition(": ")
    return _field_error(field, message) if message else _field_error("non_field_errors", str(exc))


def _integer(field: str, value, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        bounds = f" between {low:,} and {high:,}" if low is not None else ""
        raise _field_error(field, f"must be a whole number{bounds}")
    if low is not None and not low <= value <= high:
        raise _field_error(field, f"must be between {low:,} and {high:,}, got {value:,}")
    return value


def _check_rows(rows) -> int:
    return _integer("rows", rows, SEED_MIN_ROWS, SEED_MAX_ROWS)


def _check_random_seed(seed) -> int:
    if seed is None:
        return secrets.randbelow(SEED_MAX_RANDOM_SEED)
    return _integer("seed", seed, 0, SEED_MAX_RANDOM_SEED)


def training_epochs_range() -> tuple[int, int]:
    return settings.GAN_MIN_EPOCHS, EPOCHS_MAX


def _check_training(epochs, batch_size, variant) -> None:
    _integer("epochs", epochs, *training_epochs_range())
    _integer("batch_size", batch_size, *BATCH_SIZE_RANGE)
    if variant not in VARIANTS:
        raise _field_error("variant", f"must be one of {', '.join(VARIANTS)}, got {variant!r}")


def _check_idle(machine: Machine, kind: str) -> None:
    running = machine_active_job(machine, kind)
    if running is not None:
        raise Conflict(
            f"A {kind} job is already {running.status.lower()} for {machine.machine_id} (job {running.pk}): "
            "wait for it or cancel it."
        )


def _locked(machine: Machine) -> Machine:
    """The machine row, locked until commit: two concurrent starts of one step cannot both pass."""
    return Machine.objects.select_for_update(of=("self",)).select_related("category").get(pk=machine.pk)


def machine_degradation_profile(machine: Machine) -> DegradationProfile:
    """The core's profile from the machine's sensors and its category's RUL profile.

    At least two cycles, so that one can always be held out (a category may declare one).
    """
    category = machine.category
    sensors = tuple(
        SensorProfile(name=s.name, base=s.base, range=s.range, noise=s.noise, unit=s.unit)
        for s in machine.sensors.order_by("order", "id")
    )
    return DegradationProfile(
        max_rul_hours=category.max_rul_hours,
        cycles=max(2, category.cycles),
        degradation_pattern=category.degradation_pattern,
        rul_noise_hours=category.rul_noise_hours,
        sensors=sensors,
    )


def _profile_or_conflict(machine: Machine) -> DegradationProfile:
    try:
        return machine_degradation_profile(machine)
    except ValueError as exc:
        raise Conflict(
            f"The profile of {machine.machine_id} cannot drive seed data ({exc}): edit it."
        ) from exc


# --- Seed data -----------------------------------------------------------------------------------------


@transaction.atomic
def seed_start(
    *,
    machine: Machine,
    rows: int = SEED_DEFAULT_ROWS,
    seed: int | None = None,
    user=None,
    parent: Job | None = None,
) -> Job:
    """Queue seed generation; `seed` (random seed) makes it repeatable, None picks one and records it."""
    rows, seed = _check_rows(rows), _check_random_seed(seed)
    machine = _locked(machine)
    _profile_or_conflict(machine)
    _check_idle(machine, Job.Kind.SEED)
    return job_start(
        kind=Job.Kind.SEED,
        task_name=TASKS[Job.Kind.SEED],
        machine=machine,
        user=user,
        params={"rows": rows, "seed": seed},
        parent=parent,
        message=f"Queued: {rows:,} seed rows",
    )


@transaction.atomic
def seed_create(
    *, machine: Machine, rows: int = SEED_DEFAULT_ROWS, seed: int | None = None, user=None
) -> SeedDataset:
    """Generate and store seed data now, without a job (a 10,000-row seed takes milliseconds)."""
    rows, seed = _check_rows(rows), _check_random_seed(seed)
    return _seed_write(machine=machine, rows=rows, random_seed=seed, user=user)


def seed_run(job: Job, reporter: ProgressReporter) -> dict:
    rows, seed = job.params["rows"], job.params["seed"]
    reporter.update(total=1, stage="generating", message=f"Generating {rows:,} seed rows")
    dataset = _seed_write(machine=job.machine, rows=rows, random_seed=seed, user=job.requested_by, job=job)
    reporter.update(current=1, stage="stored", message=f"{dataset.rows:,} seed rows stored")
    return {
        "seed_dataset": dataset.pk,
        "rows": dataset.rows,
        "cycles": dataset.cycles,
        "holdout_rows": dataset.holdout_rows,
        "seconds": dataset.seconds,
    }


def _seed_write(*, machine: Machine, rows: int, random_seed: int, user=None, job: Job | None = None):
    profile = _profile_or_conflict(machine)
    started = time.perf_counter()
    frame = generate_seed(profile, rows, random_seed=random_seed)
    _, holdout = split_holdout(frame)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    with files.removed_on_error([]) as stored:
        stored.append(files.store_bytes(files.new_name(machine.pk, "seed", ".parquet"), buffer.getvalue()))
        return SeedDataset.objects.create(
            machine=machine,
            file=stored[0],
            rows=len(frame),
            random_seed=random_seed,
            params=profile.to_dict(),
            cycles=profile.cycles,
            holdout_cycle=int(holdout["cycle"].iloc[0]),
            holdout_rows=len(holdout),
            bytes=buffer.getbuffer().nbytes,
            seconds=time.perf_counter() - started,
            job=job,
            created_by=_user(user),
        )


def _user(user):
    return user if user is not None and user.is_authenticated else None


# --- Training ------------------------------------------------------------------------------------------


@transaction.atomic
def train_start(
    *,
    machine: Machine,
    epochs: int = DEFAULT_TRAINING["epochs"],
    batch_size: int = DEFAULT_TRAINING["batch_size"],
    variant: str = DEFAULT_TRAINING["variant"],
    early_stopping: bool = False,
    user=None,
    parent: Job | None = None,
) -> Job:
    """Queue a TVAE fit on the machine's latest seed data (its held-out cycle excluded)."""
    _check_training(epochs, batch_size, variant)
    machine = _locked(machine)
    seed = machine_latest_seed(machine)
    if seed is None:
        raise Conflict(f"Generate seed data for {machine.machine_id} first: training learns from it.")
    _check_idle(machine, Job.Kind.TRAIN)
    return job_start(
        kind=Job.Kind.TRAIN,
        task_name=TASKS[Job.Kind.TRAIN],
        machine=machine,
        user=user,
        params={
            "epochs": epochs,
            "batch_size": batch_size,
            "variant": variant,
            "early_stopping": bool(early_stopping),
            "seed_dataset": seed.pk,
        },
        parent=parent,
        message=f"Queued: {epochs} epochs ({variant})",
    )


def train_run(job: Job, reporter: ProgressReporter) -> dict:
    # Imported here: torch and SDV take seconds to import, and only training and sampling need them.
    from gan.synth.train import EarlyStopping, TrainingCancelled, train

    params = job.params
    seed = SeedDataset.objects.get(pk=params["seed_dataset"])
    reporter.update(total=params["epochs"], stage="loading", message="Reading the seed data", force=True)
    frame = seed_fit_frame(seed)

    def on_epoch(report) -> None:
        reporter.update(
            current=report.epoch,
            epoch=report.epoch,
            loss=report.loss,
            message=f"Epoch {report.epoch}/{report.epochs} · loss {report.loss:.4f}",
        )

    def on_stage(stage: str) -> None:
        reporter.update(stage=stage, message=STAGE_MESSAGES.get(stage, stage), force=True)

    def should_cancel() -> bool:
        try:
            reporter.check_cancelled()
        except JobCancelled:
            return True
        return False

    try:
        synthesizer = train(
            frame,
            variant=params["variant"],
            epochs=params["epochs"],
            batch_size=params["batch_size"],
            on_epoch=on_epoch,
            should_cancel=should_cancel,
            on_stage=on_stage,
            early_stopping=EarlyStopping() if params.get("early_stopping") else None,
            enable_gpu=settings.GAN_ENABLE_GPU,
            torch_threads=settings.GAN_TORCH_THREADS,
        )
    except TrainingCancelled as exc:
        raise JobCancelled() from exc
    reporter.update(stage="saving", message="Saving the model", force=True)
    model = _synthesizer_store(job=job, seed=seed, synthesizer=synthesizer)
    summary = synthesizer.summary
    reporter.update(
        message=f"Model v{model.version} trained on {summary.device}: {summary.epochs_run} epochs in "
        f"{summary.seconds:.0f} s"
    )
    return {
        "synthesizer": model.pk,
        "version": model.version,
        "device": summary.device,
        "epochs_run": summary.epochs_run,
        "stopped_early": summary.stopped_early,
        "final_loss": _finite(summary.final_loss),
        "seconds": summary.seconds,
    }


def _synthesizer_store(*, job: Job, seed: SeedDataset, synthesizer) -> SynthesizerModel:
    machine = job.machine
    with tempfile.TemporaryDirectory(prefix="pdm-model-") as folder:
        local = Path(folder) / "synthesizer.pkl"
        size = synthesizer.save(local)
        with files.removed_on_error([]) as stored:
            stored.append(files.store_file(local, files.new_name(machine.pk, "models", ".pkl")))
            return _synthesizer_record(job, seed, synthesizer.summary, stored[0], size)


@transaction.atomic
def _synthesizer_record(job: Job, seed: SeedDataset, summary, name: str, size: int) -> SynthesizerModel:
    """The next version, active: the newest successful fit replaces the active model."""
    machine = _locked(job.machine)
    version = (machine.synthesizers.aggregate(last=Max("version"))["last"] or 0) + 1
    machine.synthesizers.filter(is_active=True).update(is_active=False)
    return SynthesizerModel.objects.create(
        machine=machine,
        version=version,
        seed_dataset=seed,
        variant=summary.variant,
        epochs=summary.epochs,
        epochs_run=summary.epochs_run,
        batch_size=summary.batch_size,
        device=summary.device,
        losses=[_finite(loss) for loss in summary.losses],
        final_loss=_finite(summary.final_loss),
        seconds=summary.seconds,
        file=name,
        bytes=size,
        is_active=True,
        activated_at=timezone.now(),
        job=job,
        created_by=job.requested_by,
    )


@transaction.atomic
def synthesizer_activate(*, synthesizer: SynthesizerModel, user=None) -> SynthesizerModel:
    """Make this version the machine's active model (admins: e.g. an older one after a failed validation)."""
    _locked(synthesizer.machine)
    SynthesizerModel.objects.filter(machine_id=synthesizer.machine_id, is_active=True).exclude(
        pk=synthesizer.pk
    ).update(is_active=False)
    synthesizer.is_active = True
    synthesizer.activated_at = timezone.now()
    synthesizer.save(update_fields=["is_active", "activated_at"])
    return synthesizer


# --- Generation ----------------------------------------------------------------------------------------


@transaction.atomic
def generate_start(
    *,
    machine: Machine,
    train_rows: int = DEFAULT_ROWS["train"],
    val_rows: int = DEFAULT_ROWS["val"],
    test_rows: int = DEFAULT_ROWS["test"],
    user=None,
    parent: Job | None = None,
) -> Job:
    """Queue train/val/test sampling from the machine's active synthesizer."""
    counts = {"train_rows": train_rows, "val_rows": val_rows, "test_rows": test_rows}
    for name, value in counts.items():
        _integer(name, value)
    try:
        validate_split_rows(train_rows, val_rows, test_rows)
    except ValueError as exc:
        raise _core_error(exc) from exc
    machine = _locked(machine)
    model = machine_active_synthesizer(machine)
    if model is None:
        raise Conflict(
            f"Train a synthesizer for {machine.machine_id} first: synthetic data is sampled from it."
        )
    _check_idle(machine, Job.Kind.GENERATE)
    return job_start(
        kind=Job.Kind.GENERATE,
        task_name=TASKS[Job.Kind.GENERATE],
        machine=machine,
        user=user,
        params={**counts, "synthesizer": model.pk},
        parent=parent,
        message=f"Queued: {sum(counts.values()):,} rows from model v{model.version}",
    )


def generate_run(job: Job, reporter: ProgressReporter) -> dict:
    from gan.synth.generate import generate_splits
    from gan.synth.train import load_synthesizer

    params, machine = job.params, job.machine
    model = SynthesizerModel.objects.get(pk=params["synthesizer"])
    reporter.update(total=3, stage="loading", message=f"Loading model v{model.version}", force=True)
    with files.local_path(model.file.name) as path:
        synthesizer = load_synthesizer(path)
    reporter.check_cancelled()
    rows = params["train_rows"] + params["val_rows"] + params["test_rows"]
    reporter.update(current=1, stage="sampling", message=f"Sampling {rows:,} rows", force=True)
    started = time.perf_counter()
    with (
        _torch_threads(settings.GAN_TORCH_THREADS),
        tempfile.TemporaryDirectory(prefix="pdm-synth-") as folder,
    ):
        split_files = generate_splits(
            synthesizer,
            folder,
            machine_id=machine.machine_id,
            train_rows=params["train_rows"],
            val_rows=params["val_rows"],
            test_rows=params["test_rows"],
        )
        reporter.check_cancelled()
        reporter.update(current=2, stage="storing", message="Storing the splits", force=True)
        dataset = _synthetic_store(job, model, split_files, time.perf_counter() - started)
    transaction.on_commit(
        lambda: synthetic_ready.send(sender=SyntheticDataset, machine_pk=machine.pk, dataset_pk=dataset.pk)
    )
    reporter.update(current=3, message=f"{dataset.rows:,} synthetic rows stored")
    return {"dataset": dataset.pk, "rows": dataset.rows, "bytes": dataset.bytes, "seconds": dataset.seconds}


@contextmanager
def _torch_threads(threads: int):
    """Sampling runs torch too: the same deliberate thread count as training, restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _synthetic_store(job: Job, model: SynthesizerModel, split_files: dict, seconds: float):
    folder = files.new_name(job.machine.pk, "synthetic")
    with files.removed_on_error([]) as stored:
        splits = {}
        for split, split_file in split_files.items():
            stored.append(files.store_file(split_file.path, f"{folder}/{split}.parquet"))
            splits[split] = {
                "path": stored[-1],
                "rows": split_file.rows,
                "bytes": split_file.bytes,
                "seconds": split_file.seconds,
            }
        return SyntheticDataset.objects.create(
            machine=job.machine,
            synthesizer=model,
            splits=splits,
            rows=sum(split["rows"] for split in splits.values()),
            bytes=sum(split["bytes"] for split in splits.values()),
            seconds=seconds,
            job=job,
            created_by=job.requested_by,
        )


# --- Validation ----------------------------------------------------------------------------------------


@transaction.atomic
def validate_start(
    *,
    machine: Machine,
    dataset: SyntheticDataset | None = None,
    split: str = "train",
    user=None,
    parent: Job | None = None,
) -> Job:
    """Queue the quality report of a synthetic split (default: the machine's latest dataset, train split)."""
    if split not in SyntheticDataset.SPLITS:
        raise _field_error("split", f"must be one of {', '.join(SyntheticDataset.SPLITS)}, got {split!r}")
    if dataset is not None and dataset.machine_id != machine.pk:
        raise _field_error("dataset", f"synthetic dataset {dataset.pk} belongs to another machine")
    machine = _locked(machine)
    dataset = dataset or machine_latest_synthetic(machine)
    if dataset is None:
        raise Conflict(f"Generate synthetic data for {machine.machine_id} first: validation scores it.")
    _check_idle(machine, Job.Kind.VALIDATE)
    return job_start(
        kind=Job.Kind.VALIDATE,
        task_name=TASKS[Job.Kind.VALIDATE],
        machine=machine,
        user=user,
        params={"dataset": dataset.pk, "split": split},
        parent=parent,
        message=f"Queued: quality of synthetic #{dataset.pk} ({split})",
    )


def validate_run(job: Job, reporter: ProgressReporter) -> dict:
    from gan.synth.quality import evaluate_quality

    dataset = SyntheticDataset.objects.select_related("synthesizer__seed_dataset").get(
        pk=job.params["dataset"]
    )
    split = job.params["split"]
    seed = dataset.synthesizer.seed_dataset
    if seed is None:
        raise ValueError(f"the seed data synthesizer v{dataset.synthesizer.version} learned from is gone")
    reporter.update(total=3, stage="loading", message="Reading seed and synthetic rows", force=True)
    fit, holdout, synthetic = seed_fit_frame(seed), holdout_frame(seed), synthetic_frame(dataset, split)
    reporter.check_cancelled()
    reporter.update(
        current=1,
        stage="scoring",
        message="Scoring: SDMetrics, KS, Wasserstein, correlations, TSTR",
        force=True,
    )
    result = _json_safe(
        evaluate_quality(fit, synthetic, holdout=holdout, threads=settings.GAN_QUALITY_THREADS)
    )
    reporter.update(current=2, stage="storing", message="Storing the report", force=True)
    report = _quality_store(job, dataset, split, result)
    reporter.update(current=3, message=f"Quality {report.overall:.3f}: {report.verdict}")
    return {
        "report": report.pk,
        "overall": report.overall,
        "verdict": report.verdict,
        "max_corr_gap": report.max_corr_gap,
        "tstr_ratio": report.tstr_ratio,
    }


@transaction.atomic
def _quality_store(job: Job, dataset: SyntheticDataset, split: str, result: dict) -> QualityReport:
    scores = result["quality"]
    report = QualityReport.objects.create(
        dataset=dataset,
        split=split,
        overall=scores["overall"],
        column_shapes=scores["column_shapes"],
        column_pair_trends=scores["column_pair_trends"],
        sensors=result["sensors"],
        max_corr_gap=result["max_corr_gap"],
        worst_corr_sensor=result["worst_corr_sensor"] or "",
        tstr=result["tstr"],
        verdict=result["verdict"],
        details=result,
        seconds=result.get("seconds") or 0,
        job=job,
    )
    # The model carries its latest verdict; a fail flags it (an admin may activate an older version).
    SynthesizerModel.objects.filter(pk=dataset.synthesizer_id).update(
        quality_score=report.overall, verdict=report.verdict, flagged=report.verdict == "fail"
    )
    return report


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _json_safe(value):
    """NaN and infinity become None: JSON (and PostgreSQL's jsonb) has no such numbers."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
