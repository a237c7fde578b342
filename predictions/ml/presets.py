"""Mapping presets: plain data describing a known file layout, reusable for every upload of that layout.

A preset has the shape of an IngestionPlan (see ingest.py) plus a name and a description; the Django
side stores user presets the same way. `columns` names the columns of a headerless file in order.
"""

from __future__ import annotations

import copy
from typing import Any

CMAPSS_CHANNELS = {
    "s1": "T2_fan_inlet_temp_R",
    "s2": "T24_lpc_outlet_temp_R",
    "s3": "T30_hpc_outlet_temp_R",
    "s4": "T50_lpt_outlet_temp_R",
    "s5": "P2_fan_inlet_pressure_psia",
    "s6": "P15_bypass_duct_pressure_psia",
    "s7": "P30_hpc_pressure_psia",
    "s8": "Nf_fan_speed_rpm",
    "s9": "Nc_core_speed_rpm",
    "s10": "epr_engine_pressure_ratio",
    "s11": "Ps30_hpc_static_pressure_psia",
    "s12": "phi_fuel_flow_ratio",
    "s13": "NRf_corrected_fan_speed_rpm",
    "s14": "NRc_corrected_core_speed_rpm",
    "s15": "BPR_bypass_ratio",
    "s16": "farB_burner_fuel_air_ratio",
    "s17": "htBleed_bleed_enthalpy",
    "s18": "Nf_dmd_demanded_fan_speed_rpm",
    "s19": "PCNfR_dmd_demanded_corrected_fan_speed_rpm",
    "s20": "W31_hpt_coolant_bleed_lbm_s",
    "s21": "W32_lpt_coolant_bleed_lbm_s",
}
CMAPSS_SETTINGS = ["setting_1", "setting_2", "setting_3"]

CMAPSS_FD001: dict[str, Any] = {
    "name": "cmapss_fd001",
    "description": (
        "NASA C-MAPSS turbofan run-to-failure (FD001 layout): whitespace-separated, no header; unit, cycle, "
        "3 operational settings, 21 sensors. Each unit runs to failure, so RUL is derived per unit in cycles."
    ),
    "columns": ["unit", "cycle", *CMAPSS_SETTINGS, *CMAPSS_CHANNELS],
    "time_column": "cycle",
    "time_kind": "cycle",
    "run_column": "unit",
    "target_kind": "derived_rul",
    "target_column": "rul",
    "rul_unit": "cycles",
    # Channel names follow the platform's turbofan category where it has the channel (SPEC §1).
    "sensors": {**{s: s for s in CMAPSS_SETTINGS}, **CMAPSS_CHANNELS},
    "categorical": [],
    "derived": [],
}

AI4I_2020: dict[str, Any] = {
    "name": "ai4i_2020",
    "description": (
        "AI4I 2020 milling data (UCI): one row per product; predicts 'Machine failure' from Type and the "
        "five process columns. UDI and Product ID are identifiers and TWF..RNF are failure modes (copies of "
        "the label), so none of them are inputs. Adds physics features: temperature difference, power "
        "(torque x speed) and strain (torque x tool wear)."
    ),
    "columns": None,
    "time_column": None,
    "time_kind": None,
    "run_column": None,
    "target_kind": "label",
    "target_column": "Machine failure",
    "rul_unit": None,
    "sensors": {
        "Air temperature [K]": "ambient_temp_K",
        "Process temperature [K]": "process_temp_K",
        "Rotational speed [rpm]": "spindle_speed_rpm",
        "Torque [Nm]": "spindle_torque_nm",
        "Tool wear [min]": "tool_wear_min",
    },
    "categorical": ["Type"],
    "derived": [
        {"name": "temp_difference_K", "op": "sub", "left": "process_temp_K", "right": "ambient_temp_K"},
        {"name": "power", "op": "mul", "left": "spindle_torque_nm", "right": "spindle_speed_rpm"},
        {"name": "strain", "op": "mul", "left": "spindle_torque_nm", "right": "tool_wear_min"},
    ],
}

PRESETS: dict[str, dict[str, Any]] = {preset["name"]: preset for preset in (CMAPSS_FD001, AI4I_2020)}


def get_preset(name: str) -> dict[str, Any]:
    """A copy of a shipped preset (callers may edit it freely)."""
    try:
        return copy.deepcopy(PRESETS[name])
    except KeyError:
        raise KeyError(f"preset: unknown {name!r}; shipped presets are {sorted(PRESETS)}") from None
