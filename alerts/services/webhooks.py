"""Outgoing webhooks (admins): alarm events POSTed as JSON, signed, retried with exponential backoff by a
Celery task, every attempt logged on the delivery.

The receiver checks `X-PDM-Signature: sha256=<hex HMAC-SHA256 of the raw body with the webhook's secret>`
and may drop repeats by `X-PDM-Delivery` (a retried delivery keeps its id and body).
"""

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alerts.models import SEVERITIES, Alarm, Webhook, WebhookDelivery
from pdm_site.celery import app as celery_app

TASK = "alerts.tasks.deliver_webhook"
SIGNATURE_HEADER = "X-PDM-Signature"
EVENTS = tuple(Webhook.Event.values)
PING = "ping"
ERROR_CHARS = 500


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, body), header or "")


# --- Configuration ----------------------------------------------------------------------------------------


def _choices(errors: dict, field: str, value, allowed) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(item not in allowed for item in value):
        errors[field] = [f"a list from {', '.join(allowed)}"]
        return None
    return [item for item in allowed if item in value]


def webhook_check(data: dict, *, current: Webhook | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    clean = {}
    name = data.get("name", current.name if current else "")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["required, e.g. maintenance-chat"]
    else:
        clean["name"] = name.strip()[:100]
    url = data.get("url", current.url if current else "")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        errors["url"] = ["an http:// or https:// address, e.g. https://chat.example.com/hooks/pdm"]
    else:
        clean["url"] = url
    secret = data.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16 or len(secret) > 128):
        errors["secret"] = ["16–128 characters (leave it out to have one generated)"]
    elif secret:
        clean["secret"] = secret
    elif current is None:
        clean["secret"] = secrets.token_urlsafe(32)
    for field, allowed in (("severities", SEVERITIES), ("events", EVENTS)):
        chosen = _choices(errors, field, data.get(field), allowed)
        if chosen is not None:
            clean[field] = chosen
    if "enabled" in data:
        clean["enabled"] = bool(data["enabled"])
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def webhook_create(*, data: dict, user) -> Webhook:
    clean = webhook_check(data)
    try:
        with transaction.atomic():
            return Webhook.objects.create(
                **clean, created_by=user if user and user.is_authenticated else None
            )
    except IntegrityError as exc:
        raise ValidationError({"name": [f"a webhook named {clean['name']} exists: choose another"]}) from exc


@transaction.atomic
def webhook_update(*, webhook: Webhook, data: dict, user) -> Webhook:
    for field, value in webhook_check(data, current=webhook).items():
        setattr(webhook, field, value)
    try:
        with transaction.atomic():
            webhook.save()
    except IntegrityError as exc:
        raise ValidationError({"name": [f"a webhook named {webhook.name} exists: choose another"]}) from exc
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook, user) -> None:
    webhook.delete()


# --- Deliveries -------------------------------------------------------------------------------------------


def alarm_payload(alarm: Alarm, event: str) -> dict:
    return {
        "event": event,
        "sent_at": timezone.now().isoformat(),
        "alarm": {
            "id": alarm.pk,
            "title": alarm.title,
            "message": alarm.message,
            "kind": alarm.kind,
            "severity": alarm.severity,
            "status": alarm.status,
            "machine_id": alarm.machine.machine_id if alarm.machine_id else None,
            "count": alarm.count,
            "first_seen_at": alarm.first_seen_at.isoformat(),
            "last_seen_at": alarm.last_seen_at.isoformat(),
            "acknowledged_by": alarm.acknowledged_by.username if alarm.acknowledged_by_id else None,
            "resolved_by": alarm.resolved_by.username if alarm.resolved_by_id else None,
            "resolution": alarm.resolution or None,
            "details": alarm.details,
            "url": f"{settings.ALERTS_SITE_URL.rstrip('/')}{reverse('alerts:alarm', args=[alarm.pk])}",
        },
    }


def _delivery_start(webhook: Webhook, event: str, payload: dict, alarm: Alarm | None) -> WebhookDelivery:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    delivery = WebhookDelivery.objects.create(webhook=webhook, alarm=alarm, event=event, body=body)
    delivery_pk = delivery.pk
    transaction.on_commit(lambda: celery_app.send_task(TASK, args=[delivery_pk]))
    return delivery


@transaction.atomic
def alarm_webhooks(alarm: Alarm, event: str) -> list[WebhookDelivery]:
    """One delivery per enabled webhook that wants this event and severity."""
    deliveries = []
    for webhook in Webhook.objects.filter(enabled=True):
        if alarm.severity not in webhook.severities or (webhook.events and event not in webhook.events):
            continue
        deliveries.append(_delivery_start(webhook, event, alarm_payload(alarm, event), alarm))
    return deliveries


@transaction.atomic
def webhook_ping(*, webhook: Webhook, user) -> WebhookDelivery:
    """A signed test event, to check the receiver (and its signature check) from the webhook's page."""
    payload = {"event": PING, "sent_at": timezone.now().isoformat(), "webhook": webhook.name}
    return _delivery_start(webhook, PING, payload, None)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """(HTTP status or None, error text) of one POST of the delivery's body."""
    body = delivery.body.encode()
    request = urllib.request.Request(
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "pdm-alerts/1",
            "X-PDM-Event": delivery.event,
            "X-PDM-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: signature(delivery.webhook.secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERTS_WEBHOOK_TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def delivery_attempt(delivery_pk: int) -> float | None:
    """POST the delivery once. Returns the seconds to wait before the next attempt, or None when it is
    delivered, failed for good (ALERTS_WEBHOOK_MAX_ATTEMPTS), or not waiting for an attempt."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status not in (
        WebhookDelivery.Status.PENDING,
        WebhookDelivery.Status.RETRYING,
    ):
        return None
    started = time.perf_counter()
    status_code, error = _post(delivery)
    now = timezone.now()
    delivery.attempts += 1
    delivery.attempt_log = [
        *delivery.attempt_log,
        {
            "at": now.isoformat(),
            "status_code": status_code,
            "error": error[:ERROR_CHARS],
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    ]
    delivery.response_status = status_code
    retry_in = None
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.error, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, "", now
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.ALERTS_WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.error, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, error, None
    else:
        retry_in = settings.ALERTS_WEBHOOK_BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.status, delivery.error = WebhookDelivery.Status.RETRYING, error
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    delivery.save()
    return retry_in
