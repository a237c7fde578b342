"""Load: 100 concurrent users against daphne in server mode (PostgreSQL and Redis on 127.0.0.1).

    .venv/bin/python bench/load.py [--users 100] [--duration 60] [--ramp 60] [--step-seconds 15]
                                   [--servers 1] [--port 0] [--seed 1]

Setup (timed): a PostgreSQL database of its own (pdm_bench_load, recreated, dropped at the end), Redis
databases 8 (broker, channel layer) and 9 (cache), flushed at the end; a temporary PDM_VAR_DIR. Migrate, the
demo fleet (32 machines), its bootstrap training job run in-process through the job path (quick models for
the 11 categories), 30 replayed readings per machine, one refresh per machine (the dashboard cards' health)
and a fleet snapshot. The users: 50 browser viewers and 25 browser operators (login form, session cookie,
CSRF), 15 API operators and 10 API viewers (POST /api/v1/auth/token/), one password hashed once.
The web side is `daphne pdm_site.asgi:application` (one process unless --servers; no Celery worker: the
predictions are served in the request; refreshes queued by the replayed readings are left in the broker).

1. steady: the users arrive spread over --ramp seconds and log in (the ramp, reported apart: a login is a
   deliberately costly password hash), then each loops with a uniform 1–2 s pause before every request for
   --duration seconds, counted from the moment the last user is logged in:
   browsers: dashboard 45 %, machines page 20 %, machine health page 15 %, alarms page 10 %, and for
   operators POST /api/v1/predictions/ (kind, machine, "latest") 10 %; API clients: /api/v1/machines/
   30 %, /api/v1/predictions/ 30 %, /api/v1/fleet/ 25 %, and for operators POST /api/v1/predictions/ 15 %.
   Product settings as shipped (throttles included: each user stays under 100 API requests/min).
   Goals: 0 errors (ramp included), read (GET) p95 < 100 ms.
2. capacity: the same read mix, open loop at a fixed arrival rate (latency counted from the scheduled
   send), rising steps of --step-seconds; the server is restarted with the user throttle raised (it would
   otherwise answer 429 past 100 requests/min per user), the sessions and tokens are reused. A rate is held
   when its step has 0 errors, p95 < 500 ms and a throughput within 5 % of the rate; after the first rate
   that is not held, two steps bisect the gap. Reported: the highest rate held, its p50, p95, throughput.

The client is a small asyncio HTTP/1.1 client (keep-alive, one connection per user in the steady phase): it
shares the 2 cores with the server, PostgreSQL and Redis. The machine's CPU use before the run is reported
(background_cpu_pct_all_cores): other work on a shared host skews every figure. Each phase reports daphne's
CPU (100 = one core) and that CPU per request. Django under ASGI runs each request's sync code in a thread
of its own: one process uses one core (the GIL); the web processes run with the connection pool of server
mode (DATABASE_POOL_SIZE, as in docker-compose.yml), so a request borrows a PostgreSQL connection instead of
opening one. --servers N starts N daphne processes on one shared listening socket. The last line of stdout is
one JSON object.
"""

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DATABASE = "pdm_bench_load"
REDIS_URL = "redis://127.0.0.1:6379/8"
CACHE_REDIS_URL = "redis://127.0.0.1:6379/9"  # settings put the cache on the next database
KINDS = ("health", "rul", "anomaly", "forecast")
PASSWORD = "bench-load-password-7c41e"
GOALS = {"steady_errors": 0, "read_p95_ms": 100.0, "capacity_p95_ms": 500.0}
REQUEST_TIMEOUT = 30.0
# (name, method, path, weight); "{machine}" is filled per request; POST predict needs an operator.
BROWSER_ACTIONS = [
    ("dashboard", "GET", "/", 45),
    ("machines_page", "GET", "/machines/", 20),
    ("machine_health_page", "GET", "/machines/{machine}/health/", 15),
    ("alarms_page", "GET", "/alerts/alarms/", 10),
    ("predict", "POST", "/api/v1/predictions/", 10),
]
API_ACTIONS = [
    ("api_machines", "GET", "/api/v1/machines/", 30),
    ("api_predictions", "GET", "/api/v1/predictions/", 30),
    ("api_fleet", "GET", "/api/v1/fleet/", 25),
    ("predict", "POST", "/api/v1/predictions/", 15),
]
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+" \d{3} ')
CAPACITY_RATES = (10, 20, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 320, 400, 500)


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The server-mode environment ----------------------------------------------------------------------


POOL_SIZE = 8


def server_env(var_dir: Path, *, throttle_raised: bool) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "API_THROTTLE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
        REDIS_URL=REDIS_URL,
        REDIS_CACHE_URL=CACHE_REDIS_URL,
        CHANNELS_PREFIX="pdm-bench-load",
        CACHE_KEY_PREFIX="pdm-bench-load",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-load-test",
        DJANGO_DEBUG="0",
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        PDM_VAR_DIR=str(var_dir),
        PDM_MEDIA_ROOT=str(var_dir / "media"),
        PDM_EMBEDDED_WORKER="0",
        PDM_SIMULATE_FLEET="0",
        DATABASE_POOL_SIZE=str(POOL_SIZE),
        OMP_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        # The replayed readings queue refreshes that no worker consumes; they are not what is measured.
        PREDICTIONS_REFRESH_SECONDS="3600",
    )
    if throttle_raised:
        env.update(API_THROTTLE_USER="10000000/min", API_THROTTLE_ANON="10000000/min")
    return env


def database(statement: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(statement)


def flush_redis() -> None:
    import redis

    for url in (REDIS_URL, CACHE_REDIS_URL):
        redis.Redis.from_url(url).flushdb()


@dataclass
class User:
    name: str
    role: str  # "viewer" or "operator"
    api: bool
    cookies: dict = field(default_factory=dict)
    token: str = ""

    def headers(self, *, write: bool = False) -> list[tuple[str, str]]:
        if self.api:
            headers = [("Authorization", f"Token {self.token}"), ("Accept", "application/json")]
        else:
            headers = [("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))]
            if write:
                headers.append(("X-CSRFToken", self.cookies.get("csrftoken", "")))
        if write:
            headers.append(("Content-Type", "application/json"))
        return headers

    def actions(self, *, reads_only: bool = False) -> list[tuple[str, str, str, int]]:
        actions = API_ACTIONS if self.api else BROWSER_ACTIONS
        return [a for a in actions if a[1] == "GET" or (self.role == "operator" and not reads_only)]


def users_plan(count: int) -> list[User]:
    """50 % browser viewers, 25 % browser operators, 15 % API operators, 10 % API viewers."""
    shares = [("viewer", False, 0.50), ("operator", False, 0.25), ("operator", True, 0.15)]
    users, start = [], 0
    for role, api, share in shares:
        n = round(count * share)
        users += [User(f"load_{'api' if api else 'web'}_{role}_{i:03d}", role, api) for i in range(n)]
        start += n
    users += [User(f"load_api_viewer_{i:03d}", "viewer", True) for i in range(count - start)]
    return users


def prepare(env: dict, users: list[User]) -> dict:
    """Migrate, the demo fleet, its bootstrap training, readings, the cards' health, a snapshot, the users."""
    database(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    database(f'CREATE DATABASE "{BENCH_DATABASE}"')
    os.environ.update(env)
    import django

    django.setup()
    flush_redis()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User as DjangoUser
    from django.core.management import call_command

    from accounts.roles import Role
    from accounts.services import user_role_set
    from gan.services.jobs import job_execute
    from machines.models import Machine
    from machines.services import fleet_load
    from predictions.services.serving import fleet_snapshot_take, machine_refresh, predictions_batch
    from predictions.services.simulation import simulate_tick
    from predictions.services.training import demo_bootstrap, training_run

    timings = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    fleet_load()
    timings["migrate_fleet_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    bootstrap = demo_bootstrap()
    job = job_execute(job_id=bootstrap["job"].pk, work=training_run)
    assert job.status == "SUCCESS", job.error
    timings["bootstrap_training_s"] = round(time.perf_counter() - started, 1)
    log(f"setup: demo fleet and {len(job.result['versions'])} models in {timings['bootstrap_training_s']} s")
    started = time.perf_counter()
    replay = simulate_tick(rows=30, interval=30)
    machines = list(Machine.objects.filter(is_active=True).select_related("category").order_by("machine_id"))
    for machine in machines:
        machine_refresh(machine.pk)
    fleet_snapshot_take()
    outcomes = predictions_batch(machines=machines, kinds=KINDS)
    servable = sorted({(o.machine.machine_id, o.kind) for o in outcomes if o.prediction})
    # One hash for every user (it carries its own salt): 100 hashes would take a minute here.
    hashed = make_password(PASSWORD)
    roles = {"viewer": Role.VIEWER, "operator": Role.OPERATOR}
    for user in users:
        created = DjangoUser.objects.create(username=user.name, password=hashed)
        user_role_set(user=created, role=roles[user.role])
    timings["readings_health_users_s"] = round(time.perf_counter() - started, 1)
    return {
        "machines": [m.machine_id for m in machines],
        "servable": servable,
        "setup": {
            **timings,
            "models_trained": len(job.result["versions"]),
            "readings_replayed": replay["readings"],
            "servable_machine_kinds": len(servable),
        },
    }


class Server:
    """daphne processes serving pdm_site.asgi:application on one port (several share one listening socket)."""

    def __init__(self, env: dict, port: int, count: int, log_file: Path):
        self.port, self.log_file = port, log_file
        self.listener = None
        command = [sys.executable, "-m", "daphne"]
        pass_fds: tuple[int, ...] = ()
        if count == 1:
            command += ["-b", "127.0.0.1", "-p", str(port)]
        else:
            self.listener = socket.create_server(("127.0.0.1", port), backlog=1024)
            self.listener.set_inheritable(True)
            pass_fds = (self.listener.fileno(),)
            command += ["--fd", str(self.listener.fileno())]
        command.append("pdm_site.asgi:application")
        out = log_file.open("a")
        self.processes = [
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, pass_fds=pass_fds
            )
            for _ in range(count)
        ]
        deadline = time.monotonic() + 90
        while True:
            if any(p.poll() is not None for p in self.processes):
                self.stop()
                raise RuntimeError(f"daphne exited: {log_file.read_text()[-3000:]}")
            try:
                # The login page: the health check would wait on a worker that this bench does not run.
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.3)

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.listener is not None:
            self.listener.close()


def background_cpu(seconds: float = 3.0) -> float:
    """The machine's CPU use with nothing of this bench running (other work on a shared host skews it)."""
    busy0, total0 = machine_cpu_seconds()
    time.sleep(seconds)
    busy, total = machine_cpu_seconds()
    return round(100 * (busy - busy0) / max(total - total0, 1e-9), 1)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks


class CpuMeter:
    def __init__(self, server: Server):
        self.server = server
        self.start = (time.perf_counter(), server.cpu_seconds(), *machine_cpu_seconds())

    def read(self) -> dict:
        wall0, server0, busy0, total0 = self.start
        wall, server, (busy, total) = time.perf_counter(), self.server.cpu_seconds(), machine_cpu_seconds()
        self.server_seconds = server - server0
        return {
            "daphne_cpu_pct_of_one_core": round(100 * self.server_seconds / (wall - wall0), 1),
            "machine_cpu_pct_all_cores": round(100 * (busy - busy0) / max(total - total0, 1e-9), 1),
        }

    def per_request(self, requests: int) -> dict:
        """daphne's CPU per request over the last read: the cost that bounds a process's throughput."""
        return {"daphne_cpu_ms_per_request": round(1000 * self.server_seconds / max(requests, 1), 1)}


# --- A small HTTP/1.1 client ----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: light on CPU (the load generator shares the cores with the
    server)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await self._exchange(method, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, method, path, headers, body):
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method != "GET":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("connection closed before the answer")
        status = int(status_line.split()[1])
        answer_headers, length, chunked, close = [], None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            answer_headers.append((name, value))
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            content = b"".join(parts)
        elif length is not None:
            content = await self.reader.readexactly(length)
        else:
            content, close = await self.reader.read(), True
        if close:
            self.close()
        return status, answer_headers, content


@dataclass
class Row:
    at: float  # loop time the request was due (steady: sent)
    name: str
    write: bool
    ms: float
    status: int  # 0: no answer (connection error or timeout)
    ok: bool


class Recorder:
    def __init__(self):
        self.rows: list[Row] = []
        self.failures: dict[str, int] = {}

    async def call(
        self,
        connection: Connection,
        name: str,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        *,
        body: bytes = b"",
        expect: tuple[int, ...] = (200,),
        due: float | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        loop = asyncio.get_running_loop()
        started = loop.time() if due is None else due
        try:
            answer = await asyncio.wait_for(connection.request(method, path, headers, body), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError) as exc:
            connection.close()
            answer = (0, [], b"")
            key = f"{name}: {type(exc).__name__}"
            self.failures[key] = self.failures.get(key, 0) + 1
        ms = (loop.time() - started) * 1000
        ok = answer[0] in expect
        if answer[0] and not ok:
            text = " ".join(answer[2][:300].decode("utf-8", "replace").split())
            key = f"{name}: HTTP {answer[0]} {text[:120]}"
            self.failures[key] = self.failures.get(key, 0) + 1
        self.rows.append(Row(started, name, method != "GET", ms, answer[0], ok))
        return answer


def set_cookies(user: User, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if name == "set-cookie":
            key, _, rest = value.partition("=")
            user.cookies[key.strip()] = rest.split(";", 1)[0].strip()


async def login(connection: Connection, user: User, recorder: Recorder) -> bool:
    if user.api:
        body = json.dumps({"username": user.name, "password": PASSWORD}).encode()
        headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        status, _, content = await recorder.call(
            connection, "token", "POST", "/api/v1/auth/token/", headers, body=body
        )
        if status != 200:
            return False
        user.token = json.loads(content)["token"]
        return True
    status, headers, _ = await recorder.call(connection, "login_page", "GET", "/login/", [])
    set_cookies(user, headers)
    if status != 200 or "csrftoken" not in user.cookies:
        return False
    form = {"username": user.name, "password": PASSWORD, "csrfmiddlewaretoken": user.cookies["csrftoken"]}
    headers = [*user.headers(), ("Content-Type", "application/x-www-form-urlencoded")]
    status, answer_headers, _ = await recorder.call(
        connection, "login", "POST", "/login/", headers, body=urlencode(form).encode(), expect=(302,)
    )
    set_cookies(user, answer_headers)
    if status != 302 or "sessionid" not in user.cookies:
        return False
    # The browser follows the redirect at once: the dashboard.
    await recorder.call(connection, "dashboard", "GET", "/", user.headers())
    return True


async def act(
    connection: Connection,
    user: User,
    action: tuple[str, str, str, int],
    rng: random.Random,
    fleet: dict,
    recorder: Recorder,
    due: float | None = None,
) -> None:
    name, method, path, _ = action
    if method == "GET":
        path = path.format(machine=rng.choice(fleet["machines"]))
        await recorder.call(connection, name, method, path, user.headers(), due=due)
        return
    machine, kind = rng.choice(fleet["servable"])
    body = json.dumps({"kind": kind, "machine": machine, "readings": "latest"}).encode()
    await recorder.call(
        connection, name, method, path, user.headers(write=True), body=body, expect=(201,), due=due
    )


# --- Figures ---------------------------------------------------------------------------------------------


def figures(rows: list[Row], seconds: float) -> dict:
    if not rows:
        return {"requests": 0, "errors": 0}
    ms = np.array([row.ms for row in rows])
    return {
        "requests": len(rows),
        "errors": sum(1 for row in rows if not row.ok),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "throughput_rps": round(len(rows) / seconds, 1),
    }


def by_endpoint(rows: list[Row]) -> dict:
    names = sorted({row.name for row in rows})
    out = {}
    for name in names:
        ms = np.array([row.ms for row in rows if row.name == name])
        out[name] = {
            "n": len(ms),
            "errors": sum(1 for row in rows if row.name == name and not row.ok),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
        }
    return out


def statuses(rows: list[Row]) -> dict:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.status)] = counts.get(str(row.status), 0) + 1
    return dict(sorted(counts.items()))


# --- Phase 1: steady -------------------------------------------------------------------------------------


async def steady(port: int, users: list[User], fleet: dict, args, server: Server) -> dict:
    loop = asyncio.get_running_loop()
    recorder = Recorder()
    all_in, stop = asyncio.Event(), asyncio.Event()
    logged = {"in": 0, "done": 0, "failed": 0}
    base_rng = random.Random(args.seed)

    async def one_user(user: User, offset: float, rng: random.Random) -> None:
        connection = Connection(port)
        await asyncio.sleep(offset)
        ok = await login(connection, user, recorder)
        logged["done"] += 1
        logged["in" if ok else "failed"] += 1
        if logged["done"] == len(users):
            all_in.set()
        actions = user.actions()
        weights = [a[3] for a in actions]
        while ok and not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), rng.uniform(1.0, 2.0))
                break
            except TimeoutError:
                pass
            await act(connection, user, rng.choices(actions, weights)[0], rng, fleet, recorder)
        connection.close()

    order = list(users)
    base_rng.shuffle(order)  # browsers and API clients, viewers and operators arrive mixed
    started = loop.time()
    tasks = [
        asyncio.create_task(
            one_user(user, args.ramp * i / len(order), random.Random(base_rng.getrandbits(32)))
        )
        for i, user in enumerate(order)
    ]
    ramp_meter = CpuMeter(server)
    await asyncio.wait_for(all_in.wait(), args.ramp + 600)
    window_start = loop.time()
    ramp_cpu = ramp_meter.read()
    log(
        f"ramp: {logged['in']} of {len(users)} users logged in after {window_start - started:.1f} s "
        f"({logged['failed']} failed); steady window of {args.duration} s"
    )
    meter = CpuMeter(server)
    await asyncio.sleep(args.duration)
    stop.set()
    window_end = loop.time()
    cpu = meter.read()
    await asyncio.gather(*tasks)

    ramp_rows = [r for r in recorder.rows if r.at < window_start]
    rows = [r for r in recorder.rows if window_start <= r.at < window_end]
    reads = [r for r in rows if not r.write]
    writes = [r for r in rows if r.write]
    logins = [r for r in ramp_rows if r.name in ("login", "token")]
    everything = figures(rows, args.duration)
    read_figures = figures(reads, args.duration)
    write_figures = figures(writes, args.duration)
    ramp_errors = sum(1 for r in ramp_rows if not r.ok)
    result = {
        "users": len(users),
        "duration_s": args.duration,
        "think_s": [1.0, 2.0],
        "requests": everything["requests"],
        "errors": everything["errors"],
        "read_p50_ms": read_figures.get("p50_ms"),
        "read_p95_ms": read_figures.get("p95_ms"),
        "read_p99_ms": read_figures.get("p99_ms"),
        "read_throughput_rps": read_figures.get("throughput_rps"),
        "write_p50_ms": write_figures.get("p50_ms"),
        "write_p95_ms": write_figures.get("p95_ms"),
        "writes": write_figures["requests"],
        "p50_ms": everything.get("p50_ms"),
        "p95_ms": everything.get("p95_ms"),
        "p99_ms": everything.get("p99_ms"),
        "max_ms": everything.get("max_ms"),
        "throughput_rps": everything.get("throughput_rps"),
        "statuses": statuses(rows),
        "endpoints": by_endpoint(rows),
        **cpu,
        **meter.per_request(everything["requests"]),
    }
    ramp = {
        "ramp_s": args.ramp,
        "all_logged_in_after_s": round(window_start - started, 1),
        "logins": len(logins),
        "login_failures": logged["failed"],
        "login_p50_ms": figures(logins, 1).get("p50_ms"),
        "login_p95_ms": figures(logins, 1).get("p95_ms"),
        "requests": len(ramp_rows),
        "errors": ramp_errors,
        "endpoints": by_endpoint(ramp_rows),
        **ramp_cpu,
        **ramp_meter.per_request(len(ramp_rows)),
    }
    log(
        f"steady: {result['requests']} requests, {result['errors']} errors, reads p50 "
        f"{result['read_p50_ms']} ms p95 {result['read_p95_ms']} ms, all p95 {result['p95_ms']} ms, "
        f"{result['throughput_rps']} req/s, daphne CPU {cpu['daphne_cpu_pct_of_one_core']} % of a core "
        f"({result['daphne_cpu_ms_per_request']} ms/request)"
    )
    for name, figure in result["endpoints"].items():
        log(f"  {name:<20} n={figure['n']:<5} p50 {figure['p50_ms']:>7} ms  p95 {figure['p95_ms']:>7} ms")
    if recorder.failures:
        log(f"failures: {json.dumps(recorder.failures)[:2000]}")
    return {"steady": result, "ramp": ramp, "failures": recorder.failures}


# --- Phase 2: capacity -----------------------------------------------------------------------------------


async def capacity_step(port: int, users: list[User], fleet: dict, rate: float, seconds: float, seed: int):
    """An open-loop step: a request due every 1/rate s, on an idle keep-alive connection or a new one."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    recorder = Recorder()
    idle: list[Connection] = []
    opened: list[Connection] = []
    mix = [(user, user.actions(reads_only=True)) for user in users]

    async def fire(due: float, user: User, actions) -> None:
        if idle:
            connection = idle.pop()
        else:
            connection = Connection(port)
            opened.append(connection)
        action = rng.choices(actions, [a[3] for a in actions])[0]
        await act(connection, user, action, rng, fleet, recorder, due)
        idle.append(connection)

    count = max(1, round(rate * seconds))
    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        user, actions = mix[i % len(mix)]
        tasks.append(asyncio.create_task(fire(due, user, actions)))
    await asyncio.gather(*tasks)
    finished = loop.time()
    for connection in opened:
        connection.close()
    figure = figures(recorder.rows, finished - start)
    held = (
        figure["errors"] == 0
        and figure["p95_ms"] < GOALS["capacity_p95_ms"]
        and figure["throughput_rps"] >= 0.95 * rate
    )
    return {
        "rate_rps": rate,
        **figure,
        "connections": len(opened),
        "held": held,
        "failures": recorder.failures,
    }


async def capacity(port: int, users: list[User], fleet: dict, args, server: Server) -> dict:
    steps = []

    async def run(rate: float) -> dict:
        meter = CpuMeter(server)
        step = await capacity_step(port, users, fleet, rate, args.step_seconds, args.seed + len(steps))
        step.update(meter.read())
        step.update(meter.per_request(step["requests"]))
        steps.append(step)
        log(
            f"capacity: {rate:g} req/s -> {step['throughput_rps']} req/s, p50 {step.get('p50_ms')} ms, "
            f"p95 {step.get('p95_ms')} ms, {step['errors']} errors, daphne CPU "
            f"{step['daphne_cpu_pct_of_one_core']} % ({step['daphne_cpu_ms_per_request']} ms/request): "
            f"{'held' if step['held'] else 'NOT held'}"
        )
        await asyncio.sleep(2)  # let the server settle between steps
        return step

    best, failed = None, None
    for rate in CAPACITY_RATES:
        step = await run(rate)
        if not step["held"]:
            failed = rate
            break
        best = step
    low = best["rate_rps"] if best else 0
    for _ in range(args.refine if failed else 0):
        middle = round((low + failed) / 2)
        if middle in (low, failed) or middle <= 0:
            break
        step = await run(middle)
        if step["held"]:
            best, low = step, middle
        else:
            failed = middle
    for step in steps:
        if not step["failures"]:
            del step["failures"]
    answer = {"mix": "reads (the steady phase's GETs, same shares)", "open_loop": True}
    if best:
        answer.update(
            rate_rps=best["rate_rps"],
            p50_ms=best["p50_ms"],
            p95_ms=best["p95_ms"],
            p99_ms=best["p99_ms"],
            throughput_rps=best["throughput_rps"],
            errors=best["errors"],
            daphne_cpu_pct_of_one_core=best["daphne_cpu_pct_of_one_core"],
            daphne_cpu_ms_per_request=best["daphne_cpu_ms_per_request"],
        )
    else:
        answer.update(rate_rps=0, p50_ms=None, p95_ms=None, throughput_rps=None)
    answer["first_rate_not_held_rps"] = failed
    answer["steps"] = steps
    return answer


# --- Main ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="steady window, seconds")
    parser.add_argument("--ramp", type=float, default=60.0, help="users arrive over this many seconds")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="per capacity step")
    parser.add_argument("--refine", type=int, default=2, help="bisection steps after the first failure")
    parser.add_argument(
        "--servers", type=int, default=os.cpu_count() or 1, help="daphne processes on one port (one per core)"
    )
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    wall = time.perf_counter()
    users = users_plan(args.users)
    port = args.port or free_port()
    result: dict = {"bench": "load"}
    server = None
    with tempfile.TemporaryDirectory(prefix="pdm-bench-load-") as folder:
        var_dir = Path(folder)
        log_file = var_dir / "daphne.log"
        try:
            fleet = prepare(server_env(var_dir, throttle_raised=False), users)
            from django.db import connections

            connections.close_all()
            background = background_cpu()
            log(f"background load before the run: {background} % of all cores")
            server = Server(
                server_env(var_dir, throttle_raised=False),
                port,
                args.servers,
                log_file,
            )
            log(f"daphne x{args.servers} on 127.0.0.1:{port}, {len(users)} users, product throttles")
            phase1 = asyncio.run(steady(port, users, fleet, args, server))
            server.stop()
            capacity_result = None
            if not args.skip_capacity:
                server = Server(
                    server_env(var_dir, throttle_raised=True),
                    port,
                    args.servers,
                    log_file,
                )
                log("daphne restarted with the user throttle raised for the capacity steps")
                capacity_result = asyncio.run(capacity(port, users, fleet, args, server))
                server.stop()
            server = None
            # Not the access log: what daphne or the app had to say (warnings, tracebacks).
            said = [line for line in log_file.read_text().splitlines() if not ACCESS_LINE.search(line)]
            if said:
                log("daphne log (tail, access lines left out):\n" + "\n".join(said[-30:]))
        finally:
            if server is not None:
                server.stop()
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # django not set up: nothing to close
                pass
            database(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
            flush_redis()
    steady_figures = phase1["steady"]
    ramp = phase1["ramp"]
    result.update(
        server=(
            f"daphne, {args.servers} process{'es' if args.servers > 1 else ''}, server mode "
            "(PostgreSQL + Redis on 127.0.0.1), no Celery worker"
        ),
        cpu_cores=os.cpu_count(),
        background_cpu_pct_all_cores=background,
        users={
            "total": len(users),
            "browser_viewers": sum(1 for u in users if not u.api and u.role == "viewer"),
            "browser_operators": sum(1 for u in users if not u.api and u.role == "operator"),
            "api_operators": sum(1 for u in users if u.api and u.role == "operator"),
            "api_viewers": sum(1 for u in users if u.api and u.role == "viewer"),
        },
        setup=fleet["setup"],
        steady=steady_figures,
        ramp=ramp,
        failures=phase1["failures"],
        capacity=capacity_result,
        goals=GOALS,
        meets={
            "steady_errors_0": steady_figures["errors"] == 0 and ramp["errors"] == 0,
            "read_p95_lt_100ms": (steady_figures["read_p95_ms"] or 1e9) < GOALS["read_p95_ms"],
            "capacity_p95_lt_500ms": bool(capacity_result and capacity_result["rate_rps"] > 0),
        },
        wall_s=round(time.perf_counter() - wall, 1),
    )
    print_result(result)


if __name__ == "__main__":
    main()
