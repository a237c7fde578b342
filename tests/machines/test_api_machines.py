"""The machines API: CRUD, roles, list filters and cache, versions, validation, uploads, templates."""

import io
import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from machines.models import Machine, MachineCategory
from machines.profile_formats import MAX_UPLOAD_BYTES, parse_profile_bytes
from machines.serializers import profile_validate

MACHINES = "/api/v1/machines/"


def file_upload(name: str, content: bytes) -> dict:
    return {"file": SimpleUploadedFile(name, content)}


# --- Roles ----------------------------------------------------------------------------------------


def role_requests(profile):
    return {
        "list": ("get", MACHINES, None),
        "retrieve": ("get", f"{MACHINES}motor_test_001/", None),
        "versions": ("get", f"{MACHINES}motor_test_001/versions/", None),
        "categories": ("get", "/api/v1/categories/", None),
        "templates": ("get", "/api/v1/templates/", None),
        "validate": ("post", "/api/v1/profiles/validate/", profile),
        "create": ("post", MACHINES, profile),
        "update": ("patch", f"{MACHINES}motor_test_001/", {"location": "Hall 9"}),
        "restore": ("post", f"{MACHINES}motor_test_001/versions/1/restore/", None),
        "category_create": ("post", "/api/v1/categories/", {"name": "x"}),
        "delete": ("delete", f"{MACHINES}motor_test_001/", None),
    }


READS = {"list", "retrieve", "versions", "categories", "templates"}
OPERATOR_WRITES = {"create", "update", "validate", "restore"}
ADMIN_WRITES = {"category_create", "delete"}


@pytest.mark.parametrize("role", ["anonymous", "viewer", "operator", "admin"])
def test_role_matrix(api, users, make_machine, motor_profile, role):
    make_machine()
    if role != "anonymous":
        api.as_user(users[role])
    allowed = {
        "anonymous": set(),
        "viewer": READS,
        "operator": READS | OPERATOR_WRITES,
        "admin": READS | OPERATOR_WRITES | ADMIN_WRITES,
    }[role]
    for name, (method, url, body) in role_requests(motor_profile).items():
        status = getattr(api, method)(url, body, format="json").status_code
        if role == "anonymous":
            assert status == 401, name
        elif name in allowed:
            assert status < 400 or (name == "category_create" and status == 400), (name, status)
        else:
            assert status == 403, (name, status)


# --- CRUD -----------------------------------------------------------------------------------------


def test_create_answers_the_normalised_profile(operator_api, motor_profile):
    response = operator_api.post(MACHINES, motor_profile, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["machine_id"] == "motor_acme_m100_001"
    assert body["sensors"][0]["base"] == 40.0  # from the category
    assert (body["version"], body["created_by"], body["is_active"]) == (1, "operator", True)
    assert body["rul"]["max_rul"] == 1000.0


def test_create_from_an_uploaded_yaml_file(operator_api, motor_profile):
    content = yaml.safe_dump(motor_profile).encode()
    response = operator_api.post(MACHINES, file_upload("motor.yaml", content), format="multipart")
    assert response.status_code == 201
    assert Machine.objects.filter(machine_id="motor_acme_m100_001").exists()


def test_invalid_profile_answers_every_error_by_path_and_creates_nothing(operator_api, motor_profile):
    motor_profile["sensors"][2] = {"name": "gearbox_temp"}
    motor_profile["machine_id"] = "Motor 1"
    response = operator_api.post(MACHINES, motor_profile, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["sensors[2].unit"] == ['temperature sensors need a unit — add "unit": "C"']
    assert "machine_id" in body["errors"]
    assert body["detail"].startswith("Invalid input: ")
    assert not Machine.objects.exists()


def test_retrieve_update_and_delete(api, operator, admin_user, make_machine):
    make_machine()
    api.as_user(operator)
    url = f"{MACHINES}motor_test_001/"
    detail = api.get(url).json()
    assert detail["machine_type"] == "motor"
    detail_profile = {key: detail[key] for key in ("machine_id", "machine_type", "manufacturer", "sensors")}
    detail_profile["manufacturer"] = "WEG"
    replaced = api.put(url, detail_profile, format="json")
    assert replaced.status_code == 200
    assert (replaced.json()["manufacturer"], replaced.json()["version"]) == ("WEG", 2)
    patched = api.patch(url, {"location": "Hall 9"}, format="json")
    assert (patched.json()["location"], patched.json()["manufacturer"], patched.json()["version"]) == (
        "Hall 9",
        "WEG",
        3,
    )
    assert api.delete(url).status_code == 403
    api.as_user(admin_user)
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_list_parameters_do_not_apply_to_one_machine(operator_api, make_machine):
    make_machine()
    response = operator_api.get(f"{MACHINES}motor_test_001/", {"ordering": "sensors", "category": "pump"})
    assert response.status_code == 200
    assert response.json()["machine_id"] == "motor_test_001"


def test_activation(operator_api, make_machine):
    make_machine()
    response = operator_api.post(f"{MACHINES}motor_test_001/activation/", {"is_active": False}, format="json")
    assert response.json()["is_active"] is False
    listed = operator_api.get(MACHINES, {"is_active": "false"}).json()
    assert [m["machine_id"] for m in listed["results"]] == ["motor_test_001"]


def test_profile_download_round_trips(operator_api, make_machine):
    make_machine()
    for extension in ("json", "yaml", "xlsx"):
        response = operator_api.get(f"{MACHINES}motor_test_001/profile.{extension}/")
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="motor_test_001.{extension}"'
        document = parse_profile_bytes(response.content, extension)
        assert document["machine_id"] == "motor_test_001"
        assert len(document["sensors"]) == 4


# --- The list: filters, search, ordering, pagination, cache ---------------------------------------


def test_list_filters_search_ordering_and_pagination(api, viewer, fleet):
    api.as_user(viewer)
    everything = api.get(MACHINES).json()
    assert everything["count"] == 32
    assert len(everything["results"]) == 25 and everything["next"]
    assert everything["results"][0] == {
        **everything["results"][0],
        "machine_id": "cnc_dmg_mori_dmu50_006",
        "machine_type": "cnc",
        "sensor_count": 9,
    }
    motors = api.get(MACHINES, {"category": "motor"}).json()
    assert motors["count"] == 7
    assert {m["machine_type"] for m in motors["results"]} == {"motor"}
    found = api.get(MACHINES, {"search": "atlas copco"}).json()
    assert [m["machine_id"] for m in found["results"]] == ["compressor_atlas_copco_ga30_001"]
    by_type = api.get(MACHINES, {"ordering": "-category"}).json()["results"]
    assert by_type[0]["machine_type"] == "turbofan"
    second_page = api.get(MACHINES, {"page": 2}).json()
    assert len(second_page["results"]) == 7
    assert api.get(MACHINES, {"ordering": "secret_field"}).status_code == 400


def test_list_is_cached_until_a_write(operator_api, make_machine):
    machine = make_machine()
    first = operator_api.get(MACHINES).json()["results"][0]
    assert first["manufacturer"] == ""
    # A change behind the services' back is not seen: the answer comes from the cache.
    Machine.objects.filter(pk=machine.pk).update(manufacturer="Bypassed")
    assert operator_api.get(MACHINES).json()["results"][0]["manufacturer"] == ""
    # Any write through the services drops the cached lists.
    operator_api.patch(f"{MACHINES}motor_test_001/", {"manufacturer": "ABB"}, format="json")
    assert operator_api.get(MACHINES).json()["results"][0]["manufacturer"] == "ABB"
    make_machine("motor_test_002")
    assert operator_api.get(MACHINES).json()["count"] == 2


def test_category_list_is_cached_and_dropped_by_a_category_write(api, admin_user, motor_category):
    api.as_user(admin_user)
    assert [c["name"] for c in api.get("/api/v1/categories/").json()["results"]] == ["motor"]
    MachineCategory.objects.filter(pk=motor_category.pk).update(description="Bypassed")
    assert api.get("/api/v1/categories/").json()["results"][0]["description"] != "Bypassed"
    api.patch("/api/v1/categories/motor/", {"description": "Induction motors"}, format="json")
    assert api.get("/api/v1/categories/").json()["results"][0]["description"] == "Induction motors"


# --- Versions -------------------------------------------------------------------------------------


def test_versions_and_restore(operator_api, make_machine):
    make_machine(location="Hall 1")
    url = f"{MACHINES}motor_test_001/"
    operator_api.patch(url, {"location": "Hall 2"}, format="json")
    versions = operator_api.get(f"{url}versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["author"] == "operator"
    assert "+location: Hall 2" in versions[0]["diff"].splitlines()
    first = operator_api.get(f"{url}versions/1/").json()
    assert first["document"]["location"] == "Hall 1"
    restored = operator_api.post(f"{url}versions/1/restore/")
    assert (restored.status_code, restored.json()["location"], restored.json()["version"]) == (
        200,
        "Hall 1",
        3,
    )
    assert operator_api.post(f"{url}versions/9/restore/").status_code == 404


# --- Validation and uploads -----------------------------------------------------------------------


def test_validate_answers_the_normalised_profile_and_creates_nothing(
    operator_api, motor_profile, chiller_profile
):
    response = operator_api.post("/api/v1/profiles/validate/", motor_profile, format="json")
    assert response.status_code == 200
    assert response.json()["valid"] is True
    assert response.json()["profile"] == profile_validate(motor_profile)
    new_type = operator_api.post("/api/v1/profiles/validate/", chiller_profile, format="json")
    assert new_type.json()["profile"]["rul"]["max_rul"] == 1400
    assert not Machine.objects.exists()
    assert list(MachineCategory.objects.values_list("name", flat=True)) == ["motor"]


def test_validate_an_uploaded_file_with_an_error(operator_api, motor_profile):
    motor_profile["sensors"][1]["unit"] = "°C"
    content = json.dumps(motor_profile).encode()
    response = operator_api.post(
        "/api/v1/profiles/validate/", file_upload("p.json", content), format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "sensors[1].unit": ['temperature units are C, K, F or R — write "unit": "C" instead of "°C"']
    }


def test_validate_as_an_edit_of_a_machine(operator_api, make_machine):
    make_machine()
    document = {"machine_id": "motor_test_001", "machine_type": "motor"}
    assert operator_api.post("/api/v1/profiles/validate/", document, format="json").status_code == 400
    as_edit = operator_api.post("/api/v1/profiles/validate/?machine=motor_test_001", document, format="json")
    assert as_edit.status_code == 200
    unknown = operator_api.post("/api/v1/profiles/validate/?machine=no_such_machine", document, format="json")
    assert unknown.status_code == 400
    message = 'no machine "no_such_machine" — leave it out for a new one'
    assert unknown.json()["errors"] == {"machine": [message]}


def test_an_oversized_file_is_413_with_a_clear_message(operator_api, motor_category):
    content = b"machine_id: x\n" + b"#" * MAX_UPLOAD_BYTES
    response = operator_api.post(
        "/api/v1/profiles/validate/", file_upload("big.yaml", content), format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["errors"]["file"] == [
        '"big.yaml" is 1.0 MB: a profile file may be at most 1 MB — remove what is not part of the profile'
    ]


def test_an_oversized_json_body_is_413(operator_api, motor_profile):
    motor_profile["location"] = "x" * MAX_UPLOAD_BYTES
    response = operator_api.post(MACHINES, motor_profile, format="json")
    assert response.status_code == 413
    assert "at most 1 MB" in response.json()["detail"]


def test_another_file_type_is_415_naming_the_accepted_ones(operator_api, motor_category):
    response = operator_api.post(MACHINES, file_upload("profile.txt", b"machine_id: x"), format="multipart")
    assert response.status_code == 415
    assert response.json()["detail"] == '"profile.txt" has .txt: upload .json, .yaml/.yml or .xlsx'


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.yaml",
            b"machine_id: m_001\nsensors: [\n",
            "line 3, column 1: expected the node content, but found '<stream end>' — "
            "fix the YAML syntax there",
        ),
        (
            "bad.json",
            b'{"machine_id": "m_001",}',
            "line 1, column 24: Expecting property name enclosed in double "
            "quotes — fix the JSON syntax there",
        ),
        (
            "bad.xlsx",
            b"not a workbook",
            "the file is not a readable .xlsx workbook — save it from Excel or LibreOffice as .xlsx",
        ),
    ],
)
def test_malformed_files_are_400_with_the_parsers_position(
    operator_api, motor_category, name, content, message
):
    response = operator_api.post(MACHINES, file_upload(name, content), format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == {"file": [message]}


def test_multipart_without_a_file(operator_api, motor_category):
    response = operator_api.post(MACHINES, {"machine_id": "x"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "file": ["attach the profile as the form field `file`, or POST it as JSON"]
    }


# --- Templates and categories ---------------------------------------------------------------------


def test_templates_list_and_round_trip_through_the_api(operator_api, fleet_categories):
    templates = operator_api.get("/api/v1/templates/").json()
    assert [t["name"] for t in templates] == ["blank", "motor", "cnc", "chiller"]
    for template in templates:
        for extension, url in template["files"].items():
            response = operator_api.get(url)
            assert response.status_code == 200, url
            assert response["Content-Disposition"].endswith(f'_profile.{extension}"')
            upload = file_upload(f"{template['name']}.{extension}", response.content)
            checked = operator_api.post("/api/v1/profiles/validate/", upload, format="multipart")
            assert checked.status_code == (400 if template["name"] == "blank" else 200), (url, checked.json())
    assert operator_api.get("/api/v1/templates/pump.json").status_code == 404


def test_xlsx_template_is_a_workbook(operator_api, db):
    response = operator_api.get("/api/v1/templates/cnc.xlsx")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    from openpyxl import load_workbook

    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["machine", "sensors"]


def test_categories_admins_write_and_a_used_one_cannot_go(api, operator, admin_user, make_machine):
    make_machine()
    category = {
        "name": "chiller",
        "max_rul": 1400,
        "cycles": 3,
        "degradation_pattern": "linear_medium",
        "noise": 20,
        "failure_modes": ["refrigerant leak"],
        "sensors": [{"name": "supply_temp_C", "unit": "C", "base": 7, "range": 4, "noise": 0.2}],
    }
    assert api.as_user(operator).post("/api/v1/categories/", category, format="json").status_code == 403
    api.as_user(admin_user)
    created = api.post("/api/v1/categories/", category, format="json")
    assert created.status_code == 201
    assert created.json()["sensors"][0]["name"] == "supply_temp_C"
    bad = api.post(
        "/api/v1/categories/",
        {
            **category,
            "name": "dryer",
            "sensors": [{"name": "t_temp", "unit": "", "base": 1, "range": 1, "noise": 0}],
        },
        format="json",
    )
    assert bad.json()["errors"] == {"sensors[0].unit": ['temperature sensors need a unit — add "unit": "C"']}
    conflict = api.delete("/api/v1/categories/motor/")
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == '"motor" is the type of 1 machine(s) — move or delete them first'
    assert api.delete("/api/v1/categories/chiller/").status_code == 204


def test_schema_documents_the_routes_with_examples(api, db):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/machines/",
        "/api/v1/machines/{machine_id}/",
        "/api/v1/machines/{machine_id}/versions/",
        "/api/v1/machines/{machine_id}/versions/{number}/restore/",
        "/api/v1/categories/",
        "/api/v1/profiles/validate/",
        "/api/v1/templates/",
    ):
        assert path in paths, path
    create = paths["/api/v1/machines/"]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert {"AMotor(existingCategory)", "AChiller(aNewType)"} <= set(examples)
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert "InvalidProfile" in create["responses"]["400"]["content"]["application/json"]["examples"]
    listing = {p["name"] for p in paths["/api/v1/machines/"]["get"]["parameters"]}
    assert {"category", "is_active", "search", "ordering", "page"} <= listing
