"""Reads shared by the pages and the API: alarms, the fleet's risk ranking, notifications (always one
user's own), work orders, a machine's maintenance timeline, drift reports."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Max, Q, QuerySet
from django.urls import reverse

from accounts.roles import Role
from alerts.models import (
    Alarm,
    AlarmEvent,
    AlertRule,
    DriftReport,
    MaintenanceEvent,
    Notification,
    Severity,
    Webhook,
    WebhookDelivery,
    WorkOrder,
)
from alerts.services.notifications import NOTIFICATIONS, users_with_role
from machines.models import HealthState, Machine
from pdm_site import versions
from predictions.models import MachineHealth

# Risk 0–100: up to 70 from the machine's condition (its health state or how much of its life the RUL
# lower bound says is used, whichever is worse), up to 30 from its active alarms.
UNREAD_SECONDS = 300
CONDITION_WEIGHT = 70
ALARM_WEIGHT = {Severity.CRITICAL: 15, Severity.WARNING: 7, Severity.INFO: 2}
ALARM_CAP = 30


def alarm_list() -> QuerySet[Alarm]:
    return Alarm.objects.select_related("machine", "rule", "acknowledged_by", "resolved_by")


# What alarm listings show of the related rows: the machine's id, the rule's name, who acknowledged or
# resolved it. Their other columns (profiles, rule settings, password hashes) stay in the database: selecting
# and compiling them was a third of the alarms page.
LISTED_RELATED = ("machine__machine_id", "rule__name", "acknowledged_by__username", "resolved_by__username")


def alarm_rows() -> QuerySet[Alarm]:
    """Alarms for listings (pages and the API): their own columns and LISTED_RELATED."""
    own = [field.name for field in Alarm._meta.concrete_fields]
    return alarm_list().only(*own, *LISTED_RELATED)


def alarms_filtered(
    *, status: str = "", severity: str = "", machine: str = "", kind: str = "", active: bool | None = None
) -> QuerySet[Alarm]:
    alarms = alarm_rows()
    if status:
        alarms = alarms.filter(status=status)
    if active is True:
        alarms = alarms.filter(status__in=Alarm.ACTIVE)
    elif active is False:
        alarms = alarms.filter(status=Alarm.Status.RESOLVED)
    if severity:
        alarms = alarms.filter(severity=severity)
    if machine:
        alarms = alarms.filter(machine__machine_id=machine)
    if kind:
        alarms = alarms.filter(kind=kind)
    return alarms.order_by("-last_seen_at", "-id")


def alarm_events(alarm: Alarm) -> QuerySet[AlarmEvent]:
    return alarm.events.select_related("user").order_by("created_at", "id")


def recent_alarms(*, limit: int = 8) -> list[Alarm]:
    return list(alarm_rows().order_by("-first_seen_at", "-id")[:limit])


def active_alarm_counts() -> dict[str, int]:
    counts = dict.fromkeys(Severity.values, 0)
    for row in Alarm.objects.filter(status__in=Alarm.ACTIVE).values("severity").annotate(n=Count("id")):
        counts[row["severity"]] = row["n"]
    return counts


def rule_list() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("machine", "category").order_by("kind", "name", "id")


# --- Fleet risk -------------------------------------------------------------------------------------------


@dataclass
class RiskRow:
    machine: Machine
    health: MachineHealth | None
    risk: float
    alarms: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def open_alarms(self) -> int:
        return sum(self.alarms.values())


def _life_used(machine: Machine, health: MachineHealth | None) -> float | None:
    if health is None or health.rul_lower is None or health.rul_unit not in ("hours", ""):
        return None
    return min(1.0, max(0.0, 1 - health.rul_lower / machine.category.max_rul_hours))


def machine_risk(machine: Machine, health: MachineHealth | None, alarms: dict[str, int]) -> RiskRow:
    reasons = []
    condition = 0.0
    if health is not None and health.state is not None:
        condition = health.state / HealthState.CRITICAL
        if health.state >= HealthState.WARNING:
            reasons.append(HealthState(health.state).label)
    life = _life_used(machine, health)
    if life is not None:
        condition = max(condition, life)
        reasons.append(f"RUL ≥ {health.rul_lower:,.0f} h")
    alarm_points = min(ALARM_CAP, sum(ALARM_WEIGHT[s] * n for s, n in alarms.items()))
    if alarms:
        total = sum(alarms.values())
        reasons.append(f"{total} open alarm{'s' if total > 1 else ''}")
    return RiskRow(machine, health, round(CONDITION_WEIGHT * condition + alarm_points, 1), alarms, reasons)


def fleet_risk(*, limit: int | None = None) -> list[RiskRow]:
    """Active machines, riskiest first (then the lowest RUL lower bound, then the name)."""
    machines = list(Machine.objects.filter(is_active=True).select_related("category", "health"))
    alarms: dict[int, dict[str, int]] = {}
    rows = (
        Alarm.objects.filter(status__in=Alarm.ACTIVE, machine__isnull=False)
        .values("machine_id", "severity")
        .annotate(n=Count("id"))
    )
    for row in rows:
        alarms.setdefault(row["machine_id"], {})[row["severity"]] = row["n"]
    ranked = [machine_risk(m, getattr(m, "health", None), alarms.get(m.pk, {})) for m in machines]
    ranked.sort(
        key=lambda r: (
            -r.risk,
            r.health.rul_lower if r.health is not None and r.health.rul_lower is not None else float("inf"),
            r.machine.machine_id,
        )
    )
    return ranked[:limit] if limit else ranked


# --- Notifications (one user's own) ----------------------------------------------------------------------


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("alarm").order_by("-created_at", "-id")


def unread_count(user) -> int:
    """The bell's count, kept in the cache until a notification changes (every page shows it)."""
    if not user.is_authenticated:
        return 0
    return versions.cached(
        NOTIFICATIONS,
        f"unread:{user.pk}",
        lambda: Notification.objects.filter(user=user, read_at__isnull=True).count(),
        seconds=UNREAD_SECONDS,
    )


# --- Work orders, timeline --------------------------------------------------------------------------------


def work_order_list() -> QuerySet[WorkOrder]:
    return WorkOrder.objects.select_related("machine", "assignee", "alarm", "created_by", "closed_by")


def assignable_users():
    return users_with_role(Role.OPERATOR).order_by("username")


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    text: str
    url: str = ""
    severity: str = ""


def machine_timeline(machine: Machine, *, limit: int = 30) -> list[TimelineEntry]:
    """Alarms, work orders and maintenance/failure events of the machine, newest first."""
    entries = [
        TimelineEntry(
            event.occurred_at,
            event.kind,
            f"{event.get_kind_display()}{' — baseline reset' if event.baseline_reset else ''}: "
            f"{event.description}{f' ({event.failure_mode})' if event.failure_mode else ''}",
        )
        for event in MaintenanceEvent.objects.filter(machine=machine).order_by("-occurred_at")[:limit]
    ]
    entries += [
        TimelineEntry(
            alarm.first_seen_at,
            "alarm",
            f"Alarm: {alarm.title} ({alarm.get_status_display().lower()})",
            reverse("alerts:alarm", args=[alarm.pk]),
            alarm.severity,
        )
        for alarm in Alarm.objects.filter(machine=machine).order_by("-first_seen_at")[:limit]
    ]
    entries += [
        TimelineEntry(
            order.created_at,
            "work_order",
            f"WO-{order.pk}: {order.task} ({order.get_status_display().lower()})",
            reverse("alerts:work_order", args=[order.pk]),
            order.priority,
        )
        for order in WorkOrder.objects.filter(machine=machine).order_by("-created_at")[:limit]
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


# --- Drift, webhooks --------------------------------------------------------------------------------------


def latest_drift(machine: Machine) -> DriftReport | None:
    return DriftReport.objects.filter(machine=machine).select_related("model_version").first()


def drift_overview() -> list[DriftReport]:
    """The latest report of every machine, most drifted first."""
    latest = DriftReport.objects.values("machine").annotate(last=Max("pk")).values("last")
    return list(
        DriftReport.objects.filter(pk__in=latest)
        .select_related("machine", "model_version")
        .order_by(F("max_psi").desc(nulls_last=True), "machine__machine_id")
    )


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.annotate(
        failed=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED))
    ).order_by("name")


def webhook_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.select_related("alarm").order_by("-created_at", "-id")
