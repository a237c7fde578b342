"""Domain events of the predictions app, for higher apps to react to (they subscribe in their apps.py)."""

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent after commit once per stored set of predictions (one on demand, a batch, a refresh), so that
# subscribers read and react to a fleet's predictions at once.
# Arguments: prediction_ids (list), kinds (the set of their kinds, to skip a set without reading it).
predictions_stored = Signal()

# Sent after commit when new readings of a machine were stored (duplicates skipped).
# Arguments: machine_pk, count, first (datetime), last (datetime).
readings_stored = Signal()


def announce(signal: Signal, **arguments) -> None:
    """Send an event to every subscriber; one that fails is logged and never breaks the sender's flow
    (the readings or predictions are stored by then)."""
    for receiver, outcome in signal.send_robust(**arguments):
        if isinstance(outcome, Exception):
            logger.error("%s failed on %s", receiver, arguments, exc_info=outcome)
