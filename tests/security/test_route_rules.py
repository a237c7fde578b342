"""Every route declares who may use it: a new page, endpoint or socket without a rule fails here."""

import re

import pytest
from channels.db import database_sync_to_async
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from accounts.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, RoleConsumer
from accounts.permissions import RolePermission
from pdm_site.routing import websocket_urlpatterns

# Routes open to anonymous users on purpose.
PUBLIC = {"login", "logout", "api-health", "api-token", "schema", "swagger-ui"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django's admin enforces is_staff and model permissions itself
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def rule_of(pattern: URLPattern) -> str:
    view = pattern.callback
    view_class = getattr(view, "cls", None)
    if view_class is not None and issubclass(view_class, APIView):
        permissions = view_class.permission_classes
        if RolePermission in permissions:
            return "role"
        return "public" if AllowAny in permissions or not permissions else "other"
    if hasattr(view, "role_rule"):
        return "role"
    return "public" if getattr(view, "login_required", True) is False else "none"


def test_every_http_route_has_a_role_rule_or_is_knowingly_public():
    routes = list(walk(get_resolver().url_patterns))
    assert len(routes) > 5
    rules = {route: (rule_of(pattern), pattern.name) for route, pattern in routes}
    missing = [route for route, (rule, name) in rules.items() if rule == "none" and name not in PUBLIC]
    assert missing == [], f"routes without a role rule: {missing}"
    unexpected_public = [
        route for route, (rule, name) in rules.items() if rule in ("public", "other") and name not in PUBLIC
    ]
    assert unexpected_public == [], f"routes open to anyone: {unexpected_public}"


def test_every_websocket_route_checks_roles():
    consumers = [route.callback.consumer_class for route in websocket_urlpatterns]
    assert consumers
    assert all(issubclass(consumer, RoleConsumer) for consumer in consumers)


def websocket_paths() -> list[str]:
    """Each socket route with a sample value in its converters (job 1)."""
    return ["/" + re.sub(r"<int:\w+>", "1", str(route.pattern)) for route in websocket_urlpatterns]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", websocket_paths())
async def test_every_websocket_refuses_anonymous_and_roleless_users(path, make_user, open_socket):
    roleless = await database_sync_to_async(make_user)(None, "nobody")
    for user, code in ((None, CLOSE_UNAUTHENTICATED), (roleless, CLOSE_FORBIDDEN)):
        communicator = await open_socket(path, user)  # accepted first, so that browsers receive the code
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": code}
