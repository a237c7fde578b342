"""The Job model every long operation of the product uses, and the synthetic-data records."""

from django.conf import settings
from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        SEED = "seed"
        TRAIN = "train"
        GENERATE = "generate"
        VALIDATE = "validate"
        BATCH = "batch"
        MODEL_TRAINING = "model_training"
        INGESTION = "ingestion"
        REPORT = "report"
        MAINTENANCE = "maintenance"

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"
        CANCELLED = "CANCELLED"

    FINISHED = (Status.SUCCESS, Status.FAILURE, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    current = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    progress = models.FloatField(default=0)
    stage = models.CharField(max_length=50, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    # [[epoch, loss], ...] for training jobs: sent to late joiners on connect.
    loss_history = models.JSONField(default=list, blank=True)
    task_name = models.CharField(max_length=200)
    celery_task_id = models.CharField(max_length=50, blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["machine", "kind", "-created_at"])]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def group_name(self) -> str:
        return f"job_{self.pk}"

    @property
    def ws_url(self) -> str:
        return f"/ws/jobs/{self.pk}/"


class SeedDataset(models.Model):
    """Physics-based seed rows of one machine (SPEC §3.1), as parquet in the file storage.

    The last cycle is held out: the synthesizer never sees it; it scores the TSTR utility and is the
    run to failure the predictions app replays as live demo telemetry.
    """

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="seed_datasets")
    file = models.FileField(max_length=300, editable=False)
    rows = models.PositiveIntegerField()
    random_seed = models.BigIntegerField(help_text="Generates the same rows again with the same profile.")
    # The degradation profile the rows were generated from (DegradationProfile.to_dict()).
    params = models.JSONField(default=dict)
    cycles = models.PositiveSmallIntegerField()
    holdout_cycle = models.PositiveSmallIntegerField(help_text="0-based number of the held-out cycle.")
    holdout_rows = models.PositiveIntegerField()
    bytes = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"seed #{self.pk} of {self.machine_id} ({self.rows} rows)"

    @property
    def fit_rows(self) -> int:
        return self.rows - self.holdout_rows


class SynthesizerModel(models.Model):
    """One trained TVAE synthesizer: versioned per machine, never overwritten."""

    class Variant(models.TextChoices):
        RESIDUAL = "residual"
        PLAIN = "plain"

    class Verdict(models.TextChoices):
        EXCELLENT = "excellent"
        GOOD = "good"
        ACCEPTABLE = "acceptable"
        FAIL = "fail"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="synthesizers")
    version = models.PositiveIntegerField()
    seed_dataset = models.ForeignKey(
        SeedDataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="synthesizers"
    )
    variant = models.CharField(max_length=10, choices=Variant.choices, default=Variant.RESIDUAL)
    epochs = models.PositiveIntegerField()
    epochs_run = models.PositiveIntegerField(default=0)
    batch_size = models.PositiveIntegerField()
    device = models.CharField(max_length=20, blank=True)
    losses = models.JSONField(default=list, blank=True, help_text="Mean loss of every epoch, in order.")
    final_loss = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(default=0)
    file = models.FileField(max_length=300, editable=False)
    bytes = models.BigIntegerField(default=0)
    quality_score = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    # A failed validation flags the model; an admin may then activate an older version.
    flagged = models.BooleanField(default=False)
    is_active = models.BooleanField(default=False)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["machine", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["machine", "version"], name="unique_synthesizer_version"),
            models.UniqueConstraint(
                fields=["machine"], condition=models.Q(is_active=True), name="one_active_synthesizer"
            ),
        ]

    def __str__(self):
        return f"{self.machine_id} synthesizer v{self.version}"


class SyntheticDataset(models.Model):
    """Train/val/test splits sampled from one synthesizer (SPEC §3.3).

    splits: {"train": {"path": <storage name>, "rows": n, "bytes": n, "seconds": s}, "val": …, "test": …}
    """

    SPLITS = ("train", "val", "test")

    machine = models.ForeignKey(
        "machines.Machine", on_delete=models.CASCADE, related_name="synthetic_datasets"
    )
    synthesizer = models.ForeignKey(SynthesizerModel, on_delete=models.CASCADE, related_name="datasets")
    splits = models.JSONField(default=dict)
    rows = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"synthetic #{self.pk} of {self.machine_id} ({self.rows} rows)"

    def split_rows(self, split: str) -> int:
        return self.splits.get(split, {}).get("rows", 0)


class QualityReport(models.Model):
    """How close a synthetic split is to the seed rows its synthesizer learned from (SPEC §3.4)."""

    dataset = models.ForeignKey(SyntheticDataset, on_delete=models.CASCADE, related_name="quality_reports")
    split = models.CharField(max_length=5, default="train")
    overall = models.FloatField()
    column_shapes = models.FloatField()
    column_pair_trends = models.FloatField()
    # Per sensor: name, ks, wasserstein(_std), means and spreads, corr_seed, corr_synthetic, corr_gap.
    sensors = models.JSONField(default=list)
    max_corr_gap = models.FloatField(null=True, blank=True)
    worst_corr_sensor = models.CharField(max_length=64, blank=True)
    # Train-on-synthetic / test-on-real: mae_synthetic, mae_seed, ratio, holdout_rows (None without holdout).
    tstr = models.JSONField(null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=SynthesizerModel.Verdict.choices)
    details = models.JSONField(default=dict, blank=True)
    seconds = models.FloatField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"quality of synthetic #{self.dataset_id}: {self.overall:.3f} ({self.verdict})"

    @property
    def tstr_ratio(self) -> float | None:
        return self.tstr.get("ratio") if self.tstr else None
