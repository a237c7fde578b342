"""Alerts: reading → browser toast latency in server mode, and rule evaluations per second on 32 machines.

    .venv/bin/python bench/alerts.py [--samples 40] [--rounds 10]

Server mode on this host: PostgreSQL database pdm_bench_alerts, Redis databases 14 (broker, channel layer)
and 15 (cache), a real daphne process and a real `celery -A pdm_site worker -c 2` process, default
settings (the 15 s per-machine refresh throttle included). A fleet of 32 motors is served by quick category
models trained through the product's training job; each machine holds a minute of healthy readings.

1. Latency: a viewer logged in through the login form listens on /ws/notifications/ with the `websockets`
   library; an operator POSTs one reading whose vibration crosses the default "sensor outside its limits"
   rule to /api/v1/machines/<id>/readings/ (token auth). Measured: from just before the POST to the toast
   frame naming that machine and sensor on the viewer's socket (both on this host's clock). The path:
   API → commit → readings_stored → sensor-limit rules → alarm → notification → channels-redis → daphne →
   socket (the refresh the readings queue on the worker feeds the prediction rules). Each alarm is
   resolved after its sample so the next crossing raises a new one.
   Goal: median < 1 s, p95 < 2 s.
2. Throughput: in this process, rounds in which every machine gets a reading (some crossing a limit) and
   the four predictions of a refresh (health, RUL, anomaly, forecast; written directly, with states that
   raise and clear alarms), each evaluated as its readings_stored or predictions_stored event would be.
   Measured: rule evaluations per second and machine updates (a reading + its four predictions) per
   second, alarm dispatch (notifications, socket pushes, emails and webhooks queued) included.

The last line of stdout is one JSON object.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DATABASE = "pdm_bench_alerts"
REDIS_URL = "redis://127.0.0.1:6379/14"
CACHE_REDIS_URL = "redis://127.0.0.1:6379/15"  # settings put the cache on the next database
VAR_DIR = ROOT / "var" / "bench-alerts"
OPERATOR, VIEWER = "bench_operator", "bench_viewer"
PASSWORD = "bench-alerts-password-5d2e"
FLEET = [f"motor_bench_alerts_{i:03d}" for i in range(1, 33)]
SENSOR = "vibration_mm_s"
CROSSING = 30.0  # mm/s: far outside the motor's default limits (2.5 ± 4.5)
HISTORY_READINGS = 60
GOAL_MEDIAN_MS, GOAL_P95_MS = 1000.0, 2000.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
        REDIS_URL=REDIS_URL,
        CHANNELS_PREFIX="pdm-bench-alerts",
        CACHE_KEY_PREFIX="pdm-bench-alerts",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ALERTS",
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        PDM_VAR_DIR=str(VAR_DIR),
        PDM_MEDIA_ROOT=str(VAR_DIR / "media"),  # the web process and the worker share this disk
        PDM_EMBEDDED_WORKER="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        OMP_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        API_THROTTLE_USER="100000/min",
        API_THROTTLE_TELEMETRY="100000/min",
    )
    return env


def prepare(env: dict) -> None:
    """A clean database state: users, the 32 motors with seed data on the first, nothing left of a run."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    import django
    import redis

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.roles import Role
    from accounts.services import user_create_with_role
    from alerts.models import Alarm, Notification
    from gan.models import Job
    from machines.models import Machine, MachineCategory
    from machines.selectors import fleet_document
    from machines.services import category_create, machine_create
    from predictions.models import Prediction, SensorReading

    call_command("migrate", verbosity=0)
    for url in (REDIS_URL, CACHE_REDIS_URL):
        redis.Redis.from_url(url).flushdb()
    users = get_user_model().objects
    for username, role in ((OPERATOR, Role.OPERATOR), (VIEWER, Role.VIEWER)):
        if not users.filter(username=username).exists():
            user_create_with_role(username=username, password=PASSWORD, role=role)
    if not MachineCategory.objects.filter(name="motor").exists():
        category_create(data={"name": "motor", **fleet_document()["categories"]["motor"]}, user=None)
    for machine_id in FLEET:
        if not Machine.objects.filter(machine_id=machine_id).exists():
            machine_create(profile={"machine_id": machine_id, "machine_type": "motor"}, user=None)
    for model in (Alarm, Notification, SensorReading, Prediction):
        model.objects.all().delete()
    Job.objects.exclude(status__in=Job.FINISHED).update(status=Job.Status.CANCELLED)


def train_models() -> None:
    """Quick category models (the demo's settings) from the first motor's seed rows, unless they serve."""
    from gan.models import Job, SeedDataset
    from gan.services.synthetic import seed_create
    from machines.models import Machine, MachineCategory
    from predictions.models import ModelVersion
    from predictions.services.models import FLEET_KINDS, ModelUnavailable, active_versions, model_load
    from predictions.services.training import training_start

    first = Machine.objects.select_related("category").get(machine_id=FLEET[0])
    serving = active_versions([first], FLEET_KINDS)
    try:
        if len(serving) == len(FLEET_KINDS):
            for version in serving.values():
                model_load(version)
            return
    except ModelUnavailable:
        pass
    if not SeedDataset.objects.filter(machine=first).exists():
        seed_create(machine=first, rows=2_000, seed=3)
    ModelVersion.objects.filter(category__name="motor").update(is_active=False)
    category = MachineCategory.objects.get(name="motor")
    job = training_start(kinds=list(FLEET_KINDS), source="seed", category=category, quick=True)
    log(f"training quick motor models (job {job.pk})")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(1)
    if job.status != Job.Status.SUCCESS:
        raise SystemExit(f"training job {job.pk} ended {job.status}: {job.error}")


def fill_history() -> dict:
    """A minute of healthy readings per machine (early-life seed rows), so that every model can serve."""
    from django.utils import timezone

    from gan.models import SeedDataset
    from gan.selectors import seed_frame
    from machines.models import Machine
    from predictions.models import SensorReading

    frame = seed_frame(SeedDataset.objects.filter(machine__machine_id=FLEET[0]).latest("created_at"))
    healthy = frame.sort_values("rul", ascending=False).head(HISTORY_READINGS)
    sensors = [s for s in frame.columns if s not in ("timestamp", "cycle", "rul")]
    rows = [{s: float(row[s]) for s in sensors} for _, row in healthy.iterrows()]
    now = timezone.now()
    SensorReading.objects.bulk_create(
        SensorReading(machine=machine, timestamp=now - timedelta(seconds=HISTORY_READINGS - i), values=values)
        for machine in Machine.objects.filter(machine_id__in=FLEET)
        for i, values in enumerate(rows)
    )
    return rows[-1]


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
        except (requests.ConnectionError, requests.Timeout):  # still loading the app
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def login(base: str, username: str):
    import requests

    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={"username": username, "password": PASSWORD},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    return session


def operator_api():
    """A requests session authenticated with the operator's API token (no CSRF dance for the API)."""
    import requests
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=OPERATOR))
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token.key}"
    return session


def measure_latency(port: int, samples: int, healthy: dict) -> list[float]:
    import websockets
    from django.conf import settings

    base = f"http://127.0.0.1:{port}"
    viewer = login(base, VIEWER)
    api = operator_api()
    last_sent: dict[str, float] = {}

    def post_crossing(machine_id: str) -> None:
        reading = {"values": {**healthy, SENSOR: CROSSING}}
        response = api.post(f"{base}/api/v1/machines/{machine_id}/readings/", json=reading, timeout=10)
        response.raise_for_status()

    def resolve(alarm_id: int) -> None:
        api.post(
            f"{base}/api/v1/alarms/{alarm_id}/resolve/", json={"comment": "bench"}, timeout=10
        ).raise_for_status()

    async def run() -> list[float]:
        frames: asyncio.Queue = asyncio.Queue()
        cookie = f"sessionid={viewer.cookies['sessionid']}"
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/notifications/", origin=base, additional_headers={"Cookie": cookie}
        ) as socket_:
            first = json.loads(await asyncio.wait_for(socket_.recv(), 10))
            assert first["type"] == "connected", first

            async def receive():
                async for raw in socket_:
                    await frames.put((time.time(), json.loads(raw)))

            receiver = asyncio.create_task(receive())
            latencies = []
            for sample in range(samples):
                machine_id = FLEET[sample % len(FLEET)]
                # A machine's readings queue a refresh at most once per PREDICTIONS_REFRESH_SECONDS.
                wait = last_sent.get(machine_id, 0) + settings.PREDICTIONS_REFRESH_SECONDS + 0.5 - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sent = time.time()
                last_sent[machine_id] = sent
                await asyncio.to_thread(post_crossing, machine_id)
                while True:
                    arrived, frame = await asyncio.wait_for(frames.get(), 30)
                    note = frame.get("notification") or {}
                    if machine_id in note.get("body", "") and SENSOR in note.get("title", ""):
                        break
                latencies.append(1000.0 * (arrived - sent))
                await asyncio.to_thread(resolve, note["alarm"]["id"])
            receiver.cancel()
            return latencies

    return asyncio.run(run())


def measure_throughput(rounds: int, healthy: dict) -> dict:
    """Rounds of a reading and four predictions per machine, each evaluated as its event would be."""
    from django.urls import get_resolver
    from django.utils import timezone

    from alerts.models import Alarm
    from alerts.services.evaluation import predictions_evaluate, readings_evaluate
    from machines.models import Machine
    from predictions.models import Kind, Prediction, SensorReading

    # The first link an alarm builds loads the whole URLconf (seconds, once per process): not measured.
    get_resolver().url_patterns  # noqa: B018 -- the access is the warm-up
    machines = list(
        Machine.objects.filter(machine_id__in=FLEET).select_related("category").order_by("machine_id")
    )
    evaluations = updates = 0
    elapsed = 0.0
    alarms_before = Alarm.objects.count()
    for round_ in range(rounds):
        now = timezone.now()
        for index, machine in enumerate(machines):
            crossing = (index + round_) % 4 == 0  # a quarter of the fleet out of limits, changing each round
            state = (index + round_) % 4  # every health state, so alarms raise, escalate and clear
            SensorReading.objects.create(
                machine=machine,
                timestamp=now + timedelta(milliseconds=index),
                values={**healthy, SENSOR: CROSSING if crossing else healthy[SENSOR]},
            )
            rul = 1_000 * (1 - state / 3.5)
            predictions = Prediction.objects.bulk_create(
                Prediction(
                    machine=machine, kind=kind, input={"source": "refresh"}, result=result, latency_ms=1
                )
                for kind, result in (
                    (Kind.HEALTH, {"state": state, "confidence": 0.9}),
                    (Kind.RUL, {"rul": rul, "lower": rul * 0.8, "upper": rul * 1.2, "unit": "hours"}),
                    (Kind.ANOMALY, {"is_anomaly": crossing, "normalized_score": 0.9 if crossing else 0.1}),
                    (Kind.FORECAST, {"horizon": 24}),
                )
            )
            started = time.perf_counter()
            evaluations += readings_evaluate(machine)  # as readings_stored does
            evaluations += predictions_evaluate([p.pk for p in predictions])  # as a refresh's event does
            elapsed += time.perf_counter() - started
            updates += 1
    return {
        "machines": len(machines),
        "rounds": rounds,
        "machine_updates": updates,
        "rule_evaluations": evaluations,
        "evaluations_per_s": evaluations / elapsed,
        "machine_updates_per_s": updates / elapsed,
        "ms_per_machine_update": 1000 * elapsed / updates,
        "alarms_raised": Alarm.objects.count() - alarms_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    env = server_env()
    prepare(env)
    port = free_port()
    python = sys.executable
    daphne = start(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pdm_site.asgi:application"],
        env,
        VAR_DIR / "daphne.log",
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
        VAR_DIR / "worker.log",
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/api/v1/health/", daphne)
        train_models()
        healthy = fill_history()
        log(f"measuring {args.samples} reading → toast samples")
        latencies = measure_latency(port, args.samples, healthy)
        log(f"measuring {args.rounds} evaluation rounds on {len(FLEET)} machines")
        throughput = measure_throughput(args.rounds, healthy)
    finally:
        for process in (worker, daphne):
            process.terminate()
        for process in (worker, daphne):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    ordered = sorted(latencies)
    median = statistics.median(latencies)
    p95 = ordered[round(0.95 * (len(ordered) - 1))]
    print_result(
        {
            "samples": len(latencies),
            "toast_median_ms": median,
            "toast_p95_ms": p95,
            "toast_min_ms": ordered[0],
            "toast_max_ms": ordered[-1],
            "path": "API reading → commit → readings_stored → rules → alarm → notification → "
            "channels-redis → daphne → websockets client",
            **{f"fleet_{key}": value for key, value in throughput.items()},
            "goal_median_ms": GOAL_MEDIAN_MS,
            "goal_p95_ms": GOAL_P95_MS,
            "goal_met": median < GOAL_MEDIAN_MS and p95 < GOAL_P95_MS,
        }
    )


if __name__ == "__main__":
    main()
