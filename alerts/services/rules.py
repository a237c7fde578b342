"""Alert rules: checked writes (admins), which rules watch a machine, and a sensor's default limits."""

from django.db import transaction
from rest_framework.exceptions import ValidationError

from alerts.models import AlertRule, Severity
from gan.models import Job
from machines.models import HealthState, Machine, MachineCategory
from pdm_site.tables import ProcessTable

Kind = AlertRule.Kind
# The parameters each kind reads; the others are cleared when a rule is saved.
PARAMETERS = {
    Kind.HEALTH_STATE: ("state_at_least",),
    Kind.RUL_BELOW: ("rul_hours", "rul_fraction"),
    Kind.ANOMALY_COUNT: ("anomaly_count", "window_minutes"),
    Kind.SENSOR_LIMIT: ("sensor", "lower_limit", "upper_limit", "limit_fraction"),
    Kind.JOB_FAILED: ("job_kinds",),
    Kind.DRIFT: ("psi_threshold",),
}
ALL_PARAMETERS = tuple(dict.fromkeys(name for names in PARAMETERS.values() for name in names))
EDITABLE = ("name", "kind", "machine", "category", "severity", "enabled", "description", *ALL_PARAMETERS)
EMPTY = {"sensor": "", "job_kinds": []}
DEFAULT_LIMIT_FRACTION = 0.9
# A limit from the profile is never closer to the healthy value than this many noise standard deviations,
# so that noise alone (small ranges, e.g. a turbofan's fan speed) does not raise alarms.
MIN_LIMIT_SIGMA = 4.0
MAX_WINDOW_MINUTES = 7 * 24 * 60
# For one machine the narrowest scope wins among rules of the same kind and sensor.
SCOPE_RANK = {"machine": 2, "category": 1, "fleet": 0}


def _number(errors: dict, field: str, value, *, low=None, high=None, integer=False, low_open=False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[field] = ["must be a number"]
        return None
    if integer and int(value) != value:
        errors[field] = ["must be a whole number"]
        return None
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        bound = f"more than {low}" if low_open else f"at least {low}"
        errors[field] = [f"must be {bound}" + (f" and at most {high}" if high is not None else "")]
        return None
    return int(value) if integer else float(value)


def _scope_sensors(machine: Machine | None, category: MachineCategory | None) -> set[str] | None:
    if machine is not None:
        return set(machine.sensors.values_list("name", flat=True))
    if category is not None:
        return set(category.sensors.values_list("name", flat=True))
    return None


def rule_check(data: dict) -> dict:
    """The rule's fields, checked for its kind, with the other kinds' parameters cleared.

    400 names the field and how to fix it (`rul_hours: give rul_hours or rul_fraction, not both`)."""
    errors: dict[str, list[str]] = {}
    clean = {field: data.get(field) for field in EDITABLE}
    clean["name"] = (clean["name"] or "").strip()
    if not clean["name"]:
        errors["name"] = ["required, e.g. Bearing temperature too high"]
    if clean["kind"] not in Kind.values:
        errors["kind"] = [f"one of {', '.join(Kind.values)}"]
    clean["severity"] = clean["severity"] or Severity.WARNING
    if clean["severity"] not in Severity.values:
        errors["severity"] = [f"one of {', '.join(Severity.values)}"]
    clean["enabled"] = True if clean["enabled"] is None else bool(clean["enabled"])
    clean["description"] = clean["description"] or ""
    if clean["machine"] is not None and clean["category"] is not None:
        errors["category"] = ["give a machine or a category, not both (neither: every machine)"]
    for field in ALL_PARAMETERS:
        if field not in PARAMETERS.get(clean["kind"], ()):
            clean[field] = EMPTY.get(field)
    checks = {
        Kind.HEALTH_STATE: _check_health,
        Kind.RUL_BELOW: _check_rul,
        Kind.ANOMALY_COUNT: _check_anomaly,
        Kind.SENSOR_LIMIT: _check_sensor,
        Kind.JOB_FAILED: _check_jobs,
        Kind.DRIFT: _check_drift,
    }
    if clean["kind"] in checks and "category" not in errors:
        checks[clean["kind"]](clean, errors)
    if errors:
        raise ValidationError(errors)
    return clean


def _check_health(clean: dict, errors: dict) -> None:
    state = _number(errors, "state_at_least", clean["state_at_least"], low=1, high=3, integer=True)
    if state is None and "state_at_least" not in errors:
        state = int(HealthState.WARNING)
    clean["state_at_least"] = state


def _check_rul(clean: dict, errors: dict) -> None:
    hours = _number(errors, "rul_hours", clean["rul_hours"], low=0, low_open=True)
    fraction = _number(errors, "rul_fraction", clean["rul_fraction"], low=0, high=1, low_open=True)
    if errors:
        return
    if (hours is None) == (fraction is None):
        errors["rul_hours"] = [
            "give rul_hours (e.g. 100) or rul_fraction of the category's max RUL (e.g. 0.1)"
        ]
    clean["rul_hours"], clean["rul_fraction"] = hours, fraction


def _check_anomaly(clean: dict, errors: dict) -> None:
    count = _number(errors, "anomaly_count", clean["anomaly_count"], low=1, high=1000, integer=True)
    window = _number(
        errors, "window_minutes", clean["window_minutes"], low=1, high=MAX_WINDOW_MINUTES, integer=True
    )
    if count is None and "anomaly_count" not in errors:
        errors["anomaly_count"] = ["required: how many flagged anomalies raise, e.g. 3"]
    if window is None and "window_minutes" not in errors:
        errors["window_minutes"] = ["required: the window in minutes, e.g. 60"]
    clean["anomaly_count"], clean["window_minutes"] = count, window


def _check_sensor(clean: dict, errors: dict) -> None:
    sensor = (clean["sensor"] or "").strip()
    lower = _number(errors, "lower_limit", clean["lower_limit"])
    upper = _number(errors, "upper_limit", clean["upper_limit"])
    fraction = _number(errors, "limit_fraction", clean["limit_fraction"], low=0, high=2, low_open=True)
    explicit = lower is not None or upper is not None
    if explicit and not sensor:
        errors["sensor"] = ["explicit limits need one sensor (sensors have different units)"]
    if lower is not None and upper is not None and lower >= upper:
        errors["upper_limit"] = [f"must be above lower_limit ({lower:g})"]
    if explicit and fraction is not None:
        errors["limit_fraction"] = ["give explicit limits or a fraction of the sensor's range, not both"]
    known = _scope_sensors(clean["machine"], clean["category"])
    if sensor and known is not None and sensor not in known:
        errors["sensor"] = [f"no sensor {sensor!r} in this scope: choose one of {', '.join(sorted(known))}"]
    if not explicit and fraction is None:
        fraction = DEFAULT_LIMIT_FRACTION
    clean.update(sensor=sensor, lower_limit=lower, upper_limit=upper, limit_fraction=fraction)


def _check_jobs(clean: dict, errors: dict) -> None:
    kinds = clean["job_kinds"] or []
    if not isinstance(kinds, list) or any(kind not in Job.Kind.values for kind in kinds):
        errors["job_kinds"] = [f"a list of job kinds from {', '.join(Job.Kind.values)} (empty: every kind)"]
        return
    clean["job_kinds"] = list(dict.fromkeys(kinds))


def _check_drift(clean: dict, errors: dict) -> None:
    clean["psi_threshold"] = _number(
        errors, "psi_threshold", clean["psi_threshold"], low=0, high=10, low_open=True
    )


@transaction.atomic
def rule_create(*, data: dict, user) -> AlertRule:
    clean = rule_check(data)
    return AlertRule.objects.create(**clean, created_by=user if user and user.is_authenticated else None)


@transaction.atomic
def rule_update(*, rule: AlertRule, data: dict, user) -> AlertRule:
    """Change some fields (the others keep their values) and check the rule as a whole."""
    current = {field: getattr(rule, field) for field in EDITABLE}
    clean = rule_check({**current, **data})
    for field, value in clean.items():
        setattr(rule, field, value)
    rule.save()
    return rule


@transaction.atomic
def rule_delete(*, rule: AlertRule, user) -> None:
    """Its alarms stay in the history (they keep their kind and title; the link to the rule goes)."""
    rule.delete()


def _load_enabled_rules() -> list[AlertRule]:
    return list(AlertRule.objects.filter(enabled=True).order_by("id"))


# Evaluations run in every flow that stores readings or predictions: they read no rule row each time.
# Any save or delete of a rule (services, admin) marks the table changed (alerts.apps).
enabled_rules = ProcessTable("alerts-enabled-rules", _load_enabled_rules)


def rules_for(machine: Machine | None, kinds=None) -> list[AlertRule]:
    """The enabled rules watching `machine` (None: the fleet-wide ones), narrowest scope first per kind and
    sensor: a machine's rule replaces its category's, which replaces the fleet-wide one."""
    if machine is None:
        fleet_wide = [r for r in _enabled(kinds) if r.machine_id is None and r.category_id is None]
        return _narrowest(fleet_wide)
    return rules_by_machine([machine], kinds)[machine.pk]


def rules_by_machine(machines: list[Machine], kinds=None) -> dict[int, list[AlertRule]]:
    """`rules_for` each machine."""
    rules = _enabled(kinds)
    return {
        machine.pk: _narrowest(
            [
                rule
                for rule in rules
                if rule.machine_id == machine.pk
                or (rule.machine_id is None and rule.category_id in (None, machine.category_id))
            ]
        )
        for machine in machines
    }


def _enabled(kinds) -> list[AlertRule]:
    return [rule for rule in enabled_rules.get() if kinds is None or rule.kind in kinds]


def _narrowest(rules: list[AlertRule]) -> list[AlertRule]:
    best: dict[tuple[str, str], int] = {}
    for rule in rules:
        key = (rule.kind, rule.sensor)
        best[key] = max(best.get(key, -1), SCOPE_RANK[rule.scope])
    return [rule for rule in rules if SCOPE_RANK[rule.scope] == best[(rule.kind, rule.sensor)]]


def profile_limits(base: float, span: float, noise: float, fraction: float) -> tuple[float, float]:
    """(low, high) around the healthy value: base ± max(fraction × |range|, MIN_LIMIT_SIGMA × noise)."""
    half = max(fraction * abs(span), MIN_LIMIT_SIGMA * noise)
    return base - half, base + half


def sensor_limits(rule: AlertRule, sensors: dict) -> dict[str, tuple[float | None, float | None]]:
    """{sensor: (low, high)} the rule checks for a machine whose sensors are {name: MachineSensor}."""
    if rule.sensor:
        spec = sensors.get(rule.sensor)
        if spec is None:
            return {}
        if rule.lower_limit is not None or rule.upper_limit is not None:
            return {rule.sensor: (rule.lower_limit, rule.upper_limit)}
        selected = {rule.sensor: spec}
    else:
        selected = sensors
    fraction = rule.limit_fraction or DEFAULT_LIMIT_FRACTION
    return {
        name: profile_limits(spec.base, spec.range, spec.noise, fraction) for name, spec in selected.items()
    }
