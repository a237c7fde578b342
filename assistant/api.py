"""The assistant's API: explanations of predictions, chat (non-streaming; stream over /ws/assistant/),
conversations, manuals and PDF reports.

Who may do what follows SPEC §6: everyone with a role reads explanations, manuals and reports; operators
request explanations, chat and reports; admins upload and delete manuals. Conversations are private: a user
lists and reads only their own (anyone else's answers 404, as a missing one does). Requests that run the
language model or make a report are throttled with the "costly" scope.
"""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role
from assistant import selectors
from assistant.models import Conversation, Explanation, ManualDocument, Report
from assistant.serializers import (
    ChatAnswerSerializer,
    ChatRequestSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ExplanationRequestSerializer,
    ExplanationSerializer,
    ManualSerializer,
    ManualUploadSerializer,
    ReportRequestSerializer,
    ReportSerializer,
    ReportStartedSerializer,
)
from assistant.services.chat import KEEP_MACHINE, chat_answer, chat_check, conversation_delete
from assistant.services.explanations import explanation_request
from assistant.services.manuals import manual_delete, manual_upload
from assistant.services.reports import report_request
from machines.models import Machine
from pdm_site.api import Conflict
from predictions.models import Prediction

PDF = "application/pdf"
COSTLY = "costly"
CITATION_EXAMPLE = {
    "number": 1,
    "chunk_id": "motor.md#4",
    "source": "motor.md",
    "title": "Electric motor maintenance manual",
    "section": "Sensor signatures",
    "score": 7.31,
    "text": "Bearing temperature rising 10–15 °C above its healthy baseline ...",
}


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class CostlyCreateThrottleMixin:
    """The "costly" throttle scope on `create` only: reading lists stays cheap."""

    costly_actions = ("create",)

    def get_throttles(self):
        self.throttle_scope = COSTLY if getattr(self, "action", None) in self.costly_actions else None
        return super().get_throttles()


# --- Explanations ---------------------------------------------------------------------------------------


class ExplanationFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id", help_text="machine_id")

    class Meta:
        model = Explanation
        fields = ["machine", "prediction", "source"]


@extend_schema_view(
    list=extend_schema(summary="Explanations, newest first"),
    retrieve=extend_schema(summary="One explanation"),
)
class ExplanationViewSet(
    CostlyCreateThrottleMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ExplanationSerializer
    filterset_class = ExplanationFilter
    ordering_fields = ["created_at", "seconds"]
    search_fields = ["machine__machine_id", "text"]

    def get_queryset(self):
        return selectors.explanation_list()

    @extend_schema(
        summary="Explain a prediction",
        description=(
            "The prediction's kept explanation (200), or a new one (201): the grounded draft — summary, "
            "risk factors (sensor, value, distance from healthy), recommendations from the manuals with "
            "citations, urgency — rewritten by the language model when one is configured. `source` says "
            "which text `text` is: `llm` or `draft` (no model, or the model failed: `error` says why). "
            "Operators only; viewers read kept explanations with GET. Stream it over /ws/assistant/."
        ),
        request=ExplanationRequestSerializer,
        responses={200: ExplanationSerializer, 201: ExplanationSerializer},
        examples=[
            OpenApiExample("Request", value={"prediction": 1234}, request_only=True),
            OpenApiExample(
                "Explanation",
                value={
                    "id": 7,
                    "prediction": 1234,
                    "prediction_kind": "health",
                    "machine_id": "motor_weg_w22_003",
                    "text": "**motor_weg_w22_003** (motor) is in health state **Warning** ...",
                    "source": "llm",
                    "summary": "**motor_weg_w22_003** (motor) is in health state **Warning** ...",
                    "risk_factors": [
                        {
                            "sensor": "bearing_de_temp_C",
                            "value": 61.0,
                            "unit": "°C",
                            "baseline": 40.0,
                            "deviation_sigma": 42.0,
                            "toward_failure": 0.6,
                            "contribution": None,
                            "text": "bearing_de_temp_C = 61 °C: 42.0 sigma above its healthy 40",
                        }
                    ],
                    "recommendations": [{"text": "Schedule an inspection within 72 h ...", "citation": None}],
                    "citations": [CITATION_EXAMPLE],
                    "urgency": {
                        "level": "high",
                        "label": "Soon: inspect within days",
                        "act_within_hours": 72,
                    },
                    "model": "SmolLM2 135M Instruct",
                    "seconds": 9.4,
                },
                response_only=True,
                status_codes=["200", "201"],
            ),
        ],
    )
    def create(self, request):
        serializer = ExplanationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prediction_id = serializer.validated_data["prediction"]
        prediction = Prediction.objects.select_related("machine__category").filter(pk=prediction_id).first()
        if prediction is None:
            raise ValidationError({"prediction": [f"unknown prediction {prediction_id}"]})
        outcome = explanation_request(prediction=prediction, user=request.user)
        return Response(
            ExplanationSerializer(outcome.explanation).data,
            status=status.HTTP_200_OK if outcome.cached else status.HTTP_201_CREATED,
        )


# --- Chat and conversations --------------------------------------------------------------------------------


class ChatView(APIView):
    throttle_scope = COSTLY
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        summary="Ask the assistant (non-streaming)",
        description=(
            "Answers from the maintenance manuals (and the machine's current state when `machine` is "
            "given), with the manual passages it may cite. The question and the answer are stored in one of "
            "your conversations (a new one unless `conversation` names one of yours). `answer.source` is "
            "`llm`, or `retrieval` when no model is configured or it failed (then the passages are "
            "listed). Operators only. For streamed tokens use /ws/assistant/."
        ),
        request=ChatRequestSerializer,
        responses={200: ChatAnswerSerializer},
        examples=[
            OpenApiExample(
                "Question about a machine",
                value={"question": "Why is the bearing running hot?", "machine": "motor_weg_w22_003"},
                request_only=True,
            ),
            OpenApiExample(
                "Answer",
                value={
                    "conversation": {
                        "id": 3,
                        "title": "Why is the bearing running hot?",
                        "machine_id": "motor_weg_w22_003",
                    },
                    "question": {"id": 10, "role": "user", "text": "Why is the bearing running hot?"},
                    "answer": {
                        "id": 11,
                        "role": "assistant",
                        "text": "Check the grease first [1] ...",
                        "source": "llm",
                        "citations": [CITATION_EXAMPLE],
                        "cited": [1],
                        "model": "SmolLM2 135M Instruct",
                        "stopped": False,
                    },
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = ChatRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        chat_request = chat_check(
            user=request.user,
            question=data["question"],
            machine=data.get("machine", KEEP_MACHINE),
            conversation=data.get("conversation"),
        )
        outcome = chat_answer(chat_request)
        conversation = selectors.conversation_list(request.user).get(pk=outcome.conversation.pk)
        body = {"conversation": conversation, "question": outcome.question, "answer": outcome.answer}
        return Response(ChatAnswerSerializer(body).data)


@extend_schema_view(
    list=extend_schema(summary="Your conversations, most recent first"),
    retrieve=extend_schema(summary="One of your conversations, with its messages"),
    destroy=extend_schema(summary="Delete one of your conversations"),
)
class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Only the requesting user's own conversations exist here."""

    ordering_fields = ["updated_at", "created_at"]
    search_fields = ["title"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Conversation.objects.none()
        conversations = selectors.conversation_list(self.request.user)
        if self.action == "retrieve":
            return conversations.prefetch_related("messages")
        return conversations

    def get_serializer_class(self):
        return ConversationDetailSerializer if self.action == "retrieve" else ConversationSerializer

    def perform_destroy(self, instance):
        conversation_delete(conversation=instance)


# --- Manuals ------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Uploaded manuals (the shipped ones are always searched too)"),
    retrieve=extend_schema(summary="One uploaded manual"),
    destroy=extend_schema(summary="Delete an uploaded manual (admins)"),
)
class ManualViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ManualSerializer
    parser_classes = [MultiPartParser, FormParser]
    action_roles = {"create": Role.ADMIN, "destroy": Role.ADMIN}
    filterset_fields = ["format"]
    search_fields = ["name", "title"]

    def get_queryset(self):
        return selectors.manual_list()

    @extend_schema(
        summary="Upload a manual (admins)",
        description=(
            "multipart/form-data with `file` (.txt, .md or .pdf, at most ASSISTANT_MANUAL_MAX_BYTES, "
            "10 MB by default) and optionally `category`. The text is extracted and searched by the "
            "assistant at once; its passages enter prompts as quoted data, never as instructions. 400 "
            "naming `file` when it is not text or PDF, empty, unreadable or already uploaded; 413 when the "
            "request is far too big."
        ),
        request={"multipart/form-data": ManualUploadSerializer},
        responses={201: ManualSerializer, 413: OpenApiResponse(description="The upload is too large.")},
    )
    def create(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.ASSISTANT_MANUAL_MAX_BYTES
        if length > limit + 64 * 1024:
            raise PayloadTooLarge(
                f"{length / 1e6:.1f} MB is over the {limit / 1e6:.1f} MB limit for a manual"
            )
        serializer = ManualUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        manual = manual_upload(
            upload=serializer.validated_data["file"],
            category=serializer.validated_data.get("category"),
            user=request.user,
        )
        return Response(ManualSerializer(manual).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ManualDocument):
        manual_delete(manual=instance)


# --- Reports ------------------------------------------------------------------------------------------------


class ReportFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id", help_text="machine_id")

    class Meta:
        model = Report
        fields = ["machine", "scope"]


@extend_schema_view(
    list=extend_schema(summary="PDF reports, newest first"),
    retrieve=extend_schema(summary="One report and the state of its job"),
)
class ReportViewSet(
    CostlyCreateThrottleMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.report_list()

    @extend_schema(
        summary="Make a PDF report",
        description=(
            "A machine report (health summary, RUL and sensor charts, latest predictions, the explanation, "
            "recommendations and citations) or a fleet report (health counts, lowest RUL, every machine, "
            "the machines needing attention with their recommendations). Made by a job of kind `report`: "
            "202 with the job; follow ws_url, then download. Operators only."
        ),
        request=ReportRequestSerializer,
        responses={202: ReportStartedSerializer},
        examples=[
            OpenApiExample("Machine report", value={"machine": "motor_weg_w22_003"}, request_only=True),
            OpenApiExample("Fleet report", value={"scope": "fleet"}, request_only=True),
            OpenApiExample(
                "Started",
                value={
                    "report": 5,
                    "job": 42,
                    "status": "PENDING",
                    "kind": "report",
                    "ws_url": "/ws/jobs/42/",
                    "url": "/api/v1/reports/5/",
                    "download_url": "/api/v1/reports/5/download/",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def create(self, request):
        serializer = ReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scope, machine_id = serializer.validated_data["scope"], serializer.validated_data.get("machine", "")
        machine = None
        if scope == Report.Scope.MACHINE:
            if not machine_id:
                raise ValidationError({"machine": ['name the machine, or ask for {"scope": "fleet"}']})
            machine = Machine.objects.filter(machine_id=machine_id).first()
            if machine is None:
                raise ValidationError({"machine": [f"unknown machine {machine_id[:100]!r}"]})
        elif machine_id:
            raise ValidationError({"machine": ["a fleet report covers every machine: leave machine out"]})
        report = report_request(machine=machine, user=request.user)
        return Response(ReportStartedSerializer(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download the PDF",
        description="409 while the report is being made (or when its job failed: the answer says why).",
        responses={(200, PDF): OpenApiTypes.BINARY, 409: OpenApiResponse(description="Not ready.")},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        report = self.get_object()
        if not report.is_ready:
            job = report.job
            reason = f"its job failed: {job.error}" if job.error else f"its job is {job.status.lower()}"
            raise Conflict(f"Report {report.pk} is not ready: {reason}.")
        return FileResponse(
            default_storage.open(report.file.name, "rb"),
            as_attachment=True,
            filename=report.filename,
            content_type=PDF,
        )
