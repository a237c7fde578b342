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
