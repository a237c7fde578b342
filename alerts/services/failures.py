"""Confirmed failures as ground truth for retraining.

A work order closed as "failure confirmed" records a MaintenanceEvent (kind failure) on the machine. The
machine's stored readings then become labelled runs to failure: each run ends at a confirmed failure and
starts at the previous failure or baseline reset (a run cut short by maintenance is censored and left
out); every reading gets `rul` = hours until its run's failure. That table is handed to the predictions
app's real-data path (upload → analysis → mapping confirmed → training from real data), which trains on
it like any uploaded run-to-failure file.
"""

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.db.models import Q

from alerts.models import MaintenanceEvent
from machines.models import Machine
from pdm_site.api import Conflict
from predictions.models import RealDataset, SensorReading
from predictions.services.ingestion import dataset_upload

RUN, TIME, RUL = "run", "timestamp", "rul"


def failure_events(machine: Machine):
    return MaintenanceEvent.objects.filter(machine=machine, kind=MaintenanceEvent.Kind.FAILURE).order_by(
        "occurred_at"
    )


def labelled_readings(machine: Machine) -> pd.DataFrame:
    """run, timestamp, rul (hours to the run's failure) and one column per sensor, oldest first."""
    events = list(
        MaintenanceEvent.objects.filter(machine=machine)
        .filter(Q(kind=MaintenanceEvent.Kind.FAILURE) | Q(baseline_reset=True))
        .order_by("occurred_at", "id")
    )
    failures = [event for event in events if event.kind == MaintenanceEvent.Kind.FAILURE]
    if not failures:
        return pd.DataFrame(columns=[RUN, TIME, RUL])
    parts, start, run = [], None, 0
    for event in events:
        if event.kind == MaintenanceEvent.Kind.FAILURE:
            rows = SensorReading.objects.filter(machine=machine, timestamp__lte=event.occurred_at)
            if start is not None:
                rows = rows.filter(timestamp__gt=start)
            readings = list(rows.order_by("timestamp").values_list("timestamp", "values"))
            if readings:
                run += 1
                part = pd.DataFrame.from_records([values for _, values in readings])
                part.insert(0, RUL, [(event.occurred_at - t).total_seconds() / 3600 for t, _ in readings])
                part.insert(0, TIME, [t for t, _ in readings])
                part.insert(0, RUN, run)
                parts.append(part)
        start = event.occurred_at
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[RUN, TIME, RUL])


def failure_dataset_create(*, machine: Machine, user) -> RealDataset:
    """Upload the labelled runs as a real dataset of the machine; its analysis job proposes the mapping
    (run, timestamp, rul in hours), which an operator confirms on the real-data page before training."""
    frame = labelled_readings(machine)
    if frame.empty:
        raise Conflict(
            f"No labelled run of {machine.machine_id} yet: close a work order as 'failure confirmed' after "
            "readings were stored."
        )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    upload = ContentFile(buffer.getvalue(), name=f"{machine.machine_id}_confirmed_failures.parquet")
    return dataset_upload(machine=machine, upload=upload, user=user)
