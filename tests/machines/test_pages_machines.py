"""The fleet catalogue's pages: list, detail, New machine (editor, upload, template, form), edit, delete."""

import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from machines.models import Machine
from machines.profile_formats import MAX_UPLOAD_BYTES, dump_profile, dump_profile_text
from machines.selectors import profile_template

HTMX = {"HTTP_HX_REQUEST": "true"}


def submit_disabled(page: str) -> bool:
    """Whether the editor's Create/Save button is disabled (it is until the profile is valid)."""
    return "disabled" in page.split('data-testid="profile-submit"')[1].split(">")[0]


@pytest.fixture
def login(client, users):
    def as_role(role: str):
        client.force_login(users[role])
        return client

    return as_role


def test_every_machines_page_declares_its_role():
    (machines,) = [
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and entry.app_name == "machines"
    ]
    views = [entry.callback for entry in machines.url_patterns if isinstance(entry, URLPattern)]
    assert len(views) == 8
    assert all(hasattr(view, "role_rule") for view in views)


# --- List -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_list_renders_for_each_role(login, make_machine, role):
    make_machine()
    page = login(role).get("/machines/").content.decode()
    assert 'data-machine-id="motor_test_001"' in page
    assert ('class="button primary" href="/machines/new/"' in page) == (role != "viewer")


def test_list_filters_search_sort_and_pages_server_side(login, fleet):
    client = login("viewer")
    page = client.get("/machines/", {"category": "pump", "ordering": "-machine_id"}).content.decode()
    rows = [line for line in page.splitlines() if "data-machine-id=" in line]
    assert [row.split('"')[1] for row in rows] == [
        "pump_ksb_etanorm_001",
        "pump_grundfos_cr3_004",
        "pump_flowserve_mark3_002",
    ]
    searched = client.get("/machines/", {"search": "haas"}).content.decode()
    assert searched.count("data-machine-id=") == 2
    second = client.get("/machines/", {"page": 2}).content.decode()
    assert second.count("data-machine-id=") == 7
    assert "Page 2 of 2" in second


def test_the_table_is_rendered_once_until_the_catalogue_changes(login, make_machine):
    make_machine()
    client = login("viewer")
    assert 'data-machine-id="motor_test_001"' in client.get("/machines/").content.decode()
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/machines/").content.decode()
    assert 'data-machine-id="motor_test_001"' in page
    assert not [q for q in captured if "machines_machine" in q["sql"]]

    login("operator").post("/machines/motor_test_001/activation/", {"is_active": "false"})
    page = login("viewer").get("/machines/").content.decode()
    assert "status-inactive" in page and "status-active" not in page


def test_list_answers_htmx_with_the_table_only(login, make_machine):
    make_machine()
    make_machine("motor_test_002")
    client = login("viewer")
    Machine.objects.filter(machine_id="motor_test_002").update(is_active=False)
    partial = client.get("/machines/", {"is_active": "false"}, **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="machine-table"')
    assert "<html" not in partial
    assert 'data-machine-id="motor_test_002"' in partial
    assert 'data-machine-id="motor_test_001"' not in partial


# --- Detail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_detail_shows_profile_sensors_versions_and_the_workflow(login, make_machine, operator, role):
    machine = make_machine(location="Hall 1")
    login("operator").post(
        f"/machines/{machine.machine_id}/edit/",
        {"document": dump_profile_text({"machine_id": "motor_test_001", "machine_type": "motor"}, "yaml")},
    )
    page = login(role).get("/machines/motor_test_001/").content.decode()
    assert 'data-testid="workflow"' in page
    assert "<code>bearing_de_temp_C</code>" in page
    assert 'data-version="2"' in page and 'data-version="1"' in page
    assert '<span class="diff-del">-location: Hall 1</span>' in page
    assert ("Restore v1" in page) == (role != "viewer")
    assert ('href="/machines/motor_test_001/delete/"' in page) == (role == "admin")


def test_unknown_machine_is_404(login, db):
    assert login("viewer").get("/machines/nothing_here/").status_code == 404


# --- New machine: the editor, uploads, templates --------------------------------------------------


def test_new_machine_is_for_operators(login, motor_category):
    assert login("viewer").get("/machines/new/").status_code == 403
    for mode in ("upload", "template", "form"):
        page = login("operator").get("/machines/new/", {"mode": mode}).content.decode()
        assert 'aria-current="page"' in page


def test_a_template_opens_valid_in_the_editor(login, motor_category):
    page = login("operator").get("/machines/new/", {"template": "motor"}).content.decode()
    assert "machine_id: motor_acme_m100_001" in page
    assert 'data-testid="profile-valid"' in page
    assert not submit_disabled(page)
    chiller = login("operator").get("/machines/new/", {"template": "chiller"}).content.decode()
    assert "Creating it creates the category <code>chiller</code>." in chiller


def test_the_editor_check_lists_errors_with_their_lines(login, motor_profile):
    motor_profile["sensors"][2] = {"name": "gearbox_temp"}
    text = dump_profile_text(motor_profile, "yaml")
    response = login("operator").post("/machines/validate/", {"mode": "document", "document": text}, **HTMX)
    page = response.content.decode()
    line = text.splitlines().index("- name: gearbox_temp") + 1
    assert f'data-goto-line="{line}"' in page
    assert (
        "<code>sensors[2].unit</code>: temperature sensors need a unit — add &quot;unit&quot;: &quot;C&quot;"
        in page
    )
    assert submit_disabled(page)


def test_a_syntax_error_is_shown_with_its_line(login, motor_category):
    page = (
        login("operator")
        .post("/machines/validate/", {"document": "machine_id: [\n"}, **HTMX)
        .content.decode()
    )
    assert 'data-testid="profile-syntax-error"' in page
    assert 'data-goto-line="2"' in page


def test_create_from_the_editor(login, motor_profile):
    text = dump_profile_text(motor_profile, "yaml")
    response = login("operator").post("/machines/new/", {"mode": "document", "document": text})
    assert response.status_code == 302
    assert response["Location"] == "/machines/motor_acme_m100_001/"
    assert Machine.objects.get().versions.count() == 1


def test_nothing_is_created_from_an_invalid_document(login, motor_profile):
    motor_profile["machine_id"] = "Bad Id"
    text = dump_profile_text(motor_profile, "yaml")
    response = login("operator").post("/machines/new/", {"mode": "document", "document": text})
    assert response.status_code == 200
    assert "<code>machine_id</code>: use only lowercase letters" in response.content.decode()
    assert "Bad Id" in response.content.decode()  # the document stays in the editor
    assert not Machine.objects.exists()


def test_upload_opens_the_file_in_the_editor_with_its_errors(login, motor_profile):
    motor_profile["sensors"][0]["unit"] = ""
    content = yaml.safe_dump(motor_profile, sort_keys=False).encode()
    response = login("operator").post(
        "/machines/validate/",
        {"mode": "upload", "file": SimpleUploadedFile("motor.yaml", content)},
        **HTMX,
    )
    page = response.content.decode()
    assert 'id="profile-editor"' in page and "<html" not in page
    assert "machine_id: motor_acme_m100_001" in page
    assert "<code>sensors[0].unit</code>: temperature sensors need a unit" in page


def test_an_excel_upload_becomes_yaml_in_the_editor(login, fleet_categories):
    content = dump_profile(profile_template("cnc")["profile"], "xlsx")
    page = (
        login("operator")
        .post(
            "/machines/new/",
            {"mode": "upload", "action": "upload", "file": SimpleUploadedFile("cnc.xlsx", content)},
        )
        .content.decode()
    )
    assert "machine_type: cnc" in page
    assert 'data-testid="profile-valid"' in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("profile.pdf", b"%PDF", "&quot;profile.pdf&quot; has .pdf: upload .json, .yaml/.yml or .xlsx"),
        ("big.json", b" " * (MAX_UPLOAD_BYTES + 1), "a profile file may be at most 1 MB"),
    ],
)
def test_upload_bounds_on_the_page(login, motor_category, name, content, message):
    page = (
        login("operator")
        .post("/machines/validate/", {"mode": "upload", "file": SimpleUploadedFile(name, content)}, **HTMX)
        .content.decode()
    )
    assert 'data-testid="upload-error"' in page
    assert message in page


def test_a_malformed_upload_still_opens_so_it_can_be_fixed(login, motor_category):
    content = b'{"machine_id": "motor_x_001",\n "machine_type": "motor",,\n}'
    page = (
        login("operator")
        .post(
            "/machines/validate/", {"mode": "upload", "file": SimpleUploadedFile("p.json", content)}, **HTMX
        )
        .content.decode()
    )
    assert "&quot;machine_type&quot;: &quot;motor&quot;,," in page
    assert 'data-testid="profile-syntax-error"' in page
    assert "line 2, column 26" in page


# --- New machine: the form ------------------------------------------------------------------------


def chiller_fields(**changes) -> dict:
    fields = {
        "mode": "form",
        "machine_id": "chiller_form_001",
        "machine_type": "__new__",
        "new_type": "chiller",
        "manufacturer": "ACME",
        "sensor_name": ["supply_temp_C", "compressor_current_A"],
        "sensor_unit": ["C", "A"],
        "sensor_description": ["", ""],
        "sensor_base": ["7", "120"],
        "sensor_range": ["4", "40"],
        "sensor_noise": ["0.2", "2"],
        "param_key": ["cooling_capacity_kW", "refrigerant"],
        "param_value": ["500", "R-134a"],
        "rul_max_rul": "1400",
        "rul_cycles": "3",
        "rul_degradation_pattern": "linear_medium",
        "rul_noise": "20",
        "rul_failure_modes": "refrigerant leak\ncondenser fouling\n",
    }
    return {**fields, **changes}


def test_create_a_new_type_by_form(login, motor_category):
    response = login("operator").post("/machines/new/?mode=form", chiller_fields())
    assert response.status_code == 302
    machine = Machine.objects.get(machine_id="chiller_form_001")
    assert machine.category.failure_modes == ["refrigerant leak", "condenser fouling"]
    assert machine.operational_parameters == {"cooling_capacity_kW": 500, "refrigerant": "R-134a"}
    assert machine.sensors.get(name="compressor_current_A").base == 120


def test_form_errors_keep_the_rows_and_name_the_fields(login, motor_category):
    fields = chiller_fields(sensor_unit=["", "A"], rul_cycles="")
    page = login("operator").post("/machines/new/?mode=form", fields).content.decode()
    assert not Machine.objects.exists()
    assert 'value="compressor_current_A"' in page
    errors = json.loads(page.split('id="form-error-paths" type="application/json">')[1].split("</script>")[0])
    assert errors == {
        "sensors[0].unit": ['temperature sensors need a unit — add "unit": "C"'],
        "rul.cycles": [
            'a new machine_type needs cycles — add "cycles": 3 (run-to-failure cycles in its seed data)'
        ],
    }


def test_form_check_while_editing(login, motor_category):
    fields = {"mode": "form", "machine_id": "motor_form_001", "machine_type": "motor"}
    page = login("operator").post("/machines/validate/", fields, **HTMX).content.decode()
    assert 'data-testid="profile-valid"' in page
    assert "a motor with 4 sensors" in page


# --- Edit, restore, activation, delete ------------------------------------------------------------


def test_edit_prefills_the_profile_and_saves_a_version(login, make_machine):
    make_machine()
    client = login("operator")
    page = client.get("/machines/motor_test_001/edit/").content.decode()
    assert "machine_id: motor_test_001" in page
    text = dump_profile_text(
        {"machine_id": "motor_test_001", "machine_type": "motor", "location": "Bay 4"}, "yaml"
    )
    response = client.post("/machines/motor_test_001/edit/", {"document": text, "note": "moved"}, follow=True)
    assert "Profile saved as v2." in response.content.decode()
    version = Machine.objects.get().versions.get(number=2)
    assert (version.note, version.document["location"]) == ("moved", "Bay 4")
    unchanged = client.post("/machines/motor_test_001/edit/", {"document": text}, follow=True)
    assert "No change" in unchanged.content.decode()


def test_edit_is_checked_against_the_machine_itself(login, make_machine):
    make_machine()
    text = dump_profile_text({"machine_id": "motor_test_001", "machine_type": "motor"}, "yaml")
    page = (
        login("operator")
        .post("/machines/validate/?machine=motor_test_001", {"document": text}, **HTMX)
        .content.decode()
    )
    assert 'data-testid="profile-valid"' in page


def test_restore_from_the_page(login, make_machine):
    make_machine(location="Hall 1")
    client = login("operator")
    text = dump_profile_text(
        {"machine_id": "motor_test_001", "machine_type": "motor", "location": "Hall 2"}, "yaml"
    )
    client.post("/machines/motor_test_001/edit/", {"document": text})
    assert login("viewer").post("/machines/motor_test_001/versions/1/restore/").status_code == 403
    response = login("operator").post("/machines/motor_test_001/versions/1/restore/")
    assert response["Location"] == "/machines/motor_test_001/#versions"
    assert Machine.objects.get().location == "Hall 1"


def test_activation_from_the_page(login, make_machine):
    make_machine()
    login("operator").post("/machines/motor_test_001/activation/", {"is_active": "false"})
    assert Machine.objects.get().is_active is False


def test_delete_is_for_admins(login, make_machine):
    make_machine()
    assert login("operator").get("/machines/motor_test_001/delete/").status_code == 403
    assert login("operator").post("/machines/motor_test_001/delete/").status_code == 403
    client = login("admin")
    assert 'data-testid="confirm-delete"' in client.get("/machines/motor_test_001/delete/").content.decode()
    response = client.post("/machines/motor_test_001/delete/")
    assert response["Location"] == "/machines/"
    assert not Machine.objects.exists()
