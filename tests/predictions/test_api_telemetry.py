"""POST /api/v1/machines/{id}/readings/ over HTTP: NaN literals named, not refused as bad JSON; roles;
the body's bound; reading the latest readings back."""

from datetime import timedelta

from django.utils import timezone

from accounts.roles import Role
from predictions.models import SensorReading


def url(machine) -> str:
    return f"/api/v1/machines/{machine.machine_id}/readings/"


def test_a_batch_is_stored_and_duplicates_counted(operator_api, motor):
    now = timezone.now()
    body = {
        "readings": [
            {"timestamp": (now - timedelta(seconds=10 - i)).isoformat(), "values": {"current_A": 8.0 + i}}
            for i in range(3)
        ]
    }
    first = operator_api.post(url(motor), body, format="json")
    assert first.status_code == 201, first.json()
    assert {k: first.json()[k] for k in ("machine_id", "received", "stored", "duplicates")} == {
        "machine_id": motor.machine_id,
        "received": 3,
        "stored": 3,
        "duplicates": 0,
    }
    again = operator_api.post(url(motor), body, format="json").json()
    assert (again["stored"], again["duplicates"]) == (0, 3)


def test_nan_and_infinity_literals_are_named(operator_api, motor):
    stamp = (timezone.now() - timedelta(seconds=5)).isoformat()
    raw = (
        '{"readings": ['
        f'{{"timestamp": "{stamp}", "values": {{"current_A": 8.0}}}},'
        f'{{"timestamp": "{stamp}", "values": {{"vibration_mm_s": NaN, "current_A": Infinity}}}}'
        "]}"
    )
    response = operator_api.generic("POST", url(motor), raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "readings[1].values.vibration_mm_s": ["not a finite number"],
        "readings[1].values.current_A": ["not a finite number"],
    }
    assert (
        response.json()["detail"] == "Invalid input: readings[1].values.vibration_mm_s: not a finite number"
    )
    assert not SensorReading.objects.exists()


def test_malformed_json_is_a_parse_error(operator_api, motor):
    broken = operator_api.generic("POST", url(motor), '{"values": ', content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]


def test_roles_and_unknown_machine(api, make_user, motor, operator_api):
    missing = operator_api.post("/api/v1/machines/ghost_001/readings/", {"values": {"a": 1}}, format="json")
    assert missing.status_code == 404
    viewer = api.as_user(make_user(Role.VIEWER, "watcher"))  # the same client, now a viewer
    assert viewer.post(url(motor), {"values": {"current_A": 1.0}}, format="json").status_code == 403
    assert viewer.get(url(motor)).status_code == 200


def test_latest_readings_newest_first(operator_api, motor):
    now = timezone.now()
    for i in range(3):
        SensorReading.objects.create(
            machine=motor, timestamp=now - timedelta(minutes=3 - i), values={"current_A": i}
        )
    body = operator_api.get(url(motor)).json()
    assert body["count"] == 3 and [r["values"]["current_A"] for r in body["results"]] == [2, 1, 0]
