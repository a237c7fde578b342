from django.contrib.auth.models import Group

from accounts.roles import Role, has_role, role_of


def test_groups_and_their_permissions_come_from_the_migration(db):
    permissions = {
        group.name: sorted(
            group.permissions.filter(content_type__app_label="accounts").values_list("codename", flat=True)
        )
        for group in Group.objects.filter(name__in=["viewer", "operator", "admin"])
    }
    assert permissions == {
        "viewer": ["read"],
        "operator": ["operate", "read"],
        "admin": ["administer", "operate", "read"],
    }


def test_admin_group_holds_every_model_permission_for_the_django_admin(db):
    admin_codenames = set(Group.objects.get(name="admin").permissions.values_list("codename", flat=True))
    assert {"add_machine", "delete_machine", "change_job"} <= admin_codenames


def test_roles_rank(users, make_user):
    assert role_of(users["viewer"]) is Role.VIEWER
    assert role_of(users["operator"]) is Role.OPERATOR
    assert role_of(users["admin"]) is Role.ADMIN
    assert users["admin"].is_staff and not users["operator"].is_staff
    assert has_role(users["operator"], Role.VIEWER)
    assert not has_role(users["viewer"], Role.OPERATOR)
    assert role_of(make_user(None)) is None
