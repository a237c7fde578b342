"""In a browser: the Explain panel shows the grounded draft and streams the rewrite in; the chat streams an
answer about a machine; a PDF report is requested, followed live and downloaded.

The assistant needs WebSockets, which pytest-django's live_server (WSGI) lacks: this test drives the embedded
server (a real daphne process, in-process worker) with the tiny test model, and is marked embedded too:
    PDM_TEST_MODE=embedded .venv/bin/pytest -m "embedded and e2e" tests/e2e/test_assistant.py
"""

import json
import os

import pytest
from pypdf import PdfReader

from assistant.llm.tiny_model import tiny_model_logit_bias, write_tiny_model
from tests.e2e.conftest import TIMEOUT_MS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]
MACHINE_ID = "motor_weg_w22_003"
# The demo fleet, one refresh of a motor whose bearing runs hot, and a day of readings drifting there.
SEED = """
from datetime import timedelta
from django.utils import timezone
from machines.models import Machine
from machines.services import fleet_load
from predictions.models import MachineHealth, Prediction, SensorReading
fleet_load()
machine = Machine.objects.get(machine_id="MACHINE_ID")
now = timezone.now()
reading = {"bearing_de_temp_C": 61.0, "winding_temp_C": 74.0, "vibration_mm_s": 5.3, "current_A": 11.5}
for hour in range(24):
    values = {name: value * (0.7 + 0.3 * hour / 23) for name, value in reading.items()}
    SensorReading.objects.create(machine=machine, timestamp=now - timedelta(hours=24 - hour), values=values)
results = {
    "health": {"state": 2, "state_name": "Warning", "confidence": 0.8},
    "rul": {"rul": 150.0, "lower": 110.0, "upper": 190.0, "unit": "hours", "state": 2},
    "anomaly": {"score": 3.1, "threshold": 2.0, "normalized_score": 1.55, "is_anomaly": True},
}
for kind, result in results.items():
    Prediction.objects.create(machine=machine, kind=kind, input={"latest": reading},
                              result={"kind": kind, **result}, confidence=result.get("confidence"),
                              latency_ms=1.0)
MachineHealth.objects.update_or_create(machine=machine, defaults={
    "state": 2, "confidence": 0.8, "rul": 150.0, "rul_lower": 110.0, "rul_upper": 190.0, "rul_unit": "hours",
    "anomaly": True, "anomaly_score": 1.55, "last_reading_at": now, "predicted_at": now})
""".replace("MACHINE_ID", MACHINE_ID)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """The embedded server with the tiny model (read from its environment) and one motor in Warning."""
    model = write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.gguf")
    env = {
        "LLM_MODEL_PATH": str(model),
        "LLM_LOGIT_BIAS": json.dumps({str(k): v for k, v in tiny_model_logit_bias().items()}),
        "LLM_THREADS": "1",
        "LLM_CONTEXT": "4096",
        "LLM_MAX_TOKENS": "200",
    }
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        embedded = request.getfixturevalue("embedded_server")
        embedded.manage("shell", "-c", SEED)
        yield embedded
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def page(browser, server):
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 1000}, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, server, "operator", server.passwords["operator"])
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def test_explain_panel_shows_the_draft_then_the_streamed_rewrite(page):
    page.goto(f"/machines/{MACHINE_ID}/health/")
    panel = page.locator('[data-testid="explain-panel"]')
    page.click('[data-testid="explain-button"]')

    page.wait_for_selector('[data-testid="explain-panel"][data-done="1"]')
    draft = panel.locator('[data-testid="explain-draft"]').inner_text()
    assert "bearing_de_temp_C" in draft and "Recommended actions" in draft
    assert panel.locator('[data-testid="explain-text"]').inner_text().strip()
    assert "Manual sources" in panel.inner_text()
    screenshot(page, "assistant-explain")

    page.reload()  # kept: shown without asking again
    assert panel.locator('[data-testid="explain-text"]').inner_text().strip()


def test_chat_streams_an_answer_about_a_machine(page):
    page.goto("/assistant/")
    page.wait_for_selector('[data-assistant-chat][data-ready="1"]')
    page.select_option('[data-testid="chat-machine"]', MACHINE_ID)
    page.fill('[data-testid="chat-input"]', "What should I inspect first?")
    page.click('[data-testid="chat-send"]')

    page.wait_for_selector('[data-assistant-chat][data-state="busy"]', state="attached")
    page.wait_for_selector('[data-assistant-chat][data-state="idle"]')
    messages = page.locator('[data-testid="chat-message"]')
    assert messages.count() == 2
    assert messages.nth(0).inner_text().count("What should I inspect first?") == 1
    assert messages.nth(1).locator(".chat-text").inner_text().strip()
    assert messages.nth(1).locator("[data-copy]").count() == 1
    assert "conversation=" in page.url
    screenshot(page, "assistant-chat")

    page.reload()  # the conversation is restored
    page.wait_for_selector('[data-assistant-chat][data-ready="1"]')
    assert page.locator('[data-testid="chat-message"]').count() == 2


def test_a_report_is_followed_live_and_downloaded(page, tmp_path):
    page.goto("/assistant/reports/")
    page.select_option('[data-testid="report-machine"]', MACHINE_ID)
    with page.expect_navigation():
        page.click('[data-testid="report-request"]')

    link = page.locator('[data-testid="report-download"]').first
    link.wait_for(timeout=60_000)
    screenshot(page, "assistant-reports")
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    reader = PdfReader(path)
    assert len(reader.pages) >= 2 and MACHINE_ID in reader.pages[0].extract_text()
