"""The API's shared shape: one error body, error responses in the schema, the JSON 404, and the lookup
field every writable reference by name uses."""

from datetime import UTC

from django import forms
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "example": "Invalid input: machine_id: this field is required."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"sensors[2].unit": ['temperature sensors need a unit — add "unit": "C"']},
        },
    },
    "required": ["detail", "errors"],
}
ERROR_RESPONSES = {
    "400": "Invalid input: `errors` maps each field path to its messages.",
    "401": "Not authenticated.",
    "403": "Your role does not allow this.",
    "404": "No such object (or page).",
    "429": "Too many requests: retry after the number of seconds in the Retry-After header.",
}


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into {"sensors[2].unit": ["..."]}."""
    if isinstance(data, dict):
        flat = {}
        for key, value in data.items():
            if isinstance(key, int):  # DRF reports list items by index: {2: {"unit": [...]}}
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors" and prefix:
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else key
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(data, list) and data and all(isinstance(item, str) for item in data):
        return {prefix or "non_field_errors": [str(item) for item in data]}
    if isinstance(data, list):
        flat = {}
        for index, value in enumerate(data):
            if value:
                flat.update(flatten_errors(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "non_field_errors": [str(data)]}


def error_body(detail: str, errors: dict | None = None) -> dict:
    return {"detail": detail, "errors": errors or {}}


class NameLookupField(serializers.SlugRelatedField):
    """A reference by name (machine_id, category, username). A name PostgreSQL cannot even compare (a NUL
    character) is simply not found, instead of failing the query."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59: the value is compared in UTC."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError as exc:
            raise forms.ValidationError("Out of range once converted to UTC.") from exc


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def exception_handler(exc, context):
    if isinstance(exc, TooManyFieldsSent | RequestDataTooBig):
        # Raised by Django while DRF parses the body: the API answers with its own body, not an HTML page.
        exc = exceptions.ParseError(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(response.data)
        first_path, first_messages = next(iter(errors.items()), ("", ["invalid input"]))
        detail = f"Invalid input: {first_path}: {first_messages[0]}" if first_path else "Invalid input."
        response.data = error_body(detail, errors)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        extra = (
            {k: v for k, v in response.data.items() if k != "detail"}
            if isinstance(response.data, dict)
            else {}
        )
        response.data = error_body(str(detail), flatten_errors(extra) if extra else {})
    return response


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    statuses = []
    if method not in ("get", "delete", "head") or query:
        statuses.append("400")  # invalid body, or an invalid filter value
    if operation.get("security") != [{}]:
        statuses += ["401", "403"]
    if "{" in path or "page" in query:
        statuses.append("404")  # unknown object, or a page past the end
    statuses.append("429")
    return statuses


def add_error_responses(result, generator, request, public):
    """drf-spectacular hook: document the shared error body and its statuses on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, {"description": ERROR_RESPONSES[status], "content": reference})
            responses["429"].setdefault(
                "headers",
                {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
            )
    return result


class Conflict(exceptions.APIException):
    """Valid, but the current state does not allow it (a missing earlier step, a finished job)."""

    status_code = 409
    default_detail = "The current state does not allow this."
    default_code = "conflict"
