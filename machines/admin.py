"""The back office: machines with their sensors, categories with theirs, profile versions.

Writes go through the services, so the admin keeps the rules of the page and the API: the machine form
validates as a whole profile, saves write a profile version, deletions announce machine_deleted.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError

from machines.forms import CategorySensorsFormSet, MachineSensorsFormSet, path_errors
from machines.models import Machine, MachineCategory, MachineSensor, ProfileVersion, SensorSpec
from machines.profile_formats import ordered_profile
from machines.selectors import machine_profile
from machines.services import (
    CatalogueConflict,
    catalogue_changed,
    machine_create,
    machine_delete,
    machine_set_active,
    machine_update,
    profile_version_restore,
)

SENSOR_FIELDS = ("order", "name", "unit", "description", "base", "range", "noise")


class SensorSpecInline(admin.TabularInline):
    model = SensorSpec
    formset = CategorySensorsFormSet
    fields = SENSOR_FIELDS
    extra = 0


@admin.register(MachineCategory)
class MachineCategoryAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "max_rul_hours",
        "cycles",
        "degradation_pattern",
        "rul_noise_hours",
        "machine_count",
    )
    list_filter = ("degradation_pattern",)
    search_fields = ("name", "description")
    inlines = [SensorSpecInline]
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (
            "RUL profile",
            {
                "fields": (
                    "max_rul_hours",
                    "cycles",
                    "degradation_pattern",
                    "rul_noise_hours",
                    "failure_modes",
                )
            },
        ),
        (
            "Health-state thresholds (RUL fraction)",
            {"fields": ("healthy_above", "degrading_above", "warning_above")},
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(machine_count=Count("machines"))

    @admin.display(ordering="machine_count", description="machines")
    def machine_count(self, category):
        return category.machine_count

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        catalogue_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalogue_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        catalogue_changed()


class MachineSensorInline(admin.TabularInline):
    model = MachineSensor
    formset = MachineSensorsFormSet
    fields = SENSOR_FIELDS
    extra = 0


@admin.register(Machine)
class MachineAdmin(admin.ModelAdmin):
    list_display = ("machine_id", "category", "manufacturer", "model", "location", "is_active", "updated_at")
    list_filter = ("category", "is_active", "manufacturer")
    search_fields = ("machine_id", "manufacturer", "model", "location")
    list_select_related = ("category",)
    inlines = [MachineSensorInline]
    fields = (
        "machine_id",
        "category",
        "manufacturer",
        "model",
        "location",
        "operational_parameters",
        "is_active",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("created_by", "created_at", "updated_at")
    actions = ("activate", "deactivate", "export_profiles")

    def get_readonly_fields(self, request, obj=None):
        # The machine_id names the machine's data and models: it never changes.
        return (*self.readonly_fields, "machine_id") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Save through the services, with the profile that MachineSensorsFormSet validated."""
        profile = obj.validated_profile
        if change:
            machine_update(machine=obj, profile=profile, user=request.user, note="Edited in the admin")
            saved_active = Machine.objects.filter(pk=obj.pk).values_list("is_active", flat=True).get()
            if obj.is_active != saved_active:
                machine_set_active(machine=obj, active=obj.is_active, user=request.user)
        else:
            created = machine_create(profile=profile, user=request.user, note="Created in the admin")
            if not obj.is_active:
                machine_set_active(machine=created, active=False, user=request.user)
            obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """The services wrote the sensors with the rest of the profile: nothing is left to save."""

    def construct_change_message(self, request, form, formsets, add=False):
        return construct_change_message(form, [], add)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A machine's profile versions go with it, though nobody may delete them one by one.
        perms_needed.discard(ProfileVersion._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        try:
            machine_delete(machine=obj, user=request.user)
        except CatalogueConflict as exc:
            messages.error(request, str(exc))

    def delete_queryset(self, request, queryset):
        for machine in queryset:
            self.delete_model(request, machine)

    @admin.action(description="Activate the selected machines")
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate the selected machines")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, active: bool):
        machines = list(queryset)
        for machine in machines:
            machine_set_active(machine=machine, active=active, user=request.user)
        state = "active" if active else "inactive"
        self.message_user(request, f"{len(machines)} machine(s) are now {state}.", messages.SUCCESS)

    @admin.action(description="Export the selected profiles as JSON")
    def export_profiles(self, request, queryset):
        machines = queryset.select_related("category").prefetch_related("sensors")
        profiles = [machine_profile(machine) for machine in machines]
        response = HttpResponse(
            json.dumps(profiles, indent=2, ensure_ascii=False) + "\n", content_type="application/json"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="machine-profiles-{stamp}.json"'
        return response


@admin.register(ProfileVersion)
class ProfileVersionAdmin(admin.ModelAdmin):
    list_display = ("machine", "number", "note", "author", "created_at")
    list_filter = ("machine__category", "created_at")
    search_fields = ("machine__machine_id", "note")
    list_select_related = ("machine", "author")
    fields = ("machine", "number", "note", "author", "created_at", "diff_view", "document_view")
    readonly_fields = fields
    actions = ("restore",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="changes from the previous version")
    def diff_view(self, version):
        return format_html("<pre>{}</pre>", version.diff or "First version.")

    @admin.display(description="profile document")
    def document_view(self, version):
        document = ordered_profile(version.document)
        return format_html("<pre>{}</pre>", json.dumps(document, indent=2, ensure_ascii=False))

    @admin.action(description="Restore the selected versions (one per machine)")
    def restore(self, request, queryset):
        versions = list(queryset.select_related("machine"))
        machines = [version.machine_id for version in versions]
        if len(set(machines)) != len(machines):
            self.message_user(request, "Select at most one version per machine.", messages.ERROR)
            return
        for version in versions:
            try:
                profile_version_restore(version=version, user=request.user)
            except ValidationError as exc:
                problems = "; ".join(f"{error.path}: {error.messages[0]}" for error in path_errors(exc))
                self.message_user(request, f"{version} cannot be restored: {problems}", messages.ERROR)
            else:
                self.message_user(request, f"{version} restored.", messages.SUCCESS)
