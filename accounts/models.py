from django.db import models

from accounts.roles import ROLE_PERMISSIONS


class RolePermissions(models.Model):
    """Carries the role permissions accounts.read / operate / administer; it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(ROLE_PERMISSIONS.values())
        verbose_name = "role"

    def __str__(self):
        return "role permissions"
