"""Machine profile documents as files: JSON, YAML and Excel in and out, line lookup, readable diffs.

No Django here: the page, the API, the admin and the tests read and write profiles through these
functions, and the validator (machines.serializers) judges what they return.
"""

import difflib
import io
import json
import re
import zipfile
from pathlib import PurePath

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException

MAX_UPLOAD_BYTES = 1024 * 1024
MAX_SENSORS = 50
FORMATS = ("json", "yaml", "xlsx")
EXTENSIONS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".xlsx": "xlsx"}
ACCEPTED_TYPES = ".json, .yaml/.yml or .xlsx"
CONTENT_TYPES = {
    "json": "application/json",
    "yaml": "application/yaml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MACHINE_SHEET = "machine"
SENSORS_SHEET = "sensors"
PROFILE_FIELDS = (
    "machine_id",
    "machine_type",
    "manufacturer",
    "model",
    "location",
    "operational_parameters",
    "sensors",
    "rul",
)
MACHINE_FIELDS = PROFILE_FIELDS[:5]
SENSOR_COLUMNS = ("name", "unit", "type", "description", "base", "range", "noise")
RUL_FIELDS = ("max_rul", "cycles", "degradation_pattern", "noise", "failure_modes")
# Sheets longer than this are not profiles: stop reading instead of walking a huge workbook.
MAX_SHEET_ROWS = 500


class ProfileFileError(Exception):
    """The file cannot become a profile document: too large, of another type, or malformed."""

    status = 400

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class ProfileTooLarge(ProfileFileError):
    status = 413


class UnsupportedProfileType(ProfileFileError):
    status = 415


def format_for_filename(filename: str) -> str:
    extension = PurePath(filename or "").suffix.lower()
    if extension not in EXTENSIONS:
        shown = extension or "no extension"
        hint = " (save it as .xlsx)" if extension in (".xls", ".xlsm", ".ods", ".csv") else ""
        raise UnsupportedProfileType(f'"{filename}" has {shown}: upload {ACCEPTED_TYPES}{hint}')
    return EXTENSIONS[extension]


def read_upload_bytes(upload) -> tuple[str, bytes]:
    """The format and content of an uploaded file (anything with .name, .size and .read()), within bounds."""
    fmt = format_for_filename(upload.name)
    if upload.size > MAX_UPLOAD_BYTES:
        raise ProfileTooLarge(
            f'"{upload.name}" is {upload.size / 1024 / 1024:.1f} MB: a profile file may be at most 1 MB '
            f"— remove what is not part of the profile"
        )
    return fmt, upload.read()


def read_profile_upload(upload) -> dict:
    """The profile document of an uploaded file."""
    fmt, content = read_upload_bytes(upload)
    return parse_profile_bytes(content, fmt)


def profile_text_from_bytes(content: bytes, fmt: str) -> str:
    """The text an editor shows for a file: JSON and YAML as they are (even malformed), a workbook as YAML."""
    if fmt == "xlsx":
        return dump_profile_text(_parse_workbook(content), "yaml")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProfileFileError("the file is not UTF-8 text — save it with UTF-8 encoding") from exc


def parse_profile_bytes(content: bytes, fmt: str) -> dict:
    if fmt == "xlsx":
        return _parse_workbook(content)
    return parse_profile_text(profile_text_from_bytes(content, fmt), fmt)


def text_format(text: str) -> str:
    """JSON when the document starts like JSON, YAML otherwise (YAML would accept most JSON too)."""
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def parse_profile_text(text: str, fmt: str | None = None) -> dict:
    fmt = fmt or text_format(text)
    if not text.strip():
        raise ProfileFileError("the document is empty — start from a template")
    if fmt == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileFileError(
                f"line {exc.lineno}, column {exc.colno}: {exc.msg} — fix the JSON syntax there",
                exc.lineno,
                exc.colno,
            ) from exc
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
            where = f"line {line}, column {column}: " if mark else ""
            raise ProfileFileError(
                f"{where}{exc.problem or exc.context} — fix the YAML syntax there", line, column
            ) from exc
        except yaml.YAMLError as exc:
            raise ProfileFileError(f"{exc} — fix the YAML syntax") from exc
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else "a single value"
        raise ProfileFileError(
            f"the document is {kind}: a profile is a mapping of fields "
            f"(machine_id, machine_type, sensors, …) — start from a template"
        )
    return document


def dump_profile_text(profile: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(profile, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(profile, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def dump_profile(profile: dict, fmt: str) -> bytes:
    if fmt == "xlsx":
        return _workbook_bytes(profile)
    return dump_profile_text(profile, fmt).encode()


def _ordered(mapping: dict, keys: tuple[str, ...]) -> dict:
    return {
        **{key: mapping[key] for key in keys if key in mapping},
        **{k: v for k, v in mapping.items() if k not in keys},
    }


def ordered_profile(document: dict) -> dict:
    """The document with its keys in the profile's order, parameters sorted by name.

    PostgreSQL's jsonb does not keep key order: documents read back from the database are put in this
    order before they are compared line by line or shown.
    """
    result = _ordered(document, PROFILE_FIELDS)
    if isinstance(result.get("operational_parameters"), dict):
        result["operational_parameters"] = dict(sorted(result["operational_parameters"].items()))
    if isinstance(result.get("sensors"), list):
        result["sensors"] = [
            _ordered(sensor, SENSOR_COLUMNS) if isinstance(sensor, dict) else sensor
            for sensor in result["sensors"]
        ]
    if isinstance(result.get("rul"), dict):
        result["rul"] = _ordered(result["rul"], RUL_FIELDS)
    return result


def profile_diff(previous: dict | None, current: dict, previous_label: str, current_label: str) -> str:
    """A unified diff of the two documents as YAML (what people read best); empty without a previous."""
    if previous is None:
        return ""
    lines = difflib.unified_diff(
        dump_profile_text(ordered_profile(previous), "yaml").splitlines(),
        dump_profile_text(ordered_profile(current), "yaml").splitlines(),
        fromfile=previous_label,
        tofile=current_label,
        lineterm="",
    )
    return "\n".join(lines)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """'sensors[2].unit' → ['sensors', 2, 'unit']."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]


def locate_line(text: str, path: str) -> int | None:
    """The 1-based line of `path` in a JSON or YAML text, or of its nearest existing parent."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in split_path(path):
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# --- Excel --------------------------------------------------------------------------------------------


def _workbook_bytes(profile: dict) -> bytes:
    workbook = Workbook()
    machine = workbook.active
    machine.title = MACHINE_SHEET
    machine.append(["field", "value"])
    for field in MACHINE_FIELDS:
        machine.append([field, profile.get(field)])
    for key, value in (profile.get("operational_parameters") or {}).items():
        machine.append([f"operational_parameters.{key}", value])
    for key in RUL_FIELDS if "rul" in profile else ():
        value = (profile.get("rul") or {}).get(key)
        machine.append([f"rul.{key}", "; ".join(value) if isinstance(value, list) else value])
    sensors = workbook.create_sheet(SENSORS_SHEET)
    sensors.append(list(SENSOR_COLUMNS))
    for sensor in profile.get("sensors") or []:
        sensors.append([sensor.get(column) for column in SENSOR_COLUMNS])
    for sheet, widths in ((machine, (36, 40)), (sensors, (32, 10, 12, 60, 10, 10, 10))):
        sheet.freeze_panes = "A2"
        for cell, width in zip(sheet[1], widths, strict=False):
            cell.font = Font(bold=True)
            sheet.column_dimensions[cell.column_letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _parse_workbook(content: bytes) -> dict:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ProfileFileError(
            "the file is not a readable .xlsx workbook — save it from Excel or LibreOffice as .xlsx"
        ) from exc
    try:
        sheets = {name.strip().lower(): workbook[name] for name in workbook.sheetnames}
        if MACHINE_SHEET not in sheets:
            raise ProfileFileError(
                f'the workbook needs a sheet named "{MACHINE_SHEET}" with field/value rows — '
                f"download the Excel template to see the layout"
            )
        document = _machine_sheet(sheets[MACHINE_SHEET])
        if SENSORS_SHEET in sheets:
            document["sensors"] = _sensors_sheet(sheets[SENSORS_SHEET])
        return document
    finally:
        workbook.close()


def _cell_value(value):
    return value.strip() if isinstance(value, str) else value


def _machine_sheet(sheet) -> dict:
    document: dict = {}
    for row_number, row in enumerate(sheet.iter_rows(max_row=MAX_SHEET_ROWS, values_only=True), start=1):
        field = _cell_value(row[0]) if row else None
        value = _cell_value(row[1]) if len(row) > 1 else None
        if field in (None, "") or (row_number == 1 and str(field).lower() == "field"):
            continue
        if value in (None, ""):
            continue
        where = f"sheet {MACHINE_SHEET}, row {row_number}"
        parts = str(field).split(".", 1)
        if len(parts) == 2:
            section = document.setdefault(parts[0], {})
            if not isinstance(section, dict):
                raise ProfileFileError(f"{where}: {parts[0]} is given twice — keep one of the rows")
            target, key = section, parts[1]
            if parts == ["rul", "failure_modes"]:
                value = _failure_modes_cell(value, where)
        else:
            target, key = document, parts[0]
            if key in ("operational_parameters", "rul") and isinstance(value, str):
                value = _json_cell(value, where)
        if key in target:
            raise ProfileFileError(f"{where}: {field} is given twice — keep one of the rows")
        target[key] = value
    return document


def _json_cell(value: str, where: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ProfileFileError(
            f"{where}: the value is not JSON ({exc.msg}, column {exc.colno}) — write it as "
            f'{{"key": value}} or use one row per field, e.g. rul.max_rul'
        ) from exc


def _failure_modes_cell(value, where: str):
    if isinstance(value, str) and value.startswith("["):
        return _json_cell(value, where)
    if isinstance(value, str):
        return [mode.strip() for mode in re.split(r"[;\n]", value) if mode.strip()]
    return value


def _sensors_sheet(sheet) -> list[dict]:
    rows = sheet.iter_rows(max_row=MAX_SHEET_ROWS, values_only=True)
    header = next((row for row in rows if any(cell not in (None, "") for cell in row)), None)
    if header is None:
        return []
    columns = [str(_cell_value(cell) or "").lower() for cell in header]
    sensors = []
    for row in rows:
        sensor = {
            column: _cell_value(cell)
            for column, cell in zip(columns, row, strict=False)
            if column and _cell_value(cell) not in (None, "")
        }
        if sensor:
            sensors.append(sensor)
        # One more than allowed is enough for the validator to say there are too many.
        if len(sensors) > MAX_SENSORS:
            break
    return sensors
