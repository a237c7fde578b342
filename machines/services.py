"""Every write to the fleet catalogue. Profiles are validated here, so no path can skip the rules."""

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from rest_framework.exceptions import ValidationError

from machines.caching import list_cache_invalidate
from machines.models import Machine, MachineCategory, MachineSensor, ProfileVersion, SensorSpec
from machines.profile_formats import profile_diff
from machines.selectors import fleet_document, machine_profile
from machines.serializers import CategorySerializer, machine_id_free, profile_validate
from machines.signals import machine_deleted

logger = logging.getLogger(__name__)


class CatalogueConflict(Exception):
    """The write is valid but the catalogue's state forbids it (a category still in use)."""


def catalogue_changed() -> None:
    """Drop the cached lists and pages of the catalogue, now and again after commit (pdm_site.versions)."""
    list_cache_invalidate()


@transaction.atomic
def machine_create(*, profile, user, note: str = "Created") -> Machine:
    """Validate the profile document and create the machine (and its category when the type is new)."""
    document = profile_validate(profile)
    machine = Machine(created_by=user if user and user.is_authenticated else None)
    _profile_apply(machine, document)
    try:
        with transaction.atomic():
            machine.save()
    except IntegrityError as exc:
        # Another request created the same machine_id since validation.
        raise ValidationError(
            {
                "machine_id": [
                    f'"{machine.machine_id}" already exists — choose another machine_id, '
                    f'e.g. "{machine_id_free(machine.machine_id)}"'
                ]
            }
        ) from exc
    _sensors_replace(machine, document["sensors"])
    _version_write(machine, document, user, note)
    catalogue_changed()
    return machine


@transaction.atomic
def machine_update(*, machine: Machine, profile, user, note: str = "Edited") -> Machine:
    """Validate the new profile document and apply it; an unchanged document writes no version."""
    machine = Machine.objects.select_for_update().select_related("category").get(pk=machine.pk)
    document = profile_validate(profile, machine=machine)
    if document == machine_profile(machine):
        return machine
    _profile_apply(machine, document)
    machine.save()
    _sensors_replace(machine, document["sensors"])
    _version_write(machine, document, user, note)
    catalogue_changed()
    return machine


def profile_merge(current: dict, changes: Mapping) -> dict:
    """The current profile with some top-level fields replaced (a partial edit)."""
    merged = {**current, **changes}
    # A new machine_type brings its own RUL profile (or its category's): the old one must not follow.
    if merged["machine_type"] != current["machine_type"] and "rul" not in changes:
        merged.pop("rul")
    return merged


@transaction.atomic
def profile_version_restore(*, version: ProfileVersion, user) -> Machine:
    """Make an earlier profile document current again, as a new version."""
    document = dict(version.document)
    # The RUL profile belongs to the category (admins may have edited it since): keep today's.
    if MachineCategory.objects.filter(name=document.get("machine_type")).exists():
        document.pop("rul", None)
    return machine_update(
        machine=version.machine, profile=document, user=user, note=f"Restored v{version.number}"
    )


@transaction.atomic
def machine_set_active(*, machine: Machine, active: bool, user) -> Machine:
    if machine.is_active != active:
        machine.is_active = active
        machine.save(update_fields=["is_active", "updated_at"])
        logger.info("machine %s %s by %s", machine.machine_id, "activated" if active else "deactivated", user)
        catalogue_changed()
    return machine


@transaction.atomic
def machine_delete(*, machine: Machine, user) -> None:
    """Delete the machine and its history; `machine_deleted` lets other apps remove its files."""
    machine_pk, machine_id = machine.pk, machine.machine_id
    try:
        machine.delete()
    except ProtectedError as exc:
        raise CatalogueConflict(
            f"{machine_id} is still referenced by {len(exc.protected_objects)} records"
        ) from exc
    logger.info("machine %s deleted by %s", machine_id, user)
    transaction.on_commit(
        lambda: machine_deleted.send(sender=Machine, machine_pk=machine_pk, machine_id=machine_id)
    )
    catalogue_changed()


def _profile_apply(machine: Machine, document: dict) -> None:
    machine.machine_id = document["machine_id"]
    machine.category = _category_for(document)
    machine.manufacturer = document["manufacturer"]
    machine.model = document["model"]
    machine.location = document["location"]
    machine.operational_parameters = document["operational_parameters"]


def _category_for(document: dict) -> MachineCategory:
    """The profile's category; a new machine_type creates it from the profile's rul block and sensors."""
    category = MachineCategory.objects.filter(name=document["machine_type"]).first()
    if category is not None:
        return category
    rul = document["rul"]
    try:
        with transaction.atomic():
            category = MachineCategory.objects.create(
                name=document["machine_type"],
                max_rul_hours=rul["max_rul"],
                cycles=rul["cycles"],
                degradation_pattern=rul["degradation_pattern"],
                rul_noise_hours=rul["noise"],
                failure_modes=rul["failure_modes"],
                description=f"Created with the profile of {document['machine_id']}.",
            )
    except IntegrityError:
        # Created by a concurrent request since validation: use that one.
        return MachineCategory.objects.get(name=document["machine_type"])
    _category_sensors_replace(category, document["sensors"])
    return category


def _sensor_fields(sensor: dict, order: int) -> dict:
    return {
        "name": sensor["name"],
        "unit": sensor["unit"],
        "description": sensor["description"],
        "base": sensor["base"],
        "range": sensor["range"],
        "noise": sensor["noise"],
        "order": order,
    }


def _sensors_replace(machine: Machine, sensors: list[dict]) -> None:
    machine.sensors.all().delete()
    MachineSensor.objects.bulk_create(
        MachineSensor(machine=machine, **_sensor_fields(sensor, order))
        for order, sensor in enumerate(sensors)
    )


def _category_sensors_replace(category: MachineCategory, sensors: list[dict]) -> None:
    category.sensors.all().delete()
    SensorSpec.objects.bulk_create(
        SensorSpec(category=category, **_sensor_fields(sensor, order)) for order, sensor in enumerate(sensors)
    )


def _version_write(machine: Machine, document: dict, user, note: str) -> ProfileVersion:
    previous = machine.versions.order_by("-number").first()
    number = previous.number + 1 if previous else 1
    diff = profile_diff(previous.document, document, f"v{previous.number}", f"v{number}") if previous else ""
    return ProfileVersion.objects.create(
        machine=machine,
        number=number,
        document=document,
        diff=diff,
        note=note,
        author=user if user and user.is_authenticated else None,
    )


# --- Categories (admins) --------------------------------------------------------------------------


@transaction.atomic
def category_create(*, data: dict, user) -> MachineCategory:
    """Create a category from a document {name, max_rul, cycles, degradation_pattern, noise, sensors, …}."""
    serializer = CategorySerializer(data=data)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    sensors = fields.pop("sensors")
    category = MachineCategory.objects.create(**fields)
    _category_sensors_replace(category, sensors)
    logger.info("category %s created by %s", category.name, user)
    catalogue_changed()
    return category


@transaction.atomic
def category_update(*, category: MachineCategory, data: dict, user, partial: bool = False) -> MachineCategory:
    serializer = CategorySerializer(category, data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    sensors = fields.pop("sensors", None)
    for name, value in fields.items():
        setattr(category, name, value)
    category.save()
    if sensors is not None:
        _category_sensors_replace(category, sensors)
    logger.info("category %s updated by %s", category.name, user)
    catalogue_changed()
    return category


@transaction.atomic
def category_delete(*, category: MachineCategory, user) -> None:
    in_use = category.machines.count()
    if in_use:
        raise CatalogueConflict(
            f'"{category.name}" is the type of {in_use} machine(s) — move or delete them first'
        )
    category.delete()
    logger.info("category %s deleted by %s", category.name, user)
    catalogue_changed()


# --- Demo fleet -----------------------------------------------------------------------------------


@transaction.atomic
def fleet_load() -> dict[str, int]:
    """Create the demo fleet's missing categories and machines; what exists (maybe edited) stays as it is."""
    fleet = fleet_document()
    existing_categories = set(MachineCategory.objects.values_list("name", flat=True))
    existing_machines = set(Machine.objects.values_list("machine_id", flat=True))
    created = {"categories": 0, "machines": 0}
    for name, block in fleet["categories"].items():
        if name not in existing_categories:
            category_create(data={"name": name, **block}, user=None)
            created["categories"] += 1
    for profile in fleet["machines"]:
        if profile["machine_id"] not in existing_machines:
            machine_create(profile=profile, user=None, note="Demo fleet")
            created["machines"] += 1
    return created
