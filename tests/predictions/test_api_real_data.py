"""The real-data API: upload (bounded, typed), the plan named field by field, presets."""

from django.core.files.uploadedfile import SimpleUploadedFile

from gan.models import Job
from predictions.models import MappingPreset, RealDataset
from predictions.services.ingestion import ingestion_run
from tests.predictions.conftest import run_inline

URL = "/api/v1/real-datasets/"
CSV = b"time,temp,vib,failure\n" + b"".join(
    f"{i},{40 + i % 7},{2 + i % 3},{int(i % 9 == 0)}\n".encode() for i in range(60)
)


def post_file(api, machine, name="log.csv", data=CSV, **fields):
    body = {"file": SimpleUploadedFile(name, data), "machine": machine.machine_id, **fields}
    return api.post(URL, body, format="multipart")


def test_upload_starts_the_analysis(operator_api, motor):
    response = post_file(operator_api, motor)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["machine_id"], body["name"]) == ("analysing", motor.machine_id, "log.csv")
    job = Job.objects.get(pk=body["job"])
    assert (job.kind, job.params) == (Job.Kind.INGESTION, {"dataset": body["id"], "step": "analyse"})


def test_uploads_are_typed_and_bounded(operator_api, motor, settings):
    wrong = post_file(operator_api, motor, name="notes.exe")
    assert wrong.status_code == 400 and "is not a table" in wrong.json()["errors"]["file"][0]
    unknown = post_file(operator_api, motor, preset="nope")
    assert unknown.json()["errors"] == {"preset": ["no preset 'nope'"]}
    settings.PREDICTIONS_UPLOAD_MAX_BYTES = 100
    too_big = post_file(operator_api, motor)
    assert too_big.status_code == 400 and "bytes allowed" in too_big.json()["errors"]["file"][0]
    settings.PREDICTIONS_UPLOAD_MAX_BYTES = 10
    refused = post_file(operator_api, motor, data=CSV * 1000)
    assert refused.status_code == 413
    assert not RealDataset.objects.exists()


def test_confirming_names_each_wrong_field(operator_api, motor):
    dataset_id = post_file(operator_api, motor).json()["id"]
    run_inline(RealDataset.objects.get(pk=dataset_id).job, ingestion_run)
    dataset = operator_api.get(f"{URL}{dataset_id}/").json()
    assert dataset["status"] == "needs_mapping"
    assert (dataset["plan"]["time_column"], dataset["plan"]["target_kind"]) == ("time", "label")

    plan = {**dataset["plan"], "sensors": {"temp": "bearing temp", "nope": "x"}, "run_column": "unit"}
    response = operator_api.post(f"{URL}{dataset_id}/confirm/", {"plan": plan}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"plan.sensors.temp", "plan.sensors.nope", "plan.run_column"}
    assert "not a sensor name" in errors["plan.sensors.temp"][0]
    assert "column 'unit' is not in the file" in errors["plan.run_column"][0]

    good = operator_api.post(f"{URL}{dataset_id}/confirm/", {"plan": dataset["plan"]}, format="json")
    assert good.status_code == 202 and good.json()["status"] == "preparing"
    busy = operator_api.post(f"{URL}{dataset_id}/confirm/", {"plan": dataset["plan"]}, format="json")
    assert busy.status_code == 409 and "still preparing" in busy.json()["detail"]
    untrained = operator_api.post(f"{URL}{dataset_id}/train/", {}, format="json")
    assert untrained.status_code == 409


def test_presets_ship_and_can_be_added_but_shipped_ones_stay(operator_api):
    listed = {p["name"]: p for p in operator_api.get("/api/v1/mapping-presets/").json()["results"]}
    assert listed["cmapss_fd001"]["builtin"] and listed["cmapss_fd001"]["plan"]["run_column"] == "unit"
    assert listed["ai4i_2020"]["plan"]["target_kind"] == "label"
    plan = {"sensors": {"Temp (C)": "bearing_temp_C"}, "time_column": "Time", "time_kind": "timestamp"}
    created = operator_api.post("/api/v1/mapping-presets/", {"name": "plant_a", "plan": plan}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["plan"]["sensors"] == {"Temp (C)": "bearing_temp_C"}
    again = operator_api.post("/api/v1/mapping-presets/", {"name": "plant_a", "plan": plan}, format="json")
    assert again.status_code == 400 and "exists" in again.json()["errors"]["name"][0]
    shipped = MappingPreset.objects.get(name="cmapss_fd001")
    assert operator_api.delete(f"/api/v1/mapping-presets/{shipped.pk}/").status_code == 409
    assert operator_api.delete(f"/api/v1/mapping-presets/{created.json()['id']}/").status_code == 204
