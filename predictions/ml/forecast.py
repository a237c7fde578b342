"""Forecaster: every sensor, the next `horizon` readings, one direct multi-output ridge model.

Each output is the change of one sensor k readings ahead (k = 1..horizon) from its current value,
predicted from the window features (current values, rolling statistics, lags). A linear model keeps
serving to one matrix product and extrapolates trends, which trees cannot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from .base import Predictor
from .errors import TrainingDataError


class Forecaster(Predictor):
    """Uses the default window features like the other kinds (lags can be added in the spec): lags
    measured no better on seed-like data, and one spec lets a machine's four models share one feature
    pass when serving."""

    kind = "forecast"

    def __init__(self, layout, features=None, *, horizon: int = 24, alpha: float = 1.0, **common):
        super().__init__(layout, features, **common)
        if not self.features.include_current:
            raise ValueError("forecast: the feature spec must include current values")
        if not layout.sensors:
            raise ValueError("forecast: at least one numeric sensor is needed")
        if horizon < 1:
            raise ValueError("forecast: horizon must be >= 1")
        self.horizon = horizon
        self.alpha = alpha
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.step: float | None = None
        self.step_unit: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "alpha": self.alpha, "step": self.step, "step_unit": self.step_unit}

    def _targets(self, ordered: pd.DataFrame) -> np.ndarray:
        """Changes k = 1..horizon readings ahead within the same run; NaN where the run ends first."""
        values = ordered.loc[:, self.sensors].to_numpy(dtype=float, na_value=np.nan)
        n = len(values)
        run_start = self.builder.run_starts(ordered)
        run_id = np.cumsum(np.r_[True, run_start[1:] != run_start[:-1]]) if n else np.zeros(0)
        targets = np.full((n, len(self.sensors), self.horizon), np.nan)
        for k in range(1, self.horizon + 1):
            ahead = np.arange(n) + k
            same_run = ahead < n
            same_run[same_run] &= run_id[ahead[same_run]] == run_id[same_run]
            rows = np.flatnonzero(same_run)
            targets[rows, :, k - 1] = values[rows + k] - values[rows]
        return targets.reshape(n, -1)

    def _train(self, X, y, ordered, progress) -> None:
        progress("fit", 0, 1)
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 1e-12, std, 1.0)
        model = Ridge(alpha=self.alpha).fit((X - self.mean) / self.std, y)
        self.coef = model.coef_.T.copy()
        self.intercept = model.intercept_.copy()
        self.step, self.step_unit = self._time_step(ordered)
        progress("fit", 1, 1)

    def _time_step(self, ordered: pd.DataFrame) -> tuple[float | None, str | None]:
        """Median spacing of readings: hours for timestamps, the column's own unit for cycle numbers."""
        column = self.layout.time_column
        if not column or column not in ordered.columns or len(ordered) < 2:
            return None, None
        times = ordered[column]
        groups = (
            ordered[self.layout.run_column] if self.layout.run_column else pd.Series(0, index=ordered.index)
        )
        if pd.api.types.is_datetime64_any_dtype(times):
            steps = times.groupby(groups.to_numpy()).diff().dt.total_seconds() / 3600.0
            unit = "hours"
        else:
            steps = pd.to_numeric(times, errors="coerce").groupby(groups.to_numpy()).diff()
            unit = column
        step = steps.dropna().median()
        return (float(step), unit) if pd.notna(step) else (None, None)

    def _deltas(self, X: np.ndarray) -> np.ndarray:
        return (((X - self.mean) / self.std) @ self.coef + self.intercept).reshape(
            len(X), len(self.sensors), -1
        )

    def _current(self, X: np.ndarray) -> np.ndarray:
        names = self.builder.feature_names
        return X[:, [names.index(s) for s in self.sensors]]

    def _outputs(self, X):
        return {"values": self._current(X)[:, :, None] + self._deltas(X)}

    def _result(self, outputs, i) -> dict[str, Any]:
        values = outputs["values"][i]
        return {
            "kind": self.kind,
            "horizon": self.horizon,
            "step": self.step,
            "step_unit": self.step_unit,
            "values": {sensor: values[j].tolist() for j, sensor in enumerate(self.sensors)},
            "confidence": None,
        }

    def _columns(self, outputs):
        values = outputs["values"]
        return {
            f"{sensor}+{k}": values[:, j, k - 1]
            for j, sensor in enumerate(self.sensors)
            for k in range(1, self.horizon + 1)
        }

    def _errors(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(model, persistence) absolute errors, shape (rows, sensors, horizon)."""
        truth = y.reshape(len(y), len(self.sensors), self.horizon)
        return np.abs(self._deltas(X) - truth), np.abs(truth)

    def _metrics(self, X, y, ordered) -> dict[str, Any]:
        if len(X) == 0:
            raise TrainingDataError("forecast: no rows with a full horizon ahead to evaluate")
        model, persistence = self._errors(X, y)
        mae = model.mean(axis=0)
        naive = persistence.mean(axis=0)
        skill = 1.0 - mae / np.where(naive > 0, naive, np.nan)
        return {
            "n": len(X),
            "horizon": self.horizon,
            "mae_by_horizon": {s: np.round(mae[j], 6).tolist() for j, s in enumerate(self.sensors)},
            "persistence_mae_by_horizon": {
                s: np.round(naive[j], 6).tolist() for j, s in enumerate(self.sensors)
            },
            # 1 - MAE / persistence MAE, averaged over sensors: > 0 beats "no change".
            "skill_by_horizon": np.round(np.nanmean(skill, axis=0), 6).tolist(),
        }

    def _score(self, X, y) -> float:
        model, persistence = self._errors(X, y)
        scale = persistence.mean(axis=(0, 2))
        return -float(np.mean(model.mean(axis=(0, 2)) / np.where(scale > 0, scale, 1.0)))
