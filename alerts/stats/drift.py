"""Does recent telemetry still look like the data a model learned from?

Per sensor: the population stability index (PSI) over bins cut at the reference's quantiles, and the
two-sample Kolmogorov–Smirnov statistic. PSI rules of thumb: < 0.1 stable, 0.1–0.2 moderate shift,
> 0.2 significant shift.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

DEFAULT_BINS = 10
# An empty bin would make PSI infinite: proportions are floored at this.
EPSILON = 1e-4


@dataclass(frozen=True)
class SensorDrift:
    sensor: str
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    reference_mean: float | None
    recent_mean: float | None
    reference_rows: int
    recent_rows: int
    drifted: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    sensors: list[SensorDrift]
    max_psi: float | None
    drifted: bool

    @property
    def drifted_sensors(self) -> list[str]:
        return [item.sensor for item in self.sensors if item.drifted]

    def to_dict(self) -> dict:
        return {
            "sensors": [item.to_dict() for item in self.sensors],
            "max_psi": self.max_psi,
            "drifted": self.drifted,
        }


def _finite(values) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def _edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (repeated values collapse into fewer bins); bins are
    (-inf, e1], (e1, e2], …, (ek, inf)."""
    quantiles = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(quantiles)


def psi(reference, recent, *, bins: int = DEFAULT_BINS) -> float:
    """Population stability index of `recent` against `reference` (both 1-d, non-finite values dropped)."""
    reference, recent = _finite(reference), _finite(recent)
    if not len(reference) or not len(recent):
        raise ValueError("psi needs values in both samples")
    edges = _edges(reference, bins)
    expected = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, recent, side="left"), minlength=len(edges) + 1)
    expected = np.maximum(expected / len(reference), EPSILON)
    actual = np.maximum(actual / len(recent), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def sensor_drift(
    sensor: str,
    reference,
    recent,
    *,
    psi_threshold: float,
    bins: int = DEFAULT_BINS,
    min_rows: int = 30,
) -> SensorDrift:
    """One sensor's PSI and KS; both None when either sample has fewer than `min_rows` finite values."""
    reference, recent = _finite(reference), _finite(recent)
    means = (
        float(reference.mean()) if len(reference) else None,
        float(recent.mean()) if len(recent) else None,
    )
    if len(reference) < min_rows or len(recent) < min_rows:
        return SensorDrift(sensor, None, None, None, *means, len(reference), len(recent), drifted=False)
    index = psi(reference, recent, bins=bins)
    ks = ks_2samp(reference, recent)
    return SensorDrift(
        sensor,
        round(index, 6),
        round(float(ks.statistic), 6),
        float(ks.pvalue),
        *means,
        len(reference),
        len(recent),
        drifted=index >= psi_threshold,
    )


def frame_drift(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    sensors: Sequence[str],
    *,
    psi_threshold: float,
    bins: int = DEFAULT_BINS,
    min_rows: int = 30,
) -> DriftResult:
    """Every sensor present in both frames; drifted when any sensor's PSI reaches the threshold."""
    results = [
        sensor_drift(
            name,
            reference[name].to_numpy(),
            recent[name].to_numpy(),
            psi_threshold=psi_threshold,
            bins=bins,
            min_rows=min_rows,
        )
        for name in sensors
        if name in reference.columns and name in recent.columns
    ]
    scored = [item.psi for item in results if item.psi is not None]
    return DriftResult(
        sensors=results,
        max_psi=max(scored) if scored else None,
        drifted=any(item.drifted for item in results),
    )


def life_stage_rows(
    reference: pd.DataFrame, rul_column: str, targets, *, rows_per_target: int = 5, min_rows: int = 30
) -> pd.DataFrame | None:
    """Reference rows matched to the recent readings' life stage: for each target RUL (one per recent
    reading), the `rows_per_target` reference rows nearest in RUL. None without RUL in the reference or
    with fewer than `min_rows` targets.

    Degradation moves every sensor on purpose: a worn machine compared with a whole life of training data
    would look drifted. Compared with the same life stage, drift is the data's own change (a moved or
    recalibrated sensor, another duty, another machine).
    """
    targets = _finite(targets)
    if rul_column not in reference.columns or len(targets) < min_rows:
        return None
    ordered = reference.sort_values(rul_column, kind="stable").reset_index(drop=True)
    rul = ordered[rul_column].to_numpy(dtype=float)
    count = min(rows_per_target, len(ordered))
    starts = np.clip(np.searchsorted(rul, targets) - count // 2, 0, len(ordered) - count)
    positions = (starts[:, None] + np.arange(count)[None, :]).ravel()
    return ordered.iloc[positions].reset_index(drop=True)
