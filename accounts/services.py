"""Writes for users and roles."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.roles import ROLE_PERMISSIONS, Role

User = get_user_model()

DEMO_USERS = {"admin": Role.ADMIN, "operator": Role.OPERATOR, "viewer": Role.VIEWER}


def roles_sync() -> None:
    """Create the role groups with their permissions (SPEC §6); idempotent, run after every migrate.

    A role holds its own permission and those of the roles below it; the admin group also holds every
    model permission, so its members can use the whole Django admin.
    """
    role_permissions = {
        role: Permission.objects.get(content_type__app_label="accounts", codename=codename)
        for role, (codename, _) in ROLE_PERMISSIONS.items()
    }
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.label)
        group.permissions.add(
            *(permission for lower, permission in role_permissions.items() if lower <= role)
        )
        if role is Role.ADMIN:
            group.permissions.add(*Permission.objects.all())


@transaction.atomic
def user_create_with_role(*, username: str, password: str, role: Role, email: str = "") -> User:
    user = User.objects.create_user(username=username, password=password, email=email)
    user_role_set(user=user, role=role)
    return user


@transaction.atomic
def user_role_set(*, user: User, role: Role) -> None:
    user.groups.set([Group.objects.get(name=role.label)])
    # Django's admin needs is_staff; only admins get into it.
    user.is_staff = role is Role.ADMIN
    user.save(update_fields=["is_staff"])


@transaction.atomic
def demo_users_ensure() -> dict[str, str]:
    """Create the demo users that do not exist yet; return {username: password} for the new ones."""
    created = {}
    for username, role in DEMO_USERS.items():
        if User.objects.filter(username=username).exists():
            continue
        password = secrets.token_urlsafe(9)
        user_create_with_role(username=username, password=password, role=role, email=f"{username}@localhost")
        created[username] = password
    return created
