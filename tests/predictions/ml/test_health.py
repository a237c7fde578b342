import numpy as np
import pytest

from predictions.ml.health import HEALTH_STATES, health_fraction, health_state


@pytest.mark.parametrize(
    ("fraction", "state"),
    [
        (1.0, "Healthy"),
        (0.51, "Healthy"),
        (0.5, "Degrading"),
        (0.26, "Degrading"),
        (0.25, "Warning"),
        (0.11, "Warning"),
        (0.1, "Critical"),
        (0.0, "Critical"),
    ],
)
def test_spec_thresholds(fraction, state):
    assert HEALTH_STATES[health_state(fraction)] == state


def test_category_thresholds_and_arrays():
    states = health_state(np.array([0.7, 0.55, 0.3, 0.05]), thresholds=(0.6, 0.4, 0.2))
    assert states.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="thresholds"):
        health_state(0.5, thresholds=(0.1, 0.25, 0.5))


def test_fraction_uses_max_rul_or_each_runs_own_life():
    rul = np.array([100.0, 50.0, 0.0, 40.0, 0.0])
    runs = np.array([1, 1, 1, 2, 2])
    np.testing.assert_allclose(health_fraction(rul, runs, max_rul=200.0), rul / 200.0)
    np.testing.assert_allclose(health_fraction(rul, runs, max_rul=None), [1.0, 0.5, 0.0, 1.0, 0.0])
