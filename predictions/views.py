"""Pages: the live fleet dashboard, a machine's health, the model registry, real-data upload and mapping.

Thin: each page reads through the selectors and writes through the services, like the API.
"""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import APIException, ValidationError

from accounts.decorators import role_required
from accounts.roles import Role, has_role
from gan.models import Job
from gan.selectors import active_jobs
from machines.models import Machine, MachineCategory
from pdm_site import versions
from predictions import selectors
from predictions.models import Kind, MappingPreset, ModelVersion, RealDataset
from predictions.serializers import FleetFilterSerializer, headline
from predictions.services import ingestion, training
from predictions.services.models import FLEET_KINDS, KINDS, active_versions, model_activate, model_rollback
from predictions.services.serving import machine_refresh

FLEET_PAGE_SIZE = 24
HISTORY_PAGE_SIZE = 25
CHART_POINTS = 200
CARD_SECONDS = 300
FLEET_PAGE_SECONDS = 300
DASHBOARD_SORTS = [
    ("state", "Worst first"),
    ("rul", "Soonest failure"),
    ("updated", "Latest update"),
    ("name", "Name"),
]
EXPLAIN_TEMPLATES = ["assistant/_explain.html", "predictions/_explain.html"]


def _problems(exc: APIException) -> list[str]:
    """A service's refusal as lines for the page ("plan.time_column: column 'x' is not in the file")."""
    if isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
        return [f"{field}: {' '.join(str(m) for m in problems)}" for field, problems in exc.detail.items()]
    return [str(exc.detail)]


def _flash_problems(request, exc: APIException) -> None:
    for line in _problems(exc):
        messages.error(request, line)


# --- The fleet dashboard ---------------------------------------------------------------------------------


def _filters(request) -> dict:
    """The API's filters; on the page, a value the API would refuse falls back to its default."""
    filters = FleetFilterSerializer(data=request.GET)
    if not filters.is_valid():
        kept = {name: value for name, value in request.GET.items() if name not in filters.errors}
        filters = FleetFilterSerializer(data=kept)
        filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


def _fleet_context(request, filters: dict) -> dict:
    machines = selectors.fleet_machines(**filters)
    page = Paginator(machines, FLEET_PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {
        key: value for key, value in filters.items() if value and not (key == "sort" and value == "state")
    }
    return {
        "overview": selectors.fleet_overview(),
        "page": page,
        "filters": filters,
        "query": urlencode(kept),
        "query_without_state": urlencode({k: v for k, v in kept.items() if k != "state"}),
    }


def machine_cards(machines) -> list[str]:
    """Each machine's dashboard card, rendered once per change of the machine or its health row (the fleet
    moves a few cards at a time): a page reads the machines' versions, its cards from the cache in one round
    trip, and whole machine rows only for the cards that changed."""
    keys = {
        version[0]: "machine-card:" + ":".join(str(part) for part in version)
        for version in selectors.machine_card_versions(machines)
    }
    cards = cache.get_many(list(keys.values()))
    changed = [pk for pk, key in keys.items() if key not in cards]
    if changed:
        rendered = {
            keys[pk]: render_to_string("predictions/_machine_card.html", {"machine": machine})
            for pk, machine in selectors.card_machines(changed).items()
        }
        cache.set_many(rendered, CARD_SECONDS)
        cards |= rendered
    # A machine deleted meanwhile has no card.
    return [cards[key] for key in keys.values() if key in cards]


def _fleet_html(request, template: str) -> str:
    """The fleet part of the dashboard for this query (overview, filters, grid, pages), rendered once per
    change of the fleet (its version token) and shared by every viewer: it holds nothing personal."""

    def render_fleet() -> str:
        context = _fleet_context(request, _filters(request))
        context["cards"] = machine_cards(context["page"].object_list)
        context.update(
            categories=MachineCategory.objects.filter(machines__is_active=True).distinct().order_by("name"),
            sorts=DASHBOARD_SORTS,
            states=[(card.key, card.label) for card in context["overview"]["cards"]],
        )
        return render_to_string(template, context)

    key = f"page:{template}:{request.GET.urlencode()}"
    return versions.cached(selectors.FLEET, key, render_fleet, seconds=FLEET_PAGE_SECONDS)


@role_required()
@require_GET
def dashboard(request):
    if request.htmx and request.htmx.target == "fleet":
        return HttpResponse(_fleet_html(request, "predictions/_fleet.html"))
    # Training jobs move every epoch: read live, outside the fleet's cached part.
    jobs = active_jobs(Job.Kind.MODEL_TRAINING, limit=3)
    context = {"fleet": _fleet_html(request, "predictions/_dashboard_fleet.html"), "jobs": jobs}
    return render(request, "predictions/dashboard.html", context)


@role_required()
@require_GET
def fleet_card(request, machine_id):
    cards = machine_cards(Machine.objects.filter(machine_id=machine_id))
    if not cards:
        raise Http404(f"No machine {machine_id}.")
    return HttpResponse(cards[0])


@role_required()
@require_GET
def fleet_overview(request):
    return HttpResponse(_fleet_html(request, "predictions/_overview.html"))


# --- A machine's health ----------------------------------------------------------------------------------


def _chart_data(machine: Machine, latest: dict) -> dict:
    """The health page's charts; the forecast is the newest one, already in `latest`."""
    readings = selectors.machine_readings(machine, limit=CHART_POINTS)
    sensors = list(machine.sensors.values_list("name", "unit", named=True))
    rul = selectors.machine_prediction_series(machine, Kind.RUL, limit=CHART_POINTS)
    anomaly = selectors.machine_prediction_series(machine, Kind.ANOMALY, limit=CHART_POINTS)
    forecast = latest.get(Kind.FORECAST)
    return {
        "sensors": [{"name": s.name, "unit": s.unit} for s in sensors],
        "readings": {
            "t": [r.timestamp.isoformat() for r in readings],
            "values": {s.name: [r.values.get(s.name) for r in readings] for s in sensors},
        },
        "rul": [
            {
                "t": p.created_at.isoformat(),
                "rul": p.result.get("rul"),
                "lower": p.result.get("lower"),
                "upper": p.result.get("upper"),
            }
            for p in rul
        ],
        "rul_unit": rul[-1].result.get("unit", "") if rul else "",
        "anomaly": [
            {
                "t": p.created_at.isoformat(),
                "score": p.result.get("normalized_score"),
                "flag": bool(p.result.get("is_anomaly")),
            }
            for p in anomaly
        ],
        "forecast": forecast.result if forecast else None,
    }


@role_required()
@require_GET
def machine_health(request, machine_id):
    machine = get_object_or_404(Machine.objects.select_related("category", "health"), machine_id=machine_id)
    history = Paginator(selectors.machine_predictions(machine), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    versions = active_versions([machine], KINDS)
    latest = selectors.machine_latest_predictions(machine)
    context = {
        "machine": machine,
        # No health row before the machine's first prediction: reading `machine.health` then raises.
        "health": getattr(machine, "health", None),
        "latest": latest,
        "vision": selectors.machine_latest_vision(machine),
        "chart_data": _chart_data(machine, latest),
        "history": history,
        "serving": [(kind, versions.get((machine.pk, kind))) for kind in KINDS],
        "explain_templates": EXPLAIN_TEMPLATES,
    }
    return render(request, "predictions/machine_health.html", context)


@role_required(read=Role.OPERATOR)
@require_POST
def machine_predict(request, machine_id):
    machine = get_object_or_404(Machine, machine_id=machine_id)
    if machine_refresh(machine.pk) is None:
        messages.error(request, f"{machine.machine_id} is inactive: activate it first.")
    else:
        messages.success(request, "Predictions refreshed from the latest readings.")
    return redirect("predictions:machine_health", machine_id=machine.machine_id)


# --- Models ------------------------------------------------------------------------------------------------


@role_required()
@require_GET
def models(request):
    kind = request.GET.get("kind", "")
    versions = selectors.model_version_list().order_by(
        "kind", "category__name", "machine__machine_id", "-version"
    )
    if kind in KINDS:
        versions = versions.filter(kind=kind)
    if request.GET.get("active") == "1":
        versions = versions.filter(is_active=True)
    page = Paginator(versions, 50).get_page(request.GET.get("page"))
    rows = [(version, headline(version)) for version in page]
    context = {
        "page": page,
        "rows": rows,
        "kind": kind,
        "kinds": Kind.choices,
        "fleet_kinds": FLEET_KINDS,
        "sources": ModelVersion.Source.choices[:2],
        "categories": MachineCategory.objects.order_by("name"),
        "machines": Machine.objects.order_by("machine_id").values_list("machine_id", flat=True),
        "jobs": selectors.training_jobs(limit=5),
    }
    return render(request, "predictions/models.html", context)


def _confusion(matrix, names: list[str]) -> list[dict]:
    """Each row (a true class) with its cells' counts and shares of the row, for shading."""
    rows = []
    for name, row in zip(names, matrix or [], strict=False):
        total = sum(row) or 1
        rows.append({"label": name, "cells": [{"count": n, "share": round(n / total, 3)} for n in row]})
    return rows


@role_required()
@require_GET
def model_detail(request, pk):
    version = get_object_or_404(selectors.model_version_list(), pk=pk)
    metrics = version.metrics or {}
    names = metrics.get("state_names") or ["No failure", "Failure"]
    context = {
        "version": version,
        "headline": headline(version),
        "siblings": selectors.model_scope_versions(version).order_by("-version"),
        "confusion": _confusion(metrics.get("confusion_matrix"), names),
        "state_names": names,
        "chart_data": {"kind": version.kind, "metrics": metrics, "importance": version.feature_importance},
        "pretty_params": json.dumps(version.params, indent=1),
    }
    return render(request, "predictions/model_detail.html", context)


@role_required(read=Role.ADMIN, write=Role.ADMIN)
@require_POST
def model_activate_page(request, pk):
    version = model_activate(version=get_object_or_404(ModelVersion, pk=pk), user=request.user)
    messages.success(request, f"{version} is active.")
    return redirect("predictions:model_detail", pk=version.pk)


@role_required(read=Role.ADMIN, write=Role.ADMIN)
@require_POST
def model_rollback_page(request, pk):
    version = get_object_or_404(ModelVersion, pk=pk)
    try:
        active = model_rollback(version=version, user=request.user)
    except APIException as exc:
        _flash_problems(request, exc)
        return redirect("predictions:model_detail", pk=version.pk)
    messages.success(request, f"Rolled back: {active} is active.")
    return redirect("predictions:model_detail", pk=active.pk)


@role_required(read=Role.OPERATOR)
@require_POST
def model_retrain_page(request, pk):
    version = get_object_or_404(ModelVersion.objects.select_related("machine", "category"), pk=pk)
    try:
        job = training.model_retrain(version=version, user=request.user)
    except APIException as exc:
        _flash_problems(request, exc)
    else:
        messages.success(request, f"Training job {job.pk} started: {job.message}.")
    return redirect("predictions:models")


@role_required(read=Role.OPERATOR)
@require_POST
def model_train(request):
    """The models page's training form: scope "category:<name>" or "machine:<machine_id>", kinds, source."""
    scope_kind, _, name = request.POST.get("scope", "").partition(":")
    machine = Machine.objects.filter(machine_id=name).first() if scope_kind == "machine" else None
    category = MachineCategory.objects.filter(name=name).first() if scope_kind == "category" else None
    try:
        if machine is None and category is None:
            raise ValidationError({"scope": ["choose a category or a machine"]})
        job = training.training_start(
            kinds=request.POST.getlist("kinds"),
            source=request.POST.get("source", ModelVersion.Source.SEED),
            machine=machine,
            category=category,
            user=request.user,
        )
    except APIException as exc:
        _flash_problems(request, exc)
    else:
        messages.success(request, f"Training job {job.pk} started: {job.message}.")
    return redirect("predictions:models")


# --- Real data ------------------------------------------------------------------------------------------


def _upload_context(request, errors=None) -> dict:
    return {
        "datasets": Paginator(selectors.real_dataset_list(), 25).get_page(request.GET.get("page")),
        "machines": Machine.objects.order_by("machine_id").values_list("machine_id", flat=True),
        "presets": selectors.preset_list(),
        "errors": errors or [],
        "max_bytes": settings.PREDICTIONS_UPLOAD_MAX_BYTES,
        "form": request.POST if request.method == "POST" else {},
    }


@role_required()
def real_data(request):
    """The list of uploads and the upload form (POST: operators)."""
    if request.method != "POST":
        return render(request, "predictions/real_data.html", _upload_context(request))
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.PREDICTIONS_UPLOAD_MAX_BYTES + ingestion.MULTIPART_OVERHEAD:
        errors = [f"file: {ingestion.upload_too_large(length)}"]
        return render(request, "predictions/real_data.html", _upload_context(request, errors), status=413)
    machine = Machine.objects.filter(machine_id=request.POST.get("machine", "")).first()
    preset = MappingPreset.objects.filter(name=request.POST.get("preset", "")).first()
    upload = request.FILES.get("file")
    try:
        if machine is None:
            raise ValidationError({"machine": ["choose the machine the data belongs to"]})
        if upload is None:
            raise ValidationError({"file": ["choose a file"]})
        dataset = ingestion.dataset_upload(machine=machine, upload=upload, preset=preset, user=request.user)
    except APIException as exc:
        return render(
            request, "predictions/real_data.html", _upload_context(request, _problems(exc)), status=400
        )
    messages.success(request, f"{dataset.name} uploaded: analysing it (job {dataset.job_id}).")
    return redirect("predictions:real_dataset", pk=dataset.pk)


def _column_rows(dataset: RealDataset) -> list[dict]:
    """One row per file column for the mapping form: its statistics, proposal and current role."""
    plan = dataset.plan or {}
    detected = {c["name"]: c for c in dataset.proposal.get("detected", {}).get("columns", [])}
    candidates = (dataset.proposal.get("mapping") or {}).get("candidates", {})
    names = plan.get("columns") or dataset.file_info.get("columns", [])
    sensors = plan.get("sensors", {})
    return [
        {
            "index": index,
            "name": name,
            "stats": detected.get(name, {}),
            "sensor": sensors.get(name, ""),
            "used": name in sensors,
            "categorical": name in plan.get("categorical", []),
            "candidates": candidates.get(name, []),
        }
        for index, name in enumerate(names)
    ]


def _plan_from_form(dataset: RealDataset, form) -> dict:
    """The plan the mapping form describes; columns and derived channels are kept from the current plan."""
    names = (dataset.plan or {}).get("columns") or dataset.file_info.get("columns", [])
    sensors, categorical = {}, []
    for index, name in enumerate(names):
        if form.get(f"use_{index}"):
            sensors[name] = form.get(f"sensor_{index}", "").strip()
        if form.get(f"categorical_{index}"):
            categorical.append(name)
    return {
        "columns": (dataset.plan or {}).get("columns"),
        "sensors": sensors,
        "categorical": categorical,
        "derived": (dataset.plan or {}).get("derived", []),
        "time_column": form.get("time_column") or None,
        "time_kind": form.get("time_kind") or None,
        "run_column": form.get("run_column") or None,
        "target_kind": form.get("target_kind") or None,
        "target_column": form.get("target_column", "").strip() or None,
        "rul_unit": form.get("rul_unit", "").strip() or None,
    }


@role_required()
def real_dataset(request, pk):
    """The mapping page: detection, mapping form, cleaning report, preparation, training (POST confirms)."""
    dataset = get_object_or_404(selectors.real_dataset_list(), pk=pk)
    errors = []
    if request.method == "POST":
        try:
            ingestion.dataset_confirm(
                dataset=dataset, plan=_plan_from_form(dataset, request.POST), user=request.user
            )
        except APIException as exc:
            errors = _problems(exc)
        else:
            messages.success(request, "Mapping confirmed: preparing the training data.")
            return redirect("predictions:real_dataset", pk=dataset.pk)
    machine_sensors = list(dataset.machine.sensors.values_list("name", flat=True))
    context = {
        "dataset": dataset,
        "errors": errors,
        "columns": _column_rows(dataset),
        "machine_sensors": machine_sensors,
        "foreign_sensors": sorted(
            set((dataset.plan or {}).get("sensors", {}).values()) - set(machine_sensors)
        ),
        "presets": selectors.preset_list(),
        "job": dataset.job,
        "target_kinds": RealDataset.Target.choices,
        "trainable": dataset.trainable_kinds,
        "models": dataset.model_versions.order_by("kind", "-version"),
        "can_operate": has_role(request.user, Role.OPERATOR),
    }
    return render(request, "predictions/real_dataset.html", context, status=400 if errors else 200)


@role_required(read=Role.OPERATOR)
@require_POST
def real_dataset_reanalyse(request, pk):
    dataset = get_object_or_404(RealDataset, pk=pk)
    preset = MappingPreset.objects.filter(name=request.POST.get("preset", "")).first()
    try:
        ingestion.dataset_reanalyse(dataset=dataset, preset=preset, user=request.user)
    except APIException as exc:
        _flash_problems(request, exc)
    else:
        messages.success(request, f"Analysing again {'with ' + preset.name if preset else 'with detection'}.")
    return redirect("predictions:real_dataset", pk=dataset.pk)


@role_required(read=Role.OPERATOR)
@require_POST
def real_dataset_train(request, pk):
    dataset = get_object_or_404(RealDataset.objects.select_related("machine__category"), pk=pk)
    by_category = request.POST.get("scope") == "category"
    try:
        job = training.training_start(
            kinds=request.POST.getlist("kinds"),
            source=ModelVersion.Source.REAL,
            machine=None if by_category else dataset.machine,
            category=dataset.machine.category if by_category else None,
            real_dataset=dataset,
            user=request.user,
        )
    except APIException as exc:
        _flash_problems(request, exc)
    else:
        messages.success(request, f"Training job {job.pk} started: {job.message}.")
    return redirect(reverse("predictions:real_dataset", args=[dataset.pk]) + "#training")


@role_required(read=Role.OPERATOR)
@require_POST
def real_dataset_preset(request, pk):
    """Save the dataset's confirmed plan as a preset."""
    dataset = get_object_or_404(RealDataset, pk=pk)
    try:
        preset = ingestion.preset_create(
            name=request.POST.get("name", "").strip(),
            plan=dataset.plan,
            description=request.POST.get("description", "").strip(),
            user=request.user,
        )
    except APIException as exc:
        _flash_problems(request, exc)
    else:
        messages.success(request, f"Preset {preset.name} saved.")
    return redirect("predictions:real_dataset", pk=dataset.pk)
