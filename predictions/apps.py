from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self):
        from machines.signals import machine_deleted

        machine_deleted.connect(_machine_files_delete, dispatch_uid="predictions-machine-files-delete")
        _fleet_changes_connect()


def _fleet_changes_connect():
    """What the dashboard and the fleet API show comes from these tables: any write changes the fleet's
    version token, so their cached renderings are dropped in every process."""
    from django.db.models.signals import post_delete, post_save

    from machines.models import Machine, MachineCategory
    from predictions.models import FleetSnapshot, MachineHealth

    for model in (Machine, MachineCategory, MachineHealth, FleetSnapshot):
        for signal in (post_save, post_delete):
            signal.connect(_fleet_changed, sender=model, dispatch_uid=f"fleet-changed-{model.__name__}")


def _fleet_changed(sender, **kwargs):
    from pdm_site import versions
    from predictions.selectors import FLEET

    versions.changed(FLEET)


def _machine_files_delete(sender, machine_pk, machine_id, **kwargs):
    """A deleted machine's rows went with it (cascade); its model files and uploads go now."""
    from gan.services.files import folder_delete
    from predictions.files import machine_folder

    folder_delete(machine_folder(machine_pk))
