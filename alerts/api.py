"""The alerts API: rules (admins write), alarms (list, filter, acknowledge, resolve), work orders, webhooks
and their deliveries (admins), the caller's own notifications and preferences, the fleet's risk ranking,
drift reports with retraining, and the maintenance timeline with its failure labels.

Roles (SPEC §6): everyone reads; viewers mark their own notifications read and change their own
preferences; operators acknowledge and resolve alarms and manage work orders; admins edit rules and
webhooks. Notifications and preferences are always the caller's own: another user's id answers 404.
"""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role
from alerts import selectors
from alerts.models import Alarm, AlertRule, MaintenanceEvent, Notification, WorkOrder
from alerts.serializers import (
    AlarmActionSerializer,
    AlarmDetailSerializer,
    AlarmSerializer,
    AlertRuleSerializer,
    DriftReportSerializer,
    FailureDatasetSerializer,
    MaintenanceEventSerializer,
    NotificationPreferenceSerializer,
    NotificationSerializer,
    ReadAllSerializer,
    RiskRowSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WorkOrderCloseSerializer,
    WorkOrderCreateSerializer,
    WorkOrderSerializer,
    WorkOrderUpdateSerializer,
)
from alerts.services import rules, webhooks, work_orders
from alerts.services.alarms import alarm_acknowledge, alarm_resolve
from alerts.services.drift import drift_compute, drift_retrain
from alerts.services.failures import failure_dataset_create
from alerts.services.notifications import (
    notification_read,
    notifications_read_all,
    preference_of,
    preference_update,
)
from gan.serializers import JobStartedSerializer
from machines.models import Machine
from pdm_site.api import Conflict, UtcDateTimeFilter

CONFLICT = OpenApiResponse(
    description="The current state does not allow it (e.g. an alarm already resolved)."
)


def _machine(machine_id: str) -> Machine:
    return get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)


# --- Rules ------------------------------------------------------------------------------------------------


class AlertRuleFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")
    category = filters.CharFilter(field_name="category__name")

    class Meta:
        model = AlertRule
        fields = ["kind", "severity", "enabled", "machine", "category"]


RULE_EXAMPLES = [
    OpenApiExample(
        "RUL lower bound below 120 h for one category",
        value={
            "name": "Pumps: RUL below 120 h",
            "kind": "rul_below",
            "category": "pump",
            "rul_hours": 120,
            "severity": "critical",
        },
        request_only=True,
    ),
    OpenApiExample(
        "A sensor with explicit limits on one machine",
        value={
            "name": "Bearing too hot",
            "kind": "sensor_limit",
            "machine": "motor_abb_m3bp_002",
            "sensor": "bearing_de_temp_C",
            "upper_limit": 70,
            "severity": "warning",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Anomalies: 3 within an hour, every machine",
        value={
            "name": "Repeated anomalies",
            "kind": "anomaly_count",
            "anomaly_count": 3,
            "window_minutes": 60,
        },
        request_only=True,
    ),
]


@extend_schema(
    description="Rules per category, machine, or every machine (neither). For one machine, a narrower "
    "scope replaces wider ones of the same kind (and sensor). Kinds and their fields: `health_state` "
    "(state_at_least 1–3), `rul_below` (rul_hours, or rul_fraction of the category's max RUL), "
    "`anomaly_count` (anomaly_count within window_minutes), `sensor_limit` (sensor with lower_limit/"
    "upper_limit, or limit_fraction: base ± fraction × range from the profile; no sensor: every sensor), "
    "`job_failed` (job_kinds, empty: all), `drift` (psi_threshold, empty: ALERTS_DRIFT_PSI). Admins write."
)
class AlertRuleViewSet(viewsets.ModelViewSet):
    serializer_class = AlertRuleSerializer
    filterset_class = AlertRuleFilter
    search_fields = ["name", "description", "sensor"]
    ordering_fields = ["kind", "name", "updated_at"]
    write_role = Role.ADMIN

    def get_queryset(self):
        return selectors.rule_list()

    @extend_schema(examples=RULE_EXAMPLES)
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = rules.rule_create(data=serializer.validated_data, user=request.user)
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        rule = self.get_object()
        serializer = self.get_serializer(rule, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        rule = rules.rule_update(rule=rule, data=serializer.validated_data, user=request.user)
        return Response(self.get_serializer(rule).data)

    def destroy(self, request, *args, **kwargs):
        rules.rule_delete(rule=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Alarms -----------------------------------------------------------------------------------------------


class AlarmFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")
    active = filters.BooleanFilter(method="filter_active", help_text="true: open or acknowledged.")
    since = UtcDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")

    class Meta:
        model = Alarm
        fields = ["status", "severity", "kind", "machine", "active", "since"]

    def filter_active(self, queryset, name, value):
        return (
            queryset.filter(status__in=Alarm.ACTIVE)
            if value
            else queryset.filter(status=Alarm.Status.RESOLVED)
        )


ACKNOWLEDGED = OpenApiExample(
    "Acknowledged",
    value={
        "id": 41,
        "title": "vibration_mm_s 7.9 outside [-2, 7]",
        "severity": "warning",
        "status": "acknowledged",
        "machine": "motor_weg_w22_003",
        "count": 4,
        "acknowledged_by": "operator",
        "acknowledged_at": "2025-01-01T10:02:00Z",
        "acknowledge_comment": "Checking the coupling",
    },
    response_only=True,
)


@extend_schema(
    description="Alarms raised by the rules, newest sighting first. One active alarm per rule and machine: "
    "a condition seen again counts up (`count`, `last_seen_at`). Filter by status, severity, kind, machine, "
    "active, since. Operators acknowledge and resolve; each step is in the alarm's `events`."
)
class AlarmViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = AlarmFilter
    ordering_fields = ["last_seen_at", "first_seen_at", "severity", "count"]
    search_fields = ["title", "message", "machine__machine_id"]

    def get_queryset(self):
        if self.action == "list":
            return selectors.alarm_rows().order_by("-last_seen_at", "-id")
        queryset = selectors.alarm_list().order_by("-last_seen_at", "-id")
        return queryset.prefetch_related("events__user") if self.action == "retrieve" else queryset

    def get_serializer_class(self):
        return AlarmDetailSerializer if self.action != "list" else AlarmSerializer

    @extend_schema(
        summary="Acknowledge an open alarm (operators)",
        request=AlarmActionSerializer,
        responses={200: AlarmDetailSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample("With a comment", value={"comment": "Checking the coupling"}, request_only=True),
            ACKNOWLEDGED,
        ],
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        serializer = AlarmActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alarm = alarm_acknowledge(alarm=self.get_object(), user=request.user, **serializer.validated_data)
        return Response(AlarmDetailSerializer(self.get_queryset().get(pk=alarm.pk)).data)

    @extend_schema(
        summary="Resolve an open or acknowledged alarm (operators)",
        description="If the condition still holds, its next sighting opens a new alarm.",
        request=AlarmActionSerializer,
        responses={200: AlarmDetailSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample("With a comment", value={"comment": "Coupling realigned"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        serializer = AlarmActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alarm = alarm_resolve(alarm=self.get_object(), user=request.user, **serializer.validated_data)
        return Response(AlarmDetailSerializer(self.get_queryset().get(pk=alarm.pk)).data)


# --- Work orders ------------------------------------------------------------------------------------------


class WorkOrderFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")
    assignee = filters.CharFilter(field_name="assignee__username")

    class Meta:
        model = WorkOrder
        fields = ["status", "priority", "machine", "assignee", "alarm"]


@extend_schema(
    description="Maintenance work orders: open → in progress (start/) → done (close/). Operators create and "
    "change them; everyone reads."
)
class WorkOrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WorkOrderSerializer
    filterset_class = WorkOrderFilter
    ordering_fields = ["created_at", "due_at", "priority"]
    search_fields = ["task", "description", "machine__machine_id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.work_order_list().order_by("-created_at", "-id")

    @extend_schema(
        summary="Create a work order",
        description="From an alarm (`alarm`: its machine, title and severity), from an explanation "
        "(`explanation`: its recommended actions with their manual citations, its urgency), or by hand "
        "(`machine` and `task`). Without `due_at`, the due date is the earlier of now + the machine's RUL "
        "lower bound and the explanation's urgency, else it follows the priority (1, 7, 30 days).",
        request=WorkOrderCreateSerializer,
        responses={201: WorkOrderSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample("From an alarm", value={"alarm": 41, "assignee": "operator"}, request_only=True),
            OpenApiExample("From an explanation", value={"explanation": 12}, request_only=True),
            OpenApiExample(
                "By hand",
                value={
                    "machine": "pump_ksb_etanorm_001",
                    "task": "Replace the mechanical seal",
                    "recommended_actions": ["Drain the casing", "Fit seal kit 4711"],
                    "priority": "warning",
                },
                request_only=True,
            ),
        ],
    )
    def create(self, request, *args, **kwargs):
        serializer = WorkOrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        common = {"user": request.user, "assignee": data["assignee"], "task": data["task"]}
        if data.get("alarm") is not None:
            order = work_orders.work_order_from_alarm(alarm=data["alarm"], **common)
        elif data.get("explanation") is not None:
            order = work_orders.work_order_from_explanation(explanation=data["explanation"], **common)
        elif data.get("machine") is not None:
            order = work_orders.work_order_create(
                machine=data["machine"],
                description=data["description"],
                recommended_actions=data["recommended_actions"],
                priority=data["priority"],
                due_at=data["due_at"],
                **common,
            )
        else:
            raise ValidationError({"alarm": ["give an alarm, an explanation, or a machine and a task"]})
        return Response(WorkOrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an unfinished work order",
        request=WorkOrderUpdateSerializer,
        responses={200: WorkOrderSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "Assign and note", value={"assignee": "operator", "notes": "Parts ordered"}, request_only=True
            )
        ],
    )
    def partial_update(self, request, *args, **kwargs):
        serializer = WorkOrderUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = work_orders.work_order_update(
            work_order=self.get_object(), data=serializer.validated_data, user=request.user
        )
        return Response(WorkOrderSerializer(order).data)

    @extend_schema(
        summary="Start work (open → in progress)",
        request=None,
        responses={200: WorkOrderSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        order = work_orders.work_order_start(work_order=self.get_object(), user=request.user)
        return Response(WorkOrderSerializer(order).data)

    @extend_schema(
        summary="Close a work order (→ done)",
        description="`completed` records maintenance on the machine's timeline, `failure_confirmed` a "
        "labelled failure at `failed_at` (default now) that retraining on real data uses as ground truth, "
        "`no_fault` nothing. `reset_baseline` marks the machine's health baseline reset. The order's alarm "
        "is resolved.",
        request=WorkOrderCloseSerializer,
        responses={200: WorkOrderSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "Failure confirmed",
                value={
                    "outcome": "failure_confirmed",
                    "reset_baseline": True,
                    "failure_mode": "bearing wear",
                },
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        serializer = WorkOrderCloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = work_orders.work_order_close(
            work_order=self.get_object(), user=request.user, **serializer.validated_data
        )
        return Response(WorkOrderSerializer(order).data)


class MaintenanceEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The machines' maintenance timeline: maintenance done and confirmed failures (the failure labels)."""

    serializer_class = MaintenanceEventSerializer
    filterset_fields = ["kind", "baseline_reset"]
    ordering_fields = ["occurred_at"]

    def get_queryset(self):
        events = MaintenanceEvent.objects.select_related("machine", "recorded_by").order_by(
            "-occurred_at", "-id"
        )
        machine_id = self.request.query_params.get("machine")
        return events.filter(machine__machine_id=machine_id) if machine_id else events

    @extend_schema(parameters=[OpenApiParameter("machine", OpenApiTypes.STR, description="A machine_id.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class FailureDatasetView(APIView):
    throttle_scope = "costly"

    @extend_schema(
        summary="Turn confirmed failures into a labelled real dataset",
        description="The machine's stored readings as runs to failure (`run`, `timestamp`, `rul` in hours "
        "to the run's confirmed failure), uploaded as a real dataset: its analysis job proposes the mapping; "
        "confirm it (POST /api/v1/real-datasets/<id>/confirm/) and train from real data. 409 without a "
        "labelled run.",
        request=None,
        responses={201: FailureDatasetSerializer, 409: CONFLICT},
    )
    def post(self, request, machine_id):
        dataset = failure_dataset_create(machine=_machine(machine_id), user=request.user)
        return Response(FailureDatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


# --- Webhooks (admins) ------------------------------------------------------------------------------------


@extend_schema(
    description="Outgoing webhooks (admins only, reads included: they hold secrets). Each alarm event "
    "(raised, escalated, acknowledged, resolved) matching the webhook's severities and events is POSTed as "
    "JSON with `X-PDM-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`, "
    "`X-PDM-Event` and `X-PDM-Delivery`; failures are retried with exponential backoff.",
    examples=[
        OpenApiExample(
            "Critical alarms to a chat",
            value={
                "name": "maintenance-chat",
                "url": "https://chat.example.com/hooks/pdm",
                "severities": ["critical"],
                "events": ["raised", "resolved"],
            },
            request_only=True,
        )
    ],
)
class WebhookViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_queryset(self):
        return selectors.webhook_list()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = webhooks.webhook_create(data=serializer.validated_data, user=request.user)
        return Response(self.get_serializer(webhook).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        webhook = self.get_object()
        serializer = self.get_serializer(webhook, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        webhook = webhooks.webhook_update(webhook=webhook, data=serializer.validated_data, user=request.user)
        return Response(self.get_serializer(webhook).data)

    def destroy(self, request, *args, **kwargs):
        webhooks.webhook_delete(webhook=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The webhook's delivery log", responses={200: WebhookDeliverySerializer(many=True)}
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        page = self.paginate_queryset(selectors.webhook_deliveries(self.get_object()))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send a signed test event", request=None, responses={202: WebhookDeliverySerializer}
    )
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        delivery = webhooks.webhook_ping(webhook=self.get_object(), user=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- Notifications and preferences (the caller's own) -----------------------------------------------------


@extend_schema(
    description="The caller's own notifications, newest first (`unread=true`: unread only). Any role marks "
    "its own read; another user's notification is 404.",
    parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only the unread ones.")],
)
class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NotificationSerializer
    write_role = Role.VIEWER
    filterset_fields = ["kind", "severity"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Notification.objects.none()
        notifications = selectors.notifications_of(self.request.user)
        if self.request.query_params.get("unread") in ("true", "1"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications

    @extend_schema(summary="Mark one of mine read", request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = notification_read(notification=self.get_object(), user=request.user)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(summary="Mark all of mine read", request=None, responses={200: ReadAllSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": notifications_read_all(user=request.user)})


class NotificationPreferenceView(APIView):
    """The caller's own notification preferences: which severities reach them in the browser (bell and
    toast) and by email, and whether the end of their own jobs is reported."""

    write_role = Role.VIEWER

    @extend_schema(summary="My notification preferences", responses={200: NotificationPreferenceSerializer})
    def get(self, request):
        return Response(NotificationPreferenceSerializer(preference_of(request.user)).data)

    @extend_schema(
        summary="Change my notification preferences",
        request=NotificationPreferenceSerializer,
        responses={200: NotificationPreferenceSerializer},
        examples=[
            OpenApiExample(
                "Email only for critical alarms",
                value={
                    "browser_severities": ["info", "warning", "critical"],
                    "email_severities": ["critical"],
                    "job_updates": True,
                },
                request_only=True,
            )
        ],
    )
    def put(self, request):
        serializer = NotificationPreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = preference_update(user=request.user, data=serializer.validated_data)
        return Response(NotificationPreferenceSerializer(preference).data)

    @extend_schema(
        summary="Change some of my notification preferences",
        request=NotificationPreferenceSerializer,
        responses={200: NotificationPreferenceSerializer},
    )
    def patch(self, request):
        return self.put(request)


# --- Fleet risk, drift ------------------------------------------------------------------------------------


class FleetRiskView(APIView):
    @extend_schema(
        summary="Machines ordered by risk",
        description="Risk 0–100: up to 70 from the condition (health state, or the share of life the RUL "
        "lower bound says is used, whichever is worse), up to 30 from open alarms (critical 15, warning 7, "
        "info 2).",
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT, description="The riskiest N (1–500).")],
        responses={200: RiskRowSerializer(many=True)},
    )
    def get(self, request):
        limit = request.query_params.get("limit")
        if limit is not None and (not limit.isdigit() or not 1 <= int(limit) <= 500):
            raise ValidationError({"limit": ["a whole number from 1 to 500"]})
        return Response(
            RiskRowSerializer(selectors.fleet_risk(limit=int(limit) if limit else None), many=True).data
        )


class MachineDriftView(APIView):
    def get_throttles(self):
        self.throttle_scope = "costly" if self.request.method == "POST" else None
        return super().get_throttles()

    @extend_schema(summary="The machine's latest drift report", responses={200: DriftReportSerializer})
    def get(self, request, machine_id):
        report = selectors.latest_drift(_machine(machine_id))
        if report is None:
            raise NotFound(f"No drift report of {machine_id} yet: POST here to compute one.")
        return Response(DriftReportSerializer(report).data)

    @extend_schema(
        summary="Compute drift now (operators)",
        description="Per sensor, PSI and KS of the latest readings against the serving model's training data "
        "(at the machine's life stage when RUL is known); raises or clears the drift rule. 409 without a "
        "serving model, its training data or enough readings.",
        request=None,
        responses={201: DriftReportSerializer, 409: CONFLICT},
    )
    def post(self, request, machine_id):
        report = drift_compute(machine=_machine(machine_id))
        if report is None:
            raise Conflict(
                f"Drift of {machine_id} cannot be computed yet: it needs a serving model with its training "
                "data and enough recent readings."
            )
        return Response(DriftReportSerializer(report).data, status=status.HTTP_201_CREATED)


class MachineDriftRetrainView(APIView):
    throttle_scope = "costly"

    @extend_schema(
        summary="Retrain the machine's models (operators)",
        description="The machine's own models, from the same kind of data its serving models learned from.",
        request=None,
        responses={202: JobStartedSerializer, 409: CONFLICT},
    )
    def post(self, request, machine_id):
        job = drift_retrain(machine=_machine(machine_id), user=request.user)
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)
