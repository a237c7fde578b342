"""Template tags other apps' pages use to show synthetic-data state."""

from django import template

register = template.Library()


@register.inclusion_tag("gan/_workflow.html", takes_context=True)
def machine_workflow(context, machine):
    """The machine's workflow panel: `{% load gan_tags %}{% machine_workflow machine %}`."""
    from gan.views import workflow_context

    return workflow_context(machine, request=context["request"])


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
