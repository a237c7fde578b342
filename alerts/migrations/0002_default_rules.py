"""The rules every installation starts with: fleet-wide, with limits relative to each machine's category
and sensor profile, so every category (the demo fleet's and any added later) is watched from the start.
Admins tune them, or add narrower rules per category or machine, which then replace them there."""

from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "Health state Warning or worse",
        "kind": "health_state",
        "severity": "warning",
        "state_at_least": 2,
        "description": "Raised at Warning; Critical raises it to critical.",
    },
    {
        "name": "RUL lower bound below 10 % of the category's life",
        "kind": "rul_below",
        "severity": "critical",
        "rul_fraction": 0.1,
        "description": "E.g. 100 h for a motor (max RUL 1,000 h), 50 h for a CNC machine.",
    },
    {
        "name": "Repeated anomalies",
        "kind": "anomaly_count",
        "severity": "warning",
        "anomaly_count": 3,
        "window_minutes": 60,
        "description": "The anomaly model flags the machine 3 times within an hour.",
    },
    {
        "name": "Sensor outside its limits",
        "kind": "sensor_limit",
        "severity": "warning",
        "limit_fraction": 0.9,
        "description": "Every sensor: base ± max(0.9 × range, 4 × noise) from the machine's sensor profile.",
    },
    {
        "name": "Job failed",
        "kind": "job_failed",
        "severity": "warning",
        "job_kinds": [],
        "description": "Any job; the next successful job of the same kind clears it.",
    },
    {
        "name": "Telemetry drifted from the training data",
        "kind": "drift",
        "severity": "warning",
        "description": "A sensor's PSI reaches ALERTS_DRIFT_PSI (0.2 by default).",
    },
]


def create_defaults(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for rule in DEFAULT_RULES:
        AlertRule.objects.get_or_create(name=rule["name"], machine=None, category=None, defaults=rule)


def remove_defaults(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(
        name__in=[rule["name"] for rule in DEFAULT_RULES], machine=None, category=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
