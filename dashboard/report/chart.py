"""The report's one chart, mentions and complaints per day, as shapes any format can draw.

`day_chart` lays the chart out once, in abstract units (a width × height box,
y growing downwards as in SVG and PDF), and `svg` writes it as inline SVG for
the HTML file; the PDF draws the same shapes with its own primitives. So the
file needs no chart library, no script and no external asset. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from dashboard.report.lines import count, day_label
from dashboard.report.model import WeeklyReport

MENTIONS, COMPLAINTS, PREVIOUS = "#1f77b4", "#d62728", "#c7c7c7"
INK, GRID = "#333333", "#e5e5e5"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str  # what the shape stands for (a tooltip in SVG)


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str  # start, middle, end
    colour: str = INK


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str = GRID


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    boxes: tuple[Box, ...]
    labels: tuple[Label, ...]
    lines: tuple[Line, ...]
    legend: tuple[tuple[str, str], ...]  # (colour, text)


def axis_ticks(value: int) -> list[int]:
    """Ticks from 0 to a round top at or above `value`, 4 or 5 steps of 1, 2 or 5 × 10^k."""
    wanted = max(value, 1) / 5
    magnitude = 10 ** math.floor(math.log10(wanted)) if wanted >= 1 else 1
    step = next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude >= wanted)
    steps = max(math.ceil(max(value, 1) / step), 1)
    return [i * step for i in range(steps + 1)]


def day_chart(report: WeeklyReport, width: float = 640, height: float = 220) -> Chart:
    """Per local day: the week before's mentions (grey), this week's mentions and complaints."""
    left, right, top, bottom = 48.0, 8.0, 10.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([d.mentions for d in report.days]
                  + [d.mentions for d in report.previous_days] + [0])
    ticks = axis_ticks(highest)
    axis_top = ticks[-1]

    def y(value: float) -> float:
        return top + plot_h * (1 - value / axis_top)

    lines, labels, boxes = [], [], []
    for value in ticks:
        lines.append(Line(left, y(value), width - right, y(value)))
        labels.append(Label(left - 6, y(value) + 4, count(value), "end"))
    slot = plot_w / len(report.days)
    bar = slot * 0.26
    for i, (day, before) in enumerate(zip(report.days, report.previous_days, strict=True)):
        x0 = left + i * slot + slot * 0.11
        label = day_label(day.day)
        for offset, value, colour, what in (
            (0.0, before.mentions, PREVIOUS, f"{day_label(before.day)}: {before.mentions:,} "
             "mentions (week before)"),
            (bar, day.mentions, MENTIONS, f"{label}: {day.mentions:,} mentions"),
            (2 * bar, day.complaints, COMPLAINTS, f"{label}: {day.complaints:,} complaints"),
        ):
            boxes.append(Box(x0 + offset, y(value), bar, y(0) - y(value), colour, what))
        labels.append(Label(left + (i + 0.5) * slot, height - bottom + 16, label, "middle"))
    lines.append(Line(left, y(0), width - right, y(0), INK))
    legend = ((PREVIOUS, "mentions, week before"), (MENTIONS, "mentions"),
              (COMPLAINTS, "complaints"))
    return Chart(width, height, tuple(boxes), tuple(labels), tuple(lines), legend)


def svg(chart: Chart) -> str:
    """The chart as an inline <svg> element with a legend below it."""
    legend_h = 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
             f'viewBox="0 0 {chart.width:.0f} {chart.height + legend_h:.0f}" '
             'font-family="sans-serif" font-size="11">',
             "<title>Mentions and complaints per day</title>"]
    for ln in chart.lines:
        parts.append(f'<line x1="{ln.x1:.1f}" y1="{ln.y1:.1f}" x2="{ln.x2:.1f}" '
                     f'y2="{ln.y2:.1f}" stroke="{ln.colour}" stroke-width="1"/>')
    for b in chart.boxes:
        parts.append(f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.width:.1f}" '
                     f'height="{max(b.height, 0):.1f}" fill="{b.colour}">'
                     f"<title>{escape(b.title)}</title></rect>")
    for lb in chart.labels:
        parts.append(f'<text x="{lb.x:.1f}" y="{lb.y:.1f}" text-anchor="{lb.anchor}" '
                     f'fill="{lb.colour}">{escape(lb.text)}</text>')
    x = 48.0
    for colour, text in chart.legend:
        parts.append(f'<rect x="{x:.0f}" y="{chart.height + 6:.0f}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{x + 14:.0f}" y="{chart.height + 15:.0f}" '
                     f'fill="{INK}">{escape(text)}</text>')
        x += 28 + 6.5 * len(text)
    parts.append("</svg>")
    return "".join(parts)
