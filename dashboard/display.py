"""How values look on the dashboard: one "no value", durations in words, times in a zone.

Every page shows a missing value as `NO_VALUE` (tables get it as their placeholder,
text through these functions), a duration the way people say it, and a time as the
wall clock of one named zone without an offset: a client's own zone on its page, the
agency's (the roster's default zone) on the pages about every client, which say so.
Pure functions, so what a page shows is tested without Streamlit.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from pipelines.roster import DAYS, BusinessHours

NO_VALUE = "–"
TIME_FORMAT = "%Y-%m-%d %H:%M"  # sorts as text in the order of time


def format_seconds(seconds: float | None) -> str:
    """A duration the way people say it: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if seconds is None or seconds != seconds:
        return NO_VALUE
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m:02d} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def local_time(t: datetime | None, zone: str) -> str:
    """`t` as the wall clock in `zone` ("2026-03-25 13:00"), or `NO_VALUE`."""
    if t is None:
        return NO_VALUE
    return t.astimezone(ZoneInfo(zone)).strftime(TIME_FORMAT)


def times_in_zone(frame: pl.DataFrame, columns: tuple[str, ...], zone: str) -> pl.DataFrame:
    """`frame` with each of `columns` (UTC instants) as wall-clock text in `zone`; a missing
    time stays missing, for the table's placeholder."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(zone)
        .dt.strftime(TIME_FORMAT).alias(c)
        for c in present
    )


def wall_clock(frame: pl.DataFrame, columns: tuple[str, ...], zone: str) -> pl.DataFrame:
    """`frame` with each of `columns` as the naive wall-clock time in `zone`: charts draw
    these on a UTC scale, so their axes read the zone's clock whatever the browser's."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(zone)
        .dt.replace_time_zone(None).alias(c)
        for c in present
    )


def count(n: int | None) -> str:
    """A count with thousands separators (896,037), or `NO_VALUE`."""
    return NO_VALUE if n is None else f"{int(n):,}"


def share(fraction: float | None) -> str:
    """A fraction as a whole percentage (31%), or `NO_VALUE`."""
    return NO_VALUE if fraction is None or fraction != fraction else f"{fraction:.0%}"


def severity(value: float | None) -> str:
    """An alert's severity (0-10) with one decimal, always: 5.0, 5.5."""
    return NO_VALUE if value is None or value != value else f"{value:.1f}"


def alert_figure(kind: str, value: float | None) -> str:
    """An alert's observed or expected figure in its own unit: complaints for a complaint
    surge, business time for an SLA breach (the oldest waiting mention's, against the SLA),
    time without a post for a silent client, the plain number otherwise."""
    if value is None or value != value:
        return NO_VALUE
    if kind == "sla_breach":
        return format_seconds(value) + " business"
    if kind == "silent_org":
        return format_seconds(value)
    if kind == "complaint_surge":
        return f"{value:,.1f} complaints" if value % 1 else f"{value:,.0f} complaints"
    return f"{value:,g}"


ALERT_KINDS = {"complaint_surge": "complaint surge", "sla_breach": "SLA breach",
               "silent_org": "silent client"}


def alert_kind(kind: str) -> str:
    """An alert kind as people say it (the warehouse's name for kinds it does not know)."""
    return ALERT_KINDS.get(kind, kind.replace("_", " "))


def opening_hours(hours: BusinessHours) -> str:
    """Business hours in short: "Mon–Fri 08:30-17:00, Sat 10:00-13:00" ("closed all week")."""
    spec = hours.to_spec()
    days = [(day, spec.get(day)) for day in DAYS]
    parts: list[str] = []
    i = 0
    while i < len(days):
        day, span = days[i]
        j = i
        while j + 1 < len(days) and days[j + 1][1] == span:
            j += 1
        if span:
            name = day.capitalize() if i == j else f"{day.capitalize()}–{days[j][0].capitalize()}"
            parts.append(f"{name} {span}")
        i = j + 1
    return ", ".join(parts) or "closed all week"
