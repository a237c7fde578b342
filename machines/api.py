"""The fleet catalogue's API: machines (+ versions), categories, profile validation, templates."""

from collections.abc import Mapping

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.roles import Role
from machines.caching import list_cached
from machines.filters import MachineFilter
from machines.models import Machine
from machines.profile_formats import (
    ACCEPTED_TYPES,
    CONTENT_TYPES,
    FORMATS,
    MAX_UPLOAD_BYTES,
    ProfileFileError,
    dump_profile,
    read_profile_upload,
)
from machines.selectors import (
    category_list,
    machine_current_version,
    machine_detail_queryset,
    machine_list,
    machine_profile,
    machine_versions,
    profile_template,
    profile_template_names,
)
from machines.serializers import (
    ActivationSerializer,
    CategorySerializer,
    MachineListSerializer,
    MachineSerializer,
    ProfileSerializer,
    ProfileVersionDetailSerializer,
    ProfileVersionSerializer,
    TemplateSerializer,
    ValidationResultSerializer,
    profile_validate,
)
from machines.services import (
    CatalogueConflict,
    category_create,
    category_delete,
    category_update,
    machine_create,
    machine_delete,
    machine_set_active,
    machine_update,
    profile_merge,
    profile_version_restore,
)
from pdm_site.api import Conflict

# --- Examples for the schema ------------------------------------------------------------------------

MOTOR_EXAMPLE = OpenApiExample(
    "A motor (existing category)",
    summary="machine_type is a category: sensors' base/range/noise come from it",
    value=profile_template("motor")["profile"],
    request_only=True,
)
CHILLER_EXAMPLE = OpenApiExample(
    "A chiller (a new type)",
    summary="machine_type is not a category: the rul block and sensors create it",
    value=profile_template("chiller")["profile"],
    request_only=True,
)
INVALID_EXAMPLE = OpenApiExample(
    "Invalid profile",
    summary="Each error names the field path and how to fix it",
    value={
        "detail": 'Invalid input: sensors[2].unit: temperature sensors need a unit — add "unit": "C"',
        "errors": {"sensors[2].unit": ['temperature sensors need a unit — add "unit": "C"']},
    },
    response_only=True,
    status_codes=["400"],
)


class ProfileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"The profile as {ACCEPTED_TYPES}, at most 1 MB.")


PROFILE_REQUEST = {"application/json": ProfileSerializer, "multipart/form-data": ProfileUploadSerializer}
# Named like the shared error component (pdm_site.api), which the schema hook puts in its place.
ERROR_BODY = inline_serializer(
    "Error",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)
FILE_ERRORS = {
    400: OpenApiResponse(
        ERROR_BODY, description="Invalid profile, or a malformed file (with its line and column)."
    ),
    413: OpenApiResponse(ERROR_BODY, description="The file or document is larger than 1 MB."),
    415: OpenApiResponse(ERROR_BODY, description=f"Not a profile file: upload {ACCEPTED_TYPES}."),
}


# --- Reading a profile from a request ---------------------------------------------------------------


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class UnsupportedProfileFile(APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"


def profile_from_request(request):
    """The profile document of a request: a JSON body, or a multipart upload in the field `file`."""
    if request.content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError(
                {"file": ["attach the profile as the form field `file`, or POST it as JSON"]}
            )
        try:
            return read_profile_upload(upload)
        except ProfileFileError as exc:
            raise _file_error(exc) from exc
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_UPLOAD_BYTES:
        message = "a profile document may be at most 1 MB — remove what is not part of the profile"
        raise PayloadTooLarge({"detail": message, "document": [message]})
    return request.data


def _file_error(exc: ProfileFileError) -> APIException:
    if exc.status == 413:
        return PayloadTooLarge({"detail": exc.message, "file": [exc.message]})
    if exc.status == 415:
        return UnsupportedProfileFile({"detail": exc.message, "file": [exc.message]})
    return ValidationError({"file": [exc.message]})


def machine_output(machine: Machine) -> dict:
    return MachineSerializer(
        {
            **machine_profile(machine),
            "is_active": machine.is_active,
            "created_by": machine.created_by.username if machine.created_by else None,
            "created_at": machine.created_at,
            "updated_at": machine.updated_at,
            "version": machine_current_version(machine),
        }
    ).data


class CachedListMixin:
    """List responses are cached for 30 s; any write to the catalogue drops them (machines.caching)."""

    list_cache_kind = ""

    def list(self, request, *args, **kwargs):
        data = list_cached(
            self.list_cache_kind,
            request.build_absolute_uri(),
            lambda: super(CachedListMixin, self).list(request, *args, **kwargs).data,
        )
        return Response(data)


# --- Machines ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List machines", description="Filter, search, sort; cached for 30 s."),
    retrieve=extend_schema(summary="A machine with its normalised profile"),
    create=extend_schema(
        summary="Create a machine from a profile",
        description=(
            "The body is the profile document as JSON, or a multipart upload (`file`: JSON, YAML or .xlsx). "
            "A machine_type that is not a category must bring a complete rul block; the category is "
            "created with the machine. Nothing is created unless the whole profile is valid."
        ),
        request=PROFILE_REQUEST,
        responses={201: MachineSerializer, **FILE_ERRORS},
        examples=[MOTOR_EXAMPLE, CHILLER_EXAMPLE, INVALID_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a machine's profile",
        description="Writes a new profile version (with its diff) when the document changes.",
        request=PROFILE_REQUEST,
        responses={200: MachineSerializer, **FILE_ERRORS},
        examples=[MOTOR_EXAMPLE, INVALID_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change some fields of a machine's profile",
        description="The given top-level fields replace the current ones; the result is validated whole.",
        request=ProfileSerializer(partial=True),
        responses={200: MachineSerializer},
        examples=[
            OpenApiExample("Move it", value={"location": "Hall 2, line 1"}, request_only=True),
            INVALID_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        summary="Delete a machine (admins)",
        description="Deletes its profile history too; other apps remove its files (machine_deleted event).",
    ),
)
class MachineViewSet(CachedListMixin, viewsets.ModelViewSet):
    """The fleet: machines with their profiles. Viewers read; operators create and edit; admins delete."""

    lookup_field = "machine_id"
    filter_backends = [DjangoFilterBackend]
    filterset_class = MachineFilter
    action_roles = {"destroy": Role.ADMIN}
    list_cache_kind = "machines"

    def get_queryset(self):
        return machine_list() if self.action == "list" else machine_detail_queryset()

    def get_serializer_class(self):
        return MachineListSerializer if self.action == "list" else MachineSerializer

    def filter_queryset(self, queryset):
        # Filters, search and ordering shape the list; one machine is found by its machine_id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request, *args, **kwargs):
        return Response(machine_output(self.get_object()))

    def create(self, request, *args, **kwargs):
        machine = machine_create(profile=profile_from_request(request), user=request.user)
        return Response(machine_output(machine), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        machine = self.get_object()
        profile = profile_from_request(request)
        if kwargs.get("partial"):
            if not isinstance(profile, Mapping):
                raise ValidationError({"non_field_errors": ["send the fields to change as a JSON object"]})
            profile = profile_merge(machine_profile(machine), profile)
        machine = machine_update(machine=machine, profile=profile, user=request.user)
        return Response(machine_output(machine))

    def destroy(self, request, *args, **kwargs):
        try:
            machine_delete(machine=self.get_object(), user=request.user)
        except CatalogueConflict as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A machine's profile versions, newest first", responses=ProfileVersionSerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, machine_id=None):
        versions = machine_versions(self.get_object())
        return Response(ProfileVersionSerializer(versions, many=True).data)

    @extend_schema(
        summary="One profile version with its full document", responses=ProfileVersionDetailSerializer
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request, machine_id=None, number=None):
        version = get_object_or_404(machine_versions(self.get_object()), number=number)
        return Response(ProfileVersionDetailSerializer(version).data)

    @extend_schema(
        summary="Restore a profile version",
        description="Its document becomes the current profile, as a new version. The RUL profile stays the "
        "category's current one.",
        request=None,
        responses={200: MachineSerializer},
    )
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]+)/restore")
    def restore(self, request, machine_id=None, number=None):
        version = get_object_or_404(machine_versions(self.get_object()), number=number)
        machine = profile_version_restore(version=version, user=request.user)
        return Response(machine_output(machine))

    @extend_schema(
        summary="Activate or deactivate a machine",
        request=ActivationSerializer,
        responses={200: MachineSerializer},
        examples=[OpenApiExample("Deactivate", value={"is_active": False}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def activation(self, request, machine_id=None):
        serializer = ActivationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        machine = machine_set_active(
            machine=self.get_object(), active=serializer.validated_data["is_active"], user=request.user
        )
        return Response(machine_output(machine))

    @extend_schema(
        summary="Download the machine's profile as JSON, YAML or Excel",
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in CONTENT_TYPES.values()},
    )
    @action(detail=True, methods=["get"], url_path=r"profile\.(?P<extension>json|yaml|xlsx)")
    def profile(self, request, machine_id=None, extension=None):
        machine = self.get_object()
        return _file_response(
            dump_profile(machine_profile(machine), extension), machine.machine_id, extension
        )


def _file_response(content: bytes, name: str, extension: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES[extension])
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


# --- Categories ------------------------------------------------------------------------------------------

CATEGORY_EXAMPLE = OpenApiExample(
    "A category",
    value={
        "name": "chiller",
        "description": "Water-cooled chillers.",
        "max_rul": 1400,
        "cycles": 3,
        "degradation_pattern": "linear_medium",
        "noise": 20,
        "failure_modes": ["refrigerant leak", "condenser fouling"],
        "sensors": [
            {"name": "chilled_water_supply_temp_C", "unit": "C", "base": 7, "range": 4, "noise": 0.2},
            {"name": "compressor_current_A", "unit": "A", "base": 120, "range": 40, "noise": 2},
        ],
    },
)


@extend_schema_view(
    list=extend_schema(summary="List categories with their RUL profile and sensors (cached 30 s)"),
    retrieve=extend_schema(summary="A category"),
    create=extend_schema(summary="Create a category (admins)", examples=[CATEGORY_EXAMPLE]),
    update=extend_schema(summary="Replace a category (admins)", examples=[CATEGORY_EXAMPLE]),
    partial_update=extend_schema(summary="Change some fields of a category (admins)"),
    destroy=extend_schema(summary="Delete an unused category (admins)", responses={204: None, 409: None}),
)
class CategoryViewSet(CachedListMixin, viewsets.ModelViewSet):
    """Machine categories (the profile's machine_type): viewers read, admins write."""

    serializer_class = CategorySerializer
    lookup_field = "name"
    write_role = Role.ADMIN
    filter_backends = []
    list_cache_kind = "categories"

    def get_queryset(self):
        return category_list()

    def create(self, request, *args, **kwargs):
        category = category_create(data=request.data, user=request.user)
        return Response(CategorySerializer(category_list().get(pk=category.pk)).data, status=201)

    def update(self, request, *args, **kwargs):
        category = category_update(
            category=self.get_object(),
            data=request.data,
            user=request.user,
            partial=kwargs.get("partial", False),
        )
        return Response(CategorySerializer(category_list().get(pk=category.pk)).data)

    def destroy(self, request, *args, **kwargs):
        try:
            category_delete(category=self.get_object(), user=request.user)
        except CatalogueConflict as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Profiles: validation and templates --------------------------------------------------------------------


class ProfileValidateView(APIView):
    """Check a profile without creating anything (operators)."""

    @extend_schema(
        summary="Validate a profile document or file",
        description=(
            "POST the profile as JSON, or upload it (`file`: JSON, YAML or .xlsx, at most 1 MB). Answers the "
            "normalised profile (defaults filled in) or 400 with every error by field path. Creates nothing."
        ),
        parameters=[
            OpenApiParameter(
                "machine",
                str,
                description="Validate as an edit of this machine (its own machine_id is then no duplicate).",
            )
        ],
        request=PROFILE_REQUEST,
        responses={200: ValidationResultSerializer, **FILE_ERRORS},
        examples=[MOTOR_EXAMPLE, CHILLER_EXAMPLE, INVALID_EXAMPLE],
    )
    def post(self, request):
        machine_id = request.query_params.get("machine")
        machine = Machine.objects.filter(machine_id=machine_id).first() if machine_id else None
        if machine_id and machine is None:
            raise ValidationError({"machine": [f'no machine "{machine_id}" — leave it out for a new one']})
        profile = profile_validate(profile_from_request(request), machine=machine)
        return Response({"valid": True, "profile": profile})


def _template_entry(name: str, request) -> dict:
    template = profile_template(name)
    return {
        "name": name,
        "title": template["title"],
        "description": template["description"],
        "machine_type": template["profile"]["machine_type"],
        "files": {
            extension: reverse("api-profile-template-file", args=[name, extension], request=request)
            for extension in FORMATS
        },
    }


class ProfileTemplateListView(APIView):
    @extend_schema(
        summary="Profile templates to download",
        description="blank, motor, cnc and chiller (a new type); each in JSON, YAML and Excel. All but blank "
        "are valid as downloaded.",
        responses=TemplateSerializer(many=True),
    )
    def get(self, request):
        return Response([_template_entry(name, request) for name in profile_template_names()])


class ProfileTemplateFileView(APIView):
    @extend_schema(
        summary="Download a profile template",
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in CONTENT_TYPES.values()},
    )
    def get(self, request, name, extension):
        try:
            template = profile_template(name)
        except KeyError as exc:
            raise NotFound(
                f'no template "{name}" — use one of {", ".join(profile_template_names())}'
            ) from exc
        return _file_response(dump_profile(template["profile"], extension), f"{name}_profile", extension)
