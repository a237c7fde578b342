"""Celery tasks: a few lines each; the work lives in the services."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mass_mail

from alerts.services import webhooks
from alerts.services.alarms import alarms_auto_resolve
from alerts.services.drift import drift_check_fleet


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def send_emails(subject: str, body: str, recipients: list[str]) -> None:
    """One message per recipient (nobody sees the others' addresses)."""
    send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients])


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    retry_in = webhooks.delivery_attempt(delivery_id)
    if retry_in is not None:
        deliver_webhook.apply_async(args=[delivery_id], countdown=retry_in)


@shared_task(ignore_result=True)
def auto_resolve() -> int:
    return alarms_auto_resolve()


@shared_task(ignore_result=True)
def drift_check() -> dict:
    return drift_check_fleet()
