"""Each rule kind raising and clearing in the flow that stores what it watches, de-duplication while an
alarm is active, escalation, and automatic resolution once the condition stays clear."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alarm, AlarmEvent, AlertRule
from alerts.services.alarms import alarms_auto_resolve
from alerts.services.evaluation import job_evaluate, predictions_evaluate, readings_evaluate
from gan.models import Job
from predictions.models import Kind
from predictions.signals import predictions_stored
from tests.alerts.conftest import add_prediction, add_reading, health_prediction

Rule = AlertRule.Kind
Status = Alarm.Status
pytestmark = pytest.mark.django_db


def active(machine=None) -> list[Alarm]:
    return list(Alarm.objects.filter(status__in=Alarm.ACTIVE, machine=machine))


def event_kinds(alarm: Alarm) -> list[str]:
    return list(alarm.events.order_by("created_at", "id").values_list("kind", flat=True))


def test_health_state_raises_at_warning_escalates_at_critical_and_clears(motor, make_rule, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    predictions_evaluate([health_prediction(motor, 1).pk])
    assert active(motor) == []
    predictions_evaluate([health_prediction(motor, 2).pk])
    (alarm,) = active(motor)
    assert (alarm.severity, alarm.title, alarm.count) == ("warning", "Health state Warning", 1)
    predictions_evaluate([health_prediction(motor, 3).pk])
    alarm.refresh_from_db()
    assert (alarm.severity, alarm.count, alarm.title) == ("critical", 2, "Health state Critical")
    predictions_evaluate([health_prediction(motor, 0).pk])
    alarm.refresh_from_db()
    assert alarm.status == Status.RESOLVED and alarm.resolution == Alarm.Resolution.AUTO
    assert event_kinds(alarm) == ["raised", "escalated", "cleared", "resolved"]


def test_rul_lower_bound_below_a_fraction_of_the_category_life(motor, make_rule, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    make_rule(Rule.RUL_BELOW, rul_fraction=0.1, severity="critical")  # motor: 1,000 h → 100 h
    predictions_evaluate([add_prediction(motor, Kind.RUL, {"rul": 300, "lower": 150, "unit": "hours"}).pk])
    assert active(motor) == []
    predictions_evaluate([add_prediction(motor, Kind.RUL, {"rul": 120, "lower": 80, "unit": "hours"}).pk])
    (alarm,) = active(motor)
    assert alarm.severity == "critical" and alarm.details["limit"] == 100 and alarm.details["lower"] == 80
    # RUL in other units (cycles of a real dataset) is not compared with hours.
    predictions_evaluate([add_prediction(motor, Kind.RUL, {"rul": 10, "lower": 5, "unit": "cycles"}).pk])
    alarm.refresh_from_db()
    assert alarm.count == 1
    predictions_evaluate([add_prediction(motor, Kind.RUL, {"rul": 400, "lower": 250, "unit": "hours"}).pk])
    alarm.refresh_from_db()
    assert alarm.status == Status.RESOLVED


def test_rul_state_feeds_the_health_rule_when_no_health_model_serves(motor, make_rule):
    make_rule(Rule.HEALTH_STATE, state_at_least=3)
    predictions_evaluate(
        [add_prediction(motor, Kind.RUL, {"rul": 50, "lower": 30, "unit": "hours", "state": 3}).pk]
    )
    assert [a.severity for a in active(motor)] == ["critical"]


def test_anomalies_raise_at_k_within_the_window_and_clear_below(motor, make_rule, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    make_rule(Rule.ANOMALY_COUNT, anomaly_count=3, window_minutes=60)
    old = add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True, "normalized_score": 0.9})
    old.created_at = timezone.now() - timedelta(hours=2)  # outside the window
    old.save(update_fields=["created_at"])
    for _ in range(2):
        predictions_evaluate(
            [add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True, "normalized_score": 0.9}).pk]
        )
    assert active(motor) == []
    predictions_evaluate(
        [add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True, "normalized_score": 0.95}).pk]
    )
    (alarm,) = active(motor)
    assert alarm.details["flagged"] == 3 and alarm.details["count"] == 3
    # The flagged ones age out of the window.
    motor.predictions.filter(kind=Kind.ANOMALY).update(created_at=timezone.now() - timedelta(hours=3))
    predictions_evaluate(
        [add_prediction(motor, Kind.ANOMALY, {"is_anomaly": False, "normalized_score": 0.1}).pk]
    )
    alarm.refresh_from_db()
    assert alarm.status == Status.RESOLVED


def test_sensor_limits_raise_on_an_excursion_and_clear_when_back_inside(motor, make_rule, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    rule = make_rule(Rule.SENSOR_LIMIT, limit_fraction=0.9)  # vibration 2.5/5.0/0.15 → [-2, 7]
    add_reading(motor, seconds_ago=30)
    assert readings_evaluate(motor) == 1 and active(motor) == []  # the first look: the latest reading
    add_reading(motor, {"vibration_mm_s": 7.9}, seconds_ago=20)
    add_reading(motor, {"vibration_mm_s": 8.4}, seconds_ago=10)
    readings_evaluate(motor)
    (alarm,) = active(motor)
    assert (
        alarm.rule == rule and alarm.details["sensor"] == "vibration_mm_s" and alarm.details["value"] == 8.4
    )
    assert alarm.details["excursions"] == 2 and alarm.title.startswith("vibration_mm_s 8.4 outside")
    assert readings_evaluate(motor) == 0  # nothing new since
    add_reading(motor, seconds_ago=5)
    readings_evaluate(motor)
    alarm.refresh_from_db()
    assert alarm.status == Status.RESOLVED and event_kinds(alarm)[-2:] == ["cleared", "resolved"]


def test_a_sensor_with_a_rule_of_its_own_leaves_the_every_sensor_rule(motor, make_rule):
    every = make_rule(Rule.SENSOR_LIMIT, limit_fraction=0.9)
    own = make_rule(Rule.SENSOR_LIMIT, sensor="vibration_mm_s", upper_limit=20.0, category=motor.category)
    add_reading(motor, seconds_ago=10)
    readings_evaluate(motor)
    add_reading(motor, {"vibration_mm_s": 9.0})
    readings_evaluate(motor)
    assert active(motor) == []  # 9 is inside the sensor's own limit, and `every` does not look at it
    add_reading(motor, {"vibration_mm_s": 25.0, "current_A": 40.0})
    readings_evaluate(motor)
    assert {alarm.rule for alarm in active(motor)} == {every, own}
    assert Alarm.objects.get(rule=every).details["sensor"] == "current_A"


def test_one_active_alarm_per_rule_and_machine_counts_the_repeats(make_machine, make_rule):
    motor, other = make_machine("motor_dedup_001"), make_machine("motor_dedup_002")
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    for _ in range(4):
        predictions_evaluate([health_prediction(motor, 2).pk])
    predictions_evaluate([health_prediction(other, 2).pk])
    (alarm,) = active(motor)
    assert alarm.count == 4 and alarm.last_seen_at > alarm.first_seen_at
    assert event_kinds(alarm) == ["raised"]  # repeats only count up
    assert len(active(other)) == 1


def test_a_condition_that_returns_before_auto_resolution_keeps_its_alarm(motor, make_rule):
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    predictions_evaluate([health_prediction(motor, 2).pk])
    predictions_evaluate([health_prediction(motor, 0).pk])
    (alarm,) = active(motor)
    assert alarm.cleared_at is not None  # cleared, waiting ALERTS_AUTO_RESOLVE_SECONDS (300 s)
    predictions_evaluate([health_prediction(motor, 2).pk])
    alarm.refresh_from_db()
    assert alarm.cleared_at is None and alarm.count == 2
    assert event_kinds(alarm) == ["raised", "cleared", "returned"]


def test_the_sweep_resolves_alarms_that_stayed_clear_long_enough(motor, make_rule):
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    predictions_evaluate([health_prediction(motor, 2).pk])
    predictions_evaluate([health_prediction(motor, 0).pk])
    assert alarms_auto_resolve() == 0
    assert alarms_auto_resolve(now=timezone.now() + timedelta(seconds=301)) == 1
    assert Alarm.objects.get().resolution == Alarm.Resolution.AUTO


def test_what_if_predictions_say_nothing_about_the_machine(motor, make_rule):
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    assert predictions_evaluate([add_prediction(motor, Kind.HEALTH, {"state": 3}, source="request").pk]) == 0
    assert active(motor) == []


def test_the_predictions_stored_event_evaluates_after_commit(
    motor, make_rule, django_capture_on_commit_callbacks
):
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    prediction = health_prediction(motor, 3)
    with django_capture_on_commit_callbacks(execute=True):
        predictions_stored.send(sender=None, prediction_ids=[prediction.pk], kinds={"health"})
    (alarm,) = active(motor)
    assert alarm.severity == "critical"


def test_a_fleet_batch_is_evaluated_per_machine_in_a_few_queries(
    make_machine, make_rule, django_assert_max_num_queries
):
    """Every machine's rules, alarms and anomaly window as if alone — read once for the whole batch, so a
    healthy fleet costs the same handful of queries whatever its size."""
    make_rule(Rule.HEALTH_STATE, state_at_least=2)
    make_rule(Rule.RUL_BELOW, rul_hours=100)
    make_rule(Rule.ANOMALY_COUNT, anomaly_count=2, window_minutes=60)
    machines = [make_machine(f"motor_batch_{n:03d}") for n in range(12)]
    add_prediction(machines[0], Kind.ANOMALY, {"is_anomaly": True})  # one flag already in the window
    batch = []
    for machine in machines:
        batch += [
            add_prediction(machine, Kind.HEALTH, {"state": 0}),
            add_prediction(machine, Kind.RUL, {"rul": 900, "lower": 800, "unit": "hours"}),
            add_prediction(machine, Kind.ANOMALY, {"is_anomaly": False}),
        ]
    with django_assert_max_num_queries(6):
        assert predictions_evaluate([p.pk for p in batch]) == 12 * 3
    assert active() == [] and Alarm.objects.count() == 0

    sick = [
        add_prediction(machines[0], Kind.HEALTH, {"state": 3}),
        add_prediction(machines[0], Kind.ANOMALY, {"is_anomaly": True}),
        add_prediction(machines[1], Kind.RUL, {"rul": 60, "lower": 40, "unit": "hours"}),
        add_prediction(machines[2], Kind.ANOMALY, {"is_anomaly": True}),
    ]
    predictions_evaluate([p.pk for p in sick])
    raised = {(a.machine.machine_id, a.kind) for a in Alarm.objects.filter(status__in=Alarm.ACTIVE)}
    assert raised == {
        ("motor_batch_000", Rule.HEALTH_STATE),
        ("motor_batch_000", Rule.ANOMALY_COUNT),  # two flags within the hour
        ("motor_batch_001", Rule.RUL_BELOW),
    }


def test_a_failed_job_raises_and_a_later_success_of_its_kind_clears(motor, make_rule, settings):
    settings.ALERTS_AUTO_RESOLVE_SECONDS = 0
    make_rule(Rule.JOB_FAILED, job_kinds=["train"])
    seed = Job.objects.create(kind="seed", task_name="t", machine=motor, status=Job.Status.FAILURE, error="x")
    job_evaluate(seed.pk)
    assert active(motor) == []  # seed jobs are not watched by this rule
    failed = Job.objects.create(
        kind="train",
        task_name="t",
        machine=motor,
        status=Job.Status.FAILURE,
        error="RuntimeError: out of memory",
    )
    job_evaluate(failed.pk)
    (alarm,) = active(motor)
    assert alarm.job == failed and "out of memory" in alarm.message
    job_evaluate(Job.objects.create(kind="train", task_name="t", machine=motor, status=Job.Status.SUCCESS).pk)
    alarm.refresh_from_db()
    assert alarm.status == Status.RESOLVED


def test_a_job_without_a_machine_raises_a_fleet_wide_alarm(make_rule):
    make_rule(Rule.JOB_FAILED)
    for _ in range(2):
        job_evaluate(
            Job.objects.create(kind="batch", task_name="t", status=Job.Status.FAILURE, error="boom").pk
        )
    (alarm,) = active(None)
    assert alarm.count == 2 and alarm.machine is None
    assert AlarmEvent.objects.filter(alarm=alarm, kind="raised").count() == 1


def test_a_rule_changed_in_the_admin_or_the_api_applies_at_the_next_evaluation(motor, make_rule):
    """The per-process rule table is reloaded after any save or delete of a rule."""
    rule = make_rule(Rule.HEALTH_STATE, state_at_least=3)
    predictions_evaluate([health_prediction(motor, 2).pk])
    assert active(motor) == []
    rule.state_at_least = 2
    rule.save()  # as the admin saves it
    predictions_evaluate([health_prediction(motor, 2).pk])
    assert len(active(motor)) == 1
    rule.delete()
    make_rule(Rule.RUL_BELOW, rul_hours=100)
    predictions_evaluate([health_prediction(motor, 3).pk])
    assert Alarm.objects.get().count == 1  # the deleted health rule is gone from the table
