"""Alerts across all clients: what is open, what was resolved, and the mentions behind each.

Every open alert counts whatever the range; resolved ones when they opened in
the range. The counts come from the whole table; the list shows the first
alerts that match the filters, open ones and complaint surges first. Each
alert's sample mentions come from `alerts.sample_event_ids` joined to `mentions`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st

from dashboard import charts, session
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.figures import format_seconds

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


def render() -> None:
    st.title("Alerts")
    started = session.data_and_clock()
    if started is None:
        return
    data, clock = started
    assert clock.now is not None
    choice = st.segmented_control("Resolved alerts opened in the last", list(RANGES),
                                  default="30 days", key="alerts.range") or "30 days"
    length = RANGES[choice]
    start = BEGINNING if length is None else clock.now - length
    end = clock.now + timedelta(milliseconds=1)
    try:
        show_alerts(data, clock, start, end)
    except DataUnavailable as exc:
        session.unavailable(exc)


def show_alerts(data: DashboardData, clock: Clock, start: datetime, end: datetime) -> None:
    assert clock.now is not None
    st.caption(session.now_caption(clock))
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
                               placeholder="all kinds")
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
        st.caption(f"The first {CHARTED_ALERTS} of the list below.")
    st.altair_chart(charts.alerts_timeline_chart(charted, clock.now), width="stretch")

    st.subheader(f"{matching:,} alerts")
    if matching > alerts.height:
        st.caption(f"The first {alerts.height:,}: open ones first, complaint surges first, "
                   "newest first. Narrow the filters or use the SQL page for the rest.")
    st.dataframe(
        alerts.select(
            pl.col("name").alias("client"), "kind", "status", "opened_at", "resolved_at",
            "severity", "observed", "expected", "summary",
            pl.col("sample_event_ids").list.len().alias("samples"), "alert_id",
        ),
        hide_index=True, width="stretch",
    )

    st.subheader("Sample mentions")
    sampled = alerts.head(SAMPLED_ALERTS)
    st.caption(f"For the first {sampled.height} alerts above.")
    samples = data.alert_samples(sampled["alert_id"].to_list())
    for alert in sampled.iter_rows(named=True):
        show_alert(alert, samples, clock)


def show_alert(alert: dict, samples: pl.DataFrame, clock: Clock) -> None:
    assert clock.now is not None
    until = alert["resolved_at"] or clock.now
    state = "open" if alert["status"] == "open" else "resolved"
    lasted = format_seconds((until - alert["opened_at"]).total_seconds())
    label = (f"{alert['name']} · {alert['kind']} · {state} · "
             f"{session.show_time(alert['opened_at'])} ({lasted})")
    with st.expander(label, expanded=False):
        st.write(alert["summary"])
        st.caption(f"severity {alert['severity']:.1f} · observed {alert['observed']:g} · "
                   f"expected {alert['expected']:g} · {alert['alert_id']}")
        mine = (samples.filter(pl.col("alert_id") == alert["alert_id"])
                if samples.height else samples)
        if mine.height == 0:
            st.caption("No sample mentions found in the warehouse.")
            return
        st.dataframe(
            mine.select("created_at", "author_handle", "author_followers", "complaint",
                        "sentiment", "text", "platform", "kind", "event_id"),
            hide_index=True, width="stretch",
        )


if __name__ == "__main__":
    render()
