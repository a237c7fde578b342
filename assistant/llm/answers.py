"""Explanations and chat answers: grounded drafts and retrieved passages, rewritten by the model.

Both functions stream the model's text through `on_token` and return a JSON-able result whose `text` is
authoritative: when the model fails mid-answer the result falls back to the draft (explanations) or to the
retrieved passages (chat), and the caller replaces what it streamed. Texts are markdown and NOT
HTML-escaped; the renderer escapes them.
"""

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from assistant.llm.backend import GenerationStats, LlamaBackend, TokenStream
from assistant.llm.errors import InputError, LLMError
from assistant.llm.grounding import (
    Citation,
    Draft,
    PredictionFacts,
    SensorEvidence,
    assess_urgency,
    build_draft,
    summarize,
)
from assistant.llm.prompts import chat_messages, explanation_messages
from assistant.llm.retrieval import ManualIndex

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_NOTES_CHARS = 1000
CHAT_PASSAGES = 3
_CITATION_MARK = re.compile(r"\[(\d{1,2})\]")
_PROMPT_TAG = re.compile(r"</?(?:draft|manual|machine)\b", re.IGNORECASE)

TokenCallback = Callable[[str], None]
PositionCallback = Callable[[int], None]


@dataclass
class Explanation:
    """`source` is "llm" (the model's rewrite) or "draft"; `error` says why the draft was used, if it failed.

    `cited` lists the citation numbers the text uses (the model may drop some of the draft's).

    `finish_reason` is the model's ("stop", "length"), "cancelled" when the caller stopped it (the draft is
    returned then: do not cache it as the model's answer), or None when no model ran.
    """

    draft: Draft
    text: str
    source: str
    model: str | None = None
    seconds: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    stats: GenerationStats | None = None
    cited: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        draft = self.draft.to_dict()
        return {
            "text": self.text,
            "source": self.source,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "finish_reason": self.finish_reason,
            "error": self.error,
            "stats": self.stats.to_dict() if self.stats else None,
            "cited": self.cited,
            "draft_text": draft.pop("text"),
            **draft,
        }


@dataclass(frozen=True)
class MachineContext:
    """The machine a chat is about: its category narrows retrieval, the rest goes to the prompt."""

    machine_id: str | None = None
    category: str | None = None
    prediction: PredictionFacts | None = None
    notes: str | None = None

    def describe(self) -> str:
        parts = []
        if self.prediction is not None:
            urgency = assess_urgency(self.prediction)
            parts.append(summarize(self.prediction, urgency).replace("**", ""))
        elif self.machine_id or self.category:
            parts.append(f"Machine {self.machine_id or '(unnamed)'} ({self.category or 'unknown category'}).")
        if self.notes:
            parts.append(self.notes[:MAX_NOTES_CHARS])
        return " ".join(parts)


@dataclass
class ChatAnswer:
    """`source` is "llm" or "retrieval" (no model: the passages are listed); `cited` are the numbers used."""

    question: str
    text: str
    source: str
    citations: list[Citation] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    model: str | None = None
    seconds: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    stats: GenerationStats | None = None

    def to_dict(self) -> dict:
        return {
            **{key: value for key, value in asdict(self).items() if key not in ("citations", "stats")},
            "seconds": round(self.seconds, 3),
            "citations": [citation.to_dict() for citation in self.citations],
            "stats": self.stats.to_dict() if self.stats else None,
        }


def explain(
    prediction: PredictionFacts | Mapping,
    evidence: Sequence[SensorEvidence | Mapping] = (),
    *,
    index: ManualIndex | None = None,
    backend: LlamaBackend | None = None,
    on_token: TokenCallback | None = None,
    on_queue_position: PositionCallback | None = None,
    stop_event: threading.Event | None = None,
    max_tokens: int | None = None,
) -> Explanation:
    """The draft (always), rewritten by the model when `backend` is given and the model works."""
    started = time.perf_counter()
    draft = build_draft(prediction, evidence, index=index)
    if backend is None:
        cited = cited_numbers(draft.text, len(draft.citations))
        return Explanation(draft, draft.text, "draft", seconds=time.perf_counter() - started, cited=cited)
    stream = backend.stream(
        explanation_messages(draft),
        max_tokens=max_tokens,
        stop_event=stop_event,
        on_queue_position=on_queue_position,
    )
    error = _relay(stream, on_token)
    text = stream.text.strip()
    result = Explanation(
        draft,
        text,
        "llm",
        model=backend.model_name,
        finish_reason=stream.finish_reason,
        error=error,
        stats=stream.stats,
    )
    if error is None and stream.finish_reason != "cancelled":
        result.error = _unusable(text)
    if result.error is not None or stream.finish_reason == "cancelled":
        result.text, result.source = draft.text, "draft"
    result.cited = cited_numbers(result.text, len(draft.citations))
    result.seconds = time.perf_counter() - started
    return result


def chat(
    question: str,
    *,
    index: ManualIndex | None = None,
    backend: LlamaBackend | None = None,
    machine: MachineContext | None = None,
    history: Sequence[Mapping[str, str]] = (),
    on_token: TokenCallback | None = None,
    on_queue_position: PositionCallback | None = None,
    stop_event: threading.Event | None = None,
    max_tokens: int | None = None,
) -> ChatAnswer:
    """Answers a question from the manuals (and the machine's state); a stopped answer keeps its text so far.

    `history` is the conversation so far (`{"role": "user"|"assistant", "content": ...}`, oldest first);
    only the last few turns go to the model.
    """
    started = time.perf_counter()
    question = _checked_question(question)
    category = machine.category if machine else None
    passages = index.search(question, k=CHAT_PASSAGES, category=category) if index is not None else []
    citations = [Citation.from_passage(number, passage) for number, passage in enumerate(passages, 1)]
    answer = ChatAnswer(question, "", "llm", citations)
    if backend is None:
        answer.text, answer.source = _passages_answer(citations), "retrieval"
    else:
        messages = chat_messages(
            question, citations, machine_context=machine.describe() if machine else None, history=history
        )
        stream = backend.stream(
            messages, max_tokens=max_tokens, stop_event=stop_event, on_queue_position=on_queue_position
        )
        answer.error = _relay(stream, on_token)
        answer.text, answer.model = stream.text.strip(), backend.model_name
        answer.finish_reason, answer.stats = stream.finish_reason, stream.stats
        if answer.error is None and stream.finish_reason != "cancelled":
            answer.error = _unusable(answer.text)
        if answer.error is not None:
            answer.text, answer.source = _passages_answer(citations, answer.error), "retrieval"
    answer.cited = cited_numbers(answer.text, len(citations)) if answer.source == "llm" else []
    answer.seconds = time.perf_counter() - started
    return answer


def cited_numbers(text: str, count: int) -> list[int]:
    """The citation numbers `[n]` that `text` uses and that exist (1..count), in order of first use."""
    numbers = (int(mark) for mark in _CITATION_MARK.findall(text))
    return list(dict.fromkeys(number for number in numbers if 1 <= number <= count))


def _relay(stream: TokenStream, on_token: TokenCallback | None) -> str | None:
    """Streams to `on_token`; returns why the model failed, or None. Callback errors propagate."""
    pieces = iter(stream)
    with stream:
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                return None
            except LLMError as error:
                return str(error)
            except Exception as error:
                # The answer must survive any model failure; the trace goes to the log for the operator.
                logger.exception("language model failed")
                return f"the language model failed: {error}"
            if on_token is not None:
                on_token(piece)


def _unusable(text: str) -> str | None:
    """Why a finished answer cannot be shown, or None: empty, or a copy of the prompt's quoted blocks."""
    if not text:
        return "the model returned no text"
    if _PROMPT_TAG.search(text):
        return "the model repeated its prompt instead of answering"
    return None


def _checked_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError("question: write a question")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"question: {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
    return question


def _passages_answer(citations: Sequence[Citation], error: str | None = None) -> str:
    reason = (
        f"The assistant model is not available ({error})." if error else "No language model is configured."
    )
    if not citations:
        return f"{reason} No manual passage matches this question."
    lines = [f"{reason} These manual passages match your question:"]
    for citation in citations:
        lines.append(f"[{citation.number}] **{citation.source}, {citation.section}**: {citation.text}")
    return "\n\n".join(lines)
