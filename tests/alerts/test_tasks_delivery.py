"""Email and webhooks through a real Celery worker (Redis in server mode): the email lands in Django's
outbox; the webhook reaches a local HTTP server signed, and a first answer 500 is retried with backoff."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from alerts.models import AlertRule, WebhookDelivery
from alerts.services.alarms import Finding, alarm_acknowledge, alarm_raise
from alerts.services.webhooks import SIGNATURE_HEADER, signature_valid, webhook_create

SECRET = "a-test-secret-of-enough-length"


class Receiver(BaseHTTPRequestHandler):
    """Records every POST; answers with the next status of `statuses` (then 200)."""

    received: list[dict]
    statuses: list[int]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"headers": self.headers, "body": body, "at": time.monotonic()})
        self.send_response(self.statuses.pop(0) if self.statuses else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    handler = type("TestReceiver", (Receiver,), {"received": [], "statuses": [500]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hooks/pdm"
    server.shutdown()
    server.server_close()


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_alarm_email_and_signed_webhook_retried_after_a_failure(
    celery_worker, settings, users, motor, make_rule, receiver, admin_user
):
    settings.ALERTS_WEBHOOK_BACKOFF_SECONDS = 0.3
    handler, url = receiver
    for user in users.values():
        user.email = f"{user.username}@example.com"
        user.save()
    webhook = webhook_create(
        data={"name": "maintenance-chat", "url": url, "secret": SECRET, "events": ["raised"]}, user=admin_user
    )
    rule = make_rule(AlertRule.Kind.RUL_BELOW, rul_hours=100, severity="critical")
    mail.outbox.clear()
    alarm, _ = alarm_raise(
        rule=rule, machine=motor, finding=Finding("RUL lower bound 80 h below 100 h", "critical")
    )

    wait_for(lambda: len(mail.outbox) == 3)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@example.com",
        "operator@example.com",
        "viewer@example.com",
    ]
    assert all(m.subject == "[PdM critical] Critical: RUL lower bound 80 h below 100 h" for m in mail.outbox)
    assert f"/alerts/alarms/{alarm.pk}/" in mail.outbox[0].body

    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(
            webhook=webhook, status=WebhookDelivery.Status.DELIVERED
        ).first()
    )
    first, second = handler.received
    assert first["body"] == second["body"] == delivery.body.encode()  # the same signed body, retried
    assert second["at"] - first["at"] >= 0.25  # the backoff
    for request in handler.received:
        assert signature_valid(SECRET, request["body"], request["headers"][SIGNATURE_HEADER])
        assert request["headers"]["X-PDM-Event"] == "raised"
        assert request["headers"]["X-PDM-Delivery"] == str(delivery.pk)
    assert not signature_valid(
        "another-secret-of-some-length", first["body"], first["headers"][SIGNATURE_HEADER]
    )
    payload = json.loads(first["body"])
    assert payload["event"] == "raised" and payload["alarm"]["id"] == alarm.pk
    assert payload["alarm"]["machine_id"] == motor.machine_id and payload["alarm"]["severity"] == "critical"
    assert delivery.attempts == 2 and [a["status_code"] for a in delivery.attempt_log] == [500, 200]

    # Acknowledging is not an event this webhook asked for: nothing more is sent.
    alarm_acknowledge(alarm=alarm, user=users["operator"])
    time.sleep(0.5)
    assert len(handler.received) == 2 and WebhookDelivery.objects.count() == 1


def test_a_receiver_that_keeps_failing_ends_failed_after_the_last_attempt(
    celery_worker, settings, motor, make_rule, receiver, admin_user
):
    settings.ALERTS_WEBHOOK_BACKOFF_SECONDS = 0.05
    settings.ALERTS_WEBHOOK_MAX_ATTEMPTS = 3
    handler, url = receiver
    handler.statuses = [503, 503, 503]
    webhook_create(data={"name": "down", "url": url, "secret": SECRET}, user=admin_user)
    rule = make_rule(AlertRule.Kind.HEALTH_STATE, state_at_least=2)
    alarm_raise(rule=rule, machine=motor, finding=Finding("Health state Warning", "warning"))
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).first())
    assert delivery.attempts == 3 and delivery.response_status == 503 and "503" in delivery.error
    assert len(handler.received) == 3
