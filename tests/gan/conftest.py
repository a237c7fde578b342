"""Fixtures for the synthetic-data tests: a motor machine, one short real TVAE fit shared by the session,
and a machine whose workflow has run (seed → model → synthetic → validated) in this process."""

import time

import pytest

from gan.models import Job
from gan.services.jobs import job_execute
from gan.services.synthetic import (
    _synthesizer_store,
    generate_run,
    generate_start,
    seed_create,
    train_start,
    validate_run,
    validate_start,
)
from machines.selectors import fleet_document
from machines.services import category_create, machine_create

SEED_ROWS = 1_000
RANDOM_SEED = 11
SPLIT_ROWS = {"train_rows": 1_000, "val_rows": 100, "test_rows": 100}


@pytest.fixture(autouse=True)
def _small_and_single_threaded(settings):
    """One thread for torch and the quality models (the host is shared); short fits allowed."""
    settings.GAN_TORCH_THREADS = 1
    settings.GAN_QUALITY_THREADS = 1
    settings.GAN_MIN_EPOCHS = 1


@pytest.fixture
def make_motor(db, operator):
    """make_motor(machine_id) → a motor of the demo fleet's motor category (created once)."""

    def make(machine_id: str = "motor_gan_001"):
        from machines.models import MachineCategory

        if not MachineCategory.objects.filter(name="motor").exists():
            category_create(data={"name": "motor", **fleet_document()["categories"]["motor"]}, user=None)
        return machine_create(profile={"machine_id": machine_id, "machine_type": "motor"}, user=operator)

    return make


@pytest.fixture
def motor(make_motor):
    return make_motor()


@pytest.fixture(scope="session")
def trained_synthesizer():
    """A real residual TVAE fit (3 epochs) on the motor seed rows that `seed_create(rows=1000, seed=11)`
    makes, trained once per session through the core."""
    from gan.synth.profile import category_profile
    from gan.synth.seed import generate_seed, split_holdout
    from gan.synth.train import train

    fit_rows, _ = split_holdout(generate_seed(category_profile("motor"), SEED_ROWS, random_seed=RANDOM_SEED))
    return train(fit_rows, epochs=3, batch_size=100, random_seed=0, torch_threads=1)


def run_inline(job: Job, work) -> Job:
    """The job's work through the real job path (job_execute), in this process instead of a worker."""
    finished = job_execute(job_id=job.pk, work=work)
    assert finished is not None and finished.status == Job.Status.SUCCESS, finished and finished.error
    return finished


@pytest.fixture
def with_model(motor, operator, trained_synthesizer):
    """The motor with seed data and an active synthesizer (the session's fit, stored as version 1)."""
    seed = seed_create(machine=motor, rows=SEED_ROWS, seed=RANDOM_SEED, user=operator)
    job = train_start(machine=motor, epochs=3, batch_size=100, user=operator)
    run_inline(job, lambda job, reporter: {"synthesizer": _store(job, seed, trained_synthesizer)})
    return motor


def _store(job, seed, synthesizer) -> int:
    return _synthesizer_store(job=job, seed=seed, synthesizer=synthesizer).pk


@pytest.fixture
def with_synthetic(with_model, operator):
    """… and synthetic train/val/test splits (1,000 / 100 / 100 rows)."""
    run_inline(generate_start(machine=with_model, user=operator, **SPLIT_ROWS), generate_run)
    return with_model


@pytest.fixture
def validated(with_synthetic, operator):
    """… and a quality report."""
    run_inline(validate_start(machine=with_synthetic, user=operator), validate_run)
    return with_synthetic


@pytest.fixture
def wait_job():
    """wait_job(job, timeout) → the job once it finished (refreshed), or an assertion error."""

    def wait(job: Job, timeout: float = 60) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_finished:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job.pk} still {job.status} after {timeout} s: {job.message}")

    return wait
