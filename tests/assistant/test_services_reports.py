"""PDF reports made in this process through the job path: what a machine and a fleet report contain."""

import io

from django.core.files.storage import default_storage
from pypdf import PdfReader

from assistant.models import Explanation, Report
from assistant.services.explanations import explanation_request
from assistant.services.reports import report_request, report_run
from gan.models import Job
from gan.services.jobs import job_execute
from machines.services import machine_delete


def make(report: Report) -> tuple[Job, str, int]:
    job = job_execute(job_id=report.job_id, work=report_run)
    report.refresh_from_db()
    with report.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return job, "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_a_machine_report_has_its_health_charts_predictions_explanation_and_sources(
    operator, warning_motor, store_history
):
    machine, predictions = warning_motor
    store_history(machine)
    explanation = explanation_request(prediction=predictions["health"], user=operator).explanation
    report = report_request(machine=machine, user=operator)  # not queued: the test runs the work itself

    job, text, pages = make(report)

    assert job.status == Job.Status.SUCCESS, job.error
    assert job.result == {"report": report.pk, "pages": pages, "bytes": report.bytes}
    assert report.pages == pages >= 2 and report.bytes > 5_000
    flat = " ".join(text.split())
    for heading in (
        "Health summary",
        "Remaining useful life",
        "Sensors",
        "Latest predictions",
        "Explanation",
        "Recommendations",
        "Citations",
    ):
        assert heading in flat, heading
    assert machine.machine_id in flat and "Warning" in flat
    assert "Predicted RUL (hours)" in flat and "bearing_de_temp_C" in flat
    assert f"The assistant's rewrite ({explanation.model_name})" in flat and "Risk factors" in flat
    assert explanation.citations[0]["source"] in flat


def test_a_fleet_report_lists_every_machine_and_explains_those_needing_attention(
    operator, make_machine, store_refresh, sample_readings
):
    warning = make_machine("motor_assist_001")
    healthy = make_machine("motor_assist_002")
    store_refresh(warning, sample_readings["warning"], state=3, rul=40.0, anomaly=True)
    store_refresh(healthy, sample_readings["healthy"], state=0, rul=900.0, anomaly=False)
    report = report_request(machine=None, user=operator)

    job, text, _ = make(report)

    assert job.status == Job.Status.SUCCESS, job.error
    flat = " ".join(text.split())
    assert "Fleet report" in flat and "Machines per health state" in flat
    assert warning.machine_id in flat and healthy.machine_id in flat
    attention = flat[flat.index("Needing attention") :]
    assert f"{warning.machine_id} · Critical" in attention and healthy.machine_id not in attention
    assert "Stop the machine or reduce its load" in attention


def test_a_machine_without_predictions_still_gets_a_report(operator, make_machine):
    machine = make_machine("motor_assist_003")
    job, text, pages = make(report_request(machine=machine, user=operator))
    assert job.status == Job.Status.SUCCESS, job.error
    assert pages == 1 and "No predictions yet" in text and "No readings yet" in text


def test_model_text_cannot_inject_pdf_markup(operator, warning_motor):
    machine, predictions = warning_motor
    explanation = explanation_request(prediction=predictions["health"], user=operator).explanation
    Explanation.objects.filter(pk=explanation.pk).update(
        text='**Seal** <font size="80">& <img src=x> </para>'
    )

    job, text, _ = make(report_request(machine=machine, user=operator))

    assert job.status == Job.Status.SUCCESS, job.error
    assert '<font size="80">& <img src=x> </para>' in " ".join(text.split())


def test_a_deleted_machine_takes_its_report_files_along(
    operator, admin_user, make_machine, django_capture_on_commit_callbacks
):
    machine = make_machine("motor_assist_004")
    report = report_request(machine=machine, user=operator)
    make(report)
    stored = report.file.name
    assert default_storage.exists(stored)

    with django_capture_on_commit_callbacks(execute=True):
        machine_delete(machine=machine, user=admin_user)

    assert not default_storage.exists(stored) and not Report.objects.exists()
