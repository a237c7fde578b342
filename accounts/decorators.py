"""Role rules for pages: the same rule as the API (reads → viewer, writes → operator)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.roles import Role, has_role

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def role_required(read: Role = Role.VIEWER, write: Role = Role.OPERATOR):
    """Allow a page to users whose role reaches `read` (GET) or `write` (POST and other writes).

    Anonymous users never get here: PageLoginRequiredMiddleware sends them to the login form.
    The rule is kept on the view (`view.role_rule`) so the security tests can read it from the URLconf.
    """

    def decorate(view):
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs):
            needed = read if request.method in SAFE_METHODS else write
            if not has_role(request.user, needed):
                raise PermissionDenied(f"This needs the {needed.label} role.")
            return view(request, *args, **kwargs)

        guarded.role_rule = (read, write)
        return guarded

    return decorate
