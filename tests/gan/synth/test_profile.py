import json

import pytest

from gan.synth.profile import (
    DegradationProfile,
    SensorProfile,
    category_data,
    category_profile,
    category_profiles,
)

# SPEC §1: category → (sensor count, max_rul, cycles, pattern, rul noise).
SPEC_CATEGORIES = {
    "motor": (4, 1000, 3, "linear_slow", 10),
    "pump": (5, 800, 4, "linear_medium", 12),
    "compressor": (5, 600, 5, "linear_fast", 8),
    "cnc": (9, 500, 7, "exponential", 15),
    "fan": (4, 1200, 3, "linear_slow", 20),
    "conveyor": (5, 900, 4, "linear_medium", 15),
    "robot": (5, 1100, 3, "linear_slow", 18),
    "hydraulic": (5, 850, 4, "linear_medium", 14),
    "transformer": (5, 1500, 2, "linear_slow", 25),
    "cooling_tower": (5, 1100, 3, "linear_medium", 20),
    "turbofan": (8, 700, 5, "exponential", 12),
}


def test_the_eleven_spec_categories_are_shipped_with_their_rul_profiles():
    profiles = category_profiles()
    assert list(profiles) == list(SPEC_CATEGORIES)
    for name, (sensors, max_rul, cycles, pattern, rul_noise) in SPEC_CATEGORIES.items():
        profile = profiles[name]
        assert len(profile.sensors) == sensors, name
        assert (profile.max_rul_hours, profile.cycles) == (max_rul, cycles), name
        assert (profile.degradation_pattern, profile.rul_noise_hours) == (pattern, rul_noise), name


def test_sensor_figures_follow_the_spec():
    pump = {sensor.name: sensor for sensor in category_profile("pump").sensors}
    assert pump["discharge_pressure_bar"] == SensorProfile("discharge_pressure_bar", 6.0, -2.0, 0.1, "bar")
    turbofan = {sensor.name: sensor for sensor in category_profile("turbofan").sensors}
    assert turbofan["BPR_bypass_ratio"].base == pytest.approx(8.42)
    assert turbofan["T50_lpt_outlet_temp_R"].noise == 9


def test_units_come_from_the_sensor_name_suffix():
    units = {s["name"]: s["unit"] for data in category_data().values() for s in data["sensors"]}
    temperature_units = {"C", "K", "R"}
    for name, unit in units.items():
        if "temp" in name.lower():
            assert unit in temperature_units, name
    assert units["vibration_mm_s"] == "mm/s"
    assert units["flow_rate_m3_h"] == "m3/h"
    assert units["belt_speed_m_s"] == "m/s"
    assert units["pump_flow_l_min"] == "L/min"


def test_category_data_is_plain_json_and_round_trips_through_profiles():
    data = category_data()
    assert json.loads(json.dumps(data)) == data
    for name, raw in data.items():
        assert DegradationProfile.from_dict(raw).to_dict() == raw, name


def test_category_data_is_a_fresh_copy_each_call():
    data = category_data()
    data["motor"]["cycles"] = 99
    assert category_data()["motor"]["cycles"] == 3


def test_unknown_category_names_the_known_ones():
    with pytest.raises(KeyError, match="motor"):
        category_profile("toaster")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pattern": "sinusoidal"}, "degradation_pattern"),
        ({"cycles": 0}, "cycles"),
        ({"max_rul": 0}, "max_rul_hours"),
        ({"rul_noise": -1}, "rul_noise_hours"),
        ({"sensors": []}, "sensors"),
    ],
)
def test_invalid_profiles_name_the_field(change, field):
    raw = {**category_data()["motor"], **change}
    with pytest.raises(ValueError, match=field):
        DegradationProfile.from_dict(raw)


def test_duplicate_and_reserved_sensor_names_are_rejected():
    sensor = SensorProfile("temp_C", 20, 5, 0.1)
    with pytest.raises(ValueError, match="unique"):
        DegradationProfile(100, 2, "linear_slow", 1, (sensor, sensor))
    with pytest.raises(ValueError, match="reserved"):
        DegradationProfile(100, 2, "linear_slow", 1, (SensorProfile("rul", 1, 1, 0),))
    with pytest.raises(ValueError, match="identifier"):
        SensorProfile("bad name", 1, 1, 0)
