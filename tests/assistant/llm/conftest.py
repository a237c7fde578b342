"""Shared fixtures for the assistant core: the shipped manuals' index, the tiny model, the real model."""

import json
from pathlib import Path

import pytest

from assistant.llm import LlamaConfig, ManualIndex, close_backends, load_shipped_manuals
from assistant.llm.tiny_model import tiny_model_logit_bias, write_tiny_model

REPO = Path(__file__).resolve().parents[3]
CATEGORIES_JSON = REPO / "gan" / "synth" / "categories.json"


@pytest.fixture(scope="session")
def categories() -> dict:
    """The fleet's categories and sensors (SPEC §1), as the synthetic-data core ships them."""
    return json.loads(CATEGORIES_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shipped_index() -> ManualIndex:
    return ManualIndex.build(load_shipped_manuals())


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture(scope="session")
def tiny_config(tiny_model_path) -> LlamaConfig:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return LlamaConfig(
        model_path=str(tiny_model_path),
        n_ctx=2048,  # the tiny vocabulary spends about one token per two characters
        n_threads=1,
        max_tokens=24,
        logit_bias=tuple(tiny_model_logit_bias().items()),
    )


@pytest.fixture(scope="session", autouse=True)
def _free_models():
    yield
    close_backends()
