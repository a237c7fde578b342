"""Shared fixtures: small synthetic degradation runs, the public datasets and small fitted models."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from predictions.ml.features import DataLayout, FeatureSpec

DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
SENSORS = ("temp", "vibration", "current")
MAX_RUL = 100.0
# Small, fast boosting for tests: the behaviour under test does not need a strong model.
SMALL_BOOSTING = {"max_iter": 30, "learning_rate": 0.2}
SMALL_FEATURES = FeatureSpec(windows=(4, 8))


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tests that fit scikit-learn directly stay on one thread too (the package limits its own fits)."""
    with threadpool_limits(limits=1):
        yield


def degradation_runs(runs: int = 4, rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Run-to-failure cycles like the platform's seed data: RUL in hours, sensors drifting with wear."""
    rng = np.random.default_rng(seed)
    parts, start = [], pd.Timestamp("2024-01-01")
    for run in range(runs):
        n = int(rows * rng.uniform(0.8, 1.0))
        rul = np.linspace(MAX_RUL * n / rows, 0.0, n)
        wear = 1.0 - rul / MAX_RUL
        parts.append(
            pd.DataFrame(
                {
                    "cycle": run,
                    "timestamp": start + pd.to_timedelta(np.arange(n), "h"),
                    "rul": rul,
                    "temp": 40 + 35 * wear + rng.normal(0, 0.5, n),
                    "vibration": 2.5 + 5 * wear**2 + rng.normal(0, 0.15, n),
                    "current": 8 + 6 * wear + rng.normal(0, 0.3, n),
                }
            )
        )
        start += pd.Timedelta(hours=n)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def runs() -> pd.DataFrame:
    return degradation_runs()


@pytest.fixture(scope="session")
def layout() -> DataLayout:
    return DataLayout(sensors=SENSORS, run_column="cycle", time_column="timestamp", rul_column="rul")


@pytest.fixture(scope="session")
def max_rul() -> float:
    return MAX_RUL


@pytest.fixture(scope="session")
def small() -> dict:
    """Keyword arguments for a small, fast model of any kind (no permutation importance)."""
    return {"features": SMALL_FEATURES, "importance_repeats": 0}


@pytest.fixture(scope="session")
def small_boosting() -> dict:
    return dict(SMALL_BOOSTING)


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"public datasets not found at {DATASETS}")
    return DATASETS
