"""Anomaly detector trained on healthy data: a robust Mahalanobis distance on window features.

The features of healthy readings are scaled by their median and inter-quartile range, their covariance
is estimated with Ledoit-Wolf shrinkage (many rolling features are strongly correlated), and the score
is the Mahalanobis distance divided by sqrt(number of features), about 1 for a typical healthy window.
The alarm threshold is a high quantile of the scores of healthy readings the covariance never saw.
A score splits exactly into per-sensor shares, which tells the user which sensor drives an alarm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from .base import Predictor, holdout_mask
from .errors import TrainingDataError
from .health import health_fraction
from .metrics import binary_metrics

# Inter-quartile range of a standard normal: turns an IQR into a standard-deviation-like scale.
IQR_TO_SIGMA = 1.349
TOP_CONTRIBUTIONS = 5


class AnomalyDetector(Predictor):
    """Trained on healthy rows: h > healthy_above when an RUL column exists, else every row.

    With an RUL column, readings with h <= pre_failure_at_or_below are the labelled pre-failure windows
    the hold-out metrics score (precision/recall of the flag, PR-AUC of the score) against healthy ones.
    threshold_quantile: the share of unseen healthy readings that stay below the alarm threshold.
    """

    kind = "anomaly"

    def __init__(
        self,
        layout,
        features=None,
        *,
        max_rul: float | None = None,
        healthy_above: float = 0.5,
        pre_failure_at_or_below: float = 0.1,
        threshold_quantile: float = 0.99,
        **common,
    ):
        super().__init__(layout, features, **common)
        if not 0 < pre_failure_at_or_below < healthy_above < 1:
            raise ValueError("anomaly: need 0 < pre_failure_at_or_below < healthy_above < 1")
        self.max_rul = max_rul
        self.healthy_above = healthy_above
        self.pre_failure_at_or_below = pre_failure_at_or_below
        self.threshold_quantile = threshold_quantile
        self.center: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.precision: np.ndarray | None = None
        self.threshold: float | None = None
        self.group_names: np.ndarray | None = None
        self.group_matrix: np.ndarray | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {
            "max_rul": self.max_rul,
            "healthy_above": self.healthy_above,
            "pre_failure_at_or_below": self.pre_failure_at_or_below,
            "threshold_quantile": self.threshold_quantile,
            "threshold": self.threshold,
        }

    def _has_rul(self) -> bool:
        return bool(self.layout.rul_column)

    def _targets(self, ordered: pd.DataFrame) -> np.ndarray:
        """The health fraction h of each row; 1.0 (healthy) for data without an RUL column."""
        if not self._has_rul():
            return np.ones(len(ordered))
        if self.layout.rul_column not in ordered.columns:
            raise TrainingDataError(f"anomaly: RUL column {self.layout.rul_column!r} missing from the data")
        rul = ordered[self.layout.rul_column].to_numpy(dtype=float)
        runs = ordered[self.layout.run_column].to_numpy() if self.layout.run_column else None
        return health_fraction(rul, runs, self.max_rul)

    def _train(self, X, y, ordered, progress) -> None:
        healthy = y > self.healthy_above
        if healthy.sum() < 20:
            raise TrainingDataError(f"anomaly: only {int(healthy.sum())} healthy rows; at least 20 needed")
        X_healthy, runs_healthy = X[healthy], ordered[healthy]
        # Healthy readings the covariance does not see set the threshold, so it holds on new data.
        unseen = holdout_mask(runs_healthy, self.layout, 0.2, self.random_state, time_ordered=True)
        progress("fit", 0, 2)
        fit_rows = X_healthy[~unseen]
        self.center = np.median(fit_rows, axis=0)
        q75, q25 = np.percentile(fit_rows, [75, 25], axis=0)
        spread = np.maximum((q75 - q25) / IQR_TO_SIGMA, fit_rows.std(axis=0))
        self.scale = np.where(spread > 1e-12, spread, 1.0)
        covariance = LedoitWolf().fit(self._standardised(fit_rows)).covariance_
        self.precision = np.linalg.pinv(covariance)
        # Sums each sensor's feature terms in one product: its share of the distance.
        groups = self.builder.feature_groups
        self.group_names = np.asarray(list(groups), dtype=object)
        self.group_matrix = np.zeros((X.shape[1], len(groups)))
        for column, features in enumerate(groups.values()):
            self.group_matrix[features, column] = 1.0
        progress("fit", 1, 2)
        self.threshold = float(np.quantile(self._scores(X_healthy[unseen]), self.threshold_quantile))
        progress("fit", 2, 2)

    def _standardised(self, X: np.ndarray) -> np.ndarray:
        return (X - self.center) / self.scale

    def _terms(self, X: np.ndarray) -> np.ndarray:
        """Per-feature terms z_i (P z)_i; they sum to the squared Mahalanobis distance."""
        z = self._standardised(X)
        return z * (z @ self.precision)

    @staticmethod
    def _from_terms(terms: np.ndarray) -> np.ndarray:
        return np.sqrt(np.clip(terms.sum(axis=1), 0.0, None) / terms.shape[1])

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return self._from_terms(self._terms(X))

    def _outputs(self, X):
        terms = self._terms(X)
        per_sensor = terms @ self.group_matrix
        return {"score": self._from_terms(terms), "per_sensor": per_sensor, "sensor_names": self.group_names}

    def _result(self, outputs, i) -> dict[str, Any]:
        score = float(outputs["score"][i])
        shares = np.clip(outputs["per_sensor"][i], 0.0, None)
        total = shares.sum()
        top = np.argsort(shares)[::-1][:TOP_CONTRIBUTIONS]
        return {
            "kind": self.kind,
            "score": score,
            "threshold": self.threshold,
            "normalized_score": score / self.threshold if self.threshold else None,
            "is_anomaly": bool(score > self.threshold),
            "contributions": {
                str(outputs["sensor_names"][j]): float(shares[j] / total) if total > 0 else 0.0 for j in top
            },
            "confidence": None,
        }

    def _columns(self, outputs):
        return {"score": outputs["score"], "is_anomaly": outputs["score"] > self.threshold}

    def _labels(self, y: np.ndarray) -> np.ndarray:
        """1 pre-failure, 0 healthy, -1 in between (neither: a drifting machine is not a false alarm)."""
        return np.where(y <= self.pre_failure_at_or_below, 1, np.where(y > self.healthy_above, 0, -1))

    def _metrics(self, X, y, ordered) -> dict[str, Any]:
        scores = self._scores(X)
        labels = self._labels(y)
        healthy = labels == 0
        metrics: dict[str, Any] = {
            "n": len(X),
            "threshold": self.threshold,
            "alarm_rate": float(np.mean(scores > self.threshold)),
            "false_alarm_rate": float(np.mean(scores[healthy] > self.threshold)) if healthy.any() else None,
        }
        labelled = labels >= 0
        if self._has_rul() and (labels == 1).any() and healthy.any():
            flagged = binary_metrics(labels[labelled], scores[labelled], self.threshold)
            metrics["pre_failure"] = {
                "definition": f"h <= {self.pre_failure_at_or_below} against healthy h > {self.healthy_above}",
                **{
                    k: flagged[k]
                    for k in ("n", "positives", "precision", "recall", "f1", "pr_auc", "roc_auc")
                },
            }
        return metrics

    def _score(self, X, y) -> float | None:
        labels = self._labels(y)
        labelled = labels >= 0
        if not self._has_rul() or len(np.unique(labels[labelled])) < 2:
            return None
        return float(roc_auc_score(labels[labelled], self._scores(X[labelled])))
