"""The fleet dashboard in a real browser, moving with the simulated telemetry of `make run`: a real daphne
in embedded mode (WebSockets), the demo bootstrap trained the motors, the simulator ticks every second."""

import pytest

from tests.e2e.conftest import TIMEOUT_MS, screenshot
from tests.predictions.conftest import bootstrapped_server, wait_for_training

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]
MOTOR = "motor_siemens_1la7_001"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    simulation = {
        "PDM_SIMULATE_FLEET": "1",
        "PREDICTIONS_SIMULATE_SECONDS": "1",
        "PREDICTIONS_REFRESH_SECONDS": "1",
    }
    with bootstrapped_server(tmp_path_factory, **simulation) as running:
        yield running


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def test_the_dashboard_moves_without_reloading(server, page):
    job = wait_for_training(server, server.session("viewer"))
    assert job["status"] == "SUCCESS", job
    page.goto("/login/")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", server.passwords["viewer"])
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.wait_for_selector('[data-testid="dashboard"]')
    page.wait_for_selector("[data-live-status].live")

    card = f'[data-machine-card="{MOTOR}"]'
    page.wait_for_selector(f"{card}[data-state]:not([data-state=''])", timeout=30_000)
    before = page.get_attribute(card, "data-updated")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    # The card is re-fetched as new readings and predictions arrive over /ws/fleet/: no reload.
    page.wait_for_function(
        "([selector, before]) => { const c = document.querySelector(selector);"
        " return c && c.dataset.updated && c.dataset.updated !== before; }",
        arg=[card, before],
        timeout=30_000,
    )
    assert navigations == []
    assert int(page.get_attribute('[data-testid="dashboard"]', "data-updates")) > 0
    state = page.get_attribute(card, "data-state")
    assert state in ("0", "1", "2", "3") and f"state-{state}" in page.get_attribute(card, "class")
    assert page.locator(f"{card} [data-sensor]").count() == 3
    counts = page.locator('[data-testid^="overview-"]').evaluate_all(
        "cards => cards.map(c => +c.dataset.count)"
    )
    assert sum(counts) == 32
    screenshot(page, "dashboard-live")
