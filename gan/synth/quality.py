"""Quality of a synthetic frame against the seed it was trained on (SPEC §3.4)."""

import contextlib
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, wasserstein_distance
from sdmetrics.reports import QualityReport
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error
from threadpoolctl import threadpool_limits

# Lower bounds of each verdict, best first; below the last is "fail".
VERDICT_THRESHOLDS = (("excellent", 0.90), ("good", 0.85), ("acceptable", 0.75))
NON_SENSOR_COLUMNS = frozenset({"timestamp", "cycle", "machine_id", "rul"})


def verdict(score: float) -> str:
    """excellent ≥ 0.90, good ≥ 0.85, acceptable ≥ 0.75, else fail."""
    for name, lower_bound in VERDICT_THRESHOLDS:
        if score >= lower_bound:
            return name
    return "fail"


def sensor_columns(frame: pd.DataFrame) -> list[str]:
    """Every column except timestamp, cycle, machine_id and rul, in frame order."""
    return [column for column in frame.columns if column not in NON_SENSOR_COLUMNS]


def evaluate_quality(
    seed: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    sensors: list[str] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Compare synthetic rows with the seed rows the synthesizer was trained on.

    holdout: seed rows kept out of training (the last cycle); when given, the TSTR utility is scored on
    it: one RUL model trained on synthetic rows, one on the seed rows, MAE of each on the holdout.
    threads: cap on the OpenMP/BLAS threads of the RUL models (None leaves the process default).
    Returns plain JSON-serialisable data.
    """
    started = time.perf_counter()
    sensors = sensor_columns(seed) if sensors is None else list(sensors)
    columns = ["rul", *sensors]
    missing = [column for column in columns if column not in synthetic.columns]
    if missing:
        raise ValueError(f"synthetic: missing columns {missing}")
    seed, synthetic = seed[columns], synthetic[columns]

    scores = _sdmetrics_scores(seed, synthetic)
    per_sensor = [_sensor_figures(seed, synthetic, sensor) for sensor in sensors]
    worst = max(per_sensor, key=lambda figures: figures["corr_gap"])
    result = {
        "quality": scores,
        "verdict": verdict(scores["overall"]),
        "rul": _distribution_figures(seed["rul"], synthetic["rul"]),
        "sensors": per_sensor,
        "max_corr_gap": worst["corr_gap"],
        "worst_corr_sensor": worst["name"],
        "tstr": None,
        "rows": {"seed": len(seed), "synthetic": len(synthetic)},
    }
    if holdout is not None:
        limit = threadpool_limits(limits=threads) if threads else contextlib.nullcontext()
        with limit:
            result["tstr"] = tstr_utility(seed, synthetic, holdout, sensors)
    result["seconds"] = time.perf_counter() - started
    return result


def _sdmetrics_scores(seed: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    columns = {column: {"sdtype": "numerical"} for column in seed.columns}
    metadata = {"tables": {"machine": {"columns": columns}}}
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns warn per pair; the score handles them
        report.generate({"machine": seed}, {"machine": synthetic}, metadata, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]
    return {
        "overall": float(report.get_score()),
        "column_shapes": float(properties["Column Shapes"]),
        "column_pair_trends": float(properties["Column Pair Trends"]),
    }


def _distribution_figures(seed_values: pd.Series, synthetic_values: pd.Series) -> dict[str, float]:
    wasserstein = float(wasserstein_distance(seed_values, synthetic_values))
    spread = float(seed_values.std())
    return {
        "ks": float(ks_2samp(seed_values, synthetic_values).statistic),
        "wasserstein": wasserstein,
        # In seed standard deviations, so sensors in different units compare.
        "wasserstein_std": wasserstein / spread if spread > 0 else 0.0,
        "mean_seed": float(seed_values.mean()),
        "mean_synthetic": float(synthetic_values.mean()),
        "std_seed": spread,
        "std_synthetic": float(synthetic_values.std()),
    }


def _sensor_figures(seed: pd.DataFrame, synthetic: pd.DataFrame, sensor: str) -> dict[str, Any]:
    corr_seed = _pearson(seed["rul"], seed[sensor])
    corr_synthetic = _pearson(synthetic["rul"], synthetic[sensor])
    return {
        "name": sensor,
        **_distribution_figures(seed[sensor], synthetic[sensor]),
        "corr_seed": corr_seed,
        "corr_synthetic": corr_synthetic,
        "corr_gap": abs(corr_seed - corr_synthetic),
    }


def _pearson(first: pd.Series, second: pd.Series) -> float:
    if first.std() == 0 or second.std() == 0:
        return 0.0  # a constant column carries no linear link
    return float(np.corrcoef(first, second)[0, 1])


def tstr_utility(
    seed: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, sensors: list[str]
) -> dict[str, float]:
    """Train-on-synthetic / test-on-real: MAE on the holdout of an RUL model trained on each set."""
    mae_synthetic = _rul_model_mae(synthetic, holdout, sensors)
    mae_seed = _rul_model_mae(seed, holdout, sensors)
    return {
        "mae_synthetic": mae_synthetic,
        "mae_seed": mae_seed,
        "ratio": mae_synthetic / mae_seed if mae_seed > 0 else float("inf"),
        "holdout_rows": len(holdout),
    }


def _rul_model_mae(train: pd.DataFrame, holdout: pd.DataFrame, sensors: list[str]) -> float:
    model = HistGradientBoostingRegressor(random_state=0)
    model.fit(train[sensors].to_numpy(), train["rul"].to_numpy())
    return float(mean_absolute_error(holdout["rul"], model.predict(holdout[sensors].to_numpy())))
