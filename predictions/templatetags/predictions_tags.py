"""Filters the predictions pages share: health states and small number formats."""

from django import template

from machines.models import HealthState

register = template.Library()


@register.filter
def health_of(machine):
    """The machine's MachineHealth, or None before its first refresh."""
    return getattr(machine, "health", None)


@register.filter
def state_label(state) -> str:
    return HealthState(state).label if isinstance(state, int) else "No prediction"


@register.filter
def state_class(state) -> str:
    """The CSS class of a state's colour (SPEC §4): state-0 … state-3, state-none."""
    return f"state-{state}" if isinstance(state, int) else "state-none"


@register.filter
def percent(value) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, int | float) else "—"


@register.filter
def number(value, digits: int = 1) -> str:
    """A reading or metric, rounded; — when missing."""
    if not isinstance(value, int | float):
        return "—"
    return f"{value:,.{int(digits)}f}"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
