"""The alarm lifecycle: raised (or counted again while active) → acknowledged (who, when, comment) →
resolved by a person, by a finished work order, or automatically once the condition has stayed clear for
ALERTS_AUTO_RESOLVE_SECONDS. Every step is an AlarmEvent; raising, escalating, acknowledging and resolving
are announced after commit (notifications, webhooks)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from alerts.models import SEVERITY_RANK, Alarm, AlarmEvent, AlertRule
from alerts.services.dispatch import alarm_dispatch
from pdm_site.api import Conflict

Status = Alarm.Status
Event = AlarmEvent.Kind


@dataclass
class Finding:
    """A rule's condition seen to hold: what to show, what it saw, how severe this sighting is."""

    title: str
    severity: str
    message: str = ""
    details: dict = field(default_factory=dict)


def alarm_key(rule: AlertRule, machine) -> str:
    return f"{rule.pk}:{machine.pk if machine is not None else 0}"


def _event(alarm: Alarm, kind: str, *, user=None, comment: str = "", details: dict | None = None) -> None:
    AlarmEvent.objects.create(
        alarm=alarm,
        kind=kind,
        user=user if user is not None and user.is_authenticated else None,
        comment=comment,
        details=details or {},
    )


def _announce(alarm: Alarm, event: str) -> None:
    alarm_pk = alarm.pk
    transaction.on_commit(lambda: alarm_dispatch(alarm_pk, event))


@transaction.atomic
def alarm_raise(
    *, rule: AlertRule, machine, finding: Finding, job=None, now: datetime | None = None
) -> tuple[Alarm, str | None]:
    """Open an alarm for (rule, machine), or count this sighting on the active one.

    Returns the alarm and what happened: "raised", "escalated" (a higher severity than before),
    "returned" (the condition had cleared and holds again) or None (seen again)."""
    now = now or timezone.now()
    key = alarm_key(rule, machine)
    alarm = Alarm.objects.select_for_update().filter(key=key, status__in=Alarm.ACTIVE).first()
    if alarm is None:
        try:
            with transaction.atomic():
                alarm = Alarm.objects.create(
                    rule=rule,
                    kind=rule.kind,
                    machine=machine,
                    job=job,
                    key=key,
                    severity=finding.severity,
                    title=finding.title[:200],
                    message=finding.message,
                    details=finding.details,
                    first_seen_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            # Another process opened it since the lookup: count this sighting on it.
            alarm = Alarm.objects.select_for_update().get(key=key, status__in=Alarm.ACTIVE)
        else:
            _event(alarm, Event.RAISED, details=finding.details)
            _announce(alarm, Event.RAISED)
            return alarm, Event.RAISED
    happened = None
    if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[alarm.severity]:
        happened = Event.ESCALATED
        _event(alarm, happened, details={"from": alarm.severity, "to": finding.severity})
        alarm.severity = finding.severity
        _announce(alarm, happened)
    elif alarm.cleared_at is not None:
        happened = Event.RETURNED
        _event(alarm, happened, details=finding.details)
    alarm.count += 1
    alarm.last_seen_at = now
    alarm.cleared_at = None
    alarm.title, alarm.message, alarm.details = finding.title[:200], finding.message, finding.details
    alarm.job = job or alarm.job
    alarm.save(
        update_fields=[
            "count",
            "last_seen_at",
            "cleared_at",
            "title",
            "message",
            "details",
            "job",
            "severity",
        ]
    )
    return alarm, happened


def alarm_seen_again(*, alarm: Alarm, finding: Finding, now: datetime) -> bool:
    """Count another sighting on an active alarm that stays as it is (not escalated, not cleared) with one
    conditional UPDATE, no lock. False when that does not apply or the alarm changed since it was read:
    then `alarm_raise` takes it."""
    if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[alarm.severity] or alarm.cleared_at is not None:
        return False
    title = finding.title[:200]
    updated = Alarm.objects.filter(
        pk=alarm.pk, status__in=Alarm.ACTIVE, severity=alarm.severity, cleared_at__isnull=True
    ).update(
        count=F("count") + 1, last_seen_at=now, title=title, message=finding.message, details=finding.details
    )
    if updated:
        alarm.count += 1
        alarm.last_seen_at, alarm.title, alarm.message, alarm.details = (
            now,
            title,
            finding.message,
            finding.details,
        )
    return bool(updated)


@transaction.atomic
def alarm_condition_clear(*, alarm: Alarm, now: datetime | None = None) -> Alarm:
    """The condition no longer holds: note when (once), and resolve the alarm automatically once it has
    stayed clear for ALERTS_AUTO_RESOLVE_SECONDS."""
    now = now or timezone.now()
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if not alarm.is_active:
        return alarm
    if alarm.cleared_at is None:
        alarm.cleared_at = now
        alarm.save(update_fields=["cleared_at"])
        _event(alarm, Event.CLEARED)
    if now - alarm.cleared_at >= timedelta(seconds=settings.ALERTS_AUTO_RESOLVE_SECONDS):
        _resolve(alarm, user=None, resolution=Alarm.Resolution.AUTO, comment="", now=now)
    return alarm


@transaction.atomic
def alarm_acknowledge(*, alarm: Alarm, user, comment: str = "") -> Alarm:
    """Someone is on it (operators). Only an open alarm can be acknowledged."""
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if alarm.status != Status.OPEN:
        by = f" by {alarm.acknowledged_by}" if alarm.acknowledged_by_id else ""
        raise Conflict(f"Alarm {alarm.pk} is already {alarm.get_status_display().lower()}{by}.")
    alarm.status = Status.ACKNOWLEDGED
    alarm.acknowledged_by = user
    alarm.acknowledged_at = timezone.now()
    alarm.acknowledge_comment = comment.strip()
    alarm.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "acknowledge_comment"])
    _event(alarm, Event.ACKNOWLEDGED, user=user, comment=alarm.acknowledge_comment)
    _announce(alarm, Event.ACKNOWLEDGED)
    return alarm


@transaction.atomic
def alarm_resolve(
    *, alarm: Alarm, user, comment: str = "", resolution: str = Alarm.Resolution.MANUAL
) -> Alarm:
    """Close an open or acknowledged alarm; if the condition still holds, its next sighting opens another."""
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if not alarm.is_active:
        raise Conflict(f"Alarm {alarm.pk} is already resolved.")
    _resolve(alarm, user=user, resolution=resolution, comment=comment.strip(), now=timezone.now())
    return alarm


def _resolve(alarm: Alarm, *, user, resolution: str, comment: str, now: datetime) -> None:
    alarm.status = Status.RESOLVED
    alarm.resolved_by = user if user is not None and user.is_authenticated else None
    alarm.resolved_at = now
    alarm.resolution = resolution
    alarm.resolve_comment = comment
    alarm.save(update_fields=["status", "resolved_by", "resolved_at", "resolution", "resolve_comment"])
    _event(alarm, Event.RESOLVED, user=user, comment=comment, details={"resolution": resolution})
    _announce(alarm, Event.RESOLVED)


def alarm_note_work_order(*, alarm: Alarm, work_order, user) -> None:
    _event(alarm, Event.WORK_ORDER, user=user, details={"work_order": work_order.pk})


def alarms_auto_resolve(*, now: datetime | None = None) -> int:
    """Resolve the active alarms whose condition has stayed clear long enough (Celery beat): an alarm whose
    machine went quiet is resolved even without a new evaluation."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ALERTS_AUTO_RESOLVE_SECONDS)
    due = Alarm.objects.filter(status__in=Alarm.ACTIVE, cleared_at__isnull=False, cleared_at__lte=cutoff)
    resolved = 0
    for alarm in due:
        if alarm_condition_clear(alarm=alarm, now=now).status == Status.RESOLVED:
            resolved += 1
    return resolved
