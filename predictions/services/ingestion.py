"""Real data: upload (bounded, streamed to the storage) → an ingestion job reads the table, detects the plan
(time, run and target columns), proposes a column → sensor mapping and reports what needs cleaning → the
user confirms or edits the plan, or applies a preset → a second ingestion job prepares a clean training
frame (parquet) → predictors train on it (services.training, source "real").
"""

import io
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from gan.models import Job
from gan.services.files import files_delete, local_path, removed_on_error, store_bytes
from gan.services.jobs import job_start
from gan.services.progress import ProgressReporter
from machines.models import Machine
from pdm_site.api import Conflict
from predictions.files import machine_folder, new_name
from predictions.ml import IngestionError, IngestionPlan, MLError, prepare_dataset, propose_plan, read_table
from predictions.ml.reading import FORMATS_BY_SUFFIX
from predictions.models import MappingPreset, RealDataset
from predictions.services.models import json_safe

TASK = "predictions.tasks.ingest_dataset"
ACCEPTED = "CSV or TXT (any delimiter, with or without a header), Excel (.xlsx), Parquet or JSON"
SENSOR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PRESET_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
BUSY = (RealDataset.Status.ANALYSING, RealDataset.Status.PREPARING)
# A request body larger than the allowed file plus this is refused before it is read (413).
MULTIPART_OVERHEAD = 64 * 1024


def upload_too_large(size: int) -> str:
    return f"{size:,} bytes is more than the {settings.PREDICTIONS_UPLOAD_MAX_BYTES:,} bytes allowed"


@transaction.atomic
def dataset_upload(
    *, machine: Machine, upload, preset: MappingPreset | None = None, user=None
) -> RealDataset:
    """Store the uploaded file (streamed chunk by chunk) and queue its analysis."""
    name = Path(upload.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS_BY_SUFFIX:
        raise ValidationError({"file": [f"{name or 'the file'} is not a table: upload {ACCEPTED}"]})
    if upload.size > settings.PREDICTIONS_UPLOAD_MAX_BYTES:
        raise ValidationError({"file": [upload_too_large(upload.size)]})
    with removed_on_error([]) as stored:
        stored.append(default_storage.save(new_name(machine_folder(machine.pk), "real", suffix), upload))
        dataset = RealDataset.objects.create(
            machine=machine,
            name=name[:200],
            file=stored[0],
            bytes=upload.size,
            preset=preset,
            created_by=_user(user),
        )
        _analysis_queue(dataset, user)
    return dataset


def _user(user):
    return user if user is not None and user.is_authenticated else None


def _analysis_queue(dataset: RealDataset, user) -> None:
    dataset.status = RealDataset.Status.ANALYSING
    dataset.error = ""
    dataset.job = job_start(
        kind=Job.Kind.INGESTION,
        task_name=TASK,
        machine=dataset.machine,
        user=user,
        params={"dataset": dataset.pk, "step": "analyse"},
        message=f"Queued: reading {dataset.name}",
    )
    dataset.save(update_fields=["status", "error", "job"])


def _locked(dataset: RealDataset) -> RealDataset:
    dataset = RealDataset.objects.select_for_update().select_related("machine").get(pk=dataset.pk)
    if dataset.status in BUSY:
        raise Conflict(
            f"Real dataset {dataset.pk} is still {dataset.get_status_display().lower()} "
            f"(job {dataset.job_id}): wait for it."
        )
    return dataset


@transaction.atomic
def dataset_reanalyse(*, dataset: RealDataset, preset: MappingPreset | None, user=None) -> RealDataset:
    """Analyse the file again, with a preset's plan (or with detection when preset is None)."""
    dataset = _locked(dataset)
    dataset.preset = preset
    dataset.save(update_fields=["preset"])
    _analysis_queue(dataset, user)
    return dataset


@transaction.atomic
def dataset_confirm(*, dataset: RealDataset, plan, user=None) -> RealDataset:
    """Accept the (edited) plan and queue the preparation of the training frame."""
    dataset = _locked(dataset)
    if not dataset.file_info:
        raise Conflict(f"{dataset.name} could not be read ({dataset.error}): upload another file.")
    dataset.plan = plan_check(plan, file_columns=dataset.file_info.get("columns", []))
    dataset.status = RealDataset.Status.PREPARING
    dataset.error = ""
    dataset.job = job_start(
        kind=Job.Kind.INGESTION,
        task_name=TASK,
        machine=dataset.machine,
        user=user,
        params={"dataset": dataset.pk, "step": "prepare"},
        message=f"Queued: preparing {dataset.name}",
    )
    dataset.save(update_fields=["plan", "status", "error", "job"])
    return dataset


def plan_check(plan, *, file_columns: list[str] | None = None) -> dict:
    """The plan as the core's IngestionPlan dict; 400 naming the field (`plan.sensors.s2`) when it is wrong.

    With the file's columns, every column the plan uses must be one of them (after a headerless file's
    columns are named by the plan).
    """
    if not isinstance(plan, dict):
        raise ValidationError({"plan": ["must be an object with at least `sensors` ({column: sensor name})"]})
    if not isinstance(plan.get("sensors"), dict):
        raise ValidationError({"plan.sensors": ["must map each column used to a sensor name"]})
    try:
        parsed = IngestionPlan.from_dict(plan)
    except IngestionError as exc:
        raise ValidationError({f"plan.{exc.column or 'target_kind'}": [str(exc)]}) from exc
    except TypeError as exc:
        raise ValidationError({"plan": [f"unexpected shape: {exc}"]}) from exc
    errors = {}
    for column, sensor in parsed.sensors.items():
        if not isinstance(sensor, str) or not SENSOR_NAME.match(sensor):
            errors[f"plan.sensors.{column}"] = [
                f"{sensor!r} is not a sensor name: letters, digits and underscores, not starting with a digit"
            ]
    if file_columns is not None:
        errors.update(_column_errors(parsed, file_columns))
    if errors:
        raise ValidationError(errors)
    return parsed.to_dict()


def _column_errors(plan: IngestionPlan, file_columns: list[str]) -> dict:
    if plan.columns is not None:
        if len(plan.columns) != len(file_columns):
            return {"plan.columns": [f"names {len(plan.columns)} columns; the file has {len(file_columns)}"]}
        available = list(plan.columns)
    else:
        available = list(file_columns)
    used = {f"plan.sensors.{column}": column for column in plan.sensors}
    used.update({f"plan.categorical[{i}]": column for i, column in enumerate(plan.categorical)})
    used.update({"plan.time_column": plan.time_column, "plan.run_column": plan.run_column})
    if plan.target_kind in ("rul", "label"):
        used["plan.target_column"] = plan.target_column
    shown = ", ".join(available[:30]) + (" …" if len(available) > 30 else "")
    return {
        field: [f"column {column!r} is not in the file (columns: {shown})"]
        for field, column in used.items()
        if column and column not in available
    }


# --- The work (Celery worker) ------------------------------------------------------------------------------


def ingestion_run(job: Job, reporter: ProgressReporter) -> dict:
    dataset = RealDataset.objects.select_related("machine", "preset").get(pk=job.params["dataset"])
    analysing = job.params["step"] == "analyse"
    try:
        return _analyse(dataset, reporter) if analysing else _prepare(dataset, reporter)
    except Exception as exc:
        # An unreadable file fails the dataset; a plan that does not fit the data goes back to mapping.
        status = RealDataset.Status.FAILED if analysing else RealDataset.Status.NEEDS_MAPPING
        message = str(exc) if isinstance(exc, MLError) else f"{type(exc).__name__}: {exc}"
        RealDataset.objects.filter(pk=dataset.pk).update(status=status, error=message[:5000])
        raise


def _read(dataset: RealDataset):
    with local_path(dataset.file.name) as path:
        return read_table(path, filename=dataset.name, max_bytes=settings.PREDICTIONS_UPLOAD_MAX_BYTES)


def _analyse(dataset: RealDataset, reporter: ProgressReporter) -> dict:
    reporter.update(total=3, stage="reading", message=f"Reading {dataset.name}", force=True)
    table = _read(dataset)
    reporter.check_cancelled()
    reporter.update(
        current=1,
        stage="detecting",
        message="Detecting time, run and target columns; proposing the mapping",
        force=True,
    )
    sensors = [{"name": s.name, "description": s.description} for s in dataset.machine.sensors.all()]
    proposal = propose_plan(
        table.frame,
        sensors=None if dataset.preset else sensors,
        preset=dataset.preset.plan if dataset.preset else None,
    )
    plan = proposal["plan"]
    RealDataset.objects.filter(pk=dataset.pk).update(
        file_info=json_safe(table.info),
        proposal=json_safe(
            {key: proposal[key] for key in ("plan", "detected", "mapping", "unmapped_columns")}
        ),
        plan=json_safe(plan),
        cleaning=json_safe(proposal["cleaning"]),
        rows=len(table.frame),
        target_kind=plan["target_kind"] or "",
        rul_unit=plan["rul_unit"] or "",
        status=RealDataset.Status.NEEDS_MAPPING,
        error="",
    )
    reporter.update(current=3, stage="proposed", message="Plan proposed: confirm or edit the mapping")
    detected = proposal["detected"]
    return {
        "dataset": dataset.pk,
        "rows": len(table.frame),
        "columns": len(table.frame.columns),
        "target_kind": plan["target_kind"],
        "runs": detected["runs"],
    }


def _prepare(dataset: RealDataset, reporter: ProgressReporter) -> dict:
    reporter.update(total=3, stage="reading", message=f"Reading {dataset.name}", force=True)
    table = _read(dataset)
    reporter.check_cancelled()
    reporter.update(current=1, stage="preparing", message="Applying the plan: types, order, duplicates, RUL")
    prepared = prepare_dataset(table.frame, dataset.plan)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(prepared.frame, preserve_index=False), buffer)
    reporter.update(current=2, stage="storing", message="Storing the training frame", force=True)
    previous = dataset.prepared_file
    summary = json_safe(prepared.summary)
    with removed_on_error([]) as stored:
        stored.append(
            store_bytes(new_name(machine_folder(dataset.machine_id), "real", ".parquet"), buffer.getvalue())
        )
        with transaction.atomic():
            RealDataset.objects.filter(pk=dataset.pk).update(
                prepared_file=stored[0],
                layout=prepared.layout.to_dict(),
                summary=summary,
                rows=summary["rows_out"],
                units=summary["runs"],
                target_kind=dataset.plan.get("target_kind") or "",
                rul_unit=dataset.plan.get("rul_unit") or "",
                status=RealDataset.Status.READY,
                error="",
            )
            transaction.on_commit(lambda: files_delete([previous]))
    reporter.update(current=3, stage="ready", message=f"{summary['rows_out']:,} rows ready to train")
    return {"dataset": dataset.pk, "rows": summary["rows_out"], "units": summary["runs"]}


# --- Presets ----------------------------------------------------------------------------------------------


@transaction.atomic
def preset_create(*, name: str, plan, description: str = "", user=None) -> MappingPreset:
    """Save a plan as a reusable preset (e.g. the mapping confirmed for one upload)."""
    if not isinstance(name, str) or not PRESET_NAME.match(name):
        raise ValidationError({"name": ["1–80 lowercase letters, digits, - or _, e.g. plant_a_pumps"]})
    checked = plan_check(plan)
    try:
        with transaction.atomic():
            return MappingPreset.objects.create(
                name=name, description=description, plan=checked, created_by=_user(user)
            )
    except IntegrityError as exc:
        raise ValidationError({"name": [f"a preset named {name} exists: choose another name"]}) from exc


@transaction.atomic
def preset_delete(*, preset: MappingPreset, user=None) -> None:
    if preset.builtin:
        raise Conflict(f"{preset.name} ships with the product and stays.")
    preset.delete()
