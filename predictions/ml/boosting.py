"""Gradient boosting fitted in chunks of iterations, so a long fit reports progress and can be cancelled."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from .trees import FlatEnsemble

PROGRESS_CHUNKS = 10


def fit_boosting(
    template: HistGradientBoostingRegressor | HistGradientBoostingClassifier,
    X: np.ndarray,
    y: np.ndarray,
    progress,
    *,
    stage: str = "fit",
    balance_classes: bool = False,
) -> FlatEnsemble:
    """Fit a copy of `template` (warm start, chunk by chunk) and return it flattened for serving.

    balance_classes repeats the rows of rarer classes (as class_weight="balanced" weighs them).
    Repetition rather than sample weights: with weights, scikit-learn 1.9 bins every feature through
    a slow weighted-percentile loop (over a minute per fit on 80 features, measured here).
    """
    if balance_classes:
        X, y = _balanced(X, y)
    model = clone(template)
    total = model.max_iter
    model.set_params(warm_start=True, early_stopping=False)
    step = max(1, -(-total // PROGRESS_CHUNKS))
    for done in range(step, total + step, step):
        model.set_params(max_iter=min(done, total))
        model.fit(X, y)
        progress(stage, min(done, total), total)
    model.set_params(warm_start=False)
    return FlatEnsemble(model)


def _balanced(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each class repeated about (largest class size / its size) times."""
    classes, counts = np.unique(y, return_counts=True)
    repeats = np.rint(counts.max() / counts).astype(int)
    per_row = repeats[np.searchsorted(classes, y)]
    rows = np.repeat(np.arange(len(y)), per_row)
    return X[rows], y[rows]
