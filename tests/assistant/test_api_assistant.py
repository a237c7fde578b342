"""The assistant API: who may do what (SPEC §6), private conversations, bad input, the costly throttle."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.throttling import ScopedRateThrottle

from accounts.roles import Role
from assistant.models import Conversation, Explanation, ManualDocument, Message, Report
from gan.models import Job


def test_an_operator_requests_an_explanation_then_gets_the_kept_one(operator_api, warning_motor):
    machine, predictions = warning_motor
    prediction = predictions["health"].pk

    created = operator_api.post("/api/v1/explanations/", {"prediction": prediction})
    kept = operator_api.post("/api/v1/explanations/", {"prediction": prediction})

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["prediction"] == prediction and body["machine_id"] == machine.machine_id
    assert body["source"] == "llm" and body["model"] == "pdm-tiny-random"
    assert body["risk_factors"] and body["citations"] and body["draft_text"] != body["text"]
    assert kept.status_code == 200 and kept.json()["id"] == body["id"] and kept.json()["text"] == body["text"]


def test_viewers_read_explanations_but_cannot_request_one(api, viewer, operator, warning_motor):
    machine, predictions = warning_motor
    refused = api.as_user(viewer).post("/api/v1/explanations/", {"prediction": predictions["health"].pk})
    assert refused.status_code == 403 and not Explanation.objects.exists()

    api.as_user(operator).post("/api/v1/explanations/", {"prediction": predictions["health"].pk})
    listed = api.as_user(viewer).get(f"/api/v1/explanations/?machine={machine.machine_id}")
    assert listed.status_code == 200 and listed.json()["count"] == 1
    one = api.get(f"/api/v1/explanations/{listed.json()['results'][0]['id']}/")
    assert one.status_code == 200 and one.json()["prediction"] == predictions["health"].pk


def test_an_unknown_prediction_is_a_clear_400(operator_api, db):
    response = operator_api.post("/api/v1/explanations/", {"prediction": 999999})
    assert response.status_code == 400
    assert response.json()["errors"] == {"prediction": ["unknown prediction 999999"]}
    assert not Explanation.objects.exists()


def test_chat_answers_with_citations_and_stores_the_exchange(operator_api, operator, warning_motor):
    machine, _ = warning_motor

    response = operator_api.post(
        "/api/v1/chat/", {"question": "Why is it hot?", "machine": machine.machine_id}
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (
        body["conversation"]["machine_id"] == machine.machine_id
        and body["conversation"]["message_count"] == 2
    )
    assert body["question"]["text"] == "Why is it hot?" and body["answer"]["role"] == "assistant"
    assert body["answer"]["citations"] and body["answer"]["source"] == "llm"
    follow_up = operator_api.post(
        "/api/v1/chat/", {"question": "Then?", "conversation": body["conversation"]["id"]}
    )
    continued = follow_up.json()["conversation"]
    assert (continued["id"], continued["machine_id"], continued["message_count"]) == (
        body["conversation"]["id"],
        machine.machine_id,
        4,
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "Why?", "machine": "no_such_machine"}, "machine"),
        ({"question": "Why?", "conversation": 999999}, "conversation"),
        ({}, "question"),
    ],
)
def test_bad_chat_input_is_a_400_naming_the_field_and_stores_nothing(operator_api, payload, field):
    response = operator_api.post("/api/v1/chat/", payload)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_viewers_cannot_chat(api, viewer):
    assert api.as_user(viewer).post("/api/v1/chat/", {"question": "Why?"}).status_code == 403


def test_a_user_sees_only_their_own_conversations(api, operator, make_user):
    other = make_user(Role.OPERATOR, "other_operator")
    mine = Conversation.objects.create(user=operator, title="mine")
    theirs = Conversation.objects.create(user=other, title="theirs")
    Message.objects.create(conversation=theirs, role="user", text="secret plan")
    client = api.as_user(operator)

    listed = client.get("/api/v1/conversations/").json()
    assert [c["id"] for c in listed["results"]] == [mine.pk]
    assert client.get(f"/api/v1/conversations/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/conversations/{theirs.pk}/").status_code == 404
    assert client.post("/api/v1/chat/", {"question": "More?", "conversation": theirs.pk}).status_code == 400
    assert theirs.messages.count() == 1 and Conversation.objects.filter(pk=theirs.pk).exists()
    assert client.get(f"/api/v1/conversations/{mine.pk}/").json()["messages"] == []
    assert client.delete(f"/api/v1/conversations/{mine.pk}/").status_code == 204


def test_admins_upload_and_delete_manuals_others_read_them(api, users):
    def manual(name="gearbox.md", data=b"# Gearbox\n\nCheck the grease every 500 hours.\n"):
        return {"file": SimpleUploadedFile(name, data)}

    for role in ("viewer", "operator"):
        refused = api.as_user(users[role]).post("/api/v1/manuals/", manual(), format="multipart")
        assert refused.status_code == 403
    created = api.as_user(users["admin"]).post("/api/v1/manuals/", manual(), format="multipart")
    assert created.status_code == 201, created.json()
    assert created.json()["name"] == "gearbox.md" and created.json()["category"] is None

    bad = api.post("/api/v1/manuals/", manual("photo.png", b"\x89PNG"), format="multipart")
    assert bad.status_code == 400 and "unsupported file type" in bad.json()["errors"]["file"][0]
    assert api.as_user(users["viewer"]).get("/api/v1/manuals/").json()["count"] == 1
    assert api.delete(f"/api/v1/manuals/{created.json()['id']}/").status_code == 403
    assert api.as_user(users["admin"]).delete(f"/api/v1/manuals/{created.json()['id']}/").status_code == 204
    assert not ManualDocument.objects.exists()


def test_a_manual_upload_far_over_the_limit_is_refused_before_reading_it(api, admin_user, settings):
    settings.ASSISTANT_MANUAL_MAX_BYTES = 1000
    big = SimpleUploadedFile("big.md", b"# Big\n\n" + b"word " * 40_000)
    response = api.as_user(admin_user).post("/api/v1/manuals/", {"file": big}, format="multipart")
    assert response.status_code == 413 and "limit for a manual" in response.json()["detail"]
    assert not ManualDocument.objects.exists()


def test_reports_operators_request_viewers_read_and_download_waits_for_the_file(
    api, viewer, operator, warning_motor
):
    machine, _ = warning_motor
    assert api.as_user(viewer).post("/api/v1/reports/", {"machine": machine.machine_id}).status_code == 403

    started = api.as_user(operator).post("/api/v1/reports/", {"machine": machine.machine_id})
    assert started.status_code == 202, started.json()
    body = started.json()
    report = Report.objects.get(pk=body["report"])
    assert (
        body["kind"] == "report"
        and body["status"] == "PENDING"
        and body["ws_url"] == f"/ws/jobs/{report.job_id}/"
    )
    assert report.job.kind == Job.Kind.REPORT and report.job.machine == machine

    listed = api.as_user(viewer).get("/api/v1/reports/").json()
    assert listed["results"][0]["id"] == report.pk and listed["results"][0]["ready"] is False
    download = api.get(body["download_url"])
    assert download.status_code == 409 and "not ready" in download.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "machine"),
        ({"machine": "nope_001"}, "machine"),
        ({"scope": "fleet", "machine": "x"}, "machine"),
        ({"scope": "planet"}, "scope"),
    ],
)
def test_bad_report_requests_are_a_400(operator_api, payload, field):
    response = operator_api.post("/api/v1/reports/", payload)
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert not Report.objects.exists() and not Job.objects.exists()


def test_a_fleet_report_needs_no_machine(operator_api):
    response = operator_api.post("/api/v1/reports/", {"scope": "fleet"})
    assert response.status_code == 202
    assert Report.objects.get().scope == "fleet"


def test_the_costly_throttle_limits_requests_that_run_the_model_not_reads(
    operator_api, settings, monkeypatch
):
    settings.LLM_ENABLED = False
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "costly": "2/min"}
    )

    statuses = [operator_api.post("/api/v1/chat/", {"question": "Why?"}).status_code for _ in range(3)]
    reads = [operator_api.get("/api/v1/conversations/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429] and reads == [200, 200, 200]
    assert operator_api.post("/api/v1/reports/", {"scope": "fleet"}).status_code == 429
