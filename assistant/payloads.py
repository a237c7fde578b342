"""The JSON the socket sends: messages, explanations and drafts, each with its markdown rendered safely."""

from assistant.llm import Draft
from assistant.models import Conversation, Explanation, Message
from assistant.rendering import render_markdown


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "role": message.role,
        "text": message.text,
        "html": render_markdown(message.text),
        "source": message.source,
        "citations": message.citations,
        "cited": message.cited,
        "model": message.model_name,
        "seconds": message.seconds,
        "finish_reason": message.finish_reason,
        "stopped": message.stopped,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
    }


def conversation_payload(conversation: Conversation | None) -> dict | None:
    if conversation is None:
        return None
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "machine": conversation.machine.machine_id if conversation.machine_id else None,
    }


def draft_payload(draft: Draft, prediction_id: int) -> dict:
    data = draft.to_dict()
    return {
        "type": "draft",
        "prediction": prediction_id,
        "machine": draft.prediction.machine_id,
        "text": data["text"],
        "html": render_markdown(data["text"]),
        "summary": data["summary"],
        "risk_factors": data["risk_factors"],
        "recommendations": data["recommendations"],
        "citations": data["citations"],
        "urgency": data["urgency"],
    }


def explanation_draft_payload(explanation: Explanation) -> dict:
    """A kept explanation's draft, as the draft frame of a new one looks."""
    return {
        "type": "draft",
        "prediction": explanation.prediction_id,
        "machine": explanation.machine.machine_id,
        "text": explanation.draft_text,
        "html": render_markdown(explanation.draft_text),
        "summary": explanation.summary,
        "risk_factors": explanation.risk_factors,
        "recommendations": explanation.recommendations,
        "citations": explanation.citations,
        "urgency": explanation.urgency,
    }


def explanation_final(explanation: Explanation, *, cached: bool) -> dict:
    return {
        "type": "final",
        "done": True,
        "kind": "explanation",
        "explanation": explanation.pk,
        "prediction": explanation.prediction_id,
        "text": explanation.text,
        "html": render_markdown(explanation.text),
        "source": explanation.source,
        "citations": explanation.citations,
        "cited": explanation.cited,
        "model": explanation.model_name,
        "seconds": explanation.seconds,
        "finish_reason": explanation.finish_reason,
        "error": explanation.error,
        "stats": explanation.stats,
        "cached": cached,
    }


def stopped_explanation_final(result: dict, prediction_id: int) -> dict:
    """A stopped explanation: the draft stands, nothing was kept."""
    return {
        "type": "final",
        "done": True,
        "kind": "explanation",
        "explanation": None,
        "prediction": prediction_id,
        "text": result["text"],
        "html": render_markdown(result["text"]),
        "source": result["source"],
        "citations": result["citations"],
        "cited": result["cited"],
        "model": result["model"],
        "seconds": result["seconds"],
        "finish_reason": "cancelled",
        "error": result["error"],
        "stats": result["stats"],
        "cached": False,
    }
