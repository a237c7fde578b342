"""Helpers shared by the ML benches (cmapss, ai4i, ims, predict_core): data location and timing."""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One thread per numeric library unless the caller says otherwise: the host is shared.
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"


def dataset(relative: str) -> Path:
    """A file of ../shared/datasets; exits with a clear message where the data is not beside the repo."""
    path = DATASETS / relative
    if not path.is_file():
        raise SystemExit(f"missing {path}: the public datasets are expected at ../shared/datasets")
    return path


def timed(function: Callable, *args, **kwargs):
    """(result, seconds)."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started
