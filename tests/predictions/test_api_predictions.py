"""POST /api/v1/predictions/ and /batch/: served by the category's active models, logged with latency and
model version, announced after commit; clear 4xx without a model, readings or a loadable file."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from predictions.models import MachineHealth, Prediction
from predictions.signals import predictions_stored
from tests.predictions.conftest import add_readings, register_model

URL = "/api/v1/predictions/"


@pytest.fixture
def stored(motor, motor_models):
    add_readings(motor, 30)
    return motor


@pytest.fixture
def events():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    predictions_stored.connect(receiver, dispatch_uid="test-events")
    yield received
    predictions_stored.disconnect(dispatch_uid="test-events")


def predict(api, **body):
    return api.post(URL, body, format="json")


@pytest.mark.parametrize("kind", ["health", "rul", "anomaly", "forecast"])
def test_each_kind_from_latest_readings_is_logged(operator_api, stored, motor_models, kind):
    response = predict(operator_api, kind=kind, machine=stored.machine_id)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == kind and body["result"]["kind"] == kind
    assert body["model"] == {"id": motor_models[kind].pk, "version": 1, "scope": "category motor"}
    assert body["input"]["source"] == "latest" and body["input"]["rows"] == 8  # the tiny models' history
    assert body["latency_ms"] > 0 and body["vision_findings"] is None
    logged = Prediction.objects.get(pk=body["id"])
    assert logged.model_version == motor_models[kind] and logged.requested_by.username == "operator"


def test_health_and_rul_results_carry_states_and_intervals(operator_api, stored):
    health = predict(operator_api, kind="health", machine=stored.machine_id).json()
    assert health["result"]["state"] in (0, 1, 2, 3)
    assert health["confidence"] == pytest.approx(
        health["result"]["probabilities"][health["result"]["state_name"]]
    )
    rul = predict(operator_api, kind="rul", machine=stored.machine_id).json()["result"]
    assert rul["lower"] <= rul["rul"] <= rul["upper"] and rul["unit"] == "hours"
    assert rul["state"] == stored.category.health_state(rul["rul"])
    forecast = predict(operator_api, kind="forecast", machine=stored.machine_id).json()["result"]
    assert all(len(values) == 24 for values in forecast["values"].values())


def test_readings_in_the_request_are_used_and_validated(operator_api, motor, motor_models):
    start = timezone.now() - timedelta(minutes=5)
    readings = [
        {
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
            "values": {
                "bearing_de_temp_C": 70.0,
                "winding_temp_C": 85.0,
                "vibration_mm_s": 7.0,
                "current_A": 13.5,
            },
        }
        for i in range(10)
    ]
    response = predict(operator_api, kind="rul", machine=motor.machine_id, readings=readings)
    assert response.status_code == 201, response.json()
    assert response.json()["input"]["source"] == "request" and response.json()["input"]["rows"] == 10
    readings[4]["values"]["current_A"] = "13"
    bad = predict(operator_api, kind="rul", machine=motor.machine_id, readings=readings)
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"readings[4].values.current_A": ["not a number (got '13')"]}


def test_unknown_kind_machine_and_missing_model_or_readings(operator_api, motor, make_machine, motor_models):
    unknown = predict(operator_api, kind="vibes", machine=motor.machine_id)
    assert unknown.status_code == 400 and "kind" in unknown.json()["errors"]
    assert predict(operator_api, kind="rul", machine="nope_000").json()["errors"] == {
        "machine": ["no machine 'nope_000'"]
    }
    no_readings = predict(operator_api, kind="rul", machine=motor.machine_id)
    assert no_readings.status_code == 409 and "No readings" in no_readings.json()["detail"]
    pump = make_machine("pump_test_001", "pump")
    no_model = predict(operator_api, kind="health", machine=pump.machine_id)
    assert no_model.status_code == 409
    assert "No health model serves pump_test_001" in no_model.json()["detail"]


def test_a_model_file_from_other_library_versions_offers_retraining(
    operator_api, stored, tiny_models, broken_copy
):
    path = broken_copy(tiny_models["rul"])
    metadata = json.loads(path.with_suffix(".json").read_text())
    metadata["versions"]["sklearn"] = "0.1.0"
    path.with_suffix(".json").write_text(json.dumps(metadata))
    version = register_model(path, "rul", category_obj=stored.category, version=2)
    response = predict(operator_api, kind="rul", machine=stored.machine_id)
    assert response.status_code == 424
    detail = response.json()["detail"]
    assert "made with scikit-learn 0.1.0" in detail and f"/api/v1/models/{version.pk}/retrain/" in detail


def test_a_corrupt_model_file_offers_retraining(operator_api, stored, tiny_models, broken_copy):
    path = broken_copy(tiny_models["health"])
    path.write_bytes(b"not a pickle")
    register_model(path, "health", category_obj=stored.category, version=2)
    response = predict(operator_api, kind="health", machine=stored.machine_id)
    assert response.status_code == 424 and "retrain" in response.json()["detail"].lower()


def test_the_event_is_sent_after_commit_with_the_ids(
    operator_api, stored, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        body = predict(operator_api, kind="anomaly", machine=stored.machine_id).json()
    assert events == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert events == [{"signal": predictions_stored, "prediction_ids": [body["id"]], "kinds": {"anomaly"}}]


def test_batch_over_the_fleet_reports_each_pair(
    operator_api, stored, make_machine, events, django_capture_on_commit_callbacks
):
    idle = make_machine("motor_test_002")  # a motor without readings
    make_machine("pump_test_001", "pump")  # no pump model
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"{URL}batch/", {}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 3 * 4 and body["predicted"] == 4 and body["failed"] == 8
    errors = {(r["machine_id"], r["kind"]): r["error"] for r in body["results"] if r["error"]}
    assert {e["code"] for (m, _), e in errors.items() if m == idle.machine_id} == {"no_readings"}
    assert {e["code"] for (m, _), e in errors.items() if m == "pump_test_001"} == {"no_model"}
    served = [r for r in body["results"] if r["prediction"]]
    assert {r["kind"] for r in served} == {"health", "rul", "anomaly", "forecast"}
    (event,) = events  # one event for the whole batch
    assert sorted(event["prediction_ids"]) == sorted(r["prediction"] for r in served)
    assert event["kinds"] == {"health", "rul", "anomaly", "forecast"}
    assert Prediction.objects.filter(machine=stored).count() == 4


def test_batch_of_named_machines_and_kinds(operator_api, stored):
    response = operator_api.post(
        f"{URL}batch/", {"machines": [stored.machine_id], "kinds": ["rul"]}, format="json"
    )
    assert [r["kind"] for r in response.json()["results"]] == ["rul"]
    missing = operator_api.post(f"{URL}batch/", {"machines": ["ghost_001"]}, format="json")
    assert missing.status_code == 400 and "ghost_001" in missing.json()["errors"]["machines"][0]


def test_viewers_read_the_log_but_cannot_predict(api, make_user, stored, operator_api):
    predict(operator_api, kind="rul", machine=stored.machine_id)
    viewer = api.as_user(make_user(Role.VIEWER, "watcher"))
    assert viewer.post(URL, {"kind": "rul", "machine": stored.machine_id}, format="json").status_code == 403
    listed = viewer.get(URL, {"machine": stored.machine_id, "kind": "rul"}).json()
    assert listed["count"] == 1 and listed["results"][0]["kind"] == "rul"


def test_listing_reads_no_related_row_twice(operator_api, stored, client, viewer):
    """The log and the health page's history read what they show of the machine and model version in their
    own query: no lazy load per row, however many rows."""
    for kind in ("health", "rul", "anomaly", "forecast", "rul"):
        predict(operator_api, kind=kind, machine=stored.machine_id)
    with CaptureQueriesContext(connection) as captured:
        listed = operator_api.get(URL).json()
    assert listed["count"] == 5 and listed["results"][0]["model"]["scope"] == "category motor"
    assert len([q for q in captured if "predictions_prediction" in q["sql"]]) == 2  # count, page
    assert not [q for q in captured if q["sql"].startswith('SELECT "machines_')]

    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        page = client.get(f"/machines/{stored.machine_id}/health/").content.decode()
    assert page.count("<td>v1</td>") == 5
    assert not [q for q in captured if q["sql"].startswith('SELECT "predictions_modelversion"')]


def test_machine_health_endpoint_after_a_refresh(operator_api, stored, motor_models):
    from predictions.models import SensorReading
    from predictions.services.serving import machine_refresh

    assert operator_api.get(f"/api/v1/machines/{stored.machine_id}/health/").status_code == 404
    machine_refresh(stored.pk)
    body = operator_api.get(f"/api/v1/machines/{stored.machine_id}/health/").json()
    health = MachineHealth.objects.get(machine=stored)
    assert body["state"] == health.state and body["state"] is not None
    assert body["rul_lower"] <= body["rul"] <= body["rul_upper"]
    # The three sensors the health model relies on most, with the latest values.
    ranked = [item["feature"] for item in motor_models["health"].feature_importance][:3]
    latest = SensorReading.objects.filter(machine=stored).order_by("-timestamp").first().values
    assert body["key_sensors"] == [
        [name, latest[name], stored.sensors.get(name=name).unit] for name in ranked
    ]


VISION = {
    "schema": "pdm.vision/v1",
    "model": "acme-thermal-inspector 2.3",
    "captured_at": "2026-11-27T10:15:00Z",
    "findings": [
        {"label": "hot spot", "confidence": 0.87, "severity": "warning", "sensor": "bearing_de_temp_C"}
    ],
}


def test_vision_findings_are_stored_returned_and_shown_never_scored(operator_api, stored, client, viewer):
    plain = predict(operator_api, kind="health", machine=stored.machine_id).json()
    response = predict(operator_api, kind="health", machine=stored.machine_id, vision_findings=VISION)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["vision_findings"]["findings"][0]["label"] == "hot spot"
    assert body["vision_findings"]["captured_at"] == VISION["captured_at"]
    assert body["result"] == plain["result"]
    client.force_login(viewer)
    html = client.get(f"/machines/{stored.machine_id}/health/").content.decode()
    assert 'data-testid="vision-findings"' in html and "acme-thermal-inspector 2.3" in html


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"schema": "other/v9"}, "vision_findings.schema"),
        ({"captured_at": "yesterday"}, "vision_findings.captured_at"),
        ({"findings": [{"label": "x", "confidence": 1.5}]}, "vision_findings.findings[0].confidence"),
        ({"findings": [{"label": "x", "confidence": 0.5}] * 51}, "vision_findings.findings"),
        ({"model": "m" * 70_000}, "vision_findings"),
    ],
)
def test_bad_vision_findings_are_a_400_naming_the_field_and_store_nothing(operator_api, stored, change, path):
    before = Prediction.objects.count()
    response = predict(
        operator_api, kind="health", machine=stored.machine_id, vision_findings={**VISION, **change}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(key == path or key.startswith(f"{path}.") for key in errors), errors
    assert Prediction.objects.count() == before
