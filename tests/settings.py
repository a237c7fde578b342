"""Test settings: server mode on this machine's PostgreSQL and Redis, unless PDM_TEST_MODE=embedded."""

import os
import tempfile

if os.environ.get("PDM_TEST_MODE") != "embedded":
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pdm")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    os.environ.setdefault("CHANNELS_PREFIX", "pdm-test")
    os.environ.setdefault("CACHE_KEY_PREFIX", "pdm-test")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("PDM_VAR_DIR", tempfile.mkdtemp(prefix="pdm-test-var-"))
os.environ.setdefault("PDM_EMBEDDED_WORKER", "0")
# The test client speaks plain HTTP.
os.environ.setdefault("DJANGO_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")

from pdm_site.settings import *  # noqa: F403
from pdm_site.settings import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests that check throttling lower these again; the rest must not trip over them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min"),
}
JOB_PROGRESS_MIN_INTERVAL = 0.0
