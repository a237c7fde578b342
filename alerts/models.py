"""Alerts: rules, the alarms they raise (with their history), notifications and preferences, outgoing
webhooks with their delivery log, maintenance work orders, maintenance/failure events, drift reports."""

from django.conf import settings
from django.db import models


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}
SEVERITIES = tuple(Severity.values)


def all_severities() -> list[str]:
    return list(SEVERITIES)


def critical_only() -> list[str]:
    return [Severity.CRITICAL.value]


class AlertRule(models.Model):
    """A condition watched for every machine in scope: a machine, a category, or (neither) all machines.

    For one machine, a rule of a narrower scope replaces those of wider scopes with the same kind (and
    sensor): a machine's own "RUL below" rule wins over its category's and the fleet-wide default.
    """

    class Kind(models.TextChoices):
        HEALTH_STATE = "health_state", "Health state reaches a level"
        RUL_BELOW = "rul_below", "RUL lower bound below a limit"
        ANOMALY_COUNT = "anomaly_count", "Anomaly flagged K times in a window"
        SENSOR_LIMIT = "sensor_limit", "Sensor outside its limits"
        JOB_FAILED = "job_failed", "A job failed"
        DRIFT = "drift", "Telemetry drifted from the training data"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules"
    )
    category = models.ForeignKey(
        "machines.MachineCategory",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    # health_state: the state that raises (2 Warning, 3 Critical); Critical always raises as critical.
    state_at_least = models.PositiveSmallIntegerField(null=True, blank=True)
    # rul_below: a limit in hours, or a fraction of the category's max RUL (one of them).
    rul_hours = models.FloatField(null=True, blank=True)
    rul_fraction = models.FloatField(null=True, blank=True)
    # anomaly_count: at least `anomaly_count` flagged anomaly predictions within `window_minutes`.
    anomaly_count = models.PositiveIntegerField(null=True, blank=True)
    window_minutes = models.PositiveIntegerField(null=True, blank=True)
    # sensor_limit: one sensor (blank: every sensor of the machine) with explicit limits, or limits from
    # the sensor profile: base ± limit_fraction × range.
    sensor = models.CharField(max_length=64, blank=True)
    lower_limit = models.FloatField(null=True, blank=True)
    upper_limit = models.FloatField(null=True, blank=True)
    limit_fraction = models.FloatField(null=True, blank=True)
    # job_failed: the job kinds watched (empty: every kind).
    job_kinds = models.JSONField(default=list, blank=True)
    # drift: the PSI that raises (empty: ALERTS_DRIFT_PSI).
    psi_threshold = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(machine__isnull=False) & models.Q(category__isnull=False)),
                name="alert_rule_scope_machine_or_category",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.scope_label})"

    @property
    def scope(self) -> str:
        return "machine" if self.machine_id else "category" if self.category_id else "fleet"

    @property
    def scope_label(self) -> str:
        if self.machine_id:
            return str(self.machine)
        return f"category {self.category}" if self.category_id else "all machines"


class Alarm(models.Model):
    """What a rule raised for one machine. One active alarm per rule and machine: while it is active, the
    condition seen again counts up (count, last_seen_at) instead of raising another."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        MANUAL = "manual", "Resolved by a person"
        AUTO = "auto", "Condition cleared"
        WORK_ORDER = "work_order", "Work order done"

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)

    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alarms"
    )
    kind = models.CharField(max_length=20, choices=AlertRule.Kind.choices)
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.CASCADE, related_name="alarms"
    )
    job = models.ForeignKey("gan.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # "<rule pk>:<machine pk or 0>": the de-duplication key, unique among active alarms.
    key = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    # What the rule saw the last time: value, limit, sensor, prediction id…
    details = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # When the condition was last seen to clear (None while it holds); auto-resolve counts from here.
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_comment = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    resolve_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status__in=["open", "acknowledged"]),
                name="one_active_alarm_per_rule_and_machine",
            )
        ]
        indexes = [
            models.Index(fields=["machine", "status"], name="alarm_machine_status"),
            models.Index(fields=["-first_seen_at"], name="alarm_recent"),
        ]

    def __str__(self):
        return f"alarm #{self.pk} {self.title} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class AlarmEvent(models.Model):
    """One step of an alarm's history. Repeats of a held condition only count up on the alarm."""

    class Kind(models.TextChoices):
        RAISED = "raised", "Raised"
        ESCALATED = "escalated", "Severity raised"
        CLEARED = "cleared", "Condition cleared"
        RETURNED = "returned", "Condition returned"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        WORK_ORDER = "work_order", "Work order created"

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.kind} of alarm {self.alarm_id}"


class Notification(models.Model):
    """One message for one user: shown by the bell, toasted live, marked read by its owner only."""

    class Kind(models.TextChoices):
        ALARM = "alarm", "Alarm"
        JOB = "job", "Job"
        WORK_ORDER = "work_order", "Work order"
        TEST = "test", "Test"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    alarm = models.ForeignKey(
        Alarm, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    job = models.ForeignKey("gan.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self):
        return f"{self.title} → {self.user_id}"


class NotificationPreference(models.Model):
    """Which severities reach a user on which channel; job updates are the user's own jobs."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="alert_preference"
    )
    browser_severities = models.JSONField(default=all_severities, blank=True)
    email_severities = models.JSONField(default=critical_only, blank=True)
    job_updates = models.BooleanField(default=True, help_text="Tell me when a job I started ends.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"preferences of {self.user_id}"


class Webhook(models.Model):
    """An outgoing webhook: alarm events POSTed as JSON, signed with HMAC-SHA256 of the body."""

    class Event(models.TextChoices):
        RAISED = "raised", "Raised"
        ESCALATED = "escalated", "Severity raised"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Signs every body (X-PDM-Signature).")
    severities = models.JSONField(default=all_severities, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Empty: every event.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """One event sent to one webhook: the exact body signed, every attempt, the outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    alarm = models.ForeignKey(Alarm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=20)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # [{"at", "status_code", "error", "ms"}, …]
    attempt_log = models.JSONField(default=list, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} → {self.webhook_id} ({self.status})"


class WorkOrder(models.Model):
    """Maintenance to do on a machine, from an alarm, an explanation or by hand."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    class Outcome(models.TextChoices):
        COMPLETED = "completed", "Maintenance done"
        FAILURE_CONFIRMED = "failure_confirmed", "Failure confirmed"
        NO_FAULT = "no_fault", "No fault found"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="work_orders")
    alarm = models.ForeignKey(
        Alarm, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    explanation = models.ForeignKey(
        "assistant.Explanation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    recommended_actions = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    due_at = models.DateTimeField(null=True, blank=True)
    # Where the due date came from: "rul_lower", "urgency", "priority" or "given".
    due_basis = models.CharField(max_length=20, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    baseline_reset = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"WO-{self.pk} {self.task}"


class MaintenanceEvent(models.Model):
    """A machine's maintenance timeline: work done (may reset its health baseline) and confirmed failures,
    the labelled ground truth that training on real data reads (services.failures)."""

    class Kind(models.TextChoices):
        MAINTENANCE = "maintenance", "Maintenance"
        FAILURE = "failure", "Confirmed failure"

    machine = models.ForeignKey(
        "machines.Machine", on_delete=models.CASCADE, related_name="maintenance_events"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    description = models.TextField(blank=True)
    failure_mode = models.CharField(max_length=120, blank=True)
    baseline_reset = models.BooleanField(default=False)
    work_order = models.ForeignKey(
        WorkOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="maintenance_events"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self):
        return f"{self.kind} of {self.machine_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DriftReport(models.Model):
    """Recent telemetry of a machine against the data its serving model learned from, per sensor."""

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="drift_reports")
    model_version = models.ForeignKey(
        "predictions.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {"source", "label", "rows", "life_stage": [low, high] | None}
    reference = models.JSONField(default=dict)
    recent_rows = models.PositiveIntegerField(default=0)
    window_from = models.DateTimeField(null=True, blank=True)
    window_to = models.DateTimeField(null=True, blank=True)
    # [{"sensor", "psi", "ks", "ks_pvalue", "reference_mean", "recent_mean", "drifted", …}]
    sensors = models.JSONField(default=list)
    max_psi = models.FloatField(null=True, blank=True)
    psi_threshold = models.FloatField()
    drifted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"drift of {self.machine_id} ({self.max_psi})"


class EvaluationCursor(models.Model):
    """The last reading of a machine the sensor-limit rules have seen (readings after it are new)."""

    machine = models.OneToOneField(
        "machines.Machine", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    last_reading_pk = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"alerts cursor of {self.machine_id} at reading {self.last_reading_pk}"
