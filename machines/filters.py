"""The machine list's filters, search and ordering: one definition for the page and the API."""

from django.db.models import Q
from django_filters import rest_framework as filters

from machines.models import Machine

ORDERINGS = (
    ("machine_id", "machine_id"),
    ("category__name", "category"),
    ("manufacturer", "manufacturer"),
    ("model", "model"),
    ("location", "location"),
    ("sensor_count", "sensors"),
    ("is_active", "is_active"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
)


class MachineFilter(filters.FilterSet):
    category = filters.CharFilter(field_name="category__name", help_text="A category name, e.g. motor.")
    is_active = filters.BooleanFilter(help_text="true: active machines only; false: inactive ones.")
    search = filters.CharFilter(
        method="filter_search", help_text="Text in the machine_id, manufacturer, model, location or category."
    )
    ordering = filters.OrderingFilter(
        fields=ORDERINGS, help_text="A field to sort by; a leading minus sorts descending, e.g. -updated_at."
    )

    class Meta:
        model = Machine
        fields = ["category", "is_active"]

    def filter_search(self, queryset, name, value):
        query = Q()
        for term in value.split():
            query &= (
                Q(machine_id__icontains=term)
                | Q(manufacturer__icontains=term)
                | Q(model__icontains=term)
                | Q(location__icontains=term)
                | Q(category__name__icontains=term)
            )
        return queryset.filter(query)
