"""Both run modes' settings, read in a fresh interpreter with only the given environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); print(json.dumps({"
    "'engine': settings.DATABASES['default']['ENGINE'], 'broker': settings.CELERY_BROKER_URL,"
    "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], 'cache': settings.CACHES['default']['BACKEND'],"
    "'worker': settings.EMBEDDED_WORKER, 'routes': settings.CELERY_TASK_ROUTES}))"
)


def run_settings(tmp_path, **environment):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="pdm_site.settings", PDM_VAR_DIR=str(tmp_path), **environment)
    env.pop("PDM_EMBEDDED_WORKER", None)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)


def test_embedded_is_the_default(tmp_path):
    result = run_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["broker"] == "memory://"
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["cache"].endswith("LocMemCache")
    assert values["worker"] is True
    assert (tmp_path / "secret_key").exists()


def test_server_mode_uses_postgres_and_redis(tmp_path):
    result = run_settings(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/pdm",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_SECRET_KEY=KEY,
        CELERY_GPU_QUEUE="gpu",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["broker"] == "redis://127.0.0.1:6379/0"
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["cache"].endswith("RedisCache")
    assert values["worker"] is False
    assert values["routes"] == {"gan.tasks.train_synthesizer": {"queue": "gpu"}}


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1/pdm", "DJANGO_SECRET_KEY": KEY}, "REDIS_URL"),
        (
            {
                "DATABASE_URL": "mysql//nonsense",
                "REDIS_URL": "redis://h:6379/0",
                "DJANGO_SECRET_KEY": KEY,
            },
            "DATABASE_URL",
        ),
        (
            {
                "DATABASE_URL": "postgres://postgres@h/pdm",
                "REDIS_URL": "localhost",
                "DJANGO_SECRET_KEY": KEY,
            },
            "REDIS_URL",
        ),
        (
            {"DATABASE_URL": "postgres://postgres@127.0.0.1/pdm", "REDIS_URL": "redis://h:6379/0"},
            "DJANGO_SECRET_KEY",
        ),
    ],
)
def test_bad_server_environment_stops_with_the_variable_named(tmp_path, environment, named):
    result = run_settings(tmp_path, **environment)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


SERVER_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pdm",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_SECRET_KEY": KEY,
    "DJANGO_ALLOWED_HOSTS": "pdm.example.com",
}


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))}
    env.update(SERVER_ENV, DJANGO_SETTINGS_MODULE="pdm_site.settings", PDM_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_weak_secret_key_is_refused_in_server_mode(tmp_path):
    result = run_settings(tmp_path, **{**SERVER_ENV, "DJANGO_SECRET_KEY": "short"})
    assert "DJANGO_SECRET_KEY is too weak" in result.stderr
