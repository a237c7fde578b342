"""The alerts pieces other pages show: the bell in every page's header, the dashboard's risk ranking and
recent alerts, a machine's alarms, drift and maintenance timeline, the models page's drift overview.

Inclusion tags read their own data, so a page adds a panel with one include line and no view change.
"""

from django import template

from accounts.roles import Role, has_role
from alerts import selectors
from alerts.models import SEVERITY_RANK

register = template.Library()
RISK_ROWS = 10
RECENT_ALARMS = 8


@register.inclusion_tag("alerts/_bell.html", takes_context=True)
def notification_bell(context):
    user = context["request"].user
    return {"unread": selectors.unread_count(user)}


@register.inclusion_tag("alerts/_risk.html")
def fleet_risk_panel(limit: int = RISK_ROWS):
    return {"alerts_risk": selectors.fleet_risk(limit=limit)}


@register.inclusion_tag("alerts/_recent.html")
def recent_alerts_panel(limit: int = RECENT_ALARMS):
    return {"alerts_recent": selectors.recent_alarms(limit=limit)}


@register.inclusion_tag("alerts/_machine_panel.html", takes_context=True)
def machine_alerts_panel(context, machine):
    user = context["request"].user
    return {
        "machine": machine,
        "active_alarms": list(selectors.alarms_filtered(machine=machine.machine_id, active=True)[:10]),
        "drift": selectors.latest_drift(machine),
        "timeline": selectors.machine_timeline(machine, limit=12),
        "can_operate": has_role(user, Role.OPERATOR),
        "csrf_token": context.get("csrf_token"),
        "request_path": context["request"].path,
    }


@register.inclusion_tag("alerts/_drift_models.html")
def drift_overview_panel():
    return {"reports": selectors.drift_overview()}


@register.filter
def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 0)


@register.filter
def risk_level(risk: float) -> str:
    """A colour class for a risk score: the health-state palette (SPEC §4)."""
    return "state-3" if risk >= 75 else "state-2" if risk >= 50 else "state-1" if risk >= 25 else "state-0"
