"""The mapping presets shipped with the product: NASA C-MAPSS (FD001 layout) and AI4I 2020."""

from django.db import migrations

from predictions.ml.ingest import IngestionPlan
from predictions.ml.presets import PRESETS


def create(apps, schema_editor):
    MappingPreset = apps.get_model("predictions", "MappingPreset")
    for name, preset in PRESETS.items():
        MappingPreset.objects.update_or_create(
            name=name,
            defaults={
                "description": preset["description"],
                "plan": IngestionPlan.from_dict(preset).to_dict(),
                "builtin": True,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("predictions", "MappingPreset").objects.filter(name__in=list(PRESETS), builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("predictions", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
