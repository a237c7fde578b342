"""Pages: the workflow panel on the machine page, the data explorer, batch operations — for each role."""

import csv
import io

import pytest
from django.test import Client

from gan.models import Job, SynthesizerModel
from gan.selectors import machine_latest_synthetic


@pytest.fixture
def browser_as():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def test_a_new_machine_page_continues_with_the_seed_step_for_operators(browser_as, operator, motor):
    page = browser_as(operator).get(f"/machines/{motor.machine_id}/").content.decode()
    assert 'data-testid="workflow"' in page and 'data-next-step="seed"' in page
    assert 'data-step="profile" data-state="done"' in page
    assert 'data-step="seed" data-state="todo"' in page
    assert '<details data-step-form="seed" open>' in page
    assert 'data-testid="start-train" disabled' in page  # no seed data yet


def test_viewers_see_the_workflow_without_forms_and_cannot_start_steps(browser_as, viewer, motor):
    client = browser_as(viewer)
    page = client.get(f"/machines/{motor.machine_id}/").content.decode()
    assert 'data-testid="workflow"' in page and "data-step-form" not in page
    assert client.post(f"/data/machines/{motor.machine_id}/seed/", {"rows": 1000}).status_code == 403
    assert not Job.objects.exists()


def test_starting_a_step_from_the_panel_returns_the_panel_with_the_live_job(browser_as, operator, motor):
    client = browser_as(operator)
    response = client.post(
        f"/data/machines/{motor.machine_id}/seed/", {"rows": "1000"}, HTTP_HX_REQUEST="true"
    )
    job = Job.objects.get(kind="seed")
    page = response.content.decode()
    assert f'data-job-id="{job.pk}"' in page and "data-refresh-on-finish" in page
    assert 'data-step="seed" data-state="running"' in page

    response = client.post(
        f"/data/machines/{motor.machine_id}/train/", {"epochs": "5000"}, HTTP_HX_REQUEST="true"
    )
    assert 'data-testid="workflow-errors"' in response.content.decode()
    assert "<code>epochs</code>: must be between" in response.content.decode()

    response = client.post(f"/data/machines/{motor.machine_id}/generate/", {})
    assert response.status_code == 302 and response["Location"].endswith("#workflow")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        f"step: Train a synthesizer for {motor.machine_id} first: synthetic data is sampled from it."
    ]


def test_a_validated_machine_shows_score_verdict_sensor_table_and_versions(browser_as, viewer, validated):
    page = browser_as(viewer).get(f"/machines/{validated.machine_id}/").content.decode()
    report = machine_latest_synthetic(validated).quality_reports.get()
    assert 'data-testid="quality"' in page and f">{report.verdict}<" in page
    assert f"{report.overall:.3f}" in page
    for sensor in validated.sensors.all():
        assert f"<code>{sensor.name}</code>" in page
    assert 'id="quality-data"' in page and "data-quality-chart" in page
    assert 'data-testid="synthesizer-versions"' in page
    assert "Activate</button>" not in page  # viewers activate nothing


def test_admins_activate_an_older_version_from_the_page(browser_as, admin_user, operator, with_model):
    model = SynthesizerModel.objects.get(machine=with_model)
    SynthesizerModel.objects.filter(pk=model.pk).update(is_active=False)
    assert browser_as(operator).post(f"/data/synthesizers/{model.pk}/activate/").status_code == 403
    response = browser_as(admin_user).post(f"/data/synthesizers/{model.pk}/activate/")
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.is_active


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_explorer_shows_a_page_of_rows_statistics_and_charts(browser_as, users, validated, role):
    client = browser_as(users[role])
    page = client.get(
        "/data/explorer/", {"machine": validated.machine_id, "source": "train"}
    ).content.decode()
    assert page.count("<tr>") >= 50 and "Rows 1–50 of 1000" in page
    assert 'data-testid="explorer-stats"' in page and 'data-testid="explorer-heatmap"' in page
    assert 'id="explorer-data"' in page and "seed vs train" in page

    part = client.get(
        "/data/explorer/",
        {"machine": validated.machine_id, "source": "train", "page": 20, "part": "table"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Rows 951–1000 of 1000" in part and "<html" not in part


def test_explorer_without_data_points_at_the_machine_page(browser_as, viewer, motor):
    page = browser_as(viewer).get("/data/explorer/", {"machine": motor.machine_id}).content.decode()
    assert 'data-testid="explorer-empty"' in page and f"/machines/{motor.machine_id}/#workflow" in page


def test_explorer_exports_the_whole_split_as_streamed_csv(browser_as, viewer, validated):
    response = browser_as(viewer).get(
        "/data/explorer/export.csv", {"machine": validated.machine_id, "source": "test"}
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["timestamp", "machine_id", "rul"]
    assert len(rows) == 1 + 100
    assert browser_as(viewer).get("/data/explorer/export.csv", {"machine": "nope"}).status_code == 404


def test_batch_page_lists_machines_for_viewers_and_operators_start_batches(
    browser_as, viewer, operator, with_synthetic
):
    page = browser_as(viewer).get("/data/batch/").content.decode()
    assert f'data-machine-id="{with_synthetic.machine_id}"' in page
    assert 'data-testid="batch-validate"' not in page
    assert browser_as(viewer).post("/data/batch/", {"operation": "validate"}).status_code == 403

    client = browser_as(operator)
    response = client.post("/data/batch/", {"operation": "validate", "machines": [with_synthetic.machine_id]})
    batch = Job.objects.get(kind=Job.Kind.BATCH)
    assert response.status_code == 302 and response["Location"] == f"/data/batch/?job={batch.pk}"
    page = client.get(response["Location"]).content.decode()
    child = batch.children.get()
    assert 'data-testid="batch-status"' in page
    assert f'data-job-id="{batch.pk}"' in page and f'data-job-id="{child.pk}"' in page

    response = client.post("/data/batch/", {"operation": "generate"})
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["machines: select at least one machine to generate for"]
