"""The model registry: which version serves a machine, loading it, activating and rolling back."""

import json
import math

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import APIException

from machines.models import Machine, MachineCategory
from pdm_site.api import Conflict
from pdm_site.tables import ProcessTable
from predictions.files import local_model_path
from predictions.ml import ModelCache, ModelLoadError
from predictions.models import Kind, ModelVersion

# The core names the health-state classifier "classification"; the product calls that kind "health".
CORE_KIND = {
    Kind.HEALTH: "classification",
    Kind.RUL: "rul",
    Kind.ANOMALY: "anomaly",
    Kind.FORECAST: "forecast",
    Kind.FAILURE: "failure",
}
# What a fleet refresh and a batch predict by default: the four kinds of SPEC §4.
FLEET_KINDS = (Kind.HEALTH, Kind.RUL, Kind.ANOMALY, Kind.FORECAST)
KINDS = tuple(Kind.values)

_cache: ModelCache | None = None


class ModelUnavailable(APIException):
    """The active model's file no longer loads (missing, or made with other library versions)."""

    status_code = 424
    default_code = "model_unavailable"

    def __init__(self, version: ModelVersion, reason: str):
        self.version = version
        self.reason = reason
        super().__init__(
            f"The {version.kind} model v{version.version} of {version.scope_label} cannot be used: {reason}. "
            f"Retrain it (POST /api/v1/models/{version.pk}/retrain/) or activate another version."
        )


def model_cache() -> ModelCache:
    """This process's LRU of loaded models (the core's cache, sized by PREDICTIONS_CACHED_MODELS)."""
    global _cache
    if _cache is None:
        _cache = ModelCache(max_models=settings.PREDICTIONS_CACHED_MODELS)
    return _cache


def model_load(version: ModelVersion):
    """The loaded predictor of a version, cached; ModelUnavailable (→ retrain) when it cannot load."""
    try:
        return model_cache().get(local_model_path(version.file.name))
    except (ModelLoadError, FileNotFoundError, OSError) as exc:
        raise ModelUnavailable(version, getattr(exc, "reason", None) or str(exc)) from exc


def _load_active_table() -> dict[tuple[str, int, str], ModelVersion]:
    versions = ModelVersion.objects.filter(is_active=True).defer("metrics", "params", "training_data")
    return {
        ("machine" if v.machine_id else "category", v.machine_id or v.category_id, v.kind): v
        for v in versions
    }


# ("machine" | "category", pk, kind) → active version: serving reads no registry row per prediction.
active_table = ProcessTable("predictions-active-versions", _load_active_table)


def registry_changed() -> None:
    """Activations changed: every process reloads its table of active versions at its next prediction."""
    active_table.changed()


def active_versions(machines: list[Machine], kinds) -> dict[tuple[int, str], ModelVersion]:
    """(machine pk, kind) → the version serving it: the machine's own active model, else its category's."""
    table = active_table.get()
    serving = {}
    for machine in machines:
        for kind in kinds:
            version = table.get(("machine", machine.pk, kind)) or table.get(
                ("category", machine.category_id, kind)
            )
            if version is not None:
                serving[(machine.pk, kind)] = version
    return serving


def scope_versions(*, kind: str, machine: Machine | None = None, category: MachineCategory | None = None):
    return ModelVersion.objects.filter(kind=kind, machine=machine, category=category)


@transaction.atomic
def model_activate(*, version: ModelVersion, user=None) -> ModelVersion:
    """Make this version the one serving its kind and scope (admins)."""
    _lock_scope(version)
    scope_versions(kind=version.kind, machine=version.machine, category=version.category).filter(
        is_active=True
    ).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    registry_changed()
    return version


@transaction.atomic
def model_rollback(*, version: ModelVersion, user=None) -> ModelVersion:
    """Activate the version before this active one (admins); returns the version now active."""
    _lock_scope(version)
    version.refresh_from_db()
    if not version.is_active:
        raise Conflict(
            f"v{version.version} is not the active {version.kind} model: only that one rolls back."
        )
    earlier = (
        scope_versions(kind=version.kind, machine=version.machine, category=version.category)
        .filter(version__lt=version.version)
        .order_by("-version")
        .first()
    )
    if earlier is None:
        raise Conflict(f"v{version.version} is the first {version.kind} model of {version.scope_label}.")
    return model_activate(version=earlier, user=user)


def _lock_scope(version: ModelVersion) -> None:
    """Lock the scope's row so two activations of one kind and scope cannot interleave."""
    if version.machine_id:
        Machine.objects.select_for_update().get(pk=version.machine_id)
    else:
        MachineCategory.objects.select_for_update().get(pk=version.category_id)


def json_safe(value):
    """NaN and infinity become None (JSON and PostgreSQL's jsonb have no such numbers); numpy → Python.

    Most values are plain already: one strict C-speed dump tells, before walking anything.
    """
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError):
        return _json_clean(value)
    return value


def _json_clean(value):
    if isinstance(value, dict):
        return {str(key): _json_clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
