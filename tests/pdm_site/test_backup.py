"""Backup and restore, each mode on a real installation of its own (a fresh database, a var dir)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
COUNT = (
    "import django; django.setup(); from machines.models import Machine; from django.conf import settings;"
    "from pathlib import Path; f = Path(settings.MEDIA_ROOT) / 'machines/x/seed.parquet';"
    "print(Machine.objects.count(), f.read_text() if f.exists() else '-')"
)


class Installation:
    def __init__(self, var_dir: Path, database_url: str | None):
        self.var_dir = var_dir
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="pdm_site.settings", PDM_VAR_DIR=str(var_dir), PDM_EMBEDDED_WORKER="0"
        )
        if database_url:
            self.env.update(
                DATABASE_URL=database_url,
                REDIS_URL="redis://127.0.0.1:6379/3",
                DJANGO_SECRET_KEY="backup-tests-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
            )

    def run(self, *command) -> str:
        result = subprocess.run(
            [sys.executable, *command], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    def state(self) -> str:
        return self.run("-c", COUNT)

    def write_file(self, text: str) -> None:
        path = self.var_dir / "media" / "machines" / "x" / "seed.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module", params=["embedded", "server"])
def installation(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    database_url = None
    if request.param == "server":
        name = f"pdm_backup_{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"], check=True
        )
        database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    site = Installation(tmp_path / "var", database_url)
    site.run("manage.py", "migrate", "--noinput")
    site.run("manage.py", "load_fleet")
    yield site
    if database_url:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"DROP DATABASE {name} WITH (FORCE)"]
        )


def test_backup_then_restore_brings_back_database_and_files(installation, tmp_path):
    installation.write_file("version one")
    assert installation.state() == "32 version one"
    archive = Path(installation.run("scripts/backup.py", "create", "--to", str(tmp_path / "backups")))
    assert archive.exists() and archive.name.endswith(".tar.gz")

    installation.run(
        "-c",
        "import django; django.setup(); from machines.models import Machine; "
        "Machine.objects.filter(machine_id__startswith='cnc').delete()",
    )
    installation.write_file("version two")
    assert installation.state() == "24 version two"

    assert "restored" in installation.run("scripts/backup.py", "restore", str(archive))
    assert installation.state() == "32 version one"


def test_restore_refuses_a_backup_of_the_other_mode(installation, tmp_path):
    archive = Path(installation.run("scripts/backup.py", "create", "--to", str(tmp_path / "backups")))
    other = Installation(
        tmp_path / "other-var", None if "DATABASE_URL" in installation.env else "postgres://x@h/db"
    )
    result = subprocess.run(
        [sys.executable, "scripts/backup.py", "restore", str(archive)],
        cwd=ROOT,
        env=other.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "-mode backup; the app runs in" in result.stderr
