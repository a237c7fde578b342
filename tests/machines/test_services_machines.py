"""Machine writes: versions with diffs, restore, new categories, activation, deletion and its event."""

import pytest
from rest_framework.exceptions import ValidationError

from machines.models import Machine, MachineCategory, ProfileVersion
from machines.selectors import machine_profile
from machines.services import (
    machine_create,
    machine_delete,
    machine_set_active,
    machine_update,
    profile_merge,
    profile_version_restore,
)
from machines.signals import machine_deleted


def test_create_writes_the_machine_its_sensors_and_version_1(motor_profile, operator):
    machine = machine_create(profile=motor_profile, user=operator)
    assert (machine.category.name, machine.manufacturer, machine.created_by) == ("motor", "ACME", operator)
    assert [sensor.name for sensor in machine.sensors.all()] == [s["name"] for s in motor_profile["sensors"]]
    (version,) = machine.versions.all()
    assert (version.number, version.author, version.note, version.diff) == (1, operator, "Created", "")
    assert version.document == machine_profile(machine)


def test_an_invalid_profile_creates_nothing(motor_profile, operator):
    motor_profile["sensors"][0]["unit"] = ""
    with pytest.raises(ValidationError):
        machine_create(profile=motor_profile, user=operator)
    assert not Machine.objects.exists()
    assert not ProfileVersion.objects.exists()


def test_a_new_type_creates_its_category_from_the_profile(chiller_profile, operator):
    machine = machine_create(profile=chiller_profile, user=operator)
    category = MachineCategory.objects.get(name="chiller")
    assert machine.category == category
    assert (category.max_rul_hours, category.cycles, category.rul_noise_hours) == (1400, 3, 20)
    assert category.failure_modes == ["refrigerant leak", "condenser fouling", "compressor bearing wear"]
    specs = list(category.sensors.values_list("name", "base", "range", "noise"))
    assert specs[0] == ("chilled_water_supply_temp_C", 7.0, 4.0, 0.2)
    assert len(specs) == 6


def test_a_second_machine_of_the_new_type_needs_no_rul_block(chiller_profile, operator):
    machine_create(profile=chiller_profile, user=operator)
    second = machine_create(
        profile={"machine_id": "chiller_acme_wc500_002", "machine_type": "chiller"}, user=operator
    )
    assert second.sensors.count() == 6


def test_edit_writes_a_version_with_a_readable_diff(make_machine, operator, admin_user):
    machine = make_machine(location="Hall 1")
    profile = machine_profile(machine)
    profile["location"] = "Hall 2"
    profile["sensors"][0]["noise"] = 0.7
    machine_update(machine=machine, profile=profile, user=admin_user, note="Moved")
    version = machine.versions.get(number=2)
    assert (version.author, version.note) == (admin_user, "Moved")
    lines = version.diff.splitlines()
    assert lines[:2] == ["--- v1", "+++ v2"]
    # Only what changed: documents read back from the database keep the profile's order.
    changes = [line for line in lines[2:] if line[:1] in "+-"]
    assert changes == ["-location: Hall 1", "+location: Hall 2", "-  noise: 0.5", "+  noise: 0.7"]
    machine.refresh_from_db()
    assert machine.location == "Hall 2"
    assert machine.sensors.get(name="bearing_de_temp_C").noise == 0.7


def test_an_unchanged_profile_writes_no_version(make_machine, operator):
    machine = make_machine()
    machine_update(machine=machine, profile=machine_profile(machine), user=operator)
    assert machine.versions.count() == 1


def test_edit_can_change_the_sensor_list(make_machine, operator):
    machine = make_machine()
    profile = machine_profile(machine)
    profile["sensors"] = [*profile["sensors"][:2], {"name": "oil_level_pct", "unit": "%"}]
    machine_update(machine=machine, profile=profile, user=operator)
    assert list(machine.sensors.values_list("name", flat=True)) == [
        "bearing_de_temp_C",
        "winding_temp_C",
        "oil_level_pct",
    ]


def test_restore_makes_an_old_version_current_as_a_new_version(make_machine, operator):
    machine = make_machine(location="Hall 1")
    for location in ("Hall 2", "Hall 3"):
        machine_update(
            machine=machine, profile={**machine_profile(machine), "location": location}, user=operator
        )
    profile_version_restore(version=machine.versions.get(number=1), user=operator)
    machine.refresh_from_db()
    assert machine.location == "Hall 1"
    latest = machine.versions.order_by("-number").first()
    assert (latest.number, latest.note) == (4, "Restored v1")
    assert "+location: Hall 1" in latest.diff.splitlines()
    assert latest.document == machine.versions.get(number=1).document


def test_restore_keeps_the_categorys_current_rul_profile(make_machine, operator):
    machine = make_machine(location="Hall 1")
    machine_update(machine=machine, profile={**machine_profile(machine), "location": "Hall 2"}, user=operator)
    MachineCategory.objects.filter(name="motor").update(max_rul_hours=1200)
    profile_version_restore(version=machine.versions.get(number=1), user=operator)
    latest = machine.versions.order_by("-number").first()
    assert latest.document["rul"]["max_rul"] == 1200
    assert latest.document["location"] == "Hall 1"


def test_partial_edit_to_another_type_drops_the_old_rul_block(make_machine, chiller_profile, operator):
    machine_create(profile=chiller_profile, user=operator)
    machine = make_machine()
    merged = profile_merge(machine_profile(machine), {"machine_type": "chiller"})
    assert "rul" not in merged
    machine_update(machine=machine, profile=merged, user=operator)
    machine.refresh_from_db()
    assert machine.category.name == "chiller"


def test_activation(make_machine, operator):
    machine = make_machine()
    machine_set_active(machine=machine, active=False, user=operator)
    assert Machine.objects.get(pk=machine.pk).is_active is False
    assert machine.versions.count() == 1  # not part of the profile


def test_delete_announces_the_event_after_commit(
    make_machine, admin_user, django_capture_on_commit_callbacks
):
    machine = make_machine()
    machine_pk = machine.pk
    received = []

    def on_deleted(sender, machine_pk, machine_id, **kwargs):
        received.append((sender, machine_pk, machine_id))

    machine_deleted.connect(on_deleted)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            machine_delete(machine=machine, user=admin_user)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        machine_deleted.disconnect(on_deleted)
    assert received == [(Machine, machine_pk, "motor_test_001")]
    assert not Machine.objects.filter(machine_id="motor_test_001").exists()
    assert not ProfileVersion.objects.exists()
