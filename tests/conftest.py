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
