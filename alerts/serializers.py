"""API shapes of the alerts app. Types only: the rules (scopes, limits, transitions) live in the services,
so the pages and the API share them."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from alerts.models import (
    Alarm,
    AlarmEvent,
    AlertRule,
    DriftReport,
    MaintenanceEvent,
    Notification,
    NotificationPreference,
    Severity,
    Webhook,
    WebhookDelivery,
    WorkOrder,
)
from assistant.models import Explanation
from gan.models import Job
from machines.models import Machine, MachineCategory
from pdm_site.api import NameLookupField

User = get_user_model()


def _username(user) -> str | None:
    return user.username if user is not None else None


# --- Rules ------------------------------------------------------------------------------------------------


class AlertRuleSerializer(serializers.ModelSerializer):
    machine = NameLookupField(
        slug_field="machine_id", queryset=Machine.objects.all(), required=False, allow_null=True
    )
    category = NameLookupField(
        slug_field="name", queryset=MachineCategory.objects.all(), required=False, allow_null=True
    )
    scope = serializers.CharField(read_only=True)
    job_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Job.Kind.choices), required=False, allow_empty=True
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "scope",
            "machine",
            "category",
            "severity",
            "enabled",
            "description",
            "state_at_least",
            "rul_hours",
            "rul_fraction",
            "anomaly_count",
            "window_minutes",
            "sensor",
            "lower_limit",
            "upper_limit",
            "limit_fraction",
            "job_kinds",
            "psi_threshold",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # Kinds read different fields: which are needed is checked by services.rules.rule_check.
        extra_kwargs = {"kind": {"required": True}, "name": {"required": True}}


# --- Alarms -----------------------------------------------------------------------------------------------


class AlarmEventSerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField()

    class Meta:
        model = AlarmEvent
        fields = ["kind", "user", "comment", "details", "created_at"]

    def get_user(self, event) -> str | None:
        return _username(event.user)


class AlarmSerializer(serializers.ModelSerializer):
    machine = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = Alarm
        fields = [
            "id",
            "title",
            "message",
            "kind",
            "severity",
            "status",
            "machine",
            "rule",
            "job",
            "details",
            "count",
            "first_seen_at",
            "last_seen_at",
            "cleared_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledge_comment",
            "resolved_by",
            "resolved_at",
            "resolution",
            "resolve_comment",
        ]

    def get_machine(self, alarm) -> str | None:
        return alarm.machine.machine_id if alarm.machine_id else None

    def get_rule(self, alarm) -> dict | None:
        return {"id": alarm.rule.pk, "name": alarm.rule.name} if alarm.rule_id else None

    def get_acknowledged_by(self, alarm) -> str | None:
        return _username(alarm.acknowledged_by)

    def get_resolved_by(self, alarm) -> str | None:
        return _username(alarm.resolved_by)


class AlarmDetailSerializer(AlarmSerializer):
    events = AlarmEventSerializer(many=True, read_only=True)

    class Meta(AlarmSerializer.Meta):
        fields = [*AlarmSerializer.Meta.fields, "events"]


class AlarmActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# --- Work orders ------------------------------------------------------------------------------------------


class WorkOrderSerializer(serializers.ModelSerializer):
    machine = serializers.SlugRelatedField(slug_field="machine_id", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    outcome = serializers.ChoiceField(
        choices=WorkOrder.Outcome.choices, allow_blank=True, read_only=True, help_text="Blank until closed."
    )

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "machine",
            "alarm",
            "explanation",
            "task",
            "description",
            "recommended_actions",
            "priority",
            "due_at",
            "due_basis",
            "assignee",
            "status",
            "notes",
            "outcome",
            "baseline_reset",
            "created_by",
            "created_at",
            "updated_at",
            "started_at",
            "closed_at",
            "closed_by",
        ]
        read_only_fields = fields


class _Assignee(NameLookupField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=User.objects.all(), allow_null=True, **kwargs)


class WorkOrderCreateSerializer(serializers.Serializer):
    """From an alarm, from an explanation, or by hand (machine and task)."""

    alarm = serializers.PrimaryKeyRelatedField(queryset=Alarm.objects.all(), required=False, allow_null=True)
    explanation = serializers.PrimaryKeyRelatedField(
        queryset=Explanation.objects.all(), required=False, allow_null=True
    )
    machine = NameLookupField(
        slug_field="machine_id", queryset=Machine.objects.all(), required=False, allow_null=True
    )
    task = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    recommended_actions = serializers.ListField(
        child=serializers.CharField(max_length=1000), required=False, default=list
    )
    priority = serializers.ChoiceField(choices=Severity.choices, required=False, default="warning")
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    assignee = _Assignee(required=False, default=None)


class WorkOrderUpdateSerializer(serializers.Serializer):
    task = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    recommended_actions = serializers.ListField(child=serializers.CharField(max_length=1000), required=False)
    priority = serializers.ChoiceField(choices=Severity.choices, required=False)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    assignee = _Assignee(required=False)


class WorkOrderCloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=WorkOrder.Outcome.choices)
    reset_baseline = serializers.BooleanField(required=False, default=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    failure_mode = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    failed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MaintenanceEventSerializer(serializers.ModelSerializer):
    machine = serializers.SlugRelatedField(slug_field="machine_id", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MaintenanceEvent
        fields = [
            "id",
            "machine",
            "kind",
            "occurred_at",
            "description",
            "failure_mode",
            "baseline_reset",
            "work_order",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class FailureDatasetSerializer(serializers.Serializer):
    real_dataset = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    job = serializers.IntegerField(source="job_id")
    url = serializers.SerializerMethodField()

    def get_url(self, dataset) -> str:
        return f"/api/v1/real-datasets/{dataset.pk}/"


# --- Webhooks ---------------------------------------------------------------------------------------------


class WebhookSerializer(serializers.ModelSerializer):
    severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), required=False
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Webhook.Event.choices), required=False, allow_empty=True
    )
    secret = serializers.CharField(
        required=False, min_length=16, max_length=128, help_text="Left out: one is generated."
    )
    failed_deliveries = serializers.IntegerField(source="failed", read_only=True, default=0)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "secret",
            "severities",
            "events",
            "enabled",
            "failed_deliveries",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "alarm",
            "status",
            "attempts",
            "attempt_log",
            "response_status",
            "error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "body",
        ]
        read_only_fields = fields


# --- Notifications ----------------------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    alarm_status = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "severity",
            "title",
            "body",
            "url",
            "alarm",
            "alarm_status",
            "job",
            "created_at",
            "read_at",
        ]
        read_only_fields = fields

    def get_alarm_status(self, notification) -> str | None:
        return notification.alarm.status if notification.alarm_id else None


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    browser_severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), required=False, allow_empty=True
    )
    email_severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), required=False, allow_empty=True
    )

    class Meta:
        model = NotificationPreference
        fields = ["browser_severities", "email_severities", "job_updates", "updated_at"]
        read_only_fields = ["updated_at"]


# --- Fleet risk, drift ------------------------------------------------------------------------------------


class RiskRowSerializer(serializers.Serializer):
    machine_id = serializers.CharField(source="machine.machine_id")
    category = serializers.CharField(source="machine.category.name")
    risk = serializers.FloatField(
        help_text="0–100: condition (state, RUL lower bound) up to 70, alarms up to 30."
    )
    state = serializers.IntegerField(source="health.state", allow_null=True, default=None)
    rul_lower = serializers.FloatField(source="health.rul_lower", allow_null=True, default=None)
    open_alarms = serializers.DictField(source="alarms", child=serializers.IntegerField())
    reasons = serializers.ListField(child=serializers.CharField())


class DriftReportSerializer(serializers.ModelSerializer):
    machine = serializers.SlugRelatedField(slug_field="machine_id", read_only=True)

    class Meta:
        model = DriftReport
        fields = [
            "id",
            "machine",
            "model_version",
            "reference",
            "recent_rows",
            "window_from",
            "window_to",
            "sensors",
            "max_psi",
            "psi_threshold",
            "drifted",
            "created_at",
        ]
        read_only_fields = fields
