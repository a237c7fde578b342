"""Fixtures shared by every test: users per role, API clients, a real Celery worker."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import user_create_with_role

PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(db):
    def make(role: Role | None, username: str | None = None):
        name = username or (role.label if role else "norole")
        if role is None:
            from django.contrib.auth import get_user_model

            return get_user_model().objects.create_user(username=name, password=PASSWORD)
        return user_create_with_role(username=name, password=PASSWORD, role=role)

    return make


@pytest.fixture
def viewer(make_user):
    return make_user(Role.VIEWER)


@pytest.fixture
def operator(make_user):
    return make_user(Role.OPERATOR)


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN)


@pytest.fixture
def users(viewer, operator, admin_user):
    return {"viewer": viewer, "operator": operator, "admin": admin_user}


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` authenticates it."""
    client = APIClient()
    client.as_user = lambda user: (client.force_authenticate(user), client)[1]
    return client


@pytest.fixture
def operator_api(api, operator):
    return api.as_user(operator)


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):
    """A real Celery worker (thread pool) consuming the real broker (Redis in server mode)."""
    from celery.contrib.testing.worker import start_worker

    from pdm_site.celery import app

    app.loader.import_default_modules()
    with (
        django_db_blocker.unblock(),
        start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10
        ) as worker,
    ):
        yield worker


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    """Tests that run jobs through the worker need committed data: they use transactional_db."""
    return celery_worker_session


def websocket_headers(user) -> list[tuple[bytes, bytes]]:
    """What a browser on the site sends: its origin and, for a user, their session cookie."""
    from django.test import Client

    headers = [(b"origin", b"http://127.0.0.1")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


CONSUMER_STOP_SECONDS = 3


@pytest.fixture
async def open_socket():
    """`await open_socket(path, user)` connects to the ASGI application (user None: anonymous).

    Every socket a test opened is closed when the test ends, as a browser closing its tab would, and its
    consumer must then stop within seconds: one that kept polling the channel layer would leak in
    production (and once hung a CI run in the event loop's teardown).
    """
    import asyncio

    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from pdm_site.asgi import application

    opened = []

    async def open_(path: str, user=None, *, timeout: float = 10):
        headers = await database_sync_to_async(websocket_headers)(user)
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=timeout)
        assert connected
        opened.append(communicator)
        return communicator

    yield open_
    for communicator in opened:
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    _, running = await asyncio.wait(
        [communicator.future for communicator in opened], timeout=CONSUMER_STOP_SECONDS
    )
    for future in running:
        future.cancel()
    assert not running, (
        f"{len(running)} consumer(s) still running {CONSUMER_STOP_SECONDS} s after their socket closed"
    )


async def frames_until_closing(communicator, timeout: float = 90) -> list[dict]:
    """The JSON frames a job socket sends, up to and including its `closing` frame."""
    import time

    frames, deadline = [], time.monotonic() + timeout
    while not frames or frames[-1]["type"] != "closing":
        try:
            frames.append(await communicator.receive_json_from(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            raise AssertionError(f"no closing frame in {timeout} s; got {frames[-3:]}") from None
    return frames


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    yield
    cache.clear()


def server_mode() -> bool:
    return settings.SERVER_MODE


class EmbeddedServer:
    """The product as `make run` starts it: daphne in embedded mode, its own var dir, demo users."""

    def __init__(self, root, var_dir, port):
        self.root, self.var_dir, self.port = root, var_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.process = None
        self.passwords = {}

    def env(self):
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))}
        env.update(DJANGO_SETTINGS_MODULE="pdm_site.settings", PDM_VAR_DIR=str(self.var_dir))
        env.pop("PDM_EMBEDDED_WORKER", None)
        return env

    def manage(self, *args):
        import subprocess
        import sys

        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self):
        import subprocess
        import sys
        import time

        import requests

        self.manage("migrate", "--noinput")
        self.manage("demo_users")
        for line in (self.var_dir / "demo-users.txt").read_text().splitlines():
            username, password = line.split(" ", 1)
            self.passwords[username] = password
        log = (self.var_dir / "daphne.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "pdm_site.asgi:application",
            ],
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/v1/health/", timeout=2).status_code in (200, 503):
                    return self
            except requests.ConnectionError:
                time.sleep(0.3)
        raise RuntimeError(
            f"embedded server did not start: {(self.var_dir / 'daphne.log').read_text()[-2000:]}"
        )

    def session(self, username):
        """A requests session logged in through the real login form."""
        import requests

        session = requests.Session()
        session.get(f"{self.url}/login/")
        response = session.post(
            f"{self.url}/login/",
            data={"username": username, "password": self.passwords[username]},
            headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{self.url}/login/"},
        )
        response.raise_for_status()
        session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": self.url})
        return session

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=15)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    from pathlib import Path

    server = EmbeddedServer(
        Path(__file__).resolve().parents[1], tmp_path_factory.mktemp("embedded-var"), free_port()
    )
    server.start()
    yield server
    server.stop()
