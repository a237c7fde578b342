from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self):
        from machines.signals import machine_deleted

        machine_deleted.connect(_machine_files_delete, dispatch_uid="predictions-machine-files-delete")


def _machine_files_delete(sender, machine_pk, machine_id, **kwargs):
    """A deleted machine's rows went with it (cascade); its model files and uploads go now."""
    from gan.services.files import folder_delete
    from predictions.files import machine_folder

    folder_delete(machine_folder(machine_pk))
