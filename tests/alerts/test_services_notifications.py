"""Who is told what: every role sees alarms, on the channels each user's preferences choose; the end of a
job goes to whoever started it; read marks are one's own."""

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.roles import Role
from alerts.models import AlertRule, Notification
from alerts.services import notifications
from alerts.services.alarms import Finding, alarm_raise
from alerts.services.notifications import (
    alarm_notify,
    job_notify,
    notification_read,
    notifications_read_all,
    preference_of,
    preference_update,
    users_with_role,
)
from gan.models import Job
from gan.services.jobs import job_execute, job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def critical_alarm(motor, make_rule):
    rule = make_rule(AlertRule.Kind.RUL_BELOW, rul_hours=100, severity="critical")
    return alarm_raise(
        rule=rule, machine=motor, finding=Finding("RUL lower bound 80 h below 100 h", "critical")
    )[0]


def test_every_role_is_told_but_not_users_without_one(users, make_user, critical_alarm):
    make_user(None, "norole")
    notified = alarm_notify(critical_alarm, "raised")
    assert sorted(n.user.username for n in notified) == ["admin", "operator", "viewer"]
    assert all(n.url == f"/alerts/alarms/{critical_alarm.pk}/" and n.severity == "critical" for n in notified)
    assert notified[0].title == "Critical: RUL lower bound 80 h below 100 h"
    assert set(users_with_role(Role.OPERATOR).values_list("username", flat=True)) == {"admin", "operator"}


def test_preferences_choose_the_severities_per_channel(users, critical_alarm):
    preference_update(user=users["viewer"], data={"browser_severities": ["warning"]})
    preference_update(user=users["admin"], data={"email_severities": []})
    notified = alarm_notify(critical_alarm, "raised")
    assert sorted(n.user.username for n in notified) == ["admin", "operator"]


def test_preference_updates_are_checked_and_partial(viewer):
    assert preference_of(viewer).email_severities == ["critical"]  # the default
    preference = preference_update(user=viewer, data={"email_severities": ["critical", "warning"]})
    assert preference.email_severities == ["warning", "critical"] and preference.browser_severities == [
        "info",
        "warning",
        "critical",
    ]
    with pytest.raises(ValidationError) as caught:
        preference_update(user=viewer, data={"browser_severities": ["loud"], "job_updates": "yes"})
    assert set(caught.value.detail) == {"browser_severities", "job_updates"}


def test_email_is_queued_for_the_users_who_want_this_severity(
    users, critical_alarm, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(notifications.celery_app, "send_task", lambda name, args: queued.append((name, args)))
    for user in users.values():
        user.email = f"{user.username}@example.com"
        user.save()
    preference_update(user=users["viewer"], data={"email_severities": ["warning"]})
    with django_capture_on_commit_callbacks(execute=True):
        alarm_notify(critical_alarm, "raised")
    ((task, (subject, body, recipients)),) = queued
    assert task == "alerts.tasks.send_emails"
    assert sorted(recipients) == ["admin@example.com", "operator@example.com"]
    assert subject == "[PdM critical] Critical: RUL lower bound 80 h below 100 h"
    assert f"/alerts/alarms/{critical_alarm.pk}/" in body and critical_alarm.machine.machine_id in body


def test_read_marks_are_ones_own(viewer, operator, critical_alarm):
    notified = {n.user.username: n for n in alarm_notify(critical_alarm, "raised")}
    with pytest.raises((PermissionDenied, DjangoPermissionDenied)):
        notification_read(notification=notified["operator"], user=viewer)
    assert notification_read(notification=notified["viewer"], user=viewer).read_at is not None
    assert Notification.objects.get(pk=notified["operator"].pk).read_at is None
    assert notifications_read_all(user=operator) == 1 and notifications_read_all(user=operator) == 0


def test_the_end_of_a_job_is_told_to_whoever_started_it(
    operator, viewer, motor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = job_start(kind=Job.Kind.SEED, task_name="gan.tasks.generate_seed", machine=motor, user=operator)

    def fail(job, reporter):
        raise RuntimeError("disk full")

    with django_capture_on_commit_callbacks(execute=True):
        job_execute(job_id=job.pk, work=fail)
    (notification,) = Notification.objects.filter(kind=Notification.Kind.JOB)
    assert notification.user == operator and notification.severity == "warning"
    assert (
        notification.title == f"Job {job.pk} (seed of {motor.machine_id}) failed"
        and "disk full" in notification.body
    )
    # Turned off: nothing.
    preference_update(user=operator, data={"job_updates": False})
    assert job_notify(Job.objects.get(pk=job.pk)) == []
