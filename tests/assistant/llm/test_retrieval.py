import itertools
import time

import pytest

from assistant.llm import Manual, ManualIndex, chunk_manual, load_shipped_manuals
from assistant.llm.retrieval import analyze

LONG_SECTION = "\n\n".join(
    f"Paragraph {n}. The seal leaks when the shaft runs out of true. Replace seal kit {n} after draining."
    for n in range(12)
)
MANUAL_TEXT = f"""# Chiller manual

Intro text.

## Failure modes

### Seal leaks

{LONG_SECTION}

## Safety

- Lock out.
- Vent.
"""
MANUAL = Manual(
    source="chiller.md", title="Chiller manual", text=MANUAL_TEXT, format="markdown", category="chiller"
)


def test_chunks_stay_inside_their_section_and_carry_its_title():
    chunks = chunk_manual(MANUAL, max_chars=300, overlap_chars=80)

    assert chunks[0].section == "Introduction"
    assert {chunk.section for chunk in chunks} == {"Introduction", "Failure modes > Seal leaks", "Safety"}
    assert all("#" not in chunk.text for chunk in chunks)
    assert chunks[-1].text == "- Lock out.\n- Vent."
    assert [chunk.chunk_id for chunk in chunks] == [f"chiller.md#{n}" for n in range(len(chunks))]


def test_chunks_are_bounded_and_overlap_the_previous_one():
    chunks = [
        c for c in chunk_manual(MANUAL, max_chars=300, overlap_chars=80) if c.section.endswith("Seal leaks")
    ]

    assert len(chunks) > 3
    assert all(len(chunk.text) <= 300 + 80 for chunk in chunks)
    for previous, current in itertools.pairwise(chunks):
        first_line = current.text.split("\n")[0]
        assert len(first_line) <= 80
        assert previous.text.endswith(first_line)
    every_paragraph = "\n".join(chunk.text for chunk in chunks)
    assert all(f"Replace seal kit {n} after" in every_paragraph for n in range(12))


def test_an_overlong_paragraph_is_split_at_sentences():
    paragraph = " ".join(f"Sentence number {n} checks the bearing." for n in range(60))
    manual = Manual("notes.txt", "Notes", paragraph, "text")

    chunks = chunk_manual(manual, max_chars=200, overlap_chars=0)

    assert len(chunks) > 5
    assert all(len(chunk.text) <= 200 for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == paragraph


def test_snake_case_sensor_names_are_indexed_whole_and_in_parts():
    terms = analyze("The `bearing_de_temp_C` rises; bearings run hot.")

    assert "bearing_de_temp_c" in terms
    assert terms.count("bear") == 2  # from the sensor name and from "bearings"
    assert "ris" in terms  # rises, rising and rise meet
    assert "the" not in terms


def test_a_sensor_signature_is_found_in_its_categorys_manual(shipped_index):
    passages = shipped_index.search("bearing_de_temp_C rising with vibration_mm_s", k=3, category="motor")

    assert passages[0].chunk.source == "motor.md"
    assert passages[0].chunk.section == "Sensor signatures"
    assert passages[0].score >= passages[-1].score > 0


def test_plain_words_find_the_right_manual_without_a_category(shipped_index):
    best = shipped_index.search("dissolved hydrogen and partial discharge in the oil", k=1)[0]

    assert best.chunk.source == "transformer.md"


def test_category_filter_keeps_general_manuals(shipped_index):
    general = Manual(
        "site-rules.md",
        "Site rules",
        "## Vibration\n\nReport any vibration alarm to the shift lead.",
        "markdown",
    )
    index = ManualIndex.build([*load_shipped_manuals(), general])

    sources = {passage.chunk.source for passage in index.search("vibration alarm", k=20, category="fan")}

    assert sources == {"fan.md", "site-rules.md"}


def test_section_filter(shipped_index):
    passages = shipped_index.search("oil", k=5, category="compressor", section="interval")

    assert passages
    assert all(passage.chunk.section == "Maintenance intervals" for passage in passages)


def test_no_match_returns_nothing(shipped_index):
    assert shipped_index.search("zyxwvut qqqq", k=3) == []
    assert ManualIndex.build([]).search("pump", k=3) == []


def test_all_shipped_manuals_index_in_well_under_a_second():
    manuals = load_shipped_manuals()

    started = time.perf_counter()
    index = ManualIndex.build(manuals)
    seconds = time.perf_counter() - started

    assert len(index.sources) == 11
    assert seconds < 1.0


def test_index_round_trips_through_bytes(shipped_index):
    payload = shipped_index.dumps()
    restored = ManualIndex.loads(payload)

    query = "belt tension falling and belt speed dropping"
    assert [p.to_dict() for p in restored.search(query, k=4)] == [
        p.to_dict() for p in shipped_index.search(query, k=4)
    ]
    assert restored.chunks == shipped_index.chunks


def test_loading_an_index_of_another_format_fails_clearly(shipped_index):
    import io
    import json

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps({"format": 99}).encode(), dtype=np.uint8))

    with pytest.raises(ValueError, match="rebuild it"):
        ManualIndex.loads(buffer.getvalue())
