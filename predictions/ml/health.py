"""Health states from the RUL fraction h = rul / max_rul (SPEC §4); thresholds are per category."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HEALTH_STATES = ("Healthy", "Degrading", "Warning", "Critical")
# Lower bounds of h for Healthy, Degrading and Warning: h > 0.5 Healthy, 0.25 < h <= 0.5 Degrading,
# 0.1 < h <= 0.25 Warning, h <= 0.1 Critical.
DEFAULT_THRESHOLDS = (0.5, 0.25, 0.1)


def validate_thresholds(thresholds: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(t) for t in thresholds)
    if len(values) != 3 or not 1 > values[0] > values[1] > values[2] > 0:
        raise ValueError(f"thresholds: need three fractions falling strictly within (0, 1), got {values}")
    return values


def health_state(fraction, thresholds: Sequence[float] = DEFAULT_THRESHOLDS):
    """State code(s) 0..3 for RUL fraction(s); a scalar in, an int out; an array in, an int array out."""
    bounds = validate_thresholds(thresholds)
    h = np.asarray(fraction, dtype=float)
    # Each bound the fraction does not exceed moves the state one step towards Critical.
    states = sum((h <= bound).astype(int) for bound in bounds)
    return int(states) if states.ndim == 0 else states


def health_fraction(rul: np.ndarray, runs: np.ndarray | None, max_rul: float | None) -> np.ndarray:
    """h = rul / max_rul; without a max_rul each run's own starting RUL (its life) is the reference."""
    rul = np.asarray(rul, dtype=float)
    if max_rul is not None:
        if max_rul <= 0:
            raise ValueError("max_rul must be positive")
        return rul / float(max_rul)
    groups = np.zeros(len(rul), dtype=int) if runs is None else np.unique(runs, return_inverse=True)[1]
    life = np.zeros(groups.max() + 1 if len(groups) else 0)
    np.maximum.at(life, groups, np.nan_to_num(rul, nan=0.0))
    return rul / np.where(life[groups] > 0, life[groups], 1.0)
