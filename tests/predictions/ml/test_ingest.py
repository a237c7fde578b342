"""Role detection, mapping proposals, cleaning reports and plans, on slices of the public files."""

import json

import numpy as np
import pandas as pd
import pytest

from predictions.ml.cleaning import cleaning_report
from predictions.ml.errors import IngestionError, NoUsableColumnError
from predictions.ml.ingest import IngestionPlan, detect_roles, prepare_dataset, propose_plan
from predictions.ml.mapping import propose_mapping
from predictions.ml.presets import PRESETS, get_preset
from predictions.ml.reading import read_table

CNC_SENSORS = [
    "spindle_bearing_temp_C",
    "motor_temp_C",
    "ambient_temp_K",
    "process_temp_K",
    "temp_difference_K",
    "spindle_speed_rpm",
    "spindle_vibration_mm_s",
    "spindle_torque_nm",
    "power_consumption_kW",
]


@pytest.fixture(scope="module")
def cmapss(datasets):
    """Ten engines of FD001, headerless as published."""
    frame = read_table(datasets / "cmapss" / "train_FD001.txt").frame
    return frame[frame["col_0"] <= 10].reset_index(drop=True)


@pytest.fixture(scope="module")
def ai4i(datasets):
    return read_table(datasets / "ai4i2020" / "ai4i2020.csv").frame


@pytest.fixture(scope="module")
def ims(datasets):
    return read_table(datasets / "ims_bearing" / "Averaged_BearingTest_Dataset.csv").frame


def test_headerless_cmapss_roles_are_found_from_the_structure(cmapss):
    roles = detect_roles(cmapss)
    assert roles["run_column"] == "col_0" and roles["runs"] == 10
    assert (roles["time_column"], roles["time_kind"]) == ("col_1", "cycle")
    assert (roles["target_kind"], roles["target_column"]) == ("derived_rul", "rul")
    constant = {item["column"] for item in roles["ignored_columns"]}
    # setting 3 and sensors 1, 5, 10, 16, 18, 19 never change in FD001.
    assert constant == {"col_4", "col_5", "col_9", "col_14", "col_20", "col_22", "col_23"}
    assert "col_6" in roles["sensor_columns"] and len(roles["sensor_columns"]) == 17


def test_ai4i_label_identifiers_and_failure_modes(ai4i):
    roles = detect_roles(ai4i)
    assert (roles["target_kind"], roles["target_column"]) == ("label", "Machine failure")
    assert roles["categorical_columns"] == ["Type"]
    assert roles["run_column"] is None and roles["time_column"] is None
    ignored = {item["column"]: item["reason"] for item in roles["ignored_columns"]}
    assert ignored["UDI"].startswith("identifier") and ignored["Product ID"].startswith("identifier")
    assert all("leak" in ignored[mode] for mode in ("TWF", "HDF", "PWF", "OSF", "RNF"))
    assert len(roles["sensor_columns"]) == 5


def test_ims_timestamp_column(ims):
    roles = detect_roles(ims)
    assert (roles["time_column"], roles["time_kind"]) == ("col_0", "timestamp")
    assert roles["sensor_columns"] == ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing4"]
    assert roles["target_kind"] is None


def test_seed_style_runs_are_told_apart_from_time(runs):
    roles = detect_roles(runs)
    # "cycle" here numbers run-to-failure cycles (as in the platform's seed data), and rul restarts per run.
    assert roles["run_column"] == "cycle" and roles["time_column"] == "timestamp"
    assert (roles["target_kind"], roles["target_column"]) == ("rul", "rul")


def test_fuzzy_mapping_pairs_columns_one_to_one():
    columns = [
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear",
    ]
    proposal = propose_mapping(columns, CNC_SENSORS)
    assert proposal["mapping"] == {
        "Air temperature [K]": "ambient_temp_K",
        "Process temperature [K]": "process_temp_K",
        "Rotational speed [rpm]": "spindle_speed_rpm",
        "Torque [Nm]": "spindle_torque_nm",
        "Tool wear": None,
    }
    assert proposal["candidates"]["Tool wear"] and "motor_temp_C" in proposal["unmapped_sensors"]
    assert all(score >= proposal["min_score"] for score in proposal["scores"].values() if score is not None)
    json.dumps(proposal)


def test_mapping_can_match_sensor_descriptions():
    sensors = [
        {"name": "s2", "description": "LPC outlet temperature"},
        {"name": "s7", "description": "HPC pressure"},
    ]
    proposal = propose_mapping(["HPC outlet pressure", "LPC outlet temp"], sensors)
    assert proposal["mapping"] == {"HPC outlet pressure": "s7", "LPC outlet temp": "s2"}


def test_proposed_plan_for_a_machine_keeps_only_its_sensors(ai4i):
    proposal = propose_plan(ai4i, sensors=CNC_SENSORS)
    plan = proposal["plan"]
    assert plan["sensors"]["Torque [Nm]"] == "spindle_torque_nm"
    assert proposal["unmapped_columns"] == ["Tool wear [min]"]
    assert plan["target_kind"] == "label" and plan["categorical"] == ["Type"]
    json.dumps(proposal)  # everything the upload page shows is JSON


def test_preset_plan_prepares_cmapss_with_derived_rul(cmapss):
    proposal = propose_plan(cmapss, preset=get_preset("cmapss_fd001"))
    prepared = prepare_dataset(cmapss, proposal["plan"])
    frame, layout = prepared.frame, prepared.layout
    assert (layout.run_column, layout.time_column, layout.rul_column) == ("unit", "cycle", "rul")
    assert "T24_lpc_outlet_temp_R" in layout.sensors and "T2_fan_inlet_temp_R" not in layout.sensors
    assert "T2_fan_inlet_temp_R" in prepared.summary["dropped_constant"]
    unit_one = frame[frame["unit"] == 1]
    assert unit_one["rul"].iloc[0] == len(unit_one) - 1 and unit_one["rul"].iloc[-1] == 0
    assert prepared.summary["runs"] == 10 and prepared.summary["rows_out"] == len(cmapss)


def test_a_preset_that_does_not_fit_the_file_is_refused(ims):
    with pytest.raises(IngestionError, match="26 columns"):
        propose_plan(ims, preset=get_preset("cmapss_fd001"))


def test_presets_are_plain_data():
    for name in PRESETS:
        preset = get_preset(name)
        assert json.loads(json.dumps(preset)) == preset
        IngestionPlan.from_dict(preset)
    with pytest.raises(KeyError, match="unknown"):
        get_preset("nope")


def test_derived_rul_from_timestamps_is_in_hours(ims):
    plan = propose_plan(ims)["plan"] | {"target_kind": "derived_rul", "target_column": "rul"}
    prepared = prepare_dataset(ims, plan)
    assert prepared.frame["rul"].iloc[0] == pytest.approx(163.5)
    assert prepared.frame["rul"].iloc[-1] == 0


def test_prepare_types_deduplicates_and_reports():
    frame = pd.DataFrame(
        {
            "run": [1, 1, 1, 1, 2, 2, 2],
            "t": [1, 2, 2, 3, 1, 2, 3],
            "temp": ["40", "41", "41", "oops", "39", "40", "42"],
            "flat": [5, 5, 5, 5, 5, 5, 5],
            "failed": ["no", "no", "no", "yes", "no", "no", "yes"],
        }
    )
    plan = {
        "sensors": {"temp": "temp", "flat": "flat"},
        "run_column": "run",
        "time_column": "t",
        "time_kind": "cycle",
        "target_kind": "label",
        "target_column": "failed",
    }
    prepared = prepare_dataset(frame, plan)
    assert prepared.summary["duplicates_dropped"] == 1
    assert prepared.summary["non_numeric_values"] == {"temp": 1}
    assert prepared.summary["dropped_constant"] == ["flat"]
    assert prepared.frame["failed"].tolist() == [0, 0, 1, 0, 0, 1]
    assert prepared.layout.label_column == "failed" and prepared.layout.sensors == ("temp",)


def test_cleaning_report_counts_missing_duplicates_outliers_and_constants():
    rng = np.random.default_rng(0)
    values = rng.normal(10, 1, 200)
    values[[5, 50]] = [60.0, -40.0]
    frame = pd.DataFrame({"run": 1, "t": np.arange(200), "x": values, "flat": 1.0})
    frame.loc[[3, 4, 7], "x"] = np.nan
    frame = pd.concat([frame, frame.iloc[[10, 11]]], ignore_index=True)
    report = cleaning_report(frame, key_columns=["run", "t"])
    columns = {c["column"]: c for c in report["per_column"]}
    assert report["duplicate_rows"] == 2 and report["duplicate_keys"] == {"columns": ["run", "t"], "rows": 2}
    assert columns["x"]["missing"] == 3 and columns["x"]["outliers"] == 2
    assert report["constant_columns"] == ["run", "flat"]
    assert report["columns_with_missing"] == ["x"]
    json.dumps(report)


def test_uploads_without_a_usable_column_are_refused():
    identifiers = pd.DataFrame({"id": [f"A{i}" for i in range(200)], "flat": 3.0})
    with pytest.raises(NoUsableColumnError, match="no column can be a model input"):
        detect_roles(identifiers)
    with pytest.raises(NoUsableColumnError):
        prepare_dataset(pd.DataFrame({"a": [1.0, 1.0]}), {"sensors": {"a": "a"}})
    with pytest.raises(IngestionError, match="'missing' is not in the file") as caught:
        prepare_dataset(pd.DataFrame({"a": [1.0, 2.0]}), {"sensors": {"missing": "m"}})
    assert caught.value.column == "missing"
    with pytest.raises(IngestionError, match="target_kind"):
        IngestionPlan(sensors={"a": "a"}, target_kind="magic", target_column="x")
    with pytest.raises(IngestionError, match="not a 0/1"):
        prepare_dataset(
            pd.DataFrame({"a": [1.0, 2.0], "y": ["ok", "broken"]}),
            {"sensors": {"a": "a"}, "target_kind": "label", "target_column": "y"},
        )
