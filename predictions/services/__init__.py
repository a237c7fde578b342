"""Writes and workflows of the predictions app: telemetry, serving, training, real data, the demo."""
