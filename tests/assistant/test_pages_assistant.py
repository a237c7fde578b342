"""The assistant's pages: chat, reports, manuals and the Explain panel, with markdown rendered safely."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from assistant.models import Conversation, Explanation, ManualDocument, Message, Report
from assistant.services.explanations import explanation_request

HOSTILE = "**Check** the seal [1].\n\n<img src=x onerror=alert(1)> [link](javascript:alert(2))"


def page(client, user, url, **kwargs):
    client.force_login(user)
    return client.get(url, **kwargs)


def test_the_chat_page_renders_the_conversation_as_safe_markdown(client, operator):
    conversation = Conversation.objects.create(user=operator, title="Seal question")
    Message.objects.create(conversation=conversation, role="user", text="What about the seal?")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text=HOSTILE,
        source="llm",
        model_name="SmolLM2",
        citations=[
            {
                "number": 1,
                "source": "pump.md",
                "section": "Seals",
                "text": "<b>leak</b> check",
                "chunk_id": "pump.md#3",
                "title": "Pump",
                "score": 1.0,
            }
        ],
    )

    html = page(client, operator, "/assistant/").content.decode()

    assert 'data-testid="chat-input"' in html and f'data-conversation="{conversation.pk}"' in html
    assert "<strong>Check</strong> the seal [1]." in html
    assert "<img" not in html.split('data-testid="chat-log"')[1] and 'href="javascript' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;leak&lt;/b&gt; check" in html and "pump.md" in html


def test_viewers_read_the_chat_page_without_a_composer(client, viewer):
    html = page(client, viewer, "/assistant/").content.decode()
    assert 'data-testid="chat-input"' not in html and "asking needs the operator role" in html


def test_someone_elses_conversation_is_not_found(client, operator, make_user):
    theirs = Conversation.objects.create(user=make_user(Role.OPERATOR, "other_operator"), title="theirs")
    assert page(client, operator, f"/assistant/?conversation={theirs.pk}").status_code == 404
    client.post(f"/assistant/conversations/{theirs.pk}/delete/")
    assert Conversation.objects.filter(pk=theirs.pk).exists()


def test_reports_page_requests_a_fleet_report_and_shows_its_job(client, operator, viewer):
    client.force_login(operator)
    response = client.post("/assistant/reports/", {"machine": ""})
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.scope == "fleet" and report.requested_by == operator

    html = page(client, viewer, "/assistant/reports/").content.decode()
    assert f'data-job-id="{report.job_id}"' in html and 'data-testid="report-request"' not in html
    assert client.post("/assistant/reports/", {"machine": ""}).status_code == 403
    row = client.get(f"/assistant/reports/{report.pk}/row/").content.decode()
    assert f'data-report-row="{report.pk}"' in row and 'hx-trigger="job:finished"' in row


def test_the_manuals_page_lists_the_shipped_ones_and_admins_upload_more(client, viewer, admin_user):
    html = page(client, viewer, "/assistant/manuals/").content.decode()
    assert "motor.md" in html and "turbofan.md" in html and 'data-testid="manual-form"' not in html

    client.force_login(admin_user)
    refused = client.post("/assistant/manuals/", {"file": SimpleUploadedFile("virus.exe", b"MZ")})
    assert refused.status_code == 400 and "unsupported file type" in refused.content.decode()
    assert not ManualDocument.objects.exists()
    done = client.post(
        "/assistant/manuals/", {"file": SimpleUploadedFile("belts.md", b"# Belts\n\nCheck the tension.\n")}
    )
    assert done.status_code == 302
    manual = ManualDocument.objects.get()
    assert client.post(f"/assistant/manuals/{manual.pk}/delete/").status_code == 302
    assert not ManualDocument.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_the_machine_health_page_holds_the_explain_panel(client, users, warning_motor, role):
    machine, predictions = warning_motor
    html = page(client, users[role], f"/machines/{machine.machine_id}/health/").content.decode()

    assert 'data-testid="explain-panel"' in html and f'data-prediction="{predictions["health"].pk}"' in html
    assert ('data-testid="explain-button"' in html) == (role == "operator")
    assert ("an operator can request one" in html) == (role == "viewer")


def test_the_panel_explains_from_the_newest_predictions_the_health_page_read(client, viewer, warning_motor):
    machine, _ = warning_motor
    with CaptureQueriesContext(connection) as queries:
        page(client, viewer, f"/machines/{machine.machine_id}/health/")
    newest_per_kind = [
        q["sql"]
        for q in queries.captured_queries
        if "MAX(" in q["sql"] and "predictions_prediction" in q["sql"]
    ]
    assert len(newest_per_kind) == 1


def test_a_kept_explanation_shows_in_the_panel_escaped(client, viewer, warning_motor):
    machine, predictions = warning_motor
    explanation = explanation_request(prediction=predictions["health"]).explanation
    Explanation.objects.filter(pk=explanation.pk).update(text=HOSTILE)

    html = page(client, viewer, f"/machines/{machine.machine_id}/health/").content.decode()
    panel = html[html.index('data-testid="explain-panel"') :]

    assert "Grounded draft" in panel and "Assistant's rewrite" in panel and "pdm-tiny-random" in panel
    assert "<strong>Check</strong> the seal [1]." in panel and "&lt;img src=x" in panel
    assert "<img" not in panel and 'href="javascript' not in panel
    assert explanation.citations[0]["source"] in panel


def test_the_dashboard_panel_offers_the_machines_with_predictions(
    viewer, operator, warning_motor, make_machine
):
    make_machine("motor_assist_009")  # no predictions: not offered
    request = RequestFactory().get("/")
    request.user = operator

    html = render_to_string("assistant/_explain_panel.html", request=request)

    assert 'data-testid="explain-machine"' in html
    assert '<option value="motor_assist_001">' in html and "motor_assist_009" not in html
    assert 'data-testid="explain-button"' in html
