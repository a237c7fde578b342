from django import template
from django.utils.safestring import mark_safe

from accounts.roles import Role, has_role
from assistant import selectors
from assistant.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> str:
    """Markdown as sanitised HTML (assistant.rendering); safe to mark: nh3 produced it."""
    return mark_safe(render_markdown(text))


@register.inclusion_tag("assistant/_explain_box.html", takes_context=True)
def explain_panel(context, machine=None, latest=None):
    """The Explain panel: for one machine (its latest prediction), or with a machine picker (no machine).
    `latest`: the machine's newest prediction of each kind, where the page has read them."""
    user = context["request"].user
    # A variable missing from the page's context arrives as "".
    panel = selectors.explain_panel_state(machine, latest=latest or None)
    return {**panel, "can_ask": has_role(user, Role.OPERATOR), "picker": machine is None}
