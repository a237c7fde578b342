"""Pages of the synthetic-data workflow: the machine's workflow panel (steps, live jobs, quality), the
data explorer and batch operations."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException, ValidationError

from accounts.decorators import role_required
from accounts.roles import Role, has_role
from gan import explorer as figures
from gan.models import Job, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.selectors import ACTIVE, fleet_synthetic_overview, machine_workflow_status
from gan.services import synthetic
from gan.services.batch import OPERATIONS, batch_start
from gan.synth.generate import DEFAULT_ROWS
from gan.synth.seed import SEED_DEFAULT_ROWS
from machines.models import Machine

EXPLORER_PAGE_SIZE = 50
SOURCES = ("seed", "train", "val", "test")
# What each step's form starts with (SPEC §3 defaults).
DEFAULTS = {
    "rows": SEED_DEFAULT_ROWS,
    "seed": "",
    **synthetic.DEFAULT_TRAINING,
    **{f"{split}_rows": rows for split, rows in DEFAULT_ROWS.items()},
    "split": "train",
}


# --- The machine's workflow panel (included in the machine page; htmx refreshes it) --------------------


def _machine(machine_id: str) -> Machine:
    return get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)


def workflow_context(machine: Machine, *, request, errors: dict | None = None, form=None) -> dict:
    """What the workflow panel shows: the steps, the running (or latest) job, each step's form, results."""
    status = machine_workflow_status(machine)
    jobs = [step.job for step in status.steps if step.job is not None]
    running = [job for job in jobs if job.status in ACTIVE]
    latest = max(jobs, key=lambda job: (job.created_at, job.pk), default=None)
    values = dict(DEFAULTS)
    if form is not None:
        values.update({key: form.get(key) for key in values if form.get(key) not in (None, "")})
    return {
        "machine": machine,
        "status": status,
        "jobs": running or ([latest] if latest else []),
        "running": {step.key for step in status.steps if step.state == "running"},
        "errors": errors or {},
        "values": values,
        "epochs_range": synthetic.training_epochs_range(),
        "variants": synthetic.VARIANTS,
        "splits": SyntheticDataset.SPLITS,
        "can_operate": has_role(request.user, Role.OPERATOR),
        "is_admin_role": has_role(request.user, Role.ADMIN),
        "csrf_token": get_token(request),
        "quality": _quality_charts(status.report),
    }


def _quality_charts(report) -> dict | None:
    if report is None:
        return None
    sensors = report.sensors
    return {
        "sensors": [sensor["name"] for sensor in sensors],
        "ks": [sensor["ks"] for sensor in sensors],
        "corr_seed": [sensor["corr_seed"] for sensor in sensors],
        "corr_synthetic": [sensor["corr_synthetic"] for sensor in sensors],
    }


@role_required()
def workflow(request, machine_id):
    context = workflow_context(_machine(machine_id), request=request)
    return render(request, "gan/_workflow.html", context)


def _number(request, field: str, default: int | None = None) -> int | None:
    raw = request.POST.get(field, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({field: ["must be a whole number"]}) from None


def _step(request, machine_id: str, start) -> object:
    """Run a step's start service for the form; the panel comes back with the new job or the problem."""
    machine = _machine(machine_id)
    errors = {}
    try:
        job = start(machine)
    except ValidationError as exc:
        errors = {field: [str(message) for message in messages_] for field, messages_ in exc.detail.items()}
    except APIException as exc:  # Conflict: a missing earlier step, or the step already running
        errors = {"step": [str(exc.detail)]}
    else:
        if not request.htmx:
            messages.success(request, f"{job.get_kind_display()} job {job.pk} started.")
    if request.htmx:
        context = workflow_context(machine, request=request, errors=errors, form=request.POST)
        return render(request, "gan/_workflow.html", context)
    for field, problems in errors.items():
        messages.error(request, f"{field}: {' '.join(problems)}")
    return redirect(reverse("machines:detail", args=[machine.machine_id]) + "#workflow")


@role_required(read=Role.OPERATOR)
@require_POST
def seed_step(request, machine_id):
    return _step(
        request,
        machine_id,
        lambda machine: synthetic.seed_start(
            machine=machine,
            rows=_number(request, "rows", DEFAULTS["rows"]),
            seed=_number(request, "seed"),
            user=request.user,
        ),
    )


@role_required(read=Role.OPERATOR)
@require_POST
def train_step(request, machine_id):
    return _step(
        request,
        machine_id,
        lambda machine: synthetic.train_start(
            machine=machine,
            epochs=_number(request, "epochs", DEFAULTS["epochs"]),
            batch_size=_number(request, "batch_size", DEFAULTS["batch_size"]),
            variant=request.POST.get("variant", DEFAULTS["variant"]),
            early_stopping=request.POST.get("early_stopping") == "on",
            user=request.user,
        ),
    )


@role_required(read=Role.OPERATOR)
@require_POST
def generate_step(request, machine_id):
    return _step(
        request,
        machine_id,
        lambda machine: synthetic.generate_start(
            machine=machine,
            train_rows=_number(request, "train_rows", DEFAULTS["train_rows"]),
            val_rows=_number(request, "val_rows", DEFAULTS["val_rows"]),
            test_rows=_number(request, "test_rows", DEFAULTS["test_rows"]),
            user=request.user,
        ),
    )


@role_required(read=Role.OPERATOR)
@require_POST
def validate_step(request, machine_id):
    return _step(
        request,
        machine_id,
        lambda machine: synthetic.validate_start(
            machine=machine, split=request.POST.get("split", "train"), user=request.user
        ),
    )


@role_required(read=Role.ADMIN, write=Role.ADMIN)
@require_POST
def synthesizer_activate_page(request, pk):
    model = get_object_or_404(SynthesizerModel.objects.select_related("machine"), pk=pk)
    synthetic.synthesizer_activate(synthesizer=model, user=request.user)
    messages.success(request, f"Synthesizer v{model.version} is now active for {model.machine.machine_id}.")
    return redirect(reverse("machines:detail", args=[model.machine.machine_id]) + "#workflow")


# --- Data explorer -------------------------------------------------------------------------------------


def _explorer_selection(request) -> dict:
    """The machine, source (seed/train/val/test) and dataset the query asks for, with their files.

    The seed compared with synthetic data is the one its synthesizer learned from.
    """
    machines = list(Machine.objects.order_by("machine_id").values_list("machine_id", flat=True))
    machine_id = request.GET.get("machine") or (machines[0] if machines else None)
    machine = Machine.objects.filter(machine_id=machine_id).first() if machine_id else None
    source = request.GET.get("source") if request.GET.get("source") in SOURCES else "seed"
    datasets = list(SyntheticDataset.objects.filter(machine=machine).select_related("synthesizer")[:20])
    dataset = next((d for d in datasets if str(d.pk) == request.GET.get("dataset")), None)
    dataset = dataset or (datasets[0] if datasets else None)
    seed = None
    if dataset is not None and dataset.synthesizer.seed_dataset_id:
        seed = SeedDataset.objects.filter(pk=dataset.synthesizer.seed_dataset_id).first()
    seed = seed or SeedDataset.objects.filter(machine=machine).first()
    files = {}
    if seed is not None:
        files["seed"] = seed.file.name
    if dataset is not None:
        files.update({split: info["path"] for split, info in dataset.splits.items()})
    return {
        "machines": machines,
        "machine": machine,
        "source": source,
        "sources": SOURCES,
        "datasets": datasets,
        "dataset": dataset,
        "seed": seed,
        "files": files,
        "file": files.get(source),
    }


@role_required()
def explorer(request):
    selection = _explorer_selection(request)
    context = {**selection}
    name = selection["file"]
    if name:
        columns, total = figures.schema(name)
        sensors = figures.sensor_names(columns)
        sensor = request.GET.get("sensor") if request.GET.get("sensor") in sensors else sensors[0]
        page = Paginator(range(total), EXPLORER_PAGE_SIZE).get_page(request.GET.get("page"))
        offset = page.start_index() - 1 if total else 0
        context.update(
            columns=columns,
            sensors=sensors,
            sensor=sensor,
            page=page,
            rows=figures.table_page(name, offset=offset, limit=EXPLORER_PAGE_SIZE),
            total=total,
        )
        if request.htmx and request.GET.get("part") == "table":
            return render(request, "gan/_explorer_table.html", context)
        comparison = {"seed": selection["files"].get("seed")}
        if selection["source"] != "seed":
            comparison[selection["source"]] = name
        elif "train" in selection["files"]:
            comparison["train"] = selection["files"]["train"]
        correlation = figures.correlations(name)
        context.update(
            statistics=figures.statistics(name),
            heatmap=_heatmap(correlation),
            charts={
                "histogram": figures.histograms(sensor, {k: v for k, v in comparison.items() if v}),
                "scatter": {"sensor": sensor, "points": figures.sensor_vs_rul(name, sensor)},
            },
        )
    return render(request, "gan/explorer.html", context)


def _heatmap(correlation: dict) -> dict:
    """Table cells coloured by sign and strength: green positive, red negative."""
    columns = correlation["columns"]
    rows = []
    for name, values in zip(columns, correlation["matrix"], strict=True):
        cells = []
        for column, value in zip(columns, values, strict=True):
            rgb = "16, 185, 129" if value >= 0 else "239, 68, 68"
            cells.append({"column": column, "value": value, "colour": f"rgba({rgb}, {abs(value):.2f})"})
        rows.append({"name": name, "cells": cells})
    return {"columns": columns, "rows": rows}


@role_required()
def explorer_export(request):
    selection = _explorer_selection(request)
    if not selection["file"]:
        raise Http404("Nothing to export: this machine has no such data yet.")
    label = (
        selection["source"]
        if selection["source"] == "seed"
        else f"{selection['source']}_{selection['dataset'].pk}"
    )
    response = StreamingHttpResponse(figures.csv_rows(selection["file"]), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{selection["machine"].machine_id}_{label}.csv"'
    return response


# --- Batch operations ----------------------------------------------------------------------------------


@role_required()
def batch(request):
    if request.method == "POST":
        selected = request.POST.getlist("machines")
        machines = list(Machine.objects.filter(machine_id__in=selected))
        try:
            job = batch_start(
                operation=request.POST.get("operation", ""), machines=machines, user=request.user
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(map(str, errs))}" for field, errs in exc.detail.items())
            messages.error(request, problems)
        except APIException as exc:
            messages.error(request, str(exc.detail))
        else:
            skipped = len(job.params.get("skipped", {}))
            note = f" ({skipped} skipped: see below)" if skipped else ""
            messages.success(
                request, f"{OPERATIONS[job.params['operation']]}: batch job {job.pk} started{note}."
            )
            return redirect(f"{reverse('gan:batch')}?job={job.pk}")
        return redirect("gan:batch")
    batch_job = None
    if request.GET.get("job", "").isdigit():
        batch_job = Job.objects.filter(pk=request.GET["job"], kind=Job.Kind.BATCH).first()
    context = {
        "rows": fleet_synthetic_overview(),
        "operations": OPERATIONS,
        "batch_job": batch_job,
        "children": list(batch_job.children.select_related("machine").order_by("pk")) if batch_job else [],
        "recent": Job.objects.filter(kind=Job.Kind.BATCH).select_related("requested_by")[:10],
    }
    if request.htmx and request.GET.get("part") == "status":
        return render(request, "gan/_batch_status.html", context)
    return render(request, "gan/batch.html", context)
