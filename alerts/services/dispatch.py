"""What follows an alarm event once it is committed: people (raised, escalated) and webhooks (all events).

Runs from transaction.on_commit inside the flow that raised the alarm (a prediction refresh, a job's
end, a person's click): a failure here is logged and never undoes or breaks that flow.
"""

import logging

from alerts.models import Alarm, AlarmEvent
from alerts.services.notifications import alarm_notify
from alerts.services.webhooks import alarm_webhooks

logger = logging.getLogger(__name__)
NOTIFIED = (AlarmEvent.Kind.RAISED, AlarmEvent.Kind.ESCALATED)


def alarm_dispatch(alarm_pk: int, event: str) -> None:
    alarm = (
        Alarm.objects.select_related("machine", "acknowledged_by", "resolved_by").filter(pk=alarm_pk).first()
    )
    if alarm is None:
        return
    if event in NOTIFIED:
        try:
            alarm_notify(alarm, event)
        except Exception:
            logger.exception("notifying alarm %s (%s) failed", alarm_pk, event)
    try:
        alarm_webhooks(alarm, event)
    except Exception:
        logger.exception("queueing the webhooks of alarm %s (%s) failed", alarm_pk, event)
