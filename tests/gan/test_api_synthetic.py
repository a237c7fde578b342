"""The synthetic-data API: 202 with the job, 400 naming the field, 409 naming the missing step, roles,
lists, downloads. Jobs are not run here (no worker): tests/gan/test_tasks_synthetic.py runs them."""

import io

import pandas as pd
import pytest

from gan.models import Job, SynthesizerModel
from gan.services.synthetic import seed_create


def _url(machine, step: str) -> str:
    return f"/api/v1/machines/{machine.machine_id}/{step}/"


def test_starting_a_step_answers_202_with_the_job_and_its_socket(operator_api, motor):
    response = operator_api.post(_url(motor, "seed"), {"rows": 2_000, "seed": 3}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.data["job"])
    assert response.data == {
        "job": job.pk,
        "status": "PENDING",
        "kind": "seed",
        "ws_url": f"/ws/jobs/{job.pk}/",
        "url": f"/api/v1/jobs/{job.pk}/",
    }
    assert (job.machine, job.params, job.task_name) == (
        motor,
        {"rows": 2_000, "seed": 3},
        "gan.tasks.generate_seed",
    )


def test_a_step_left_without_parameters_takes_the_spec_defaults(operator_api, motor):
    seed_create(machine=motor, rows=1_000)
    response = operator_api.post(_url(motor, "train"), {}, format="json")
    assert response.status_code == 202
    params = Job.objects.get(pk=response.data["job"]).params
    assert (params["epochs"], params["batch_size"], params["variant"]) == (300, 500, "residual")


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("seed", {"rows": 999}, "rows"),
        ("seed", {"rows": 100_001}, "rows"),
        ("seed", {"rows": "lots"}, "rows"),
        ("seed", {"seed": -1}, "seed"),
        ("train", {"epochs": 1_001}, "epochs"),
        ("train", {"batch_size": 99}, "batch_size"),
        ("train", {"batch_size": 2_001}, "batch_size"),
        ("train", {"variant": "ctgan"}, "variant"),
        ("generate", {"train_rows": 999}, "train_rows"),
        ("generate", {"train_rows": 2_000, "val_rows": 1_001}, "val_rows"),
        ("generate", {"test_rows": 20_001, "train_rows": 100_000}, "test_rows"),
        ("generate", {"val_rows": 99}, "val_rows"),
        ("validate", {"split": "holdout"}, "split"),
    ],
)
def test_parameters_outside_the_spec_answer_400_naming_the_field(operator_api, motor, step, body, field):
    response = operator_api.post(_url(motor, step), body, format="json")
    assert response.status_code == 400, response.data
    assert list(response.data["errors"]) == [field]
    assert response.data["detail"].startswith(f"Invalid input: {field}: ")
    assert not Job.objects.exists()


def test_epochs_below_the_spec_minimum_answer_400(operator_api, motor, settings):
    settings.GAN_MIN_EPOCHS = 50
    response = operator_api.post(_url(motor, "train"), {"epochs": 49}, format="json")
    assert response.status_code == 400
    assert response.data["errors"] == {"epochs": ["must be between 50 and 1,000, got 49"]}


@pytest.mark.parametrize(
    ("step", "first"),
    [
        ("train", "Generate seed data"),
        ("generate", "Train a synthesizer"),
        ("validate", "Generate synthetic data"),
    ],
)
def test_a_missing_earlier_step_answers_409_saying_which_comes_first(operator_api, motor, step, first):
    response = operator_api.post(_url(motor, step), {}, format="json")
    assert response.status_code == 409
    assert response.data["detail"].startswith(f"{first} for {motor.machine_id} first")
    assert not Job.objects.exists()


def test_the_same_step_twice_at_once_answers_409(operator_api, motor):
    assert operator_api.post(_url(motor, "seed"), {}, format="json").status_code == 202
    response = operator_api.post(_url(motor, "seed"), {}, format="json")
    assert response.status_code == 409
    assert "already pending" in response.data["detail"]


def test_unknown_machine_answers_404(operator_api, db):
    assert operator_api.post("/api/v1/machines/no_such_machine/seed/", {}, format="json").status_code == 404


def test_viewers_read_but_do_not_start_and_anonymous_users_get_401(api, viewer, motor):
    assert api.post(_url(motor, "seed"), {}, format="json").status_code == 401
    api.as_user(viewer)
    assert api.post(_url(motor, "seed"), {}, format="json").status_code == 403
    assert api.post("/api/v1/batches/", {"operation": "validate"}, format="json").status_code == 403
    for path in ("/api/v1/seeds/", "/api/v1/synthesizers/", "/api/v1/datasets/", "/api/v1/quality-reports/"):
        assert api.get(path).status_code == 200, path
    assert api.get(_url(motor, "status")).status_code == 200


def test_status_lists_the_steps_of_a_new_machine(api, viewer, motor):
    body = api.as_user(viewer).get(_url(motor, "status")).data
    assert [(step["key"], step["state"]) for step in body["steps"]] == [
        ("profile", "done"),
        ("seed", "todo"),
        ("train", "todo"),
        ("generate", "todo"),
        ("validate", "todo"),
    ]
    assert (body["next_step"], body["complete"], body["seed"]) == ("seed", False, None)


def test_records_are_listed_per_machine_and_splits_download_as_parquet(api, viewer, validated, make_motor):
    make_motor("motor_gan_002")
    api.as_user(viewer)
    datasets = api.get("/api/v1/datasets/", {"machine": validated.machine_id}).data["results"]
    assert len(datasets) == 1
    assert set(datasets[0]["splits"]) == {"train", "val", "test"}
    assert "path" not in datasets[0]["splits"]["train"]  # storage paths stay on the server
    assert api.get("/api/v1/datasets/", {"machine": "motor_gan_002"}).data["count"] == 0

    response = api.get(datasets[0]["splits"]["val"]["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert f"{validated.machine_id}_val_" in response["Content-Disposition"]
    frame = pd.read_parquet(io.BytesIO(b"".join(response.streaming_content)))
    assert len(frame) == 100 and frame["machine_id"].eq(validated.machine_id).all()
    assert api.get(f"/api/v1/datasets/{datasets[0]['id']}/download/", {"split": "holdout"}).status_code == 404

    seeds = api.get("/api/v1/seeds/", {"machine": validated.machine_id}).data["results"]
    seed_file = b"".join(api.get(seeds[0]["download_url"]).streaming_content)
    assert len(pd.read_parquet(io.BytesIO(seed_file))) == seeds[0]["rows"] == 1_000

    reports = api.get("/api/v1/quality-reports/", {"machine": validated.machine_id}).data["results"]
    assert len(reports) == 1 and reports[0]["dataset"] == datasets[0]["id"]
    assert {sensor["name"] for sensor in reports[0]["sensors"]} == {s.name for s in validated.sensors.all()}


def test_only_admins_activate_a_synthesizer_version(api, operator, admin_user, with_model):
    model = SynthesizerModel.objects.get(machine=with_model)
    model.is_active = False
    model.save()
    url = f"/api/v1/synthesizers/{model.pk}/activate/"
    assert api.as_user(operator).post(url).status_code == 403
    response = api.as_user(admin_user).post(url)
    assert response.status_code == 200 and response.data["is_active"] is True
    listed = api.get("/api/v1/synthesizers/", {"machine": with_model.machine_id, "is_active": True}).data
    assert [item["version"] for item in listed["results"]] == [1]


def test_batch_start_answers_202_and_names_unknown_machines(operator_api, with_model):
    response = operator_api.post("/api/v1/batches/", {"operation": "validate"}, format="json")
    assert response.status_code == 409  # no synthetic data anywhere yet
    response = operator_api.post(
        "/api/v1/batches/",
        {
            "operation": "generate",
            "machines": [with_model.machine_id],
            "train_rows": 1_000,
            "val_rows": 100,
            "test_rows": 100,
        },
        format="json",
    )
    assert response.status_code == 202
    batch = Job.objects.get(pk=response.data["job"])
    assert (batch.kind, batch.children.get().kind) == ("batch", "generate")
    response = operator_api.post(
        "/api/v1/batches/", {"operation": "generate", "machines": ["nope"]}, format="json"
    )
    assert response.status_code == 400 and list(response.data["errors"]) == ["machines"]
    response = operator_api.post("/api/v1/batches/", {"operation": "explode"}, format="json")
    assert response.status_code == 400 and list(response.data["errors"]) == ["operation"]


def test_the_schema_documents_the_synthetic_data_endpoints(api, viewer):
    schema = api.as_user(viewer).get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/machines/{machine_id}/train/",
        "/api/v1/datasets/{id}/download/",
        "/api/v1/batches/",
    ):
        assert path in schema["paths"], path
    train = schema["paths"]["/api/v1/machines/{machine_id}/train/"]["post"]
    assert {"202", "400", "409"} <= set(train["responses"])
