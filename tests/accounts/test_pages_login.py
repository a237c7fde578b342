import pytest

from tests.conftest import PASSWORD


def test_anonymous_pages_redirect_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_wrong_credentials_give_one_message_that_leaks_nothing(client, operator):
    wrong_password = client.post("/login/", {"username": "operator", "password": "nope"})
    unknown_user = client.post("/login/", {"username": "ghost", "password": "nope"})
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200
        assert "Wrong username or password." in response.content.decode()
    assert wrong_password.content.decode().count("Wrong") == unknown_user.content.decode().count("Wrong")


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_each_role_logs_in_and_sees_the_dashboard_with_its_role(client, users, role):
    response = client.post("/login/", {"username": role, "password": PASSWORD}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="dashboard"' in page
    assert f"role-{role}" in page
    assert ("/admin/" in page) == (role == "admin")


def test_user_without_role_is_forbidden(client, make_user):
    client.force_login(make_user(None))
    assert client.get("/").status_code == 403


def test_logout_needs_post_and_ends_the_session(client, viewer):
    client.force_login(viewer)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_static_assets_are_vendored(client, viewer):
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "/static/vendor/htmx.min.js" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
