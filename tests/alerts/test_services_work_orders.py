"""Work orders from an alarm and from an explanation, their transitions, and what closing records: the
maintenance timeline, a baseline reset, and confirmed failures as labelled runs for retraining."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alerts.models import Alarm, AlertRule, MaintenanceEvent, Notification, WorkOrder
from alerts.services.alarms import Finding, alarm_raise
from alerts.services.evaluation import predictions_evaluate
from alerts.services.failures import failure_dataset_create, labelled_readings
from alerts.services.work_orders import (
    work_order_close,
    work_order_create,
    work_order_from_alarm,
    work_order_from_explanation,
    work_order_start,
    work_order_update,
)
from assistant.models import Explanation
from pdm_site.api import Conflict
from predictions.models import Kind, RealDataset, SensorReading
from tests.alerts.conftest import add_prediction, set_health

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarm(motor, make_rule):
    rule = make_rule(AlertRule.Kind.RUL_BELOW, rul_hours=100, severity="critical")
    return alarm_raise(
        rule=rule, machine=motor, finding=Finding("RUL lower bound 48 h below 100 h", "critical")
    )[0]


@pytest.fixture
def explanation(motor):
    prediction = add_prediction(motor, Kind.HEALTH, {"state": 2, "confidence": 0.8})
    return Explanation.objects.create(
        prediction=prediction,
        machine=motor,
        text="Bearing wear is likely.",
        source=Explanation.Source.DRAFT,
        draft_text="Bearing wear is likely.",
        summary="Bearing wear is likely: the drive-end bearing runs 20 °C above its healthy level.",
        recommendations=[
            {"text": "Replace the drive-end bearing", "citation": 2},
            {"text": "Check the lubrication schedule", "citation": None},
        ],
        urgency={"level": "high", "label": "Act soon", "act_within_hours": 24, "reason": "Warning state"},
    )


def test_from_an_alarm_due_by_the_rul_lower_bound(alarm, operator, motor):
    set_health(motor, rul=90, rul_lower=48, rul_unit="hours")
    before = timezone.now()
    order = work_order_from_alarm(alarm=alarm, user=operator, assignee=operator)
    assert (order.machine, order.alarm, order.priority, order.status) == (motor, alarm, "critical", "open")
    assert order.task == "Inspect: RUL lower bound 48 h below 100 h" and order.due_basis == "rul_lower"
    assert before + timedelta(hours=48) <= order.due_at <= timezone.now() + timedelta(hours=48)
    assert alarm.events.filter(kind="work_order", details__work_order=order.pk, user=operator).exists()
    assert not Notification.objects.filter(user=operator).exists()  # one's own assignment is not news


def test_from_an_explanation_with_its_actions_and_the_earlier_due_date(
    explanation, operator, admin_user, motor
):
    set_health(motor, rul=90, rul_lower=48, rul_unit="hours")
    order = work_order_from_explanation(explanation=explanation, user=admin_user, assignee=operator)
    assert order.recommended_actions == [
        "Replace the drive-end bearing [2]",
        "Check the lubrication schedule",
    ]
    assert order.priority == "critical" and order.due_basis == "urgency"  # 24 h comes before 48 h
    assert order.task.startswith("Bearing wear is likely") and order.explanation == explanation
    (notification,) = Notification.objects.filter(user=operator)
    assert notification.title.startswith(f"Work order WO-{order.pk} assigned to you")


def test_without_rul_or_urgency_the_due_date_follows_the_priority(motor, operator):
    order = work_order_create(machine=motor, task="Grease the bearings", priority="info", user=operator)
    assert order.due_basis == "priority" and order.due_at > timezone.now() + timedelta(days=29)
    with pytest.raises(ValidationError) as caught:
        work_order_create(machine=motor, task=" ", user=operator)
    assert "task" in caught.value.detail


def test_only_operators_can_be_assigned(motor, operator, viewer):
    with pytest.raises(ValidationError) as caught:
        work_order_create(machine=motor, task="x", assignee=viewer, user=operator)
    assert "assignee" in caught.value.detail


def test_open_in_progress_done_and_done_is_final(alarm, operator):
    order = work_order_from_alarm(alarm=alarm, user=operator)
    order = work_order_start(work_order=order, user=operator)
    assert order.status == "in_progress" and order.started_at and order.assignee == operator
    with pytest.raises(Conflict):
        work_order_start(work_order=order, user=operator)
    order = work_order_update(work_order=order, data={"notes": "Parts ordered"}, user=operator)
    order = work_order_close(work_order=order, user=operator, outcome="completed", notes="Bearing replaced")
    assert (order.status, order.outcome, order.closed_by) == ("done", "completed", operator)
    assert order.notes == "Parts ordered\n\nBearing replaced"
    with pytest.raises(Conflict):
        work_order_update(work_order=order, data={"notes": "late"}, user=operator)
    with pytest.raises(Conflict):
        work_order_close(work_order=order, user=operator, outcome="completed")
    alarm.refresh_from_db()
    assert (alarm.status, alarm.resolution, alarm.resolved_by) == ("resolved", "work_order", operator)
    (event,) = MaintenanceEvent.objects.filter(machine=alarm.machine)
    assert event.kind == "maintenance" and not event.baseline_reset and event.work_order == order


def test_failure_confirmed_records_the_labelled_failure_and_resets_the_baseline(alarm, operator, motor):
    order = work_order_from_alarm(alarm=alarm, user=operator)
    failed_at = timezone.now() - timedelta(hours=1)
    work_order_close(
        work_order=order,
        user=operator,
        outcome="failure_confirmed",
        reset_baseline=True,
        failure_mode="bearing wear",
        failed_at=failed_at,
    )
    (event,) = MaintenanceEvent.objects.filter(machine=motor)
    assert (event.kind, event.failure_mode, event.baseline_reset) == ("failure", "bearing wear", True)
    assert event.occurred_at == failed_at and event.recorded_by == operator
    with pytest.raises(ValidationError):
        work_order_close(
            work_order=work_order_create(machine=motor, task="t", user=operator),
            user=operator,
            outcome="failure_confirmed",
            failed_at=timezone.now() + timedelta(hours=1),
        )


def test_a_baseline_reset_starts_the_anomaly_window_again(motor, make_rule, operator):
    make_rule(AlertRule.Kind.ANOMALY_COUNT, anomaly_count=2, window_minutes=60)
    add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True})
    order = work_order_create(machine=motor, task="Realign", user=operator)
    work_order_close(work_order=order, user=operator, outcome="completed", reset_baseline=True)
    predictions_evaluate([add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True}).pk])
    assert not Alarm.objects.exists()  # the anomaly before the maintenance no longer counts
    predictions_evaluate([add_prediction(motor, Kind.ANOMALY, {"is_anomaly": True}).pk])
    assert Alarm.objects.get().details["flagged"] == 2


def test_confirmed_failures_make_labelled_runs_for_retraining(motor, operator):
    start = timezone.now() - timedelta(hours=30)
    SensorReading.objects.bulk_create(
        SensorReading(
            machine=motor, timestamp=start + timedelta(hours=h), values={"vibration_mm_s": 2.5 + h / 10}
        )
        for h in range(30)
    )
    with pytest.raises(Conflict):
        failure_dataset_create(machine=motor, user=operator)
    events = [
        (start + timedelta(hours=9.5), "failure", False),  # run 1: readings 0–9
        (start + timedelta(hours=14.5), "maintenance", True),  # readings 10–14 censored by maintenance
        (start + timedelta(hours=24.5), "failure", True),  # run 2: readings 15–24; 25–29 not labelled yet
    ]
    for at, kind, reset in events:
        MaintenanceEvent.objects.create(machine=motor, kind=kind, occurred_at=at, baseline_reset=reset)
    frame = labelled_readings(motor)
    assert frame.groupby("run").size().to_dict() == {1: 10, 2: 10}
    assert frame["rul"].iloc[0] == pytest.approx(9.5) and frame["rul"].iloc[9] == pytest.approx(0.5)
    assert frame[frame["run"] == 2]["rul"].iloc[0] == pytest.approx(9.5)
    assert list(frame.columns) == ["run", "timestamp", "rul", "vibration_mm_s"]
    dataset = failure_dataset_create(machine=motor, user=operator)
    assert dataset.status == RealDataset.Status.ANALYSING and dataset.machine == motor
    assert dataset.name == f"{motor.machine_id}_confirmed_failures.parquet" and dataset.bytes > 0
    assert dataset.job.kind == "ingestion" and dataset.job.requested_by == operator


def test_a_machineless_alarm_has_nothing_to_maintain(make_rule, operator):
    rule = make_rule(AlertRule.Kind.JOB_FAILED)
    alarm = alarm_raise(rule=rule, machine=None, finding=Finding("Batch job failed", "warning"))[0]
    with pytest.raises(Conflict):
        work_order_from_alarm(alarm=alarm, user=operator)
    assert not WorkOrder.objects.exists()
