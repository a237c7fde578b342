"""Backup and restore of the database and the data files, in both run modes.

A backup is one .tar.gz holding manifest.json, the database (a pg_dump custom-format dump in server mode,
an online SQLite copy in embedded mode) and media.tar (datasets, models, reports under MEDIA_ROOT).
Restore while the web processes and workers are stopped. With PDM_STORAGE=s3 the files live in the bucket:
back it up with the store's own versioning or replication; this covers the database only.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

FORMAT_VERSION = 1


class BackupError(Exception):
    pass


def _mode() -> str:
    return "server" if settings.SERVER_MODE else "embedded"


def _database_url() -> str:
    return os.environ["DATABASE_URL"]


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")


def _dump_database(target: Path) -> str:
    if settings.SERVER_MODE:
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--file={target / 'database.dump'}",
                _database_url(),
            ]
        )
        return "database.dump"
    connection.close()
    source = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    copy = sqlite3.connect(target / "database.sqlite3")
    with copy:
        source.backup(copy)  # consistent even while the app writes (WAL)
    source.close()
    copy.close()
    return "database.sqlite3"


def backup(destination_dir: Path) -> Path:
    """Write a backup archive into destination_dir and return its path."""
    destination_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    archive = destination_dir / f"pdm-backup-{_mode()}-{stamp}.tar.gz"
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        database_file = _dump_database(work_dir)
        media_root = Path(settings.MEDIA_ROOT)
        with tarfile.open(work_dir / "media.tar", "w") as media:
            if media_root.exists():
                media.add(media_root, arcname="media")
        manifest = {
            "format": FORMAT_VERSION,
            "mode": _mode(),
            "created_at": datetime.now(UTC).isoformat(),
            "database": database_file,
        }
        (work_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as bundle:
            for name in ("manifest.json", database_file, "media.tar"):
                bundle.add(work_dir / name, arcname=name)
        partial.rename(archive)
    return archive


def _restore_database(work_dir: Path, manifest: dict) -> None:
    if settings.SERVER_MODE:
        dump = work_dir / "database.dump"
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={_database_url()}", str(dump)])
        return
    connection.close()
    target = Path(settings.DATABASES["default"]["NAME"])
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(work_dir / "database.sqlite3", target)


def _restore_media(work_dir: Path) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    staging = media_root.parent / f".{media_root.name}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(work_dir / "media.tar") as media:
        media.extractall(staging, filter="data")  # refuses absolute paths and ../ members
    restored = staging / "media"
    restored.mkdir(exist_ok=True)
    if media_root.exists():
        shutil.rmtree(media_root)
    restored.rename(media_root)
    shutil.rmtree(staging)


def restore(archive: Path) -> dict:
    """Replace the database and the data files with the archive's; return its manifest."""
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        with tarfile.open(archive, "r:gz") as bundle:
            bundle.extractall(work_dir, filter="data")
        manifest = json.loads((work_dir / "manifest.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"unknown backup format {manifest.get('format')!r}")
        if manifest["mode"] != _mode():
            raise BackupError(f"this is a {manifest['mode']}-mode backup; the app runs in {_mode()} mode")
        _restore_database(work_dir, manifest)
        _restore_media(work_dir)
    return manifest
