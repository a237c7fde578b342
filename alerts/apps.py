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

        predictions_signals.prediction_stored.connect(_prediction_stored, dispatch_uid="alerts-prediction")
        # Readings are evaluated as they are stored, not after the (throttled) prediction refresh they cause.
        predictions_signals.readings_stored.connect(_readings_stored, dispatch_uid="alerts-readings")
        job_finished.connect(_job_finished, dispatch_uid="alerts-job")


# Receivers run after the sender's commit, inside its flow (a refresh task, a job's end): a failure of the
# alerts must never break that flow, so it is logged here.


def _prediction_stored(sender, prediction_id, machine_pk, kind, **kwargs):
    from alerts.services.evaluation import PREDICTION_RULES, prediction_evaluate

    if kind not in PREDICTION_RULES:
        return  # no rule reads this kind (a forecast)
    try:
        prediction_evaluate(prediction_id)
    except Exception:
        logger.exception("alert rules on prediction %s failed", prediction_id)


def _readings_stored(sender, machine_pk, **kwargs):
    from alerts.services.evaluation import readings_evaluate
    from machines.models import Machine

    try:
        machine = Machine.objects.filter(pk=machine_pk).first()
        if machine is not None:
            readings_evaluate(machine)
    except Exception:
        logger.exception("alert rules on the readings of machine %s failed", machine_pk)


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
