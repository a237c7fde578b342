import json

from rest_framework import serializers

from machines.models import HealthState
from predictions.models import (
    Kind,
    MachineHealth,
    MappingPreset,
    ModelVersion,
    Prediction,
    RealDataset,
    SensorReading,
)
from predictions.selectors import SORTS, STATE_KEYS

# The one or two figures that sum a model up in a list (the models page and the API list).
HEADLINES = {
    Kind.HEALTH: ("accuracy", "macro_f1"),
    Kind.RUL: ("rmse", "mae", "r2"),
    Kind.ANOMALY: ("false_alarm_rate", "alarm_rate"),
    Kind.FORECAST: ("n",),
    Kind.FAILURE: ("f1", "precision", "recall", "pr_auc"),
}


def headline(version: ModelVersion) -> dict:
    metrics = version.metrics or {}
    figures = {key: metrics.get(key) for key in HEADLINES[version.kind] if key in metrics}
    if version.kind == Kind.RUL and isinstance(metrics.get("interval"), dict):
        figures["interval_coverage"] = metrics["interval"].get("coverage")
    if version.kind == Kind.ANOMALY and isinstance(metrics.get("pre_failure"), dict):
        figures.update(
            recall=metrics["pre_failure"].get("recall"), pr_auc=metrics["pre_failure"].get("pr_auc")
        )
    if version.kind == Kind.FORECAST and metrics.get("skill_by_horizon"):
        skill = [s for s in metrics["skill_by_horizon"] if s is not None]
        figures["mean_skill"] = round(sum(skill) / len(skill), 4) if skill else None
    return figures


class ModelVersionSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", default=None, read_only=True)
    category = serializers.CharField(source="category.name", default=None, read_only=True)
    scope = serializers.CharField(read_only=True)
    headline = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "kind",
            "scope",
            "machine_id",
            "category",
            "version",
            "is_active",
            "activated_at",
            "source",
            "training_data",
            "real_dataset",
            "headline",
            "metrics",
            "feature_importance",
            "sensors",
            "params",
            "library_versions",
            "history_rows",
            "fit_seconds",
            "bytes",
            "trained_at",
            "job",
        ]
        read_only_fields = fields

    def get_headline(self, version) -> dict:
        return headline(version)


class ModelTrainSerializer(serializers.Serializer):
    kinds = serializers.ListField(
        child=serializers.CharField(), help_text=f"Any of {', '.join(Kind.values)} the data can train."
    )
    machine = serializers.CharField(required=False, help_text="machine_id: train for this machine…")
    category = serializers.CharField(required=False, help_text="…or for every machine of this category.")
    source = serializers.CharField(default="seed", help_text="seed, synthetic or real.")
    real_dataset = serializers.IntegerField(required=False, help_text="With source real: the dataset's id.")
    quick = serializers.BooleanField(
        default=False, help_text="Fewer boosting rounds: a first model in seconds."
    )


class PredictionSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    model = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = [
            "id",
            "machine_id",
            "kind",
            "result",
            "confidence",
            "input",
            "model",
            "latency_ms",
            "vision_findings",
            "created_at",
        ]
        read_only_fields = fields

    def get_model(self, prediction) -> dict | None:
        version = prediction.model_version
        if version is None:
            return None
        return {"id": version.pk, "version": version.version, "scope": version.scope_label}


VISION_SCHEMA = "pdm.vision/v1"
VISION_MAX_FINDINGS = 50
VISION_MAX_BYTES = 64 * 1024
VISION_SEVERITIES = ("info", "warning", "critical")


class VisionFindingSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=200)
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0)
    severity = serializers.ChoiceField(choices=VISION_SEVERITIES, required=False)
    location = serializers.CharField(max_length=200, required=False)
    sensor = serializers.CharField(max_length=100, required=False)
    bbox = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4, required=False)
    image = serializers.CharField(max_length=1000, required=False)
    note = serializers.CharField(max_length=2000, required=False)


class VisionFindingsSerializer(serializers.Serializer):
    """The optional findings of an external vision model (docs/vlm_contract.md): stored, never scored."""

    schema = serializers.ChoiceField(choices=[VISION_SCHEMA])
    model = serializers.CharField(max_length=200)
    captured_at = serializers.DateTimeField()
    findings = VisionFindingSerializer(many=True, max_length=VISION_MAX_FINDINGS)

    def to_internal_value(self, data):
        if len(json.dumps(data, default=str)) > VISION_MAX_BYTES:
            raise serializers.ValidationError(f"at most {VISION_MAX_BYTES // 1024} KB of findings")
        validated = super().to_internal_value(data)
        # Stored as sent (after checking): JSON-ready, with the time as the ISO text it came as.
        validated["captured_at"] = data["captured_at"]
        return validated


class PredictionRequestSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=f"One of {', '.join(Kind.values)}.")
    machine = serializers.CharField(help_text="The machine_id.")
    readings = serializers.JSONField(
        default="latest",
        help_text='"latest" (the machine\'s stored readings) or a list of {"timestamp", "values"}, '
        "oldest first.",
    )
    vision_findings = VisionFindingsSerializer(
        required=False, help_text="Optional findings of an external vision model, stored with the prediction."
    )


class BatchRequestSerializer(serializers.Serializer):
    machines = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=1000,
        help_text="machine_ids; leave out for every active machine.",
    )
    kinds = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Leave out for health, rul, anomaly and forecast.",
    )


class BatchOutcomeSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    kind = serializers.CharField()
    prediction = serializers.IntegerField(allow_null=True)
    result = serializers.DictField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    error = serializers.DictField(
        allow_null=True, help_text="{code: no_model|no_readings|retrain|bad_input, message}"
    )


class BatchAnswerSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    predicted = serializers.IntegerField()
    failed = serializers.IntegerField()
    latency_ms = serializers.FloatField(help_text="The whole batch, in the service.")
    results = BatchOutcomeSerializer(many=True)


class ReadingSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField(
        required=False, help_text="ISO 8601; a lone reading without one is now."
    )
    values = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="{sensor: number}"
    )


class ReadingsBatchSerializer(serializers.Serializer):
    readings = ReadingSerializer(many=True, help_text="Up to 10,000 readings.")


class IngestResultSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Readings whose timestamp was stored already: skipped.")
    first = serializers.DateTimeField(allow_null=True)
    last = serializers.DateTimeField(allow_null=True)


class SensorReadingSerializer(serializers.ModelSerializer):
    class Meta:
        model = SensorReading
        fields = ["timestamp", "values", "received_at"]
        read_only_fields = fields


class MachineHealthSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    state_name = serializers.SerializerMethodField()

    class Meta:
        model = MachineHealth
        fields = [
            "machine_id",
            "state",
            "state_name",
            "confidence",
            "rul",
            "rul_lower",
            "rul_upper",
            "rul_unit",
            "anomaly",
            "anomaly_score",
            "failure_probability",
            "key_sensors",
            "problems",
            "last_reading_at",
            "predicted_at",
        ]
        read_only_fields = fields

    def get_state_name(self, health) -> str | None:
        return HealthState(health.state).label if health.state is not None else None


class FleetFilterSerializer(serializers.Serializer):
    """The filters of GET /api/v1/fleet/ and of the dashboard."""

    search = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=200,
        help_text="Part of a machine_id, manufacturer, model or location.",
    )
    state = serializers.ChoiceField(choices=STATE_KEYS, required=False, default="", allow_blank=True)
    category = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, default="state")


class FleetMachineSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    category = serializers.CharField(source="category.name")
    # Declared once (not built per machine in a method): the fleet list serialises every machine.
    health = MachineHealthSerializer(read_only=True, allow_null=True)


class FleetOverviewSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text='{"0"…"3", "unknown": n}')
    change = serializers.DictField(
        child=serializers.IntegerField(allow_null=True), help_text="Since the previous snapshot."
    )
    total = serializers.IntegerField()
    snapshot_at = serializers.DateTimeField(allow_null=True)


class RealDatasetSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    preset = serializers.CharField(source="preset.name", default=None, read_only=True)
    trainable_kinds = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RealDataset
        fields = [
            "id",
            "machine_id",
            "name",
            "bytes",
            "status",
            "error",
            "preset",
            "file_info",
            "proposal",
            "plan",
            "cleaning",
            "summary",
            "layout",
            "rows",
            "units",
            "target_kind",
            "rul_unit",
            "trainable_kinds",
            "job",
            "created_at",
        ]
        read_only_fields = fields


class RealDatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV/TXT (headerless too), Excel (.xlsx), Parquet or JSON.")
    machine = serializers.CharField(help_text="The machine_id the data belongs to.")
    preset = serializers.CharField(required=False, help_text="A mapping preset's name, e.g. cmapss_fd001.")


class PlanConfirmSerializer(serializers.Serializer):
    plan = serializers.JSONField(help_text="The proposed plan, as confirmed or edited.")


class ReanalyseSerializer(serializers.Serializer):
    preset = serializers.CharField(required=False, allow_null=True, help_text="null: detect automatically.")


class RealTrainSerializer(serializers.Serializer):
    kinds = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Default: all it can."
    )
    scope = serializers.ChoiceField(choices=["machine", "category"], default="machine")
    quick = serializers.BooleanField(
        default=False, help_text="Fewer boosting rounds: a first model in seconds."
    )


class MappingPresetSerializer(serializers.ModelSerializer):
    class Meta:
        model = MappingPreset
        fields = ["id", "name", "description", "plan", "builtin", "created_at"]
        read_only_fields = ["id", "builtin", "created_at"]
        # Names are checked by the service (the one rule for pages and the API).
        extra_kwargs = {"name": {"validators": []}}
