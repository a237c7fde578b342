"""From the predictions app's records to the core's inputs: prediction facts, sensor evidence, context.

A refresh stores one prediction per kind at the same moment; an explanation of one of them reads its
siblings too (state from the health model, RUL and its interval, the anomaly flag), so that the draft tells
the whole picture of that moment.
"""

from dataclasses import replace
from datetime import timedelta

from assistant.llm import MachineContext, PredictionFacts, SensorEvidence, sensor_evidence
from machines.models import Machine
from predictions.models import Kind, Prediction
from predictions.selectors import machine_latest_predictions

# Predictions of one refresh are stored within moments of each other.
SIBLING_WINDOW = timedelta(seconds=5)
# The kinds an explanation can start from, the most telling first (a forecast says nothing of health).
EXPLAINABLE_KINDS = (Kind.HEALTH, Kind.RUL, Kind.ANOMALY, Kind.FAILURE)
HOURS_UNITS = ("hours", "h", "")


def explainable_prediction(
    machine: Machine, *, latest: dict[str, Prediction] | None = None
) -> Prediction | None:
    """The machine's latest prediction worth explaining: of its newest refresh, the most telling kind.

    `latest` is the newest prediction of each kind (`machine_latest_predictions`), for a page that has read
    it already. The newest prediction of a kind belongs to the newest refresh when it was stored within
    SIBLING_WINDOW of the newest explainable prediction.
    """
    if latest is None:
        latest = machine_latest_predictions(machine)
    explainable = [latest[kind] for kind in EXPLAINABLE_KINDS if kind in latest]
    if not explainable:
        return None
    newest = max(explainable, key=lambda prediction: (prediction.created_at, prediction.pk))
    return next(p for p in explainable if p.created_at >= newest.created_at - SIBLING_WINDOW)


def _siblings(prediction: Prediction) -> dict[str, Prediction]:
    """The newest prediction of each kind stored with this one (this one for its own kind)."""
    moment = prediction.created_at
    nearby = Prediction.objects.filter(
        machine_id=prediction.machine_id,
        created_at__gte=moment - SIBLING_WINDOW,
        created_at__lte=moment + SIBLING_WINDOW,
    ).order_by("-created_at", "-id")
    siblings = {}
    for other in nearby:
        siblings.setdefault(other.kind, other)
    siblings[prediction.kind] = prediction
    return siblings


def prediction_facts(prediction: Prediction) -> PredictionFacts:
    machine = prediction.machine
    category = machine.category
    siblings = _siblings(prediction)
    fields = {"machine_id": machine.machine_id, "category": category.name, "kind": prediction.kind}
    if rul := _result(siblings, Kind.RUL):
        if rul.get("unit", "hours") in HOURS_UNITS and rul.get("rul") is not None:
            fields.update(
                rul_hours=max(0.0, rul["rul"]),
                rul_low_hours=_non_negative(rul.get("lower")),
                rul_high_hours=_non_negative(rul.get("upper")),
                max_rul_hours=category.max_rul_hours,
            )
        if rul.get("state") is not None:
            fields["state"] = rul["state"]
    if health := _result(siblings, Kind.HEALTH):
        fields.update(state=health.get("state"), confidence=health.get("confidence"))
    if anomaly := _result(siblings, Kind.ANOMALY):
        fields.update(
            anomaly_score=anomaly.get("normalized_score", anomaly.get("score")),
            is_anomaly=anomaly.get("is_anomaly"),
        )
    return PredictionFacts(**fields)


def prediction_evidence(prediction: Prediction) -> list[SensorEvidence]:
    """Each sensor's latest value against its healthy baseline, with the anomaly model's share if any."""
    readings = {
        name: value
        for name, value in (prediction.input or {}).get("latest", {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    sensors = [sensor.document() for sensor in prediction.machine.sensors.all()]
    evidence = sensor_evidence(readings, sensors)
    anomaly = _result(_siblings(prediction), Kind.ANOMALY) or {}
    shares = anomaly.get("contributions") or {}
    return [replace(item, contribution=shares.get(item.sensor)) for item in evidence]


def machine_context(machine: Machine | None) -> MachineContext | None:
    """What a chat about this machine knows: its category and, when it has predictions, its state."""
    if machine is None:
        return None
    prediction = explainable_prediction(machine)
    facts = prediction_facts(prediction) if prediction is not None else None
    return MachineContext(machine.machine_id, machine.category.name, prediction=facts)


def _result(siblings: dict[str, Prediction], kind: str) -> dict | None:
    prediction = siblings.get(kind)
    return prediction.result if prediction is not None else None


def _non_negative(value: float | None) -> float | None:
    return None if value is None else max(0.0, value)
