import numpy as np
import pandas as pd
import pytest

from gan.synth.residual import ResidualDecomposition


@pytest.mark.slow  # a real TVAE fit
def test_residual_samples_keep_ranges_and_the_rul_link(trained, motor_split):
    synthesizer, _, _ = trained
    fit_rows, _ = motor_split
    rows = synthesizer.sample(2_000)
    assert rows["rul"].between(fit_rows["rul"].min(), fit_rows["rul"].max()).all()
    for sensor in synthesizer.sensors:
        seed_values = fit_rows[sensor]
        spread = seed_values.max() - seed_values.min()
        assert rows[sensor].between(seed_values.min() - 0.2 * spread, seed_values.max() + 0.2 * spread).all()
        seed_corr = np.corrcoef(fit_rows["rul"], seed_values)[0, 1]
        synthetic_corr = np.corrcoef(rows["rul"], rows[sensor])[0, 1]
        # Only six epochs, yet the trend carries the link.
        assert synthetic_corr == pytest.approx(seed_corr, abs=0.1), sensor


def _correlated_real_like_frame(rows=4_000, seed=0):
    """Run-to-failure rows whose residuals share a load factor and grow noisier near failure."""
    rng = np.random.default_rng(seed)
    rul = rng.uniform(0, 500, rows)
    load = rng.standard_normal(rows)
    spread = 1 + (500 - rul) / 250  # heteroscedastic: three times the spread at failure
    return pd.DataFrame(
        {
            "rul": rul,
            "temp_C": 60 - 0.04 * rul + spread * (0.8 * load + 0.6 * rng.standard_normal(rows)),
            "current_A": 10
            + 5 * np.exp(-rul / 100)
            + spread * (0.7 * load + 0.7 * rng.standard_normal(rows)),
        }
    )


def test_restoring_the_seeds_own_residuals_gives_the_seed_back():
    frame = _correlated_real_like_frame()
    decomposition = ResidualDecomposition(frame, ["temp_C", "current_A"])
    residuals = decomposition.residuals(frame)
    decomposition.calibrate(residuals)
    restored = decomposition.restore(residuals)
    assert np.allclose(restored["rul"], frame["rul"], atol=2.0)
    for sensor in ("temp_C", "current_A"):
        assert np.corrcoef(restored[sensor], frame[sensor])[0, 1] > 0.99


def test_calibration_undoes_shrunk_spread_and_drift_per_rul_region():
    frame = _correlated_real_like_frame()
    sensors = ["temp_C", "current_A"]
    decomposition = ResidualDecomposition(frame, sensors)
    residuals = decomposition.residuals(frame)
    # What TVAE does to residuals: shrinks them by 40 % and lets their mean drift along RUL,
    # and its RUL comes out squeezed.
    damaged = residuals.copy()
    damaged["rul"] = 100 + 0.5 * residuals["rul"]
    for sensor in sensors:
        damaged[sensor] = 0.6 * residuals[sensor] + 0.004 * residuals["rul"]
    decomposition.calibrate(damaged)
    restored = decomposition.restore(damaged)

    assert np.quantile(restored["rul"], [0.1, 0.5, 0.9]) == pytest.approx(
        np.quantile(frame["rul"], [0.1, 0.5, 0.9]), rel=0.02
    )
    near_failure = restored["rul"] < 100
    for sensor in sensors:
        seed_corr = np.corrcoef(frame["rul"], frame[sensor])[0, 1]
        assert np.corrcoef(restored["rul"], restored[sensor])[0, 1] == pytest.approx(seed_corr, abs=0.02)
        seed_spread = residuals[sensor][frame["rul"] < 100].std()
        restored_residual = restored[sensor] - decomposition.trends[sensor].predict(restored["rul"])
        assert restored_residual[near_failure].std() == pytest.approx(seed_spread, rel=0.1)
    # Cross-sensor structure in the residuals survives the per-column affine maps.
    seed_cross = np.corrcoef(residuals["temp_C"], residuals["current_A"])[0, 1]
    restored_cross = np.corrcoef(
        *(restored[s] - decomposition.trends[s].predict(restored["rul"]) for s in sensors)
    )[0, 1]
    assert restored_cross == pytest.approx(seed_cross, abs=0.05)


def test_restore_needs_calibration_first():
    frame = _correlated_real_like_frame(rows=1_000)
    decomposition = ResidualDecomposition(frame, ["temp_C"])
    with pytest.raises(RuntimeError, match="calibrate"):
        decomposition.restore(decomposition.residuals(frame))


def test_whole_cycle_rul_with_heavy_ties_still_calibrates():
    rng = np.random.default_rng(1)
    rul = np.repeat(np.arange(0, 60), 40).astype(float)  # C-MAPSS style: integer cycles, many units
    frame = pd.DataFrame({"rul": rul, "s1": 100 - rul + rng.standard_normal(len(rul))})
    decomposition = ResidualDecomposition(frame, ["s1"])
    residuals = decomposition.residuals(frame)
    decomposition.calibrate(residuals)
    restored = decomposition.restore(residuals)
    assert np.isfinite(restored.to_numpy()).all()
    assert np.corrcoef(restored["s1"], frame["s1"])[0, 1] > 0.99
