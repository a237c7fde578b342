"""The alerts app reacts to the domain events of the apps below it (it is the top of the layering)."""

import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts and maintenance"

    def ready(self):
        from gan.signals import job_finished
        from predictions import signals as predictions_signals

        predictions_signals.predictions_stored.connect(_predictions_stored, dispatch_uid="alerts-predictions")
        # Readings are evaluated as they are stored, not after the (throttled) prediction refresh they cause.
        predictions_signals.readings_stored.connect(_readings_stored, dispatch_uid="alerts-readings")
        job_finished.connect(_job_finished, dispatch_uid="alerts-job")
        from django.db.models.signals import post_delete, post_save

        from alerts.models import AlertRule, Notification

        post_save.connect(_rules_changed, sender=AlertRule, dispatch_uid="alerts-rules-saved")
        post_delete.connect(_rules_changed, sender=AlertRule, dispatch_uid="alerts-rules-deleted")
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(_notifications_changed, sender=Notification, dispatch_uid=f"alerts-bells-{name}")


# Receivers run after the sender's commit, inside its flow (a refresh task, a job's end): a failure of the
# alerts must never break that flow, so it is logged here.


def _predictions_stored(sender, prediction_ids, kinds, **kwargs):
    from alerts.services.evaluation import PREDICTION_RULES, predictions_evaluate

    if not set(kinds) & set(PREDICTION_RULES):
        return  # no rule reads these kinds (forecasts)
    try:
        predictions_evaluate(prediction_ids)
    except Exception:
        logger.exception("alert rules on predictions %s failed", prediction_ids)


def _readings_stored(sender, machine_pk, **kwargs):
    from alerts.services.evaluation import readings_evaluate
    from machines.models import Machine

    try:
        machine = Machine.objects.filter(pk=machine_pk).first()
        if machine is not None:
            readings_evaluate(machine)
    except Exception:
        logger.exception("alert rules on the readings of machine %s failed", machine_pk)


def _rules_changed(sender, **kwargs):
    from alerts.services.rules import enabled_rules

    enabled_rules.changed()


def _notifications_changed(sender, **kwargs):
    from alerts.services.notifications import notifications_changed

    notifications_changed()


def _job_finished(sender, job_id, kind, status, **kwargs):
    from alerts.services.evaluation import job_evaluate
    from alerts.services.notifications import job_notify
    from gan.models import Job

    try:
        job_evaluate(job_id)
        job = Job.objects.select_related("machine", "requested_by").filter(pk=job_id).first()
        if job is not None:
            job_notify(job)
    except Exception:
        logger.exception("alerts on job %s failed", job_id)
