"""PSI and KS on plain arrays: same distribution → small, shifted → past the threshold."""

import numpy as np
import pandas as pd
import pytest

from alerts.stats import frame_drift, life_stage_rows, psi, sensor_drift

RNG = np.random.default_rng(7)


def test_psi_is_small_for_samples_of_one_distribution_and_large_for_a_shifted_one():
    reference = RNG.normal(40, 2, 2_000)
    same = RNG.normal(40, 2, 400)
    shifted = RNG.normal(43, 2, 400)  # 1.5 standard deviations
    assert psi(reference, same) < 0.1
    assert psi(reference, shifted) > 0.5
    # A bigger shift is a bigger index.
    assert psi(reference, RNG.normal(46, 2, 400)) > psi(reference, shifted)


def test_psi_of_identical_samples_is_zero_and_empty_bins_stay_finite():
    values = RNG.normal(0, 1, 500)
    assert psi(values, values) == pytest.approx(0.0, abs=1e-12)
    far = psi(values, values + 100)  # every recent value in the last bin
    assert np.isfinite(far) and far > 5


def test_a_constant_reference_still_bins():
    assert psi(np.full(100, 3.0), np.full(50, 3.0)) == pytest.approx(0.0)
    assert psi(np.full(100, 3.0), np.full(50, 4.0)) > 1


def test_sensor_drift_reports_ks_and_means_and_needs_enough_rows():
    reference, recent = RNG.normal(10, 1, 1_000), RNG.normal(12, 1, 200)
    result = sensor_drift("temp", reference, recent, psi_threshold=0.2)
    assert result.drifted and result.ks > 0.5 and result.ks_pvalue < 1e-6
    assert result.reference_mean == pytest.approx(10, abs=0.2) and result.recent_mean == pytest.approx(
        12, abs=0.3
    )
    few = sensor_drift("temp", reference, recent[:5], psi_threshold=0.2, min_rows=30)
    assert few.psi is None and few.ks is None and not few.drifted and few.recent_rows == 5


def test_non_finite_values_are_dropped():
    reference = np.concatenate([RNG.normal(0, 1, 500), [np.nan, np.inf]])
    result = sensor_drift("x", reference, RNG.normal(0, 1, 200), psi_threshold=0.2)
    assert result.reference_rows == 500 and not result.drifted


def test_frame_drift_names_the_drifted_sensors_only():
    reference = pd.DataFrame({"a": RNG.normal(0, 1, 1_000), "b": RNG.normal(5, 1, 1_000)})
    recent = pd.DataFrame({"a": RNG.normal(0, 1, 300), "b": RNG.normal(7, 1, 300)})
    result = frame_drift(reference, recent, ["a", "b", "missing"], psi_threshold=0.2)
    assert result.drifted and result.drifted_sensors == ["b"]
    assert [item.sensor for item in result.sensors] == ["a", "b"]
    assert result.max_psi == max(item.psi for item in result.sensors)
    assert result.to_dict()["sensors"][1]["sensor"] == "b"


def test_life_stage_rows_match_each_target_with_its_nearest_reference_rows():
    reference = pd.DataFrame({"rul": np.arange(1_000.0)[::-1], "x": np.arange(1_000.0)})
    targets = np.array([0.0, 100.0, 100.0, 500.4, 999.0])
    selected = life_stage_rows(reference, "rul", targets, rows_per_target=4, min_rows=5)
    assert len(selected) == 20  # four rows per target, repeats kept (they weigh the stages)
    assert sorted(selected["rul"].iloc[4:8]) == [98.0, 99.0, 100.0, 101.0]
    assert selected["rul"].iloc[:4].tolist() == [0.0, 1.0, 2.0, 3.0]  # clipped at the ends
    assert selected["rul"].iloc[-4:].tolist() == [996.0, 997.0, 998.0, 999.0]
    assert life_stage_rows(reference, "rul", targets, min_rows=6) is None
    assert life_stage_rows(reference.drop(columns="rul"), "rul", targets, min_rows=1) is None


def test_late_life_against_its_own_stage_is_not_drift_though_against_a_whole_life_it_is():
    rul = RNG.uniform(0, 1_000, 5_000)
    reference = pd.DataFrame({"rul": rul, "temp": 40 + 35 * (1 - rul / 1_000) + RNG.normal(0, 0.5, 5_000)})
    late_rul = RNG.uniform(0, 200, 300)
    recent = pd.DataFrame({"temp": 40 + 35 * (1 - late_rul / 1_000) + RNG.normal(0, 0.5, 300)})
    assert frame_drift(reference, recent, ["temp"], psi_threshold=0.2).drifted
    matched = life_stage_rows(reference, "rul", late_rul + RNG.normal(0, 10, 300))
    assert not frame_drift(matched, recent, ["temp"], psi_threshold=0.2).drifted
