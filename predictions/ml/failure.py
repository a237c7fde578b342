"""Failure classifier: a binary failure label → probability of failure.

Failures are rare (3.4 % in AI4I), so classes are weighted and the decision threshold is not 0.5: it is
the threshold with the best F1 on out-of-fold probabilities from folds inside the training rows,
so the hold-out (or a caller's test fold) never influences it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from .base import Predictor
from .boosting import fit_boosting
from .errors import TrainingDataError
from .features import FeatureSpec
from .metrics import best_f1_threshold, binary_metrics


class FailureClassifier(Predictor):
    kind = "failure"
    # Rows of a failure table are often independent records (one product, one job): no windows by default.
    default_features = FeatureSpec(windows=())

    def __init__(
        self,
        layout,
        features=None,
        *,
        threshold_folds: int = 3,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        max_depth: int | None = 6,
        min_samples_leaf: int = 20,
        balance_classes: bool = True,
        **common,
    ):
        super().__init__(layout, features, **common)
        self.balance_classes = balance_classes
        if threshold_folds < 2:
            raise ValueError("failure: threshold_folds must be >= 2")
        self.threshold_folds = threshold_folds
        self.estimator = HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=max_leaf_nodes,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            random_state=self.random_state,
        )
        self.model = None
        self.threshold: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        keys = (
            "max_iter",
            "learning_rate",
            "max_leaf_nodes",
            "max_depth",
            "min_samples_leaf",
        )
        return {
            "balance_classes": self.balance_classes,
            "threshold": self.threshold,
            "threshold_folds": self.threshold_folds,
            **{k: self.estimator.get_params()[k] for k in keys},
        }

    def _check_training_frame(self, frame: pd.DataFrame) -> None:
        if not self.layout.label_column or self.layout.label_column not in frame.columns:
            raise TrainingDataError("failure: the data needs a binary failure label column")

    def _targets(self, ordered: pd.DataFrame) -> np.ndarray:
        label = pd.to_numeric(ordered[self.layout.label_column], errors="coerce").to_numpy(dtype=float)
        if not np.isin(label[np.isfinite(label)], (0.0, 1.0)).all():
            raise TrainingDataError(
                f"failure: label column {self.layout.label_column!r} must hold only 0 and 1"
            )
        return label

    def _stratify(self, y):
        return y

    def _train(self, X, y, ordered, progress) -> None:
        y = y.astype(int)
        if y.sum() < self.threshold_folds or (1 - y).sum() < self.threshold_folds:
            raise TrainingDataError(
                f"failure: need at least {self.threshold_folds} failures and non-failures to train"
            )
        out_of_fold = np.zeros(len(y))
        folds = list(self._folds(X, y, ordered))
        for number, (fit_rows, score_rows) in enumerate(folds, start=1):
            model = fit_boosting(
                self.estimator, X[fit_rows], y[fit_rows], _quiet, balance_classes=self.balance_classes
            )
            out_of_fold[score_rows] = model.predict_proba(X[score_rows])[:, 1]
            progress("threshold", number, len(folds))
        self.threshold = best_f1_threshold(y, out_of_fold)
        self.model = fit_boosting(self.estimator, X, y, progress, balance_classes=self.balance_classes)

    def _folds(self, X, y, ordered):
        """Stratified folds; whole runs stay together when the rows come from runs of one machine."""
        run = self.layout.run_column
        if run and run in ordered.columns and ordered[run].nunique() >= self.threshold_folds:
            splitter = StratifiedGroupKFold(
                self.threshold_folds, shuffle=True, random_state=self.random_state
            )
            return splitter.split(X, y, ordered[run].to_numpy())
        splitter = StratifiedKFold(self.threshold_folds, shuffle=True, random_state=self.random_state)
        return splitter.split(X, y)

    def _probability(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]

    def _outputs(self, X):
        return {"probability": self._probability(X)}

    def _result(self, outputs, i) -> dict[str, Any]:
        probability = float(outputs["probability"][i])
        failure = probability >= self.threshold
        return {
            "kind": self.kind,
            "probability": probability,
            "threshold": self.threshold,
            "failure": bool(failure),
            "confidence": probability if failure else 1.0 - probability,
        }

    def _columns(self, outputs):
        return {"probability": outputs["probability"], "failure": outputs["probability"] >= self.threshold}

    def _metrics(self, X, y, ordered) -> dict[str, Any]:
        return binary_metrics(y.astype(int), self._probability(X), self.threshold)

    def _score(self, X, y) -> float:
        predicted = (self._probability(X) >= self.threshold).astype(int)
        return float(f1_score(y.astype(int), predicted, zero_division=0))


def _quiet(stage: str, current: int, total: int) -> None:
    """Inner threshold folds report per fold, not per boosting chunk."""
