"""Data files (seed and synthetic parquet, synthesizer pickles) through Django's storage API.

Names are made here, never taken from a request: machines/<machine pk>/<kind>/<uuid><suffix>. The
machine's primary key, not its machine_id, names the folder: a machine_id may be reused after a delete,
a primary key never is.

The core reads and writes local paths. Reading: `local_path()` hands it the storage's own path when the
storage is a local disk (FileSystemStorage.path) and a downloaded temporary copy otherwise (S3). Writing:
the core writes into a temporary folder and `store_file()` uploads the result. Pages and the API read
through `open_file()`, which works for every storage.
"""

import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)
MACHINES_FOLDER = "machines"


def machine_folder(machine_pk: int) -> str:
    return f"{MACHINES_FOLDER}/{int(machine_pk)}"


def new_name(machine_pk: int, kind: str, suffix: str = "") -> str:
    """A fresh storage name for one of the machine's files, e.g. machines/7/seed/<uuid>.parquet."""
    return f"{machine_folder(machine_pk)}/{kind}/{uuid.uuid4().hex}{suffix}"


def store_bytes(name: str, data: bytes) -> str:
    """Save data under name; returns the name the storage used."""
    return _save(name, ContentFile(data))


def store_file(local: str | Path, name: str) -> str:
    """Upload a local file under name; returns the name the storage used."""
    with open(local, "rb") as handle:
        return _save(name, File(handle, name=Path(name).name))


def _save(name: str, content: File) -> str:
    """Save, leaving nothing behind when the save fails part-way.

    FileSystemStorage writes straight into the final file: a write that fails (a full disk) leaves the part
    written under the name, which the caller never learns. Our names are fresh (new_name), so a file under
    the name after a failed save is that partial write.
    """
    existed = default_storage.exists(name)
    try:
        return default_storage.save(name, content)
    except BaseException:
        if not existed:
            with contextlib.suppress(Exception):
                if default_storage.exists(name):
                    default_storage.delete(name)
        raise


def open_file(name: str) -> IO[bytes]:
    return default_storage.open(name, "rb")


def file_size(name: str) -> int:
    return default_storage.size(name)


@contextmanager
def local_path(name: str) -> Iterator[Path]:
    """A local path holding the stored file, for code that only reads paths (the core)."""
    try:
        yield Path(default_storage.path(name))
        return
    except NotImplementedError:
        pass  # a remote storage: download a copy
    with tempfile.TemporaryDirectory(prefix="pdm-") as folder:
        copy = Path(folder) / Path(name).name
        with open_file(name) as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield copy


def files_delete(names: Iterable[str]) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


@contextmanager
def removed_on_error(names: list[str]) -> Iterator[list[str]]:
    """Delete the files whose names the block appends when the block fails (no orphans in the store)."""
    try:
        yield names
    except BaseException:
        files_delete(names)
        raise


def folder_delete(folder: str) -> int:
    """Delete every stored file under folder; returns how many."""
    names = list(_walk(folder))
    files_delete(names)
    # The storage API deletes files, not folders: remove the empty tree on a local disk (object stores
    # have no folders, and no path()).
    with contextlib.suppress(NotImplementedError):
        shutil.rmtree(default_storage.path(folder), ignore_errors=True)
    return len(names)


def machine_files_delete(machine_pk: int) -> int:
    """Delete every file kept for the machine (its database rows are gone already); returns how many."""
    deleted = folder_delete(machine_folder(machine_pk))
    logger.info("Deleted %s file(s) of machine %s", deleted, machine_pk)
    return deleted


def _walk(folder: str) -> Iterator[str]:
    try:
        folders, names = default_storage.listdir(folder)
    except FileNotFoundError:  # a local disk without that folder; object stores list nothing instead
        return
    for name in names:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(f"{folder}/{sub}")
