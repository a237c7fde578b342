"""Prediction serving through the product's services and its HTTP API, on the whole demo fleet.

    .venv/bin/python bench/predict.py [--repeats 200] [--clients 20] [--requests 25] [--port 0]

Server mode on this host: a PostgreSQL database of its own (pdm_bench_predict, recreated each run) and Redis
databases 14 (broker, channel layer) and 15 (cache). The demo fleet is loaded and bootstrapped as
`make demo` does (seed data for 32 machines, one training job for the 11 categories, run here in-process
through the job path and timed), then 30 readings per machine are replayed from the held-out seed cycles.
- single: `prediction_request(kind, machine, "latest")` in-process, per kind: window read, cached model,
  prediction, logged row, the after-commit event (goal: median < 10 ms). Also measured with the event's
  subscribers (the alerts app) disconnected, to tell the two apart.
- fleet: `predictions_batch` over the 32 machines x 4 kinds (goal < 100 ms), with and without subscribers.
- http: POST /api/v1/predictions/ from 20 concurrent clients (threads, keep-alive sessions, a token)
  against a real daphne process in server mode on 127.0.0.1; p50/p95/p99 and throughput. The user throttle
  is raised for the run (API_THROTTLE_USER); SPEC §7 asks < 200 ms p95 for predictions.
The last line of stdout is one JSON object.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DATABASE = "pdm_bench_predict"
REDIS_URL = "redis://127.0.0.1:6379/14"
CACHE_REDIS_URL = "redis://127.0.0.1:6379/15"  # settings put the cache on the next database
KINDS = ("health", "rul", "anomaly", "forecast")
GOALS = {"single_median_ms": 10.0, "fleet_ms": 100.0, "http_p95_ms": 200.0}
USERNAME = "bench_operator"


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
        CHANNELS_PREFIX="pdm-bench-predict",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-predict",
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        PDM_VAR_DIR=str(var_dir),
        PDM_MEDIA_ROOT=str(var_dir / "media"),
        PDM_EMBEDDED_WORKER="0",
        OMP_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        API_THROTTLE_USER="1000000/min",
        # Refreshes queued by the replayed readings are not what is measured: no worker consumes them.
        PREDICTIONS_REFRESH_SECONDS="3600",
    )
    return env


def recreate_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def flush_redis() -> None:
    import redis

    for url in (REDIS_URL, CACHE_REDIS_URL):
        redis.Redis.from_url(url).flushdb()


def prepare(env: dict) -> dict:
    """Migrate, the demo fleet, its bootstrap training (timed), replayed readings, a token."""
    recreate_database()
    os.environ.update(env)
    import django

    django.setup()
    flush_redis()
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_with_role
    from gan.services.jobs import job_execute
    from machines.services import fleet_load
    from predictions.services.simulation import simulate_tick
    from predictions.services.training import demo_bootstrap, training_run

    call_command("migrate", verbosity=0)
    fleet_load()
    started = time.perf_counter()
    bootstrap = demo_bootstrap()
    seeding = time.perf_counter() - started
    log(
        f"seed data for {bootstrap['seeded']} machines in {seeding:.2f} s; training {bootstrap['categories']}"
    )
    started = time.perf_counter()
    job = job_execute(job_id=bootstrap["job"].pk, work=training_run)
    training = time.perf_counter() - started
    assert job.status == "SUCCESS", job.error
    log(f"bootstrap training: {len(job.result['versions'])} models in {training:.1f} s")
    replay = simulate_tick(rows=30, interval=30)
    user = user_create_with_role(
        username=USERNAME, password="bench-operator-password-5d2e", role=Role.OPERATOR
    )
    return {
        "token": Token.objects.create(user=user).key,
        "seed_seconds_32_machines": round(seeding, 3),
        "bootstrap_training_s": round(training, 1),
        "models_trained": len(job.result["versions"]),
        "readings_replayed": replay["readings"],
    }


def milliseconds(function, repeats: int) -> dict:
    function()  # warm-up: the model cache, the connection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "repeats": repeats,
    }


class NoSubscribers:
    """The predictions_stored event without its receivers (the alerts app) while the block runs."""

    def __enter__(self):
        from predictions.signals import predictions_stored

        self.signal = predictions_stored
        self.receivers, predictions_stored.receivers = predictions_stored.receivers, []
        predictions_stored.sender_receivers_cache.clear()

    def __exit__(self, *exc):
        self.signal.receivers = self.receivers
        self.signal.sender_receivers_cache.clear()


def in_process(repeats: int) -> dict:
    from machines.models import Machine
    from predictions.services.serving import prediction_request, predictions_batch
    from predictions.signals import predictions_stored

    machines = list(Machine.objects.select_related("category").order_by("machine_id"))
    motor = next(m for m in machines if m.machine_id == "motor_siemens_1la7_001")
    single = {
        kind: milliseconds(lambda k=kind: prediction_request(machine=motor, kind=k), repeats)
        for kind in KINDS
    }
    fleet_repeats = max(10, repeats // 10)
    fleet = milliseconds(lambda: predictions_batch(machines=machines, kinds=KINDS), fleet_repeats)
    outcomes = predictions_batch(machines=machines, kinds=KINDS)
    with NoSubscribers():
        single_bare = {
            kind: milliseconds(lambda k=kind: prediction_request(machine=motor, kind=k), repeats)
            for kind in KINDS
        }
        fleet_bare = milliseconds(lambda: predictions_batch(machines=machines, kinds=KINDS), fleet_repeats)
    return {
        "event_subscribers": len(predictions_stored.receivers),
        "single": single,
        "single_median_ms_worst_kind": max(s["median_ms"] for s in single.values()),
        "single_no_subscribers": single_bare,
        "single_no_subscribers_median_ms_worst_kind": max(s["median_ms"] for s in single_bare.values()),
        "fleet": fleet,
        "fleet_no_subscribers": fleet_bare,
        "fleet_predictions": sum(1 for o in outcomes if o.prediction),
        "fleet_errors": sorted({o.error["code"] for o in outcomes if o.error}),
    }


def http(env: dict, token: str, port: int, clients: int, requests_each: int, var_dir: Path) -> dict:
    import requests

    url = f"http://127.0.0.1:{port}"
    log_file = var_dir / "daphne.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pdm_site.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log_file.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited: {log_file.read_text()[-2000:]}")
            try:
                # The login page: the health check would wait on a worker that this bench does not run.
                requests.get(f"{url}/login/", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        from machines.models import Machine

        machine_ids = list(Machine.objects.order_by("machine_id").values_list("machine_id", flat=True))
        headers = {"Authorization": f"Token {token}"}
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def client(number: int, count: int, record: bool) -> None:
            session = requests.Session()
            session.headers.update(headers)
            for i in range(count):
                body = {
                    "kind": KINDS[(number + i) % 4],
                    "machine": machine_ids[(number * 7 + i) % len(machine_ids)],
                }
                started = time.perf_counter()
                response = session.post(f"{url}/api/v1/predictions/", json=body, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if record:
                        latencies.append(elapsed)

        warm = [threading.Thread(target=client, args=(n, 2, False)) for n in range(clients)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        statuses.clear()
        threads = [threading.Thread(target=client, args=(n, requests_each, True)) for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=15)
    return {
        "clients": clients,
        "requests": len(latencies),
        "statuses": statuses,
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdm-bench-predict-") as folder:
        var_dir = Path(folder)
        env = server_env(var_dir)
        setup = prepare(env)
        serving = in_process(args.repeats)
        worst, fleet = serving["single_median_ms_worst_kind"], serving["fleet"]["median_ms"]
        log(f"in-process: single (worst kind) {worst} ms, fleet {fleet} ms")
        web = http(env, setup.pop("token"), args.port or free_port(), args.clients, args.requests, var_dir)
        flush_redis()
    print_result(
        {
            "bench": "predict",
            "machines": 32,
            "kinds": list(KINDS),
            **setup,
            **serving,
            "http": web,
            "goals": GOALS,
            "meets": {
                "single": serving["single_median_ms_worst_kind"] < GOALS["single_median_ms"],
                "fleet": serving["fleet"]["median_ms"] < GOALS["fleet_ms"],
                "http_p95": web["p95_ms"] < GOALS["http_p95_ms"],
            },
        }
    )


if __name__ == "__main__":
    main()
