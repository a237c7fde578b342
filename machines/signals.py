"""Domain events of the machines app, for higher apps to react to (they subscribe in their apps.py)."""

from django.dispatch import Signal

# Sent after commit when a machine was deleted, so the apps that keep its files (seed data, models,
# synthetic sets, predictions) delete them. Arguments: machine_pk, machine_id.
machine_deleted = Signal()
