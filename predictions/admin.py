from django.contrib import admin

from predictions.models import (
    FleetSnapshot,
    MachineHealth,
    MappingPreset,
    ModelVersion,
    Prediction,
    ReadingAggregate,
    RealDataset,
    SensorReading,
)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["kind", "machine", "category", "version", "source", "is_active", "trained_at"]
    list_filter = ["kind", "source", "is_active", "category"]
    search_fields = ["machine__machine_id", "category__name"]
    readonly_fields = ["file", "metrics", "feature_importance", "params", "library_versions", "training_data"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["machine", "kind", "confidence", "latency_ms", "model_version", "created_at"]
    list_filter = ["kind"]
    search_fields = ["machine__machine_id"]
    raw_id_fields = ["machine", "model_version", "requested_by"]


@admin.register(SensorReading)
class SensorReadingAdmin(admin.ModelAdmin):
    list_display = ["machine", "timestamp", "received_at"]
    search_fields = ["machine__machine_id"]
    raw_id_fields = ["machine"]


@admin.register(ReadingAggregate)
class ReadingAggregateAdmin(admin.ModelAdmin):
    list_display = ["machine", "bucket_start", "bucket_seconds", "count"]
    raw_id_fields = ["machine"]


@admin.register(MachineHealth)
class MachineHealthAdmin(admin.ModelAdmin):
    list_display = ["machine", "state", "confidence", "rul", "anomaly", "last_reading_at", "predicted_at"]
    list_filter = ["state", "anomaly"]


@admin.register(RealDataset)
class RealDatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "machine", "status", "rows", "units", "target_kind", "created_at"]
    list_filter = ["status", "target_kind"]
    readonly_fields = ["file", "file_info", "proposal", "cleaning", "summary", "layout"]


@admin.register(MappingPreset)
class MappingPresetAdmin(admin.ModelAdmin):
    list_display = ["name", "builtin", "created_at"]


admin.site.register(FleetSnapshot)
