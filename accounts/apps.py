from django.apps import AppConfig, apps
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def _sync_roles(sender, **kwargs):
    # post_migrate is sent once per app with models; every model permission exists after the last one.
    if sender is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from accounts.services import roles_sync

        roles_sync()


def _auth_changed(sender, **kwargs):
    from accounts.backends import AUTH_TABLE

    AUTH_TABLE.changed()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission
        from rest_framework.authtoken.models import Token

        post_migrate.connect(_sync_roles, dispatch_uid="accounts.roles_sync")
        user = get_user_model()
        # Any change to who someone is or what they may do empties every process's auth table.
        for model in (user, Group, Permission, Token):
            uid = f"accounts.auth.{model.__name__}"
            post_save.connect(_auth_changed, sender=model, dispatch_uid=f"{uid}.save")
            post_delete.connect(_auth_changed, sender=model, dispatch_uid=f"{uid}.delete")
        for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
            m2m_changed.connect(_auth_changed, sender=through, dispatch_uid=f"accounts.{through.__name__}")
