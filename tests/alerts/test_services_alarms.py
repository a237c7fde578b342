"""The lifecycle: open → acknowledged (who, when, comment) → resolved (who, when, how), every step in the
history; a resolved alarm whose condition holds again opens a new one."""

import pytest
from django.utils import timezone

from alerts.models import Alarm, AlertRule
from alerts.services.alarms import Finding, alarm_acknowledge, alarm_raise, alarm_resolve
from pdm_site.api import Conflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarm(motor, make_rule):
    rule = make_rule(AlertRule.Kind.HEALTH_STATE, state_at_least=2)
    raised, happened = alarm_raise(
        rule=rule, machine=motor, finding=Finding("Health state Warning", "warning")
    )
    assert happened == "raised"
    return raised


def test_acknowledge_then_resolve_records_who_when_and_why(alarm, operator, admin_user):
    before = timezone.now()
    alarm = alarm_acknowledge(alarm=alarm, user=operator, comment="  Checking the coupling ")
    assert alarm.status == Alarm.Status.ACKNOWLEDGED
    assert alarm.acknowledged_by == operator and alarm.acknowledged_at >= before
    assert alarm.acknowledge_comment == "Checking the coupling"
    alarm = alarm_resolve(alarm=alarm, user=admin_user, comment="Coupling realigned")
    assert (alarm.status, alarm.resolved_by, alarm.resolution) == ("resolved", admin_user, "manual")
    assert alarm.resolved_at >= alarm.acknowledged_at
    history = [(e.kind, e.user, e.comment) for e in alarm.events.order_by("created_at", "id")]
    assert history == [
        ("raised", None, ""),
        ("acknowledged", operator, "Checking the coupling"),
        ("resolved", admin_user, "Coupling realigned"),
    ]


def test_states_that_do_not_allow_a_step_answer_conflict(alarm, operator):
    alarm_acknowledge(alarm=alarm, user=operator)
    with pytest.raises(Conflict, match="already acknowledged by operator"):
        alarm_acknowledge(alarm=alarm, user=operator)
    alarm_resolve(alarm=alarm, user=operator)
    with pytest.raises(Conflict, match="already resolved"):
        alarm_resolve(alarm=alarm, user=operator)
    with pytest.raises(Conflict):
        alarm_acknowledge(alarm=alarm, user=operator)


def test_an_open_alarm_can_be_resolved_without_acknowledging(alarm, operator):
    assert alarm_resolve(alarm=alarm, user=operator).status == Alarm.Status.RESOLVED


def test_after_resolution_the_condition_opens_a_new_alarm_and_the_old_one_stays(alarm, operator):
    alarm_resolve(alarm=alarm, user=operator)
    again, happened = alarm_raise(rule=alarm.rule, machine=alarm.machine, finding=Finding("again", "warning"))
    assert happened == "raised" and again.pk != alarm.pk
    assert list(Alarm.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "open"]


def test_an_acknowledged_alarm_keeps_counting_and_escalates(alarm, operator):
    alarm_acknowledge(alarm=alarm, user=operator)
    same, happened = alarm_raise(rule=alarm.rule, machine=alarm.machine, finding=Finding("worse", "critical"))
    assert same.pk == alarm.pk and happened == "escalated"
    assert (same.status, same.severity, same.count) == ("acknowledged", "critical", 2)
