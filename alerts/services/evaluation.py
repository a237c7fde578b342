"""Rules evaluated in the flows that store what they watch — no polling loop.

- Stored readings (predictions.signals.readings_stored, after commit): the sensor limits over the readings
  stored since the machine's last evaluation.
- A stored prediction (predictions.signals.prediction_stored, after commit): the rules reading its kind
  (health state, RUL lower bound, anomaly count); kinds no rule reads (forecast) cost nothing.
- A finished job (gan.signals.job_finished): job-failed rules; a later success of the same kind clears.
- A drift report (services.drift): drift rules.

Each rule gives a Finding (the condition holds: raise or count), CLEAR (it does not: note it, resolve
later), or None (nothing to say this time).
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.models import Alarm, AlertRule, DriftReport, EvaluationCursor, MaintenanceEvent, Severity
from alerts.services.alarms import Finding, alarm_condition_clear, alarm_raise
from alerts.services.rules import rules_for, sensor_limits
from gan.models import Job
from machines.models import HealthState, Machine
from predictions.models import Kind, Prediction, SensorReading
from predictions.services.models import active_versions

CLEAR = object()
Rule = AlertRule.Kind
# The rules each prediction kind feeds (besides the sensor limits, which read the new readings).
PREDICTION_RULES = {
    Kind.HEALTH: (Rule.HEALTH_STATE,),
    Kind.RUL: (Rule.HEALTH_STATE, Rule.RUL_BELOW),
    Kind.ANOMALY: (Rule.ANOMALY_COUNT,),
}
# Predictions asked for hypothetical readings ("what if") say nothing about the machine's current state.
WHAT_IF_SOURCE = "request"


class ActiveAlarms:
    """A machine's active alarms by rule, read once and only when a condition clears (raising looks the
    alarm up itself): a healthy fleet's evaluations mostly need no alarm at all."""

    def __init__(self, machine: Machine | None):
        self.machine = machine
        self._by_rule: dict[int, Alarm] | None = None

    def get(self, rule_pk: int) -> Alarm | None:
        if self._by_rule is None:
            alarms = Alarm.objects.filter(machine=self.machine, status__in=Alarm.ACTIVE)
            self._by_rule = {alarm.rule_id: alarm for alarm in alarms}
        return self._by_rule.get(rule_pk)

    def remember(self, alarm: Alarm) -> None:
        if self._by_rule is not None:
            self._by_rule[alarm.rule_id] = alarm


def _apply(rule: AlertRule, machine, outcome, active: ActiveAlarms, *, job=None, now=None) -> None:
    if outcome is None:
        return
    if outcome is CLEAR:
        if (alarm := active.get(rule.pk)) is not None:
            alarm_condition_clear(alarm=alarm, now=now)
        return
    active.remember(alarm_raise(rule=rule, machine=machine, finding=outcome, job=job, now=now)[0])


def baseline_since(machine: Machine) -> object | None:
    """When the machine's health baseline was last reset by maintenance (None: never)."""
    return MaintenanceEvent.objects.filter(machine=machine, baseline_reset=True).aggregate(
        last=Max("occurred_at")
    )["last"]


# --- Predictions ------------------------------------------------------------------------------------------


def _state(prediction: Prediction) -> int | None:
    """The machine's health state as this prediction tells it: the health model's, or the RUL model's
    when no health model serves the machine (as the dashboard shows it)."""
    if prediction.kind == Kind.HEALTH:
        return prediction.result.get("state")
    if prediction.kind != Kind.RUL or "state" not in prediction.result:
        return None
    if (prediction.machine_id, Kind.HEALTH) in active_versions([prediction.machine], [Kind.HEALTH]):
        return None
    return prediction.result["state"]


def _health_outcome(rule: AlertRule, prediction: Prediction):
    state = _state(prediction)
    if state is None:
        return None
    if state < rule.state_at_least:
        return CLEAR
    label = HealthState(state).label
    return Finding(
        title=f"Health state {label}",
        severity=Severity.CRITICAL if state == HealthState.CRITICAL else rule.severity,
        message=f"The {prediction.kind} model says {label} (rule: {rule.name}).",
        details={"state": state, "confidence": prediction.confidence, "prediction": prediction.pk},
    )


def rul_limit(rule: AlertRule, machine: Machine) -> float:
    return (
        rule.rul_hours if rule.rul_hours is not None else rule.rul_fraction * machine.category.max_rul_hours
    )


def _rul_outcome(rule: AlertRule, prediction: Prediction):
    result = prediction.result
    lower = result.get("lower")
    # The limit is in hours: RUL in other units (cycles of a real dataset) is not compared with it.
    if prediction.kind != Kind.RUL or lower is None or result.get("unit") not in ("hours", None):
        return None
    limit = rul_limit(rule, prediction.machine)
    if lower >= limit:
        return CLEAR
    return Finding(
        title=f"RUL lower bound {lower:,.0f} h below {limit:,.0f} h",
        severity=rule.severity,
        message=f"Predicted RUL {result.get('rul', lower):,.0f} h (lower bound {lower:,.0f} h).",
        details={"rul": result.get("rul"), "lower": lower, "limit": limit, "prediction": prediction.pk},
    )


def _anomaly_outcome(rule: AlertRule, prediction: Prediction, since):
    if prediction.kind != Kind.ANOMALY:
        return None
    start = prediction.created_at - timedelta(minutes=rule.window_minutes)
    if since is not None and since > start:
        start = since
    flagged = Prediction.objects.filter(
        machine_id=prediction.machine_id,
        kind=Kind.ANOMALY,
        created_at__gte=start,
        created_at__lte=prediction.created_at,
        result__is_anomaly=True,
    ).count()
    if flagged < rule.anomaly_count:
        return CLEAR
    return Finding(
        title=f"Anomaly flagged {flagged} times in {rule.window_minutes} min",
        severity=rule.severity,
        message=f"At least {rule.anomaly_count} anomalies within {rule.window_minutes} minutes.",
        details={
            "flagged": flagged,
            "count": rule.anomaly_count,
            "window_minutes": rule.window_minutes,
            "score": prediction.result.get("normalized_score"),
            "prediction": prediction.pk,
        },
    )


def prediction_evaluate(prediction_pk: int) -> int:
    """Evaluate the rules a stored prediction feeds. Returns how many rule evaluations ran."""
    prediction = Prediction.objects.select_related("machine__category").filter(pk=prediction_pk).first()
    if (
        prediction is None
        or prediction.kind not in PREDICTION_RULES
        or prediction.input.get("source") == WHAT_IF_SOURCE
    ):
        return 0
    machine = prediction.machine
    rules = rules_for(machine, kinds=PREDICTION_RULES[prediction.kind])
    active = ActiveAlarms(machine)
    now = timezone.now()
    evaluated = 0
    since = None
    for rule in rules:
        if rule.kind == Rule.HEALTH_STATE:
            outcome = _health_outcome(rule, prediction)
        elif rule.kind == Rule.RUL_BELOW:
            outcome = _rul_outcome(rule, prediction)
        elif rule.kind == Rule.ANOMALY_COUNT:
            since = since or baseline_since(machine)
            outcome = _anomaly_outcome(rule, prediction, since)
        else:
            continue
        evaluated += outcome is not None
        _apply(rule, machine, outcome, active, now=now)
    return evaluated


# --- Readings ---------------------------------------------------------------------------------------------


def _has_new_readings(machine: Machine) -> bool:
    """One look without a lock: most evaluations of a refresh find the readings already evaluated. (No
    cursor yet: any reading is new.)"""
    cursor = EvaluationCursor.objects.filter(machine=machine).values("last_reading_pk")
    return SensorReading.objects.filter(
        machine=machine, pk__gt=Coalesce(Subquery(cursor), Value(-1))
    ).exists()


def _new_readings(machine: Machine) -> list[tuple[int, object, dict]]:
    """(pk, timestamp, values) of the readings stored since the last evaluation, oldest first, with the
    machine's cursor locked and moved past them; the first evaluation of a machine looks at its latest
    reading only (not at its whole history)."""
    cursor, created = EvaluationCursor.objects.select_for_update().get_or_create(machine=machine)
    readings = SensorReading.objects.filter(machine=machine)
    if created:
        rows = list(readings.order_by("-pk").values_list("pk", "timestamp", "values")[:1])
    else:
        rows = list(
            readings.filter(pk__gt=cursor.last_reading_pk)
            .order_by("pk")
            .values_list("pk", "timestamp", "values")[: settings.ALERTS_MAX_READINGS_PER_EVALUATION]
        )
    if rows:
        cursor.last_reading_pk = max(pk for pk, _, _ in rows)
        cursor.save(update_fields=["last_reading_pk", "updated_at"])
    return rows


def _outside(value: float, low: float | None, high: float | None) -> float:
    """How far outside [low, high] the value is, as a share of the band's width (0: inside)."""
    width = (high - low) if low is not None and high is not None else max(abs(low or high or 1.0), 1e-9)
    if low is not None and value < low:
        return (low - value) / width
    if high is not None and value > high:
        return (value - high) / width
    return 0.0


def _limit_outcomes(rule: AlertRule, limits: dict, rows: list[tuple]) -> list:
    """A Finding for the worst excursion of the new readings (if any), then CLEAR if the latest reading is
    back inside every limit — the excursion is recorded and the alarm may resolve once it stays clear."""
    worst, excursions = None, 0
    for _, timestamp, values in rows:
        for sensor, (low, high) in limits.items():
            value = values.get(sensor)
            if not isinstance(value, int | float):
                continue
            distance = _outside(value, low, high)
            if distance > 0:
                excursions += 1
                if worst is None or distance > worst[0]:
                    worst = (distance, sensor, value, low, high, timestamp)
    latest = rows[-1][2]
    latest_inside = all(
        _outside(latest[sensor], low, high) == 0
        for sensor, (low, high) in limits.items()
        if isinstance(latest.get(sensor), int | float)
    )
    if worst is None:
        return [CLEAR]
    _, sensor, value, low, high, timestamp = worst
    band = f"[{_limit_text(low)}, {_limit_text(high)}]"
    finding = Finding(
        title=f"{sensor} {value:,.4g} outside {band}",
        severity=rule.severity,
        message=f"{excursions} value(s) outside the limits in {len(rows)} new reading(s).",
        details={
            "sensor": sensor,
            "value": value,
            "lower": low,
            "upper": high,
            "at": timestamp.isoformat(),
            "excursions": excursions,
        },
    )
    return [finding, CLEAR] if latest_inside else [finding]


def _limit_text(limit: float | None) -> str:
    return "—" if limit is None else f"{limit:,.4g}"


def readings_evaluate(
    machine: Machine,
    *,
    rules: Iterable[AlertRule] | None = None,
    active: ActiveAlarms | None = None,
    now=None,
) -> int:
    """Sensor-limit rules over the readings stored since the machine's last evaluation."""
    if not _has_new_readings(machine):
        return 0
    with transaction.atomic():
        rows = _new_readings(machine)
        if rules is None:
            rules = rules_for(machine, kinds=[Rule.SENSOR_LIMIT])
        rules = [rule for rule in rules if rule.kind == Rule.SENSOR_LIMIT]
        if not rows or not rules:
            return 0
        return _limits_evaluate(machine, rules, rows, active or ActiveAlarms(machine), now)


def _limits_evaluate(machine: Machine, rules: list[AlertRule], rows: list[tuple], active, now) -> int:
    sensors = {sensor.name: sensor for sensor in machine.sensors.all()}
    # A sensor with a rule of its own is left out of the "every sensor" rules.
    own_rules = {rule.sensor for rule in rules if rule.sensor}
    for rule in rules:
        limits = sensor_limits(rule, sensors)
        if not rule.sensor:
            limits = {name: band for name, band in limits.items() if name not in own_rules}
        if not limits:
            continue
        for outcome in _limit_outcomes(rule, limits, rows):
            _apply(rule, machine, outcome, active, now=now)
    return len(rules)


# --- Jobs and drift ---------------------------------------------------------------------------------------


def _watches(rule: AlertRule, kind: str) -> bool:
    return not rule.job_kinds or kind in rule.job_kinds


def job_evaluate(job_pk: int) -> int:
    """A failed job raises the job-failed rules of its machine (or the fleet-wide ones for a job without a
    machine); a successful one of the same kind clears them."""
    job = Job.objects.select_related("machine__category").filter(pk=job_pk).first()
    if job is None or job.status == Job.Status.CANCELLED:
        return 0
    rules = [rule for rule in rules_for(job.machine, kinds=[Rule.JOB_FAILED]) if _watches(rule, job.kind)]
    active = ActiveAlarms(job.machine)
    for rule in rules:
        if job.status == Job.Status.FAILURE:
            target = f" for {job.machine.machine_id}" if job.machine_id else ""
            outcome = Finding(
                title=f"{job.get_kind_display()} job failed{target}",
                severity=rule.severity,
                message=(job.error or job.message)[:1000],
                details={"job": job.pk, "kind": job.kind, "error": job.error[:1000]},
            )
        elif job.status == Job.Status.SUCCESS:
            outcome = CLEAR
        else:
            continue
        _apply(rule, job.machine, outcome, active, job=job if outcome is not CLEAR else None)
    return len(rules)


def drift_threshold(machine: Machine) -> tuple[AlertRule | None, float]:
    """The drift rule watching the machine and the PSI that raises it (ALERTS_DRIFT_PSI by default)."""
    rule = next(iter(rules_for(machine, kinds=[Rule.DRIFT])), None)
    threshold = rule.psi_threshold if rule is not None and rule.psi_threshold else settings.ALERTS_DRIFT_PSI
    return rule, threshold


def drift_evaluate(report: DriftReport) -> int:
    rule, _ = drift_threshold(report.machine)
    if rule is None or report.max_psi is None:
        return 0
    if not report.drifted:
        outcome = CLEAR
    else:
        drifted = [item["sensor"] for item in report.sensors if item.get("drifted")]
        outcome = Finding(
            title=f"Telemetry drifted from the training data (PSI {report.max_psi:.2f})",
            severity=rule.severity,
            message=f"Drifted sensors: {', '.join(drifted)}. Consider retraining the models.",
            details={"report": report.pk, "max_psi": report.max_psi, "sensors": drifted},
        )
    _apply(rule, report.machine, outcome, ActiveAlarms(report.machine))
    return 1
