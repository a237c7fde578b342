"""Domain events of the gan app, for higher apps to react to (they subscribe in their apps.py)."""

from django.dispatch import Signal

# Sent after commit when a job reaches SUCCESS, FAILURE or CANCELLED. Arguments: job_id, kind, status.
job_finished = Signal()

# Sent after commit when a synthetic dataset was generated. Arguments: machine_pk, dataset_pk.
synthetic_ready = Signal()
