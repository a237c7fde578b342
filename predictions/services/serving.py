"""Predictions: on demand for one machine, in batches for many, and the refresh new readings trigger.

Every prediction is logged (input summary, result, confidence, model version, latency); the predictions
of one request, batch or refresh are announced together after commit (`predictions.signals
.predictions_stored`). A refresh also rewrites the machine's MachineHealth (the dashboard card) and tells
the "fleet" group that the machine changed.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from machines.models import HealthState, Machine
from pdm_site.api import Conflict
from pdm_site.realtime import broadcast
from predictions.ml import PredictionInputError, predict_many
from predictions.models import (
    FleetSnapshot,
    Kind,
    MachineHealth,
    MachineRun,
    ModelVersion,
    Prediction,
    SensorReading,
)
from predictions.selectors import fleet_counts
from predictions.services.models import (
    KINDS,
    ModelUnavailable,
    active_versions,
    json_safe,
    model_cache,
    model_load,
)
from predictions.services.telemetry import readings_validate
from predictions.signals import announce, predictions_stored

FLEET_GROUP = "fleet"
# Before any reading: the run start of a machine that never restarted.
EARLIEST = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())
MAX_REQUEST_READINGS = 1_000
KEY_SENSORS = 3


@dataclass
class Outcome:
    """One (machine, kind) of a batch: the stored prediction, or why there is none."""

    machine: Machine
    kind: str
    prediction: Prediction | None = None
    error: dict | None = None


def _check_kind(kind) -> str:
    if kind not in KINDS:
        raise ValidationError({"kind": [f"must be one of {', '.join(KINDS)}, got {kind!r}"]})
    return kind


def _no_model(machine: Machine, kind: str) -> str:
    return (
        f"No {kind} model serves {machine.machine_id}: train one for the machine or its category "
        f"{machine.category.name} (POST /api/v1/models/train/)."
    )


def _window_rows(version: ModelVersion) -> int:
    return version.history_rows or settings.PREDICTIONS_MAX_WINDOW_ROWS


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """Readings (timestamp, values), oldest first, as the frame the core reads: one column per sensor (a
    sensor missing from a reading is NaN, which the core fills forward). Already in time order, so the
    timestamps stay out (the core would only sort by them)."""
    names = list(dict.fromkeys(name for _, values in rows for name in values))
    return pd.DataFrame({name: [values.get(name) for _, values in rows] for name in names})


def _latest_rows(machine: Machine, rows: int) -> list[tuple]:
    """The machine's last `rows` readings of its current run, oldest first."""
    run_start = MachineRun.objects.filter(machine_id=OuterRef("machine_id")).values("started_at")
    recent = (
        SensorReading.objects.filter(machine=machine)
        .filter(timestamp__gte=Coalesce(Subquery(run_start), EARLIEST))
        .order_by("-timestamp")
    )
    return list(recent.values_list("timestamp", "values")[:rows])[::-1]


# Each machine's latest readings of its current run through the (machine, timestamp) index, read backwards.
LATEST_READINGS_SQL = """
SELECT m.id, r.timestamp, r.values
FROM unnest(%s::bigint[]) AS m(id)
CROSS JOIN LATERAL (
    SELECT timestamp, values FROM predictions_sensorreading
    WHERE machine_id = m.id AND timestamp >= COALESCE(
        (SELECT started_at FROM predictions_machinerun WHERE machine_id = m.id), '-infinity')
    ORDER BY timestamp DESC
    LIMIT %s
) AS r
ORDER BY m.id, r.timestamp
"""


def _latest_rows_of(machines: list[Machine], rows: int) -> dict[int, list[tuple]]:
    """The last `rows` readings of every machine's current run: one indexed query on PostgreSQL (however
    many readings are stored), a query per machine elsewhere (the embedded SQLite demo)."""
    if connection.vendor != "postgresql" or len(machines) == 1:
        return {machine.pk: _latest_rows(machine, rows) for machine in machines}
    decode = SensorReading._meta.get_field("values").from_db_value
    windows: dict[int, list[tuple]] = {}
    with connection.cursor() as cursor:
        cursor.execute(LATEST_READINGS_SQL, [[m.pk for m in machines], rows])
        for machine_pk, timestamp, values in cursor.fetchall():
            windows.setdefault(machine_pk, []).append((timestamp, decode(values, None, connection)))
    return windows


def _input_summary(source: str, rows: list[tuple]) -> dict:
    return json_safe(
        {
            "source": source,
            "rows": len(rows),
            "from": rows[0][0].isoformat(),
            "to": rows[-1][0].isoformat(),
            "latest": rows[-1][1],
        }
    )


def _result(kind: str, raw: dict, machine: Machine) -> dict:
    result = json_safe({**raw, "kind": kind})
    # RUL in hours has a health state by the category's thresholds (SPEC §4).
    if kind == Kind.RUL and result.get("unit") == "hours" and result.get("rul") is not None:
        state = machine.category.health_state(result["rul"])
        result.update(state=int(state), state_name=state.label)
    return result


def _announce(predictions: list[Prediction]) -> None:
    if not predictions:
        return
    ids, kinds = [p.pk for p in predictions], {p.kind for p in predictions}
    transaction.on_commit(
        lambda: announce(predictions_stored, sender=Prediction, prediction_ids=ids, kinds=kinds)
    )


@transaction.atomic
def prediction_request(
    *, machine: Machine, kind: str, readings="latest", user=None, vision_findings: dict | None = None
) -> Prediction:
    """One prediction of `kind` for the machine from its latest stored readings, or from `readings`
    ([{"timestamp", "values"}, …], oldest first), with an external vision model's findings stored
    alongside when given. 409 without a model or readings, 424 when the model's
    file no longer loads (retrain), 400 naming the problem in the readings."""
    started = time.perf_counter()
    _check_kind(kind)
    version = active_versions([machine], [kind]).get((machine.pk, kind))
    if version is None:
        raise Conflict(_no_model(machine, kind))
    model = model_load(version)
    if readings == "latest":
        source, rows = "latest", _latest_rows(machine, _window_rows(version))
        if not rows:
            raise Conflict(
                f"No readings stored for {machine.machine_id} yet: send some to "
                f"/api/v1/machines/{machine.machine_id}/readings/ or pass `readings`."
            )
    else:
        source = "request"
        rows = _request_rows(machine, readings, model)
    try:
        raw = model.predict(_frame(rows))
    except PredictionInputError as exc:
        raise ValidationError({"readings": [str(exc)]}) from exc
    result = _result(kind, raw, machine)
    prediction = Prediction.objects.create(
        machine=machine,
        kind=kind,
        input=_input_summary(source, rows),
        result=result,
        confidence=result.get("confidence"),
        model_version=version,
        latency_ms=(time.perf_counter() - started) * 1000,
        requested_by=user if user is not None and user.is_authenticated else None,
        vision_findings=vision_findings,
    )
    _announce([prediction])
    return prediction


def _request_rows(machine: Machine, readings, model) -> list[tuple]:
    if not isinstance(readings, list) or not readings:
        raise ValidationError({"readings": ['a non-empty list of readings, or "latest"']})
    if len(readings) > MAX_REQUEST_READINGS:
        raise ValidationError({"readings": [f"at most {MAX_REQUEST_READINGS:,} readings per prediction"]})
    rows = readings_validate(
        machine,
        {"readings": readings},
        also_known=tuple(model.sensors),
        labels=tuple(model.layout.categorical),
    )
    return sorted(rows, key=lambda row: row[0])


@transaction.atomic
def predictions_batch(*, machines: list[Machine], kinds, user=None, source: str = "batch") -> list[Outcome]:
    """Every kind for every machine: windows read in one query, features shared between models that
    compute them alike, one vectorised call per model. A (machine, kind) without a model, readings or a
    loadable file gets an error instead of failing the batch."""
    started = time.perf_counter()
    kinds = [_check_kind(kind) for kind in kinds]
    versions = active_versions(machines, kinds)
    loaded = {}
    for version in {v.pk: v for v in versions.values()}.values():
        try:
            loaded[version.pk] = model_load(version)
        except ModelUnavailable as exc:
            loaded[version.pk] = exc
    rows_needed = max((_window_rows(v) for v in versions.values()), default=1)
    windows = _latest_rows_of(machines, rows_needed) if versions else {}
    outcomes, requests, served = [], [], []
    for machine in machines:
        rows = windows.get(machine.pk)
        frame = _frame(rows) if rows else None
        for kind in kinds:
            outcome = Outcome(machine, kind)
            outcomes.append(outcome)
            version = versions.get((machine.pk, kind))
            if version is None:
                outcome.error = {"code": "no_model", "message": _no_model(machine, kind)}
            elif isinstance(loaded[version.pk], ModelUnavailable):
                outcome.error = {"code": "retrain", "message": str(loaded[version.pk].detail)}
            elif frame is None:
                outcome.error = {"code": "no_readings", "message": f"no readings of {machine.machine_id} yet"}
            else:
                requests.append((loaded[version.pk], frame))
                served.append((outcome, version, rows))
    answers = predict_many(requests, cache=model_cache()) if requests else []
    latency = (time.perf_counter() - started) * 1000 / max(1, len(requests))
    predictions = []
    for (outcome, version, rows), answer in zip(served, answers, strict=True):
        if "error" in answer:
            outcome.error = answer["error"]
            continue
        result = _result(outcome.kind, answer, outcome.machine)
        outcome.prediction = Prediction(
            machine=outcome.machine,
            kind=outcome.kind,
            input=_input_summary(source, rows),
            result=result,
            confidence=result.get("confidence"),
            model_version=version,
            latency_ms=latency,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        predictions.append(outcome.prediction)
    Prediction.objects.bulk_create(predictions)
    _announce(predictions)
    return outcomes


# --- Refresh: new readings → predictions → the dashboard card -------------------------------------------


@transaction.atomic
def machine_refresh(machine_pk: int) -> MachineHealth | None:
    """Predict every kind that has a model for the machine, rewrite its MachineHealth, tell the fleet."""
    machine = Machine.objects.select_related("category").filter(pk=machine_pk, is_active=True).first()
    if machine is None:
        return None
    versions = active_versions([machine], KINDS)
    kinds = [kind for kind in KINDS if (machine.pk, kind) in versions]
    outcomes = predictions_batch(machines=[machine], kinds=kinds, source="refresh") if kinds else []
    health = _health_write(machine, outcomes, versions)
    message = machine_message(machine, health)
    transaction.on_commit(lambda: broadcast(FLEET_GROUP, {"type": "fleet.machine", "message": message}))
    return health


def _health_write(machine: Machine, outcomes: list[Outcome], versions: dict) -> MachineHealth:
    latest = SensorReading.objects.filter(machine=machine).order_by("-timestamp").first()
    health = MachineHealth(machine=machine, last_reading_at=latest.timestamp if latest else None)
    results = {}
    for outcome in outcomes:
        if outcome.prediction is not None:
            results[outcome.kind] = outcome.prediction.result
        elif outcome.error["code"] != "no_model":
            health.problems[outcome.kind] = outcome.error["message"]
    if health_result := results.get(Kind.HEALTH):
        health.state, health.confidence = health_result["state"], health_result["confidence"]
    if rul := results.get(Kind.RUL):
        health.rul, health.rul_lower, health.rul_upper = rul["rul"], rul["lower"], rul["upper"]
        health.rul_unit = rul.get("unit") or ""
        if health.state is None and "state" in rul:
            health.state = rul["state"]
    if anomaly := results.get(Kind.ANOMALY):
        health.anomaly = anomaly["is_anomaly"]
        health.anomaly_score = anomaly.get("normalized_score") or anomaly.get("score")
    if failure := results.get(Kind.FAILURE):
        health.failure_probability = failure["probability"]
    health.key_sensors = _key_sensors(machine, latest, versions)
    health.predicted_at = timezone.now() if results else None
    health.save()
    return health


def _key_sensors(machine: Machine, latest: SensorReading | None, versions: dict) -> list[list]:
    """The three sensors the health (else RUL) model relies on most, with their latest values."""
    sensors = {s.name: s.unit for s in machine.sensors.all()}
    version = versions.get((machine.pk, Kind.HEALTH)) or versions.get((machine.pk, Kind.RUL))
    ranked = [item["feature"] for item in (version.feature_importance if version else [])]
    names = [name for name in ranked if name in sensors] + [name for name in sensors if name not in ranked]
    values = latest.values if latest else {}
    return [[name, values.get(name), sensors[name]] for name in names[:KEY_SENSORS]]


def machine_message(machine: Machine, health: MachineHealth) -> dict:
    """The "machine updated" message of the fleet group."""
    state = HealthState(health.state) if health.state is not None else None
    return json_safe(
        {
            "type": "machine.updated",
            "machine_id": machine.machine_id,
            "state": health.state,
            "state_name": state.label if state is not None else None,
            "confidence": health.confidence,
            "rul": health.rul,
            "anomaly": health.anomaly,
            "last_reading_at": health.last_reading_at.isoformat() if health.last_reading_at else None,
            "predicted_at": health.predicted_at.isoformat() if health.predicted_at else None,
        }
    )


def fleet_snapshot_take() -> FleetSnapshot:
    """Record the fleet's counts per health state (the dashboard shows the change since the last one)."""
    return FleetSnapshot.objects.create(counts=fleet_counts())
