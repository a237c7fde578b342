"""A report end to end through the real Celery worker: requested over the API, made as a Job, downloaded."""

import io
import time

from pypdf import PdfReader

from gan.models import Job

GOAL_SECONDS = 30


def wait_for(job_id: int, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s: {job.message}")


def test_a_machine_report_is_made_by_the_worker_and_downloads_as_a_valid_pdf(
    celery_worker, api, operator, viewer, warning_motor, store_history
):
    machine, _ = warning_motor
    store_history(machine)
    started_at = time.monotonic()

    started = api.as_user(operator).post("/api/v1/reports/", {"machine": machine.machine_id})
    job = wait_for(started.json()["job"])
    seconds = time.monotonic() - started_at

    assert job.status == Job.Status.SUCCESS, job.error
    assert job.kind == Job.Kind.REPORT and job.progress == 100
    assert seconds < GOAL_SECONDS
    download = api.as_user(viewer).get(started.json()["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert f'filename="{machine.machine_id}-report-' in download["Content-Disposition"]
    reader = PdfReader(io.BytesIO(b"".join(download.streaming_content)))
    assert len(reader.pages) == job.result["pages"] >= 2
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert machine.machine_id in text and "Recommendations" in text and "Citations" in text
