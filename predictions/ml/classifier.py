"""Health-state classifier: 4 states from the RUL fraction (SPEC §4), probabilities → confidence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score

from .base import Predictor
from .boosting import fit_boosting
from .errors import TrainingDataError
from .health import DEFAULT_THRESHOLDS, HEALTH_STATES, health_fraction, health_state, validate_thresholds
from .metrics import classification_metrics

STATES = np.arange(len(HEALTH_STATES))


class HealthClassifier(Predictor):
    """Labels each training row with its health state from RUL and learns the state from sensor features.

    max_rul: the category's maximum RUL (h = rul / max_rul); None uses each run's own life.
    thresholds: the category's (Healthy, Degrading, Warning) lower bounds of h.
    """

    kind = "classification"

    def __init__(
        self,
        layout,
        features=None,
        *,
        max_rul: float | None = None,
        thresholds=DEFAULT_THRESHOLDS,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        max_depth: int | None = 6,
        balance_classes: bool = True,
        **common,
    ):
        super().__init__(layout, features, **common)
        self.balance_classes = balance_classes
        self.max_rul = max_rul
        self.thresholds = validate_thresholds(thresholds)
        self.estimator = HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=max_leaf_nodes,
            max_depth=max_depth,
            random_state=self.random_state,
        )
        self.model = None

    @property
    def params(self) -> dict[str, Any]:
        keys = ("max_iter", "learning_rate", "max_leaf_nodes", "max_depth")
        return {
            "balance_classes": self.balance_classes,
            "max_rul": self.max_rul,
            "thresholds": list(self.thresholds),
            **{k: self.estimator.get_params()[k] for k in keys},
        }

    def _check_training_frame(self, frame: pd.DataFrame) -> None:
        if not self.layout.rul_column or self.layout.rul_column not in frame.columns:
            raise TrainingDataError("classification: an RUL column is needed to label health states")

    def _targets(self, ordered: pd.DataFrame) -> np.ndarray:
        rul = ordered[self.layout.rul_column].to_numpy(dtype=float)
        runs = ordered[self.layout.run_column].to_numpy() if self.layout.run_column else None
        states = health_state(health_fraction(rul, runs, self.max_rul), self.thresholds).astype(float)
        return np.where(np.isfinite(rul), states, np.nan)

    def _stratify(self, y):
        return y

    def _train(self, X, y, ordered, progress) -> None:
        if len(np.unique(y)) < 2:
            raise TrainingDataError("classification: the training rows hold a single health state")
        self.model = fit_boosting(
            self.estimator, X, y.astype(int), progress, balance_classes=self.balance_classes
        )

    def _probabilities(self, X: np.ndarray) -> np.ndarray:
        """Probabilities for all four states (a state never seen in training gets 0)."""
        known = self.model.predict_proba(X)
        full = np.zeros((len(X), len(STATES)))
        full[:, self.model.estimator.classes_.astype(int)] = known
        return full

    def _outputs(self, X):
        probabilities = self._probabilities(X)
        return {"state": probabilities.argmax(axis=1), "probabilities": probabilities}

    def _result(self, outputs, i) -> dict[str, Any]:
        probabilities = outputs["probabilities"][i]
        state = int(outputs["state"][i])
        return {
            "kind": self.kind,
            "state": state,
            "state_name": HEALTH_STATES[state],
            "confidence": float(probabilities[state]),
            "probabilities": {name: float(p) for name, p in zip(HEALTH_STATES, probabilities, strict=True)},
        }

    def _columns(self, outputs):
        columns = {"state": outputs["state"], "confidence": outputs["probabilities"].max(axis=1)}
        for code, name in enumerate(HEALTH_STATES):
            columns[f"p_{name.lower()}"] = outputs["probabilities"][:, code]
        return columns

    def _metrics(self, X, y, ordered) -> dict[str, Any]:
        predicted = self._probabilities(X).argmax(axis=1)
        metrics = classification_metrics(y.astype(int), predicted, labels=STATES.tolist())
        metrics["state_names"] = list(HEALTH_STATES)
        return metrics

    def _score(self, X, y) -> float:
        predicted = self._probabilities(X).argmax(axis=1)
        return float(f1_score(y.astype(int), predicted, average="macro", zero_division=0))
