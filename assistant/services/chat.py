"""Chat: a question (with a machine as context) answered from the manuals, kept as a conversation.

The question and its answer are stored together once the answer is complete, so a refused question or a
failure leaves nothing behind. An answer the user stopped keeps the text written so far, marked stopped;
one stopped before its first word is not stored at all.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from assistant.llm import InputError, chat
from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.models import Conversation, Message
from assistant.services.grounding import machine_context
from assistant.services.llm import llm_backend
from assistant.services.manuals import manual_index
from machines.models import Machine

TITLE_CHARS = 80
HISTORY_MESSAGES = 6
# `machine` left out of a question: a continued conversation keeps its machine.
KEEP_MACHINE = object()


@dataclass
class ChatRequest:
    """A checked question: `conversation` None starts a new one; `machine` is the context to use."""

    user: object
    question: str
    machine: Machine | None
    conversation: Conversation | None


@dataclass
class ChatOutcome:
    """`answer` is None when the user stopped the answer before its first word (nothing stored)."""

    conversation: Conversation | None
    question: Message | None
    answer: Message | None
    payload: dict


def chat_check(*, user, question, machine=KEEP_MACHINE, conversation=None) -> ChatRequest:
    """Checks a question before any work: 400 naming `question`, `machine` or `conversation`.

    `machine` is a machine_id; left out, a continued conversation keeps its machine; empty or None: none.
    `conversation` must be one of the user's own (anyone else's reads as unknown).
    """
    if not isinstance(question, str) or not question.strip():
        raise ValidationError({"question": ["write a question"]})
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError(
            {"question": [f"{len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}"]}
        )
    thread = None
    if conversation not in (None, ""):
        thread = conversation_of(user, conversation)
        if thread is None:
            raise ValidationError({"conversation": [f"no conversation {conversation} of yours"]})
    if machine is KEEP_MACHINE:
        chosen = thread.machine if thread is not None else None
    elif machine in (None, ""):
        chosen = None
    else:
        chosen = Machine.objects.select_related("category").filter(machine_id=str(machine)).first()
        if chosen is None:
            raise ValidationError({"machine": [f"unknown machine {str(machine)[:100]!r}"]})
    return ChatRequest(user, question, chosen, thread)


def conversation_of(user, conversation_id) -> Conversation | None:
    """The user's own conversation with this id, or None (someone else's is as unknown as a missing one)."""
    try:
        pk = int(conversation_id)
    except (TypeError, ValueError):
        return None
    return Conversation.objects.select_related("machine").filter(pk=pk, user=user).first()


def chat_answer(
    request: ChatRequest,
    *,
    on_token: Callable[[str], None] | None = None,
    on_queue_position: Callable[[int], None] | None = None,
    stop_event: threading.Event | None = None,
) -> ChatOutcome:
    history = []
    if request.conversation is not None:
        recent = request.conversation.messages.order_by("-created_at", "-id")[:HISTORY_MESSAGES]
        history = [{"role": message.role, "content": message.text} for message in reversed(recent)]
    try:
        answer = chat(
            request.question,
            index=manual_index(),
            backend=llm_backend(),
            machine=machine_context(request.machine),
            history=history,
            on_token=on_token,
            on_queue_position=on_queue_position,
            stop_event=stop_event,
        )
    except InputError as exc:
        raise ValidationError({"question": [str(exc).removeprefix("question: ")]}) from exc
    payload = answer.to_dict()
    if answer.finish_reason == "cancelled" and not answer.text:
        return ChatOutcome(request.conversation, None, None, payload)
    conversation, question, reply = _store(request, answer)
    return ChatOutcome(conversation, question, reply, payload)


@transaction.atomic
def _store(request: ChatRequest, answer) -> tuple[Conversation, Message, Message]:
    conversation = request.conversation
    if conversation is None:
        conversation = Conversation.objects.create(
            user=request.user, machine=request.machine, title=_title(request.question)
        )
    else:
        conversation.machine = request.machine
        conversation.updated_at = timezone.now()
        conversation.save(update_fields=["machine", "updated_at"])
    question = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, text=request.question
    )
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        text=answer.text,
        source=answer.source,
        citations=[citation.to_dict() for citation in answer.citations],
        cited=answer.cited,
        model_name=answer.model or "",
        seconds=round(answer.seconds, 3),
        finish_reason=answer.finish_reason or "",
        error=answer.error or "",
    )
    return conversation, question, reply


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()
