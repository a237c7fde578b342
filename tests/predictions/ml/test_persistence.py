"""Model files: metadata, version checks, corrupt files, the per-process LRU cache and batch serving."""

import json
import os

import pytest

from predictions.ml.cache import ModelCache
from predictions.ml.errors import IncompatibleModelError, ModelLoadError, ModelNotFittedError
from predictions.ml.persistence import library_versions, load_model, metadata_path, read_metadata
from predictions.ml.registry import create_predictor
from predictions.ml.serving import predict_many


@pytest.fixture(scope="module")
def model(runs, layout, small):
    fitted = create_predictor("anomaly", layout, small["features"], importance_repeats=0)
    fitted.fit(runs)
    return fitted


@pytest.fixture
def saved(model, tmp_path):
    path = tmp_path / "anomaly.joblib"
    model.save(path)
    return path


@pytest.fixture
def window(runs):
    return runs[runs["cycle"] == 1].iloc[:30]


def _rewrite_metadata(path, **changes):
    metadata = read_metadata(path)
    for key, value in changes.items():
        if key == "versions":
            metadata["versions"].update(value)
        else:
            metadata[key] = value
    metadata_path(path).write_text(json.dumps(metadata))


def test_metadata_records_versions_layout_and_features(saved, model):
    metadata = read_metadata(saved)
    assert metadata["versions"] == library_versions()
    assert {"sklearn", "numpy", "pandas"} <= metadata["versions"].keys()
    assert metadata["layout"]["sensors"] == list(model.sensors)
    assert metadata["feature_names"] == model.feature_names
    assert metadata["history_rows"] == model.history_rows
    # Written atomically: no temporary files are left beside the model.
    assert sorted(p.name for p in saved.parent.iterdir()) == ["anomaly.joblib", "anomaly.json"]


def test_another_sklearn_version_is_refused_before_unpickling(saved):
    _rewrite_metadata(saved, versions={"sklearn": "0.24.2"})
    with pytest.raises(IncompatibleModelError, match=r"scikit-learn 0\.24\.2") as caught:
        load_model(saved)
    assert caught.value.metadata["kind"] == "anomaly"
    assert "retrain" in str(caught.value)


def test_another_numpy_major_or_file_format_is_refused(saved):
    _rewrite_metadata(saved, versions={"numpy": "1.26.4"})
    with pytest.raises(IncompatibleModelError, match="numpy"):
        load_model(saved)
    _rewrite_metadata(saved, versions=library_versions(), format=99)
    with pytest.raises(IncompatibleModelError, match="format"):
        load_model(saved)


def test_a_file_that_no_longer_loads_is_a_load_error_not_a_crash(saved, tmp_path):
    saved.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelLoadError, match="no longer loads"):
        load_model(saved)
    with pytest.raises(ModelLoadError, match="missing"):
        load_model(tmp_path / "nowhere.joblib")
    orphan = tmp_path / "orphan.joblib"
    orphan.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="metadata"):
        load_model(orphan)


def test_an_unfitted_model_cannot_be_saved(layout, tmp_path):
    with pytest.raises(ModelNotFittedError):
        create_predictor("rul", layout).save(tmp_path / "rul.joblib")


def test_cache_loads_once_per_file_version_and_evicts_least_recent(model, tmp_path, window):
    paths = [tmp_path / f"m{i}.joblib" for i in range(3)]
    for path in paths:
        model.save(path)
    cache = ModelCache(max_models=2)
    first = cache.get(paths[0])
    assert cache.get(paths[0]) is first
    cache.get(paths[1])
    cache.get(paths[0])  # m0 is now the most recent, m1 the least
    cache.get(paths[2])
    assert cache.info() == {"size": 2, "max_models": 2, "hits": 2, "misses": 3}
    assert cache.get(paths[0]) is first  # still cached
    cache.get(paths[1])
    assert cache.info()["misses"] == 4  # m1 had been evicted
    # A retrained file (new mtime) is loaded afresh.
    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    reloaded = cache.get(paths[0])
    assert reloaded is not first and reloaded.predict(window) == first.predict(window)


def test_cache_does_not_keep_failures(saved):
    cache = ModelCache()
    metadata = metadata_path(saved).read_text()
    metadata_path(saved).unlink()
    with pytest.raises(ModelLoadError):
        cache.get(saved)
    metadata_path(saved).write_text(metadata)
    assert cache.get(saved).kind == "anomaly"


def test_predict_many_batches_by_model_and_isolates_failures(model, saved, tmp_path, window):
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"junk")
    metadata_path(broken).write_text(metadata_path(saved).read_text())
    requests = [
        (str(saved), window),
        (broken, window),
        (model, window.drop(columns=["temp"])),
        (saved, window.iloc[:10]),
    ]
    results = predict_many(requests, cache=ModelCache())
    # The two requests on the saved file ran as one batch (equal to single predictions up to rounding).
    for position, expected in ((0, model.predict(window)), (3, model.predict(window.iloc[:10]))):
        assert results[position]["score"] == pytest.approx(expected["score"], rel=1e-12)
        assert results[position]["is_anomaly"] == expected["is_anomaly"]
    assert results[1]["error"]["code"] == "retrain"
    assert results[2]["error"]["code"] == "bad_input" and "temp" in results[2]["error"]["message"]


def test_models_trained_on_the_same_data_share_feature_rows(runs, layout, small, model, window):
    rul = create_predictor("rul", layout, small["features"], importance_repeats=0, max_iter=20)
    rul.fit(runs)
    other_data = create_predictor("anomaly", layout, small["features"], importance_repeats=0)
    other_data.fit(runs[runs["cycle"] < 3])
    assert rul.feature_signature == model.feature_signature
    assert other_data.feature_signature != model.feature_signature  # other training medians
    windows = [window, runs[runs["cycle"] == 2].iloc[5:25]]
    results = predict_many([(m, w) for w in windows for m in (model, rul, other_data)], cache=ModelCache())
    expected = [m.predict(w) for w in windows for m in (model, rul, other_data)]
    for got, want in zip(results, expected, strict=True):
        assert got["kind"] == want["kind"]
        key = "score" if got["kind"] == "anomaly" else "rul"
        assert got[key] == pytest.approx(want[key], rel=1e-12)
