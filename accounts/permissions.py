"""Role rules for the API; pages use accounts.decorators with the same rule."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import Role, has_role


def required_role(view, method: str) -> Role:
    """The role a request needs: reads need a viewer, writes an operator, unless the view says more.

    A view raises the bar with `read_role`, `write_role`, or per action with `action_roles`.
    """
    action = getattr(view, "action", None)
    action_roles = getattr(view, "action_roles", {})
    if action in action_roles:
        return action_roles[action]
    if method in SAFE_METHODS:
        return getattr(view, "read_role", Role.VIEWER)
    return getattr(view, "write_role", Role.OPERATOR)


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, required_role(view, request.method))
