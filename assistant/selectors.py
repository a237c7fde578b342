"""Reads shared by the pages, the API and the socket."""

from django.db.models import Count, Exists, OuterRef, QuerySet

from assistant.models import Conversation, Explanation, ManualDocument, Message, Report
from assistant.services.explanations import explanation_of
from assistant.services.grounding import EXPLAINABLE_KINDS, explainable_prediction
from machines.models import Machine
from predictions.models import Prediction

HISTORY_MESSAGES = 200


def explanation_list() -> QuerySet[Explanation]:
    return Explanation.objects.select_related("machine", "prediction", "requested_by")


def conversation_list(user) -> QuerySet[Conversation]:
    """The user's own conversations, most recent first (nobody reads anyone else's)."""
    return (
        Conversation.objects.filter(user=user)
        .select_related("machine")
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at", "-id")
    )


def latest_conversation(user) -> Conversation | None:
    return (
        Conversation.objects.filter(user=user)
        .select_related("machine")
        .order_by("-updated_at", "-id")
        .first()
    )


def conversation_messages(conversation: Conversation) -> list[Message]:
    """The conversation's last messages, oldest first."""
    recent = conversation.messages.order_by("-created_at", "-id")[:HISTORY_MESSAGES]
    return list(recent)[::-1]


def manual_list() -> QuerySet[ManualDocument]:
    return ManualDocument.objects.select_related("category", "uploaded_by")


def report_list() -> QuerySet[Report]:
    return Report.objects.select_related("machine", "job", "requested_by")


def explainable_machines() -> QuerySet[Machine]:
    """Active machines with at least one prediction an explanation can start from."""
    predicted = Prediction.objects.filter(machine=OuterRef("pk"), kind__in=EXPLAINABLE_KINDS)
    return Machine.objects.filter(is_active=True).filter(Exists(predicted)).order_by("machine_id")


def explain_panel_state(machine: Machine | None, *, latest: dict | None = None) -> dict:
    """What the Explain panel shows: the machine's latest prediction and its kept explanation, if any;
    without a machine, the machines to pick from. `latest`: see `explainable_prediction`."""
    if machine is None:
        return {"machines": list(explainable_machines().values_list("machine_id", flat=True))}
    prediction = explainable_prediction(machine, latest=latest)
    return {
        "machine": machine,
        "prediction": prediction,
        "explanation": explanation_of(prediction) if prediction is not None else None,
    }
