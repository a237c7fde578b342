"""Drift statistics on plain arrays and frames: no Django, no app code (usable from a notebook)."""

from alerts.stats.drift import DriftResult, SensorDrift, frame_drift, life_stage_rows, psi, sensor_drift

__all__ = ["DriftResult", "SensorDrift", "frame_drift", "life_stage_rows", "psi", "sensor_drift"]
