"""Grounding that needs no language model: prediction + sensor evidence + manual passages → a cited draft.

The draft is the explanation whenever the model is missing or fails, and the facts the model may rewrite
when it is there. Every manual statement in it carries a citation number into `Draft.citations`.
Texts are plain markdown and NOT HTML-escaped: whoever renders them (the Django side) escapes them.
"""

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from assistant.llm.errors import InputError
from assistant.llm.retrieval import ManualIndex, Passage

STATE_LABELS = {0: "Healthy", 1: "Degrading", 2: "Warning", 3: "Critical"}
# SPEC §4 defaults: the state from the RUL fraction h = rul / max_rul.
STATE_THRESHOLDS = ((0.5, 0), (0.25, 1), (0.1, 2))
# A reading further than this many noise standard deviations from healthy counts as a risk factor.
RISK_SIGMA = 3.0
MAX_RISK_FACTORS = 5
MAX_FINDINGS = 3
MAX_RECOMMENDATIONS = 5
PASSAGES_PER_QUERY = 2
STATEMENT_CHARS = 260

URGENCY_LEVELS = ("low", "medium", "high", "critical")
URGENCY_LABELS = {
    "low": "Routine: keep the normal maintenance schedule",
    "medium": "Plan: inspect at the next planned maintenance window",
    "high": "Soon: inspect within days",
    "critical": "Immediate: act now",
}
# The longest wait each urgency allows; a lower RUL bound shortens it further.
URGENCY_HOURS = {"low": None, "medium": 336.0, "high": 72.0, "critical": 24.0}
UNIT_SUFFIXES = (
    ("_mm_s", "mm/s"),
    ("_m3_h", "m³/h"),
    ("_l_min", "l/min"),
    ("_m_s", "m/s"),
    ("_kw", "kW"),
    ("_kn", "kN"),
    ("_nm", "Nm"),
    ("_rpm", "rpm"),
    ("_ppm", "ppm"),
    ("_pc", "pC"),
    ("_psia", "psia"),
    ("_bar", "bar"),
    ("_mm", "mm"),
    ("_c", "°C"),
    ("_k", "K"),
    ("_r", "°R"),
    ("_a", "A"),
)
# Profiles write units plainly ("C", "m3/h"); the reader sees them typeset.
DISPLAY_UNITS = {"C": "°C", "F": "°F", "R": "°R", "m3/h": "m³/h"}
_ACTION_TEXT = (
    "adjust balance check clean compare consider inspect listen lock look measure monitor plan read record "
    "reduce regrease replace review run stop take test trend turn walk"
)
ACTION_WORDS = frozenset(_ACTION_TEXT.split())
# A schedule line ("Weekly: trend ...", "Every 2,000 hours: regrease ...") is an action too.
_SCHEDULE = re.compile(r"^(?:daily|weekly|monthly|quarterly|yearly|every [^:]{1,60}|after [^:]{1,60}):", re.I)
# A finding says how a sensor behaves, not just that it exists.
_TREND = re.compile(
    r"\b(?:ris\w*|fall\w*|drop\w*|climb\w*|above|below|increas\w*|decreas\w*|higher|lower)\b", re.I
)


@dataclass(frozen=True)
class PredictionFacts:
    """What the predictions side knows about one machine now; every figure is optional.

    `state` is 0-3 (SPEC §4); when it is missing but RUL and max RUL are known it is derived from them.
    """

    machine_id: str
    category: str
    kind: str | None = None
    state: int | None = None
    state_label: str | None = None
    confidence: float | None = None
    rul_hours: float | None = None
    rul_low_hours: float | None = None
    rul_high_hours: float | None = None
    max_rul_hours: float | None = None
    anomaly_score: float | None = None
    is_anomaly: bool | None = None

    def __post_init__(self) -> None:
        if not self.machine_id or not self.category:
            raise InputError("prediction: machine_id and category are required")
        if self.state is not None and self.state not in STATE_LABELS:
            raise InputError(f"prediction.state: {self.state!r} is not one of 0, 1, 2, 3")
        if self.confidence is not None and not 0 <= self.confidence <= 1:
            raise InputError(f"prediction.confidence: {self.confidence!r} is not between 0 and 1")
        for name in ("rul_hours", "rul_low_hours", "rul_high_hours", "max_rul_hours"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InputError(f"prediction.{name}: {value!r} is not a non-negative number")
        if self.state is None and self.rul_hours is not None and self.max_rul_hours:
            object.__setattr__(self, "state", state_from_rul(self.rul_hours, self.max_rul_hours))
        if self.state is not None and self.state_label is None:
            object.__setattr__(self, "state_label", STATE_LABELS[self.state])

    @classmethod
    def from_dict(cls, data: Mapping) -> "PredictionFacts":
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SensorEvidence:
    """One sensor's reading and how far it sits from healthy.

    Give `deviation_sigma` (distance from the healthy baseline in noise standard deviations) and/or
    `toward_failure` (0 at the healthy baseline, 1 at the category's failure level), or a tree model's
    `contribution` (positive pushes toward failure). `sensor_evidence()` computes the first two from a
    profile's base/range/noise.
    """

    sensor: str
    value: float
    baseline: float | None = None
    deviation_sigma: float | None = None
    toward_failure: float | None = None
    contribution: float | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if not self.sensor:
            raise InputError("evidence: a sensor name is required")
        if not isinstance(self.value, int | float) or not math.isfinite(self.value):
            raise InputError(f"evidence[{self.sensor}].value: {self.value!r} is not a finite number")

    @classmethod
    def from_dict(cls, data: Mapping) -> "SensorEvidence":
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class RiskFactor:
    sensor: str
    value: float
    unit: str
    baseline: float | None
    deviation_sigma: float | None
    toward_failure: float | None
    contribution: float | None
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A numbered manual passage (the whole chunk); `[number]` in a text points here."""

    number: int
    chunk_id: str
    source: str
    title: str
    section: str
    score: float
    text: str

    @classmethod
    def from_passage(cls, number: int, passage: Passage) -> "Citation":
        chunk = passage.chunk
        return cls(
            number,
            chunk.chunk_id,
            chunk.source,
            chunk.title,
            chunk.section,
            round(passage.score, 4),
            chunk.text,
        )

    def renumbered(self, number: int) -> "Citation":
        return replace(self, number=number)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Statement:
    """A sentence for the reader, with the number of the citation it comes from (None: our own rule)."""

    text: str
    citation: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        return f"{self.text} [{self.citation}]" if self.citation else self.text


@dataclass(frozen=True)
class Urgency:
    level: str
    label: str
    act_within_hours: float | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Draft:
    prediction: PredictionFacts
    summary: str
    risk_factors: list[RiskFactor]
    findings: list[Statement]
    recommendations: list[Statement]
    urgency: Urgency
    citations: list[Citation] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The draft as markdown: the text shown when no model rewrites it."""
        parts = [self.summary]
        if self.risk_factors:
            parts.append("**Risk factors**\n" + "\n".join(f"- {factor.text}" for factor in self.risk_factors))
        if self.findings:
            parts.append(
                "**What the manuals say**\n" + "\n".join(f"- {item.render()}" for item in self.findings)
            )
        if self.recommendations:
            steps = "\n".join(f"{n}. {item.render()}" for n, item in enumerate(self.recommendations, 1))
            parts.append("**Recommended actions**\n" + steps)
        return "\n\n".join(parts)

    def to_dict(self) -> dict:
        return {
            "prediction": self.prediction.to_dict(),
            "summary": self.summary,
            "text": self.text,
            "risk_factors": [factor.to_dict() for factor in self.risk_factors],
            "findings": [item.to_dict() for item in self.findings],
            "recommendations": [item.to_dict() for item in self.recommendations],
            "urgency": self.urgency.to_dict(),
            "citations": [citation.to_dict() for citation in self.citations],
        }


def state_from_rul(rul_hours: float, max_rul_hours: float) -> int:
    health = rul_hours / max_rul_hours
    return next((state for threshold, state in STATE_THRESHOLDS if health > threshold), 3)


def sensor_evidence(readings: Mapping[str, float], sensors: Iterable[Mapping]) -> list[SensorEvidence]:
    """Evidence from one reading per sensor and the profile's sensors (name, base, range, noise, unit)."""
    evidence = []
    for sensor in sensors:
        name = sensor["name"]
        if name not in readings:
            continue
        value, base = float(readings[name]), sensor.get("base")
        noise, span = sensor.get("noise"), sensor.get("range")
        evidence.append(
            SensorEvidence(
                sensor=name,
                value=value,
                baseline=base,
                deviation_sigma=(value - base) / noise if base is not None and noise else None,
                toward_failure=(value - base) / span if base is not None and span else None,
                unit=sensor.get("unit"),
            )
        )
    return evidence


def build_draft(
    prediction: PredictionFacts | Mapping,
    evidence: Sequence[SensorEvidence | Mapping] = (),
    *,
    index: ManualIndex | None = None,
) -> Draft:
    """The explanation without a model: summary, risk factors, cited manual findings and actions, urgency."""
    facts = prediction if isinstance(prediction, PredictionFacts) else PredictionFacts.from_dict(prediction)
    items = [
        item if isinstance(item, SensorEvidence) else SensorEvidence.from_dict(item) for item in evidence
    ]
    risks = risk_factors(items)
    urgency = assess_urgency(facts)
    passages = _retrieve(index, facts, risks)
    citations = [Citation.from_passage(number, passage) for number, passage in enumerate(passages, 1)]
    sensors = [risk.sensor for risk in risks]
    findings = _statements(passages, sensors, actions=False)[:MAX_FINDINGS]
    actions = [Statement(_urgency_action(urgency))]
    actions += _statements(passages, sensors, actions=True)[: MAX_RECOMMENDATIONS - 1]
    used = {item.citation for item in findings + actions}
    numbering = {old.number: new for new, old in enumerate((c for c in citations if c.number in used), 1)}
    return Draft(
        prediction=facts,
        summary=summarize(facts, urgency, risks),
        risk_factors=risks,
        findings=[_renumber(item, numbering) for item in findings],
        recommendations=[_renumber(item, numbering) for item in actions],
        urgency=urgency,
        citations=[c.renumbered(numbering[c.number]) for c in citations if c.number in numbering],
    )


def risk_factors(evidence: Iterable[SensorEvidence]) -> list[RiskFactor]:
    """The sensors that explain the prediction, most telling first (at most MAX_RISK_FACTORS)."""
    significant = [item for item in evidence if _is_significant(item)]
    significant.sort(key=_importance, reverse=True)
    return [_risk_factor(item) for item in significant[:MAX_RISK_FACTORS]]


def _is_significant(item: SensorEvidence) -> bool:
    if item.deviation_sigma is not None:
        moving_toward_failure = item.toward_failure is None or item.toward_failure > 0
        return abs(item.deviation_sigma) >= RISK_SIGMA and moving_toward_failure
    if item.toward_failure is not None:
        return item.toward_failure >= 0.1
    return item.contribution is not None and item.contribution > 0


def _importance(item: SensorEvidence) -> tuple[float, float, float]:
    def known(value: float | None) -> float:
        return -math.inf if value is None else value

    sigma = None if item.deviation_sigma is None else abs(item.deviation_sigma)
    return known(item.toward_failure), known(sigma), known(item.contribution)


def _risk_factor(item: SensorEvidence) -> RiskFactor:
    unit = DISPLAY_UNITS.get(item.unit, item.unit) if item.unit else unit_for(item.sensor)
    parts = [f"{item.sensor} = {_number(item.value)} {unit}".rstrip()]
    if item.baseline is not None:
        direction = "above" if item.value >= item.baseline else "below"
        distance = f"{abs(item.deviation_sigma):.1f} sigma " if item.deviation_sigma is not None else ""
        parts.append(f"{distance}{direction} its healthy {_number(item.baseline)}")
    elif item.deviation_sigma is not None:
        parts.append(f"{item.deviation_sigma:+.1f} sigma from healthy")
    if item.toward_failure is not None:
        parts.append(f"{item.toward_failure:.0%} of the way to its failure level")
    if item.contribution is not None:
        parts.append(f"model contribution {item.contribution:+.3g}")
    text = parts[0] + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")
    return RiskFactor(
        item.sensor,
        item.value,
        unit,
        item.baseline,
        item.deviation_sigma,
        item.toward_failure,
        item.contribution,
        text,
    )


def unit_for(sensor: str) -> str:
    """The unit a SPEC-style sensor name ends with (`bearing_temp_C` → °C); empty when unknown."""
    lower = sensor.lower()
    return next((unit for suffix, unit in UNIT_SUFFIXES if lower.endswith(suffix)), "")


def assess_urgency(facts: PredictionFacts) -> Urgency:
    """The most urgent of what the state, the RUL lower bound and the anomaly flag call for."""
    level, reasons = "low", []

    def raise_to(candidate: str, reason: str) -> None:
        nonlocal level
        reasons.append(reason)
        if URGENCY_LEVELS.index(candidate) > URGENCY_LEVELS.index(level):
            level = candidate

    if facts.state is not None:
        raise_to(URGENCY_LEVELS[facts.state], f"health state {facts.state_label}")
    rul_floor = facts.rul_low_hours if facts.rul_low_hours is not None else facts.rul_hours
    if rul_floor is not None:
        rul_level = next(
            (name for name in ("critical", "high", "medium") if rul_floor <= URGENCY_HOURS[name]), "low"
        )
        raise_to(rul_level, f"remaining life at least {_number(rul_floor)} h")
    if facts.is_anomaly:
        raise_to("medium", "anomalous sensor pattern")
    hours = URGENCY_HOURS[level]
    if hours is not None and rul_floor is not None:
        hours = min(hours, rul_floor)
    return Urgency(level, URGENCY_LABELS[level], hours, "; ".join(reasons) or "no warning signs")


def summarize(facts: PredictionFacts, urgency: Urgency, risks: Sequence[RiskFactor] = ()) -> str:
    """One paragraph: machine, state, RUL, anomaly, urgency and the leading risk factor."""
    sentences = [f"**{facts.machine_id}** ({facts.category})"]
    if facts.state_label:
        confidence = f" (confidence {facts.confidence:.0%})" if facts.confidence is not None else ""
        sentences[0] += f" is in health state **{facts.state_label}**{confidence}."
    else:
        sentences[0] += "."
    if facts.rul_hours is not None:
        interval = ""
        if facts.rul_low_hours is not None and facts.rul_high_hours is not None:
            interval = f" (interval {_number(facts.rul_low_hours)}-{_number(facts.rul_high_hours)} h)"
        of_max = f" of {_number(facts.max_rul_hours)} h when new" if facts.max_rul_hours else ""
        sentences.append(f"Predicted remaining useful life: {_number(facts.rul_hours)} h{interval}{of_max}.")
    if facts.anomaly_score is not None:
        flag = "flagged as an anomaly" if facts.is_anomaly else "not flagged as an anomaly"
        sentences.append(f"Anomaly score {facts.anomaly_score:.2f}, {flag}.")
    if risks:
        sentences.append(f"The strongest warning sign is {risks[0].text}.")
    else:
        sentences.append(f"No sensor is more than {RISK_SIGMA:.0f} sigma from its healthy baseline.")
    within = f" within {_number(urgency.act_within_hours)} h" if urgency.act_within_hours is not None else ""
    sentences.append(f"Urgency: **{urgency.level}**{within}, because of {urgency.reason}.")
    return " ".join(sentences)


def _urgency_action(urgency: Urgency) -> str:
    within = f" within {_number(urgency.act_within_hours)} h" if urgency.act_within_hours is not None else ""
    return {
        "critical": f"Stop the machine or reduce its load, and inspect it{within}.",
        "high": f"Schedule an inspection{within} and watch the risk sensors closely until then.",
        "medium": f"Plan an inspection{within}, at the next maintenance window.",
        "low": "No action beyond the routine maintenance schedule.",
    }[urgency.level]


def explanation_queries(facts: PredictionFacts, risks: Sequence[RiskFactor]) -> list[tuple[str, str]]:
    """(query, preferred section): the risk sensors' signature, then what to inspect for them."""
    if not risks:
        return [(f"{facts.category} maintenance intervals", "interval")]
    names = " ".join(risk.sensor for risk in risks)
    words = " ".join(part for risk in risks for part in risk.sensor.split("_") if len(part) > 1)
    return [
        (f"{facts.category} {names} sensor signatures", "signature"),
        (f"{facts.category} inspection steps {words}", "inspect"),
    ]


def _retrieve(
    index: ManualIndex | None, facts: PredictionFacts, risks: Sequence[RiskFactor]
) -> list[Passage]:
    """Passages for each query, from the preferred section when the manuals have one (ours do)."""
    if index is None:
        return []
    passages: dict[str, Passage] = {}
    for query, section in explanation_queries(facts, risks):
        found = index.search(query, k=PASSAGES_PER_QUERY, category=facts.category, section=section)
        for passage in found or index.search(query, k=PASSAGES_PER_QUERY, category=facts.category):
            passages.setdefault(passage.chunk.chunk_id, passage)
    return list(passages.values())


def _statements(passages: Sequence[Passage], sensors: Sequence[str], *, actions: bool) -> list[Statement]:
    """Sentences from the passages: actions (start with a verb) or findings (name a risk sensor)."""
    scored = []
    for number, passage in enumerate(passages, 1):
        for position, sentence in enumerate(_sentences(passage.chunk.text)):
            mentions = sum(sensor.lower() in sentence.lower() for sensor in sensors)
            if actions != _is_action(sentence) or (
                not actions and not (mentions and _TREND.search(sentence))
            ):
                continue
            # Steps keep the manual's order (chunks of one section are consecutive ids); sensor matches first.
            scored.append((-mentions, _document_order(passage), position, Statement(sentence, number)))
    scored.sort(key=lambda entry: entry[:3])
    unique, seen = [], set()
    for *_, statement in scored:
        if statement.text not in seen:
            seen.add(statement.text)
            unique.append(statement)
    return unique


def _document_order(passage: Passage) -> tuple[str, int]:
    source, _, number = passage.chunk.chunk_id.rpartition("#")
    return source, int(number)


def _is_action(sentence: str) -> bool:
    first_word = sentence.split(" ", 1)[0].lower().strip("*:")
    return first_word in ACTION_WORDS or bool(_SCHEDULE.match(sentence))


def _sentences(text: str) -> list[str]:
    """List items whole (they are self-contained), paragraphs split at sentence ends; markup stripped."""
    sentences = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).replace("**", "").strip()
        if not line:
            continue
        pieces = [line] if len(line) <= STATEMENT_CHARS else re.split(r"(?<=[.!?])\s+", line)
        sentences.extend(_shorten(piece) for piece in pieces if piece)
    return sentences


def _shorten(sentence: str) -> str:
    if len(sentence) <= STATEMENT_CHARS:
        return sentence
    return sentence[: STATEMENT_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _renumber(statement: Statement, numbering: Mapping[int, int]) -> Statement:
    return Statement(statement.text, numbering.get(statement.citation) if statement.citation else None)


def _number(value: float) -> str:
    """Readable figures: 1,450 · 58.2 · 72 · 0.45."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"
