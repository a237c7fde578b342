"""The predictions API: the model registry and training, predictions on demand and in batches, telemetry,
the fleet's health, real-data uploads with their mapping, and mapping presets.

Errors follow the project's shape {detail, errors}: 400 names the field (`readings[3].values.x`), 409 says
which earlier step is missing, 424 says a stored model no longer loads and offers to retrain it.
"""

import json
import time

from django.conf import settings
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role
from gan.serializers import JobStartedSerializer
from machines.models import Machine, MachineCategory
from pdm_site import versions
from predictions import selectors
from predictions.models import MappingPreset, ModelVersion, Prediction, RealDataset
from predictions.serializers import (
    BatchAnswerSerializer,
    BatchRequestSerializer,
    FleetFilterSerializer,
    FleetMachineSerializer,
    FleetOverviewSerializer,
    IngestResultSerializer,
    MachineHealthSerializer,
    MappingPresetSerializer,
    ModelTrainSerializer,
    ModelVersionSerializer,
    PlanConfirmSerializer,
    PredictionRequestSerializer,
    PredictionSerializer,
    ReadingsBatchSerializer,
    RealDatasetSerializer,
    RealDatasetUploadSerializer,
    RealTrainSerializer,
    ReanalyseSerializer,
    SensorReadingSerializer,
)
from predictions.services import ingestion, training
from predictions.services.models import FLEET_KINDS, model_activate, model_rollback
from predictions.services.serving import prediction_request, predictions_batch
from predictions.services.telemetry import readings_ingest

# --- Shared pieces -----------------------------------------------------------------------------------


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class LenientJSONParser(JSONParser):
    """JSON that may hold NaN and Infinity (as many loggers write them), so the answer can name the reading
    that holds one instead of refusing the whole body as malformed. Django bounds the body's size."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding))
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _machine(machine_id: str) -> Machine:
    return get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)


def _field_machine(field: str, machine_id) -> Machine:
    machine = Machine.objects.select_related("category").filter(machine_id=machine_id).first()
    if machine is None:
        raise ValidationError({field: [f"no machine {machine_id!r}"]})
    return machine


FLEET_SECONDS = 300
CONFLICT = OpenApiResponse(description="A missing earlier step (no model, no readings, data not ready).")
RETRAIN = OpenApiResponse(
    description="The stored model no longer loads (other library versions): retrain it."
)
STARTED = OpenApiExample(
    "Started",
    value={
        "job": 7,
        "status": "PENDING",
        "kind": "model_training",
        "ws_url": "/ws/jobs/7/",
        "url": "/api/v1/jobs/7/",
    },
    response_only=True,
    status_codes=["202"],
)

# --- Models -----------------------------------------------------------------------------------------


class ModelVersionFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")
    category = filters.CharFilter(field_name="category__name")

    class Meta:
        model = ModelVersion
        fields = ["kind", "machine", "category", "source", "is_active"]


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained predictors, versioned per kind and scope. Activating and rolling back are for admins."""

    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter
    ordering_fields = ["trained_at", "version", "kind"]
    search_fields = ["machine__machine_id", "category__name"]
    action_roles = {"activate": Role.ADMIN, "rollback": Role.ADMIN}

    @property
    def throttle_scope(self):
        return "costly" if getattr(self, "action", None) == "retrain" else None

    def get_queryset(self):
        return selectors.model_version_list().order_by(
            "kind", "category__name", "machine__machine_id", "-version"
        )

    @extend_schema(
        summary="Activate this version (admins)", request=None, responses={200: ModelVersionSerializer}
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return Response(
            ModelVersionSerializer(model_activate(version=self.get_object(), user=request.user)).data
        )

    @extend_schema(
        summary="Roll back to the previous version (admins)",
        description="On the active version: the version before it becomes active. 409 on an inactive or "
        "first version.",
        request=None,
        responses={200: ModelVersionSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return Response(
            ModelVersionSerializer(model_rollback(version=self.get_object(), user=request.user)).data
        )

    @extend_schema(
        summary="Retrain this kind and scope from the same kind of data",
        request=None,
        responses={202: JobStartedSerializer, 409: CONFLICT},
        examples=[STARTED],
    )
    @action(detail=True, methods=["post"])
    def retrain(self, request, pk=None):
        job = training.model_retrain(version=self.get_object(), user=request.user)
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ModelTrainView(APIView):
    throttle_scope = "costly"

    @extend_schema(
        summary="Train predictors",
        description="A model_training job: each kind is fitted on the machine's (or its category's "
        "machines') seed data, synthetic train split, or a prepared real dataset, with live progress on the "
        "job's WebSocket; each fit becomes the active version of its kind and scope. A binary failure label "
        "in real data trains `failure`. 409 without the data, or while the same models are training.",
        request=ModelTrainSerializer,
        responses={202: JobStartedSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "A category from seed data",
                value={
                    "kinds": ["health", "rul", "anomaly", "forecast"],
                    "category": "motor",
                    "source": "seed",
                },
                request_only=True,
            ),
            OpenApiExample(
                "A machine from real data",
                value={
                    "kinds": ["rul"],
                    "machine": "turbofan_cfm56_001",
                    "source": "real",
                    "real_dataset": 3,
                },
                request_only=True,
            ),
            STARTED,
        ],
    )
    def post(self, request):
        serializer = ModelTrainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        machine = _field_machine("machine", data["machine"]) if "machine" in data else None
        category = None
        if "category" in data:
            category = MachineCategory.objects.filter(name=data["category"]).first()
            if category is None:
                raise ValidationError({"category": [f"no category {data['category']!r}"]})
        real = None
        if "real_dataset" in data:
            real = RealDataset.objects.filter(pk=data["real_dataset"]).select_related("machine").first()
            if real is None:
                raise ValidationError({"real_dataset": [f"no real dataset {data['real_dataset']}"]})
        job = training.training_start(
            kinds=data["kinds"],
            source=data["source"],
            machine=machine,
            category=category,
            real_dataset=real,
            quick=data["quick"],
            user=request.user,
        )
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- Predictions -----------------------------------------------------------------------------------------


class PredictionFilter(filters.FilterSet):
    machine = filters.CharFilter(field_name="machine__machine_id")

    class Meta:
        model = Prediction
        fields = ["machine", "kind"]


PREDICTION_EXAMPLE = OpenApiExample(
    "A health-state prediction",
    value={
        "id": 812,
        "machine_id": "motor_siemens_1la7_001",
        "kind": "health",
        "result": {
            "kind": "health",
            "state": 1,
            "state_name": "Degrading",
            "confidence": 0.91,
            "probabilities": {"Healthy": 0.06, "Degrading": 0.91, "Warning": 0.03, "Critical": 0.0},
        },
        "confidence": 0.91,
        "input": {
            "source": "latest",
            "rows": 20,
            "from": "2025-01-01T10:00:00Z",
            "to": "2025-01-01T10:01:35Z",
        },
        "model": {"id": 4, "version": 2, "scope": "category motor"},
        "latency_ms": 3.2,
        "vision_findings": None,
        "created_at": "2025-01-01T10:01:36Z",
    },
    response_only=True,
    status_codes=["201"],
)


class PredictionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The prediction log; POST asks for a new one, POST batch/ for many machines and kinds at once."""

    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    ordering_fields = ["created_at", "latency_ms"]

    def get_queryset(self):
        return selectors.prediction_list()

    @extend_schema(
        summary="Predict one kind for one machine",
        description='From the machine\'s latest stored readings (`"latest"`) or from readings in the '
        "request. Served by the machine's active model of the kind, else its category's. Logged with its "
        "input, result, confidence, model version and latency, and announced as `predictions_stored`. 409 "
        "without a model or readings, 424 when the model file no longer loads (retrain).",
        request=PredictionRequestSerializer,
        responses={201: PredictionSerializer, 409: CONFLICT, 424: RETRAIN},
        examples=[
            OpenApiExample(
                "From stored readings",
                value={"kind": "health", "machine": "motor_siemens_1la7_001", "readings": "latest"},
                request_only=True,
            ),
            OpenApiExample(
                "From readings in the request",
                value={
                    "kind": "rul",
                    "machine": "motor_siemens_1la7_001",
                    "readings": [
                        {"timestamp": "2025-01-01T10:00:00Z", "values": {"bearing_de_temp_C": 61.2}},
                        {"timestamp": "2025-01-01T10:00:05Z", "values": {"bearing_de_temp_C": 61.4}},
                    ],
                },
                request_only=True,
            ),
            PREDICTION_EXAMPLE,
        ],
    )
    def create(self, request):
        serializer = PredictionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        machine = _field_machine("machine", data["machine"])
        prediction = prediction_request(
            machine=machine,
            kind=data["kind"],
            readings=data["readings"],
            user=request.user,
            vision_findings=data.get("vision_findings"),
        )
        prediction.machine = machine
        return Response(PredictionSerializer(prediction).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Predict for many machines at once",
        description="Every kind for every machine listed (default: the whole active fleet and health, rul, "
        "anomaly, forecast), from their latest readings. A pair without a model, readings or a loadable "
        "file gets an `error` instead of failing the batch.",
        request=BatchRequestSerializer,
        responses={200: BatchAnswerSerializer},
        examples=[
            OpenApiExample("The whole fleet", value={}, request_only=True),
            OpenApiExample(
                "Two machines, two kinds",
                value={
                    "machines": ["motor_siemens_1la7_001", "pump_ksb_etanorm_001"],
                    "kinds": ["health", "rul"],
                },
                request_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        serializer = BatchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        machines = Machine.objects.filter(is_active=True).select_related("category").order_by("machine_id")
        if "machines" in data:
            wanted = list(dict.fromkeys(data["machines"]))
            machines = list(Machine.objects.filter(machine_id__in=wanted).select_related("category"))
            missing = sorted(set(wanted) - {m.machine_id for m in machines})
            if missing:
                raise ValidationError({"machines": [f"no machine(s) {missing}"]})
        started = time.perf_counter()
        outcomes = predictions_batch(
            machines=list(machines), kinds=data.get("kinds") or list(FLEET_KINDS), user=request.user
        )
        elapsed = (time.perf_counter() - started) * 1000
        results = [
            {
                "machine_id": outcome.machine.machine_id,
                "kind": outcome.kind,
                "prediction": outcome.prediction.pk if outcome.prediction else None,
                "result": outcome.prediction.result if outcome.prediction else None,
                "confidence": outcome.prediction.confidence if outcome.prediction else None,
                "error": outcome.error,
            }
            for outcome in outcomes
        ]
        predicted = sum(1 for outcome in outcomes if outcome.prediction)
        answer = {
            "count": len(results),
            "predicted": predicted,
            "failed": len(results) - predicted,
            "latency_ms": round(elapsed, 3),
            "results": results,
        }
        return Response(BatchAnswerSerializer(answer).data)


# --- Telemetry and the fleet ------------------------------------------------------------------------------


class MachineReadingsView(APIView):
    throttle_scope = "telemetry"
    parser_classes = [LenientJSONParser]

    @extend_schema(
        summary="A machine's latest readings",
        parameters=[OpenApiParameter("page", int, description="Page (newest first, 25 per page).")],
        responses={200: SensorReadingSerializer(many=True)},
    )
    def get(self, request, machine_id):
        machine = _machine(machine_id)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(machine.readings.order_by("-timestamp"), request, view=self)
        return paginator.get_paginated_response(SensorReadingSerializer(page, many=True).data)

    @extend_schema(
        summary="Send readings",
        description="One reading `{timestamp?, values}` or a batch `{readings: [...]}` of up to 10,000. "
        "Values are checked against the machine's sensors: an unknown sensor, NaN, infinity or text answers "
        "400 naming it (`readings[3].values.vibration_mm_s: not a finite number`); so does a timestamp far "
        "in the future. Nothing is stored unless everything is valid. Readings whose timestamp is stored "
        "already are skipped and counted as `duplicates`. New readings refresh the machine's predictions "
        "(at most once per PREDICTIONS_REFRESH_SECONDS).",
        request={"application/json": ReadingsBatchSerializer},
        responses={201: IngestResultSerializer},
        examples=[
            OpenApiExample(
                "A batch",
                value={
                    "readings": [
                        {
                            "timestamp": "2025-01-01T10:00:00Z",
                            "values": {"bearing_de_temp_C": 41.2, "current_A": 8.1},
                        },
                        {
                            "timestamp": "2025-01-01T10:00:05Z",
                            "values": {"bearing_de_temp_C": 41.3, "current_A": 8.0},
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "One reading, stamped now", value={"values": {"vibration_mm_s": 2.7}}, request_only=True
            ),
            OpenApiExample(
                "Stored",
                value={
                    "machine_id": "motor_siemens_1la7_001",
                    "received": 2,
                    "stored": 1,
                    "duplicates": 1,
                    "first": "2025-01-01T10:00:00Z",
                    "last": "2025-01-01T10:00:05Z",
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Invalid",
                value={
                    "detail": "Invalid input: readings[3].values.vibration_mm_s: not a finite number",
                    "errors": {"readings[3].values.vibration_mm_s": ["not a finite number"]},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request, machine_id):
        result = readings_ingest(machine=_machine(machine_id), payload=request.data)
        return Response(IngestResultSerializer(result).data, status=status.HTTP_201_CREATED)


class MachineHealthView(APIView):
    @extend_schema(
        summary="A machine's current health",
        description="What the dashboard card shows (state, confidence, RUL with its interval, anomaly, key "
        "sensors), rewritten by each refresh; 404 before the first refresh.",
        responses={200: MachineHealthSerializer},
    )
    def get(self, request, machine_id):
        health = selectors.machine_health(_machine(machine_id))
        if health is None:
            raise NotFound(f"No readings or predictions of {machine_id} yet.")
        return Response(MachineHealthSerializer(health).data)


class FleetView(APIView):
    @extend_schema(
        summary="The fleet's health",
        description="Counts per health state with the change since the previous snapshot, and the active "
        "machines with their health, filtered and sorted like the dashboard.",
        parameters=[FleetFilterSerializer, OpenApiParameter("page", int)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = FleetFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # Shared by every caller until the fleet changes (pdm_site.versions): it holds nothing personal.
        key = f"api:fleet:{request.build_absolute_uri()}"
        data = versions.cached(
            selectors.FLEET, key, lambda: self._fleet(request, query.validated_data), seconds=FLEET_SECONDS
        )
        return Response(data)

    def _fleet(self, request, filters: dict) -> dict:
        overview = selectors.fleet_overview()
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.fleet_machines(**filters), request, view=self)
        summary = {
            "counts": overview["counts"],
            "change": {card.key: card.change for card in overview["cards"]},
            "total": overview["total"],
            "snapshot_at": overview["snapshot_at"],
        }
        data = paginator.get_paginated_response(FleetMachineSerializer(page, many=True).data).data
        return {**data, "overview": FleetOverviewSerializer(summary).data}


# --- Real data and presets ----------------------------------------------------------------------------------


class RealDatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Uploaded real data: upload → analysis job → confirm the plan → preparation job → train."""

    serializer_class = RealDatasetSerializer
    filterset_fields = ["status", "target_kind"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @property
    def throttle_scope(self):
        return "costly" if getattr(self, "action", None) in ("create", "train") else None

    def get_queryset(self):
        return selectors.real_dataset_list()

    @extend_schema(
        summary="Upload real data",
        description="multipart/form-data with `file`, `machine` and optionally `preset`. The file is stored "
        "and an ingestion job detects the time, run and target columns, proposes a column → sensor mapping "
        "(fuzzy matching against the machine's sensors, or the preset's plan) and a cleaning report. 413 "
        "above PREDICTIONS_UPLOAD_MAX_BYTES.",
        request={"multipart/form-data": RealDatasetUploadSerializer},
        responses={202: RealDatasetSerializer, 413: OpenApiResponse(description="The file is too large.")},
    )
    def create(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.PREDICTIONS_UPLOAD_MAX_BYTES + ingestion.MULTIPART_OVERHEAD:
            raise PayloadTooLarge(ingestion.upload_too_large(length))
        serializer = RealDatasetUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preset = None
        if data.get("preset"):
            preset = MappingPreset.objects.filter(name=data["preset"]).first()
            if preset is None:
                raise ValidationError({"preset": [f"no preset {data['preset']!r}"]})
        dataset = ingestion.dataset_upload(
            machine=_field_machine("machine", data["machine"]),
            upload=data["file"],
            preset=preset,
            user=request.user,
        )
        return Response(RealDatasetSerializer(dataset).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Confirm (or edit) the plan",
        description="Starts the preparation job (types, order, duplicates, RUL per run). 400 names the plan "
        "field (`plan.sensors.s2`, `plan.time_column`); 409 while the file is being analysed or prepared.",
        request=PlanConfirmSerializer,
        responses={202: RealDatasetSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "A run-to-failure file",
                value={
                    "plan": {
                        "sensors": {"temp": "bearing_temp_C", "vib": "vibration_mm_s"},
                        "time_column": "cycle",
                        "time_kind": "cycle",
                        "run_column": "unit",
                        "target_kind": "derived_rul",
                        "target_column": "rul",
                        "rul_unit": "cycles",
                        "categorical": [],
                        "derived": [],
                        "columns": None,
                    }
                },
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        serializer = PlanConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = ingestion.dataset_confirm(
            dataset=self.get_object(), plan=serializer.validated_data["plan"], user=request.user
        )
        return Response(RealDatasetSerializer(dataset).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Analyse again, with a preset or with detection",
        request=ReanalyseSerializer,
        responses={202: RealDatasetSerializer, 409: CONFLICT},
        examples=[OpenApiExample("C-MAPSS", value={"preset": "cmapss_fd001"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def reanalyse(self, request, pk=None):
        serializer = ReanalyseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data.get("preset")
        preset = None
        if name:
            preset = MappingPreset.objects.filter(name=name).first()
            if preset is None:
                raise ValidationError({"preset": [f"no preset {name!r}"]})
        dataset = ingestion.dataset_reanalyse(dataset=self.get_object(), preset=preset, user=request.user)
        return Response(RealDatasetSerializer(dataset).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Train predictors on the prepared data",
        description="An RUL target (a column, or derived per run) trains health, rul, anomaly and forecast; "
        "a binary failure label trains the failure classifier. Scope: the dataset's machine (default) or "
        "its category. 409 until the data is prepared.",
        request=RealTrainSerializer,
        responses={202: JobStartedSerializer, 409: CONFLICT},
        examples=[OpenApiExample("RUL only", value={"kinds": ["rul"]}, request_only=True), STARTED],
    )
    @action(detail=True, methods=["post"])
    def train(self, request, pk=None):
        dataset = self.get_object()
        serializer = RealTrainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        by_category = data["scope"] == "category"
        job = training.training_start(
            kinds=data.get("kinds") or dataset.trainable_kinds,
            source=ModelVersion.Source.REAL,
            machine=None if by_category else dataset.machine,
            category=dataset.machine.category if by_category else None,
            real_dataset=dataset,
            quick=data["quick"],
            user=request.user,
        )
        return Response(JobStartedSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class MappingPresetViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Reusable plans for known file layouts (C-MAPSS and AI4I 2020 ship with the product)."""

    serializer_class = MappingPresetSerializer
    search_fields = ["name", "description"]

    def get_queryset(self):
        return selectors.preset_list()

    @extend_schema(
        summary="Save a preset",
        examples=[
            OpenApiExample(
                "A plant's pump logs",
                value={
                    "name": "plant_a_pumps",
                    "description": "Hourly CSV export of the plant A pump skids",
                    "plan": {
                        "sensors": {"Temp (C)": "bearing_temp_C"},
                        "time_column": "Time",
                        "time_kind": "timestamp",
                    },
                },
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preset = ingestion.preset_create(
            name=data["name"], plan=data["plan"], description=data.get("description", ""), user=request.user
        )
        return Response(MappingPresetSerializer(preset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Shipped presets stay.")})
    def destroy(self, request, *args, **kwargs):
        ingestion.preset_delete(preset=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
