import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from predictions.ml.trees import SMALL_BATCH_ROWS, FlatEnsemble


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    X[rng.random(X.shape) < 0.05] = np.nan  # the walk must send missing values where sklearn does
    signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2
    return X, signal


@pytest.mark.parametrize("loss", [{"loss": "squared_error"}, {"loss": "quantile", "quantile": 0.9}])
def test_flat_regressor_matches_sklearn(data, loss):
    X, signal = data
    model = HistGradientBoostingRegressor(**loss, max_iter=40, random_state=0).fit(X, signal)
    flat = FlatEnsemble(model)
    for rows in (
        X[:1],
        X[:SMALL_BATCH_ROWS],
        X,
    ):  # small batches walk the flat arrays, large ones use sklearn
        np.testing.assert_allclose(flat.predict(rows), model.predict(rows), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("classes", [2, 4])
def test_flat_classifier_matches_sklearn(data, classes):
    X, signal = data
    labels = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, labels)
    flat = FlatEnsemble(model)
    np.testing.assert_allclose(flat.predict_proba(X[:50]), model.predict_proba(X[:50]), atol=1e-12)
    assert flat.predict_proba(X[:1]).shape == (1, classes)


def test_native_categorical_splits_are_refused(data):
    X, _ = data
    codes = np.random.default_rng(1).integers(0, 3, size=(len(X), 1)).astype(float)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(codes, codes[:, 0] > 0)
    with pytest.raises(ValueError, match="categorical"):
        FlatEnsemble(model)
