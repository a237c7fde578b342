"""PDF reports of a machine or of the fleet, made by a Job of kind "report" on the one job path.

A report reads what is stored (health, predictions, readings, kept explanations); where a machine has no
kept explanation it uses the grounded draft, so a report never waits for the language model and stays well
under SPEC §7's 30 s.
"""

import re
import uuid
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from reportlab.lib.units import mm

from assistant.models import Explanation, Report
from assistant.services.explanations import explanation_draft, explanation_of
from assistant.services.grounding import explainable_prediction
from assistant.services.pdf import STATE_COLORS, Bars, Chart, Section, Series, render_pdf
from gan.models import Job
from gan.services.jobs import job_start
from gan.services.progress import ProgressReporter
from machines.models import HealthState, Machine
from predictions import selectors as predictions
from predictions.models import Kind, Prediction

REPORTS_FOLDER = "assistant/reports"
TASK_NAME = "assistant.tasks.build_report"
ATTENTION_STATE = HealthState.WARNING
ATTENTION_MACHINES = 10
LOWEST_RUL_MACHINES = 10
CITATION_CHARS = 280
_MARKUP = re.compile(r"\*\*|`")


def report_folder(machine_pk: int | None) -> str:
    """Reports of one machine share a folder (named by its primary key, never reused), deleted with it."""
    return f"{REPORTS_FOLDER}/{int(machine_pk) if machine_pk is not None else 'fleet'}"


def machine_reports_delete(machine_pk: int) -> int:
    """Deletes the stored PDFs of a deleted machine (its Report rows went with it); returns how many."""
    folder = report_folder(machine_pk)
    try:
        names = default_storage.listdir(folder)[1]
    except FileNotFoundError:
        return 0
    for name in names:
        default_storage.delete(f"{folder}/{name}")
    return len(names)


@transaction.atomic
def report_request(*, machine: Machine | None, user=None) -> Report:
    """A machine report (machine given) or a fleet report (None): the Report and its PENDING job."""
    scope = Report.Scope.MACHINE if machine is not None else Report.Scope.FLEET
    job = job_start(
        kind=Job.Kind.REPORT,
        task_name=TASK_NAME,
        machine=machine,
        user=user,
        params={"scope": scope},
        message=f"{'Machine' if machine else 'Fleet'} report queued",
    )
    return Report.objects.create(
        scope=scope,
        machine=machine,
        job=job,
        requested_by=user if user is not None and user.is_authenticated else None,
    )


def report_run(job: Job, reporter: ProgressReporter) -> dict:
    """The job's work: collect, render, store; the Report gets its file at the end."""
    report = Report.objects.select_related("machine__category").get(job=job)
    reporter.update(
        total=3, current=0, stage="collecting", message="Reading health, predictions and readings"
    )
    if report.machine is not None:
        title, sections = f"Machine report · {report.machine.machine_id}", machine_sections(report.machine)
    else:
        title, sections = "Fleet report", fleet_sections()
    reporter.check_cancelled()
    reporter.update(current=1, stage="rendering", message="Drawing the charts and writing the PDF")
    generated = timezone.localtime()
    data, pages = render_pdf(
        title,
        f"Generated {generated:%Y-%m-%d %H:%M %Z} by the PdM platform",
        sections,
        footer=f"{title} · {generated:%Y-%m-%d %H:%M}",
    )
    reporter.check_cancelled()
    reporter.update(current=2, stage="storing", message="Storing the PDF")
    name = default_storage.save(
        f"{report_folder(report.machine_id)}/{uuid.uuid4().hex}.pdf", ContentFile(data)
    )
    Report.objects.filter(pk=report.pk).update(file=name, bytes=len(data), pages=pages)
    reporter.update(current=3, message=f"Report ready: {pages} page(s)")
    return {"report": report.pk, "pages": pages, "bytes": len(data)}


# --- A machine --------------------------------------------------------------------------------------------


def machine_sections(machine: Machine) -> list[Section]:
    health = predictions.machine_health(machine)
    latest = predictions.machine_latest_predictions(machine)
    sections = [
        Section("Health summary", [("table", ["Item", "Value"], _summary_rows(machine, health))]),
        _rul_section(machine),
        _sensor_section(machine),
        Section(
            "Latest predictions",
            [_predictions_table(latest)] if latest else [("text", "No predictions yet.")],
        ),
    ]
    prediction = explainable_prediction(machine)
    if prediction is not None:
        sections += _explanation_sections(prediction)
    return sections


def _summary_rows(machine: Machine, health) -> list[list]:
    rows = [
        ["Machine", machine.machine_id],
        ["Category", machine.category.name],
        ["Manufacturer / model", f"{machine.manufacturer} {machine.model}".strip() or None],
        ["Location", machine.location or None],
    ]
    if health is None:
        return [*rows, ["Health", "No predictions yet"]]
    state = HealthState(health.state).label if health.state is not None else None
    rul = None
    if health.rul is not None:
        unit = health.rul_unit or "h"
        rul = f"{health.rul:,.0f} {unit}"
        if health.rul_lower is not None and health.rul_upper is not None:
            rul += f" (interval {health.rul_lower:,.0f}–{health.rul_upper:,.0f})"
    anomaly = None
    if health.anomaly is not None:
        score = f", score {health.anomaly_score:.2f}" if health.anomaly_score is not None else ""
        anomaly = ("yes" if health.anomaly else "no") + score
    return [
        *rows,
        ["Health state", state],
        ["Confidence", f"{health.confidence:.0%}" if health.confidence is not None else None],
        ["Remaining useful life", rul],
        ["Anomaly", anomaly],
        [
            "Failure probability",
            f"{health.failure_probability:.0%}" if health.failure_probability is not None else None,
        ],
        ["Last reading", _when(health.last_reading_at)],
        ["Predicted", _when(health.predicted_at)],
    ]


def _hours_since(moments: list[datetime]) -> list[float]:
    start = moments[0] if moments else None
    return [(moment - start).total_seconds() / 3600 for moment in moments]


def _rul_section(machine: Machine) -> Section:
    series = predictions.machine_prediction_series(machine, Kind.RUL, limit=settings.ASSISTANT_REPORT_POINTS)
    rows = [p for p in series if p.result.get("rul") is not None]
    if not rows:
        return Section("Remaining useful life", [("text", "No RUL prediction yet.")])
    hours = _hours_since([p.created_at for p in rows])

    def line(key: str) -> list[tuple[float, float]]:
        return [(x, p.result[key]) for x, p in zip(hours, rows, strict=True) if p.result.get(key) is not None]

    unit = rows[-1].result.get("unit") or "hours"
    chart = Chart(
        f"Predicted RUL ({unit}) with its interval",
        [
            Series("RUL", line("rul")),
            Series("lower", line("lower"), dashed=True),
            Series("upper", line("upper"), dashed=True),
        ],
        x_label="hours since the first prediction shown",
        height=70 * mm,
    )
    return Section("Remaining useful life", [("chart", chart)])


def _sensor_section(machine: Machine) -> Section:
    readings = predictions.machine_readings(machine, limit=settings.ASSISTANT_REPORT_POINTS)
    if not readings:
        return Section("Sensors", [("text", "No readings yet.")])
    hours = _hours_since([reading.timestamp for reading in readings])
    charts = []
    for sensor in machine.sensors.all():
        points = [
            (x, float(reading.values[sensor.name]))
            for x, reading in zip(hours, readings, strict=True)
            if isinstance(reading.values.get(sensor.name), int | float)
        ]
        title = f"{sensor.name} ({sensor.unit})" if sensor.unit else sensor.name
        charts.append(Chart(title, [Series(sensor.name, points)], x_label="hours"))
    first, last = readings[0].timestamp, readings[-1].timestamp
    note = f"The latest {len(readings)} readings, {_when(first)} to {_when(last)}."
    return Section("Sensors", [("small", note), ("charts", charts)])


def _predictions_table(latest: dict[str, Prediction]) -> tuple:
    rows = [
        [
            kind,
            _result_text(prediction),
            f"{prediction.confidence:.0%}" if prediction.confidence is not None else None,
            f"v{prediction.model_version.version}" if prediction.model_version else None,
            _when(prediction.created_at),
        ]
        for kind, prediction in latest.items()
    ]
    return ("table", ["Kind", "Result", "Confidence", "Model", "When"], rows)


def _result_text(prediction: Prediction) -> str:
    result = prediction.result
    if prediction.kind == Kind.HEALTH:
        return str(result.get("state_name", result.get("state")))
    if prediction.kind == Kind.RUL and result.get("rul") is not None:
        interval = ""
        if result.get("lower") is not None and result.get("upper") is not None:
            interval = f" ({result['lower']:,.0f}–{result['upper']:,.0f})"
        return f"{result['rul']:,.0f} {result.get('unit', '')}{interval}".strip()
    if prediction.kind == Kind.ANOMALY:
        score = result.get("normalized_score", result.get("score"))
        flag = "anomaly" if result.get("is_anomaly") else "normal"
        return f"{flag}, score {score:.2f}" if isinstance(score, int | float) else flag
    if prediction.kind == Kind.FAILURE and result.get("probability") is not None:
        return f"{result['probability']:.0%} failure probability"
    if prediction.kind == Kind.FORECAST:
        return f"{result.get('horizon', '?')} steps ahead"
    return "—"


def _explanation_parts(prediction: Prediction) -> dict:
    """The kept explanation's parts, or the grounded draft's when none is kept; `rewrite` is the model's text
    (None when the draft is the explanation)."""
    kept = explanation_of(prediction)
    if kept is not None:
        parts = {
            "summary": kept.summary,
            "risk_factors": kept.risk_factors,
            "recommendations": kept.recommendations,
            "citations": kept.citations,
            "urgency": kept.urgency,
            "rewrite": kept.text if kept.source == Explanation.Source.LLM else None,
            "model": kept.model_name,
        }
    else:
        draft = explanation_draft(prediction).to_dict()
        parts = {
            key: draft[key] for key in ("summary", "risk_factors", "recommendations", "citations", "urgency")
        }
        parts.update(rewrite=None, model="")
    return parts


def _recommendation_lines(recommendations: list[dict]) -> str:
    lines = []
    for number, item in enumerate(recommendations, 1):
        mark = f" [{item['citation']}]" if item.get("citation") else ""
        lines.append(f"{number}. {item['text']}{mark}")
    return "\n".join(lines)


def _citation_rows(citations: list[dict]) -> list[list]:
    rows = []
    for citation in citations:
        text = " ".join(_MARKUP.sub("", citation["text"]).split())
        if len(text) > CITATION_CHARS:
            text = text[: CITATION_CHARS - 1].rsplit(" ", 1)[0] + "…"
        rows.append([f"[{citation['number']}]", f"{citation['source']}, {citation['section']}", text])
    return rows


def _explanation_sections(prediction: Prediction) -> list[Section]:
    parts = _explanation_parts(prediction)
    urgency = parts["urgency"] or {}
    blocks = [("markdown", parts["summary"])]
    if parts["risk_factors"]:
        blocks += [("subheading", "Risk factors"), ("markdown", _risk_lines(parts["risk_factors"]))]
    if parts["rewrite"]:
        blocks += [
            ("subheading", f"The assistant's rewrite ({parts['model']})"),
            ("small", "Written by a small language model from the facts above: check it against them."),
            ("markdown", parts["rewrite"]),
        ]
    sections = [
        Section("Explanation", blocks),
        Section(
            "Recommendations",
            [
                ("text", f"Urgency: {urgency.get('level', '?')} — {urgency.get('label', '')}"),
                ("markdown", _recommendation_lines(parts["recommendations"]) or "No recommendation."),
            ],
        ),
    ]
    if parts["citations"]:
        rows = _citation_rows(parts["citations"])
        sections.append(Section("Citations", [("table", ["#", "Manual", "Passage"], rows)]))
    return sections


def _risk_lines(risk_factors: list[dict]) -> str:
    return "\n".join(f"- {factor['text']}" for factor in risk_factors)


# --- The fleet ---------------------------------------------------------------------------------------------


def fleet_sections() -> list[Section]:
    counts = predictions.fleet_counts()
    labels = [HealthState(int(key)).label if key.isdigit() else "No prediction" for key in counts]
    machines = list(predictions.fleet_machines(sort="state"))
    sections = [
        Section(
            "Fleet health",
            [
                ("table", labels, [list(counts.values())]),
                (
                    "bars",
                    Bars(
                        "Machines per health state",
                        labels,
                        list(counts.values()),
                        [STATE_COLORS[int(key)] if key.isdigit() else STATE_COLORS[None] for key in counts],
                    ),
                ),
            ],
        ),
        _lowest_rul_section(machines),
        Section(
            "Machines",
            [
                (
                    "table",
                    ["Machine", "Category", "State", "RUL", "Anomaly", "Last reading"],
                    _fleet_rows(machines),
                )
            ],
        ),
    ]
    return sections + _attention_sections(machines)


def _health(machine: Machine):
    return getattr(machine, "health", None)


def _fleet_rows(machines: list[Machine]) -> list[list]:
    rows = []
    for machine in machines:
        health = _health(machine)
        state = HealthState(health.state).label if health and health.state is not None else None
        rul = f"{health.rul:,.0f} {health.rul_unit or 'h'}" if health and health.rul is not None else None
        anomaly = None if not health or health.anomaly is None else ("yes" if health.anomaly else "no")
        rows.append(
            [
                machine.machine_id,
                machine.category.name,
                state,
                rul,
                anomaly,
                _when(health.last_reading_at if health else None),
            ]
        )
    return rows


def _lowest_rul_section(machines: list[Machine]) -> Section:
    with_rul = [m for m in machines if _health(m) and _health(m).rul is not None]
    lowest = sorted(with_rul, key=lambda m: m.health.rul)[:LOWEST_RUL_MACHINES]
    if not lowest:
        return Section("Remaining useful life", [("text", "No RUL prediction yet.")])
    bars = Bars(
        "Lowest predicted RUL (hours)",
        [m.machine_id[:18] for m in lowest],
        [m.health.rul for m in lowest],
        [STATE_COLORS.get(m.health.state, STATE_COLORS[None]) for m in lowest],
    )
    return Section("Remaining useful life", [("bars", bars)])


def _attention_sections(machines: list[Machine]) -> list[Section]:
    needing = [
        m for m in machines if _health(m) and m.health.state is not None and m.health.state >= ATTENTION_STATE
    ][:ATTENTION_MACHINES]
    if not needing:
        return [Section("Needing attention", [("text", "No machine is in the Warning or Critical state.")])]
    blocks = []
    for machine in needing:
        prediction = explainable_prediction(machine)
        blocks.append(("subheading", f"{machine.machine_id} · {HealthState(machine.health.state).label}"))
        if prediction is None:
            blocks.append(("text", "No prediction to explain."))
            continue
        parts = _explanation_parts(prediction)
        blocks.append(("markdown", parts["summary"]))
        blocks.append(("markdown", _recommendation_lines(parts["recommendations"])))
        if parts["citations"]:
            blocks.append(("table", ["#", "Manual", "Passage"], _citation_rows(parts["citations"])))
    return [Section("Needing attention", blocks)]


def _when(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else None
