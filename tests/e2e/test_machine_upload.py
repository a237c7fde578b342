"""In a browser: upload a profile with one mistake, fix it in the editor, create the machine, find it."""

import pytest
import yaml
from django.core.management import call_command

from machines.models import Machine
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e

PROFILE = {
    "machine_id": "motor_e2e_upload_001",
    "machine_type": "motor",
    "manufacturer": "ACME",
    "model": "E2E",
    "sensors": [
        {"name": "bearing_de_temp_C", "unit": "C"},
        {"name": "winding_temp_C", "unit": "C"},
        # The deliberate mistake: a temperature without its unit.
        {"name": "gearbox_temp_C"},
        {"name": "current_A", "unit": "A"},
    ],
}


def test_upload_fix_create_and_find(page, live_server, users):
    call_command("load_fleet", verbosity=0)
    login(page, live_server, "operator")
    assert page.evaluate("typeof window.htmx") == "object", "static files are not served"

    page.goto(f"{live_server.url}/machines/new/?mode=upload")
    content = yaml.safe_dump(PROFILE, sort_keys=False).encode()
    page.set_input_files(
        "#id_file", {"name": "motor.yaml", "mimeType": "application/yaml", "buffer": content}
    )
    page.click("text=Upload and check")
    line = content.decode().splitlines().index("- name: gearbox_temp_C") + 1

    errors = page.locator('[data-testid="profile-errors"] li')
    errors.first.wait_for()
    assert errors.all_inner_texts() == [
        f'line {line} sensors[2].unit: temperature sensors need a unit — add "unit": "C"'
    ]
    assert page.locator('[data-testid="profile-submit"]').is_disabled()
    screenshot(page, "machine-upload-error")

    # Fix it in the editor: the line the error points at gets its unit.
    page.click(f'[data-goto-line="{line}"]')
    document = page.input_value("#id_document")
    page.fill(
        "#id_document", document.replace("- name: gearbox_temp_C\n", "- name: gearbox_temp_C\n  unit: C\n")
    )
    page.wait_for_selector('[data-testid="profile-valid"]')
    assert not Machine.objects.filter(machine_id="motor_e2e_upload_001").exists()

    with page.expect_navigation():
        page.click('[data-testid="profile-submit"]')
    assert page.url == f"{live_server.url}/machines/motor_e2e_upload_001/"
    assert "Machine motor_e2e_upload_001 created (profile v1)." in page.inner_text(".messages")
    assert page.locator('[data-testid="sensor-table"] tbody tr').count() == 4

    page.goto(f"{live_server.url}/machines/")
    page.fill("#machine-search", "e2e_upload")
    row = page.locator('tr[data-machine-id="motor_e2e_upload_001"]')
    row.wait_for()
    page.wait_for_function("document.querySelectorAll('tr[data-machine-id]').length === 1")
    assert "search=e2e_upload" in page.url
    screenshot(page, "machine-upload-found")
