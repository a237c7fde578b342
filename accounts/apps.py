from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    # post_migrate is sent once per app with models; every model permission exists after the last one.
    if sender is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from accounts.services import roles_sync

        roles_sync()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.roles_sync")
