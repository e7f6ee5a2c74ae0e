"""Weekly report: one client's ISO week as the agency sends it on Monday, with the file.

The client comes from the `org` query parameter or the picker (limited to the
login's organisations, like every page); the week from `week` (e.g. 2026-W10)
or the picker, which lists the client's weeks newest first and starts on the
last week that is over in the data. Weeks run Monday 00:00 to Monday 00:00 in
the client's own time zone. The page shows what the downloadable HTML and PDF
files hold: all three render the same `WeeklyReport` through `report.lines`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import polars as pl
import streamlit as st

from dashboard import session
from dashboard.data import DataUnavailable
from dashboard.report import file_name, media_type
from dashboard.report import lines as say
from dashboard.report import render as render_file
from dashboard.report.chart import day_chart, svg
from dashboard.report.model import WeeklyReport, collect_report
from dashboard.report.week import IsoWeek, WeekError

ROW_PX = 35  # a table row's height, to show every key figure without scrolling
CHART_PX = 760
# How a metric's change is coloured: up is good, up is bad, or neither.
Colouring = Literal["normal", "inverse", "off"]
GOOD_UP: Colouring = "normal"
BAD_UP: Colouring = "inverse"
NEUTRAL: Colouring = "off"
# The key figures shown as metrics: label in `report.lines` -> (short label, colouring).
HEADLINE: dict[str, tuple[str, Colouring]] = {
    "Mentions": ("Mentions", NEUTRAL),
    "Complaints": ("Complaints", BAD_UP),
    "Median first response, business hours": ("Median response, business hours", BAD_UP),
    "Within SLA": ("Within SLA", GOOD_UP),
    "Complaint surges": ("Complaint surges", BAD_UP),
}


def week_choices(first: datetime | None, now: datetime, timezone: str) -> list[IsoWeek]:
    """The weeks from the client's first mention to the watermark's, newest first (at least
    the watermark's week and the one before)."""
    last = IsoWeek.containing(now, timezone)
    oldest = IsoWeek.containing(first, timezone) if first is not None else last.previous()
    oldest = min(oldest, last.previous())
    weeks = [last]
    while weeks[-1] > oldest:
        weeks.append(weeks[-1].previous())
    return weeks


def default_week(weeks: list[IsoWeek], wanted: str | None) -> int:
    """The index of the week asked for in the URL, else of the last complete week."""
    if wanted:
        try:
            asked = IsoWeek.parse(wanted)
        except WeekError:
            asked = None
        if asked in weeks:
            return weeks.index(asked)
    return 1 if len(weeks) > 1 else 0


def render() -> None:
    st.title("Weekly report")
    started = session.data_and_clock()
    if started is None:
        return
    data, clock = started
    assert clock.now is not None
    try:
        orgs = data.orgs()
    except DataUnavailable as exc:
        session.unavailable(exc)
        return
    if not orgs:
        st.info(session.EMPTY_HINT)
        return
    wanted = st.query_params.get("org")
    org_id = st.selectbox("Client", orgs, index=orgs.index(wanted) if wanted in orgs else 0,
                          format_func=data.org_name, key="report.org")
    if org_id != wanted:
        st.query_params["org"] = org_id
    timezone = data.org(org_id).timezone
    try:
        span = data.client_span(org_id)
        weeks = week_choices(span[0] if span else None, clock.now, timezone)
        week = st.selectbox(
            "Week", weeks, index=default_week(weeks, st.query_params.get("week")),
            format_func=lambda w: f"{w.label} · {say.day_label(w.days[0])} – "
                                  f"{say.day_label(w.days[-1])} {w.days[-1].year}",
            key=f"report.week.{org_id}", help=f"Monday to Monday in {timezone}, the client's "
            "time zone (the roster's `timezone`).")
        st.query_params["week"] = week.label
        report = collect_report(data, org_id, week, as_of=clock.now)
    except DataUnavailable as exc:
        session.unavailable(exc)
        return
    show_report(report)


def show_report(report: WeeklyReport) -> None:
    st.subheader(say.title(report))
    st.caption(f"{say.subtitle(report)} · {say.state_line(report)}")
    left, right, _ = st.columns([1, 1, 3])
    for column, suffix, label in ((left, ".html", "Download HTML"),
                                  (right, ".pdf", "Download PDF")):
        column.download_button(label, data=render_file(report, suffix),
                               file_name=file_name(report, suffix), mime=media_type(suffix),
                               key=f"report.download{suffix}", icon=":material/download:")
    empty = say.empty_line(report)
    if empty is not None:
        st.info(empty)

    figures = say.key_figures(report)
    by_label = {f.label: f for f in figures}
    cols = st.columns(len(HEADLINE))
    for column, (label, (short, colour)) in zip(cols, HEADLINE.items(), strict=True):
        figure = by_label[label]
        column.metric(short, figure.current,
                      delta=None if figure.change in (say.NONE, "0") else figure.change,
                      delta_color=colour, help=figure.hint or None)
    st.dataframe(
        pl.DataFrame({"Figure": [f.label for f in figures],
                      "This week": [f.current for f in figures],
                      "Week before": [f.previous for f in figures],
                      "Change": [f.change for f in figures],
                      "What it counts": [f.hint for f in figures]}),
        hide_index=True, width="stretch", height=ROW_PX * (len(figures) + 1) + 3,
        key="report.figures")

    st.subheader("Day by day")
    st.image(svg(day_chart(report)), width=CHART_PX)
    st.dataframe(pl.DataFrame(say.day_rows(report), schema=say.DAY_HEADER, orient="row"),
                 hide_index=True, width="stretch", key="report.days")

    st.subheader("Responses")
    for line in say.response_lines(report):
        st.markdown(line)

    st.subheader("Complaint surges")
    if not report.surges:
        st.write("No complaint surge opened this week.")
    for surge in report.surges:
        with st.expander(say.surge_heading(surge, report), expanded=True):
            st.write(surge.summary)
            st.caption(say.surge_size(surge) + f" · {surge.alert_id}")
            samples = say.sample_rows(surge, report)
            if samples:
                st.dataframe(pl.DataFrame(samples, schema=say.SAMPLE_HEADER, orient="row"),
                             hide_index=True, width="stretch")
            else:
                st.caption("No sample mentions found in the warehouse.")
    for line in say.other_alert_lines(report):
        st.caption(line)

    st.subheader("Top voices")
    voices = say.voice_rows(report)
    if voices:
        st.dataframe(pl.DataFrame(voices, schema=say.VOICE_HEADER, orient="row"),
                     hide_index=True, width="stretch", key="report.voices")
    else:
        st.write("Nobody mentioned the client this week.")
    st.caption(say.footer(report))


if __name__ == "__main__":
    render()
