"""The weekly report as one self-contained HTML file: styles inline, the chart as inline SVG.

A client opens it in any browser or mail client, offline: there is no script,
no font, image or style sheet fetched from anywhere. Every text comes from
`report.lines` and is escaped here. Pure: no I/O.
"""

from __future__ import annotations

from html import escape

from dashboard.report import lines
from dashboard.report.chart import day_chart, svg
from dashboard.report.model import WeeklyReport

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 860px; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1em; margin-bottom: 0.2em; }
.sub, .note, footer { color: #555; }
.note, footer { font-size: 0.9em; }
.empty { background: #fff4e5; padding: 0.6em 0.8em; border-left: 4px solid #ff9800; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; font-size: 0.95em; }
th, td { text-align: left; padding: 0.25em 0.5em; border-bottom: 1px solid #eee;
         vertical-align: top; }
td.n, th.n { text-align: right; }
table.figures td:first-child { width: 46%; }
.hint { color: #777; font-size: 0.85em; }
.surge { margin: 1em 0 1.5em 0; }
"""


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{escape(h)}</th>'
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{escape(c)}</td>'
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _paragraphs(texts: list[str], css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return "".join(f"<p{attribute}>{escape(t)}</p>" for t in texts)


def to_html(report: WeeklyReport) -> str:
    """The whole report as an HTML5 document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(lines.title(report))} · {escape(report.week.label)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(lines.title(report))}</h1>",
        f'<p class="sub">{escape(lines.subtitle(report))}</p>',
        _paragraphs([lines.state_line(report)], "note"),
    ]
    empty = lines.empty_line(report)
    if empty is not None:
        parts.append(_paragraphs([empty], "empty"))

    parts.append("<h2>Key figures</h2>")
    head = ["", "This week", "Week before", "Change"]
    rows = "".join(
        f"<tr><td>{escape(f.label)}"
        + (f'<br><span class="hint">{escape(f.hint)}</span>' if f.hint else "")
        + f'</td><td class="n">{escape(f.current)}</td><td class="n">{escape(f.previous)}</td>'
        f'<td class="n">{escape(f.change)}</td></tr>'
        for f in lines.key_figures(report))
    parts.append('<table class="figures"><thead><tr>' + "".join(
        f'<th{" class=n" if i else ""}>{escape(h)}</th>' for i, h in enumerate(head))
        + f"</tr></thead><tbody>{rows}</tbody></table>")

    parts.append("<h2>Day by day</h2>")
    parts.append(svg(day_chart(report)))
    parts.append(_table(lines.DAY_HEADER, lines.day_rows(report), set(range(1, 7))))

    parts.append("<h2>Responses</h2>")
    parts.append(_paragraphs(lines.response_lines(report)))

    parts.append("<h2>Complaint surges</h2>")
    if not report.surges:
        parts.append(_paragraphs(["No complaint surge opened this week."]))
    for surge in report.surges:
        parts.append('<div class="surge">')
        parts.append(f"<h3>{escape(lines.surge_heading(surge, report))}</h3>")
        parts.append(_paragraphs([surge.summary, lines.surge_size(surge)]))
        samples = lines.sample_rows(surge, report)
        if samples:
            parts.append(_table(lines.SAMPLE_HEADER, samples, {2}))
        else:
            parts.append(_paragraphs(["No sample mentions found in the warehouse."], "note"))
        parts.append("</div>")
    others = lines.other_alert_lines(report)
    if others:
        parts.append("<h3>Other alerts opened this week</h3>")
        parts.append(_paragraphs(others))

    parts.append("<h2>Top voices</h2>")
    voices = lines.voice_rows(report)
    if voices:
        parts.append(_table(lines.VOICE_HEADER, voices, {1, 2, 3, 4, 5}))
    else:
        parts.append(_paragraphs(["Nobody mentioned the client this week."]))

    parts.append(f"<footer><p>{escape(lines.footer(report))}</p></footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
