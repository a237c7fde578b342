"""Notifications: the bell and live toasts (one row per user, pushed to the user's own socket group), email
through Django's email framework (queued, so SMTP never slows the flow that raised the alarm), per-user
preferences, read marks. A user only ever reads and marks their own notifications."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.roles import ROLE_PERMISSIONS, Role
from alerts.models import SEVERITIES, Alarm, Notification, NotificationPreference, Severity
from gan.models import Job
from pdm_site import versions
from pdm_site.celery import app as celery_app
from pdm_site.realtime import broadcast

# The version topic (pdm_site.versions) of every user's notifications: the bells' counts are cached on it.
NOTIFICATIONS = "notifications"

logger = logging.getLogger(__name__)
User = get_user_model()
EMAIL_TASK = "alerts.tasks.send_emails"
JOB_SEVERITY = {Job.Status.FAILURE: Severity.WARNING}
JOB_OUTCOME = {
    Job.Status.SUCCESS: "finished",
    Job.Status.FAILURE: "failed",
    Job.Status.CANCELLED: "was cancelled",
}


def user_group(user_pk: int) -> str:
    return f"notifications_{user_pk}"


def users_with_role(role: Role):
    """Active users holding `role` (through a group or directly) and superusers."""
    codename = ROLE_PERMISSIONS[role][0]
    permission = Permission.objects.get(content_type__app_label="accounts", codename=codename)
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions=permission) | Q(user_permissions=permission))
        .distinct()
    )


# --- Preferences ------------------------------------------------------------------------------------------


def preference_of(user) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.get_or_create(user=user)
    return preference


def _preferences(users) -> dict[int, NotificationPreference]:
    """Each user's preferences; the defaults for users who never saved any."""
    stored = {p.user_id: p for p in NotificationPreference.objects.filter(user__in=users)}
    return {user.pk: stored.get(user.pk) or NotificationPreference(user=user) for user in users}


def _severities(errors: dict, field: str, value) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(item not in SEVERITIES for item in value):
        errors[field] = [f"a list of severities from {', '.join(SEVERITIES)} (empty: none)"]
        return None
    return [severity for severity in SEVERITIES if severity in value]


@transaction.atomic
def preference_update(*, user, data: dict) -> NotificationPreference:
    """Change the user's own preferences (any role); fields left out keep their values."""
    errors: dict[str, list[str]] = {}
    browser = _severities(errors, "browser_severities", data.get("browser_severities"))
    email = _severities(errors, "email_severities", data.get("email_severities"))
    job_updates = data.get("job_updates")
    if job_updates is not None and not isinstance(job_updates, bool):
        errors["job_updates"] = ["true or false"]
    if errors:
        raise ValidationError(errors)
    preference = preference_of(user)
    if browser is not None:
        preference.browser_severities = browser
    if email is not None:
        preference.email_severities = email
    if job_updates is not None:
        preference.job_updates = job_updates
    preference.save()
    return preference


# --- Sending ----------------------------------------------------------------------------------------------


def notification_message(notification: Notification, unread: int) -> dict:
    """The socket frame of one notification (the toast and the bell's new count)."""
    alarm = notification.alarm
    return {
        "type": "notification",
        "notification": {
            "id": notification.pk,
            "kind": notification.kind,
            "severity": notification.severity,
            "title": notification.title,
            "body": notification.body,
            "url": notification.url,
            "created_at": notification.created_at.isoformat(),
            "alarm": {"id": alarm.pk, "status": alarm.status} if alarm is not None else None,
        },
        "unread": unread,
    }


def unread_counts(user_pks) -> dict[int, int]:
    rows = (
        Notification.objects.filter(user_id__in=list(user_pks), read_at__isnull=True)
        .values("user_id")
        .annotate(unread=Count("id"))
    )
    return {row["user_id"]: row["unread"] for row in rows}


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    url: str
    severity: str


def _send(message: Message, *, browser_users, email_to: list[str], kind: str, alarm=None, job=None):
    """Store one notification per browser user and push each to its user's sockets after commit; queue
    one email to `email_to`. Returns the stored notifications."""
    stored = Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                kind=kind,
                severity=message.severity,
                title=message.title[:200],
                body=message.body,
                url=message.url,
                alarm=alarm,
                job=job,
            )
            for user in browser_users
        ]
    )
    if stored:
        notifications_changed()
        transaction.on_commit(lambda: _push(stored))
    if email_to:
        subject = f"[PdM {message.severity}] {message.title}"
        text = f"{message.body}\n\n{_absolute(message.url)}" if message.url else message.body
        transaction.on_commit(lambda: _queue_email(subject, text, email_to))
    return stored


def _push(notifications: list[Notification]) -> None:
    counts = unread_counts({n.user_id for n in notifications})
    for notification in notifications:
        try:
            broadcast(
                user_group(notification.user_id),
                {
                    "type": "notification.message",
                    "message": notification_message(notification, counts.get(notification.user_id, 0)),
                },
            )
        except Exception:  # a channel layer outage must not fail the flow that raised the alarm
            logger.exception("could not push notification %s", notification.pk)


def _queue_email(subject: str, body: str, recipients: list[str]) -> None:
    try:
        celery_app.send_task(EMAIL_TASK, args=[subject, body, recipients])
    except Exception:
        logger.exception("could not queue the email %r", subject)


def _absolute(url: str) -> str:
    return f"{settings.ALERTS_SITE_URL.rstrip('/')}{url}" if url.startswith("/") else url


def alarm_notify(alarm: Alarm, event: str) -> list[Notification]:
    """Tell every user allowed to see alarms (every role), on the channels their preferences choose."""
    where = alarm.machine.machine_id if alarm.machine_id else "the platform"
    happened = "raised" if event == "raised" else f"now {alarm.severity}"
    message = Message(
        title=f"{alarm.get_severity_display()}: {alarm.title}",
        body=f"Alarm {happened} on {where}. {alarm.message}".strip(),
        url=reverse("alerts:alarm", args=[alarm.pk]),
        severity=alarm.severity,
    )
    users = list(users_with_role(Role.VIEWER))
    preferences = _preferences(users)
    return _send(
        message,
        browser_users=[u for u in users if alarm.severity in preferences[u.pk].browser_severities],
        email_to=[u.email for u in users if u.email and alarm.severity in preferences[u.pk].email_severities],
        kind=Notification.Kind.ALARM,
        alarm=alarm,
    )


def _job_url(job: Job) -> str:
    return reverse("machines:detail", args=[job.machine.machine_id]) if job.machine_id else ""


def job_notify(job: Job) -> list[Notification]:
    """Tell whoever started the job that it ended, unless they turned job updates off."""
    user = job.requested_by
    if user is None or not user.is_active:
        return []
    preference = _preferences([user])[user.pk]
    if not preference.job_updates:
        return []
    severity = JOB_SEVERITY.get(job.status, Severity.INFO)
    target = f" of {job.machine.machine_id}" if job.machine_id else ""
    message = Message(
        title=f"Job {job.pk} ({job.get_kind_display().lower()}{target}) "
        f"{JOB_OUTCOME.get(job.status, job.status)}",
        body=job.error[:500] if job.status == Job.Status.FAILURE else job.message,
        url=_job_url(job),
        severity=severity,
    )
    return _send(
        message,
        browser_users=[user] if severity in preference.browser_severities else [],
        email_to=[user.email] if user.email and severity in preference.email_severities else [],
        kind=Notification.Kind.JOB,
        job=job,
    )


def notification_test(*, user) -> list[Notification]:
    """A test message to the user on both channels, whatever the preferences: does it arrive?"""
    message = Message(
        title="Test notification",
        body="Notifications reach you here. Your preferences choose which alarms do.",
        url=reverse("alerts:preferences"),
        severity=Severity.INFO,
    )
    return _send(
        message,
        browser_users=[user],
        email_to=[user.email] if user.email else [],
        kind=Notification.Kind.TEST,
    )


def user_notify(*, user, title: str, body: str, url: str, kind: str, severity: str = Severity.INFO):
    """A message for one user (e.g. a work order assigned to them), on their preferred channels."""
    preference = _preferences([user])[user.pk]
    return _send(
        Message(title=title, body=body, url=url, severity=severity),
        browser_users=[user] if severity in preference.browser_severities else [],
        email_to=[user.email] if user.email and severity in preference.email_severities else [],
        kind=kind,
    )


# --- Reading ----------------------------------------------------------------------------------------------


@transaction.atomic
def notification_read(*, notification: Notification, user) -> Notification:
    """Mark one of the user's own notifications read (the caller looked it up among the user's own)."""
    if notification.user_id != user.pk:
        raise PermissionDenied("Not your notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_read_all(*, user) -> int:
    marked = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    notifications_changed()
    return marked


def notifications_changed() -> None:
    """The bells' cached counts are dropped (pdm_site.versions); saves and deletes call this through
    signals, bulk writes explicitly."""
    versions.changed(NOTIFICATIONS)
