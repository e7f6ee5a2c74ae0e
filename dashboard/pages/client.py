"""One client: activity, responses, the open queue, reach and share of voice over a range.

The organisation comes from the `org` query parameter (the overview links
here) or the picker; the range is a preset ending at the watermark, or chosen
dates. Every figure on the page is for that organisation and range, except the
open queue (what waits now) and the influential voices (all time).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import streamlit as st

from dashboard import charts, session
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.figures import Window, format_seconds, window_between, window_until
from schemas.saturating import UINT64_MAX

PRESETS: dict[str, timedelta | None] = {
    "24 hours": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "90 days": timedelta(days=90),
    "All": None,
}
CUSTOM = "Dates…"
# Most alerts the activity tab lists, and marks on its chart (the newest).
ALERT_LIMIT = 5000
MARKED_ALERTS = 500


def pick_window(
    preset: str, now: datetime, span: tuple[datetime, datetime] | None,
    dates: tuple[date, date] | None = None,
) -> Window:
    """The range for a preset (ending at `now`), all of the client's history, or whole dates."""
    if preset == CUSTOM and dates is not None:
        first, last = dates
        start = datetime.combine(first, time(0), tzinfo=UTC)
        return window_between(start, datetime.combine(last, time(0), tzinfo=UTC)
                              + timedelta(days=1))
    length = PRESETS.get(preset, PRESETS["7 days"])
    if length is None:
        first_at = span[0] if span is not None else now - timedelta(days=1)
        length = max(now - first_at, timedelta(hours=1)) + timedelta(minutes=1)
    return window_until(now, length)


def render() -> None:
    st.title("One client")
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
    index = orgs.index(wanted) if wanted in orgs else 0
    org_id = st.selectbox("Client", orgs, index=index, format_func=data.org_name,
                          key="client.org")
    if org_id != wanted:
        st.query_params["org"] = org_id
    preset = st.segmented_control("Range", [*PRESETS, CUSTOM], default="7 days",
                                  key="client.range") or "7 days"
    dates = None
    if preset == CUSTOM:
        today = clock.now.date()
        chosen = st.date_input("Dates (UTC)", (today - timedelta(days=6), today),
                               max_value=today, key="client.dates")
        if isinstance(chosen, tuple) and len(chosen) == 2:
            dates = (chosen[0], chosen[1])
    try:
        span = data.client_span(org_id)
        window = pick_window(preset, clock.now, span, dates)
        show_client(data, clock, org_id, window, span)
    except DataUnavailable as exc:
        session.unavailable(exc)


def show_client(
    data: DashboardData, clock: Clock, org_id: str, window: Window,
    span: tuple[datetime, datetime] | None,
) -> None:
    assert clock.now is not None
    org = data.org(org_id)
    st.caption(
        session.now_caption(clock)
        + f" · range {session.show_time(window.start)} – {session.show_time(window.end)}"
        + f" · {format_seconds(window.bucket_seconds)} buckets"
        + f" · SLA {format_seconds(org.first_response_sla)} business time, {org.timezone}"
    )
    if span is None:
        st.info(f"No mentions of {data.org_name(org_id)} yet.")
    activity_tab, responses_tab, queue_tab, reach_tab, voice_tab = st.tabs(
        ["Activity", "Responses", "Open queue", "Reach and voices", "Share of voice"]
    )
    activity = data.client_activity(org_id, window)
    with activity_tab:
        show_activity(data, org_id, window, activity)
    with responses_tab:
        show_responses(data, org_id, window)
    with queue_tab:
        show_queue(data, org_id, clock.now, window)
    with reach_tab:
        show_reach(data, org_id, activity)
    with voice_tab:
        show_voice(data, org_id, window)


def show_activity(
    data: DashboardData, org_id: str, window: Window, activity: pl.DataFrame
) -> None:
    alerts = data.client_alerts(org_id, window, limit=ALERT_LIMIT)
    cols = st.columns(4)
    mentions, complaints = int(activity["mentions"].sum()), int(activity["complaints"].sum())
    cols[0].metric("Mentions", f"{mentions:,}")
    cols[1].metric("Complaints", f"{complaints:,}",
                   help="Mentions labelled as complaints (upstream or by the classifier).")
    cols[2].metric("Shares", f"{int(activity['shares'].sum()):,}")
    cols[3].metric("Alerts in range", f"{alerts.height:,}"
                   + ("+" if alerts.height >= ALERT_LIMIT else ""),
                   help="Alerts that were open at some time in the range.")
    st.altair_chart(charts.activity_chart(activity, alerts.tail(MARKED_ALERTS)),
                    width="stretch")
    if alerts.height:
        st.dataframe(
            alerts.select("opened_at", "kind", "status", "severity", "summary", "resolved_at"),
            hide_index=True, width="stretch",
        )


def show_responses(data: DashboardData, org_id: str, window: Window) -> None:
    summary = data.client_response_summary(org_id, window)
    cols = st.columns(5)
    cols[0].metric("Actionable mentions", f"{int(summary.get('actionable') or 0):,}")
    cols[1].metric("Answered", f"{int(summary.get('answered') or 0):,}")
    cols[2].metric("Median first response", format_seconds(summary.get("median_response_seconds")),
                   help="Calendar time; 90th percentile: "
                   + format_seconds(summary.get("p90_response_seconds")))
    cols[3].metric("Median in business hours",
                   format_seconds(summary.get("median_business_seconds")),
                   help="Only the time inside the client's business hours; 90th percentile: "
                   + format_seconds(summary.get("p90_business_seconds")))
    share = summary.get("within_sla_share")
    cols[4].metric("Within SLA", "–" if share is None else f"{share:.0%}",
                   help="Of the mentions whose SLA is decided (answered, or open past the "
                   "SLA), the share answered within it.")
    st.caption(f"{int(summary.get('pending') or 0):,} pending and "
               f"{int(summary.get('unanswered') or 0):,} unanswered (past the answer window).")
    if not summary.get("answered"):
        st.info("No first responses in this range.")
        return
    st.subheader("First-response time: calendar vs business hours")
    st.altair_chart(charts.response_histogram_chart(
        data.client_response_histogram(org_id, window)), width="stretch")
    st.subheader("Median first response by day and hour of the mention")
    heatmap = data.client_response_heatmap(org_id, window)
    business = st.toggle("Business hours only", value=True, key="client.heatmap_business")
    column, title = (("median_business_seconds", "median business minutes") if business
                     else ("median_response_seconds", "median minutes"))
    st.altair_chart(charts.response_heatmap_chart(heatmap, column, title), width="stretch")
    st.subheader("Who answers")
    responders = data.client_responders(org_id, window)
    left, right = st.columns([3, 2])
    left.altair_chart(charts.responders_chart(responders), width="stretch")
    by_role = responders.group_by("role").agg(pl.col("answers").sum()).sort("role")
    right.dataframe(by_role, hide_index=True, width="stretch")
    st.dataframe(
        responders.select(
            "role", "handle", "answers",
            pl.col("median_response_seconds").map_elements(format_seconds,
                                                           return_dtype=pl.String)
            .alias("median response"),
            (pl.col("within_sla") / pl.col("answers") * 100).round(1).alias("within SLA %"),
        ),
        hide_index=True, width="stretch",
    )


def show_queue(data: DashboardData, org_id: str, now: datetime, window: Window) -> None:
    include = st.toggle("Also show mentions that went unanswered in the range", value=False,
                        key="client.queue_unanswered")
    queue = data.client_open_queue(org_id, now,
                                   include_unanswered_since=window.start if include else None)
    if queue.height == 0:
        st.success("Nothing waits for a first response.")
        return
    st.caption(f"{queue.height} mentions, oldest first"
               + (" (the first 200)" if queue.height >= 200 else ""))
    st.dataframe(
        queue.select(
            pl.col("created_at").alias("posted"),
            pl.col("created_at").map_elements(
                lambda t: format_seconds((now - t).total_seconds()),
                return_dtype=pl.String).alias("waiting"),
            "status", "sla_breached", "complaint", "platform", "kind",
            "author_handle", "author_followers", "text", "mention_id",
        ),
        hide_index=True, width="stretch",
    )


def show_reach(data: DashboardData, org_id: str, activity: pl.DataFrame) -> None:
    # Summed in UInt128 and capped like the warehouse's reach: UInt64 sums wrap round.
    reach = min(int(activity["potential_reach"].cast(pl.UInt128).sum()), UINT64_MAX)
    st.metric("Potential reach in range", f"{reach:,}",
              help="Per minute, the followers of that minute's distinct authors, summed.")
    st.altair_chart(charts.reach_chart(activity), width="stretch")
    st.subheader("Influential voices (all time)")
    voices = data.client_influencers(org_id)
    if voices.height == 0:
        st.info("No voices yet.")
        return
    st.dataframe(voices, hide_index=True, width="stretch")


def show_voice(data: DashboardData, org_id: str, window: Window) -> None:
    sector = data.org(org_id).sector
    peers = data.sector_peers(org_id)
    if not sector:
        st.info("This client has no sector in the roster; add `sector:` to compare it with "
                "the other clients of its sector.")
        return
    if len(peers) < 2:
        st.info(f"No other client in the sector {sector!r}.")
    voice = data.sector_voice(peers, window)
    if voice.height == 0:
        st.info(f"No mentions of the {sector} sector in this range.")
        return
    voice = voice.with_columns(
        pl.col("org_id").map_elements(data.org_name, return_dtype=pl.String).alias("name")
    )
    totals = (
        voice.group_by("org_id", "name")
        .agg(pl.col("mentions").sum(), pl.col("complaints").sum(),
             pl.col("potential_reach").cast(pl.UInt128).sum().clip(upper_bound=UINT64_MAX)
             .cast(pl.UInt64), pl.col("sentiment_sum").sum(),
             pl.col("sentiment_n").sum())
        .with_columns(
            (pl.col("mentions") / pl.col("mentions").sum()).alias("share"),
            (pl.col("sentiment_sum") / pl.col("sentiment_n")).round(2).alias("avg sentiment"),
        )
        .sort("mentions", descending=True)
    )
    st.caption(f"Clients in the sector {sector!r}: {', '.join(totals['name'].to_list())}")
    st.altair_chart(charts.share_of_voice_chart(totals, org_id), width="stretch")
    st.altair_chart(charts.voice_over_time_chart(voice), width="stretch")
    st.dataframe(
        totals.select("name", "mentions", (pl.col("share") * 100).round(1).alias("share %"),
                      "complaints", "avg sentiment", "potential_reach"),
        hide_index=True, width="stretch",
    )


if __name__ == "__main__":
    render()
