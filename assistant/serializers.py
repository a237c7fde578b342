from rest_framework import serializers

from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.models import Conversation, Explanation, ManualDocument, Message, Report
from machines.models import MachineCategory
from pdm_site.api import NameLookupField


class ExplanationSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    prediction_kind = serializers.CharField(source="prediction.kind", read_only=True)
    model = serializers.CharField(source="model_name", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Explanation
        fields = [
            "id",
            "prediction",
            "prediction_kind",
            "machine_id",
            "text",
            "source",
            "draft_text",
            "summary",
            "risk_factors",
            "findings",
            "recommendations",
            "citations",
            "cited",
            "urgency",
            "model",
            "seconds",
            "finish_reason",
            "error",
            "requested_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ExplanationRequestSerializer(serializers.Serializer):
    prediction = serializers.IntegerField(min_value=1, help_text="The id of the prediction to explain.")


class MessageSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_name", read_only=True)
    stopped = serializers.BooleanField(read_only=True, help_text="The user stopped this answer.")

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "text",
            "source",
            "citations",
            "cited",
            "model",
            "seconds",
            "finish_reason",
            "stopped",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(
        source="machine.machine_id", default=None, allow_null=True, read_only=True
    )
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "title", "machine_id", "message_count", "created_at", "updated_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]
        read_only_fields = fields


class ChatRequestSerializer(serializers.Serializer):
    # Bounds and blanks are checked by the service, so the socket and the API answer alike.
    question = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"1–{MAX_QUESTION_CHARS:,} characters."
    )
    machine = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="machine_id the question is about. Left out, a continued conversation keeps its machine; "
        "null or empty: no machine.",
    )
    conversation = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="One of your conversations to continue; left out: a new one.",
    )


class ChatAnswerSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    question = MessageSerializer()
    answer = MessageSerializer()


class ManualSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default=None, allow_null=True, read_only=True)
    uploaded_by = serializers.CharField(
        source="uploaded_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = ManualDocument
        fields = [
            "id",
            "name",
            "title",
            "format",
            "category",
            "bytes",
            "sha256",
            "chunks",
            "uploaded_by",
            "created_at",
        ]
        read_only_fields = fields


class ManualUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .txt, .md or .pdf manual (at most ASSISTANT_MANUAL_MAX_BYTES).")
    category = NameLookupField(
        slug_field="name",
        queryset=MachineCategory.objects.all(),
        required=False,
        allow_null=True,
        help_text="The category it is about (e.g. pump); left out: a general manual, searched for all.",
    )


class ReportSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(
        source="machine.machine_id", default=None, allow_null=True, read_only=True
    )
    status = serializers.CharField(source="job.status", read_only=True)
    progress = serializers.FloatField(source="job.progress", read_only=True)
    error = serializers.CharField(source="job.error", read_only=True)
    ready = serializers.BooleanField(source="is_ready", read_only=True)
    download_url = serializers.SerializerMethodField()
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Report
        fields = [
            "id",
            "scope",
            "machine_id",
            "job",
            "status",
            "progress",
            "error",
            "ready",
            "bytes",
            "pages",
            "download_url",
            "requested_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_download_url(self, report) -> str:
        return f"/api/v1/reports/{report.pk}/download/"


class ReportRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=Report.Scope.choices,
        default=Report.Scope.MACHINE,
        help_text="machine (give `machine`) or fleet.",
    )
    machine = serializers.CharField(
        required=False, allow_blank=True, help_text="machine_id, for a machine report."
    )


class ReportStartedSerializer(serializers.Serializer):
    """202: the report and the job making it (watch ws_url, or poll url)."""

    report = serializers.IntegerField(source="pk")
    job = serializers.IntegerField(source="job_id")
    status = serializers.CharField(source="job.status")
    kind = serializers.CharField(source="job.kind")
    ws_url = serializers.CharField(source="job.ws_url")
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    def get_url(self, report) -> str:
        return f"/api/v1/reports/{report.pk}/"

    def get_download_url(self, report) -> str:
        return f"/api/v1/reports/{report.pk}/download/"
