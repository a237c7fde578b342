import numpy as np
import pandas as pd
import pytest

from predictions.ml import features as features_module
from predictions.ml.errors import PredictionInputError, TrainingDataError
from predictions.ml.features import DataLayout, DerivedFeature, FeatureBuilder, FeatureSpec


def _slope(values: np.ndarray) -> float:
    return 0.0 if len(values) < 2 else float(np.polyfit(np.arange(len(values)), values, 1)[0])


@pytest.fixture
def shuffled(runs):
    """Readings in random order: the builder must order them by run and time itself."""
    return runs.sample(frac=1.0, random_state=3)


def test_rolling_statistics_match_pandas_per_run(shuffled, layout):
    spec = FeatureSpec(windows=(5,), ewm_spans=(4,), lags=(2,))
    features = FeatureBuilder(layout, spec).fit(shuffled).transform(shuffled)
    ordered = shuffled.sort_values(["cycle", "timestamp"])
    grouped = ordered.groupby("cycle")["temp"]
    expected = {
        "temp__mean_5": grouped.transform(lambda s: s.rolling(5, min_periods=1).mean()),
        "temp__std_5": grouped.transform(lambda s: s.rolling(5, min_periods=1).std(ddof=0)),
        "temp__slope_5": grouped.transform(lambda s: s.rolling(5, min_periods=1).apply(_slope, raw=True)),
        "temp__ewm_4": grouped.transform(lambda s: s.ewm(span=4, adjust=False).mean()),
        "temp__lag_2": grouped.transform(lambda s: s.shift(2).fillna(s.iloc[0])),
    }
    for name, reference in expected.items():
        np.testing.assert_allclose(features.loc[ordered.index, name], reference, atol=1e-8, err_msg=name)


def test_long_frames_computed_in_row_chunks_give_the_same_features(runs, layout, monkeypatch):
    builder = FeatureBuilder(layout, FeatureSpec(windows=(3, 7))).fit(runs)
    whole = builder.transform(runs)
    monkeypatch.setattr(features_module, "ROLLING_CHUNK_ROWS", 37)
    pd.testing.assert_frame_equal(builder.transform(runs), whole, check_exact=False, rtol=1e-12)


def test_windows_restart_at_each_run(runs, layout):
    features = FeatureBuilder(layout, FeatureSpec(windows=(10,))).fit(runs).transform(runs)
    first_rows = runs.groupby("cycle").head(1).index
    # The first reading of a run has nothing before it: zero spread, zero slope, mean = the value itself.
    assert (features.loc[first_rows, "temp__std_10"] == 0).all()
    assert (features.loc[first_rows, "temp__slope_10"] == 0).all()
    np.testing.assert_allclose(features.loc[first_rows, "temp__mean_10"], runs.loc[first_rows, "temp"])


def test_serving_last_row_equals_the_training_row(runs, layout):
    spec = FeatureSpec(windows=(5, 10), ewm_spans=(3,), lags=(1, 4))
    builder = FeatureBuilder(layout, spec).fit(runs)
    training = builder.transform(runs)
    run = runs[runs["cycle"] == 2]
    # A window of exactly history_rows readings reproduces the training features (up to the ewm's memory).
    window = run.iloc[40 : 40 + spec.history_rows()].drop(columns=["cycle", "rul"])
    served = builder.last_rows([window])[0]
    np.testing.assert_allclose(served, training.loc[window.index[-1]].to_numpy(), rtol=0.01)


def test_whole_run_features_need_the_run_from_its_start(runs, layout):
    spec = FeatureSpec(windows=(5,), baseline_rows=10, include_age=True)
    assert spec.history_rows() is None
    builder = FeatureBuilder(layout, spec).fit(runs)
    features = builder.transform(runs)
    run = runs[runs["cycle"] == 1]
    early_mean = run["temp"].iloc[:10].mean()
    row = run.index[50]
    assert features.loc[row, "age"] == 50
    assert features.loc[row, "temp__value_minus_baseline"] == pytest.approx(run.loc[row, "temp"] - early_mean)
    # Served from the run's start, the baseline and age are the training ones.
    np.testing.assert_allclose(builder.last_rows([run.loc[:row]])[0], features.loc[row].to_numpy())


def test_early_life_baseline_never_looks_ahead(runs, layout):
    builder = FeatureBuilder(layout, FeatureSpec(windows=(), baseline_rows=10)).fit(runs)
    features = builder.transform(runs)
    run = runs[runs["cycle"] == 0]
    third = run.index[2]
    assert features.loc[third, "temp__value_minus_baseline"] == pytest.approx(
        run.loc[third, "temp"] - run["temp"].iloc[:3].mean()
    )


def test_gaps_are_filled_forward_within_the_run_then_with_the_training_median(runs, layout):
    builder = FeatureBuilder(layout, FeatureSpec(windows=())).fit(runs)
    window = runs[runs["cycle"] == 0].iloc[:5].copy()
    window.loc[window.index[3], "temp"] = np.nan
    window["vibration"] = np.nan
    features = builder.transform(window)
    assert features.loc[window.index[3], "temp"] == window.loc[window.index[2], "temp"]
    assert (features["vibration"] == runs["vibration"].median()).all()


def test_derived_channels_and_categorical_one_hot():
    frame = pd.DataFrame({"torque": [2.0, 3.0], "speed": [10.0, 20.0], "type": ["L", "H"]})
    layout = DataLayout(sensors=("torque", "speed"), categorical=("type",))
    spec = FeatureSpec(windows=(), derived=(DerivedFeature("power", "mul", "torque", "speed"),))
    builder = FeatureBuilder(layout, spec).fit(frame)
    assert builder.feature_names == ["torque", "speed", "power", "type=H", "type=L"]
    unseen = pd.DataFrame({"torque": [1.0], "speed": [5.0], "type": ["M"]})
    np.testing.assert_allclose(builder.transform(unseen).to_numpy(), [[1.0, 5.0, 5.0, 0.0, 0.0]])
    assert builder.feature_groups["type"] == [3, 4]


def test_spec_round_trips_through_plain_data():
    spec = FeatureSpec(
        windows=(3,), ewm_spans=(5,), derived=({"name": "d", "op": "sub", "left": "a", "right": "b"},)
    )
    assert FeatureSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"windows": (1,)}, "at least 2"), ({"statistics": ("median",)}, "unknown"), ({"lags": (0,)}, "lags")],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeatureSpec(**kwargs)


def test_missing_columns_and_empty_windows_are_clear_errors(runs, layout):
    with pytest.raises(TrainingDataError, match="missing"):
        FeatureBuilder(layout).fit(runs.drop(columns=["temp"]))
    builder = FeatureBuilder(layout).fit(runs)
    with pytest.raises(PredictionInputError, match="no readings"):
        builder.matrix(runs.iloc[:0])
