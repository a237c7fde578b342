"""One explanation from the embedded default model (SmolLM2-135M-Instruct, quantized) through the Django
side: the tiny random model cannot catch a quantized-kernel crash or a prompt the real model chokes on."""

import re

import pytest

from assistant.llm import ModelNotFoundError, default_model_path
from assistant.models import Explanation
from assistant.services.explanations import explanation_request


@pytest.mark.slow  # 10-20 s here: prompt processing on a busy CPU core
def test_smollm2_rewrites_a_draft(settings, warning_motor, operator):
    try:
        default_model_path()
    except ModelNotFoundError as error:
        pytest.skip(str(error))
    settings.LLM_MODEL_PATH, settings.LLM_LOGIT_BIAS = "", {}
    settings.LLM_CONTEXT, settings.LLM_MAX_TOKENS, settings.LLM_TEMPERATURE = 2048, 48, 0.0
    _, predictions = warning_motor
    streamed = []

    explanation = explanation_request(
        prediction=predictions["health"], user=operator, on_token=streamed.append
    ).explanation

    assert explanation.error == "" and explanation.source == Explanation.Source.LLM
    assert explanation.model_name.lower().startswith("smollm2")
    assert explanation.stats["tokens"] == len(streamed) > 5
    assert len(re.findall(r"[A-Za-z]{2,}", explanation.text)) >= 8 and "\ufffd" not in explanation.text
