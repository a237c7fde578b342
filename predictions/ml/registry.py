"""The model kinds by name, as the API and the model registry spell them."""

from __future__ import annotations

from collections.abc import Sequence

from .anomaly import AnomalyDetector
from .base import Predictor
from .classifier import HealthClassifier
from .failure import FailureClassifier
from .features import DataLayout, FeatureSpec
from .forecast import Forecaster
from .rul import RulRegressor

KINDS: dict[str, type[Predictor]] = {
    "classification": HealthClassifier,
    "rul": RulRegressor,
    "anomaly": AnomalyDetector,
    "forecast": Forecaster,
    "failure": FailureClassifier,
}
# Category facts each kind takes; create_predictor passes them only where they are used.
_USES_MAX_RUL = ("classification", "anomaly")
_USES_THRESHOLDS = ("classification",)
_USES_UNIT = ("rul",)


def create_predictor(
    kind: str,
    layout: DataLayout,
    features: FeatureSpec | None = None,
    *,
    max_rul: float | None = None,
    thresholds: Sequence[float] | None = None,
    unit: str | None = None,
    **params,
) -> Predictor:
    """An unfitted predictor of `kind`.

    The category's max_rul and health thresholds, and the RUL unit, may be given for any kind: each
    kind receives those it uses. `params` are the kind's own keyword arguments (see each class).
    """
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ValueError(f"kind: unknown {kind!r}; choose from {sorted(KINDS)}") from None
    if max_rul is not None and kind in _USES_MAX_RUL:
        params["max_rul"] = max_rul
    if thresholds is not None and kind in _USES_THRESHOLDS:
        params["thresholds"] = thresholds
    if unit is not None and kind in _USES_UNIT:
        params["unit"] = unit
    return cls(layout, features, **params)
