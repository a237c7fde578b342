"""Reads shared by the pages, the API and the admin."""

import copy
import functools
import json
from pathlib import Path

from django.db.models import Count, Prefetch, QuerySet

from machines.models import Machine, MachineCategory, MachineSensor, ProfileVersion

FLEET_DIR = Path(__file__).resolve().parent / "fleet"
FLEET_FILE = FLEET_DIR / "fleet.json"
TEMPLATES_FILE = FLEET_DIR / "templates.json"


def machine_list() -> QuerySet[Machine]:
    # Meta.ordering does not apply to aggregated queries: order explicitly.
    return (
        Machine.objects.select_related("category", "created_by")
        .annotate(sensor_count=Count("sensors"))
        .order_by("machine_id")
    )


def category_names() -> QuerySet:
    return MachineCategory.objects.order_by("name").values_list("name", flat=True)


def machine_detail_queryset() -> QuerySet[Machine]:
    return Machine.objects.select_related("category", "created_by").prefetch_related(
        Prefetch("sensors", queryset=MachineSensor.objects.order_by("order", "id"))
    )


def machine_profile(machine: Machine) -> dict:
    """The machine's normalised profile document, as the validator returns it and versions keep it."""
    return {
        "machine_id": machine.machine_id,
        "machine_type": machine.category.name,
        "manufacturer": machine.manufacturer,
        "model": machine.model,
        "location": machine.location,
        "operational_parameters": dict(sorted(machine.operational_parameters.items())),
        "sensors": [sensor.document() for sensor in machine.sensors.all()],
        "rul": machine.category.rul_block(),
    }


def machine_versions(machine: Machine) -> QuerySet[ProfileVersion]:
    return machine.versions.select_related("author").order_by("-number")


def machine_current_version(machine: Machine) -> int | None:
    return machine.versions.order_by("-number").values_list("number", flat=True).first()


def category_list() -> QuerySet[MachineCategory]:
    return (
        MachineCategory.objects.annotate(machine_count=Count("machines"))
        .prefetch_related("sensors")
        .order_by("name")
    )


def fleet_document() -> dict:
    """The demo fleet shipped with the product: 11 categories with their sensors, 32 machines."""
    return json.loads(FLEET_FILE.read_text())


@functools.cache
def _templates() -> dict:
    return json.loads(TEMPLATES_FILE.read_text())


def profile_template_names() -> list[str]:
    return list(_templates())


def profile_template(name: str) -> dict:
    """{title, description, profile} of a downloadable template; KeyError for an unknown name."""
    return copy.deepcopy(_templates()[name])
