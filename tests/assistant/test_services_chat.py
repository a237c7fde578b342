"""Chat: questions checked before any work, question and answer stored together, stops, machine context."""

import threading

import pytest
from rest_framework.exceptions import ValidationError

from accounts.roles import Role
from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.models import Conversation, Message
from assistant.services.chat import chat_answer, chat_check


@pytest.mark.parametrize(
    ("question", "extra", "field"),
    [
        ("", {}, "question"),
        ("  \n ", {}, "question"),
        (None, {}, "question"),
        ("x" * (MAX_QUESTION_CHARS + 1), {}, "question"),
        ("Why?", {"machine": "no_such_machine"}, "machine"),
        ("Why?", {"conversation": 999999}, "conversation"),
        ("Why?", {"conversation": "abc"}, "conversation"),
    ],
)
def test_bad_questions_are_refused_naming_the_field(operator, question, extra, field):
    with pytest.raises(ValidationError) as refused:
        chat_check(user=operator, question=question, **extra)
    assert list(refused.value.detail) == [field]


def test_a_conversation_is_private(operator, make_user):
    other = make_user(Role.OPERATOR, "other_operator")
    conversation = Conversation.objects.create(user=other, title="theirs")
    with pytest.raises(ValidationError):
        chat_check(user=operator, question="Why?", conversation=conversation.pk)


def test_an_answer_is_stored_with_its_question_and_the_machine_stays_the_context(operator, warning_motor):
    machine, _ = warning_motor
    streamed = []

    first = chat_answer(
        chat_check(user=operator, question="Why is the bearing hot?", machine=machine.machine_id),
        on_token=streamed.append,
    )
    follow_up = chat_answer(
        chat_check(user=operator, question="And what next?", conversation=first.conversation.pk)
    )

    conversation = Conversation.objects.get()
    assert conversation.user == operator and conversation.machine == machine
    assert conversation.title == "Why is the bearing hot?"
    assert first.answer.text == "".join(streamed).strip() and first.answer.source == "llm"
    assert first.answer.citations and all(c["source"] for c in first.answer.citations)
    assert follow_up.conversation.pk == conversation.pk
    roles = list(conversation.messages.values_list("role", flat=True))
    assert roles == ["user", "assistant", "user", "assistant"]
    cleared = chat_answer(
        chat_check(user=operator, question="In general?", conversation=conversation.pk, machine=None)
    )
    assert cleared.conversation.machine is None


def test_an_answer_stopped_before_its_first_word_stores_nothing(operator):
    stop = threading.Event()
    stop.set()

    outcome = chat_answer(chat_check(user=operator, question="Why?"), stop_event=stop)

    assert outcome.answer is None and outcome.payload["finish_reason"] == "cancelled"
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_without_a_model_the_manual_passages_answer(operator, settings):
    settings.LLM_ENABLED = False

    outcome = chat_answer(chat_check(user=operator, question="How do I inspect a pump seal?"))

    assert outcome.answer.source == "retrieval"
    assert "No language model is configured" in outcome.answer.text
    assert outcome.answer.citations
