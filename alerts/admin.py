"""Alerts in the Django admin: rules are edited here too (with the page's and the API's checks); alarms,
their history, notifications and deliveries are read-only records (the services write them)."""

from django.contrib import admin

from alerts.forms import AlertRuleForm
from alerts.models import (
    Alarm,
    AlarmEvent,
    AlertRule,
    DriftReport,
    MaintenanceEvent,
    Notification,
    NotificationPreference,
    Webhook,
    WebhookDelivery,
    WorkOrder,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "kind", "severity", "machine", "category", "enabled", "updated_at"]
    list_filter = ["kind", "severity", "enabled", "category"]
    search_fields = ["name", "description", "sensor", "machine__machine_id"]
    list_select_related = ["machine", "category"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class AlarmEventInline(admin.TabularInline):
    model = AlarmEvent
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "user", "comment", "details", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "severity", "status", "machine", "count", "first_seen_at", "last_seen_at"]
    list_filter = ["status", "severity", "kind"]
    search_fields = ["title", "message", "machine__machine_id"]
    list_select_related = ["machine"]
    inlines = [AlarmEventInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "kind", "severity", "title", "created_at", "read_at"]
    list_filter = ["kind", "severity"]
    search_fields = ["title", "user__username"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "browser_severities", "email_severities", "job_updates", "updated_at"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "severities", "events", "enabled"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "webhook", "event", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "task", "machine", "priority", "status", "assignee", "due_at", "outcome"]
    list_filter = ["status", "priority", "outcome"]
    search_fields = ["task", "machine__machine_id"]


@admin.register(MaintenanceEvent)
class MaintenanceEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "machine", "kind", "occurred_at", "baseline_reset", "failure_mode", "work_order"]
    list_filter = ["kind", "baseline_reset"]


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "machine", "max_psi", "drifted", "recent_rows", "created_at"]
    list_filter = ["drifted"]
