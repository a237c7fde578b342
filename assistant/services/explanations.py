"""Explanations of predictions: the grounded draft at once, the model's rewrite streamed after it.

One explanation is kept per prediction and reused. A draft kept because the model failed is replaced by
the next request that gets a model answer; a stopped request stores nothing (what the model wrote so far
is not its answer).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from rest_framework.exceptions import ValidationError

from assistant.llm import Draft, InputError, build_draft, explain
from assistant.models import Explanation
from assistant.services.grounding import prediction_evidence, prediction_facts
from assistant.services.llm import llm_backend
from assistant.services.manuals import manual_index
from predictions.models import Prediction


@dataclass
class ExplanationOutcome:
    """`explanation` is None when the request was stopped; `payload` is the core's result then."""

    explanation: Explanation | None
    cached: bool
    payload: dict | None = None


def explanation_of(prediction: Prediction) -> Explanation | None:
    return Explanation.objects.filter(prediction=prediction).first()


def explanation_reusable(explanation: Explanation | None) -> bool:
    """The model's answer, or a draft made while the model is switched off."""
    if explanation is None:
        return False
    return explanation.source == Explanation.Source.LLM or not settings.LLM_ENABLED


def explanation_request(
    *,
    prediction: Prediction,
    user=None,
    on_draft: Callable[[Draft], None] | None = None,
    on_token: Callable[[str], None] | None = None,
    on_queue_position: Callable[[int], None] | None = None,
    stop_event: threading.Event | None = None,
) -> ExplanationOutcome:
    """The kept explanation, or a new one: `on_draft` hears the draft before the model starts."""
    kept = explanation_of(prediction)
    if explanation_reusable(kept):
        return ExplanationOutcome(kept, cached=True)
    try:
        facts, evidence = prediction_facts(prediction), prediction_evidence(prediction)
    except InputError as exc:
        raise ValidationError({"prediction": [f"this prediction cannot be explained: {exc}"]}) from exc
    index = manual_index()
    if on_draft is not None:
        on_draft(build_draft(facts, evidence, index=index))
    result = explain(
        facts,
        evidence,
        index=index,
        backend=llm_backend(),
        on_token=on_token,
        on_queue_position=on_queue_position,
        stop_event=stop_event,
    )
    if result.finish_reason == "cancelled":
        return ExplanationOutcome(None, cached=False, payload=result.to_dict())
    data = result.to_dict()
    explanation, _ = Explanation.objects.update_or_create(
        prediction=prediction,
        defaults={
            "machine": prediction.machine,
            "text": result.text,
            "source": result.source,
            "draft_text": data["draft_text"],
            "summary": data["summary"],
            "risk_factors": data["risk_factors"],
            "findings": data["findings"],
            "recommendations": data["recommendations"],
            "citations": data["citations"],
            "urgency": data["urgency"],
            "facts": data["prediction"],
            "cited": data["cited"],
            "model_name": result.model or "",
            "seconds": round(result.seconds, 3),
            "finish_reason": result.finish_reason or "",
            "error": result.error or "",
            "stats": data["stats"],
            "requested_by": user if user is not None and user.is_authenticated else None,
        },
    )
    return ExplanationOutcome(explanation, cached=False)


def explanation_draft(prediction: Prediction) -> Draft:
    """The grounded draft alone (no model): reports use it when no explanation is kept."""
    return build_draft(prediction_facts(prediction), prediction_evidence(prediction), index=manual_index())
