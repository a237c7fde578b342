"""Profiles as files: the templates' round trips in every format, the Excel layout, malformed files."""

import io
import json
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook
from rest_framework.exceptions import ValidationError

from machines.profile_formats import (
    MAX_UPLOAD_BYTES,
    ProfileFileError,
    ProfileTooLarge,
    UnsupportedProfileType,
    dump_profile,
    locate_line,
    parse_profile_bytes,
    parse_profile_text,
    profile_diff,
    read_profile_upload,
)
from machines.selectors import profile_template, profile_template_names
from machines.serializers import profile_validate
from pdm_site.api import flatten_errors

FORMATS = ("json", "yaml", "xlsx")


def upload(name: str, content: bytes):
    return SimpleNamespace(name=name, size=len(content), read=lambda: content)


def workbook_bytes(machine_rows, sensor_rows=None) -> bytes:
    workbook = Workbook()
    workbook.active.title = "machine"
    for row in machine_rows:
        workbook.active.append(row)
    if sensor_rows is not None:
        sheet = workbook.create_sheet("sensors")
        for row in sensor_rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_four_templates_are_shipped():
    assert profile_template_names() == ["blank", "motor", "cnc", "chiller"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["motor", "cnc", "chiller"])
def test_templates_are_valid_as_downloaded_in_every_format(fleet_categories, name, fmt):
    template = profile_template(name)["profile"]
    document = parse_profile_bytes(dump_profile(template, fmt), fmt)
    assert profile_validate(document) == profile_validate(template)


@pytest.mark.parametrize("fmt", FORMATS)
def test_blank_template_parses_and_names_what_to_fill_in(fleet_categories, fmt):
    document = parse_profile_bytes(dump_profile(profile_template("blank")["profile"], fmt), fmt)
    with pytest.raises(ValidationError) as caught:
        profile_validate(document)
    errors = flatten_errors(caught.value.detail)
    assert {"machine_id", "machine_type"} <= set(errors)
    assert all(" — " in message for messages in errors.values() for message in messages)


def test_chiller_template_is_a_new_type_with_its_rul_block(fleet_categories):
    profile = profile_validate(profile_template("chiller")["profile"])
    assert profile["machine_type"] == "chiller"
    assert profile["rul"]["degradation_pattern"] == "linear_medium"


def test_excel_layout_machine_and_sensors_sheets():
    template = profile_template("chiller")["profile"]
    workbook = load_workbook(io.BytesIO(dump_profile(template, "xlsx")))
    assert workbook.sheetnames == ["machine", "sensors"]
    fields = {row[0]: row[1] for row in workbook["machine"].iter_rows(min_row=2, values_only=True)}
    assert fields["machine_type"] == "chiller"
    assert fields["rul.max_rul"] == 1400
    assert fields["rul.failure_modes"] == "refrigerant leak; condenser fouling; compressor bearing wear"
    assert fields["operational_parameters.refrigerant"] == "R-134a"
    header, *rows = workbook["sensors"].iter_rows(values_only=True)
    assert header == ("name", "unit", "type", "description", "base", "range", "noise")
    assert [row[0] for row in rows] == [sensor["name"] for sensor in template["sensors"]]


def test_excel_accepts_json_cells_and_skips_empty_rows():
    content = workbook_bytes(
        [
            ["field", "value"],
            ["machine_id", "pump_test_001"],
            [None, None],
            ["machine_type", "pump"],
            ["operational_parameters", '{"rated_flow_m3_h": 30}'],
            ["rul.failure_modes", '["seal leakage"]'],
        ],
        [["Name", "Unit"], ["flow_m3_h", "m3/h"], [None, None]],
    )
    document = parse_profile_bytes(content, "xlsx")
    assert document == {
        "machine_id": "pump_test_001",
        "machine_type": "pump",
        "operational_parameters": {"rated_flow_m3_h": 30},
        "rul": {"failure_modes": ["seal leakage"]},
        "sensors": [{"name": "flow_m3_h", "unit": "m3/h"}],
    }


def test_excel_stops_reading_sensors_after_one_too_many():
    rows = [["name", "unit"]] + [[f"channel_{index}", "V"] for index in range(80)]
    document = parse_profile_bytes(workbook_bytes([["machine_id", "x_001"]], rows), "xlsx")
    assert len(document["sensors"]) == 51


@pytest.mark.parametrize(
    ("machine_rows", "message"),
    [
        (
            [["machine_id", "a"], ["machine_id", "b"]],
            "sheet machine, row 2: machine_id is given twice — keep one of the rows",
        ),
        (
            [["rul", "{max_rul: 5}"]],
            "sheet machine, row 1: the value is not JSON (Expecting property name enclosed in double quotes, "
            'column 2) — write it as {"key": value} or use one row per field, e.g. rul.max_rul',
        ),
    ],
)
def test_excel_mistakes_name_the_row(machine_rows, message):
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_bytes(workbook_bytes(machine_rows), "xlsx")
    assert caught.value.message == message


def test_excel_without_a_machine_sheet():
    workbook = Workbook()
    workbook.active.title = "Sheet1"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_bytes(buffer.getvalue(), "xlsx")
    assert caught.value.message == (
        'the workbook needs a sheet named "machine" with field/value rows — '
        "download the Excel template to see the layout"
    )


def test_a_file_that_is_not_a_workbook():
    with pytest.raises(ProfileFileError) as caught:
        read_profile_upload(upload("profile.xlsx", b"machine_id,motor_1\n"))
    assert caught.value.status == 400
    assert "not a readable .xlsx workbook" in caught.value.message


def test_malformed_json_gives_line_and_column():
    text = '{\n  "machine_id": "motor_x_001",\n  "machine_type": motor\n}'
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_text(text)
    assert (caught.value.line, caught.value.column) == (3, 19)
    assert caught.value.message == "line 3, column 19: Expecting value — fix the JSON syntax there"


def test_malformed_yaml_gives_line_and_column():
    text = "machine_id: motor_x_001\nsensors:\n  - name: a\n   unit: C\n"
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_text(text)
    assert (caught.value.line, caught.value.column) == (4, 4)
    assert caught.value.message == (
        "line 4, column 4: expected <block end>, but found '<block mapping start>' — "
        "fix the YAML syntax there"
    )


def test_yaml_is_loaded_safely():
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_text("machine_id: !!python/object/apply:os.system ['true']\n")
    assert "could not determine a constructor" in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the document is empty — start from a template"),
        (
            "- motor\n- pump\n",
            "the document is a list: a profile is a mapping of fields (machine_id, machine_type, sensors, …) "
            "— start from a template",
        ),
    ],
)
def test_documents_that_are_not_profiles(text, message):
    with pytest.raises(ProfileFileError) as caught:
        parse_profile_text(text)
    assert caught.value.message == message


def test_file_bounds_and_types():
    with pytest.raises(ProfileTooLarge) as too_large:
        read_profile_upload(upload("big.json", b" " * (MAX_UPLOAD_BYTES + 1)))
    assert too_large.value.status == 413
    assert too_large.value.message.startswith('"big.json" is 1.0 MB: a profile file may be at most 1 MB')
    with pytest.raises(UnsupportedProfileType) as wrong_type:
        read_profile_upload(upload("profile.csv", b"a,b"))
    assert wrong_type.value.status == 415
    assert (
        wrong_type.value.message
        == '"profile.csv" has .csv: upload .json, .yaml/.yml or .xlsx (save it as .xlsx)'
    )
    with pytest.raises(ProfileFileError) as not_text:
        read_profile_upload(upload("profile.yaml", "machine_id: é".encode("latin-1")))
    assert not_text.value.message == "the file is not UTF-8 text — save it with UTF-8 encoding"


def test_a_file_of_exactly_one_megabyte_is_accepted():
    content = json.dumps({"machine_id": "m" * 10}).encode()
    content += b" " * (MAX_UPLOAD_BYTES - len(content))
    assert read_profile_upload(upload("edge.json", content)) == {"machine_id": "m" * 10}


def test_locate_line_finds_a_path_or_its_nearest_parent():
    text = "machine_id: m_001\nsensors:\n  - name: a\n    unit: C\n  - name: b\n"
    assert locate_line(text, "sensors[0].unit") == 4
    assert locate_line(text, "sensors[1].unit") == 5  # no unit: the sensor's own line
    assert locate_line(text, "rul.max_rul") == 1  # nothing of it: the document's first line
    json_text = json.dumps({"machine_id": "m", "sensors": [{"name": "a"}, {"name": "b"}]}, indent=2)
    assert json_text.splitlines()[locate_line(json_text, "sensors[1].name") - 1].strip() == '"name": "b"'


def test_diff_is_a_readable_unified_diff_of_yaml():
    before = {"machine_id": "m_001", "location": "Hall 1", "sensors": [{"name": "a"}]}
    after = {"machine_id": "m_001", "location": "Hall 2", "sensors": [{"name": "a"}]}
    diff = profile_diff(before, after, "v1", "v2")
    assert diff.splitlines()[:2] == ["--- v1", "+++ v2"]
    assert "-location: Hall 1" in diff.splitlines()
    assert "+location: Hall 2" in diff.splitlines()
    assert profile_diff(None, after, "", "v1") == ""
