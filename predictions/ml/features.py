"""Window features — one code path for training and serving.

Training computes a feature row for every reading of every run; serving computes the same thing on a
recent window of one machine's readings and keeps the last row. Windows never cross runs: rolling
statistics are truncated at the start of each run, exactly as they are at the start of a serving window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from .errors import PredictionInputError, TrainingDataError

STATISTICS = ("mean", "std", "slope")
DERIVED_OPS = {
    "sub": np.subtract,
    "add": np.add,
    "mul": np.multiply,
    "div": lambda a, b: np.divide(a, np.where(b == 0, np.nan, b)),
}
# An exponential average forgets its start after a few spans: a serving window this long matches training.
EWM_MEMORY_SPANS = 3
# Rows per chunk of rolling statistics (bounds the window x row x channel temporaries on long frames).
ROLLING_CHUNK_ROWS = 20_000


def _as_tuple(values: Iterable | None) -> tuple:
    return tuple(values) if values is not None else ()


@dataclass(frozen=True)
class DataLayout:
    """Which columns of a frame play which role.

    sensors: numeric inputs, in model order. categorical: text/label inputs (one-hot encoded).
    run_column: one id per run (run-to-failure cycle, engine unit); windows never cross it.
    time_column: orders readings within a run (timestamp or cycle number).
    rul_column / label_column: the regression target / the binary failure label, when present.
    """

    sensors: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    run_column: str | None = None
    time_column: str | None = None
    rul_column: str | None = None
    label_column: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "sensors", _as_tuple(self.sensors))
        object.__setattr__(self, "categorical", _as_tuple(self.categorical))
        if not self.sensors and not self.categorical:
            raise TrainingDataError("layout: at least one sensor or categorical column is needed")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sensors": list(self.sensors), "categorical": list(self.categorical)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataLayout:
        return cls(**data)


@dataclass(frozen=True)
class DerivedFeature:
    """A channel computed from two others before windowing, e.g. power = torque × speed."""

    name: str
    op: str
    left: str
    right: str

    def __post_init__(self):
        if self.op not in DERIVED_OPS:
            raise ValueError(f"derived feature {self.name}: op must be one of {sorted(DERIVED_OPS)}")


@dataclass(frozen=True)
class FeatureSpec:
    """What to compute from each channel (sensors and derived channels).

    windows/statistics: rolling statistics over the last w readings of the run (mean, std, slope per step).
    ewm_spans: trailing exponential smoothing. baseline_rows: difference between the smoothed level and the
    mean of the run's first rows (a unit's early-life baseline); needs the whole run at serving, as does
    include_age (readings since the run started). lags: raw values k readings back.
    """

    windows: tuple[int, ...] = (5, 10, 20)
    statistics: tuple[str, ...] = STATISTICS
    ewm_spans: tuple[int, ...] = ()
    baseline_rows: int = 0
    include_current: bool = True
    include_age: bool = False
    lags: tuple[int, ...] = ()
    derived: tuple[DerivedFeature, ...] = ()

    def __post_init__(self):
        for name in ("windows", "statistics", "ewm_spans", "lags"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        derived = tuple(d if isinstance(d, DerivedFeature) else DerivedFeature(**d) for d in self.derived)
        object.__setattr__(self, "derived", derived)
        if unknown := set(self.statistics) - set(STATISTICS):
            raise ValueError(f"statistics: unknown {sorted(unknown)}; choose from {list(STATISTICS)}")
        if any(w < 2 for w in self.windows) or any(s < 2 for s in self.ewm_spans):
            raise ValueError("windows and ewm_spans must be at least 2 readings")
        if any(k < 1 for k in self.lags) or self.baseline_rows < 0:
            raise ValueError("lags must be >= 1 and baseline_rows >= 0")

    @property
    def needs_whole_run(self) -> bool:
        return self.baseline_rows > 0 or self.include_age

    def history_rows(self) -> int | None:
        """Readings a serving window needs for training-identical features; None = the whole run."""
        if self.needs_whole_run:
            return None
        spans = [EWM_MEMORY_SPANS * s for s in self.ewm_spans]
        return max([1, *self.windows, *spans, *(k + 1 for k in self.lags)])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(**data)


@dataclass
class FeatureBuilder:
    """Turns readings into a feature matrix. `fit` learns only fill values and categorical levels."""

    layout: DataLayout
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    fill_values: np.ndarray | None = None
    levels: dict[str, list[str]] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    # source column (sensor, derived channel, categorical column, "age") → its feature columns
    feature_groups: dict[str, list[int]] = field(default_factory=dict)
    # Digest of everything the features depend on: builders with equal signatures give equal rows.
    signature: str = ""

    @property
    def channels(self) -> list[str]:
        return [*self.layout.sensors, *(d.name for d in self.spec.derived)]

    def fit(self, frame: pd.DataFrame) -> FeatureBuilder:
        missing = [c for c in (*self.layout.sensors, *self.layout.categorical) if c not in frame.columns]
        if missing:
            raise TrainingDataError(f"columns missing from the data: {missing}")
        values = self._channel_values(frame)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(values.shape[1])
        self.fill_values = np.nan_to_num(medians, nan=0.0)
        self.levels = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist()) for c in self.layout.categorical
        }
        self._name_features()
        described = json.dumps([self.layout.to_dict(), self.spec.to_dict(), self.levels], sort_keys=True)
        self.signature = hashlib.sha256(described.encode() + self.fill_values.tobytes()).hexdigest()
        return self

    def order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Readings sorted by run, then time; the original order breaks ties."""
        keys = [c for c in (self.layout.run_column, self.layout.time_column) if c and c in frame.columns]
        if not keys or (len(keys) == 1 and _non_decreasing(frame[keys[0]].to_numpy())):
            return frame  # the usual serving window, already in time order: no sort to pay for
        return frame.sort_values(keys, kind="stable")

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature matrix for already ordered readings (see `order`), one row per reading."""
        return self._assemble(*self._inputs(frame))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features as a frame, rows in run/time order, keeping the input's index labels."""
        ordered = self.order(frame)
        return pd.DataFrame(self.matrix(ordered), index=ordered.index, columns=self.feature_names)

    def last_rows(self, windows: list[pd.DataFrame]) -> np.ndarray:
        """Serving: the feature row of the newest reading of each window.

        The windows are stacked as consecutive runs and featurised in one pass (the same code as
        training): a fleet refresh pays for one set of numpy calls, not one per machine.
        """
        parts = [self._inputs(self.order(w)) for w in windows]
        lengths = np.array([len(values) for values, _, _ in parts])
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        values = np.vstack([values for values, _, _ in parts])
        run_start = np.concatenate(
            [start + offset for (_, start, _), offset in zip(parts, offsets, strict=True)]
        )
        categorical = [np.vstack(blocks) for blocks in zip(*(cats for _, _, cats in parts), strict=True)]
        return self._assemble(values, run_start, categorical)[offsets + lengths - 1]

    def run_starts(self, frame: pd.DataFrame) -> np.ndarray:
        """For every row, the row index where its run begins (0 for all rows without a run column)."""
        n = len(frame)
        run = self.layout.run_column
        if not run or run not in frame.columns or n == 0:
            return np.zeros(n, dtype=np.int64)
        ids = frame[run].to_numpy()
        new_run = np.ones(n, dtype=bool)
        new_run[1:] = ids[1:] != ids[:-1]
        return np.maximum.accumulate(np.where(new_run, np.arange(n), 0))

    # -- internals -------------------------------------------------------------------------------

    def _inputs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(channel values with gaps filled, run start of every row, one-hot blocks) of ordered readings."""
        if self.fill_values is None:
            raise TrainingDataError("feature builder used before fit")
        if len(frame) == 0:
            raise PredictionInputError("no readings: a window needs at least one reading")
        run_start = self.run_starts(frame)
        values = self._filled(self._channel_values(frame), run_start)
        return values, run_start, [self._one_hot(frame[c], c) for c in self.layout.categorical]

    def _assemble(
        self, values: np.ndarray, run_start: np.ndarray, categorical: list[np.ndarray]
    ) -> np.ndarray:
        blocks = [self._window_blocks(values, run_start)]
        if self.spec.include_age:
            blocks.append((np.arange(len(values)) - run_start)[:, None].astype(float))
        return np.hstack([*blocks, *categorical])

    def _channel_values(self, frame: pd.DataFrame) -> np.ndarray:
        # Column by column: selecting a sub-frame costs more than the features of a serving window.
        columns = {s: frame[s].to_numpy(dtype=float, na_value=np.nan) for s in self.layout.sensors}
        for derived in self.spec.derived:
            with np.errstate(all="ignore"):
                columns[derived.name] = DERIVED_OPS[derived.op](columns[derived.left], columns[derived.right])
        if not columns:
            return np.empty((len(frame), 0))
        return np.column_stack([columns[c] for c in self.channels])

    def _filled(self, values: np.ndarray, run_start: np.ndarray) -> np.ndarray:
        """Forward fill gaps within each run; what is still missing takes the training median."""
        if not np.isnan(values).any():
            return values
        n = len(values)
        rows = np.arange(n)[:, None]
        valid = ~np.isnan(values)
        last_valid = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
        usable = last_valid >= run_start[:, None]
        picked = values[np.clip(last_valid, 0, None), np.arange(values.shape[1])]
        return np.where(usable, picked, self.fill_values)

    def _window_blocks(self, values: np.ndarray, run_start: np.ndarray) -> np.ndarray:
        spec = self.spec
        n, width = values.shape
        if width == 0:
            return np.empty((n, 0))
        position = np.arange(n) - run_start
        bounds = _run_bounds(run_start)
        blocks = [values] if spec.include_current else []
        if spec.windows:
            blocks.extend(_rolling(values, position, bounds, spec.windows, spec.statistics))
        smoothed = [_ewm(values, bounds, s) for s in spec.ewm_spans]
        blocks.extend(smoothed)
        if spec.baseline_rows:
            baseline = _early_life_mean(values, position, spec.baseline_rows)
            levels = smoothed or [values]
            blocks.extend(level - baseline for level in levels)
        for lag in spec.lags:
            back = np.arange(n) - np.minimum(lag, position)
            blocks.append(values[back])
        return np.hstack(blocks)

    def _one_hot(self, column: pd.Series, name: str) -> np.ndarray:
        levels = self.levels.get(name, [])
        text = column.astype(str).to_numpy()
        return (text[:, None] == np.asarray(levels, dtype=object)[None, :]).astype(float)

    def _name_features(self) -> None:
        spec = self.spec
        per_channel: list[str] = ["{c}"] if spec.include_current else []
        per_channel += [f"{{c}}__{stat}_{w}" for w in spec.windows for stat in spec.statistics]
        per_channel += [f"{{c}}__ewm_{s}" for s in spec.ewm_spans]
        if spec.baseline_rows:
            smooth_names = [f"ewm_{s}" for s in spec.ewm_spans] or ["value"]
            per_channel += [f"{{c}}__{name}_minus_baseline" for name in smooth_names]
        per_channel += [f"{{c}}__lag_{k}" for k in spec.lags]
        channels = self.channels
        # Blocks are laid out template by template, each block holding every channel.
        names = [template.format(c=c) for template in per_channel for c in channels]
        groups = {c: [i * len(channels) + j for i in range(len(per_channel))] for j, c in enumerate(channels)}
        if spec.include_age:
            groups["age"] = [len(names)]
            names.append("age")
        for column, levels in self.levels.items():
            groups[column] = list(range(len(names), len(names) + len(levels)))
            names += [f"{column}={level}" for level in levels]
        self.feature_names = names
        self.feature_groups = groups


def _non_decreasing(values: np.ndarray) -> bool:
    return len(values) < 2 or bool(np.all(values[1:] >= values[:-1]))


def _run_bounds(run_start: np.ndarray) -> list[tuple[int, int]]:
    """(first, past-last) row of each run."""
    starts = [0, *(np.flatnonzero(run_start[1:] != run_start[:-1]) + 1).tolist()]
    return list(pairwise([*starts, len(run_start)]))


def _rolling(values: np.ndarray, position: np.ndarray, bounds, windows, statistics) -> list[np.ndarray]:
    """Rolling mean/std/slope per window from running sums, truncated at each run's start.

    All windows are computed at once (arrays shaped window x row x channel): a serving window is tiny,
    so the number of numpy calls, not their size, sets the cost. Long training frames go by row chunks
    to bound the memory of those arrays.
    """
    # Centring on each run's first reading keeps the running sums small (a 9000 rpm shaft varying by a
    # few rpm keeps full precision) without changing any statistic.
    firsts = np.repeat([begin for begin, _ in bounds], [end - begin for begin, end in bounds])
    centred = values - values[firsts]
    zero = np.zeros((1, values.shape[1]))
    running = {
        "sum": np.vstack([zero, np.cumsum(centred, axis=0)]),
        "square": np.vstack([zero, np.cumsum(centred**2, axis=0)]) if "std" in statistics else None,
        "weighted": np.vstack([zero, np.cumsum(position[:, None] * centred, axis=0)])
        if "slope" in statistics
        else None,
    }
    chunks = [
        _window_statistics(running, values[firsts[rows]], position[rows], rows, windows, statistics)
        for rows in _row_chunks(len(values))
    ]
    return chunks[0] if len(chunks) == 1 else [np.vstack(parts) for parts in zip(*chunks, strict=True)]


def _row_chunks(n: int) -> list[np.ndarray]:
    return [np.arange(start, min(start + ROLLING_CHUNK_ROWS, n)) for start in range(0, n, ROLLING_CHUNK_ROWS)]


def _window_statistics(running, first_values, position, index, windows, statistics) -> list[np.ndarray]:
    count = np.minimum(np.asarray(windows)[:, None], position + 1)  # window x row
    first = index + 1 - count
    n = count.astype(float)[:, :, None]
    total = running["sum"][index + 1] - running["sum"][first]
    mean = total / n
    results = {"mean": mean + first_values}
    if "std" in statistics:
        second = (running["square"][index + 1] - running["square"][first]) / n
        results["std"] = np.where(n > 1, np.sqrt(np.clip(second - mean**2, 0.0, None)), 0.0)
    if "slope" in statistics:
        # Least-squares slope against the reading's position within its window (0..count-1).
        shift = (position - count + 1)[:, :, None]
        ramp = running["weighted"][index + 1] - running["weighted"][first] - shift * total
        t_sum = n * (n - 1) / 2
        denominator = n * n * (n - 1) * (2 * n - 1) / 6 - t_sum**2
        safe = np.where(denominator > 0, denominator, 1.0)
        results["slope"] = np.where(denominator > 0, (n * ramp - t_sum * total) / safe, 0.0)
    return [results[stat][i] for i in range(len(windows)) for stat in statistics]


def _ewm(values: np.ndarray, bounds, span: int) -> np.ndarray:
    """Trailing exponential smoothing restarted at each run, starting from the run's first reading."""
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values)
    for begin, end in bounds:
        block = values[begin:end]
        initial = (1.0 - alpha) * block[:1]
        out[begin:end], _ = lfilter([alpha], [1.0, alpha - 1.0], block, axis=0, zi=initial)
    return out


def _early_life_mean(values: np.ndarray, position: np.ndarray, rows: int) -> np.ndarray:
    """Mean of the run's first `rows` readings, using only readings already seen (no look-ahead)."""
    n = len(values)
    index = np.arange(n)
    sums = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    run_first = index - position
    last = run_first + np.minimum(position, rows - 1)
    count = (last - run_first + 1).astype(float)
    return (sums[last + 1] - sums[run_first]) / count[:, None]
