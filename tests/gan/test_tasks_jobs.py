"""The one long-job path, end to end through a real Celery worker and broker."""

import time

import pytest
from celery import shared_task

from gan.models import Job
from gan.services.jobs import job_cancel, job_execute, job_retry, job_start, jobs_sweep_stale
from gan.signals import job_finished


def _count_to(job, reporter):
    steps = job.params["steps"]
    reporter.update(total=steps, stage="counting")
    for step in range(1, steps + 1):
        reporter.check_cancelled()
        if job.params.get("fail_at") == step:
            raise ValueError(f"step {step} is broken")
        time.sleep(job.params.get("sleep", 0))
        reporter.update(current=step, epoch=step, loss=1.0 / step)
    return {"counted": steps}


@shared_task(name="tests.count_to")
def count_to(job_id):
    job_execute(job_id=job_id, work=_count_to)


def wait_finished(job, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.pk} still {job.status} after {timeout} s")


def start(user, **params):
    return job_start(kind=Job.Kind.MAINTENANCE, task_name="tests.count_to", user=user, params=params)


def test_job_runs_to_success_with_progress_and_losses(celery_worker, operator):
    finished = []
    job_finished.connect(lambda **kw: finished.append(kw), weak=False, dispatch_uid="test-finished")
    try:
        job = wait_finished(start(operator, steps=5))
        deadline = time.monotonic() + 5
        while not finished and time.monotonic() < deadline:  # the event follows the status change
            time.sleep(0.02)
    finally:
        job_finished.disconnect(dispatch_uid="test-finished")
    assert job.status == Job.Status.SUCCESS
    assert job.result == {"counted": 5}
    assert (job.current, job.total, job.progress) == (5, 5, 100.0)
    assert [epoch for epoch, _ in job.loss_history] == [1, 2, 3, 4, 5]
    assert job.started_at <= job.finished_at
    assert finished == [
        {"signal": job_finished, "sender": Job, "job_id": job.pk, "kind": "maintenance", "status": "SUCCESS"}
    ]


def test_failing_work_leaves_failure_with_the_reason(celery_worker, operator):
    job = wait_finished(start(operator, steps=5, fail_at=3))
    assert job.status == Job.Status.FAILURE
    assert job.error == "ValueError: step 3 is broken"
    assert job.current == 2


def test_cancel_stops_a_running_job_at_its_next_step(celery_worker, operator):
    job = start(operator, steps=200, sleep=0.05)
    deadline = time.monotonic() + 10
    while job.current < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
    job_cancel(job=job)
    job = wait_finished(job)
    assert job.status == Job.Status.CANCELLED
    assert 3 <= job.current < 200


def test_a_task_never_runs_a_job_that_is_not_pending(transactional_db, operator):
    job = start(operator, steps=2)
    job_execute(job_id=job.pk, work=_count_to)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCESS
    runs = []
    assert job_execute(job_id=job.pk, work=lambda job, reporter: runs.append(1)) is None
    assert runs == []


def test_cancel_a_pending_job_and_retry_it(transactional_db, operator):
    job = start(operator, steps=2)
    job_cancel(job=job)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    retry = job_retry(job=job, user=operator)
    assert (retry.kind, retry.params, retry.status) == (job.kind, job.params, Job.Status.PENDING)


def test_sweeper_fails_jobs_whose_heartbeat_went_stale(db, operator, settings):
    settings.JOB_STALE_AFTER_SECONDS = 1
    job = start(operator, steps=2)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=job.created_at)
    time.sleep(1.1)
    assert jobs_sweep_stale() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.FAILURE
    assert job.error.startswith("worker lost")


@pytest.mark.parametrize("status", [Job.Status.RUNNING, Job.Status.SUCCESS])
def test_only_failed_or_cancelled_jobs_can_be_retried(db, operator, status):
    from gan.services.jobs import JobStateError

    job = start(operator, steps=1)
    Job.objects.filter(pk=job.pk).update(status=status)
    job.refresh_from_db()
    with pytest.raises(JobStateError):
        job_retry(job=job, user=operator)
