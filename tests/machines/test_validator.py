"""The one profile validator: each rule, with the exact message it gives (path: how to fix it)."""

import copy

import pytest
from rest_framework.exceptions import ValidationError

from machines.serializers import profile_validate
from machines.services import machine_create
from pdm_site.api import flatten_errors


def errors_of(document, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        profile_validate(document, **kwargs)
    return flatten_errors(caught.value.detail)


def with_sensor(profile: dict, index: int, **fields) -> dict:
    changed = copy.deepcopy(profile)
    changed["sensors"][index] = {**changed["sensors"][index], **fields}
    return changed


def test_the_issue_example_message_and_path(motor_profile):
    profile = with_sensor(motor_profile, 2, name="gearbox_temp", unit="")
    assert errors_of(profile) == {"sensors[2].unit": ['temperature sensors need a unit — add "unit": "C"']}


def test_valid_profile_is_normalised_with_category_defaults(motor_profile):
    profile = profile_validate(motor_profile)
    assert list(profile) == [
        "machine_id",
        "machine_type",
        "manufacturer",
        "model",
        "location",
        "operational_parameters",
        "sensors",
        "rul",
    ]
    bearing = profile["sensors"][0]
    # The template gives no base/range/noise: they come from the motor category's sensor of that name.
    assert "base" not in motor_profile["sensors"][0]
    assert (bearing["base"], bearing["range"], bearing["noise"]) == (40.0, 35.0, 0.5)
    assert bearing["type"] == "numerical"
    assert profile["rul"] == {
        "max_rul": 1000.0,
        "cycles": 3,
        "degradation_pattern": "linear_slow",
        "noise": 10.0,
        "failure_modes": ["bearing wear", "winding insulation breakdown"],
    }


def test_normalising_twice_changes_nothing(motor_profile, chiller_profile):
    for document in (motor_profile, chiller_profile):
        once = profile_validate(document)
        assert profile_validate(once) == once


def test_sensors_left_out_are_the_categorys(motor_category):
    profile = profile_validate({"machine_id": "motor_plain_001", "machine_type": "motor"})
    assert [sensor["name"] for sensor in profile["sensors"]] == [
        "bearing_de_temp_C",
        "winding_temp_C",
        "vibration_mm_s",
        "current_A",
    ]


def test_a_sensor_unknown_to_the_category_gets_the_model_defaults(motor_profile):
    profile = copy.deepcopy(motor_profile)
    profile["sensors"].append({"name": "oil_level_pct", "unit": "%"})
    added = profile_validate(profile)["sensors"][-1]
    assert (added["base"], added["range"], added["noise"]) == (0.0, 1.0, 0.1)


def test_given_physics_win_over_the_categorys(motor_profile):
    profile = with_sensor(motor_profile, 0, base=45, noise=None)
    sensor = profile_validate(profile)["sensors"][0]
    assert (sensor["base"], sensor["noise"]) == (45.0, 0.5)


# --- machine_id -----------------------------------------------------------------------------------


def test_machine_id_is_required(motor_profile):
    del motor_profile["machine_id"]
    assert errors_of(motor_profile) == {
        "machine_id": [
            'this field is required — add "machine_id": "motor_acme_m100_001" '
            "(lowercase letters, digits and underscores)"
        ]
    }


def test_machine_id_characters(motor_profile):
    motor_profile["machine_id"] = "Motor ACME-01"
    assert errors_of(motor_profile) == {
        "machine_id": [
            'use only lowercase letters, digits and underscores — e.g. "machine_id": "motor_acme_01"'
        ]
    }


@pytest.mark.parametrize(("machine_id", "length"), [("ab", 2), ("m" * 101, 101)])
def test_machine_id_length(motor_profile, machine_id, length):
    motor_profile["machine_id"] = machine_id
    (message,) = errors_of(motor_profile)["machine_id"]
    assert message.startswith(f"use 3–100 characters (got {length}) — e.g. ")


def test_machine_id_must_be_unique_and_the_next_free_one_is_suggested(motor_profile, operator):
    machine_create(profile=motor_profile, user=operator)
    assert errors_of(motor_profile) == {
        "machine_id": [
            '"motor_acme_m100_001" already exists — choose another machine_id, e.g. "motor_acme_m100_002"'
        ]
    }


def test_machine_id_of_a_page_is_reserved(motor_profile):
    motor_profile["machine_id"] = "new"
    assert errors_of(motor_profile) == {
        "machine_id": ['"new" is the name of a page — choose another machine_id, e.g. "new_machine_001"']
    }


def test_machine_id_cannot_change_on_edit(motor_profile, operator):
    machine = machine_create(profile=motor_profile, user=operator)
    assert profile_validate(motor_profile, machine=machine)["machine_id"] == "motor_acme_m100_001"
    motor_profile["machine_id"] = "motor_acme_m100_009"
    assert errors_of(motor_profile, machine=machine) == {
        "machine_id": [
            "a machine's id cannot change (its data and models are named after it) — "
            'keep "machine_id": "motor_acme_m100_001"'
        ]
    }


# --- machine_type and the rul block ---------------------------------------------------------------


def test_machine_type_is_required(motor_profile):
    del motor_profile["machine_type"]
    assert errors_of(motor_profile) == {
        "machine_type": [
            'this field is required — add "machine_type": "motor" '
            "(a category, or a new type with a rul block)"
        ]
    }


def test_new_type_needs_a_rul_block_and_a_close_name_is_suggested(motor_profile):
    motor_profile["machine_type"] = "motr"
    assert errors_of(motor_profile) == {
        "rul": [
            '"motr" is not a category — did you mean "motor"? To create it, add a rul block '
            "(max_rul, cycles, degradation_pattern, noise, failure_modes) and its sensors"
        ]
    }


def test_new_type_rul_block_must_be_complete(chiller_profile):
    del chiller_profile["rul"]["cycles"]
    del chiller_profile["rul"]["failure_modes"]
    assert errors_of(chiller_profile) == {
        "rul.cycles": [
            'a new machine_type needs cycles — add "cycles": 3 (run-to-failure cycles in its seed data)'
        ],
        "rul.failure_modes": [
            "a new machine_type needs failure_modes — "
            'add "failure_modes": ["bearing wear"] (the ways it fails)'
        ],
    }


def test_new_type_needs_its_sensors(chiller_profile):
    del chiller_profile["sensors"]
    assert errors_of(chiller_profile) == {
        "sensors": [
            "a new machine_type needs its sensors — "
            'add "sensors": [{"name": "current_A", "unit": "A"}, …] (1–50)'
        ]
    }


def test_new_type_name_must_be_an_identifier(chiller_profile):
    chiller_profile["machine_type"] = "Water Chiller"
    assert errors_of(chiller_profile) == {
        "machine_type": [
            '"Water Chiller" is not a category — a new type\'s name uses lowercase letters, digits and '
            'underscores, starting with a letter (at most 50) — try "machine_type": "water_chiller"'
        ]
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cycles", 60, 'must be a whole number from 1 to 50 — e.g. "cycles": 3'),
        ("max_rul", 0, 'must be at least 1 hour — e.g. "max_rul": 1000'),
        ("max_rul", "long", 'must be a number — e.g. "max_rul": 1000'),
        ("noise", -1, 'must be 0 or more hours — e.g. "noise": 10'),
        (
            "degradation_pattern",
            "linear_fst",
            '"linear_fst" is not a pattern — did you mean "linear_fast"? '
            "use linear_slow, linear_medium, linear_fast, exponential",
        ),
        ("failure_modes", [], 'name at least one failure mode — e.g. "failure_modes": ["bearing wear"]'),
        (
            "failure_modes",
            "wear",
            'expected a list of texts — e.g. "failure_modes": ["bearing wear", "seal leakage"]',
        ),
    ],
)
def test_rul_fields(chiller_profile, field, value, message):
    chiller_profile["rul"][field] = value
    assert errors_of(chiller_profile) == {f"rul.{field}": [message]}


def test_an_existing_category_keeps_its_rul_profile(motor_profile):
    motor_profile["rul"] = {"max_rul": 1000, "cycles": 5}
    assert errors_of(motor_profile) == {
        "rul.cycles": [
            '"motor" has cycles 3 — remove the rul block to use the category\'s RUL profile '
            "(admins edit categories), or choose a new machine_type"
        ]
    }


# --- sensors --------------------------------------------------------------------------------------


def test_sensors_must_be_a_list(motor_profile):
    motor_profile["sensors"] = {"name": "current_A"}
    assert errors_of(motor_profile) == {
        "sensors": ['expected a list of sensors — e.g. [{"name": "current_A", "unit": "A"}]']
    }


def test_at_least_one_sensor(motor_profile):
    motor_profile["sensors"] = []
    assert errors_of(motor_profile) == {
        "sensors": ['add at least one sensor — e.g. [{"name": "current_A", "unit": "A"}]']
    }


def test_at_most_fifty_sensors(motor_profile):
    motor_profile["sensors"] = [{"name": f"channel_{index}", "unit": "V"} for index in range(51)]
    assert errors_of(motor_profile) == {"sensors": ["at most 50 sensors per machine — remove the extra ones"]}


def test_fifty_sensors_are_allowed(motor_profile):
    motor_profile["sensors"] = [{"name": f"channel_{index}", "unit": "V"} for index in range(50)]
    assert len(profile_validate(motor_profile)["sensors"]) == 50


def test_sensor_names_are_unique_whatever_the_case(motor_profile):
    motor_profile["sensors"].append({"name": "Current_A", "unit": "A"})
    assert errors_of(motor_profile) == {
        "sensors[4].name": ['"Current_A" is already used by sensors[3] — give each sensor its own name']
    }


def test_sensor_names_are_identifiers(motor_profile):
    profile = with_sensor(motor_profile, 1, name="winding temp (C)")
    assert errors_of(profile) == {
        "sensors[1].name": [
            'use letters, digits and underscores, starting with a letter — try "name": "winding_temp_C"'
        ]
    }


def test_sensor_name_is_required(motor_profile):
    motor_profile["sensors"][3].pop("name")
    assert errors_of(motor_profile) == {
        "sensors[3].name": ['this field is required — add "name": "bearing_temp_C"']
    }


def test_only_numerical_sensors(motor_profile):
    profile = with_sensor(motor_profile, 3, type="categorical")
    assert errors_of(profile) == {
        "sensors[3].type": [
            'only numerical sensors are supported (got "categorical") — set "type": "numerical"'
        ]
    }


def test_sensor_entries_are_objects(motor_profile):
    motor_profile["sensors"][0] = "bearing_de_temp_C"
    assert errors_of(motor_profile) == {
        "sensors[0]": ['expected a sensor like {"name": "current_A", "unit": "A"} — got str']
    }


def test_unknown_sensor_field_suggests_the_close_one(motor_profile):
    profile = with_sensor(motor_profile, 0, units="C")
    assert errors_of(profile) == {
        "sensors[0].units": [
            'unknown field — did you mean "unit"? '
            "a sensor has name, unit, type, description, base, range, noise"
        ]
    }


def test_sensor_physics_are_numbers(motor_profile):
    profile = with_sensor(motor_profile, 0, base="warm", noise=-0.5)
    assert errors_of(profile) == {
        "sensors[0].base": ['must be a number — e.g. "base": 40'],
        "sensors[0].noise": ['noise is a standard deviation and cannot be negative — e.g. "noise": 0.5'],
    }


@pytest.mark.parametrize(
    ("name", "unit", "message"),
    [
        ("coolant_temp_K", "", 'temperature sensors need a unit — add "unit": "K"'),
        ("Oil_Temperature", "", 'temperature sensors need a unit — add "unit": "C"'),
        ("oil_temp", "°C", 'temperature units are C, K, F or R — write "unit": "C" instead of "°C"'),
        (
            "oil_level",
            "fahrenheit",
            'temperature units are C, K, F or R — write "unit": "F" instead of "fahrenheit"',
        ),
        (
            "oil_temp_C",
            "bar",
            'temperature sensors use C, K, F or R (got "bar") — write "unit": "C", '
            "or rename the sensor if it is not a temperature",
        ),
    ],
)
def test_temperature_units(motor_profile, name, unit, message):
    profile = with_sensor(motor_profile, 1, name=name, unit=unit)
    assert errors_of(profile) == {"sensors[1].unit": [message]}


@pytest.mark.parametrize(
    ("name", "unit"), [("exhaust_temp_R", "R"), ("ambient", "K"), ("supply_voltage", "")]
)
def test_accepted_units(motor_profile, name, unit):
    profile = with_sensor(motor_profile, 1, name=name, unit=unit)
    assert profile_validate(profile)["sensors"][1]["unit"] == unit


# --- the rest of the document ---------------------------------------------------------------------


def test_unknown_top_level_field_suggests_the_close_one(motor_profile):
    motor_profile["sensor"] = motor_profile.pop("sensors")
    assert errors_of(motor_profile) == {
        "sensor": [
            'unknown field — did you mean "sensors"? a profile has machine_id, machine_type, manufacturer, '
            "model, location, operational_parameters, sensors, rul"
        ]
    }


def test_operational_parameters(motor_profile):
    motor_profile["operational_parameters"] = {"rated power": 15, "limits": {"max": 2}, "ok_value": True}
    assert errors_of(motor_profile) == {
        "operational_parameters.rated power": [
            'parameter names are identifiers — rename it to "rated_power"'
        ],
        "operational_parameters.limits": ['use a number, a text or true/false — e.g. "rated_power_kW": 15'],
    }


def test_operational_parameters_are_key_value_pairs(motor_profile):
    motor_profile["operational_parameters"] = [15]
    assert errors_of(motor_profile) == {
        "operational_parameters": [
            'expected key: value pairs — e.g. "operational_parameters": {"rated_power_kW": 15}'
        ]
    }


def test_text_fields_are_bounded(motor_profile):
    motor_profile["manufacturer"] = "x" * 101
    assert errors_of(motor_profile) == {"manufacturer": ["at most 100 characters — shorten it"]}


def test_a_document_that_is_not_a_mapping(db):
    assert errors_of(["motor"]) == {
        "non_field_errors": [
            'expected a profile like {"machine_id": "motor_acme_m100_001", "machine_type": "motor", '
            '"sensors": [...]} — got list'
        ]
    }


def test_every_error_is_reported_at_once(motor_profile):
    motor_profile["machine_id"] = "X"
    motor_profile["sensors"][0]["unit"] = ""
    motor_profile["model"] = ["M100"]
    assert set(errors_of(motor_profile)) == {"machine_id", "sensors[0].unit", "model"}


@pytest.mark.parametrize("field", ["operational_parameters", "manufacturer", "machine_type"])
def test_null_values_get_a_message_not_a_crash(motor_profile, field):
    # Found by the API fuzzer: messages with braces in their example broke DRF's str.format.
    errors = errors_of({**motor_profile, field: None})
    for messages in errors.values():
        assert all(isinstance(message, str) and "{" not in message.replace("{}", "") for message in messages)
