"""Files of the predictions app (model files, uploads, prepared data) through Django's storage API.

Names are made here, never taken from a request: predictions/machines/<machine pk>/<kind>/<uuid><suffix>
for a machine's files, predictions/categories/<category pk>/… for category models. A deleted machine's
folder goes with it (apps.py subscribes to machines.signals.machine_deleted).

The core loads models from local paths: a local disk storage hands out its own path; a remote one
(S3) is downloaded once into VAR_DIR/model-cache, where the core's LRU keys it by path and mtime.
"""

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from gan.services.files import open_file

ROOT = "predictions"


def machine_folder(machine_pk: int) -> str:
    return f"{ROOT}/machines/{int(machine_pk)}"


def category_folder(category_pk: int) -> str:
    return f"{ROOT}/categories/{int(category_pk)}"


def new_name(folder: str, kind: str, suffix: str = "") -> str:
    return f"{folder}/{kind}/{uuid.uuid4().hex}{suffix}"


def model_names(folder: str) -> tuple[str, str]:
    """A fresh (model file, metadata file) pair of storage names: the same stem, .joblib and .json."""
    stem = new_name(folder, "models")
    return f"{stem}.joblib", f"{stem}.json"


def local_model_path(name: str) -> Path:
    """A local path of a stored model file, its metadata JSON beside it."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        pass
    local = Path(settings.VAR_DIR) / "model-cache" / name
    meta_name = name.rsplit(".", 1)[0] + ".json"
    for stored, copy in ((meta_name, local.with_suffix(".json")), (name, local)):
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            partial = copy.with_name(f".{copy.name}.{uuid.uuid4().hex}")
            with open_file(stored) as source, partial.open("wb") as target:
                shutil.copyfileobj(source, target)
            partial.replace(copy)
    return local
