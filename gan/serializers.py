from rest_framework import serializers

from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset


class JobSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", default=None, read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)
    ws_url = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "machine_id",
            "parent",
            "params",
            "result",
            "current",
            "total",
            "progress",
            "stage",
            "message",
            "error",
            "loss_history",
            "cancel_requested",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "ws_url",
        ]
        read_only_fields = fields


class JobStartedSerializer(serializers.Serializer):
    """The 202 answer of every endpoint that starts a job."""

    job = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    kind = serializers.CharField()
    ws_url = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, job) -> str:
        return f"/api/v1/jobs/{job.pk}/"


# --- Synthetic-data workflow: what each step accepts ---------------------------------------------------
# Types only: the bounds (SPEC §3) are checked by the services, so pages and the API share one rule.


class SeedStartSerializer(serializers.Serializer):
    rows = serializers.IntegerField(default=10_000, help_text="Seed rows, 1,000–100,000.")
    seed = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Random seed; leave out for a fresh one."
    )


class TrainStartSerializer(serializers.Serializer):
    epochs = serializers.IntegerField(default=300, help_text="50–1,000 (500 for production quality).")
    batch_size = serializers.IntegerField(default=500, help_text="100–2,000.")
    variant = serializers.CharField(
        default="residual", help_text="residual (default: keeps the RUL↔sensor link) or plain TVAE."
    )
    early_stopping = serializers.BooleanField(default=False, help_text="Stop on a loss plateau.")


class GenerateStartSerializer(serializers.Serializer):
    train_rows = serializers.IntegerField(default=35_000, help_text="1,000–100,000.")
    val_rows = serializers.IntegerField(default=7_500, help_text="100–20,000, at most half of train_rows.")
    test_rows = serializers.IntegerField(default=7_500, help_text="100–20,000, at most half of train_rows.")


class ValidateStartSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Synthetic dataset id (default: the latest)."
    )
    split = serializers.CharField(default="train", help_text="train, val or test.")


class BatchStartSerializer(serializers.Serializer):
    operation = serializers.CharField(help_text="validate, retrain_failing or generate.")
    machines = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="machine_ids; empty: every machine the operation fits (not for generate).",
    )
    train_rows = serializers.IntegerField(default=35_000)
    val_rows = serializers.IntegerField(default=7_500)
    test_rows = serializers.IntegerField(default=7_500)


# --- Records -------------------------------------------------------------------------------------------


class SeedDatasetSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = SeedDataset
        fields = [
            "id",
            "machine_id",
            "rows",
            "random_seed",
            "cycles",
            "holdout_cycle",
            "holdout_rows",
            "bytes",
            "seconds",
            "params",
            "job",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, seed) -> str:
        return f"/api/v1/seeds/{seed.pk}/download/"


class SynthesizerSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)

    class Meta:
        model = SynthesizerModel
        fields = [
            "id",
            "machine_id",
            "version",
            "variant",
            "epochs",
            "epochs_run",
            "batch_size",
            "device",
            "losses",
            "final_loss",
            "seconds",
            "bytes",
            "quality_score",
            "verdict",
            "flagged",
            "is_active",
            "seed_dataset",
            "job",
            "created_at",
            "activated_at",
        ]
        read_only_fields = fields


class SyntheticDatasetSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    synthesizer_version = serializers.IntegerField(source="synthesizer.version", read_only=True)
    splits = serializers.SerializerMethodField()

    class Meta:
        model = SyntheticDataset
        fields = [
            "id",
            "machine_id",
            "synthesizer",
            "synthesizer_version",
            "splits",
            "rows",
            "bytes",
            "seconds",
            "job",
            "created_at",
        ]
        read_only_fields = fields

    def get_splits(self, dataset) -> dict:
        """Rows, bytes and the download URL of each split (storage paths stay on the server)."""
        return {
            split: {
                "rows": info["rows"],
                "bytes": info["bytes"],
                "download_url": f"/api/v1/datasets/{dataset.pk}/download/?split={split}",
            }
            for split, info in dataset.splits.items()
        }


class QualityReportSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="dataset.machine.machine_id", read_only=True)
    synthesizer = serializers.IntegerField(source="dataset.synthesizer_id", read_only=True)

    class Meta:
        model = QualityReport
        fields = [
            "id",
            "machine_id",
            "dataset",
            "synthesizer",
            "split",
            "overall",
            "column_shapes",
            "column_pair_trends",
            "verdict",
            "sensors",
            "max_corr_gap",
            "worst_corr_sensor",
            "tstr",
            "seconds",
            "job",
            "created_at",
        ]
        read_only_fields = fields


class WorkflowStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["done", "running", "failed", "todo"])
    detail = serializers.CharField()
    job = JobSerializer(allow_null=True)


class WorkflowStatusSerializer(serializers.Serializer):
    machine_id = serializers.CharField(source="machine.machine_id")
    next_step = serializers.CharField(allow_null=True)
    complete = serializers.BooleanField()
    steps = WorkflowStepSerializer(many=True)
    seed = SeedDatasetSerializer(allow_null=True)
    synthesizer = SynthesizerSerializer(allow_null=True)
    synthetic = SyntheticDatasetSerializer(allow_null=True)
    report = QualityReportSerializer(allow_null=True)
