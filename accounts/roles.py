"""The three roles of SPEC §6 and the permission each one grants.

Roles are Django groups; checks go through permissions (`user.has_perm`), so a superuser is an admin
and a role can be granted to any user from the admin.
"""

from enum import IntEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def permission(self) -> str:
        return f"accounts.{ROLE_PERMISSIONS[self][0]}"


# codename, description — created by accounts/migrations/0001.
ROLE_PERMISSIONS = {
    Role.VIEWER: ("read", "Read every page, list and report; watch jobs"),
    Role.OPERATOR: ("operate", "Create and edit machines, start jobs, request predictions and explanations"),
    Role.ADMIN: ("administer", "Delete machines, edit categories, rules and webhooks, activate models"),
}


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(role.permission))


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The highest role the user holds, or None."""
    for role in sorted(Role, reverse=True):
        if has_role(user, role):
            return role
    return None
