"""Smoke: each role logs in through the form and sees the dashboard, on a desktop and a phone-sized screen."""

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_each_role_logs_in_and_sees_the_dashboard(page, live_server, users, role):
    login(page, live_server, role)
    assert page.locator('[data-testid="dashboard"]').is_visible()
    assert page.locator('[data-testid="current-user"]').inner_text().split() == [role, role]
    assert page.locator("nav.sidebar a", has_text="Admin").count() == (1 if role == "admin" else 0)
    screenshot(page, f"dashboard-{role}")


def test_wrong_password_shows_a_form_error(page, live_server, users):
    with pytest.raises(AssertionError, match="Wrong username or password"):
        login(page, live_server, "operator", "not-the-password")


def test_theme_toggle_and_narrow_screen_menu(page, live_server, users):
    login(page, live_server, "viewer")
    html = page.locator("html")
    assert html.get_attribute("data-theme") == "dark"
    page.click("[data-theme-toggle]")
    assert html.get_attribute("data-theme") == "light"
    page.reload()
    assert html.get_attribute("data-theme") == "light"  # remembered

    page.set_viewport_size({"width": 375, "height": 740})
    # The sidebar slides out with a 0.2 s transition once the viewport narrows.
    page.wait_for_function("document.getElementById('sidebar').getBoundingClientRect().right <= 0")
    page.click("[data-menu-toggle]")
    page.wait_for_function("document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "dashboard-375px-menu-open")
