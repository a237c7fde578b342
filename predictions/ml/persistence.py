"""Model files: the fitted predictor (joblib) plus a metadata JSON beside it.

The JSON is read first and on its own: it records the library versions the file was made with, so a
model from another scikit-learn (whose pickles are not portable) is refused with IncompatibleModelError
before anything is unpickled, and the registry can show a model's details without loading it.
Both files are written to a temporary name and renamed, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import scipy
import sklearn

from .errors import IncompatibleModelError, ModelLoadError, ModelNotFittedError

FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def metadata_path(path) -> Path:
    return Path(path).with_suffix(".json")


def save_model(predictor, path) -> dict[str, Any]:
    """Write `path` (joblib) and its `.json` metadata atomically; returns the metadata."""
    if predictor.report is None:
        raise ModelNotFittedError(f"{predictor.kind}: fit the model before saving it")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT_VERSION,
        "kind": predictor.kind,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "sensors": predictor.sensors,
        **predictor.describe(),
    }
    _atomic_write(path, lambda handle: joblib.dump(predictor, handle, compress=3))
    _atomic_write(metadata_path(path), lambda handle: handle.write(json.dumps(metadata, indent=1).encode()))
    return metadata


def read_metadata(path) -> dict[str, Any]:
    """The metadata JSON of a model file; ModelLoadError when it is missing or unreadable."""
    meta_file = metadata_path(path)
    try:
        return json.loads(meta_file.read_text())
    except FileNotFoundError as error:
        raise ModelLoadError(path, f"metadata file {meta_file.name} is missing") from error
    except (OSError, ValueError) as error:
        raise ModelLoadError(path, f"metadata file {meta_file.name} is unreadable: {error}") from error


def incompatibility(metadata: dict[str, Any]) -> str | None:
    """Why a file with this metadata cannot be loaded here, or None when it can."""
    if metadata.get("format") != FORMAT_VERSION:
        return f"model file format {metadata.get('format')} (this version reads format {FORMAT_VERSION})"
    saved, here = metadata.get("versions", {}), library_versions()
    # scikit-learn only supports unpickling with the exact version; numpy and pandas break across majors.
    if saved.get("sklearn") != here["sklearn"]:
        return f"made with scikit-learn {saved.get('sklearn')}, this is {here['sklearn']}"
    for library in ("numpy", "pandas"):
        if str(saved.get(library, "")).split(".")[0] != here[library].split(".")[0]:
            return f"made with {library} {saved.get(library)}, this is {here[library]}"
    return None


def load_model(path):
    """Load a predictor saved by save_model; ModelLoadError (retrain) instead of any other failure."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(path, "model file is missing")
    metadata = read_metadata(path)
    if reason := incompatibility(metadata):
        raise IncompatibleModelError(path, reason, metadata)
    try:
        predictor = joblib.load(path)
    except Exception as error:  # a corrupt or foreign pickle can raise almost anything
        raise ModelLoadError(
            path, f"the file no longer loads ({type(error).__name__}: {error})", metadata
        ) from error
    if getattr(predictor, "kind", None) != metadata.get("kind"):
        raise ModelLoadError(path, "the file does not hold the model its metadata describes", metadata)
    return predictor


def _atomic_write(path: Path, write) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
