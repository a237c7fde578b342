"""Shared bench helpers: every bench ends with one JSON object on the last line of stdout."""

import json
from typing import Any


def print_result(result: dict[str, Any]) -> None:
    """Print result as one JSON line (NumPy scalars and other odd types become floats or strings)."""
    print(json.dumps(result, default=_plain, separators=(",", ":")), flush=True)


def _plain(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
