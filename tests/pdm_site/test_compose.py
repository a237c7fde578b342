"""No Docker engine runs here: the compose file is checked by parsing it against what the app reads."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SETTINGS_SOURCE = (ROOT / "pdm_site" / "settings.py").read_text()
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (ROOT / ".env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


def command_of(service) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_the_services_of_a_server_deployment():
    assert set(SERVICES) == {"postgres", "redis", "web", "worker", "beat", "gpu-worker", "flower"}
    assert "daphne" in command_of("web") and "pdm_site.asgi:application" in command_of("web")
    assert "migrate" in command_of("web")
    assert re.search(r"worker -Q celery\b", command_of("worker"))
    assert re.search(r"worker -Q gpu\b", command_of("gpu-worker"))
    assert "beat" in command_of("beat")
    assert "flower" in command_of("flower")


def test_gpu_worker_reserves_an_nvidia_device_and_builds_cuda_torch():
    gpu = SERVICES["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX_URL"].rsplit("/", 1)[-1]
    assert ENV_EXAMPLE["CELERY_GPU_QUEUE"] == "gpu"
    assert "ARG TORCH_INDEX_URL" in (ROOT / "Dockerfile").read_text()


def test_healthchecks_and_named_volumes():
    for name in ("postgres", "redis", "web", "worker", "gpu-worker"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert set(COMPOSE["volumes"]) == {"data", "pgdata"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    for name in ("web", "worker", "beat", "gpu-worker"):
        assert "data:/data" in SERVICES[name]["volumes"]
        assert SERVICES[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_environment_variable_is_one_the_settings_read():
    app_variables = set(ENV_EXAMPLE) - {"POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"}
    unread = [name for name in app_variables if f'"{name}"' not in SETTINGS_SOURCE]
    assert unread == []
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"):
        assert name in ENV_EXAMPLE
    assert (
        ENV_EXAMPLE["DATABASE_URL"].startswith("postgres://")
        and "@postgres:5432/" in ENV_EXAMPLE["DATABASE_URL"]
    )
    assert ENV_EXAMPLE["REDIS_URL"].startswith("redis://redis:6379/")
    assert SERVICES["web"]["env_file"] == ".env"


def test_web_port_matches_daphne():
    assert SERVICES["web"]["ports"] == ["8000:8000"]
    assert "-p 8000" in command_of("web")
