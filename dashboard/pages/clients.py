"""All clients: who needs someone first, what waits longest, and every client's figures.

The first table answers "which client first": the clients with a reason to act
(an open complaint surge, several mentions waiting past their SLA, silence
while mentions come in), most urgent first, each reason written out in full
(`dashboard.triage`). Then the mentions that wait longest across clients, and
one compact row per client, all of them on the page in the same order.

Refreshes itself every few seconds while the sidebar's live switch is on (a
Streamlit fragment, so only this part redraws). "Now" is the warehouse's
event-time watermark, so replayed history reads as if it were happening.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from dashboard import session
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.display import NO_VALUE, format_seconds, times_in_zone
from dashboard.triage import QUEUE_MIN, SILENT_AFTER, SILENT_MENTIONS, STILL_COMING, UNANSWERED_MAX

# What the columns mean, shown as the column's help.
HELP = {
    "urgency": "Points out of 100: an open complaint surge 25–55 (severity and the reach of "
               f"the complainers); {QUEUE_MIN} or more mentions waiting past their SLA 6–30 "
               "(how many, and how long the oldest is past it in business hours); silence "
               "while mentions come in 10–15; waiting and silence together at most "
               f"{UNANSWERED_MAX:.0f}, so an open surge comes first. 0: no reason to act.",
    "last_hour": "Mentions in the hour up to now.",
    "usual": "Mentions in the same hour on each of the previous 7 days (those with data), "
             "on average.",
    "complaints": "Share of today's mentions that are complaints (the client's own "
                  "calendar day, in its time zone).",
    "open": "Mentions waiting for a first response (pending: still within the answer "
            "window).",
    "past_sla": "Of the open mentions, those already past their first-response SLA.",
    "oldest": "How long the oldest open mention has been waiting.",
    "median": "Median first-response time of the responses given today (calendar time).",
    "sla": "Of the mentions whose SLA was decided today (answered today, or still open "
           "when the SLA ran out today), the share answered within the SLA (business hours).",
    "reach": "Today's potential reach: per minute, the followers of that minute's distinct "
             "authors, summed.",
    "alerts": "Open alerts (complaint surges, SLA breaches, silence).",
}
# What counts as a reason to act, in words (the headline's help and the caption of Who first).
REASONS = (f"an open complaint surge; {QUEUE_MIN} or more mentions waiting past their SLA "
           f"(one or two late ones show under Past SLA and Waiting longest, but are no reason); "
           f"or silence: no "
           f"post, not even a reply, for {format_seconds(SILENT_AFTER.total_seconds())} of "
           f"the client's business hours while at least {SILENT_MENTIONS} mentions came in, "
           f"the newest within {format_seconds(STILL_COMING.total_seconds())}")
# Rows of the every-client table: compact, and all of them on the page (no inner scroll).
ROW_HEIGHT = 30
# The cross-client queue: the oldest mentions of each client, and how many in all.
WAITING_PER_CLIENT = 3
WAITING_LISTED = 20


def table(overview: pl.DataFrame) -> pl.DataFrame:
    """The overview as people read it: names, percentages, durations in words."""
    return overview.select(
        pl.col("name").alias("Client"),
        pl.col("urgency").round(0).cast(pl.Int64).alias("Urgency"),
        pl.col("mentions_last_hour").alias("Last hour"),
        pl.col("usual_last_hour").round(1).alias("Usual"),
        (pl.col("complaint_share") * 100).round(1).alias("Complaints %"),
        pl.col("open_mentions").alias("Open"),
        pl.col("open_past_sla").alias("Past SLA"),
        pl.col("oldest_open_seconds").map_elements(format_seconds, return_dtype=pl.String)
        .fill_null(NO_VALUE).alias("Oldest open"),
        pl.col("median_response_today").map_elements(format_seconds, return_dtype=pl.String)
        .fill_null(NO_VALUE).alias("Median response"),
        (pl.col("within_sla_share") * 100).round(1).alias("Within SLA %"),
        pl.col("reach_today").alias("Reach today"),
        pl.col("open_alerts").alias("Open alerts"),
        ("client?org=" + pl.col("org_id")).alias("Details"),
    )


def triage(overview: pl.DataFrame) -> pl.DataFrame:
    """The clients with a reason to act, most urgent first, every reason in full."""
    needing = overview.filter(pl.col("urgency") > 0)
    return needing.select(
        pl.int_range(1, needing.height + 1).alias("Rank"),
        ("[" + pl.col("name").str.replace_all(r"([\[\]])", r"\$1") + "](client?org="
         + pl.col("org_id") + ")").alias("Client"),
        pl.col("urgency").round(0).cast(pl.Int64).alias("Urgency"),
        pl.col("why").alias("Why"),
    )


def waiting_table(waiting: pl.DataFrame, data: DashboardData, now: datetime) -> pl.DataFrame:
    """The cross-client queue as people read it; times in the agency's zone."""
    shown = times_in_zone(waiting, ("created_at",), data.agency_timezone)
    return shown.select(
        pl.col("org_id").map_elements(data.org_name, return_dtype=pl.String).alias("client"),
        pl.col("created_at").alias("posted"),
        waiting["created_at"].map_elements(
            lambda t: format_seconds((now - t).total_seconds()),
            return_dtype=pl.String).alias("waiting"),
        waiting["sla_breach_at"].map_elements(
            lambda t: format_seconds((now - t).total_seconds()) if t <= now else NO_VALUE,
            return_dtype=pl.String).alias("past_sla_by"),
        "complaint", "platform", "kind", "author_handle", "author_followers", "text",
        "mention_id",
    )


WAITING_COLUMNS = {
    "client": st.column_config.TextColumn("Client"),
    "posted": st.column_config.TextColumn("Posted"),
    "waiting": st.column_config.TextColumn("Waiting"),
    "past_sla_by": st.column_config.TextColumn("Past SLA by", help="How long ago its SLA ran "
                                               "out (business hours); – still within it."),
    "complaint": st.column_config.CheckboxColumn("Complaint"),
    "platform": st.column_config.TextColumn("Platform"),
    "kind": st.column_config.TextColumn("Kind"),
    "author_handle": st.column_config.TextColumn("Author"),
    "author_followers": st.column_config.NumberColumn("Followers", format="localized"),
    "text": st.column_config.TextColumn("Text", width="large"),
    "mention_id": st.column_config.TextColumn("Mention id"),
}


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
    every = session.refresh_every()
    name_filter = st.text_input(
        "Filter by name", key="clients.filter", placeholder="type part of a client's name"
    )
    session.live(live_overview, every, data, name_filter, every)


def live_overview(data: DashboardData, name_filter: str, every: int | None) -> None:
    clock = session.read_clock(data)
    if clock is None:
        return
    assert clock.now is not None
    try:
        overview = data.clients_overview(clock)
        waiting = data.clients_waiting(clock.now, per_client=WAITING_PER_CLIENT,
                                       limit=WAITING_LISTED)
    except DataUnavailable as exc:
        session.unavailable(exc)
        return
    shown = matching(overview, name_filter)
    if name_filter.strip():
        waiting = waiting.filter(pl.col("org_id").is_in(shown["org_id"].to_list()))
    show_overview(data, clock, shown, overview.height, waiting, every)


def show_overview(data: DashboardData, clock: Clock, overview: pl.DataFrame, total: int,
                  waiting: pl.DataFrame, every: int | None) -> None:
    assert clock.now is not None
    st.caption(session.now_caption(clock, data.agency_timezone) + " (the roster's default "
               "zone) · " + session.refresh_note(every))
    needs = overview.filter(pl.col("urgency") > 0).height
    cols = st.columns(4)
    cols[0].metric("Mentions in the last hour", f"{overview['mentions_last_hour'].sum():,}")
    cols[1].metric("Open mentions", f"{overview['open_mentions'].sum():,}")
    cols[2].metric("Open alerts", f"{overview['open_alerts'].sum():,}")
    cols[3].metric("Clients needing attention", f"{needs} of {overview.height}",
                   help=f"Clients with a reason to act now: {REASONS}.")
    if overview.height == 0:
        st.info(f"No client matches the filter ({total} clients in all).")
        return

    st.subheader("Who first")
    st.caption(f"A reason to act: {REASONS}. Most urgent first; the points are explained "
               "in the Urgency column's help.")
    if needs:
        st.table(triage(overview), hide_index=True)
    else:
        st.success(f"No client needs attention now: no open complaint surge, no client with "
                   f"{QUEUE_MIN} or more mentions past their SLA, and no client silent while "
                   "mentions come in.")

    st.subheader("Waiting longest, all clients")
    if waiting.height == 0:
        st.success("Nothing waits for a first response.")
    else:
        st.caption(f"The {WAITING_PER_CLIENT} oldest open mentions of each client, oldest "
                   f"first (at most {WAITING_LISTED}); posted in {data.agency_timezone}.")
        st.dataframe(waiting_table(waiting, data, clock.now), hide_index=True, width="stretch",
                     column_config=WAITING_COLUMNS, placeholder=NO_VALUE)

    st.subheader("Every client")
    st.dataframe(
        table(overview),
        hide_index=True,
        width="stretch",
        height=(overview.height + 1) * ROW_HEIGHT + 3,
        row_height=ROW_HEIGHT,
        placeholder=NO_VALUE,
        column_config={
            "Client": st.column_config.TextColumn(pinned=True),
            "Urgency": st.column_config.ProgressColumn(help=HELP["urgency"], format="%d",
                                                       min_value=0, max_value=100),
            "Last hour": st.column_config.NumberColumn(help=HELP["last_hour"],
                                                       format="localized"),
            "Usual": st.column_config.NumberColumn(help=HELP["usual"], format="%.1f"),
            "Complaints %": st.column_config.NumberColumn(help=HELP["complaints"],
                                                          format="%.1f%%"),
            "Open": st.column_config.NumberColumn(help=HELP["open"], format="localized"),
            "Past SLA": st.column_config.NumberColumn(help=HELP["past_sla"],
                                                      format="localized"),
            "Oldest open": st.column_config.TextColumn(help=HELP["oldest"]),
            "Median response": st.column_config.TextColumn(help=HELP["median"]),
            "Within SLA %": st.column_config.NumberColumn(help=HELP["sla"], format="%.1f%%"),
            "Reach today": st.column_config.NumberColumn(help=HELP["reach"], format="localized"),
            "Open alerts": st.column_config.NumberColumn(help=HELP["alerts"],
                                                         format="localized"),
            "Details": st.column_config.LinkColumn(display_text="open"),
        },
    )


if __name__ == "__main__":
    render()
