"""All clients: one row per organisation, the one that needs attention first on top.

Refreshes itself every few seconds (a Streamlit fragment, so only the table
redraws). "Now" is the warehouse's event-time watermark, so replayed history
reads as if it were happening.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import session
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.figures import format_seconds

# What the columns mean, shown as the column's help.
HELP = {
    "why": "Why this client is this high in the list.",
    "last_hour": "Mentions in the hour up to now.",
    "usual": "Mentions in the same hour on each of the previous 7 days (those with data), "
             "on average.",
    "complaints": "Share of today's mentions that are complaints (the client's own "
                  "calendar day, in its time zone).",
    "open": "Mentions waiting for a first response (pending: still within the answer "
            "window).",
    "oldest": "How long the oldest open mention has been waiting.",
    "median": "Median first-response time of the responses given today.",
    "sla": "Of the mentions whose SLA was decided today (answered today, or still open "
           "when the SLA ran out today), the share answered within the SLA.",
    "reach": "Today's potential reach: per minute, the followers of that minute's distinct "
             "authors, summed.",
    "alerts": "Open alerts (complaint surges and SLA breaches).",
}


def table(overview: pl.DataFrame) -> pl.DataFrame:
    """The overview as people read it: names, percentages, durations in words."""
    return overview.select(
        pl.col("name").alias("Client"),
        pl.col("why").alias("Needs attention"),
        pl.col("mentions_last_hour").alias("Last hour"),
        pl.col("usual_last_hour").round(1).alias("Usual"),
        (pl.col("complaint_share") * 100).round(1).alias("Complaints %"),
        pl.col("open_mentions").alias("Open"),
        pl.col("oldest_open_seconds").map_elements(format_seconds, return_dtype=pl.String)
        .fill_null("–").alias("Oldest open"),
        pl.col("median_response_today").map_elements(format_seconds, return_dtype=pl.String)
        .fill_null("–").alias("Median response"),
        (pl.col("within_sla_share") * 100).round(1).alias("Within SLA %"),
        pl.col("reach_today").alias("Reach today"),
        pl.col("open_alerts").alias("Open alerts"),
        ("client?org=" + pl.col("org_id")).alias("Details"),
    )


def matching(overview: pl.DataFrame, name_filter: str) -> pl.DataFrame:
    """Rows whose name or id contains the filter text, ignoring case."""
    needle = name_filter.strip().lower()
    if not needle:
        return overview
    return overview.filter(
        pl.col("name").str.to_lowercase().str.contains(needle, literal=True)
        | pl.col("org_id").str.contains(needle, literal=True)
    )


def render() -> None:
    st.title("All clients")
    data = session.dashboard_data()
    if data is None:
        return
    name_filter = st.text_input(
        "Filter by name", key="clients.filter", placeholder="type part of a client's name"
    )
    live_overview(data, name_filter)


@st.fragment(run_every=session.REFRESH_SECONDS)
def live_overview(data: DashboardData, name_filter: str) -> None:
    clock = session.read_clock(data)
    if clock is None:
        return
    try:
        overview = data.clients_overview(clock)
    except DataUnavailable as exc:
        session.unavailable(exc)
        return
    show_overview(clock, matching(overview, name_filter), overview.height)


def show_overview(clock: Clock, overview: pl.DataFrame, total: int) -> None:
    st.caption(session.now_caption(clock) + f" · refreshes every {session.REFRESH_SECONDS} s")
    needs = overview.filter(pl.col("attention") > 0).height
    cols = st.columns(4)
    cols[0].metric("Mentions in the last hour", f"{overview['mentions_last_hour'].sum():,}")
    cols[1].metric("Open mentions", f"{overview['open_mentions'].sum():,}")
    cols[2].metric("Open alerts", f"{overview['open_alerts'].sum():,}")
    cols[3].metric("Clients needing attention", f"{needs} of {overview.height}")
    if overview.height == 0:
        st.info(f"No client matches the filter ({total} clients in all).")
        return
    st.dataframe(
        table(overview),
        hide_index=True,
        width="stretch",
        column_config={
            "Needs attention": st.column_config.TextColumn(help=HELP["why"], width="medium"),
            "Last hour": st.column_config.NumberColumn(help=HELP["last_hour"]),
            "Usual": st.column_config.NumberColumn(help=HELP["usual"], format="%.1f"),
            "Complaints %": st.column_config.NumberColumn(help=HELP["complaints"],
                                                          format="%.1f%%"),
            "Open": st.column_config.NumberColumn(help=HELP["open"]),
            "Oldest open": st.column_config.TextColumn(help=HELP["oldest"]),
            "Median response": st.column_config.TextColumn(help=HELP["median"]),
            "Within SLA %": st.column_config.NumberColumn(help=HELP["sla"], format="%.1f%%"),
            "Reach today": st.column_config.NumberColumn(help=HELP["reach"], format="localized"),
            "Open alerts": st.column_config.NumberColumn(help=HELP["alerts"]),
            "Details": st.column_config.LinkColumn(display_text="open"),
        },
    )


if __name__ == "__main__":
    render()
