"""Faults: a worker killed mid-training, Redis restarted, a disk that fills up, a database that is not there.

Each test breaks one real part — a Celery worker process, a Redis server, a file write, the database address —
and checks what the product promises: the job is failed ("worker lost") within a bound, never run twice, and
can be retried; pages keep answering and progress comes back from the database; no half dataset is left; the
start stops with one clear line.
"""

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import pytest
import requests
import websockets
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from redis import Redis, RedisError

from gan.models import Job, SynthesizerModel, SyntheticDataset
from gan.services import files
from gan.services.jobs import job_execute, job_retry, jobs_sweep_stale
from gan.services.progress import ProgressReporter
from gan.services.synthetic import _synthesizer_store, generate_run, generate_start, seed_create, train_start
from machines.selectors import fleet_document
from machines.services import category_create, machine_create
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SEED_ROWS = 1_000
STALE_SECONDS = 3.0
HEARTBEAT_SECONDS = 0.5
# Long enough that the kill lands mid-training, short enough that the retry finishes in seconds.
EPOCHS = 40


# --- Helpers: processes, waiting, the environment of a server-mode process -----------------------------


def wait_for(predicate, timeout: float, what, interval: float = 0.05):
    """Poll predicate until it returns something true; `what` (text, or a callable giving it) says what
    was awaited when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what() if callable(what) else what}: not within {timeout:.0f} s")


def wait_finished(job: Job, timeout: float) -> Job:
    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout, lambda: f"job {job.pk} to finish (still {job.status}: {job.message})")
    return job


class Process:
    """A child process in its own process group, its output in a log file; kill() is SIGKILL to the group."""

    def __init__(self, args, env, log: Path):
        self.log = log
        with log.open("w") as out:
            self.popen = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


def database_url() -> str:
    """The test database, for processes started by the tests (they see what the tests commit)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def server_env(tmp_path: Path, *, redis_url: str | None = None, **extra: str) -> dict:
    """The environment of a server-mode process (pdm_site.settings) on the test database and media."""
    prefixes = ("DATABASE_", "REDIS_", "DJANGO_", "PDM_", "JOB_", "GAN_", "CELERY_", "CHANNELS_", "CACHE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    var_dir = tmp_path / f"var-{uuid4().hex[:6]}"
    var_dir.mkdir()
    env.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url or settings.REDIS_URL,
        CHANNELS_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        PDM_VAR_DIR=str(var_dir),
        PDM_MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PDM_EMBEDDED_WORKER="0",
        GAN_MIN_EPOCHS="1",
        GAN_TORCH_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


# A Celery worker of the product on one queue; a visibility timeout > 0 makes it hand messages that a dead
# worker had taken (unacknowledged for longer than that) back to the queue as it starts, as Redis does after
# the default hour.
WORKER = """
import os, sys
from pdm_site.celery import app
queue, visibility_timeout = sys.argv[1], float(sys.argv[2])
if visibility_timeout:
    app.conf.broker_transport_options = {"visibility_timeout": visibility_timeout}
app.worker_main(["worker", "-Q", queue, "-P", "threads", "-c", "2", "-l", "info", "--without-gossip",
                 "--without-mingle", "-n", f"faults-{os.getpid()}@%h"])
"""


def start_worker(env: dict, log: Path, queue: str = "celery", visibility_timeout: float = 0) -> Process:
    return Process([sys.executable, "-c", WORKER, queue, str(visibility_timeout)], env, log)


def make_motor(operator, machine_id: str = "motor_fault_001"):
    from machines.models import MachineCategory

    if not MachineCategory.objects.filter(name="motor").exists():
        category_create(data={"name": "motor", **fleet_document()["categories"]["motor"]}, user=None)
    return machine_create(profile={"machine_id": machine_id, "machine_type": "motor"}, user=operator)


@pytest.fixture
def training_queue(monkeypatch):
    """Training goes to a queue of its own, as CELERY_GPU_QUEUE routes it: only this test's workers take it
    (the suite's in-process worker serves the default queue of the same broker)."""
    from celery.app import routes

    from pdm_site.celery import app

    queue = f"faults-{uuid4().hex[:8]}"
    router = routes.Router(
        routes.prepare({"gan.tasks.train_synthesizer": {"queue": queue}}), app.amqp.queues, True, app=app
    )
    monkeypatch.setattr(app.amqp, "router", router)
    yield queue
    # Leave the shared broker clean: the queue, its bindings, and what the killed workers left unacknowledged.
    broker = Redis.from_url(settings.CELERY_BROKER_URL)
    for tag, entry in broker.hgetall("unacked").items():
        if json.loads(entry)[2] == queue:  # [message, exchange, routing key]
            broker.hdel("unacked", tag)
            broker.zrem("unacked_index", tag)
    broker.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def stored_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


# --- A worker killed mid-training ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_training_is_failed_by_the_sweeper_never_rerun_and_retried(
    transactional_db, operator, settings, training_queue, tmp_path
):
    settings.GAN_MIN_EPOCHS = 1
    settings.JOB_STALE_AFTER_SECONDS = STALE_SECONDS
    queue = training_queue
    env = server_env(tmp_path, JOB_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS))
    motor = make_motor(operator)
    seed_create(machine=motor, rows=SEED_ROWS, seed=11, user=operator)

    first = start_worker(env, tmp_path / "worker-1.log", queue)
    try:
        job = train_start(machine=motor, epochs=EPOCHS, batch_size=100, user=operator)
        swept_while_alive = []

        def training():
            swept_while_alive.append(jobs_sweep_stale())  # the beat task's sweep, while the worker lives
            job.refresh_from_db()
            assert not job.is_finished, f"{job.status}: {job.error}\n{first.output()[-3000:]}"
            return job.status == Job.Status.RUNNING and job.current >= 1

        wait_for(training, 120, lambda: f"training epochs of job {job.pk}\n{first.output()[-3000:]}", 0.1)
        # Torch and SDV loading and preparation took longer than the stale limit: the heartbeat held.
        assert (timezone.now() - job.started_at).total_seconds() > STALE_SECONDS
        assert sum(swept_while_alive) == 0
        first.kill()
        killed_at = time.monotonic()
    finally:
        first.kill()
    job.refresh_from_db()
    started_at, progress_at_kill = job.started_at, (job.current, len(job.loss_history))
    assert job.status == Job.Status.RUNNING and 1 <= job.current < EPOCHS

    # The sweeper, polled as beat runs it, marks the job FAILURE once its heartbeat is stale, and not before.
    wait_for(jobs_sweep_stale, STALE_SECONDS + 10, "the sweeper to fail the lost job", 0.1)
    lost_after = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.status == Job.Status.FAILURE
    assert job.error.startswith("worker lost"), job.error
    assert job.message == "Worker lost" and job.finished_at is not None
    assert STALE_SECONDS - HEARTBEAT_SECONDS - 0.5 <= lost_after <= STALE_SECONDS + HEARTBEAT_SECONDS + 1.5
    assert (job.current, len(job.loss_history)) == progress_at_kill
    assert not SynthesizerModel.objects.filter(machine=motor).exists()
    swept = {"error": job.error, "finished_at": job.finished_at}

    # Retry: a new worker completes the new job. As it starts it hands the dead worker's message back to
    # the queue and takes it again: the task refuses it (the job is not PENDING), so nothing runs twice.
    retry = job_retry(job=job, user=operator)
    assert (retry.kind, retry.params, retry.status) == (job.kind, job.params, Job.Status.PENDING)
    second = start_worker(env, tmp_path / "worker-2.log", queue, visibility_timeout=1)
    try:
        retry = wait_finished(retry, 120)
        assert retry.status == Job.Status.SUCCESS, f"{retry.error}\n{second.output()[-3000:]}"
        wait_for(
            lambda: f"Job {job.pk} is not pending; its task does nothing." in second.output(),
            20,
            lambda: f"the dead worker's message to be delivered again\n{second.output()[-3000:]}",
            0.1,
        )
    finally:
        second.kill()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILURE and job.started_at == started_at
    assert {"error": job.error, "finished_at": job.finished_at} == swept
    assert (job.current, len(job.loss_history)) == progress_at_kill
    assert retry.result["epochs_run"] == EPOCHS and retry.current == EPOCHS
    assert list(SynthesizerModel.objects.filter(machine=motor).values_list("job_id", "version")) == [
        (retry.pk, 1)
    ]


# --- Redis restarted -----------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server (the shared one on 6379 serves other tests): killed and started again."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder, self.process = port, folder, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> "RedisServer":
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.folder)]
        self.process = Process(args, os.environ.copy(), self.folder / f"redis-{time.monotonic_ns()}.log")

        def answers():
            try:
                return Redis.from_url(self.url, socket_timeout=1).ping()
            except RedisError:
                return False

        wait_for(answers, 10, lambda: f"redis-server on port {self.port}\n{self.process.output()}")
        return self

    def kill(self) -> None:
        self.process.kill()


def login(base: str, user) -> requests.Session:
    """A session of `user` on the server at base: made in the database, as the login form makes it."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(f"{base}/", timeout=10).raise_for_status()
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": base})
    return session


def start_daphne(env: dict, log: Path) -> tuple[Process, int]:
    port = free_port()
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pdm_site.asgi:application"]
    process = Process(args, env, log)
    base = f"http://127.0.0.1:{port}"

    def serving():
        assert process.alive(), process.output()[-3000:]
        try:
            return requests.get(f"{base}/api/v1/health/", timeout=5).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    wait_for(serving, 60, lambda: f"daphne to serve\n{process.output()[-3000:]}", 0.2)
    return process, port


@pytest.mark.slow
def test_redis_restarted_pages_keep_working_and_progress_recovers_from_the_database(
    transactional_db, operator, settings, tmp_path
):
    server = RedisServer(free_port(), tmp_path).start()
    # This process reports the job's progress as a worker does, through the same Redis as the server.
    layer = settings.CHANNEL_LAYERS["default"]
    host = {**layer["CONFIG"]["hosts"][0], "address": server.url}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [host]}}}
    env = server_env(tmp_path, redis_url=server.url)
    worker = start_worker(env, tmp_path / "worker.log")
    daphne, port = start_daphne(env, tmp_path / "daphne.log")
    base = f"http://127.0.0.1:{port}"
    try:
        motor = make_motor(operator)
        now = timezone.now()
        job = Job.objects.create(
            kind=Job.Kind.TRAIN,
            task_name="gan.tasks.train_synthesizer",
            machine=motor,
            requested_by=operator,
            status=Job.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            params={"epochs": 100},
        )
        reporter = ProgressReporter(job)
        reporter.update(total=100, stage="training", message="Training", force=True)
        for epoch in range(1, 41):
            reporter.update(current=epoch, epoch=epoch, loss=1.0 / epoch, force=True)

        session = login(base, operator)
        pages = ["/", f"/data/machines/{motor.machine_id}/workflow/", f"/machines/{motor.machine_id}/"]
        for page in pages:
            assert session.get(f"{base}{page}", timeout=10).status_code == 200, page
        assert session.get(f"{base}/api/v1/jobs/{job.pk}/", timeout=10).json()["current"] == 40

        server.kill()
        # Redis is down: the job's work goes on, its progress saved in the database (live messages dropped)…
        for epoch in range(41, 46):
            reporter.update(current=epoch, epoch=epoch, loss=1.0 / epoch, force=True)
        job.refresh_from_db()
        assert (job.current, len(job.loss_history)) == (45, 45)
        # …pages and the API answer at once, with that progress…
        for page in [*pages, f"/api/v1/jobs/{job.pk}/"]:
            response = session.get(f"{base}{page}", timeout=30)
            assert response.status_code == 200, (page, response.status_code, daphne.output()[-3000:])
            assert response.elapsed.total_seconds() < 5, (page, response.elapsed)
        assert session.get(f"{base}/api/v1/jobs/{job.pk}/", timeout=30).json()["current"] == 45
        workflow = session.get(f"{base}/data/machines/{motor.machine_id}/workflow/", timeout=30).text
        assert f'data-testid="job-{job.pk}"' in workflow and 'data-field="progress">45%<' in workflow
        # …and the health check reports the outage.
        health = session.get(f"{base}/api/v1/health/", timeout=30)
        assert health.status_code == 503 and not health.json()["checks"]["cache"]["ok"], health.text
        assert health.json()["checks"]["database"]["ok"], health.text

        server = RedisServer(server.port, tmp_path).start()  # empty: everything Redis held is gone
        # The API and the socket tell the progress from the database…
        body = session.get(f"{base}/api/v1/jobs/{job.pk}/", timeout=30).json()
        assert (body["status"], body["current"], body["progress"], len(body["loss_history"])) == (
            "RUNNING",
            45,
            45.0,
            45,
        )

        async def follow():
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/jobs/{job.pk}/",
                origin=base,
                additional_headers={"Cookie": f"sessionid={session.cookies['sessionid']}"},
            ) as socket:
                connected = json.loads(await asyncio.wait_for(socket.recv(), 10))
                # …and the live path works again: the next epoch reaches the socket.
                await asyncio.to_thread(reporter.update, current=46, epoch=46, loss=1 / 46, force=True)
                return connected, json.loads(await asyncio.wait_for(socket.recv(), 10))

        connected, progress = asyncio.run(follow())
        assert connected["type"] == "connected" and connected["current"] == 45
        assert [epoch for epoch, _ in connected["loss_history"]] == list(range(1, 46))
        assert (progress["type"], progress["current"], progress["epoch"]) == ("progress", 46, 46)

        # The web process and the worker found the new Redis: a job started now runs to the end.
        started = session.post(f"{base}/api/v1/machines/{motor.machine_id}/seed/", json={"rows": SEED_ROWS})
        assert started.status_code == 202, started.text
        seed_job = wait_finished(Job.objects.get(pk=started.json()["job"]), 60)
        assert seed_job.status == Job.Status.SUCCESS, (seed_job.error, worker.output()[-3000:])
    finally:
        daphne.kill()
        worker.kill()
        server.kill()


# --- A disk write that fails -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_synthesizer():
    """A real TVAE fit (3 epochs) on the motor seed rows that seed_create(rows=1000, seed=11) makes."""
    from gan.synth.profile import category_profile
    from gan.synth.seed import generate_seed, split_holdout
    from gan.synth.train import train

    fit_rows, _ = split_holdout(generate_seed(category_profile("motor"), SEED_ROWS, random_seed=11))
    return train(fit_rows, epochs=3, batch_size=100, random_seed=0, torch_threads=1)


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fail_writing_the_val_split_of_the_sample(monkeypatch) -> None:
    """The parquet writer fills the disk half-way through the second split (val) of the sampled rows."""
    import pyarrow.parquet as pq

    write_table = pq.write_table

    def failing(table, where, *args, **kwargs):
        if Path(str(where)).name.startswith(".val.parquet."):  # the atomic writer's temporary file
            Path(where).write_bytes(b"PAR1" + bytes(512))
            raise disk_full()
        return write_table(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", failing)


def fail_storing_the_val_split(monkeypatch) -> None:
    """The store's disk fills up half-way through the second split's file: its first half is on disk."""

    class HalfWritten(files.File):
        def chunks(self, chunk_size=None):
            if self.name != "val.parquet":
                yield from super().chunks(chunk_size)
                return
            data = self.read()
            yield data[: len(data) // 2]
            raise disk_full()

    monkeypatch.setattr(files, "File", HalfWritten)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fail", [fail_writing_the_val_split_of_the_sample, fail_storing_the_val_split], ids=["sample", "store"]
)
def test_a_failed_disk_write_leaves_no_half_dataset(
    db, operator, settings, monkeypatch, tmp_path, trained_synthesizer, fail
):
    settings.GAN_TORCH_THREADS = 1
    motor = make_motor(operator)
    seed = seed_create(machine=motor, rows=SEED_ROWS, seed=11, user=operator)
    training = train_start(machine=motor, epochs=50, batch_size=100, user=operator)
    job_execute(
        job_id=training.pk,
        work=lambda job, reporter: {
            "synthesizer": _synthesizer_store(job=job, seed=seed, synthesizer=trained_synthesizer).pk
        },
    )
    before = stored_files()
    assert len(before) == 2  # the seed rows and the model
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work_dir))
    fail(monkeypatch)

    job = generate_start(machine=motor, user=operator, train_rows=1_000, val_rows=100, test_rows=100)
    job = job_execute(job_id=job.pk, work=generate_run)

    assert job.status == Job.Status.FAILURE
    assert job.error == f"OSError: [Errno {errno.ENOSPC}] No space left on device", job.error
    assert not SyntheticDataset.objects.exists()
    assert stored_files() == before  # the train split stored first is gone too, and no half val split
    assert list(work_dir.iterdir()) == []  # nor anything in the sampling's working folder


# --- The database unreachable at start -------------------------------------------------------------------


# Three Django start-ups side by side took up to 30 s on a busy 2-core host; a start that waits on the
# database (retries, a long connect timeout) or serves without it runs into this.
START_LIMIT_SECONDS = 60


@pytest.mark.slow
def test_an_unreachable_database_at_start_stops_with_one_clear_line(tmp_path):
    env = server_env(tmp_path)
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/pdm"  # nothing listens on port 1
    daphne = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(free_port()), "pdm_site.asgi:application"]
    starts = {
        "check": ["manage.py", "check", "--database", "default"],
        "migrate": ["manage.py", "migrate", "--noinput"],
        "daphne": daphne,
    }
    deadline = time.monotonic() + START_LIMIT_SECONDS
    processes = {
        name: subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in starts.items()
    }
    outputs = {}
    try:
        for name, process in processes.items():
            try:
                outputs[name] = process.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
            except subprocess.TimeoutExpired:
                process.kill()
                output = process.communicate()[0][-2000:]
                raise AssertionError(f"{name} still runs, with no database: {output}") from None
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
    for name, process in processes.items():
        output = outputs[name]
        assert process.returncode != 0, (name, output[-2000:])
        assert "Traceback" not in output, (name, output[-3000:])
        naming = [line for line in output.splitlines() if "127.0.0.1:1" in line]
        assert len(naming) == 1, (name, output)
        assert "DATABASE_URL" in naming[0] and "Connection refused" in naming[0], naming[0]
        assert len([line for line in output.splitlines() if line.strip()]) <= 4, (name, output)
