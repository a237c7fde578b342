"""In a browser: New machine (from the chiller template) → seed → train with the loss chart growing live →
generate → validate, all from the machine page.

pytest-django's live_server speaks WSGI only (no WebSockets), so this test drives the embedded server (a real
daphne process with its in-process worker) and is marked embedded too:
    PDM_TEST_MODE=embedded .venv/bin/pytest -m "embedded and e2e" tests/e2e/test_synthetic_flow.py
"""

import os
import time

import pytest

from machines.selectors import profile_template
from tests.e2e.conftest import TIMEOUT_MS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]
MACHINE_ID = "chiller_acme_wc500_001"
JOB_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def server(request):
    """The embedded server with one torch thread (the host is shared)."""
    previous = os.environ.get("GAN_TORCH_THREADS")
    os.environ["GAN_TORCH_THREADS"] = "1"
    try:
        yield request.getfixturevalue("embedded_server")
    finally:
        if previous is None:
            os.environ.pop("GAN_TORCH_THREADS", None)
        else:
            os.environ["GAN_TORCH_THREADS"] = previous


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def step_state(page, step: str, states: str, timeout: int = JOB_TIMEOUT_MS) -> None:
    """Wait until the workflow shows `step` in one of `states` (space-separated)."""
    selector = ", ".join(f'[data-step="{step}"][data-state="{state}"]' for state in states.split())
    page.wait_for_selector(selector, timeout=timeout)


def test_new_machine_from_seed_to_validated_with_a_growing_loss_chart(page, server):
    login(page, server, "operator", server.passwords["operator"])
    page.goto("/machines/new/?mode=template&template=chiller")
    page.wait_for_selector('[data-testid="profile-valid"]')
    with page.expect_navigation():
        page.click('[data-testid="profile-submit"]')
    assert page.url == f"{server.url}/machines/{MACHINE_ID}/"
    assert page.get_attribute('[data-testid="workflow"]', "data-next-step") == "seed"

    page.fill("#seed-rows", "1000")
    page.click('[data-testid="start-seed"]')
    step_state(page, "seed", "done")
    assert page.get_attribute('[data-testid="workflow"]', "data-next-step") == "train"

    page.fill("#train-epochs", "60")
    page.fill("#train-batch", "100")
    page.click('[data-testid="start-train"]')
    job = page.locator(".workflow-job [data-job-id]").first
    job.locator("canvas[data-loss-chart]").wait_for()
    points = []
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and job.get_attribute("data-status") in ("PENDING", "RUNNING", None):
        count = int(job.get_attribute("data-loss-points") or 0)
        if count and (not points or count > points[-1]):
            points.append(count)
            if len(points) == 3:
                screenshot(page, "synthetic-training-live")
        page.wait_for_timeout(150)
    assert len(points) >= 3, f"the loss chart did not grow while training: {points}"
    assert points == sorted(points)
    step_state(page, "train", "done")
    # The panel now shows the finished training: its chart is drawn again from the job's loss history.
    page.wait_for_function(
        "() => document.querySelector('.workflow-job [data-job-id]')?.dataset.lossPoints === '60'"
    )

    page.fill("#gen-train", "1000")
    page.fill("#gen-val", "100")
    page.fill("#gen-test", "100")
    page.click('[data-testid="start-generate"]')
    step_state(page, "generate", "done")

    page.click('[data-testid="start-validate"]')
    step_state(page, "validate", "done failed")
    quality = page.locator('[data-testid="quality"]')
    quality.wait_for()
    verdict = quality.locator('[data-testid="verdict"]').inner_text()
    assert verdict in ("excellent", "good", "acceptable", "fail")
    sensors = profile_template("chiller")["profile"]["sensors"]
    assert quality.locator('[data-testid="quality-sensors"] tbody tr').count() == len(sensors)
    page.wait_for_function("() => document.querySelectorAll('canvas[data-quality-chart]').length === 2")
    screenshot(page, "synthetic-validated")

    page.goto(f"/data/explorer/?machine={MACHINE_ID}&source=train")
    page.wait_for_selector('[data-testid="explorer-table"] tbody tr')
    assert "Rows 1–50 of 1000" in page.inner_text('[data-testid="explorer-table"] h2')
    screenshot(page, "synthetic-explorer")
