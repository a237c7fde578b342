"""Explanations and chat through a model: the tiny random one, a failing one and a scripted one."""

import json
import threading

import pytest

from assistant.llm import (
    GenerationError,
    GenerationStats,
    LlamaBackend,
    LlamaConfig,
    MachineContext,
    PredictionFacts,
    chat,
    explain,
    get_backend,
)

PREDICTION = {"machine_id": "motor_weg_w22_003", "category": "motor", "state": 2, "rul_hours": 120}
EVIDENCE = [{"sensor": "bearing_de_temp_C", "value": 61.0, "baseline": 40.0, "deviation_sigma": 42.0}]


class ScriptedStream:
    """Yields the given pieces, then raises `error` if one is given; records nothing else."""

    def __init__(self, pieces, error=None):
        self.text, self.stats, self._pieces, self._error = "", GenerationStats(), pieces, error

    @property
    def finish_reason(self):
        return self.stats.finish_reason

    def __iter__(self):
        for piece in self._pieces:
            self.text += piece
            yield piece
        if self._error:
            raise self._error
        self.stats.finish_reason = "stop"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None


class ScriptedBackend:
    model_name = "scripted"

    def __init__(self, pieces, error=None):
        self.pieces, self.error, self.messages = pieces, error, None

    def stream(self, messages, **options):
        self.messages = messages
        return ScriptedStream(self.pieces, self.error)


def test_explain_streams_the_models_rewrite(tiny_config, shipped_index):
    streamed = []

    result = explain(
        PREDICTION, EVIDENCE, index=shipped_index, backend=get_backend(tiny_config), on_token=streamed.append
    )
    payload = json.loads(json.dumps(result.to_dict()))

    assert result.source == "llm"
    assert result.error is None
    assert result.text == "".join(streamed).strip() != result.draft.text
    assert result.model == "pdm-tiny-random"
    assert result.finish_reason == "length"
    assert payload["stats"]["tokens"] == len(streamed) == tiny_config.max_tokens
    assert payload["draft_text"] == result.draft.text
    assert payload["citations"] == [citation.to_dict() for citation in result.draft.citations]
    assert payload["seconds"] > 0


def test_explain_falls_back_to_the_draft_when_the_model_is_missing(tmp_path, shipped_index):
    backend = LlamaBackend(LlamaConfig(model_path=str(tmp_path / "gone.gguf")))

    result = explain(PREDICTION, EVIDENCE, index=shipped_index, backend=backend)

    assert result.source == "draft"
    assert result.text == result.draft.text
    assert "model file not found" in result.error


def test_explain_falls_back_when_the_model_fails_mid_answer(shipped_index):
    streamed = []
    backend = ScriptedBackend(["Bearing ", "is"], GenerationError("generation failed: decode error"))

    result = explain(PREDICTION, EVIDENCE, index=shipped_index, backend=backend, on_token=streamed.append)

    assert streamed == ["Bearing ", "is"]
    assert result.source == "draft"
    assert result.text == result.draft.text
    assert result.error == "generation failed: decode error"


def test_explain_survives_an_unexpected_model_exception(shipped_index):
    result = explain(
        PREDICTION, EVIDENCE, index=shipped_index, backend=ScriptedBackend([], KeyError("logits"))
    )

    assert result.source == "draft"
    assert "the language model failed" in result.error


def test_stopping_an_explanation_returns_the_draft(tiny_config):
    stop = threading.Event()

    def on_token(piece):
        stop.set()

    result = explain(
        PREDICTION, EVIDENCE, backend=get_backend(tiny_config), on_token=on_token, stop_event=stop
    )

    assert result.finish_reason == "cancelled"
    assert result.source == "draft"
    assert result.text == result.draft.text
    assert result.error is None


def test_chat_streams_an_answer_with_the_category_passages(tiny_config, shipped_index):
    streamed, positions = [], []

    answer = chat(
        "Why does the bearing run hot?",
        index=shipped_index,
        backend=get_backend(tiny_config),
        machine=MachineContext("motor_weg_w22_003", "motor", PredictionFacts.from_dict(PREDICTION)),
        on_token=streamed.append,
        on_queue_position=positions.append,
    )

    assert answer.source == "llm"
    assert answer.text == "".join(streamed).strip()
    assert positions == [0]
    assert {citation.source for citation in answer.citations} == {"motor.md"}
    assert set(answer.cited) <= {citation.number for citation in answer.citations}
    assert json.loads(json.dumps(answer.to_dict()))["model"] == "pdm-tiny-random"


def test_chat_sends_context_and_history_and_reports_citations_used(shipped_index):
    backend = ScriptedBackend(["Grease the bearing", " [1]", " and see [9]."])
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello, what machine?"}]

    answer = chat(
        "How often do I regrease?",
        index=shipped_index,
        backend=backend,
        machine=MachineContext("motor_1", "motor", notes="Bearing replaced last month."),
        history=history,
    )

    assert answer.text == "Grease the bearing [1] and see [9]."
    assert answer.cited == [1]
    assert [message["role"] for message in backend.messages] == ["system", "user", "assistant", "user"]
    final = backend.messages[-1]["content"]
    assert "Bearing replaced last month." in final
    assert final.endswith("Question: How often do I regrease?")


def test_chat_without_a_working_model_lists_passages_and_says_why(tmp_path, shipped_index):
    backend = LlamaBackend(LlamaConfig(model_path=str(tmp_path / "gone.gguf")))

    answer = chat("How do I check belt tension?", index=shipped_index, backend=backend)

    assert answer.source == "retrieval"
    assert "model file not found" in answer.error
    assert answer.citations[0].source == "conveyor.md"
    assert "[1] **conveyor.md" in answer.text
    assert answer.cited == []


@pytest.mark.parametrize("bad", [None, 42])
def test_a_question_must_be_text(bad):
    with pytest.raises(ValueError, match="question"):
        chat(bad)


def test_an_answer_that_echoes_the_prompt_falls_back(shipped_index):
    backend = ScriptedBackend(["<draft>\nMachine: motor_weg_w22_003", " (motor).\n</draft>"])

    result = explain(PREDICTION, EVIDENCE, index=shipped_index, backend=backend)

    assert result.source == "draft"
    assert result.error == "the model repeated its prompt instead of answering"
