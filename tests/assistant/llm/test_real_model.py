"""One real answer from the packaged SmolLM2 (quantized Q4_1): the random tiny model cannot catch
quantized-kernel crashes such as the -march=native build's segfault on the first decode."""

import re

import pytest

from assistant.llm import (
    LlamaBackend,
    LlamaConfig,
    MachineContext,
    ModelNotFoundError,
    chat,
    default_model_path,
)


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    try:
        default_model_path()
    except ModelNotFoundError as error:
        pytest.skip(str(error))
    backend = LlamaBackend(LlamaConfig(n_threads=1, max_tokens=32, temperature=0.0))
    yield backend
    backend.close()


@pytest.mark.slow  # 15-20 s here: the prompt takes most of it on a busy CPU core
def test_smollm2_answers_a_maintenance_question(smollm2, shipped_index):
    streamed = []

    answer = chat(
        "What should I check when a motor bearing runs hot?",
        index=shipped_index,
        backend=smollm2,
        machine=MachineContext("motor_siemens_1la7_001", "motor"),
        on_token=streamed.append,
    )

    assert answer.error is None
    assert answer.source == "llm"
    assert answer.finish_reason in ("stop", "length")
    assert answer.stats.tokens == len(streamed) > 5
    words = re.findall(r"[A-Za-z]{2,}", answer.text)
    assert len(words) >= 8
    assert "\ufffd" not in answer.text
    assert smollm2.model_name.lower().startswith("smollm2")
