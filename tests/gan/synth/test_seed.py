import numpy as np
import pandas as pd
import pytest

from gan.synth.profile import DegradationProfile, SensorProfile, category_profile, category_profiles
from gan.synth.seed import degradation_curve, generate_seed, split_holdout


@pytest.fixture(scope="module")
def seeds():
    profiles = category_profiles()
    return {name: generate_seed(profile, 1_000, random_seed=1) for name, profile in profiles.items()}


def test_columns_rows_and_dtypes(seeds):
    for name, frame in seeds.items():
        profile = category_profile(name)
        assert list(frame.columns) == ["timestamp", "cycle", "rul", *profile.sensor_names]
        assert len(frame) == 1_000
        assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
        assert frame["cycle"].dtype.kind == "i"
        assert not frame.isna().any().any(), name


def test_each_category_has_its_cycles_and_each_cycle_ends_at_rul_zero(seeds):
    for name, frame in seeds.items():
        cycles = frame.groupby("cycle")["rul"]
        assert cycles.ngroups == category_profile(name).cycles, name
        assert (cycles.last() == 0).all(), name
        assert (cycles.min() == 0).all(), name


def test_rows_are_evenly_spaced_and_rul_falls_by_the_step_within_a_cycle(seeds):
    frame = seeds["motor"]
    hours = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds().to_numpy() / 3600
    step = np.diff(hours)
    assert np.allclose(step, step[0], rtol=1e-6)
    for _, cycle in frame.groupby("cycle"):
        assert np.allclose(np.diff(cycle["rul"]), -step[0], rtol=1e-6)


def test_step_is_total_cycle_length_over_rows():
    profile = category_profile("motor")
    frame = generate_seed(profile, 10_000, random_seed=3)
    step = frame["rul"].iloc[0] - frame["rul"].iloc[1]
    # ≈ 0.25 h for a motor at 10,000 rows (SPEC §3.1): 3 cycles of 700-1000 h.
    assert 0.2 < step < 0.31
    first_rul_per_cycle = frame.groupby("cycle")["rul"].first()
    assert (first_rul_per_cycle > 0.7 * profile.max_rul_hours - 4 * profile.rul_noise_hours).all()
    assert (first_rul_per_cycle < profile.max_rul_hours + 4 * profile.rul_noise_hours).all()


def test_trends_follow_the_sign_of_each_sensor_range(seeds):
    for name, frame in seeds.items():
        for sensor in category_profile(name).sensors:
            correlation = np.corrcoef(frame["rul"], frame[sensor.name])[0, 1]
            # Wear grows as RUL falls, so a rising sensor correlates negatively with RUL.
            assert np.sign(correlation) == -np.sign(sensor.range), (name, sensor.name)


def test_sensor_values_go_from_base_to_base_plus_range():
    profile = category_profile("motor")
    frame = generate_seed(profile, 10_000, random_seed=2)
    healthy = frame[frame["rul"] >= 0.95 * profile.max_rul_hours]
    failed = frame[frame["rul"] <= 0.01 * profile.max_rul_hours]
    for sensor in profile.sensors:
        assert healthy[sensor.name].mean() == pytest.approx(sensor.base, abs=0.1 * abs(sensor.range))
        at_failure = sensor.base + sensor.range
        assert failed[sensor.name].mean() == pytest.approx(at_failure, abs=0.05 * abs(sensor.range))


def test_exponential_pattern_stays_near_base_until_late():
    wear = np.array([0.0, 0.5, 1.0])
    assert np.allclose(degradation_curve("linear_fast", wear), wear)
    assert np.allclose(degradation_curve("exponential", wear), [0.0, (np.e**2 - 1) / (np.e**4 - 1), 1.0])
    profile = category_profile("cnc")
    frame = generate_seed(profile, 10_000, random_seed=2)
    half_life = frame[(frame["rul"] - 0.5 * profile.max_rul_hours).abs() < 10]
    speed = next(s for s in profile.sensors if s.name == "spindle_speed_rpm")
    expected = speed.base + speed.range * (np.e**2 - 1) / (np.e**4 - 1)
    assert half_life[speed.name].mean() == pytest.approx(expected, abs=3 * speed.noise)


def test_same_seed_same_frame_other_seed_other_frame():
    profile = category_profile("pump")
    first = generate_seed(profile, 2_000, random_seed=5)
    pd.testing.assert_frame_equal(first, generate_seed(profile, 2_000, random_seed=5))
    assert not first.equals(generate_seed(profile, 2_000, random_seed=6))


@pytest.mark.parametrize("rows", [999, 100_001])
def test_row_bounds(rows):
    with pytest.raises(ValueError, match="rows"):
        generate_seed(category_profile("motor"), rows)


def test_bounds_are_inclusive():
    assert len(generate_seed(category_profile("fan"), 1_000)) == 1_000
    assert len(generate_seed(category_profile("fan"), 100_000)) == 100_000


def test_holdout_is_the_last_cycle(seeds):
    frame = seeds["cnc"]
    fit, holdout = split_holdout(frame)
    assert len(fit) + len(holdout) == len(frame)
    assert set(holdout["cycle"]) == {frame["cycle"].max()}
    assert frame["cycle"].max() not in set(fit["cycle"])
    assert holdout["rul"].iloc[-1] == 0


def test_holdout_needs_two_cycles():
    single = DegradationProfile(100, 1, "linear_slow", 1, (SensorProfile("temp_C", 20, 5, 0.1, "C"),))
    with pytest.raises(ValueError, match="2 cycles"):
        split_holdout(generate_seed(single, 1_000))
