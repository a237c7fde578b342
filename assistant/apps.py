from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"
    verbose_name = "Assistant"

    def ready(self):
        from machines.signals import machine_deleted

        machine_deleted.connect(_machine_reports_delete, dispatch_uid="assistant-machine-reports-delete")


def _machine_reports_delete(sender, machine_pk, machine_id, **kwargs):
    """A deleted machine's reports went with it (cascade); their PDFs go now."""
    from assistant.services.reports import machine_reports_delete

    machine_reports_delete(machine_pk)
