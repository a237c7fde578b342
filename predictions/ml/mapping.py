"""Proposing a column → sensor mapping by fuzzy name matching (rapidfuzz), for the user to confirm or edit.

Names are normalised first (camelCase and punctuation split, common abbreviations expanded, units kept
as tokens), scored with the mean of token-set and token-sort ratios, and paired one-to-one by an
optimal assignment so two columns never claim the same sensor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

DEFAULT_MIN_SCORE = 70.0
CANDIDATES_SHOWN = 3
# Spellings that mean the same thing on a sensor name, mapped to one token.
SYNONYMS = {
    "temp": "temperature",
    "tmp": "temperature",
    "ambient": "air",
    "vib": "vibration",
    "vibr": "vibration",
    "curr": "current",
    "amps": "current",
    "amp": "current",
    "press": "pressure",
    "pres": "pressure",
    "spd": "speed",
    "rotational": "speed",
    "rotation": "speed",
    "rot": "speed",
    "freq": "frequency",
    "pwr": "power",
    "hum": "humidity",
    "degc": "c",
    "degf": "f",
}


def normalise(name: str) -> str:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    tokens = re.sub(r"[^a-z0-9]+", " ", spaced.lower()).split()
    return " ".join(SYNONYMS.get(token, token) for token in tokens)


def name_similarity(column: str, sensor: str) -> float:
    a, b = normalise(column), normalise(sensor)
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2.0


def propose_mapping(
    columns: Sequence[str],
    sensors: Sequence[str | Mapping[str, Any]],
    *,
    min_score: float = DEFAULT_MIN_SCORE,
) -> dict[str, Any]:
    """Propose which column feeds which sensor.

    sensors: names, or dicts with "name" (and optionally "description", also matched). Returns
    {"mapping": {column: sensor | None}, "scores": {column: score | None},
     "candidates": {column: [{"sensor", "score"}, ...]}, "unmapped_sensors": [...], "min_score": ...}.
    """
    names = [s["name"] if isinstance(s, Mapping) else str(s) for s in sensors]
    texts = [[s["name"], s.get("description") or ""] if isinstance(s, Mapping) else [str(s)] for s in sensors]
    columns = [str(c) for c in columns]
    scores = np.array(
        [
            [max(name_similarity(column, text) for text in options if text) for options in texts]
            for column in columns
        ]
    ).reshape(len(columns), len(names))
    mapping: dict[str, str | None] = dict.fromkeys(columns)
    chosen_scores: dict[str, float | None] = dict.fromkeys(columns)
    if scores.size:
        rows, cols = linear_sum_assignment(-scores)
        for row, col in zip(rows, cols, strict=True):
            if scores[row, col] >= min_score:
                mapping[columns[row]] = names[col]
                chosen_scores[columns[row]] = round(float(scores[row, col]), 1)
    candidates = {
        column: [
            {"sensor": names[j], "score": round(float(scores[i, j]), 1)}
            for j in np.argsort(-scores[i])[:CANDIDATES_SHOWN]
        ]
        for i, column in enumerate(columns)
    }
    used = set(mapping.values())
    return {
        "mapping": mapping,
        "scores": chosen_scores,
        "candidates": candidates,
        "unmapped_sensors": [name for name in names if name not in used],
        "min_score": min_score,
    }
