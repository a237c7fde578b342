import json
import math
import re

import pytest

from assistant.llm import (
    InputError,
    Manual,
    ManualIndex,
    PredictionFacts,
    SensorEvidence,
    assess_urgency,
    build_draft,
    risk_factors,
    sensor_evidence,
    state_from_rul,
)


def _failing_readings(sensors: list[dict], wear: float) -> dict[str, float]:
    """Each sensor `wear` of the way from healthy to its failure level (SPEC: base + range · wear)."""
    return {sensor["name"]: sensor["base"] + sensor["range"] * wear for sensor in sensors}


def test_evidence_from_a_profile_measures_sigma_and_progress_to_failure(categories):
    pump = categories["pump"]["sensors"]
    readings = {"discharge_pressure_bar": 5.0, "bearing_temp_C": 38.2}

    evidence = {item.sensor: item for item in sensor_evidence(readings, pump)}

    assert set(evidence) == set(readings)
    pressure = evidence["discharge_pressure_bar"]
    assert pressure.deviation_sigma == pytest.approx((5.0 - 6.0) / 0.1)
    assert pressure.toward_failure == pytest.approx(0.5)  # falling half of the 2 bar toward failure
    assert evidence["bearing_temp_C"].deviation_sigma == pytest.approx(0.4)


def test_risk_factors_keep_only_moves_toward_failure_beyond_noise(categories):
    motor = categories["motor"]["sensors"]
    readings = {
        "bearing_de_temp_C": 40 + 35 * 0.6,  # well on the way to failure
        "vibration_mm_s": 2.5 + 5.0 * 0.3,
        "winding_temp_C": 50 + 0.8,  # within noise
        "current_A": 8.0 - 6.0 * 0.5,  # far off, but away from the failure direction
    }

    risks = risk_factors(sensor_evidence(readings, motor))

    assert [risk.sensor for risk in risks] == ["bearing_de_temp_C", "vibration_mm_s"]
    assert risks[0].unit == "°C"
    assert "60% of the way to its failure level" in risks[0].text
    assert "above its healthy 40" in risks[0].text


def test_tree_contributions_rank_risk_factors_when_no_baseline_is_known():
    evidence = [
        SensorEvidence("oil_temp_C", 70.0, contribution=0.05),
        SensorEvidence("vibration_mm_s", 5.0, contribution=0.31),
        SensorEvidence("power_kW", 22.0, contribution=-0.2),
    ]

    risks = risk_factors(evidence)

    assert [risk.sensor for risk in risks] == ["vibration_mm_s", "oil_temp_C"]
    assert "model contribution +0.31" in risks[0].text


def test_state_follows_the_rul_fraction_thresholds():
    assert [state_from_rul(rul, 1000) for rul in (900, 501, 500, 251, 250, 101, 100, 0)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    facts = PredictionFacts("pump_x", "pump", rul_hours=150, max_rul_hours=800)
    assert (facts.state, facts.state_label) == (2, "Warning")


@pytest.mark.parametrize(
    ("facts", "level", "hours"),
    [
        (PredictionFacts("m", "motor", state=0), "low", None),
        (PredictionFacts("m", "motor", state=0, is_anomaly=True), "medium", 336),
        (PredictionFacts("m", "motor", state=1, rul_hours=400), "medium", 336),
        (
            PredictionFacts("m", "motor", state=0, rul_hours=80, rul_low_hours=50, rul_high_hours=110),
            "high",
            50,
        ),
        (PredictionFacts("m", "motor", state=2, rul_hours=500), "high", 72),
        (PredictionFacts("m", "motor", state=3, rul_hours=12), "critical", 12),
    ],
)
def test_urgency_takes_the_most_urgent_signal(facts, level, hours):
    urgency = assess_urgency(facts)

    assert urgency.level == level
    assert urgency.act_within_hours == hours


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"machine_id": "", "category": "pump"}, "machine_id and category"),
        ({"machine_id": "p", "category": "pump", "state": 4}, "prediction.state"),
        ({"machine_id": "p", "category": "pump", "confidence": 1.5}, "prediction.confidence"),
        ({"machine_id": "p", "category": "pump", "rul_hours": -1.0}, "prediction.rul_hours"),
        ({"machine_id": "p", "category": "pump", "rul_hours": math.nan}, "prediction.rul_hours"),
    ],
)
def test_bad_predictions_are_refused(data, message):
    with pytest.raises(InputError, match=message):
        PredictionFacts.from_dict(data)


def test_bad_evidence_is_refused():
    with pytest.raises(InputError, match="finite number"):
        SensorEvidence.from_dict({"sensor": "vibration_mm_s", "value": math.inf})


def _citation_marks(text: str) -> set[int]:
    return {int(number) for number in re.findall(r"\[(\d+)\]", text)}


def test_every_category_gets_a_cited_draft_from_its_own_manual(categories, shipped_index):
    for category, profile in categories.items():
        readings = _failing_readings(profile["sensors"], wear=0.7)
        facts = {
            "machine_id": f"{category}_001",
            "category": category,
            "rul_hours": 30.0,
            "max_rul_hours": 600,
        }

        draft = build_draft(facts, sensor_evidence(readings, profile["sensors"]), index=shipped_index)

        assert draft.urgency.level == "critical", category
        beyond_noise = [
            s for s in profile["sensors"] if abs(readings[s["name"]] - s["base"]) / s["noise"] >= 3
        ]
        assert len(draft.risk_factors) == min(len(beyond_noise), 5), category
        assert draft.findings, category
        assert sum(item.citation is not None for item in draft.recommendations) >= 2, category
        assert {citation.source for citation in draft.citations} == {f"{category}.md"}
        numbers = [citation.number for citation in draft.citations]
        assert numbers == list(range(1, len(numbers) + 1))
        assert _citation_marks(draft.text) == set(numbers), category


def test_findings_quote_the_signature_of_the_risk_sensors(categories, shipped_index):
    sensors = categories["cnc"]["sensors"]
    readings = {"spindle_torque_nm": 12.5, "power_consumption_kW": 8.4}

    draft = build_draft(
        {"machine_id": "cnc_haas_vf2_001", "category": "cnc", "state": 2},
        sensor_evidence(readings, sensors),
        index=shipped_index,
    )

    assert "spindle_torque_nm" in draft.findings[0].text
    cited = draft.citations[draft.findings[0].citation - 1]
    assert cited.section == "Sensor signatures"
    assert draft.findings[0].text.split(": ", 1)[1] in cited.text


def test_a_healthy_machine_gets_the_maintenance_schedule(shipped_index):
    draft = build_draft(
        {"machine_id": "fan_1", "category": "fan", "state": 0, "confidence": 0.97}, [], index=shipped_index
    )

    assert draft.risk_factors == []
    assert draft.urgency.level == "low"
    assert "No sensor is more than 3 sigma" in draft.summary
    assert [c.section for c in draft.citations] == ["Maintenance intervals"]
    assert any(item.text.startswith("Monthly:") for item in draft.recommendations)


def test_without_manuals_the_draft_still_has_summary_and_urgency():
    draft = build_draft(
        PredictionFacts(
            "pump_x", "pump", state=3, confidence=0.9, rul_hours=10, anomaly_score=0.93, is_anomaly=True
        ),
        [SensorEvidence("vibration_mm_s", 7.1, baseline=2.0, deviation_sigma=25.5, toward_failure=0.93)],
    )

    assert draft.citations == []
    assert draft.findings == []
    assert draft.recommendations[0].text == "Stop the machine or reduce its load, and inspect it within 10 h."
    for fact in (
        "pump_x",
        "Critical",
        "90%",
        "10 h",
        "0.93",
        "flagged as an anomaly",
        "vibration_mm_s = 7.1 mm/s",
    ):
        assert fact in draft.summary


def test_draft_is_json_and_leaves_markup_unescaped():
    manual = Manual(
        "notes.md", "Notes", "## Steps\n\n- Check that vibration_mm_s stays < 4 & log it.", "markdown"
    )
    index = ManualIndex.build([manual])

    draft = build_draft(
        {"machine_id": "fan_1", "category": "fan", "state": 2},
        [SensorEvidence("vibration_mm_s", 5.0, deviation_sigma=20)],
        index=index,
    )
    payload = json.loads(json.dumps(draft.to_dict()))

    assert "Check that vibration_mm_s stays < 4 & log it. [1]" in draft.text
    assert payload["citations"][0]["source"] == "notes.md"
    assert payload["urgency"]["level"] == "high"
    assert payload["risk_factors"][0]["sensor"] == "vibration_mm_s"
