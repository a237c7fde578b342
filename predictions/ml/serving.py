"""Serving many predictions at once (a fleet refresh): one vectorised call per model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Predictor, Window
from .cache import ModelCache, default_cache
from .errors import ModelLoadError, PredictionInputError


def predict_many(
    requests: Sequence[tuple[Predictor | str, Window]], *, cache: ModelCache | None = None
) -> list[dict[str, Any]]:
    """Results in request order for (model or model path, window) pairs.

    Features are computed once per window for all models that compute them identically (the same
    feature signature: e.g. the classification, RUL and anomaly models trained on one machine's data),
    and each model predicts all its windows in one vectorised call. A request whose model no longer
    loads, or whose readings are unusable, gets {"error": {"code", "message"}} instead of failing the
    batch: "retrain" for a model file, "bad_input" for readings.
    """
    cache = cache or default_cache
    results: list[dict[str, Any] | None] = [None] * len(requests)
    groups: dict[str, list[tuple[int, Predictor]]] = {}
    for position, (model, _) in enumerate(requests):
        try:
            predictor = model if isinstance(model, Predictor) else cache.get(model)
        except ModelLoadError as error:
            results[position] = _error("retrain", str(error))
            continue
        groups.setdefault(predictor.feature_signature, []).append((position, predictor))
    for members in groups.values():
        windows = {id(requests[position][1]): requests[position][1] for position, _ in members}
        try:
            rows = members[0][1].feature_rows(list(windows.values()))
        except PredictionInputError:
            for position, predictor in members:
                results[position] = _predict_one(predictor, requests[position][1])
            continue
        row_of = {key: row for row, key in enumerate(windows)}
        by_model: dict[int, list[int]] = {}
        for position, predictor in members:
            by_model.setdefault(id(predictor), []).append(position)
        predictors = {id(predictor): predictor for _, predictor in members}
        for key, positions in by_model.items():
            X = rows[[row_of[id(requests[position][1])] for position in positions]]
            for position, answer in zip(positions, predictors[key].results_from_features(X), strict=True):
                results[position] = answer
    return results


def _predict_one(predictor: Predictor, window: Window) -> dict[str, Any]:
    """Isolates the request with bad readings when a batch fails."""
    try:
        return predictor.predict(window)
    except PredictionInputError as error:
        return _error("bad_input", str(error))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
