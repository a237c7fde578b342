"""PDF rendering with reportlab alone (its own charts, no matplotlib): a title, then sections of blocks.

Every text that reaches a Paragraph is XML-escaped first (reportlab reads a small markup language), so a
machine name or a model's answer cannot inject markup; `markdown_flowables` turns the assistant's markdown
(bold, lists, citation marks) into paragraphs after escaping it.
"""

import io
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import LineLegend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
STATE_COLORS = {
    0: colors.HexColor("#10b981"),
    1: colors.HexColor("#fbbf24"),
    2: colors.HexColor("#f97316"),
    3: colors.HexColor("#ef4444"),
    None: colors.HexColor("#94a3b8"),
}
SERIES_COLORS = [colors.HexColor(c) for c in ("#0369a1", "#94a3b8", "#94a3b8", "#f97316", "#10b981")]
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")

_styles = getSampleStyleSheet()
STYLES = {
    "title": _styles["Title"],
    "subtitle": ParagraphStyle("subtitle", parent=_styles["Normal"], textColor=colors.HexColor("#475569")),
    "heading": _styles["Heading2"],
    "subheading": _styles["Heading3"],
    "body": ParagraphStyle("body", parent=_styles["BodyText"], leading=13),
    "small": ParagraphStyle("small", parent=_styles["BodyText"], fontSize=8, leading=10),
    "cell": ParagraphStyle("cell", parent=_styles["BodyText"], fontSize=8.5, leading=10.5),
}


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    color: colors.Color | None = None
    dashed: bool = False


@dataclass
class Chart:
    title: str
    series: list[Series]
    x_label: str = ""
    height: float = 55 * mm


@dataclass
class Bars:
    title: str
    labels: list[str]
    values: list[float]
    bar_colors: list[colors.Color] = field(default_factory=list)


@dataclass
class Section:
    """`blocks`: ("text", plain) · ("small", plain) · ("subheading", plain) · ("markdown", md) ·
    ("table", header, rows) · ("chart", Chart) full width · ("charts", [Chart, ...]) two per row ·
    ("bars", Bars)."""

    heading: str
    blocks: list[tuple] = field(default_factory=list)


def paragraph(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(str(text)), STYLES[style])


def _inline(text: str) -> str:
    text = escape(text)
    text = _BOLD.sub(r"<b>\1</b>", text)
    return _CODE.sub(r'<font face="Courier">\1</font>', text)


def markdown_flowables(text: str) -> list:
    """Paragraphs, bullet lists and numbered lists from the assistant's markdown (escaped, then styled)."""
    flowables, items, numbered = [], [], False

    def close_list() -> None:
        if items:
            flowables.append(
                ListFlowable(
                    [ListItem(Paragraph(_inline(item), STYLES["body"])) for item in items],
                    bulletType="1" if numbered else "bullet",
                    start=None if numbered else "•",
                    leftIndent=12,
                )
            )
            items.clear()

    for block in re.split(r"\n\s*\n", text.strip()):
        for line in block.splitlines():
            if not line.strip():
                continue
            is_bullet, is_number = bool(_BULLET.match(line)), bool(_NUMBERED.match(line))
            if is_bullet or is_number:
                if items and numbered != is_number:
                    close_list()
                numbered = is_number
                items.append((_NUMBERED if is_number else _BULLET).sub("", line, count=1))
            elif items and line.startswith("  "):
                items[-1] += " " + line.strip()
            else:
                close_list()
                flowables.append(Paragraph(_inline(line.strip().lstrip("#").strip()), STYLES["body"]))
        close_list()
    return flowables


def _table(header: list[str], rows: list[list]) -> Table:
    data = [[Paragraph(f"<b>{escape(str(cell))}</b>", STYLES["cell"]) for cell in header]]
    data += [
        [Paragraph(escape("—" if cell is None else str(cell)), STYLES["cell"]) for cell in row]
        for row in rows
    ]
    table = Table(data, repeatRows=1, colWidths=[CONTENT_WIDTH / len(header)] * len(header))
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e2e8f0")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd5e1")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _padded(low: float, high: float) -> tuple[float, float]:
    if high - low < 1e-9:
        pad = abs(high) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def chart_drawing(chart: Chart, width: float) -> Drawing:
    """A line chart; series with fewer than two points are left out (the caller says when none remain)."""
    drawing = Drawing(width, chart.height)
    drawing.add(String(0, chart.height - 10, chart.title, fontName="Helvetica-Bold", fontSize=9))
    series = [item for item in chart.series if len(item.points) >= 2]
    plot = LinePlot()
    plot.x, plot.y = 32, 22
    plot.width, plot.height = width - 44, chart.height - 48
    plot.data = [item.points for item in series]
    xs = [x for item in series for x, _ in item.points]
    ys = [y for item in series for _, y in item.points]
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = _padded(min(xs), max(xs))
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = _padded(min(ys), max(ys))
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontSize = 7
        axis.labelTextFormat = _axis_number
    for number, item in enumerate(series):
        line = plot.lines[number]
        line.strokeColor = item.color or SERIES_COLORS[number % len(SERIES_COLORS)]
        line.strokeWidth = 1.2 if not item.dashed else 0.8
        if item.dashed:
            line.strokeDashArray = [3, 2]
    drawing.add(plot)
    if chart.x_label:
        drawing.add(String(width - 10, 2, chart.x_label, fontSize=7, textAnchor="end"))
    if len(series) > 1:
        legend = LineLegend()
        legend.boxAnchor, legend.fontSize, legend.dx = "ne", 7, 12
        legend.x, legend.y = width, chart.height - 2
        legend.columnMaximum, legend.deltax = 1, 55
        legend.colorNamePairs = [(plot.lines[n].strokeColor, item.label) for n, item in enumerate(series)]
        drawing.add(legend)
    return drawing


def _axis_number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"


def bars_drawing(bars: Bars, width: float, height: float = 60 * mm) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, bars.title, fontName="Helvetica-Bold", fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 24
    chart.width, chart.height = width - 40, height - 48
    chart.data = [bars.values]
    chart.categoryAxis.categoryNames = bars.labels
    chart.categoryAxis.labels.fontSize = 7
    if max((len(label) for label in bars.labels), default=0) * len(bars.labels) > 60:
        chart.y, chart.height = 60, height - 84  # room for slanted names
        chart.categoryAxis.labels.angle, chart.categoryAxis.labels.boxAnchor = 30, "ne"
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(1, *bars.values) * 1.15
    chart.barWidth = 10
    for number, color in enumerate(bars.bar_colors):
        chart.bars[(0, number)].fillColor = color
    drawing.add(chart)
    return drawing


def _charts(charts: list[Chart]) -> list:
    """Charts two per row; one whose series all have fewer than two points becomes a line of text."""
    cells, notes = [], []
    width = CONTENT_WIDTH / 2 - 4
    for chart in charts:
        if any(len(item.points) >= 2 for item in chart.series):
            cells.append(chart_drawing(chart, width))
        else:
            notes.append(paragraph(f"{chart.title}: not enough data for a chart yet.", "small"))
    rows = [cells[i : i + 2] + [""] * (2 - len(cells[i : i + 2])) for i in range(0, len(cells), 2)]
    flowables = [Table(rows, colWidths=[width + 4, width + 4])] if rows else []
    return flowables + notes


def _block(kind: str, *args) -> list:
    if kind == "text":
        return [paragraph(args[0])]
    if kind == "small":
        return [paragraph(args[0], "small")]
    if kind == "subheading":
        return [paragraph(args[0], "subheading")]
    if kind == "markdown":
        return markdown_flowables(args[0])
    if kind == "table":
        return [_table(*args)]
    if kind == "chart":
        chart = args[0]
        if any(len(item.points) >= 2 for item in chart.series):
            return [chart_drawing(chart, CONTENT_WIDTH)]
        return [paragraph(f"{chart.title}: not enough data for a chart yet.", "small")]
    if kind == "charts":
        return _charts(args[0])
    if kind == "bars":
        return [bars_drawing(args[0], CONTENT_WIDTH)]
    raise ValueError(f"unknown block kind {kind!r}")


def render_pdf(title: str, subtitle: str, sections: list[Section], *, footer: str = "") -> tuple[bytes, int]:
    """The PDF's bytes and its number of pages."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="PdM platform",
    )

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#64748b"))
        canvas.drawString(MARGIN, 9 * mm, footer or title)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, 9 * mm, f"page {doc.page}")
        canvas.restoreState()

    story = [paragraph(title, "title"), paragraph(subtitle, "subtitle"), Spacer(1, 4 * mm)]
    for section in sections:
        flowables = [flowable for block in section.blocks for flowable in _block(*block)]
        heading = paragraph(section.heading, "heading")
        story.append(KeepTogether([heading, *flowables[:1]]))
        story.extend(flowables[1:])
        story.append(Spacer(1, 3 * mm))
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), document.page
