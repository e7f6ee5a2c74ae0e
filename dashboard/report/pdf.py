"""The weekly report as a PDF, drawn with fpdf2 (pure Python, no system libraries).

The same rows and sentences as the HTML file (`report.lines`) and the same
chart layout (`report.chart`), on A4. The text is set in the PDF's standard
Helvetica, which every reader has and which needs no font file, so text stays
extractable and the file small; Helvetica covers Western European text (Dutch,
English, French, German accents). A character outside it, such as an emoji or
another script in a sample mention, is printed as `?` here; the HTML file keeps it.
"""

from __future__ import annotations

from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from dashboard.report import lines
from dashboard.report.chart import Chart, day_chart
from dashboard.report.model import WeeklyReport

# Typographic characters Helvetica's encoding lacks, written as it can print them.
_PLAIN = str.maketrans({"–": "-", "—": "-", "−": "-", "‘": "'", "’": "'", "“": '"',
                        "”": '"', "…": "...", "€": "EUR", "\u00a0": " ", "\u202f": " "})
INK = (34, 34, 34)
GREY = (110, 110, 110)
HEADING_FILL = (238, 238, 238)


def printable(text: str) -> str:
    """`text` in the characters the standard PDF font has (Latin-1); others become `?`."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class _Document(FPDF):
    """A4 pages with the report's name and the page number at the foot."""

    def __init__(self, report: WeeklyReport) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.set_margins(16, 14, 16)
        self.set_auto_page_break(auto=True, margin=16)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("Helvetica", size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, printable(f"{self.report.org_name} · {self.report.week.label} · "
                                  f"page {self.page_no()}"), align="C")


def to_pdf(report: WeeklyReport) -> bytes:
    """The whole report as PDF bytes."""
    pdf = _Document(report)
    pdf.set_title(printable(f"{lines.title(report)} · {report.week.label}"))
    pdf.set_author("dorpspomp")
    pdf.set_creator("dorpspomp report")
    pdf.add_page()
    _text(pdf, lines.title(report), size=18, style="B")
    _text(pdf, lines.subtitle(report), size=10, colour=GREY)
    _text(pdf, lines.state_line(report), size=9, colour=GREY)
    empty = lines.empty_line(report)
    if empty is not None:
        pdf.ln(2)
        _text(pdf, empty, size=11, style="B")

    _heading(pdf, "Key figures")
    figures = [[f.label, f.current, f.previous, f.change] for f in lines.key_figures(report)]
    _table(pdf, ["", "This week", "Week before", "Change"], figures, (70, 34, 34, 40),
           numeric={1, 2, 3})
    hints = [f"{f.label}: {f.hint}." for f in lines.key_figures(report) if f.hint]
    _text(pdf, " ".join(hints), size=7.5, colour=GREY)

    _heading(pdf, "Day by day")
    _chart(pdf, day_chart(report), width=178)
    _table(pdf, lines.DAY_HEADER, lines.day_rows(report), (28, 24, 26, 22, 24, 22, 32),
           numeric=set(range(1, 7)))

    _heading(pdf, "Responses")
    for line in lines.response_lines(report):
        _text(pdf, line, size=9.5)
        pdf.ln(1)

    _heading(pdf, "Complaint surges")
    if not report.surges:
        _text(pdf, "No complaint surge opened this week.", size=9.5)
    for surge in report.surges:
        _text(pdf, lines.surge_heading(surge, report), size=10.5, style="B")
        _text(pdf, surge.summary, size=9.5)
        _text(pdf, lines.surge_size(surge), size=9.5)
        samples = lines.sample_rows(surge, report)
        if samples:
            _table(pdf, lines.SAMPLE_HEADER, samples, (28, 32, 20, 98), numeric={2}, size=8)
        else:
            _text(pdf, "No sample mentions found in the warehouse.", size=9, colour=GREY)
        pdf.ln(3)
    others = lines.other_alert_lines(report)
    if others:
        _text(pdf, "Other alerts opened this week", size=10.5, style="B")
        for line in others:
            _text(pdf, line, size=9.5)

    _heading(pdf, "Top voices")
    voices = lines.voice_rows(report)
    if voices:
        _table(pdf, lines.VOICE_HEADER, voices, (52, 24, 20, 28, 28, 26),
               numeric={1, 2, 3, 4, 5}, size=8.5)
    else:
        _text(pdf, "Nobody mentioned the client this week.", size=9.5)

    pdf.ln(4)
    _text(pdf, lines.footer(report), size=8, colour=GREY)
    return bytes(pdf.output())


def _text(pdf: FPDF, text: str, *, size: float, style: str = "",
          colour: tuple[int, int, int] = INK) -> None:
    pdf.set_font("Helvetica", style=style, size=size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, size * 0.5, printable(text), align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    if pdf.will_page_break(30):
        pdf.add_page()
    _text(pdf, text, size=13, style="B")
    y = pdf.get_y()
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.ln(2)


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple[float, ...],
           *, numeric: set[int], size: float = 9) -> None:
    pdf.set_font("Helvetica", size=size)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(220, 220, 220)
    pdf.set_fill_color(255, 255, 255)  # cells take the current fill: not the chart's last bar
    align = tuple("RIGHT" if i in numeric else "LEFT" for i in range(len(header)))
    options: dict[str, Any] = {
        "col_widths": widths, "width": sum(widths), "align": "LEFT", "text_align": align,
        "line_height": size * 0.5, "padding": (0.8, 1.2),
        "borders_layout": TableBordersLayout.HORIZONTAL_LINES,
        "headings_style": FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
    }
    with pdf.table(**options) as table:
        for row in [header, *rows]:
            cells = table.row()
            for cell in row:
                cells.cell(printable(cell))
    pdf.ln(2)


def _chart(pdf: FPDF, chart: Chart, *, width: float) -> None:
    """The chart's shapes at the current position, scaled to `width` millimetres."""
    k = width / chart.width
    height, legend_h = chart.height * k, 7
    if pdf.will_page_break(height + legend_h):
        pdf.add_page()
    x0, y0 = pdf.l_margin, pdf.get_y()
    pdf.set_line_width(0.2)
    for ln in chart.lines:
        pdf.set_draw_color(*_rgb(ln.colour))
        pdf.line(x0 + k * ln.x1, y0 + k * ln.y1, x0 + k * ln.x2, y0 + k * ln.y2)
    for box in chart.boxes:
        if box.height > 0:
            pdf.set_fill_color(*_rgb(box.colour))
            pdf.rect(x0 + k * box.x, y0 + k * box.y, k * box.width, k * box.height, style="F")
    pdf.set_font("Helvetica", size=7)
    for label in chart.labels:
        text = printable(label.text)
        shift = {"start": 0.0, "middle": 0.5, "end": 1.0}[label.anchor]
        pdf.set_text_color(*_rgb(label.colour))
        pdf.text(x0 + k * label.x - shift * pdf.get_string_width(text), y0 + k * label.y, text)
    x = x0 + k * 48
    legend_y = y0 + height + 4
    for colour, text in chart.legend:
        pdf.set_fill_color(*_rgb(colour))
        pdf.rect(x, legend_y - 2.5, 3, 3, style="F")
        pdf.set_text_color(*INK)
        pdf.text(x + 4.5, legend_y, text)
        x += 10 + pdf.get_string_width(text)
    pdf.set_y(y0 + height + legend_h)
