"""Maintenance work orders (operators): from an alarm, from an explanation, or by hand; open → in progress →
done. Closing records what was done on the machine's timeline (MaintenanceEvent): maintenance that may
reset the health baseline, or a confirmed failure — the labelled ground truth of services.failures."""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from accounts.roles import Role, has_role
from alerts.models import Alarm, MaintenanceEvent, Notification, Severity, WorkOrder
from alerts.services.alarms import alarm_note_work_order, alarm_resolve
from alerts.services.notifications import user_notify
from assistant.models import Explanation
from machines.models import Machine
from pdm_site.api import Conflict
from predictions.models import MachineHealth
from predictions.services.telemetry import refresh_request

Status = WorkOrder.Status
Outcome = WorkOrder.Outcome
# Without an RUL or an urgency, the due date follows the priority.
DUE_BY_PRIORITY = {
    Severity.CRITICAL: timedelta(days=1),
    Severity.WARNING: timedelta(days=7),
    Severity.INFO: timedelta(days=30),
}
URGENCY_PRIORITY = {"critical": Severity.CRITICAL, "high": Severity.CRITICAL, "medium": Severity.WARNING}
MAX_ACTIONS = 20


def _user(user):
    return user if user is not None and user.is_authenticated else None


def _check_assignee(assignee) -> None:
    if assignee is not None and not (assignee.is_active and has_role(assignee, Role.OPERATOR)):
        raise ValidationError(
            {"assignee": [f"{assignee} cannot do maintenance: choose an operator or admin"]}
        )


def _actions(actions) -> list[str]:
    if actions is None:
        return []
    if not isinstance(actions, list) or any(not isinstance(a, str) for a in actions):
        raise ValidationError({"recommended_actions": ["a list of texts, one action each"]})
    cleaned = [action.strip() for action in actions if action.strip()]
    if len(cleaned) > MAX_ACTIONS:
        raise ValidationError({"recommended_actions": [f"at most {MAX_ACTIONS} actions"]})
    return cleaned


def _datetime(field: str, value) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ValidationError({field: ["an ISO 8601 date-time, e.g. 2025-06-01T08:00:00Z"]})
    try:
        # In UTC: ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59.
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValidationError({field: ["out of range once converted to UTC"]}) from exc


def rul_lower_hours(machine: Machine) -> float | None:
    """The machine's current RUL lower bound in hours (None when unknown or in other units)."""
    health = MachineHealth.objects.filter(machine=machine).first()
    if health is None or health.rul_lower is None or health.rul_unit not in ("hours", ""):
        return None
    return max(0.0, health.rul_lower)


def due_date(
    machine: Machine, priority: str, *, urgency_hours: float | None = None, now: datetime | None = None
) -> tuple[datetime, str]:
    """(due, basis): the earlier of the RUL lower bound and the explanation's urgency, else by priority."""
    now = now or timezone.now()
    candidates = []
    if (lower := rul_lower_hours(machine)) is not None:
        candidates.append((now + timedelta(hours=lower), "rul_lower"))
    if urgency_hours is not None:
        candidates.append((now + timedelta(hours=urgency_hours), "urgency"))
    if candidates:
        return min(candidates)
    return now + DUE_BY_PRIORITY[priority], "priority"


@transaction.atomic
def work_order_create(
    *,
    machine: Machine,
    task: str,
    user,
    description: str = "",
    recommended_actions: list[str] | None = None,
    priority: str = Severity.WARNING,
    due_at=None,
    assignee=None,
    alarm: Alarm | None = None,
    explanation: Explanation | None = None,
    urgency_hours: float | None = None,
) -> WorkOrder:
    task = (task or "").strip()
    if not task:
        raise ValidationError({"task": ["required: what to do, e.g. Replace the drive-end bearing"]})
    if priority not in Severity.values:
        raise ValidationError({"priority": [f"one of {', '.join(Severity.values)}"]})
    _check_assignee(assignee)
    due = _datetime("due_at", due_at)
    basis = "given"
    if due is None:
        due, basis = due_date(machine, priority, urgency_hours=urgency_hours)
    order = WorkOrder.objects.create(
        machine=machine,
        alarm=alarm,
        explanation=explanation,
        task=task[:200],
        description=description or "",
        recommended_actions=_actions(recommended_actions),
        priority=priority,
        due_at=due,
        due_basis=basis,
        assignee=assignee,
        created_by=_user(user),
    )
    if alarm is not None:
        alarm_note_work_order(alarm=alarm, work_order=order, user=user)
    _tell_assignee(order, user)
    return order


def work_order_from_alarm(*, alarm: Alarm, user, assignee=None, task: str = "") -> WorkOrder:
    """A work order for the alarm's machine: its title as the task, its severity as the priority."""
    if alarm.machine_id is None:
        raise Conflict(f"Alarm {alarm.pk} is not about a machine: there is nothing to maintain.")
    return work_order_create(
        machine=alarm.machine,
        task=task or f"Inspect: {alarm.title}",
        description=f"From alarm #{alarm.pk}: {alarm.message}".strip(),
        priority=alarm.severity,
        assignee=assignee,
        alarm=alarm,
        user=user,
    )


def work_order_from_explanation(
    *, explanation: Explanation, user, assignee=None, task: str = ""
) -> WorkOrder:
    """A work order with the explanation's recommended actions (and their manual citations), its urgency as
    the priority, due by the RUL lower bound or the urgency, whichever comes first."""
    actions = [
        f"{item['text']} [{item['citation']}]" if item.get("citation") else item["text"]
        for item in explanation.recommendations
        if isinstance(item, dict) and item.get("text")
    ]
    urgency = explanation.urgency or {}
    return work_order_create(
        machine=explanation.machine,
        task=task or (explanation.summary.splitlines()[0][:200] if explanation.summary else "Maintenance"),
        description=explanation.summary,
        recommended_actions=actions,
        priority=URGENCY_PRIORITY.get(urgency.get("level"), Severity.INFO),
        urgency_hours=urgency.get("act_within_hours"),
        assignee=assignee,
        explanation=explanation,
        user=user,
    )


def _tell_assignee(order: WorkOrder, user) -> None:
    if order.assignee_id and order.assignee_id != getattr(user, "pk", None):
        user_notify(
            user=order.assignee,
            title=f"Work order WO-{order.pk} assigned to you: {order.task}",
            body=f"{order.machine.machine_id}, due {order.due_at:%Y-%m-%d %H:%M} UTC.",
            url=reverse("alerts:work_order", args=[order.pk]),
            kind=Notification.Kind.WORK_ORDER,
            severity=order.priority,
        )


@transaction.atomic
def work_order_update(*, work_order: WorkOrder, data: dict, user) -> WorkOrder:
    """Edit the task, description, actions, priority, due date, assignee or notes of an unfinished order."""
    order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if order.status == Status.DONE:
        raise Conflict(f"WO-{order.pk} is done: it can no longer change.")
    previous_assignee = order.assignee_id
    if "task" in data:
        if not (data["task"] or "").strip():
            raise ValidationError({"task": ["required"]})
        order.task = data["task"].strip()[:200]
    for field in ("description", "notes"):
        if field in data:
            setattr(order, field, data[field] or "")
    if "recommended_actions" in data:
        order.recommended_actions = _actions(data["recommended_actions"])
    if "priority" in data:
        if data["priority"] not in Severity.values:
            raise ValidationError({"priority": [f"one of {', '.join(Severity.values)}"]})
        order.priority = data["priority"]
    if "due_at" in data:
        order.due_at, order.due_basis = _datetime("due_at", data["due_at"]), "given"
    if "assignee" in data:
        _check_assignee(data["assignee"])
        order.assignee = data["assignee"]
    order.save()
    if order.assignee_id != previous_assignee:
        _tell_assignee(order, user)
    return order


@transaction.atomic
def work_order_start(*, work_order: WorkOrder, user) -> WorkOrder:
    order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if order.status != Status.OPEN:
        raise Conflict(f"WO-{order.pk} is {order.get_status_display().lower()}: only an open order starts.")
    order.status, order.started_at = Status.IN_PROGRESS, timezone.now()
    order.assignee = order.assignee or _user(user)
    order.save(update_fields=["status", "started_at", "assignee", "updated_at"])
    return order


@transaction.atomic
def work_order_close(
    *,
    work_order: WorkOrder,
    user,
    outcome: str,
    reset_baseline: bool = False,
    notes: str = "",
    failure_mode: str = "",
    failed_at=None,
) -> WorkOrder:
    """Done: record the outcome on the machine's timeline, resolve the order's alarm.

    completed → a maintenance event (resetting the health baseline if asked); failure_confirmed → a failure
    event at `failed_at` (default now), the label retraining reads; no_fault → nothing, unless the
    baseline is reset."""
    order = (
        WorkOrder.objects.select_for_update(of=("self",))
        .select_related("machine", "alarm")
        .get(pk=work_order.pk)
    )
    if order.status == Status.DONE:
        raise Conflict(f"WO-{order.pk} is already done.")
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": [f"one of {', '.join(Outcome.values)}"]})
    now = timezone.now()
    failed = _datetime("failed_at", failed_at) or now
    if failed > now:
        raise ValidationError({"failed_at": ["a failure cannot be confirmed in the future"]})
    order.status, order.outcome, order.baseline_reset = Status.DONE, outcome, bool(reset_baseline)
    order.closed_at, order.closed_by = now, _user(user)
    if notes.strip():
        order.notes = f"{order.notes}\n\n{notes.strip()}".strip()
    order.save()
    _record_event(order, outcome, failed, failure_mode, user)
    if order.alarm is not None and order.alarm.is_active:
        alarm_resolve(
            alarm=order.alarm,
            user=user,
            comment=f"WO-{order.pk} done: {order.get_outcome_display().lower()}",
            resolution=Alarm.Resolution.WORK_ORDER,
        )
    if order.baseline_reset:
        machine_pk = order.machine_id
        # The dashboard shows the machine after maintenance without waiting for the next reading.
        transaction.on_commit(lambda: refresh_request(machine_pk))
    return order


def _record_event(order: WorkOrder, outcome: str, failed_at: datetime, failure_mode: str, user) -> None:
    if outcome == Outcome.FAILURE_CONFIRMED:
        kind, at = MaintenanceEvent.Kind.FAILURE, failed_at
    elif outcome == Outcome.COMPLETED or order.baseline_reset:
        kind, at = MaintenanceEvent.Kind.MAINTENANCE, order.closed_at
    else:
        return
    MaintenanceEvent.objects.create(
        machine=order.machine,
        kind=kind,
        occurred_at=at,
        description=f"WO-{order.pk}: {order.task}",
        failure_mode=failure_mode.strip()[:120] if kind == MaintenanceEvent.Kind.FAILURE else "",
        baseline_reset=order.baseline_reset,
        work_order=order,
        recorded_by=_user(user),
    )
