"""Jobs and synthetic-data records in the Django admin: read-only (the services write them), plus
activating a synthesizer version."""

from django.contrib import admin, messages

from accounts.roles import Role, has_role
from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.services.synthetic import synthesizer_activate


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "machine", "progress", "stage", "requested_by", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["machine__machine_id", "message", "error"]
    list_select_related = ["machine", "requested_by"]


@admin.register(SeedDataset)
class SeedDatasetAdmin(ReadOnlyAdmin):
    list_display = ["id", "machine", "rows", "cycles", "holdout_rows", "random_seed", "created_at"]
    search_fields = ["machine__machine_id"]
    list_select_related = ["machine"]


@admin.register(SynthesizerModel)
class SynthesizerModelAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "machine",
        "version",
        "variant",
        "epochs_run",
        "final_loss",
        "quality_score",
        "verdict",
        "flagged",
        "is_active",
        "device",
        "created_at",
    ]
    list_filter = ["is_active", "verdict", "variant", "flagged"]
    search_fields = ["machine__machine_id"]
    list_select_related = ["machine"]
    actions = ["activate"]

    def has_activate_permission(self, request):
        return has_role(request.user, Role.ADMIN)  # SPEC §6: activating models is for admins

    @admin.action(description="Activate the selected version (one per machine)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.values("machine").distinct().count() != queryset.count():
            self.message_user(request, "Select at most one version per machine.", messages.ERROR)
            return
        for model in queryset.select_related("machine"):
            synthesizer_activate(synthesizer=model, user=request.user)
        self.message_user(request, f"{queryset.count()} version(s) activated.", messages.SUCCESS)


@admin.register(SyntheticDataset)
class SyntheticDatasetAdmin(ReadOnlyAdmin):
    list_display = ["id", "machine", "synthesizer", "rows", "bytes", "seconds", "created_at"]
    search_fields = ["machine__machine_id"]
    list_select_related = ["machine", "synthesizer"]


@admin.register(QualityReport)
class QualityReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "dataset", "split", "overall", "verdict", "max_corr_gap", "created_at"]
    list_filter = ["verdict"]
    list_select_related = ["dataset"]
