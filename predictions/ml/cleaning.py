"""Cleaning report for an uploaded table: missing values, duplicates, outliers, constant columns.

Everything is reported, nothing is changed: outliers near the end of a run are often the failure
itself, so only the user can decide to drop them. The report is a JSON-able dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# 1.4826 × MAD estimates the standard deviation of normal data; 3.5 is the usual robust-z cut-off.
MAD_TO_SIGMA = 1.4826
MEAN_ABS_TO_SIGMA = 1.2533
ROBUST_Z_LIMIT = 3.5


def robust_z(values: pd.Series) -> pd.Series:
    """|x - median| in robust standard deviations (MAD; mean absolute deviation when the MAD is 0)."""
    numbers = pd.to_numeric(values, errors="coerce")
    median = numbers.median()
    deviation = (numbers - median).abs()
    scale = MAD_TO_SIGMA * deviation.median()
    if not scale > 0:
        scale = MEAN_ABS_TO_SIGMA * deviation.mean()
    if not scale > 0:
        return pd.Series(0.0, index=values.index)
    return deviation / scale


def cleaning_report(
    frame: pd.DataFrame,
    *,
    key_columns: Sequence[str] = (),
    z_limit: float = ROBUST_Z_LIMIT,
) -> dict[str, Any]:
    """Per-column missing values, outliers (robust z-score > z_limit) and constancy; duplicate rows/keys.

    key_columns (e.g. run and time) count rows sharing the same key, which are readings recorded twice.
    """
    rows = len(frame)
    columns = [_column_report(frame[name], z_limit) for name in frame.columns]
    report: dict[str, Any] = {
        "rows": rows,
        "columns": len(frame.columns),
        "duplicate_rows": int(frame.duplicated().sum()),
        "constant_columns": [c["column"] for c in columns if c["constant"]],
        "columns_with_missing": [c["column"] for c in columns if c["missing"]],
        "z_limit": z_limit,
        "per_column": columns,
    }
    keys = [c for c in key_columns if c and c in frame.columns]
    if keys:
        report["duplicate_keys"] = {"columns": keys, "rows": int(frame.duplicated(subset=keys).sum())}
    return report


def _column_report(column: pd.Series, z_limit: float) -> dict[str, Any]:
    rows = len(column)
    missing = int(column.isna().sum())
    present = column.dropna()
    report: dict[str, Any] = {
        "column": str(column.name),
        "dtype": str(column.dtype),
        "missing": missing,
        "missing_fraction": round(missing / rows, 6) if rows else 0.0,
        "unique": int(present.nunique()),
        "constant": bool(present.nunique() <= 1),
        "outliers": 0,
        "outlier_fraction": 0.0,
    }
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) and len(present):
        outliers = int((robust_z(present) > z_limit).sum())
        report.update(
            outliers=outliers,
            outlier_fraction=round(outliers / rows, 6),
            min=_number(present.min()),
            median=_number(present.median()),
            max=_number(present.max()),
        )
    return report


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
