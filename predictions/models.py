"""Predictions: the model registry, telemetry (raw and downsampled), logged predictions, each machine's
current health, fleet snapshots, and real-data uploads with their mapping presets."""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    """The five model kinds (SPEC §4 plus the failure classifier that a binary label trains)."""

    HEALTH = "health", "Health state"
    RUL = "rul", "Remaining useful life"
    ANOMALY = "anomaly", "Anomaly"
    FORECAST = "forecast", "Forecast"
    FAILURE = "failure", "Failure probability"


class ModelVersion(models.Model):
    """One trained predictor: versioned per kind and scope (a machine or a category), never overwritten.

    `file` is the model's storage name; its metadata JSON (library versions, layout) lies beside it with
    the suffix .json. Serving uses the machine's active version of a kind, else its category's.
    """

    class Source(models.TextChoices):
        SEED = "seed", "Seed data"
        SYNTHETIC = "synthetic", "Synthetic data"
        REAL = "real", "Real data"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.CASCADE, related_name="model_versions"
    )
    category = models.ForeignKey(
        "machines.MachineCategory",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="model_versions",
    )
    version = models.PositiveIntegerField()
    file = models.FileField(max_length=300, editable=False)
    bytes = models.BigIntegerField(default=0)
    source = models.CharField(max_length=10, choices=Source.choices)
    # What the rows came from: {"seed_datasets": [...], "synthetic_datasets": [...], "rows": n, "runs": n}
    training_data = models.JSONField(default=dict, blank=True)
    real_dataset = models.ForeignKey(
        "RealDataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    metrics = models.JSONField(default=dict, blank=True)
    # Permutation importance on the hold-out, per sensor: [{"feature", "importance", "std"}, ...]
    feature_importance = models.JSONField(default=list, blank=True)
    sensors = models.JSONField(default=list, help_text="The inputs the model needs, in order.")
    # The core's description: layout, feature spec, kind parameters, history rows needed.
    params = models.JSONField(default=dict, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    history_rows = models.PositiveIntegerField(null=True, blank=True, help_text="None: the whole run.")
    fit_seconds = models.FloatField(default=0)
    trained_at = models.DateTimeField()
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("gan.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(machine__isnull=True) ^ models.Q(category__isnull=True),
                name="model_scope_is_machine_or_category",
            ),
            models.UniqueConstraint(
                fields=["kind", "machine", "version"], name="unique_machine_model_version"
            ),
            models.UniqueConstraint(
                fields=["kind", "category", "version"], name="unique_category_model_version"
            ),
            models.UniqueConstraint(
                fields=["kind", "machine"],
                condition=models.Q(is_active=True, machine__isnull=False),
                name="one_active_machine_model",
            ),
            models.UniqueConstraint(
                fields=["kind", "category"],
                condition=models.Q(is_active=True, category__isnull=False),
                name="one_active_category_model",
            ),
        ]

    def __str__(self):
        return f"{self.kind} v{self.version} of {self.scope_label}"

    @property
    def scope(self) -> str:
        return "machine" if self.machine_id else "category"

    @property
    def scope_label(self) -> str:
        return str(self.machine) if self.machine_id else f"category {self.category}"

    @property
    def metadata_name(self) -> str:
        return self.file.name.rsplit(".", 1)[0] + ".json"


class SensorReading(models.Model):
    """One timestamped reading of a machine: {sensor name: value}; a sensor may be missing."""

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="readings")
    timestamp = models.DateTimeField()
    values = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["machine", "-timestamp"]
        constraints = [
            models.UniqueConstraint(fields=["machine", "timestamp"], name="unique_machine_reading_time")
        ]
        # The unique (machine, timestamp) index also serves "a machine's latest readings" (scanned
        # backwards); the time index serves retention.
        indexes = [models.Index(fields=["timestamp"], name="reading_time")]

    def __str__(self):
        return f"{self.machine_id} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class ReadingAggregate(models.Model):
    """Readings older than the retention period, downsampled: per bucket and sensor, count/mean/min/max."""

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="aggregates")
    bucket_start = models.DateTimeField()
    bucket_seconds = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    # {sensor: {"count": n, "mean": x, "min": x, "max": x}}
    stats = models.JSONField()

    class Meta:
        ordering = ["machine", "-bucket_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["machine", "bucket_start", "bucket_seconds"], name="unique_reading_bucket"
            )
        ]

    def __str__(self):
        return f"{self.machine_id} {self.bucket_start:%Y-%m-%d %H:%M} ({self.count} readings)"


class Prediction(models.Model):
    """One logged prediction: what went in, what came out, which model, how long it took."""

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="predictions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # {"source": "latest" | "request", "rows": n, "from": ts, "to": ts, "latest": {sensor: value}}
    input = models.JSONField(default=dict)
    result = models.JSONField(default=dict)
    confidence = models.FloatField(null=True, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions"
    )
    latency_ms = models.FloatField()
    # Findings of an external vision model for the same moment (its contract is documented elsewhere).
    vision_findings = models.JSONField(null=True, blank=True, default=None)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["machine", "kind", "-created_at"], name="prediction_machine_kind")]

    def __str__(self):
        return f"{self.kind} of {self.machine_id} #{self.pk}"


class MachineHealth(models.Model):
    """A machine's current picture for the dashboard, rewritten by every refresh of its predictions."""

    machine = models.OneToOneField(
        "machines.Machine", primary_key=True, on_delete=models.CASCADE, related_name="health"
    )
    state = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 Healthy … 3 Critical.")
    confidence = models.FloatField(null=True, blank=True)
    rul = models.FloatField(null=True, blank=True)
    rul_lower = models.FloatField(null=True, blank=True)
    rul_upper = models.FloatField(null=True, blank=True)
    rul_unit = models.CharField(max_length=20, blank=True)
    anomaly = models.BooleanField(null=True, blank=True)
    anomaly_score = models.FloatField(null=True, blank=True)
    failure_probability = models.FloatField(null=True, blank=True)
    # The three sensors the health model relies on most, with their latest values: [[name, value, unit]]
    key_sensors = models.JSONField(default=list, blank=True)
    # Kinds whose model could not serve (missing file, other library versions): {kind: message}
    problems = models.JSONField(default=dict, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    predicted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "machine health"
        indexes = [models.Index(fields=["state"], name="health_state")]

    def __str__(self):
        return f"health of {self.machine_id}: {self.state}"


class FleetSnapshot(models.Model):
    """Counts of machines per health state at one moment; the dashboard shows the change since the last."""

    counts = models.JSONField(help_text='{"0": n, "1": n, "2": n, "3": n, "unknown": n}')
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"fleet snapshot {self.created_at:%Y-%m-%d %H:%M}"


class MachineRun(models.Model):
    """When a machine's current run began (a repair or replacement resets its wear): serving windows never
    reach back across it, as training windows never cross runs."""

    machine = models.OneToOneField(
        "machines.Machine", primary_key=True, on_delete=models.CASCADE, related_name="current_run"
    )
    started_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"run of {self.machine_id} since {self.started_at:%Y-%m-%d %H:%M}"


class ReplayCursor(models.Model):
    """Where the demo simulator is in the run it replays for one machine."""

    machine = models.OneToOneField(
        "machines.Machine", primary_key=True, on_delete=models.CASCADE, related_name="replay_cursor"
    )
    source = models.CharField(max_length=300, help_text="Storage name of the parquet file replayed.")
    position = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"replay of {self.machine_id} at {self.position}/{self.rows}"


class MappingPreset(models.Model):
    """A reusable plan for a known file layout (columns, roles, column → sensor mapping)."""

    name = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    # The core's IngestionPlan as a dict: sensors, columns, time/run/target choices, categorical, derived.
    plan = models.JSONField()
    builtin = models.BooleanField(default=False, help_text="Shipped with the product.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RealDataset(models.Model):
    """An uploaded table of real data: detected plan, confirmed mapping, cleaning report, prepared rows."""

    class Status(models.TextChoices):
        ANALYSING = "analysing", "Analysing"
        NEEDS_MAPPING = "needs_mapping", "Waiting for the mapping"
        PREPARING = "preparing", "Preparing"
        READY = "ready", "Ready to train"
        FAILED = "failed", "Failed"

    class Target(models.TextChoices):
        RUL = "rul", "RUL column"
        DERIVED_RUL = "derived_rul", "RUL derived per run"
        LABEL = "label", "Binary failure label"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="real_datasets")
    name = models.CharField(max_length=200, help_text="The uploaded file's name.")
    file = models.FileField(max_length=300, editable=False)
    bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.ANALYSING)
    error = models.TextField(blank=True)
    preset = models.ForeignKey(
        MappingPreset, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets"
    )
    # The reader's findings (format, delimiter, header) and the core's proposal (plan, detected roles,
    # mapping candidates, unmapped columns).
    file_info = models.JSONField(default=dict, blank=True)
    proposal = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(default=dict, blank=True, help_text="The confirmed plan.")
    cleaning = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="What preparing changed.")
    prepared_file = models.CharField(max_length=300, blank=True)
    layout = models.JSONField(default=dict, blank=True)
    rows = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0, help_text="Runs (units) in the prepared data.")
    target_kind = models.CharField(max_length=12, choices=Target.choices, blank=True)
    rul_unit = models.CharField(max_length=20, blank=True)
    job = models.ForeignKey("gan.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"real data #{self.pk} ({self.name})"

    @property
    def trainable_kinds(self) -> list[str]:
        if self.target_kind == self.Target.LABEL:
            return [Kind.FAILURE]
        if self.target_kind:
            return [Kind.HEALTH, Kind.RUL, Kind.ANOMALY, Kind.FORECAST]
        return [Kind.ANOMALY, Kind.FORECAST]
