"""In a browser, against the embedded server (daphne + in-process worker, as `make run` serves it; WebSockets
need it): a failed job raises an alarm, the bell counts it, an operator acknowledges it from the bell, and a
notification sent while the page is open pops up live as a toast.

    PDM_TEST_MODE=embedded .venv/bin/pytest -m "embedded and e2e" tests/e2e/test_alerts_bell.py
"""

import pytest

from tests.e2e.conftest import TIMEOUT_MS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]

# A failed job without a machine, evaluated like the end of any job: the default "Job failed" rule raises.
RAISE_ALARM = """
from alerts.models import Alarm
from alerts.services.evaluation import job_evaluate
from gan.models import Job
job = Job.objects.create(kind="batch", task_name="gan.tasks.batch", status="FAILURE", error="disk full")
job_evaluate(job.pk)
print(Alarm.objects.get(job=job).pk)
"""


@pytest.fixture
def page(browser, embedded_server):
    context = browser.new_context(base_url=embedded_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def test_acknowledge_an_alarm_from_the_bell_and_see_a_live_toast(page, embedded_server):
    alarm_id = int(embedded_server.manage("shell", "-c", RAISE_ALARM).stdout.strip().splitlines()[-1])
    login(page, embedded_server, "operator", embedded_server.passwords["operator"])
    count = page.locator('[data-testid="bell-count"]')
    assert count.inner_text() == "1"

    page.click('[data-testid="bell"]')
    item = page.locator('[data-testid="bell-panel"] .bell-item').filter(has_text="Batch job failed")
    item.locator('[data-testid="bell-acknowledge"]').click()
    item.locator('[data-alarm-status="acknowledged"]').wait_for()
    assert "Acknowledged by operator" in item.inner_text()
    screenshot(page, "alerts-bell-acknowledged")

    alarm = embedded_server.session("viewer").get(f"{embedded_server.url}/api/v1/alarms/{alarm_id}/").json()
    assert alarm["status"] == "acknowledged" and alarm["acknowledged_by"] == "operator"
    assert [event["kind"] for event in alarm["events"]] == ["raised", "acknowledged"]

    page.click('[data-testid="bell-read-all"]')
    page.wait_for_function("document.querySelector('[data-testid=bell-count]').hidden")

    # Sent while the page is open: it arrives over /ws/notifications/ as a toast and counts on the bell.
    page.goto("/alerts/preferences/")
    page.wait_for_function("() => document.querySelector('[data-bell]') !== null")
    page.click('[data-testid="test-notification"]')
    toast = page.locator("#toasts .toast", has_text="Test notification")
    toast.wait_for()
    assert count.inner_text() == "1"
    screenshot(page, "alerts-live-toast")
