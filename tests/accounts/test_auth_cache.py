"""Users, permissions and tokens are kept per process, and every change to them is seen at once."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from accounts.backends import AUTH_TABLE
from accounts.roles import Role
from pdm_site import versions
from tests.conftest import PASSWORD

AUTH_TABLES = ("auth_user", "auth_permission", "auth_group", "authtoken_token")


def auth_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if any(f'"{table}"' in q["sql"] for table in AUTH_TABLES)]


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token_client(user) -> tuple[Client, Token]:
    token = Token.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}"), token


def test_a_page_asks_nothing_about_the_user_once_known(operator):
    client = page_client(operator)
    assert client.get("/machines/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/machines/").status_code == 200
    assert auth_queries(queries) == []


def test_an_api_call_asks_nothing_about_the_token_once_known(operator):
    client, _ = token_client(operator)
    assert client.get("/api/v1/machines/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/machines/").status_code == 200
    assert auth_queries(queries) == []


@pytest.mark.parametrize("channel", ["page", "api"])
def test_a_request_checks_the_users_version_once(operator, channel, monkeypatch):
    """The user and their role come from one look at the auth table's version token: a second look, for
    the role check, would be one more cache round trip per request."""
    client = page_client(operator) if channel == "page" else token_client(operator)[0]
    path = "/machines/new/" if channel == "page" else "/api/v1/machines/"
    assert client.get(path).status_code == 200
    looked_up = []
    token = versions.token
    monkeypatch.setattr(versions, "token", lambda topic: looked_up.append(topic) or token(topic))

    assert client.get(path).status_code == 200
    assert looked_up.count(AUTH_TABLE.topic) == 1


def test_a_role_taken_away_is_refused_on_the_next_request(operator):
    pages = page_client(operator)
    api, _ = token_client(operator)
    assert pages.get("/machines/new/").status_code == 200
    assert api.get("/api/v1/machines/").status_code == 200

    operator.groups.set([Group.objects.get(name=Role.VIEWER.label)])

    assert pages.get("/machines/new/").status_code == 403
    assert pages.get("/machines/").status_code == 200
    assert api.post("/api/v1/predictions/", {}, content_type="application/json").status_code == 403


def test_a_role_granted_is_honoured_on_the_next_request(viewer):
    pages = page_client(viewer)
    assert pages.get("/machines/new/").status_code == 403

    viewer.groups.add(Group.objects.get(name=Role.OPERATOR.label))

    assert pages.get("/machines/new/").status_code == 200


def test_a_permission_removed_from_the_group_is_refused_on_the_next_request(operator):
    pages = page_client(operator)
    assert pages.get("/machines/new/").status_code == 200

    operator_group = Group.objects.get(name=Role.OPERATOR.label)
    operator_group.permissions.remove(*operator_group.permissions.filter(codename="operate"))

    assert pages.get("/machines/new/").status_code == 403


def test_a_deleted_token_is_refused_on_the_next_request(operator):
    api, token = token_client(operator)
    assert api.get("/api/v1/machines/").status_code == 200

    token.delete()

    answer = api.get("/api/v1/machines/")
    assert answer.status_code == 401
    assert "Invalid token" in answer.json()["detail"]


@pytest.mark.parametrize("channel", ["page", "api"])
def test_a_deactivated_user_is_shut_out_on_the_next_request(operator, channel):
    client = page_client(operator) if channel == "page" else token_client(operator)[0]
    path = "/machines/" if channel == "page" else "/api/v1/machines/"
    assert client.get(path).status_code == 200

    operator.is_active = False
    operator.save(update_fields=["is_active"])

    answer = client.get(path)
    if channel == "page":
        assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    else:
        assert answer.status_code == 401


def test_a_changed_password_ends_other_sessions(operator):
    client = Client()
    assert client.post("/login/", {"username": operator.username, "password": PASSWORD}).status_code == 302
    assert client.get("/machines/").status_code == 200

    operator.set_password("another-horse-battery-staple")
    operator.save()

    answer = client.get("/machines/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_requests_do_not_share_a_user_instance(operator):
    """Per-request attributes (a permission cache, the backend) never leak into another request."""
    from accounts.backends import CachedModelBackend

    backend = CachedModelBackend()
    first, second = backend.get_user(operator.pk), backend.get_user(operator.pk)
    assert first == second and first is not second
    first.is_superuser = True
    assert not backend.get_user(operator.pk).is_superuser
