"""SPEC §6's role matrix over every route, generated from the URLconf: new routes are checked as they land.

Every route is called with every method it serves, as anonymous, a user without a role, viewer, operator and
admin. Permission checks run before object lookups, so sample ids need not exist: "allowed" means any answer
but 401/403 (and, for pages, but a redirect to the login form).
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.roles import Role

ANONYMOUS, NO_ROLE = "anonymous", "no role"
PUBLIC = {"login", "logout", "api-health", "api-token", "schema", "swagger-ui"}
# SPEC §6, last row: what only admins may do. Everything else: reads → viewer, writes → operator.
ADMIN_ONLY = {
    ("metrics", "GET"),
    ("metrics", "POST"),
    ("machine-detail", "DELETE"),
    ("machines:delete", "GET"),
    ("machines:delete", "POST"),
    ("category-list", "POST"),
    ("category-detail", "PUT"),
    ("category-detail", "PATCH"),
    ("category-detail", "DELETE"),
    ("synthesizer-activate", "POST"),
    ("gan:activate", "GET"),
    ("gan:activate", "POST"),
    ("model-version-activate", "POST"),
    ("model-version-rollback", "POST"),
    ("predictions:model_activate", "GET"),
    ("predictions:model_activate", "POST"),
    ("predictions:model_rollback", "GET"),
    ("predictions:model_rollback", "POST"),
    ("manual-list", "POST"),
    ("manual-detail", "DELETE"),
    ("assistant:manuals", "POST"),
    ("assistant:manual_delete", "GET"),
    ("assistant:manual_delete", "POST"),
    ("alert-rule-list", "POST"),
    ("alert-rule-detail", "PUT"),
    ("alert-rule-detail", "PATCH"),
    ("alert-rule-detail", "DELETE"),
    ("webhook-list", "GET"),
    ("webhook-list", "POST"),
    ("webhook-detail", "GET"),
    ("webhook-detail", "PUT"),
    ("webhook-detail", "PATCH"),
    ("webhook-detail", "DELETE"),
    ("webhook-deliveries", "GET"),
    ("webhook-ping", "POST"),
    ("alerts:rule_new", "GET"),
    ("alerts:rule_new", "POST"),
    ("alerts:rule_edit", "GET"),
    ("alerts:rule_edit", "POST"),
    ("alerts:rule_delete", "GET"),
    ("alerts:rule_delete", "POST"),
    ("alerts:webhooks", "GET"),
    ("alerts:webhooks", "POST"),
    ("alerts:webhook", "GET"),
    ("alerts:webhook", "POST"),
}
# Pages that exist only to write (forms, step triggers): even reading them needs an operator.
OPERATOR_PAGES = {
    "machines:new",
    "machines:edit",
    "machines:validate",
    "gan:seed",
    "gan:train",
    "gan:generate",
    "gan:validate",
    "predictions:machine_predict",
    "predictions:model_train",
    "predictions:model_retrain",
    "predictions:real_dataset_reanalyse",
    "predictions:real_dataset_train",
    "predictions:real_dataset_preset",
    "alerts:alarm_acknowledge",
    "alerts:alarm_resolve",
    "alerts:work_order_new",
    "alerts:work_order_status",
    "alerts:drift_check",
    "alerts:drift_retrain",
    "alerts:failure_dataset",
}
# Writes a viewer may make: their own notification preferences and read marks.
VIEWER_WRITES = {
    ("notification-read", "POST"),
    ("notification-read-all", "POST"),
    ("api-notification-preferences", "PUT"),
    ("api-notification-preferences", "PATCH"),
    ("alerts:notification_read", "POST"),
    ("alerts:notifications_read_all", "POST"),
    ("alerts:preferences", "POST"),
    ("alerts:preferences_test", "POST"),
}
# Answer 401 rather than redirecting to the login form: scrapers authenticate with a token.
TOKEN_PAGES = {"metrics"}
SAMPLE_KWARGS = {
    "machine_id": "motor_siemens_1la7_001",
    "pk": "999999",
    "id": "999999",
    "number": "1",
    "name": "motor",
    "extension": "json",
    "split": "train",
}


def walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            space = f"{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), space)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), f"{namespace}{pattern.name}", pattern.callback


def concrete_path(route: str) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_KWARGS[m.group(1)], route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_KWARGS[m.group(1)], path)
    path = path.replace("^", "").replace("$", "").replace("\\.", ".")
    return "/" + path


def methods_of(callback) -> list[str]:
    view_class = getattr(callback, "cls", None)
    if getattr(callback, "actions", None):
        return sorted(method.upper() for method in callback.actions)
    if view_class is not None and issubclass(view_class, APIView):
        names = view_class.http_method_names
        return sorted(name.upper() for name in names if name != "options" and hasattr(view_class, name))
    return ["GET", "POST"]


def routes():
    for route, name, callback in walk(get_resolver().url_patterns):
        if name in PUBLIC:
            continue
        is_api = getattr(callback, "cls", None) is not None and issubclass(callback.cls, APIView)
        for method in methods_of(callback):
            yield pytest.param(concrete_path(route), name, method, is_api, id=f"{method} {name}")


def needed_role(name: str, method: str) -> Role:
    if (name, method) in ADMIN_ONLY:
        return Role.ADMIN
    if name in OPERATOR_PAGES:
        return Role.OPERATOR
    if method in ("GET", "HEAD") or (name, method) in VIEWER_WRITES:
        return Role.VIEWER
    return Role.OPERATOR


def call(path: str, method: str, is_api: bool, user):
    client = APIClient() if is_api else Client()
    if user is not None:
        client.force_login(user)
    return getattr(client, method.lower())(path)


@pytest.fixture
def people(make_user):
    return {
        ANONYMOUS: None,
        NO_ROLE: make_user(None),
        "viewer": make_user(Role.VIEWER),
        "operator": make_user(Role.OPERATOR),
        "admin": make_user(Role.ADMIN),
    }


@pytest.mark.parametrize(("path", "name", "method", "is_api"), list(routes()))
def test_role_matrix(people, path, name, method, is_api):
    needed = needed_role(name, method)
    anonymous = call(path, method, is_api, None)
    if is_api or name in TOKEN_PAGES:
        assert anonymous.status_code == 401, f"anonymous {method} {path}"
    else:
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/"), path
    assert call(path, method, is_api, people[NO_ROLE]).status_code == 403
    for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
        status = call(path, method, is_api, people[role.label]).status_code
        if role >= needed:
            assert status not in (401, 403), f"{role.label} {method} {path} → {status}, expected allowed"
        else:
            assert status == 403, f"{role.label} {method} {path} → {status}, expected 403"
