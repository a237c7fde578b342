"""Rules evaluated in the flows that store what they watch — no polling loop.

- Stored readings (predictions.signals.readings_stored, after commit): the sensor limits over the readings
  stored since the machine's last evaluation.
- Stored predictions (predictions.signals.predictions_stored, after commit, one event per request, batch or
  refresh): the rules reading their kinds (health state, RUL lower bound, anomaly count), for the whole set
  at once; kinds no rule reads (forecast) cost nothing.
- A finished job (gan.signals.job_finished): job-failed rules; a later success of the same kind clears.
- A drift report (services.drift): drift rules.

Each rule gives a Finding (the condition holds: raise or count), CLEAR (it does not: note it, resolve
later), or None (nothing to say this time).
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.models import Alarm, AlertRule, DriftReport, EvaluationCursor, MaintenanceEvent, Severity
from alerts.services.alarms import Finding, alarm_condition_clear, alarm_raise, alarm_seen_again
from alerts.services.rules import rules_by_machine, rules_for, sensor_limits
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
    """The active alarms of some machines (None: fleet-wide alarms) by machine and rule, read in one query
    when the first evaluation needs one."""

    def __init__(self, machines: Iterable[Machine | None]):
        self.machine_pks = {machine.pk if machine is not None else None for machine in machines}
        self._by_key: dict[tuple[int | None, int], Alarm] | None = None

    def get(self, machine: Machine | None, rule_pk: int) -> Alarm | None:
        if self._by_key is None:
            scope = Q(machine__in=[pk for pk in self.machine_pks if pk is not None])
            if None in self.machine_pks:
                scope |= Q(machine__isnull=True)
            alarms = Alarm.objects.filter(scope, status__in=Alarm.ACTIVE)
            self._by_key = {(alarm.machine_id, alarm.rule_id): alarm for alarm in alarms}
        return self._by_key.get((machine.pk if machine is not None else None, rule_pk))

    def remember(self, alarm: Alarm) -> None:
        if self._by_key is not None:
            self._by_key[(alarm.machine_id, alarm.rule_id)] = alarm


def _apply(rule: AlertRule, machine, outcome, active: ActiveAlarms, *, job=None, now=None) -> None:
    if outcome is None:
        return
    if outcome is CLEAR:
        if (alarm := active.get(machine, rule.pk)) is not None:
            alarm_condition_clear(alarm=alarm, now=now)
        return
    alarm = active.get(machine, rule.pk)
    if (
        job is None
        and alarm is not None
        and alarm_seen_again(alarm=alarm, finding=outcome, now=now or timezone.now())
    ):
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


class AnomalyFlags:
    """When the anomaly model flagged the machines of a set of anomaly predictions since their last
    baseline reset, read in one query reaching back as far as the widest anomaly rule's window."""

    def __init__(self, predictions: list[Prediction], rules: dict[int, list[AlertRule]]):
        windows = [rule.window_minutes for group in rules.values() for rule in group]
        watched = [p for p in predictions if p.kind == Kind.ANOMALY]
        self._flagged: dict[int, list] = {}
        if not watched or not windows:
            return
        last_reset = MaintenanceEvent.objects.filter(machine=OuterRef("machine"), baseline_reset=True)
        flagged = (
            Prediction.objects.filter(
                machine__in={p.machine_id for p in watched},
                kind=Kind.ANOMALY,
                created_at__gte=min(p.created_at for p in watched) - timedelta(minutes=max(windows)),
                created_at__lte=max(p.created_at for p in watched),
                result__is_anomaly=True,
            )
            .annotate(since=Subquery(last_reset.order_by("-occurred_at").values("occurred_at")[:1]))
            .filter(Q(since__isnull=True) | Q(created_at__gte=F("since")))
        )
        for machine_pk, created_at in flagged.values_list("machine", "created_at"):
            self._flagged.setdefault(machine_pk, []).append(created_at)

    def count(self, prediction: Prediction, window_minutes: int) -> int:
        start = prediction.created_at - timedelta(minutes=window_minutes)
        flags = self._flagged.get(prediction.machine_id, ())
        return sum(start <= at <= prediction.created_at for at in flags)


def _anomaly_outcome(rule: AlertRule, prediction: Prediction, flags: AnomalyFlags):
    if prediction.kind != Kind.ANOMALY:
        return None
    flagged = flags.count(prediction, rule.window_minutes)
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


def predictions_evaluate(prediction_ids: Iterable[int]) -> int:
    """Evaluate the rules that a set of stored predictions feeds (a fleet batch or a single one), reading
    the predictions, the rules, the active alarms and the anomaly flags of their machines once for the
    set. Returns how many rule evaluations ran."""
    stored = Prediction.objects.select_related("machine__category").filter(
        pk__in=list(prediction_ids), kind__in=list(PREDICTION_RULES)
    )
    predictions = [p for p in stored.order_by("pk") if p.input.get("source") != WHAT_IF_SOURCE]
    if not predictions:
        return 0
    machines = {prediction.machine_id: prediction.machine for prediction in predictions}
    kinds = {rule for prediction in predictions for rule in PREDICTION_RULES[prediction.kind]}
    rules = rules_by_machine(list(machines.values()), kinds=kinds)
    anomaly_rules = {pk: [r for r in group if r.kind == Rule.ANOMALY_COUNT] for pk, group in rules.items()}
    flags = AnomalyFlags(predictions, anomaly_rules)
    active = ActiveAlarms(machines.values())
    now = timezone.now()
    evaluated = 0
    for prediction in predictions:
        machine = machines[prediction.machine_id]
        for rule in rules[machine.pk]:
            if rule.kind not in PREDICTION_RULES[prediction.kind]:
                continue
            if rule.kind == Rule.HEALTH_STATE:
                outcome = _health_outcome(rule, prediction)
            elif rule.kind == Rule.RUL_BELOW:
                outcome = _rul_outcome(rule, prediction)
            else:
                outcome = _anomaly_outcome(rule, prediction, flags)
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


def readings_evaluate(machine: Machine) -> int:
    """Sensor-limit rules over the readings stored since the machine's last evaluation."""
    if not _has_new_readings(machine):
        return 0
    with transaction.atomic():
        rows = _new_readings(machine)
        rules = rules_for(machine, kinds=[Rule.SENSOR_LIMIT])
        if not rows or not rules:
            return 0
        return _limits_evaluate(machine, rules, rows, ActiveAlarms([machine]), timezone.now())


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
    active = ActiveAlarms([job.machine])
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
    _apply(rule, report.machine, outcome, ActiveAlarms([report.machine]))
    return 1
