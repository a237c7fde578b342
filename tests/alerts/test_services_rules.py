"""Rules: checked per kind with field paths, the narrowest scope wins, limits from the sensor profile, and
the fleet-wide defaults every installation starts with."""

import importlib

import pytest
from django.apps import apps
from rest_framework.exceptions import ValidationError

from alerts.models import AlertRule
from alerts.services.rules import (
    profile_limits,
    rule_check,
    rule_create,
    rule_update,
    rules_for,
    sensor_limits,
)

Kind = AlertRule.Kind
pytestmark = pytest.mark.django_db


def errors_of(data: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        rule_check(data)
    return caught.value.detail


def test_each_kind_needs_its_own_fields_and_says_how_to_fix_them(motor):
    assert "rul_hours" in errors_of({"name": "r", "kind": Kind.RUL_BELOW})
    assert "rul_hours" in errors_of(
        {"name": "r", "kind": Kind.RUL_BELOW, "rul_hours": 10, "rul_fraction": 0.1}
    )
    assert "rul_fraction" in errors_of({"name": "r", "kind": Kind.RUL_BELOW, "rul_fraction": 1.5})
    assert set(errors_of({"name": "a", "kind": Kind.ANOMALY_COUNT})) == {"anomaly_count", "window_minutes"}
    assert "state_at_least" in errors_of({"name": "h", "kind": Kind.HEALTH_STATE, "state_at_least": 7})
    assert "sensor" in errors_of({"name": "s", "kind": Kind.SENSOR_LIMIT, "upper_limit": 70})
    unknown = errors_of({"name": "s", "kind": Kind.SENSOR_LIMIT, "machine": motor, "sensor": "nope"})
    assert "bearing_de_temp_C" in unknown["sensor"][0]
    assert "upper_limit" in errors_of(
        {"name": "s", "kind": Kind.SENSOR_LIMIT, "sensor": "x", "lower_limit": 5, "upper_limit": 1}
    )
    assert "job_kinds" in errors_of({"name": "j", "kind": Kind.JOB_FAILED, "job_kinds": ["nope"]})
    assert "category" in errors_of(
        {"name": "x", "kind": Kind.DRIFT, "machine": motor, "category": motor.category}
    )
    assert set(errors_of({"name": " ", "kind": "other", "severity": "loud"})) == {"name", "kind", "severity"}


def test_defaults_are_filled_and_other_kinds_fields_cleared():
    health = rule_check({"name": "h", "kind": Kind.HEALTH_STATE, "rul_hours": 5, "sensor": "x"})
    assert health["state_at_least"] == 2 and health["rul_hours"] is None and health["sensor"] == ""
    assert health["severity"] == "warning" and health["enabled"] is True
    limit = rule_check({"name": "s", "kind": Kind.SENSOR_LIMIT})
    assert limit["limit_fraction"] == 0.9 and limit["lower_limit"] is None


def test_update_keeps_the_fields_left_out(admin_user):
    rule = rule_create(data={"name": "RUL", "kind": Kind.RUL_BELOW, "rul_hours": 100}, user=admin_user)
    assert rule.created_by == admin_user
    rule = rule_update(rule=rule, data={"severity": "critical"}, user=admin_user)
    assert (rule.rul_hours, rule.severity) == (100, "critical")
    with pytest.raises(ValidationError):
        rule_update(rule=rule, data={"rul_fraction": 0.2}, user=admin_user)  # both given now


def test_the_narrowest_scope_wins_per_kind_and_sensor(make_machine, make_rule):
    motor = make_machine("motor_scope_001")
    other = make_machine("motor_scope_002")
    pump = make_machine("pump_scope_001", "pump")
    fleet = make_rule(Kind.RUL_BELOW, rul_fraction=0.1)
    motors = make_rule(Kind.RUL_BELOW, rul_hours=150, category=motor.category)
    mine = make_rule(Kind.RUL_BELOW, rul_hours=300, machine=motor)
    every_sensor = make_rule(Kind.SENSOR_LIMIT, limit_fraction=0.9)
    one_sensor = make_rule(Kind.SENSOR_LIMIT, sensor="vibration_mm_s", upper_limit=6, category=motor.category)
    make_rule(Kind.DRIFT, enabled=False)
    assert set(rules_for(motor)) == {mine, every_sensor, one_sensor}
    assert set(rules_for(other)) == {motors, every_sensor, one_sensor}
    assert set(rules_for(pump)) == {fleet, every_sensor}
    assert rules_for(None, kinds=[Kind.RUL_BELOW]) == [fleet]


def test_limits_come_from_the_profile_unless_given(motor, make_rule):
    sensors = {sensor.name: sensor for sensor in motor.sensors.all()}
    every = sensor_limits(make_rule(Kind.SENSOR_LIMIT, limit_fraction=0.9), sensors)
    assert set(every) == set(sensors)
    # bearing_de_temp_C 40/35/0.5: 40 ± 31.5
    assert every["bearing_de_temp_C"] == pytest.approx((8.5, 71.5))
    explicit = make_rule(Kind.SENSOR_LIMIT, sensor="vibration_mm_s", upper_limit=6.0)
    assert sensor_limits(explicit, sensors) == {"vibration_mm_s": (None, 6.0)}
    # A range small against the noise: the limit stays 4 noise standard deviations away.
    assert profile_limits(2388, 0.3, 0.07, 0.9) == pytest.approx((2388 - 0.28, 2388 + 0.28))


def test_the_default_rules_cover_every_kind_for_every_machine(make_machine):
    AlertRule.objects.all().delete()
    defaults = importlib.import_module("alerts.migrations.0002_default_rules")
    defaults.create_defaults(apps, None)
    defaults.create_defaults(apps, None)  # idempotent
    assert AlertRule.objects.count() == len(Kind.values)
    for machine in (make_machine("motor_default_001"), make_machine("cnc_default_001", "cnc")):
        assert sorted(rule.kind for rule in rules_for(machine)) == sorted(Kind.values)
