"""The one profile validator (page, API, admin, fleet loader) and the API's output shapes.

Every message names what is wrong and how to fix it; the error paths (`sensors[2].unit`) come from the
nesting of these serializers.
"""

import difflib
import json
import re
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from machines.models import DegradationPattern, Machine, MachineCategory
from machines.profile_formats import MAX_SENSORS

MACHINE_ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
CATEGORY_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Page addresses under /machines/ that a machine_id must not shadow.
RESERVED_MACHINE_IDS = frozenset({"new", "validate"})
TEMPERATURE_UNITS = ("C", "K", "F", "R")
# Spellings people use for the four temperature units: they mark a sensor as a temperature, and the
# message says which of C, K, F, R to write instead.
TEMPERATURE_UNIT_SPELLINGS = {
    **dict.fromkeys(("c", "°c", "degc", "deg_c", "deg c", "celsius", "ºc"), "C"),
    **dict.fromkeys(("k", "°k", "kelvin"), "K"),
    **dict.fromkeys(("f", "°f", "degf", "deg_f", "fahrenheit", "ºf"), "F"),
    **dict.fromkeys(("r", "°r", "degr", "rankine"), "R"),
}
PATTERNS = tuple(DegradationPattern.values)
RUL_EXAMPLES = {
    "max_rul": ('"max_rul": 1000', "hours from healthy to failure"),
    "cycles": ('"cycles": 3', "run-to-failure cycles in its seed data"),
    "degradation_pattern": ('"degradation_pattern": "linear_medium"', " or ".join(PATTERNS)),
    "noise": ('"noise": 10', "hours of jitter in each cycle's length"),
    "failure_modes": ('"failure_modes": ["bearing wear"]', "the ways it fails"),
}
SENSOR_EXAMPLE = '{"name": "current_A", "unit": "A"}'


def _messages(example: str, **extra) -> dict:
    """DRF's error messages, each saying how to fix it with an example of the field.

    DRF passes every message through str.format: braces in the example are escaped.
    """
    example = _escaped(example)
    return {
        "required": f"this field is required — add {example}",
        "null": f"give a value — e.g. {example}",
        "blank": f"cannot be empty — e.g. {example}",
        "invalid": f"expected text — e.g. {example}",
        "max_length": "at most {max_length} characters — shorten it",
        **extra,
    }


def _number_messages(example: str, **extra) -> dict:
    return _messages(example, **{"invalid": f"must be a number — e.g. {_escaped(example)}", **extra})


def _did_you_mean(value, choices) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"? ' if close else ""


def _identifier_suggestion(value: str) -> str:
    suggestion = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_")
    return suggestion if IDENTIFIER_PATTERN.match(suggestion) else "bearing_temp_C"


def _escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class StrictSerializer(serializers.Serializer):
    """A mapping whose unknown keys are errors (a typo must not be dropped silently)."""

    example = "{}"
    described_as = "object"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages["invalid"] = (
            f"expected {self.described_as} like {_escaped(self.example)} — got {{datatype}}"
        )

    def to_internal_value(self, data):
        unknown = [key for key in data if key not in self.fields] if isinstance(data, Mapping) else []
        if not unknown:
            return super().to_internal_value(data)
        # Report the unknown keys with the other fields' errors, all at once.
        try:
            super().to_internal_value(data)
            errors = {}
        except ValidationError as exc:
            errors = dict(exc.detail)
        allowed = ", ".join(self.fields)
        for key in unknown:
            errors[str(key)] = [
                f"unknown field — {_did_you_mean(key, self.fields)}{self.described_as} has {allowed}"
            ]
        raise ValidationError(errors)


class SensorProfileSerializer(StrictSerializer):
    example = SENSOR_EXAMPLE
    described_as = "a sensor"

    name = serializers.CharField(max_length=64, error_messages=_messages('"name": "bearing_temp_C"'))
    unit = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", error_messages=_messages('"unit": "A"')
    )
    type = serializers.CharField(
        required=False, default="numerical", error_messages=_messages('"type": "numerical"')
    )
    description = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_messages('"description": "Drive-end bearing temperature"'),
    )
    # Absent or null: taken from the category's sensor of the same name, or the model's defaults.
    base = serializers.FloatField(
        required=False, allow_null=True, error_messages=_number_messages('"base": 40')
    )
    range = serializers.FloatField(
        required=False,
        allow_null=True,
        error_messages=_number_messages(
            '"range": 35', invalid='must be a number (negative when the value falls) — e.g. "range": 35'
        ),
    )
    noise = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        error_messages=_number_messages(
            '"noise": 0.5',
            min_value='noise is a standard deviation and cannot be negative — e.g. "noise": 0.5',
        ),
    )

    def validate_name(self, value: str) -> str:
        if not IDENTIFIER_PATTERN.match(value):
            raise ValidationError(
                "use letters, digits and underscores, starting with a letter — "
                f'try "name": "{_identifier_suggestion(value)}"'
            )
        return value

    def validate_type(self, value: str) -> str:
        if value != "numerical":
            raise ValidationError(
                f'only numerical sensors are supported (got "{value}") — set "type": "numerical"'
            )
        return value

    def validate(self, attrs):
        name, unit = attrs["name"], attrs["unit"]
        spelled_unit = TEMPERATURE_UNIT_SPELLINGS.get(unit.lower())
        if "temp" not in name.lower() and spelled_unit is None:
            return attrs
        if not unit:
            raise ValidationError(
                {"unit": [f'temperature sensors need a unit — add "unit": "{_unit_from_name(name)}"']}
            )
        if spelled_unit is None:
            raise ValidationError(
                {
                    "unit": [
                        f'temperature sensors use C, K, F or R (got "{unit}") — write "unit": '
                        f'"{_unit_from_name(name)}", or rename the sensor if it is not a temperature'
                    ]
                }
            )
        if unit != spelled_unit:
            raise ValidationError(
                {
                    "unit": [
                        "temperature units are C, K, F or R — "
                        f'write "unit": "{spelled_unit}" instead of "{unit}"'
                    ]
                }
            )
        return attrs


def _unit_from_name(name: str) -> str:
    """The unit a sensor's name ends with (bearing_temp_K → K), C otherwise."""
    suffix = name.rsplit("_", 1)[-1]
    return suffix if suffix in TEMPERATURE_UNITS else "C"


def sensor_list_field(**kwargs) -> serializers.ListSerializer:
    return serializers.ListSerializer(
        child=SensorProfileSerializer(),
        allow_empty=False,
        max_length=MAX_SENSORS,
        error_messages={
            # DRF formats this message (not "empty"): the example's braces are escaped.
            "not_a_list": f"expected a list of sensors — e.g. [{_escaped(SENSOR_EXAMPLE)}]",
            "empty": f"add at least one sensor — e.g. [{SENSOR_EXAMPLE}]",
            "max_length": "at most {max_length} sensors per machine — remove the extra ones",
        },
        **kwargs,
    )


def sensor_name_errors(sensors: list[dict]) -> list[dict]:
    """Errors per sensor for names used twice (case-insensitive: they become column names)."""
    first_seen: dict[str, int] = {}
    errors = [{} for _ in sensors]
    for index, sensor in enumerate(sensors):
        key = sensor["name"].lower()
        if key in first_seen:
            errors[index] = {
                "name": [
                    f'"{sensor["name"]}" is already used by sensors[{first_seen[key]}] — '
                    "give each sensor its own name"
                ]
            }
        else:
            first_seen[key] = index
    return errors if any(errors) else []


class RulSerializer(StrictSerializer):
    example = (
        '{"max_rul": 1000, "cycles": 3, "degradation_pattern": "linear_medium", "noise": 10, '
        '"failure_modes": ["bearing wear"]}'
    )
    described_as = "a rul block"

    max_rul = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=1,
        error_messages=_number_messages(
            '"max_rul": 1000', min_value='must be at least 1 hour — e.g. "max_rul": 1000'
        ),
    )
    cycles = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=50,
        error_messages=_number_messages(
            '"cycles": 3',
            invalid='must be a whole number from 1 to 50 — e.g. "cycles": 3',
            min_value='must be a whole number from 1 to 50 — e.g. "cycles": 3',
            max_value='must be a whole number from 1 to 50 — e.g. "cycles": 3',
        ),
    )
    degradation_pattern = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages=_messages('"degradation_pattern": "linear_medium"'),
    )
    noise = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        error_messages=_number_messages(
            '"noise": 10', min_value='must be 0 or more hours — e.g. "noise": 10'
        ),
    )
    failure_modes = serializers.ListField(
        child=serializers.CharField(max_length=100, error_messages=_messages('"bearing wear"')),
        required=False,
        allow_null=True,
        max_length=20,
        error_messages={
            "not_a_list": 'expected a list of texts — e.g. "failure_modes": ["bearing wear", "seal leakage"]',
            "max_length": "at most {max_length} failure modes — keep the main ones",
        },
    )

    def validate_degradation_pattern(self, value):
        if value in (None, ""):
            return None
        if value not in PATTERNS:
            raise ValidationError(
                f'"{value}" is not a pattern — {_did_you_mean(value, PATTERNS)}use {", ".join(PATTERNS)}'
            )
        return value

    def validate_failure_modes(self, value):
        if value is not None and not value:
            raise ValidationError('name at least one failure mode — e.g. "failure_modes": ["bearing wear"]')
        return value


class ProfileSerializer(StrictSerializer):
    """A machine profile document (SPEC §2) → the normalised profile, with every default filled in.

    Context: `machine`, the machine being edited (None when creating one).
    """

    example = '{"machine_id": "motor_acme_m100_001", "machine_type": "motor", "sensors": [...]}'
    described_as = "a profile"

    # Its length and characters are checked in validate_machine_id, with a suggestion built from it.
    machine_id = serializers.CharField(
        error_messages=_messages(
            '"machine_id": "motor_acme_m100_001" (lowercase letters, digits and underscores)'
        )
    )
    machine_type = serializers.CharField(
        error_messages=_messages('"machine_type": "motor" (a category, or a new type with a rul block)')
    )
    manufacturer = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_messages('"manufacturer": "Siemens"'),
    )
    model = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_messages('"model": "1LA7"'),
    )
    location = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_messages('"location": "Hall 1"'),
    )
    operational_parameters = serializers.JSONField(
        required=False,
        default=dict,
        error_messages={"null": 'give key: value pairs or omit it — e.g. "operational_parameters": {{}}'},
    )
    # Absent: the category's sensors (an existing machine_type only).
    sensors = sensor_list_field(required=False, allow_null=True, default=None)
    rul = RulSerializer(required=False, allow_null=True, default=None)

    @property
    def categories(self) -> dict[str, MachineCategory]:
        if not hasattr(self, "_categories"):
            self._categories = {
                category.name: category for category in MachineCategory.objects.prefetch_related("sensors")
            }
        return self._categories

    def _raw_machine_type(self):
        machine_type = (
            self.initial_data.get("machine_type") if isinstance(self.initial_data, Mapping) else None
        )
        return machine_type.strip() if isinstance(machine_type, str) else None

    def validate_machine_id(self, value: str) -> str:
        machine = self.context.get("machine")
        if machine is not None:
            if value != machine.machine_id:
                raise ValidationError(
                    "a machine's id cannot change (its data and models are named after it) — "
                    f'keep "machine_id": "{machine.machine_id}"'
                )
            return value
        example = _machine_id_suggestion(value)
        if not 3 <= len(value) <= 100:
            raise ValidationError(f'use 3–100 characters (got {len(value)}) — e.g. "machine_id": "{example}"')
        if not MACHINE_ID_PATTERN.match(value):
            raise ValidationError(
                f'use only lowercase letters, digits and underscores — e.g. "machine_id": "{example}"'
            )
        if value in RESERVED_MACHINE_IDS:
            raise ValidationError(
                f'"{value}" is the name of a page — choose another machine_id, e.g. "{value}_machine_001"'
            )
        if Machine.objects.filter(machine_id=value).exists():
            raise ValidationError(
                f'"{value}" already exists — choose another machine_id, e.g. "{machine_id_free(value)}"'
            )
        return value

    def validate_machine_type(self, value: str) -> str:
        if value in self.categories:
            return value
        if not _is_new_type_name(value):
            suggestion = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:50] or "chiller"
            raise ValidationError(
                f'"{value}" is not a category — {_did_you_mean(value, self.categories)}'
                "a new type's name uses "
                "lowercase letters, digits and underscores, starting with a letter (at most 50) — "
                f'try "machine_type": "{suggestion}"'
            )
        return value

    def validate_operational_parameters(self, value):
        if not isinstance(value, Mapping):
            raise ValidationError(
                'expected key: value pairs — e.g. "operational_parameters": {"rated_power_kW": 15}'
            )
        if len(value) > 50:
            raise ValidationError("at most 50 parameters — keep the ones that describe how the machine runs")
        errors = {}
        for key, item in value.items():
            if not isinstance(key, str) or not IDENTIFIER_PATTERN.match(key) or len(key) > 64:
                errors[str(key)] = [
                    f'parameter names are identifiers — rename it to "{_identifier_suggestion(str(key))}"'
                ]
            elif isinstance(item, str) and len(item) > 200:
                errors[key] = ["at most 200 characters — shorten it"]
            elif not isinstance(item, str | int | float | bool) or item != item:  # item != item: NaN
                errors[key] = ['use a number, a text or true/false — e.g. "rated_power_kW": 15']
        if errors:
            raise ValidationError(errors)
        # Sorted by name: the database's JSON does not keep the order in which they were written.
        return dict(sorted(value.items()))

    def validate_sensors(self, value):
        if value is None:
            machine_type = self._raw_machine_type()
            # Without a rul block either, the rul error already asks for both.
            rul_given = isinstance(self.initial_data, Mapping) and self.initial_data.get("rul")
            new_type = (
                machine_type and machine_type not in self.categories and _is_new_type_name(machine_type)
            )
            if new_type and rul_given:
                raise ValidationError(
                    "a new machine_type needs its sensors — "
                    f'add "sensors": [{SENSOR_EXAMPLE}, …] (1–{MAX_SENSORS})'
                )
            return None
        duplicates = sensor_name_errors(value)
        if duplicates:
            raise ValidationError(duplicates)
        return value

    def validate_rul(self, value):
        machine_type = self._raw_machine_type()
        # Without a usable machine_type there is nothing to check the block against: machine_type says so.
        if not machine_type or (machine_type not in self.categories and not _is_new_type_name(machine_type)):
            return value
        category = self.categories.get(machine_type)
        given = {key: item for key, item in (value or {}).items() if item is not None}
        if category is not None:
            return self._rul_matches_category(category, given)
        if not given:
            hint = _did_you_mean(machine_type, self.categories)
            raise ValidationError(
                f'"{machine_type}" is not a category — {hint}{"To" if hint else "to"} create it, add a rul '
                "block (max_rul, cycles, degradation_pattern, noise, failure_modes) and its sensors"
            )
        missing = {
            key: [f"a new machine_type needs {key} — add {example} ({meaning})"]
            for key, (example, meaning) in RUL_EXAMPLES.items()
            if key not in given
        }
        if missing:
            raise ValidationError(missing)
        return given

    def _rul_matches_category(self, category: MachineCategory, given: dict) -> None:
        current = category.rul_block()
        errors = {
            key: [
                f'"{category.name}" has {key} {_shown(current[key])} — remove the rul block to use the '
                "category's RUL profile (admins edit categories), or choose a new machine_type"
            ]
            for key, item in given.items()
            if item != current[key]
        }
        if errors:
            raise ValidationError(errors)

    def validate(self, attrs):
        category = self.categories.get(attrs["machine_type"])
        rul = category.rul_block() if category is not None else attrs["rul"]
        specs = {spec.name: spec for spec in category.sensors.all()} if category is not None else {}
        if attrs["sensors"] is None:
            sensors = [spec.document() for spec in category.sensors.all()]
        else:
            sensors = [_sensor_document(sensor, specs.get(sensor["name"])) for sensor in attrs["sensors"]]
        return {
            "machine_id": attrs["machine_id"],
            "machine_type": attrs["machine_type"],
            "manufacturer": attrs["manufacturer"],
            "model": attrs["model"],
            "location": attrs["location"],
            "operational_parameters": attrs["operational_parameters"],
            "sensors": sensors,
            "rul": rul,
        }


def _shown(value) -> str:
    """A value as the document would spell it: 1000 rather than 1000.0."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False)


def _is_new_type_name(value: str) -> bool:
    return len(value) <= 50 and bool(CATEGORY_NAME_PATTERN.match(value))


def _machine_id_suggestion(value: str) -> str:
    suggestion = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    return suggestion if 3 <= len(suggestion) <= 100 else "motor_acme_m100_001"


def machine_id_free(taken: str) -> str:
    """The next free id after `taken`: motor_x_001 → motor_x_002, motor_x → motor_x_2."""
    stem, number, width = taken, 1, 1
    match = re.match(r"^(.*?_)(\d+)$", taken)
    if match:
        stem, number, width = match.group(1), int(match.group(2)), len(match.group(2))
    else:
        stem += "_"
    existing = set(Machine.objects.filter(machine_id__startswith=stem).values_list("machine_id", flat=True))
    candidate = taken
    while candidate in existing or candidate == taken:
        number += 1
        candidate = f"{stem}{number:0{width}d}"
    return candidate


_SENSOR_DEFAULTS = {"base": 0.0, "range": 1.0, "noise": 0.1}


def _sensor_document(sensor: dict, spec) -> dict:
    defaults = spec.document() if spec is not None else _SENSOR_DEFAULTS
    document = {
        "name": sensor["name"],
        "unit": sensor["unit"],
        "type": "numerical",
        "description": sensor["description"] or (spec.description if spec is not None else ""),
    }
    for key in ("base", "range", "noise"):
        document[key] = sensor[key] if sensor.get(key) is not None else float(defaults[key])
    return document


def profile_validate(document, *, machine: Machine | None = None) -> dict:
    """The normalised profile, or ValidationError with path-shaped details (`sensors[2].unit`)."""
    serializer = ProfileSerializer(data=document, context={"machine": machine})
    if not serializer.is_valid():
        raise ValidationError(serializer.errors)
    return serializer.validated_data


# --- Categories -----------------------------------------------------------------------------------


class CategorySensorSerializer(SensorProfileSerializer):
    """A category's sensor: base, range and noise drive its seed data, so they are required."""

    base = serializers.FloatField(error_messages=_number_messages('"base": 40'))
    range = serializers.FloatField(error_messages=_number_messages('"range": 35'))
    noise = serializers.FloatField(
        min_value=0,
        error_messages=_number_messages(
            '"noise": 0.5', min_value='noise cannot be negative — e.g. "noise": 0.5'
        ),
    )


class CategorySerializer(serializers.Serializer):
    """A category in the profile's vocabulary: its rul block, health thresholds and sensors."""

    name = serializers.SlugField(
        max_length=50,
        error_messages=_messages(
            '"name": "chiller"',
            invalid='use lowercase letters, digits and underscores — e.g. "name": "chiller"',
        ),
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    max_rul = serializers.FloatField(
        source="max_rul_hours", min_value=1, error_messages=_number_messages('"max_rul": 1000')
    )
    cycles = serializers.IntegerField(
        min_value=1, max_value=50, error_messages=_number_messages('"cycles": 3')
    )
    degradation_pattern = serializers.ChoiceField(
        choices=PATTERNS,
        error_messages={"invalid_choice": f'"{{input}}" is not a pattern — use {", ".join(PATTERNS)}'},
    )
    noise = serializers.FloatField(
        source="rul_noise_hours", min_value=0, error_messages=_number_messages('"noise": 10')
    )
    failure_modes = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=20, default=list
    )
    healthy_above = serializers.FloatField(required=False, default=0.5, min_value=0, max_value=1)
    degrading_above = serializers.FloatField(required=False, default=0.25, min_value=0, max_value=1)
    warning_above = serializers.FloatField(required=False, default=0.1, min_value=0, max_value=1)
    sensors = sensor_list_field()
    machine_count = serializers.IntegerField(read_only=True)

    def validate_name(self, value):
        instance = self.instance
        if MachineCategory.objects.filter(name=value).exclude(pk=getattr(instance, "pk", None)).exists():
            raise ValidationError(f'"{value}" already exists — choose another name')
        if not CATEGORY_NAME_PATTERN.match(value):
            raise ValidationError(
                'use lowercase letters, digits and underscores, starting with a letter — e.g. "chiller"'
            )
        return value

    def validate_sensors(self, value):
        duplicates = sensor_name_errors(value)
        if duplicates:
            raise ValidationError(duplicates)
        return value

    def validate(self, attrs):
        healthy, degrading, warning = (
            # A partial update keeps the category's thresholds it does not give.
            attrs.get(key, getattr(self.instance, key, None))
            for key in ("healthy_above", "degrading_above", "warning_above")
        )
        if not healthy > degrading > warning > 0:
            raise ValidationError(
                {
                    "healthy_above": [
                        "thresholds must fall: healthy_above > degrading_above > warning_above > 0 — "
                        "e.g. 0.5, 0.25, 0.1"
                    ]
                }
            )
        return attrs

    def to_representation(self, category):
        return {
            "name": category.name,
            "description": category.description,
            **category.rul_block(),
            "healthy_above": category.healthy_above,
            "degrading_above": category.degrading_above,
            "warning_above": category.warning_above,
            "sensors": [spec.document() for spec in category.sensors.all()],
            "machine_count": getattr(category, "machine_count", None),
        }


# --- API output -----------------------------------------------------------------------------------


class SensorOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField()
    type = serializers.CharField()
    description = serializers.CharField()
    base = serializers.FloatField()
    range = serializers.FloatField()
    noise = serializers.FloatField()


class RulOutputSerializer(serializers.Serializer):
    max_rul = serializers.FloatField()
    cycles = serializers.IntegerField()
    degradation_pattern = serializers.CharField()
    noise = serializers.FloatField()
    failure_modes = serializers.ListField(child=serializers.CharField())


class ProfileOutputSerializer(serializers.Serializer):
    """The normalised profile (what the validator returns and versions keep)."""

    machine_id = serializers.CharField()
    machine_type = serializers.CharField()
    manufacturer = serializers.CharField()
    model = serializers.CharField()
    location = serializers.CharField()
    operational_parameters = serializers.DictField()
    sensors = SensorOutputSerializer(many=True)
    rul = RulOutputSerializer()


class MachineListSerializer(serializers.ModelSerializer):
    machine_type = serializers.CharField(source="category.name")
    sensor_count = serializers.IntegerField()
    url = serializers.HyperlinkedIdentityField(view_name="machine-detail", lookup_field="machine_id")

    class Meta:
        model = Machine
        fields = [
            "machine_id",
            "machine_type",
            "manufacturer",
            "model",
            "location",
            "sensor_count",
            "is_active",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = fields


class MachineSerializer(ProfileOutputSerializer):
    """A machine: its normalised profile plus who made it, when, and its current version."""

    is_active = serializers.BooleanField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField(allow_null=True)


class ProfileVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    author = serializers.CharField(source="author.username", default=None)
    created_at = serializers.DateTimeField()
    note = serializers.CharField()
    diff = serializers.CharField()


class ProfileVersionDetailSerializer(ProfileVersionSerializer):
    document = ProfileOutputSerializer()


class ActivationSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(
        error_messages={"required": 'this field is required — add "is_active": false'}
    )


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    profile = ProfileOutputSerializer()


class TemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    machine_type = serializers.CharField()
    files = serializers.DictField(
        child=serializers.URLField(), help_text="Download URL per format: json, yaml, xlsx."
    )
