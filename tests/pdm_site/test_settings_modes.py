"""Both run modes' settings, read in a fresh interpreter with only the given environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
        DJANGO_SECRET_KEY="x" * 60,
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
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1/pdm", "DJANGO_SECRET_KEY": "x" * 60}, "REDIS_URL"),
        (
            {
                "DATABASE_URL": "mysql//nonsense",
                "REDIS_URL": "redis://h:6379/0",
                "DJANGO_SECRET_KEY": "x" * 60,
            },
            "DATABASE_URL",
        ),
        (
            {
                "DATABASE_URL": "postgres://postgres@h/pdm",
                "REDIS_URL": "localhost",
                "DJANGO_SECRET_KEY": "x" * 60,
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
