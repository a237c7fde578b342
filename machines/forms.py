"""Page and admin forms. They only carry input to the one validator (machines.serializers)."""

from dataclasses import dataclass, field
from itertools import zip_longest

from django import forms
from rest_framework.exceptions import ValidationError

from machines.models import DegradationPattern, Machine, MachineCategory
from machines.profile_formats import (
    ACCEPTED_TYPES,
    ProfileFileError,
    locate_line,
    parse_profile_text,
    profile_text_from_bytes,
    read_upload_bytes,
    split_path,
)
from machines.serializers import CategorySensorSerializer, profile_validate, sensor_name_errors
from pdm_site.api import flatten_errors

NEW_TYPE = "__new__"
SENSOR_INPUTS = ("name", "unit", "description", "base", "range", "noise")
RUL_INPUTS = ("max_rul", "cycles", "degradation_pattern", "noise", "failure_modes")


@dataclass
class PathError:
    path: str
    messages: list[str]
    line: int | None = None


@dataclass
class ProfileCheck:
    """What the page shows beside a profile: a syntax error, the errors by path, or the valid profile."""

    file_error: ProfileFileError | None = None
    errors: list[PathError] = field(default_factory=list)
    profile: dict | None = None
    # The profile's machine_type is new: creating the machine creates this category.
    new_category: str = ""

    @property
    def valid(self) -> bool:
        return self.profile is not None


def path_errors(exc: ValidationError, text: str | None = None) -> list[PathError]:
    """The validator's errors as `sensors[2].unit` paths, with the line of each in `text` if given."""
    return [
        PathError(path, messages, locate_line(text, path) if text else None)
        for path, messages in flatten_errors(exc.detail).items()
    ]


def profile_check(document, *, machine: Machine | None = None, text: str | None = None) -> ProfileCheck:
    try:
        profile = profile_validate(document, machine=machine)
    except ValidationError as exc:
        return ProfileCheck(errors=path_errors(exc, text))
    new = not MachineCategory.objects.filter(name=profile["machine_type"]).exists()
    return ProfileCheck(profile=profile, new_category=profile["machine_type"] if new else "")


class ProfileDocumentForm(forms.Form):
    """The editor: a YAML or JSON profile document, parsed and validated as a whole."""

    document = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"class": "code", "spellcheck": "false", "rows": 24}),
    )
    note = forms.CharField(required=False, max_length=200, help_text="What changed, for the version history.")

    def __init__(self, *args, machine: Machine | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.machine = machine
        self.check = ProfileCheck()

    def clean(self):
        text = self.cleaned_data.get("document", "")
        try:
            document = parse_profile_text(text)
        except ProfileFileError as exc:
            self.check = ProfileCheck(file_error=exc)
            raise forms.ValidationError(exc.message) from exc
        self.check = profile_check(document, machine=self.machine, text=text)
        if not self.check.valid:
            raise forms.ValidationError(
                f"The profile has {len(self.check.errors)} problem(s): see beside it."
            )
        self.cleaned_data["profile"] = self.check.profile
        return self.cleaned_data


class ProfileUploadForm(forms.Form):
    """A profile file for the editor: its text, even when malformed, so that it can be fixed there."""

    file = forms.FileField(help_text=f"{ACCEPTED_TYPES}, at most 1 MB.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            fmt, content = read_upload_bytes(upload)
            self.cleaned_data["text"] = profile_text_from_bytes(content, fmt)
        except ProfileFileError as exc:
            raise forms.ValidationError(exc.message) from exc
        return upload


# --- The form editor: fields and sensor rows → a profile document ----------------------------------------


def _number(value: str):
    """A number typed in a field; anything else stays text so that the validator names the field."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def _parameter(value: str):
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return _number(value)


def profile_from_fields(data) -> dict:
    """The profile document of the New machine form (a QueryDict: fields, sensor and parameter rows)."""
    machine_type = data.get("machine_type", "").strip()
    new_type = machine_type == NEW_TYPE
    document = {
        "machine_id": data.get("machine_id", "").strip(),
        "machine_type": data.get("new_type", "").strip() if new_type else machine_type,
        "manufacturer": data.get("manufacturer", "").strip(),
        "model": data.get("model", "").strip(),
        "location": data.get("location", "").strip(),
        "operational_parameters": {
            key.strip(): _parameter(value.strip())
            for key, value in zip(data.getlist("param_key"), data.getlist("param_value"), strict=False)
            if key.strip()
        },
    }
    sensors = [
        _sensor_from_row(dict(zip(SENSOR_INPUTS, row, strict=True)))
        for row in zip_longest(*(data.getlist(f"sensor_{name}") for name in SENSOR_INPUTS), fillvalue="")
        if any(cell.strip() for cell in row)
    ]
    # No rows for an existing category: its sensors, as the validator fills them in.
    if sensors or new_type:
        document["sensors"] = sensors
    if new_type:
        document["rul"] = _rul_from_fields(data)
    return document


def _sensor_from_row(row: dict) -> dict:
    sensor = {key: row[key].strip() for key in ("name", "unit", "description")}
    sensor.update({key: _number(row[key].strip()) for key in ("base", "range", "noise") if row[key].strip()})
    return sensor


def _rul_from_fields(data) -> dict:
    rul = {}
    for key in ("max_rul", "cycles", "noise"):
        value = data.get(f"rul_{key}", "").strip()
        if value:
            rul[key] = _number(value)
    if data.get("rul_degradation_pattern"):
        rul["degradation_pattern"] = data["rul_degradation_pattern"]
    modes = [line.strip() for line in data.get("rul_failure_modes", "").splitlines() if line.strip()]
    if modes:
        rul["failure_modes"] = modes
    return rul


def form_state(data=None) -> dict:
    """What the form template needs to show `data` again: the fields, the sensor and parameter rows."""
    data = data or {}
    get = data.get if hasattr(data, "get") else (lambda key, default="": default)
    getlist = data.getlist if hasattr(data, "getlist") else (lambda key: [])
    sensor_rows = [
        dict(zip(SENSOR_INPUTS, row, strict=True))
        for row in zip_longest(*(getlist(f"sensor_{name}") for name in SENSOR_INPUTS), fillvalue="")
        if any(cell.strip() for cell in row)
    ]
    parameter_rows = [
        {"key": key, "value": value}
        for key, value in zip(getlist("param_key"), getlist("param_value"), strict=False)
        if key.strip() or value.strip()
    ]
    return {
        "fields": {
            name: get(name, "")
            for name in ("machine_id", "machine_type", "new_type", "manufacturer", "model", "location")
        },
        "rul": {name: get(f"rul_{name}", "") for name in RUL_INPUTS},
        "sensor_rows": sensor_rows,
        "parameter_rows": parameter_rows,
        "new_type": get("machine_type", "") == NEW_TYPE,
        "patterns": DegradationPattern.values,
    }


def error_paths(check: ProfileCheck) -> dict[str, list[str]]:
    return {error.path: error.messages for error in check.errors}


# --- Admin: the machine change form validates through the same rules ---------------------------------------


class MachineSensorsFormSet(forms.BaseInlineFormSet):
    """The admin's sensor rows, checked with the machine's fields as one profile document.

    The admin validates the machine form before its inlines, and both share the instance: here it carries
    the form's values, so the whole profile can go through the validator. The normalised profile is kept
    on the instance for ModelAdmin.save_model, which writes it through the services.
    """

    def clean(self):
        super().clean()
        machine = self.instance
        if machine.category_id is None or any(form.errors for form in self.forms):
            return  # the machine form or a row already reports what is missing
        rows = [
            form
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form) and form.cleaned_data.get("name")
        ]
        document = {
            "machine_id": machine.machine_id,
            "machine_type": machine.category.name,
            "manufacturer": machine.manufacturer,
            "model": machine.model,
            "location": machine.location,
            "operational_parameters": machine.operational_parameters,
            "sensors": [
                {
                    key: form.cleaned_data.get(key)
                    for key in ("name", "unit", "description", "base", "range", "noise")
                }
                for form in rows
            ],
        }
        existing = Machine.objects.filter(pk=machine.pk).first() if machine.pk else None
        try:
            machine.validated_profile = profile_validate(document, machine=existing)
        except ValidationError as exc:
            self._report(path_errors(exc), rows)

    def _report(self, errors: list[PathError], rows: list[forms.Form]) -> None:
        elsewhere = []
        for error in errors:
            parts = split_path(error.path)
            if (
                len(parts) >= 2
                and parts[0] == "sensors"
                and isinstance(parts[1], int)
                and parts[1] < len(rows)
            ):
                form = rows[parts[1]]
                name = parts[2] if len(parts) > 2 and parts[2] in form.fields else None
                for message in error.messages:
                    form.add_error(name, f"{error.path}: {message}")
            else:
                elsewhere.extend(f"{error.path}: {message}" for message in error.messages)
        if elsewhere:
            raise forms.ValidationError(elsewhere)


class CategorySensorsFormSet(forms.BaseInlineFormSet):
    """A category's sensor rows, checked by the profile's sensor rules (names, units, temperature)."""

    def clean(self):
        super().clean()
        rows = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        sensors = []
        for index, form in enumerate(rows):
            data = {
                key: form.cleaned_data.get(key)
                for key in ("name", "unit", "description", "base", "range", "noise")
            }
            serializer = CategorySensorSerializer(data=data)
            if serializer.is_valid():
                sensors.append(serializer.validated_data)
                continue
            for path, messages in flatten_errors(serializer.errors).items():
                name = path if path in form.fields else None
                for message in messages:
                    form.add_error(name, f"sensors[{index}].{path}: {message}")
        if len(sensors) == len(rows):
            for index, errors in enumerate(sensor_name_errors(sensors)):
                for message in errors.get("name", []):
                    rows[index].add_error("name", f"sensors[{index}].name: {message}")
