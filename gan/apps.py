from django.apps import AppConfig


class GanConfig(AppConfig):
    name = "gan"
    verbose_name = "Synthetic data and jobs"

    def ready(self):
        from machines.signals import machine_deleted

        machine_deleted.connect(_machine_files_delete, dispatch_uid="gan-machine-files-delete")


def _machine_files_delete(sender, machine_pk, machine_id, **kwargs):
    """A deleted machine's rows went with it (cascade); its seed, model and synthetic files go now."""
    from gan.services.files import machine_files_delete

    machine_files_delete(machine_pk)
