"""Each model kind: fit (with progress), predict one window and a batch, evaluate, save and load."""

import json

import numpy as np
import pandas as pd
import pytest

from predictions.ml.errors import ModelNotFittedError, PredictionInputError, TrainingDataError
from predictions.ml.features import DataLayout, FeatureSpec
from predictions.ml.health import HEALTH_STATES
from predictions.ml.persistence import load_model
from predictions.ml.registry import KINDS, create_predictor


def _params(kind, small_boosting):
    params = {
        "classification": small_boosting,
        "rul": small_boosting,
        "anomaly": {},
        "forecast": {"horizon": 6},
    }
    return params[kind]


@pytest.fixture(scope="module")
def fitted(runs, layout, small, max_rul, small_boosting):
    """One fitted model per time-series kind, with the progress calls its fit made."""
    models = {}
    for kind in ("classification", "rul", "anomaly", "forecast"):
        calls = []
        # The category's facts go to every kind; each takes what it uses.
        model = create_predictor(
            kind,
            layout,
            small["features"],
            max_rul=max_rul,
            thresholds=(0.5, 0.25, 0.1),
            **_params(kind, small_boosting),
        )
        model.importance_repeats = 1
        report = model.fit(runs, progress=lambda *call, calls=calls: calls.append(call))
        models[kind] = (model, report, calls)
    return models


@pytest.fixture
def window(runs):
    """Recent readings of one machine, as the serving side receives them (no RUL, no run column)."""
    return runs[runs["cycle"] == 3].iloc[60:80].drop(columns=["cycle", "rul"])


@pytest.mark.parametrize("kind", ["classification", "rul", "anomaly", "forecast"])
def test_fit_reports_metrics_importance_and_progress(fitted, kind, layout):
    _, report, calls = fitted[kind]
    assert json.loads(json.dumps(report)) == report  # stored as JSON by the registry
    assert report["kind"] == kind
    assert report["rows"]["holdout"] > 0 and report["runs"] == 4
    assert report["metrics"], "hold-out metrics are computed at training"
    importance = report["feature_importance"]
    assert {item["feature"] for item in importance} == set(layout.sensors)
    stages = [stage for stage, _, _ in calls]
    assert stages[0] == "features" and stages[-1] == "done"
    assert "importance" in stages
    assert all(0 <= current <= total for _, current, total in calls)


def test_health_classifier(fitted, window, runs):
    model, report, _ = fitted["classification"]
    assert report["metrics"]["accuracy"] > 0.7
    assert np.array(report["metrics"]["confusion_matrix"]).shape == (4, 4)
    result = model.predict(window)
    assert result["state_name"] == HEALTH_STATES[result["state"]]
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    assert result["confidence"] == max(result["probabilities"].values())
    # The end of a run is Critical; a fresh start is Healthy.
    last_run = runs[runs["cycle"] == 0]
    assert model.predict(last_run)["state_name"] == "Critical"
    assert model.predict(last_run.iloc[:10])["state_name"] == "Healthy"


def test_rul_regressor_interval(fitted, window, runs):
    model, report, _ = fitted["rul"]
    metrics = report["metrics"]
    assert metrics["mae"] < 10 and metrics["r2"] > 0.8
    assert 0.5 <= metrics["interval"]["coverage"] <= 1.0
    assert metrics["interval"]["mean_width"] > 0
    result = model.predict(window)
    assert result["lower"] <= result["rul"] <= result["upper"]
    truth = runs[runs["cycle"] == 3]["rul"].iloc[79]
    assert abs(result["rul"] - truth) < 15
    evaluated = model.evaluate(runs[runs["cycle"] == 2])
    assert {"mae", "rmse", "r2", "interval"} <= evaluated.keys()


def test_anomaly_detector_flags_the_end_of_life(fitted, runs):
    model, report, _ = fitted["anomaly"]
    assert report["metrics"]["false_alarm_rate"] <= 0.1
    run = runs[runs["cycle"] == 1]
    healthy, failing = model.predict(run.iloc[:30]), model.predict(run)
    assert not healthy["is_anomaly"] and failing["is_anomaly"]
    assert failing["normalized_score"] > 1 > healthy["normalized_score"]
    assert sum(failing["contributions"].values()) == pytest.approx(1.0)


def test_anomaly_detector_without_rul_trains_on_every_row(runs):
    healthy = runs[runs["rul"] > 80]
    layout = DataLayout(sensors=("temp", "vibration"), run_column="cycle", time_column="timestamp")
    model = create_predictor("anomaly", layout, FeatureSpec(windows=(4,)), importance_repeats=0)
    report = model.fit(healthy)
    assert "pre_failure" not in report["metrics"] and report["feature_importance"] == []
    assert model.predict(runs[runs["cycle"] == 0])["is_anomaly"]


def test_forecaster_beats_persistence_and_predicts_each_sensor(fitted, window, layout):
    model, report, _ = fitted["forecast"]
    assert len(report["metrics"]["skill_by_horizon"]) == 6
    assert set(report["metrics"]["mae_by_horizon"]) == set(layout.sensors)
    result = model.predict(window)
    assert result["step"] == 1.0 and result["step_unit"] == "hours"
    assert {sensor: len(values) for sensor, values in result["values"].items()} == dict.fromkeys(
        layout.sensors, 6
    )
    # Wear drives the temperature up: the forecast keeps rising from the last reading.
    assert result["values"]["temp"][-1] > window["temp"].iloc[-5:].mean()


def test_failure_classifier_tunes_its_threshold_inside_training(small_boosting):
    rng = np.random.default_rng(5)
    n = 1500
    frame = pd.DataFrame(
        {"load": rng.normal(size=n), "heat": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)}
    )
    risk = 2.5 * frame["load"] + 1.5 * frame["heat"] + (frame["kind"] == "b")
    frame["failed"] = (risk + rng.normal(0, 0.5, n) > 3.5).astype(int)
    layout = DataLayout(sensors=("load", "heat"), categorical=("kind",), label_column="failed")
    model = create_predictor("failure", layout, importance_repeats=1, **small_boosting)
    report = model.fit(frame)
    json.dumps(report)
    metrics = report["metrics"]
    assert metrics["positives"] > 0 and metrics["f1"] > 0.6 and metrics["pr_auc"] > 0.7
    # The hold-out metrics are the first fit's; the model refit on every row tuned its own threshold.
    assert 0 < metrics["threshold"] < 1 and 0 < model.threshold < 1
    assert report["feature_importance"][0]["feature"] == "load"
    result = model.predict(pd.DataFrame({"load": [3.0], "heat": [2.0], "kind": ["b"]}))
    assert result["failure"] and result["probability"] > model.threshold


def _leaves(value):
    """Every number and label in a (nested) result, in a stable order."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in [key, *_leaves(value[key])]]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_batch_equals_single_predictions(fitted, runs):
    windows = [runs[runs["cycle"] == c].iloc[10:40] for c in range(4)]
    for kind in ("classification", "rul", "anomaly", "forecast"):
        model = fitted[kind][0]
        batch, single = _leaves(model.predict_batch(windows)), _leaves([model.predict(w) for w in windows])
        numbers = [isinstance(leaf, float) for leaf in single]
        assert [b for b, n in zip(batch, numbers, strict=True) if not n] == [
            s for s, n in zip(single, numbers, strict=True) if not n
        ]
        # Summation order differs between one row and many: equal up to rounding.
        assert np.allclose(
            [b for b, n in zip(batch, numbers, strict=True) if n],
            [s for s, n in zip(single, numbers, strict=True) if n],
            rtol=1e-9,
            atol=1e-12,
        )


def test_readings_may_be_records_or_columns(fitted, window):
    model = fitted["rul"][0]
    expected = model.predict(window)
    assert model.predict(window.to_dict(orient="records")) == expected
    assert model.predict(window.to_dict(orient="list")) == expected


@pytest.mark.parametrize("kind", ["classification", "rul", "anomaly", "forecast"])
def test_save_and_load_give_the_same_predictions(fitted, kind, window, tmp_path):
    model = fitted[kind][0]
    metadata = model.save(tmp_path / f"{kind}.joblib")
    assert metadata["kind"] == kind and metadata["sensors"] == list(model.sensors)
    assert metadata["report"]["metrics"] == model.report["metrics"]
    loaded = load_model(tmp_path / f"{kind}.joblib")
    assert loaded.predict(window) == model.predict(window)


def test_predict_frame_scores_every_reading(fitted, runs):
    model = fitted["rul"][0]
    scored = model.predict_frame(runs[runs["cycle"] == 1])
    assert list(scored.columns) == ["rul", "lower", "upper"] and len(scored) == (runs["cycle"] == 1).sum()
    assert scored["rul"].iloc[0] > scored["rul"].iloc[-1]


def test_bad_input_and_misuse_are_clear_errors(fitted, window, layout, runs):
    model = fitted["rul"][0]
    with pytest.raises(PredictionInputError, match="temp"):
        model.predict(window.drop(columns=["temp"]))
    with pytest.raises(PredictionInputError, match="empty"):
        model.predict(window.iloc[:0])
    with pytest.raises(PredictionInputError, match="non-numeric"):
        model.predict(window.assign(temp="hot"))
    with pytest.raises(ModelNotFittedError):
        create_predictor("rul", layout).predict(window)
    with pytest.raises(TrainingDataError, match="RUL column"):
        create_predictor("rul", DataLayout(sensors=layout.sensors)).fit(runs)
    with pytest.raises(TrainingDataError, match="label"):
        create_predictor("failure", layout).fit(runs)
    with pytest.raises(ValueError, match="kind"):
        create_predictor("crystal_ball", layout)


def test_a_raising_progress_callback_cancels_training(runs, layout, small):
    class Cancelled(Exception):
        pass

    def cancel_at_fit(stage, current, total):
        if stage == "fit":
            raise Cancelled

    model = create_predictor("rul", layout, small["features"], max_iter=20)
    with pytest.raises(Cancelled):
        model.fit(runs, progress=cancel_at_fit)
    assert model.report is None
    with pytest.raises(ModelNotFittedError):
        model.predict(runs.iloc[:20])


def test_every_kind_is_registered():
    assert set(KINDS) == {"classification", "rul", "anomaly", "forecast", "failure"}
