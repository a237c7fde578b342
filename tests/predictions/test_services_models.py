"""The registry: a machine's own model wins over its category's; activate and roll back (admins); retrain."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from gan.models import Job
from pdm_site.api import Conflict
from predictions.models import ModelVersion
from predictions.services.models import active_versions, model_activate, model_rollback
from tests.predictions.conftest import register_model


@pytest.fixture
def two_versions(motor, tiny_models):
    first = register_model(tiny_models["rul"], "rul", category_obj=motor.category, version=1)
    second = register_model(tiny_models["rul"], "rul", category_obj=motor.category, version=2)
    first.refresh_from_db()
    return first, second


def test_the_newest_registered_is_active_and_one_per_scope(two_versions):
    first, second = two_versions
    assert (first.is_active, second.is_active) == (False, True)


def test_a_machine_model_overrides_the_category_model(motor, make_machine, two_versions, tiny_models):
    other = make_machine("motor_test_002")
    own = ModelVersion.objects.create(
        **{
            field: getattr(two_versions[1], field)
            for field in ("kind", "file", "source", "sensors", "history_rows", "trained_at")
        },
        machine=motor,
        version=1,
        is_active=True,
    )
    serving = active_versions([motor, other], ["rul", "health"])
    assert serving == {(motor.pk, "rul"): own, (other.pk, "rul"): two_versions[1]}


def test_rollback_then_activate_again(two_versions):
    first, second = two_versions
    assert model_rollback(version=second) == first
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active) == (True, False)
    with pytest.raises(Conflict, match="not the active"):
        model_rollback(version=second)
    with pytest.raises(Conflict, match="is the first"):
        model_rollback(version=first)
    model_activate(version=second)
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]


def test_activation_over_the_api_is_for_admins(make_user, two_versions):
    first, second = two_versions
    operator, admin = APIClient(), APIClient()
    operator.force_authenticate(make_user(Role.OPERATOR, "op"))
    admin.force_authenticate(make_user(Role.ADMIN, "boss"))
    assert operator.post(f"/api/v1/models/{first.pk}/activate/").status_code == 403
    answer = admin.post(f"/api/v1/models/{first.pk}/activate/")
    assert answer.status_code == 200 and answer.json()["is_active"]
    assert admin.post(f"/api/v1/models/{second.pk}/rollback/").status_code == 409
    listed = operator.get("/api/v1/models/", {"kind": "rul", "is_active": "true"}).json()
    assert [m["version"] for m in listed["results"]] == [1]
    assert listed["results"][0]["headline"].keys() >= {"rmse", "mae", "interval_coverage"}


def test_retrain_queues_a_job_for_the_same_kind_and_scope(seeded_motor, operator_api, two_versions):
    answer = operator_api.post(f"/api/v1/models/{two_versions[1].pk}/retrain/")
    assert answer.status_code == 202, answer.json()
    job = Job.objects.get(pk=answer.json()["job"])
    assert job.kind == Job.Kind.MODEL_TRAINING
    (unit,) = job.params["units"]
    assert (unit["scope"], unit["category"], unit["kinds"], unit["source"]) == (
        "category",
        seeded_motor.category_id,
        ["rul"],
        "seed",
    )
    again = operator_api.post(f"/api/v1/models/{two_versions[1].pk}/retrain/")
    assert again.status_code == 409 and "already being trained" in again.json()["detail"]


def test_training_needs_its_data(operator_api, motor):
    no_seed = operator_api.post(
        "/api/v1/models/train/", {"kinds": ["rul"], "machine": motor.machine_id}, format="json"
    )
    assert no_seed.status_code == 409 and "seed data" in no_seed.json()["detail"]
    bad = operator_api.post(
        "/api/v1/models/train/", {"kinds": ["failure"], "category": "motor"}, format="json"
    )
    assert bad.status_code == 400 and "cannot be trained from this data" in bad.json()["errors"]["kinds"][0]
    both = operator_api.post(
        "/api/v1/models/train/",
        {"kinds": ["rul"], "category": "motor", "machine": motor.machine_id},
        format="json",
    )
    assert both.status_code == 400 and "machine" in both.json()["errors"]
