"""Fixtures for the machines tests: the demo fleet, profile documents, a factory for machines."""

import copy

import pytest
from django.core.management import call_command

from machines.models import MachineCategory
from machines.selectors import fleet_document, profile_template
from machines.services import category_create, machine_create

MOTOR_CATEGORY = {
    "name": "motor",
    "description": "Three-phase induction motors.",
    "max_rul": 1000,
    "cycles": 3,
    "degradation_pattern": "linear_slow",
    "noise": 10,
    "failure_modes": ["bearing wear", "winding insulation breakdown"],
    "sensors": [
        {
            "name": "bearing_de_temp_C",
            "unit": "C",
            "description": "Drive-end bearing",
            "base": 40,
            "range": 35,
            "noise": 0.5,
        },
        {
            "name": "winding_temp_C",
            "unit": "C",
            "description": "Stator winding",
            "base": 50,
            "range": 40,
            "noise": 0.8,
        },
        {
            "name": "vibration_mm_s",
            "unit": "mm/s",
            "description": "Vibration",
            "base": 2.5,
            "range": 5.0,
            "noise": 0.15,
        },
        {
            "name": "current_A",
            "unit": "A",
            "description": "Phase current",
            "base": 8.0,
            "range": 6.0,
            "noise": 0.3,
        },
    ],
}


@pytest.fixture
def fleet(db):
    """The whole demo fleet, loaded by the management command `make run` uses."""
    call_command("load_fleet", verbosity=0)


@pytest.fixture
def fleet_categories(db) -> list[MachineCategory]:
    """The demo fleet's 11 categories without its machines (a quarter of the time of `fleet`)."""
    return [
        category_create(data={"name": name, **block}, user=None)
        for name, block in fleet_document()["categories"].items()
    ]


@pytest.fixture
def motor_category(db) -> MachineCategory:
    """Just the motor category: most tests need one category, not the whole fleet."""
    return category_create(data=copy.deepcopy(MOTOR_CATEGORY), user=None)


@pytest.fixture
def motor_profile(motor_category) -> dict:
    """A valid profile document of a motor (the motor template, which tests may change)."""
    return profile_template("motor")["profile"]


@pytest.fixture
def chiller_profile(db) -> dict:
    """A valid profile document whose machine_type is not a category (it brings its rul block)."""
    return profile_template("chiller")["profile"]


@pytest.fixture
def make_machine(motor_category, operator):
    """make_machine(machine_id, **fields) → a motor created through the service (version 1)."""

    def make(machine_id: str = "motor_test_001", **fields):
        profile = {"machine_id": machine_id, "machine_type": "motor", **fields}
        return machine_create(profile=profile, user=operator)

    return make
