"""Manuals: the shipped ones plus admin uploads, and the search index built from them.

The index is rebuilt only when the set of manuals changes. Its version is a fingerprint of that set (the
shipped files' content and every upload's id and content hash), read with one small query: each process
keeps the index of the version it last saw, and the serialised index is cached (Redis in server mode) under
its version, so the other processes load it instead of building it again. A fingerprint cannot drift from
the manuals the way a separately kept counter could (a cache flush, a failed increment).
"""

import functools
import hashlib
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from assistant.llm import Manual, ManualError, ManualIndex, chunk_manual, load_shipped_manuals, parse_manual
from assistant.llm.retrieval import INDEX_FORMAT
from assistant.models import ManualDocument

logger = logging.getLogger(__name__)

MANUALS_FOLDER = "assistant/manuals"
INDEX_CACHE_SECONDS = 7 * 24 * 3600
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass
class _Loaded:
    version: str | None = None
    index: ManualIndex | None = None


_loaded = _Loaded()
_loaded_lock = threading.Lock()


@functools.cache
def shipped_manuals() -> tuple[Manual, ...]:
    return tuple(load_shipped_manuals())


@functools.cache
def _shipped_fingerprint() -> str:
    digest = hashlib.sha256()
    for manual in shipped_manuals():
        digest.update(f"{manual.source}|{manual.category}|{manual.text}".encode())
    return digest.hexdigest()


def manuals_version() -> str:
    """Changes whenever a manual is uploaded or deleted (or the shipped ones or the index format change)."""
    digest = hashlib.sha256(f"{INDEX_FORMAT}|{_shipped_fingerprint()}".encode())
    for pk, sha256, category in ManualDocument.objects.order_by("pk").values_list("pk", "sha256", "category"):
        digest.update(f"|{pk}:{sha256}:{category}".encode())
    return digest.hexdigest()[:20]


def _uploaded_manuals() -> list[Manual]:
    documents = ManualDocument.objects.select_related("category").order_by("pk")
    return [
        Manual(
            source=document.name,
            title=document.title,
            text=document.text,
            format=document.format,
            category=document.category.name if document.category else None,
        )
        for document in documents
    ]


def manual_index() -> ManualIndex:
    """The index of every manual, current as of this call."""
    version = manuals_version()
    with _loaded_lock:
        if _loaded.version == version:
            return _loaded.index
    key = f"assistant:manual-index:{version}"
    index = None
    payload = cache.get(key)
    if payload is not None:
        try:
            index = ManualIndex.loads(payload)
        except ValueError:
            logger.warning("cached manual index %s is unreadable; rebuilding it", version)
    if index is None:
        index = ManualIndex.build([*shipped_manuals(), *_uploaded_manuals()])
        cache.set(key, index.dumps(), INDEX_CACHE_SECONDS)
    with _loaded_lock:
        _loaded.version, _loaded.index = version, index
    return index


def _clean_name(name: str) -> str:
    """The uploaded file's own name (no folders), in safe characters: it is shown and cited."""
    base = Path(name.replace("\\", "/")).name.strip()
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = _NAME_UNSAFE.sub("_", stem).strip(" ._")[:150] or "manual"
    return f"{stem}{suffix}"


def manual_upload(*, upload, category=None, user=None) -> ManualDocument:
    """Stores an uploaded txt, md or pdf manual; 400 naming `file` when it is not one, too big, or empty.

    The file is checked whole before anything is stored; if the record cannot be written, the stored file
    is removed again.
    """
    max_bytes = settings.ASSISTANT_MANUAL_MAX_BYTES
    name = _clean_name(upload.name or "")
    if upload.size is not None and upload.size > max_bytes:
        raise ValidationError({"file": [_too_big(upload.size, max_bytes)]})
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError({"file": [_too_big(len(data), max_bytes)]})
    try:
        manual = parse_manual(name, data, category=category.name if category else None, max_bytes=max_bytes)
    except ManualError as exc:
        raise ValidationError({"file": [str(exc)]}) from exc
    if ManualDocument.objects.filter(name=name).exists():
        raise ValidationError(
            {"file": [f"a manual named {name} exists: delete it first, or rename the file"]}
        )
    stored = default_storage.save(
        f"{MANUALS_FOLDER}/{uuid.uuid4().hex}{Path(name).suffix}", ContentFile(data)
    )
    try:
        with transaction.atomic():
            return ManualDocument.objects.create(
                name=name,
                title=manual.title[:300],
                format=manual.format,
                category=category,
                file=stored,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                text=manual.text,
                chunks=len(chunk_manual(manual)),
                uploaded_by=user if user is not None and user.is_authenticated else None,
            )
    except IntegrityError as exc:
        default_storage.delete(stored)
        raise ValidationError({"file": [f"a manual named {name} exists: delete it first"]}) from exc
    except BaseException:
        default_storage.delete(stored)
        raise


def _too_big(size: int, max_bytes: int) -> str:
    return f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit for a manual"


@transaction.atomic
def manual_delete(*, manual: ManualDocument) -> None:
    """Removes the manual; its file goes once the deletion is committed."""
    stored = manual.file.name
    manual.delete()
    transaction.on_commit(lambda: default_storage.delete(stored))


def manual_rows() -> list[dict]:
    """Every manual the assistant searches, shipped first, for the manuals page."""
    rows = [
        {"name": manual.source, "title": manual.title, "category": manual.category, "shipped": True}
        for manual in shipped_manuals()
    ]
    for document in ManualDocument.objects.select_related("category", "uploaded_by"):
        rows.append(
            {
                "name": document.name,
                "title": document.title,
                "category": document.category.name if document.category else None,
                "shipped": False,
                "document": document,
            }
        )
    return rows
