"""Explanations: facts from a refresh's predictions, the draft before the model, one kept per prediction."""

import threading
from datetime import timedelta

import pytest

from assistant.llm import PredictionFacts
from assistant.models import Explanation
from assistant.services import grounding
from assistant.services.explanations import explanation_request
from predictions.models import Prediction
from predictions.selectors import machine_latest_predictions


def test_facts_gather_the_whole_refresh_and_evidence_compares_with_healthy(warning_motor):
    machine, predictions = warning_motor

    facts = grounding.prediction_facts(predictions["rul"])
    evidence = {item.sensor: item for item in grounding.prediction_evidence(predictions["health"])}

    assert facts == PredictionFacts(
        machine_id=machine.machine_id,
        category="motor",
        kind="rul",
        state=2,
        state_label="Warning",
        confidence=0.82,
        rul_hours=150.0,
        rul_low_hours=112.5,
        rul_high_hours=187.5,
        max_rul_hours=1000.0,
        anomaly_score=1.6,
        is_anomaly=True,
    )
    bearing = evidence["bearing_de_temp_C"]
    assert bearing.baseline == 40 and bearing.deviation_sigma == pytest.approx((61 - 40) / 0.5)
    assert bearing.toward_failure == pytest.approx((61 - 40) / 35)
    assert bearing.contribution == 0.7 and evidence["current_A"].contribution is None
    assert grounding.explainable_prediction(machine) == predictions["health"]


def test_the_explained_prediction_is_of_the_newest_refresh_and_reads_nothing_when_given_the_latest(
    warning_motor, django_assert_num_queries
):
    machine, older = warning_motor
    # A newer refresh without a health prediction: its RUL is explained, not the older health state.
    newer_rul = Prediction.objects.create(
        machine=machine, kind="rul", input=older["rul"].input, result=older["rul"].result, latency_ms=1.0
    )
    later = older["rul"].created_at + timedelta(minutes=5)
    Prediction.objects.filter(pk=newer_rul.pk).update(created_at=later)

    assert grounding.explainable_prediction(machine) == newer_rul
    latest = machine_latest_predictions(machine)
    with django_assert_num_queries(0):
        assert grounding.explainable_prediction(machine, latest=latest) == newer_rul


def test_the_draft_comes_before_the_first_token_and_the_explanation_is_kept(warning_motor, operator):
    _, predictions = warning_motor
    events = []

    outcome = explanation_request(
        prediction=predictions["health"],
        user=operator,
        on_draft=lambda draft: events.append(("draft", draft)),
        on_token=lambda piece: events.append(("token", piece)),
    )

    assert events[0][0] == "draft" and {kind for kind, _ in events[1:]} == {"token"}
    draft = events[0][1]
    assert outcome.cached is False
    explanation = outcome.explanation
    assert explanation.source == Explanation.Source.LLM
    assert explanation.text == "".join(piece for _, piece in events[1:]).strip()
    assert explanation.draft_text == draft.text and explanation.model_name == "pdm-tiny-random"
    assert explanation.risk_factors[0]["sensor"] == draft.risk_factors[0].sensor
    assert explanation.citations and explanation.urgency["level"] in ("high", "critical")
    assert explanation.requested_by == operator and explanation.machine == predictions["health"].machine

    tokens = []
    again = explanation_request(prediction=predictions["health"], on_token=tokens.append)
    assert again.cached is True and again.explanation.pk == explanation.pk and tokens == []


def test_a_stopped_explanation_is_not_kept(warning_motor):
    _, predictions = warning_motor
    stop = threading.Event()

    outcome = explanation_request(
        prediction=predictions["health"], on_token=lambda piece: stop.set(), stop_event=stop
    )

    assert outcome.explanation is None
    assert outcome.payload["finish_reason"] == "cancelled" and outcome.payload["source"] == "draft"
    assert not Explanation.objects.exists()


def test_a_failed_model_keeps_the_draft_until_the_model_answers(
    warning_motor, settings, tmp_path, tiny_model
):
    _, predictions = warning_motor
    settings.LLM_MODEL_PATH = str(tmp_path / "missing.gguf")

    failed = explanation_request(prediction=predictions["health"]).explanation

    assert failed.source == Explanation.Source.DRAFT and "not found" in failed.error
    assert failed.text == failed.draft_text
    settings.LLM_MODEL_PATH = str(tiny_model)
    answered = explanation_request(prediction=predictions["health"])
    assert answered.cached is False and answered.explanation.pk == failed.pk
    assert answered.explanation.source == Explanation.Source.LLM and answered.explanation.error == ""


def test_without_a_model_the_draft_is_the_explanation_and_is_reused(warning_motor, settings):
    _, predictions = warning_motor
    settings.LLM_ENABLED = False

    first = explanation_request(prediction=predictions["rul"])
    second = explanation_request(prediction=predictions["rul"])

    assert first.explanation.source == Explanation.Source.DRAFT and first.explanation.error == ""
    assert "Recommended actions" in first.explanation.text
    assert second.cached is True and Explanation.objects.count() == 1
