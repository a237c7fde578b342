"""The machine health page, the models pages with their actions, and the real-data upload and mapping."""

import json
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from gan.models import Job
from machines.models import HealthState
from predictions import views
from predictions.models import MachineHealth, Prediction, RealDataset
from predictions.services.ingestion import ingestion_run
from predictions.services.serving import machine_refresh
from tests.predictions.conftest import add_readings, register_model, run_inline


def chart_data(html: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_health_page_has_the_charts_history_and_the_explain_slot(
    client, viewer, motor, motor_models, monkeypatch
):
    # The include point takes the assistant's template when it exists, else the placeholder.
    monkeypatch.setattr(
        views, "EXPLAIN_TEMPLATES", ["assistant/_not_there.html", "predictions/_explain.html"]
    )
    add_readings(motor, 30)
    machine_refresh(motor.pk)
    machine_refresh(motor.pk)
    client.force_login(viewer)
    html = client.get(f"/machines/{motor.machine_id}/health/").content.decode()
    data = chart_data(html, "health-data")
    assert len(data["readings"]["t"]) == 30 and set(data["readings"]["values"]) == {
        "bearing_de_temp_C",
        "winding_temp_C",
        "vibration_mm_s",
        "current_A",
    }
    assert (
        len(data["rul"]) == 2 and data["rul"][0]["lower"] <= data["rul"][0]["rul"] <= data["rul"][0]["upper"]
    )
    assert len(data["anomaly"]) == 2 and data["forecast"]["horizon"] == 24
    assert 'data-testid="explain-slot"' in html
    assert html.count("<tr><td>20") >= 8  # the history table: two refreshes of four kinds


def test_health_page_reads_the_health_row_with_the_machine_and_no_join_it_does_not_show(
    client, viewer, motor, motor_models
):
    add_readings(motor, 20)
    machine_refresh(motor.pk)
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(f"/machines/{motor.machine_id}/health/").content.decode()
    sql = [q["sql"] for q in captured]

    health = MachineHealth.objects.get(machine=motor)
    assert f'state-{health.state}">{HealthState(health.state).label}<' in html
    assert not [q for q in sql if q.startswith('SELECT "predictions_machinehealth"')]
    # The page's predictions are its machine's: they join only their model version, for its number.
    predictions = [q for q in sql if q.startswith('SELECT "predictions_prediction"."id"')]
    assert predictions and all("machines_" not in q and "category" not in q for q in predictions)


def test_health_page_of_a_machine_never_predicted(client, viewer, motor):
    client.force_login(viewer)
    html = client.get(f"/machines/{motor.machine_id}/health/").content.decode()
    assert "No prediction" in html and "No predictions yet." in html


def test_predict_now_is_for_operators(client, operator, motor, motor_models):
    add_readings(motor, 20)
    client.force_login(operator)
    response = client.post(f"/machines/{motor.machine_id}/health/predict/")
    assert response.status_code == 302 and Prediction.objects.filter(machine=motor).count() == 4


def test_models_pages_show_metrics_and_admins_roll_back(client, make_user, motor, tiny_models):
    first = register_model(tiny_models["health"], "health", category_obj=motor.category, version=1)
    second = register_model(tiny_models["health"], "health", category_obj=motor.category, version=2)
    client.force_login(make_user(Role.ADMIN, "boss"))
    listing = client.get("/models/").content.decode()
    assert f'data-model="{second.pk}"' in listing and "accuracy" in listing
    detail = client.get(f"/models/{second.pk}/").content.decode()
    assert 'data-testid="confusion-matrix"' in detail and chart_data(detail, "model-data")["kind"] == "health"
    assert client.post(f"/models/{second.pk}/rollback/").status_code == 302
    first.refresh_from_db()
    assert first.is_active
    assert client.post(f"/models/{second.pk}/activate/").status_code == 302
    second.refresh_from_db()
    assert second.is_active


def test_the_training_form_starts_a_job(client, operator, seeded_motor):
    client.force_login(operator)
    response = client.post(
        "/models/train/", {"scope": "category:motor", "kinds": ["health", "rul"], "source": "seed"}
    )
    assert response.status_code == 302
    job = Job.objects.get(kind=Job.Kind.MODEL_TRAINING)
    assert job.params["units"][0]["kinds"] == ["health", "rul"]
    refused = client.post("/models/train/", {"scope": "category:motor", "kinds": ["rul"]}, follow=True)
    assert "already being trained" in refused.content.decode()


def test_upload_then_map_through_the_pages(client, operator, motor):
    client.force_login(operator)
    csv = b"Time,Temp,Vibration (mm/s)\n" + b"".join(
        f"{i},{40 + i / 9},{2 + i / 40}\n".encode() for i in range(40)
    )
    response = client.post(
        "/real-data/",
        {"machine": motor.machine_id, "file": SimpleUploadedFile("pump.csv", csv), "preset": ""},
    )
    dataset = RealDataset.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/real-data/{dataset.pk}/"
    run_inline(dataset.job, ingestion_run)
    page = client.get(f"/real-data/{dataset.pk}/").content.decode()
    assert 'data-testid="mapping-table"' in page and 'data-column="Vibration (mm/s)"' in page
    assert 'data-testid="cleaning-table"' in page

    form = {
        "use_1": "1",
        "sensor_1": "bearing temp",
        "use_2": "1",
        "sensor_2": "vibration_mm_s",
        "time_column": "Time",
    }
    refused = client.post(f"/real-data/{dataset.pk}/", {**form, "time_kind": "cycle"})
    assert refused.status_code == 400 and "plan.sensors.Temp" in refused.content.decode()
    form["sensor_1"] = "bearing_de_temp_C"
    assert client.post(f"/real-data/{dataset.pk}/", {**form, "time_kind": "cycle"}).status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == RealDataset.Status.PREPARING
    assert dataset.plan["sensors"] == {"Temp": "bearing_de_temp_C", "Vibration (mm/s)": "vibration_mm_s"}

    saved = client.post(f"/real-data/{dataset.pk}/preset/", {"name": "plant_pumps"}, follow=True)
    assert "Preset plant_pumps saved" in saved.content.decode()


def test_the_upload_form_reports_problems(client, operator, motor):
    client.force_login(operator)
    response = client.post("/real-data/", {"machine": motor.machine_id})
    assert response.status_code == 400 and "file: choose a file" in response.content.decode()
