"""The back office: the same profile rules, versions on save, bulk actions, read-only versions."""

import json

import pytest

from machines.models import Machine, MachineCategory, ProfileVersion
from machines.selectors import machine_profile
from machines.services import machine_update
from machines.signals import machine_deleted


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def machine_form(machine: Machine, **changes) -> dict:
    """The admin change form's POST data for `machine`, with its sensor rows as they are."""
    sensors = list(machine.sensors.all())
    data = {
        "category": machine.category_id,
        "manufacturer": machine.manufacturer,
        "model": machine.model,
        "location": machine.location,
        "operational_parameters": json.dumps(machine.operational_parameters),
        "is_active": "on" if machine.is_active else "",
        "sensors-TOTAL_FORMS": len(sensors),
        "sensors-INITIAL_FORMS": len(sensors),
        "sensors-MIN_NUM_FORMS": 0,
        "sensors-MAX_NUM_FORMS": 1000,
    }
    for index, sensor in enumerate(sensors):
        for field in ("id", "order", "name", "unit", "description", "base", "range", "noise"):
            data[f"sensors-{index}-{field}"] = getattr(sensor, field)
        data[f"sensors-{index}-machine"] = machine.pk
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_admin_edit_is_validated_as_a_profile(admin_client, make_machine):
    machine = make_machine()
    url = f"/admin/machines/machine/{machine.pk}/change/"
    response = admin_client.post(url, machine_form(machine, **{"sensors-1-unit": ""}))
    assert response.status_code == 200
    assert "sensors[1].unit: temperature sensors need a unit — add &quot;unit&quot;: &quot;C&quot;" in (
        response.content.decode()
    )
    assert machine.versions.count() == 1


def test_admin_edit_saves_a_version(admin_client, make_machine, admin_user):
    machine = make_machine()
    url = f"/admin/machines/machine/{machine.pk}/change/"
    response = admin_client.post(url, machine_form(machine, location="Hall 7", **{"sensors-0-noise": "0.9"}))
    assert response.status_code == 302
    version = machine.versions.get(number=2)
    assert (version.author, version.note) == (admin_user, "Edited in the admin")
    assert "+location: Hall 7" in version.diff.splitlines()
    assert Machine.objects.get(pk=machine.pk).sensors.get(name="bearing_de_temp_C").noise == 0.9


def test_admin_add_goes_through_the_services(admin_client, motor_category):
    data = {
        "machine_id": "motor_admin_001",
        "category": motor_category.pk,
        "operational_parameters": "{}",
        "is_active": "on",
        "sensors-TOTAL_FORMS": 1,
        "sensors-INITIAL_FORMS": 0,
        "sensors-MIN_NUM_FORMS": 0,
        "sensors-MAX_NUM_FORMS": 1000,
        "sensors-0-order": 0,
        "sensors-0-name": "current_A",
        "sensors-0-unit": "A",
        "sensors-0-base": 8,
        "sensors-0-range": 6,
        "sensors-0-noise": 0.3,
    }
    response = admin_client.post("/admin/machines/machine/add/", data)
    assert response.status_code == 302
    machine = Machine.objects.get(machine_id="motor_admin_001")
    assert list(machine.sensors.values_list("name", flat=True)) == ["current_A"]
    assert machine.versions.get().note == "Created in the admin"


def test_bulk_activate_deactivate_and_export(admin_client, make_machine):
    first, second = make_machine(), make_machine("motor_test_002")
    selected = {"_selected_action": [first.pk, second.pk]}
    admin_client.post("/admin/machines/machine/", {"action": "deactivate", **selected})
    assert not Machine.objects.filter(is_active=True).exists()
    admin_client.post("/admin/machines/machine/", {"action": "activate", **selected})
    assert Machine.objects.filter(is_active=True).count() == 2
    export = admin_client.post("/admin/machines/machine/", {"action": "export_profiles", **selected})
    assert export["Content-Type"] == "application/json"
    profiles = json.loads(export.content)
    assert profiles == [machine_profile(first), machine_profile(second)]


def test_admin_delete_announces_the_event(admin_client, make_machine, django_capture_on_commit_callbacks):
    machine = make_machine()
    received = []

    def on_deleted(sender, machine_id, **kwargs):
        received.append(machine_id)

    machine_deleted.connect(on_deleted)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(f"/admin/machines/machine/{machine.pk}/delete/", {"post": "yes"})
    finally:
        machine_deleted.disconnect(on_deleted)
    assert received == ["motor_test_001"]
    assert not Machine.objects.exists()


def test_versions_are_read_only_and_can_be_restored(admin_client, make_machine, operator):
    machine = make_machine(location="Hall 1")
    machine_update(machine=machine, profile={**machine_profile(machine), "location": "Hall 2"}, user=operator)
    first = machine.versions.get(number=1)
    page = admin_client.get(f"/admin/machines/profileversion/{first.pk}/change/").content.decode()
    assert "First version." in page
    assert 'name="_save"' not in page
    admin_client.post(
        "/admin/machines/profileversion/", {"action": "restore", "_selected_action": [first.pk]}
    )
    assert Machine.objects.get(pk=machine.pk).location == "Hall 1"
    assert ProfileVersion.objects.filter(machine=machine).count() == 3


def test_category_sensor_rows_follow_the_sensor_rules(admin_client, motor_category):
    sensors = list(motor_category.sensors.all())
    data = {
        "name": "motor",
        "max_rul_hours": 1000,
        "cycles": 3,
        "degradation_pattern": "linear_slow",
        "rul_noise_hours": 10,
        "failure_modes": json.dumps(motor_category.failure_modes),
        "healthy_above": 0.5,
        "degrading_above": 0.25,
        "warning_above": 0.1,
        "sensors-TOTAL_FORMS": len(sensors),
        "sensors-INITIAL_FORMS": len(sensors),
        "sensors-MIN_NUM_FORMS": 0,
        "sensors-MAX_NUM_FORMS": 1000,
    }
    for index, sensor in enumerate(sensors):
        for field in ("id", "order", "name", "unit", "description", "base", "range", "noise"):
            data[f"sensors-{index}-{field}"] = getattr(sensor, field)
        data[f"sensors-{index}-category"] = motor_category.pk
    data["sensors-0-unit"] = "°C"
    response = admin_client.post(f"/admin/machines/machinecategory/{motor_category.pk}/change/", data)
    assert response.status_code == 200
    assert "sensors[0].unit: temperature units are C, K, F or R" in response.content.decode()
    data["sensors-0-unit"] = "C"
    data["max_rul_hours"] = 1100
    assert (
        admin_client.post(f"/admin/machines/machinecategory/{motor_category.pk}/change/", data).status_code
        == 302
    )
    assert MachineCategory.objects.get(pk=motor_category.pk).max_rul_hours == 1100


def test_operators_have_no_back_office(client, operator):
    client.force_login(operator)
    assert client.get("/admin/machines/machine/").status_code == 302
