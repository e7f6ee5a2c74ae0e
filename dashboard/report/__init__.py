"""The weekly client report: one client's ISO week as a page, an HTML file or a PDF.

`week` (ISO weeks on the client's own clock) → `queries` (the statements) →
`model` (the figures, asked through `dashboard.data.DashboardData`) → `lines`
(the figures in words) → `document` (HTML with an inline SVG `chart`) and `pdf`.
`render` picks the file format; `dorpspomp report` and the dashboard's Weekly
report page both go through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package's pure modules (week) load without the data layer
    from dashboard.report.model import WeeklyReport

__all__ = ["FORMATS", "ReportFormatError", "file_name", "format_of", "media_type", "render"]

FORMATS = {".html": "text/html", ".pdf": "application/pdf"}


class ReportFormatError(ValueError):
    """A file name whose extension is not a report format."""


def render(report: WeeklyReport, suffix: str) -> bytes:
    """The report as the bytes of a `.html` or `.pdf` file."""
    suffix = suffix.lower()
    if suffix == ".html":
        from dashboard.report.document import to_html

        return to_html(report).encode("utf-8")
    if suffix == ".pdf":
        from dashboard.report.pdf import to_pdf  # fpdf2 loads only when a PDF is asked for

        return to_pdf(report)
    raise ReportFormatError(f"a report is written as .html or .pdf, not {suffix!r}")


def format_of(path: Path) -> str:
    """The report format a file name asks for (its extension), or ReportFormatError."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = f"{suffix!r}" if suffix else "no extension"
        raise ReportFormatError(f"{path.name} has {shown}; name the file .html or .pdf")
    return suffix


def media_type(suffix: str) -> str:
    return FORMATS[suffix.lower()]


def file_name(report: WeeklyReport, suffix: str) -> str:
    """`gemeente-zutphen-2026-W10.html`."""
    return f"{report.org_id}-{report.week.label}{suffix.lower()}"
