"""Progress latency: Celery worker → Redis → daphne → WebSocket client, in server mode.

    .venv/bin/python bench/progress_latency.py [--epochs 120] [--port 0]

Starts a real daphne process (server mode: PostgreSQL database pdm_bench, Redis database 12) and a real
`celery -A pdm_site worker` process, logs in through the login form, starts a training job over the API
and follows /ws/jobs/<id>/ with the `websockets` library. Each progress message carries the moment the
worker built it right before broadcasting (its `timestamp`); the latency is the client's receive time minus
that, both on this host's clock. The client joins once the job reports the `training` stage, then hears
one message per epoch (the product's default rate limit of ~10/s applies).
Goal: median < 10 ms over ≥ 50 messages. The last line of stdout is one JSON object.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_MEDIAN_MS = 10.0
MIN_MESSAGES = 50
BENCH_DATABASE = "pdm_bench"
REDIS_URL = "redis://127.0.0.1:6379/12"
CACHE_REDIS_URL = "redis://127.0.0.1:6379/13"  # settings put the cache on the next database
USERNAME, PASSWORD = "bench_operator", "bench-operator-password-8c1f"
MACHINE_ID = "motor_bench_latency_001"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(var_dir: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
        REDIS_URL=REDIS_URL,
        CHANNELS_PREFIX="pdm-bench",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        PDM_VAR_DIR=str(var_dir),
        PDM_MEDIA_ROOT=str(var_dir / "media"),  # the web process and the worker share this disk
        PDM_EMBEDDED_WORKER="0",
        GAN_TORCH_THREADS="1",
        OMP_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        # The client polls the job until training starts; the API's rate limits are not what is measured.
        API_THROTTLE_USER="100000/min",
        API_THROTTLE_COSTLY="100000/min",
    )
    return env


def prepare(env: dict, rows: int) -> None:
    """The database, a user, a machine with seed data — in this process, with the servers' settings."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    os.environ.update(env)
    import django
    import redis

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.roles import Role
    from accounts.services import user_create_with_role
    from gan.services.synthetic import seed_create
    from machines.models import Machine, MachineCategory
    from machines.selectors import fleet_document
    from machines.services import category_create, machine_create

    call_command("migrate", verbosity=0)
    # A clean start: no task queued and no job left by an earlier run (the bench owns these Redis databases).
    for url in (REDIS_URL, CACHE_REDIS_URL):
        redis.Redis.from_url(url).flushdb()
    Machine.objects.filter(machine_id=MACHINE_ID).delete()
    if not get_user_model().objects.filter(username=USERNAME).exists():
        user_create_with_role(username=USERNAME, password=PASSWORD, role=Role.OPERATOR)
    if not MachineCategory.objects.filter(name="motor").exists():
        category_create(data={"name": "motor", **fleet_document()["categories"]["motor"]}, user=None)
    machine = Machine.objects.filter(machine_id=MACHINE_ID).first()
    machine = machine or machine_create(
        profile={"machine_id": MACHINE_ID, "machine_type": "motor"}, user=None
    )
    seed_create(machine=machine, rows=rows, seed=0)


def start(command: list[str], env: dict, log_file: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file.open("w"), stderr=subprocess.STDOUT)


def wait_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def login(base: str):
    import requests

    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={"username": USERNAME, "password": PASSWORD},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": base})
    return session


def wait_for_training(session, base: str, job_id: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = session.get(f"{base}/api/v1/jobs/{job_id}/", timeout=10)
        response.raise_for_status()
        job = response.json()
        if job["stage"] == "training" or job["status"] not in ("PENDING", "RUNNING"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"job {job_id} did not reach training in {timeout} s")


def latencies(ws_url: str, origin: str, cookie: str) -> tuple[list[float], dict]:
    import websockets

    async def follow():
        received, last = [], {}
        async with websockets.connect(
            ws_url, origin=origin, additional_headers={"Cookie": cookie}
        ) as socket_:
            while True:
                raw = await asyncio.wait_for(socket_.recv(), 120)
                arrived = time.time()
                message = json.loads(raw)
                if message["type"] == "progress":
                    sent = datetime.fromisoformat(message["timestamp"]).timestamp()
                    received.append(1000.0 * (arrived - sent))
                last = message
                if message["type"] == "closing":
                    return received, last

    return asyncio.run(follow())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--rows", type=int, default=10_000, help="seed rows the job trains on")
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="pdm-latency-"))
    env = server_env(var_dir)
    prepare(env, args.rows)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    python = sys.executable
    daphne = start(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pdm_site.asgi:application"],
        env,
        var_dir / "daphne.log",
    )
    worker = start(
        [
            python,
            "-m",
            "celery",
            "-A",
            "pdm_site",
            "worker",
            "-c",
            "2",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        var_dir / "worker.log",
    )
    try:
        wait_up(f"{base}/api/v1/health/", daphne)
        session = login(base)
        started = session.post(
            f"{base}/api/v1/machines/{MACHINE_ID}/train/",
            json={"epochs": args.epochs, "batch_size": 500, "variant": "plain"},
            timeout=10,
        )
        started.raise_for_status()
        job = started.json()
        log(f"job {job['job']} started; waiting for its training stage")
        wait_for_training(session, base, job["job"])
        values, last = latencies(
            f"ws://127.0.0.1:{port}{job['ws_url']}", base, f"sessionid={session.cookies['sessionid']}"
        )
    finally:
        for process in (worker, daphne):
            process.terminate()
        for process in (worker, daphne):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    if len(values) < MIN_MESSAGES:
        log((var_dir / "worker.log").read_text()[-3000:])
        raise SystemExit(f"only {len(values)} progress messages arrived (job ended {last.get('status')})")
    ordered = sorted(values)
    median = statistics.median(values)
    print_result(
        {
            "messages": len(values),
            "job_status": last["status"],
            "epochs": args.epochs,
            "median_ms": median,
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
            "min_ms": ordered[0],
            "max_ms": ordered[-1],
            "mean_ms": statistics.fmean(values),
            "path": "celery worker (prefork) → channels-redis → daphne → websockets client",
            "goal_median_ms": GOAL_MEDIAN_MS,
            "goal_met": median < GOAL_MEDIAN_MS and len(values) >= MIN_MESSAGES,
        }
    )


if __name__ == "__main__":
    main()
