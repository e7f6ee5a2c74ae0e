"""Alerts across all clients: what is open, what was resolved, and the mentions behind each.

Every open alert counts whatever the range; resolved ones when they opened in
the range. The counts come from the whole table; the list shows the newest
alerts that match the filters first. Each alert's sample mentions come from
`alerts.sample_event_ids` joined to `mentions`. Times are the agency's (the
roster's default zone), and the page says so. It refreshes itself while the
sidebar's live switch is on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st

from dashboard import charts, session
from dashboard.alertdetails import about_column, about_lines, markdown_text
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.display import (
    NO_VALUE,
    alert_figure,
    alert_kind,
    format_seconds,
    severity,
    times_in_zone,
    wall_clock,
)

RANGES: dict[str, timedelta | None] = {
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "90 days": timedelta(days=90),
    "All": None,
}
# How many alerts the page lists, draws, and shows the sample mentions of.
LISTED_ALERTS = 1000
CHARTED_ALERTS = 300
SAMPLED_ALERTS = 20
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

LIST_COLUMNS = {
    "client": st.column_config.TextColumn("Client"),
    "kind": st.column_config.TextColumn("Kind"),
    "status": st.column_config.TextColumn("Status"),
    "opened_at": st.column_config.TextColumn("Opened"),
    "resolved_at": st.column_config.TextColumn("Resolved"),
    "severity": st.column_config.NumberColumn("Severity", format="%.1f",
                                              help="0-10; see the README on complaint surges."),
    "observed": st.column_config.TextColumn("Observed"),
    "expected": st.column_config.TextColumn("Expected"),
    "summary": st.column_config.TextColumn("Summary", width="large"),
    "about": st.column_config.TextColumn(
        "About", width="large",
        help="From the alert's details: a surge's distinctive terms and loudest author, "
             "the mentions waiting past SLA and the oldest, since when a client is silent."),
    "samples": st.column_config.NumberColumn("Sample mentions"),
    "alert_id": st.column_config.TextColumn("Alert id"),
}
SAMPLE_COLUMNS = {
    "created_at": st.column_config.TextColumn("Posted"),
    "author_handle": st.column_config.TextColumn("Author"),
    "author_followers": st.column_config.NumberColumn("Followers", format="localized"),
    "complaint": st.column_config.CheckboxColumn("Complaint"),
    "sentiment": st.column_config.NumberColumn("Sentiment", format="%.2f"),
    "text": st.column_config.TextColumn("Text", width="large"),
    "platform": st.column_config.TextColumn("Platform"),
    "kind": st.column_config.TextColumn("Kind"),
    "event_id": st.column_config.TextColumn("Mention id"),
}


def render() -> None:
    st.title("Alerts")
    data = session.dashboard_data()
    if data is None:
        return
    every = session.refresh_every()
    choice = st.segmented_control("Resolved alerts opened in the last", list(RANGES),
                                  default="30 days", key="alerts.range") or "30 days"
    session.live(live_alerts, every, data, RANGES[choice], every)


def live_alerts(data: DashboardData, length: timedelta | None, every: int | None) -> None:
    """Everything below the range picker, at the watermark of this run."""
    clock = session.read_clock(data)
    if clock is None:
        return
    assert clock.now is not None
    start = BEGINNING if length is None else clock.now - length
    end = clock.now + timedelta(milliseconds=1)
    try:
        show_alerts(data, clock, start, end, every)
    except DataUnavailable as exc:
        session.unavailable(exc)


def show_alerts(data: DashboardData, clock: Clock, start: datetime, end: datetime,
                every: int | None = None) -> None:
    assert clock.now is not None
    zone = data.agency_timezone
    st.caption(session.now_caption(clock, zone) + " (the roster's default zone) · "
               + session.refresh_note(every))
    summary = data.alerts_summary(start, end)
    cols = st.columns(4)
    cols[0].metric("Open alerts", f"{summary['open']:,}")
    cols[1].metric("Open complaint surges", f"{summary['open_surges']:,}")
    cols[2].metric("Resolved in range", f"{summary['resolved']:,}",
                   help="Resolved alerts that opened in the chosen range.")
    cols[3].metric("Clients with open alerts", f"{summary['orgs_with_open']:,}")
    if not summary["open"] and not summary["resolved"]:
        st.success("No alerts open, and none opened in this range.")
        return

    left, middle, right = st.columns(3)
    statuses = left.multiselect("Status", ["open", "resolved"], default=["open", "resolved"],
                                key="alerts.status")
    kinds = middle.multiselect("Kind", list(summary["kinds"]), key="alerts.kind",
                               format_func=alert_kind, placeholder="all kinds")
    orgs = right.multiselect("Clients", data.orgs(), format_func=data.org_name,
                             key="alerts.clients", placeholder="all clients")
    alerts = data.alerts(start, end, statuses=statuses, kinds=kinds, org_ids=orgs,
                         limit=LISTED_ALERTS)
    if alerts.height == 0:
        st.info("No alert matches these filters.")
        return
    matching = int(alerts["matching"][0])
    alerts = alerts.with_columns(
        pl.col("org_id").map_elements(data.org_name, return_dtype=pl.String).alias("name")
    )

    st.subheader("Timeline")
    charted = alerts.head(CHARTED_ALERTS)
    if alerts.height > CHARTED_ALERTS:
        st.caption(f"The newest {CHARTED_ALERTS} of the list below.")
    now_local = clock.now.astimezone(UTC)
    frame = wall_clock(charted, ("opened_at", "resolved_at"), zone)
    wall_now = wall_clock(pl.DataFrame({"now": [now_local]}), ("now",), zone)["now"][0]
    st.altair_chart(charts.alerts_timeline_chart(frame, wall_now, zone), width="stretch")

    st.subheader(f"{matching:,} alerts")
    if matching > alerts.height:
        st.caption(f"The newest {alerts.height:,}. Narrow the filters or use the SQL page "
                   "for the rest.")
    st.caption(f"Newest first; times in {zone}.")
    listed = times_in_zone(alerts, ("opened_at", "resolved_at"), zone)
    st.dataframe(
        listed.select(
            pl.col("name").alias("client"),
            pl.col("kind").map_elements(alert_kind, return_dtype=pl.String), "status",
            "opened_at", "resolved_at",
            "severity",
            pl.struct("kind", "observed").map_elements(
                lambda r: alert_figure(r["kind"], r["observed"]), return_dtype=pl.String)
            .alias("observed"),
            pl.struct("kind", "expected").map_elements(
                lambda r: alert_figure(r["kind"], r["expected"]), return_dtype=pl.String)
            .alias("expected"),
            "summary",
            about_column(listed, zone),
            pl.col("sample_event_ids").list.len().alias("samples"), "alert_id",
        ),
        hide_index=True, width="stretch", column_config=LIST_COLUMNS, placeholder=NO_VALUE,
    )

    st.subheader("Sample mentions")
    sampled = alerts.head(SAMPLED_ALERTS)
    st.caption(f"For the first {sampled.height} alerts above; posted in {zone}.")
    samples = data.alert_samples(sampled["alert_id"].to_list())
    for alert in sampled.iter_rows(named=True):
        show_alert(alert, samples, clock, zone)


def show_alert(alert: dict, samples: pl.DataFrame, clock: Clock, zone: str = "UTC") -> None:
    assert clock.now is not None
    until = alert["resolved_at"] or clock.now
    state = "open" if alert["status"] == "open" else "resolved"
    lasted = format_seconds((until - alert["opened_at"]).total_seconds())
    label = (f"{alert['name']} · {alert_kind(alert['kind'])} · {state} · "
             f"{session.show_time(alert['opened_at'], zone)} ({lasted})")
    with st.expander(label, expanded=False):
        st.write(alert["summary"])
        lines = about_lines(alert["kind"], alert.get("details"), zone)
        if lines:
            st.markdown("\n".join("- " + markdown_text(line) for line in lines))
        st.caption(f"severity {severity(alert['severity'])} · observed "
                   f"{alert_figure(alert['kind'], alert['observed'])} · expected "
                   f"{alert_figure(alert['kind'], alert['expected'])} · {alert['alert_id']}")
        mine = (samples.filter(pl.col("alert_id") == alert["alert_id"])
                if samples.height else samples)
        if mine.height == 0:
            st.caption("No sample mentions found in the warehouse.")
            return
        st.dataframe(
            times_in_zone(mine, ("created_at",), zone).select(
                "created_at", "author_handle", "author_followers", "complaint",
                "sentiment", "text", "platform", "kind", "event_id"),
            hide_index=True, width="stretch", column_config=SAMPLE_COLUMNS,
            placeholder=NO_VALUE,
        )


if __name__ == "__main__":
    render()
