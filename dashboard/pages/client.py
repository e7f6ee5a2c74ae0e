"""One client: activity, responses, the open queue, reach and share of voice over a range.

The organisation comes from the `org` query parameter (the overview links
here, and a reload keeps it), else the one chosen last in this session, else
the most urgent client (`dashboard.triage`); the range is a preset ending at the
watermark, or whole dates in the client's time zone. Every figure on the page is
for that organisation and range, except the open queue (what waits now). Times
are the client's own (its roster time zone). The figures refresh themselves
while the sidebar's live switch is on.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboard import charts, session
from dashboard.alertdetails import about_column
from dashboard.data import Clock, DashboardData, DataUnavailable
from dashboard.display import (
    NO_VALUE,
    alert_figure,
    alert_kind,
    format_seconds,
    opening_hours,
    share,
    times_in_zone,
    wall_clock,
)
from dashboard.figures import Window, window_between, window_until
from pipelines.roster import Org
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
# The client chosen last in this session (the picker's own state is forgotten on other pages).
CLIENT_KEY = "dorpspomp.client"

ALERT_COLUMNS = {
    "opened_at": st.column_config.TextColumn("Opened"),
    "kind": st.column_config.TextColumn("Kind"),
    "status": st.column_config.TextColumn("Status"),
    "severity": st.column_config.NumberColumn("Severity", format="%.1f",
                                              help="0-10; see the README on complaint surges."),
    "observed": st.column_config.TextColumn("Observed"),
    "expected": st.column_config.TextColumn("Expected"),
    "summary": st.column_config.TextColumn("Summary", width="large"),
    "about": st.column_config.TextColumn(
        "About", width="large",
        help="From the alert's details: a surge's distinctive terms and loudest author, "
             "the mentions waiting past SLA and the oldest, since when the client is silent."),
    "resolved_at": st.column_config.TextColumn("Resolved"),
}
QUEUE_COLUMNS = {
    "created_at": st.column_config.TextColumn("Posted"),
    "waiting": st.column_config.TextColumn("Waiting"),
    "status": st.column_config.TextColumn("Status"),
    "sla_breached": st.column_config.CheckboxColumn("Past SLA"),
    "complaint": st.column_config.CheckboxColumn("Complaint"),
    "platform": st.column_config.TextColumn("Platform"),
    "kind": st.column_config.TextColumn("Kind"),
    "author_handle": st.column_config.TextColumn("Author"),
    "author_followers": st.column_config.NumberColumn("Followers", format="localized"),
    "text": st.column_config.TextColumn("Text", width="large"),
    "mention_id": st.column_config.TextColumn("Mention id"),
}
RESPONDER_COLUMNS = {
    "role": st.column_config.TextColumn("Role"),
    "handle": st.column_config.TextColumn("Account"),
    "answers": st.column_config.NumberColumn("First responses", format="localized"),
    "median_response": st.column_config.TextColumn("Median response"),
    "median_business": st.column_config.TextColumn("Median in business hours"),
    "within_sla_pct": st.column_config.NumberColumn(
        "Within SLA %", format="%.1f%%",
        help="Of the mentions this account answered first, the share answered within the "
             "SLA (business hours)."),
}
VOICE_COLUMNS = {
    "author_handle": st.column_config.TextColumn("Author"),
    "followers": st.column_config.NumberColumn("Followers", format="localized"),
    "verified": st.column_config.CheckboxColumn("Verified"),
    "mentions": st.column_config.NumberColumn("Mentions", format="localized"),
    "complaints": st.column_config.NumberColumn("Complaints", format="localized"),
    "times_shared": st.column_config.NumberColumn("Times shared", format="localized"),
    "share_reach": st.column_config.NumberColumn(
        "Reach of the shares", format="localized",
        help="The followers of those who shared their mentions."),
    "influence": st.column_config.NumberColumn(
        "Influence", format="%.1f",
        help="log10(1 + followers + reach of the shares) × log2(2 + mentions + times shared)"),
    "last_seen": st.column_config.TextColumn("Last seen"),
}
SECTOR_COLUMNS = {
    "name": st.column_config.TextColumn("Client"),
    "mentions": st.column_config.NumberColumn("Mentions", format="localized"),
    "share_pct": st.column_config.NumberColumn("Share %", format="%.1f%%"),
    "complaints": st.column_config.NumberColumn("Complaints", format="localized"),
    "avg_sentiment": st.column_config.NumberColumn("Average sentiment", format="%.2f"),
    "potential_reach": st.column_config.NumberColumn("Potential reach", format="localized"),
}


def pick_window(
    preset: str, now: datetime, span: tuple[datetime, datetime] | None,
    dates: tuple[date, date] | None = None, zone: str = "UTC",
) -> Window:
    """The range for a preset (ending at `now`), all of the client's history, or whole
    dates in the client's time zone `zone`."""
    if preset == CUSTOM and dates is not None:
        first, last = dates
        local = ZoneInfo(zone)
        start = datetime.combine(first, time(0), tzinfo=local)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=local)
        return window_between(start.astimezone(ZoneInfo("UTC")),
                              end.astimezone(ZoneInfo("UTC")))
    length = PRESETS.get(preset, PRESETS["7 days"])
    if length is None:
        first_at = span[0] if span is not None else now - timedelta(days=1)
        length = max(now - first_at, timedelta(hours=1)) + timedelta(minutes=1)
    return window_until(now, length)


def chosen_client(data: DashboardData, clock: Clock, orgs: list[str]) -> str:
    """The client to show first: the URL's, else the last one chosen in this session, else
    the most urgent one (the top of All clients)."""
    for wanted in (st.query_params.get("org"), st.session_state.get(CLIENT_KEY)):
        if wanted in orgs:
            return str(wanted)
    overview = data.clients_overview(clock)
    ranked = [o for o in overview["org_id"].to_list() if o in orgs]
    return ranked[0] if ranked else orgs[0]


def render() -> None:
    st.title("One client")
    started = session.data_and_clock()
    if started is None:
        return
    data, clock = started
    assert clock.now is not None
    every = session.refresh_every()
    try:
        orgs = data.orgs()
        if not orgs:
            st.info(session.EMPTY_HINT)
            return
        first = chosen_client(data, clock, orgs)
    except DataUnavailable as exc:
        session.unavailable(exc)
        return
    org_id = st.selectbox("Client", orgs, index=orgs.index(first), format_func=data.org_name,
                          key="client.org")
    st.session_state[CLIENT_KEY] = org_id
    if st.query_params.get("org") != org_id:
        st.query_params["org"] = org_id  # a reload keeps the client
    zone = data.org(org_id).timezone
    preset = st.segmented_control("Range", [*PRESETS, CUSTOM], default="7 days",
                                  key="client.range") or "7 days"
    dates = None
    if preset == CUSTOM:
        today = clock.now.astimezone(ZoneInfo(zone)).date()
        chosen = st.date_input(f"Dates ({zone})", (today - timedelta(days=6), today),
                               max_value=today, key="client.dates")
        if isinstance(chosen, tuple) and len(chosen) == 2:
            dates = (chosen[0], chosen[1])
    session.live(live_client, every, data, org_id, preset, dates, every)


def live_client(data: DashboardData, org_id: str, preset: str,
                dates: tuple[date, date] | None, every: int | None) -> None:
    """Everything below the pickers, at the watermark of this run."""
    clock = session.read_clock(data)
    if clock is None:
        return
    assert clock.now is not None
    try:
        span = data.client_span(org_id)
        window = pick_window(preset, clock.now, span, dates, data.org(org_id).timezone)
        show_client(data, clock, org_id, window, span, every)
    except DataUnavailable as exc:
        session.unavailable(exc)


def show_client(
    data: DashboardData, clock: Clock, org_id: str, window: Window,
    span: tuple[datetime, datetime] | None, every: int | None = None,
) -> None:
    assert clock.now is not None
    org = data.org(org_id)
    zone = org.timezone
    st.caption(
        session.now_caption(clock, zone) + " (the client's zone)"
        + f" · range {session.show_time(window.start, zone)} – "
        + f"{session.show_time(window.end, zone)}"
        + f" · {format_seconds(window.bucket_seconds)} buckets"
        + f" · SLA {format_seconds(org.first_response_sla)} of business hours"
        + f" · {session.refresh_note(every)}"
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
        show_reach(data, org_id, window, activity)
    with voice_tab:
        show_voice(data, org_id, window)


def alerts_table(alerts: pl.DataFrame, zone: str) -> pl.DataFrame:
    """Alerts as people read them: times in `zone`, figures in their unit."""
    shown = times_in_zone(alerts, ("opened_at", "resolved_at"), zone)
    return shown.select(
        "opened_at", pl.col("kind").map_elements(alert_kind, return_dtype=pl.String),
        "status", "severity",
        pl.struct("kind", "observed").map_elements(
            lambda r: alert_figure(r["kind"], r["observed"]), return_dtype=pl.String)
        .alias("observed"),
        pl.struct("kind", "expected").map_elements(
            lambda r: alert_figure(r["kind"], r["expected"]), return_dtype=pl.String)
        .alias("expected"),
        "summary",
        about_column(shown, zone),
        "resolved_at",
    )



def show_activity(
    data: DashboardData, org_id: str, window: Window, activity: pl.DataFrame
) -> None:
    zone = data.org(org_id).timezone
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
    st.altair_chart(charts.activity_chart(
        wall_clock(activity, ("bucket",), zone),
        wall_clock(alerts.head(MARKED_ALERTS), ("opened_at",), zone)), width="stretch")
    if alerts.height:
        st.caption(f"Alerts open at some time in the range, newest first; times in {zone}.")
        st.dataframe(alerts_table(alerts, zone), hide_index=True, width="stretch",
                     column_config=ALERT_COLUMNS, placeholder=NO_VALUE)


def sla_explanation(summary: dict[str, Any], org: Org) -> str:
    """Why the headline "Within SLA" and the per-responder shares differ, and what the
    business-hours clock is, with this client's own figures."""
    within = int(summary.get("within_sla") or 0)
    breached = int(summary.get("breached") or 0)
    answered = int(summary.get("answered") or 0)
    answered_late = answered - within
    not_answered = max(0, breached - answered_late)
    sla = format_seconds(org.first_response_sla)
    if org.business_hours.weekly_seconds >= 7 * 86400:
        clocks = (f"**Calendar vs business hours**: the SLA of {sla} counts business hours, "
                  "which for this client are the whole week: both clocks run alike. ")
    else:
        clocks = (
            f"**Calendar vs business hours**: the SLA of {sla} counts only the client's "
            f"business hours ({opening_hours(org.business_hours)}, {org.timezone}), so a "
            "mention posted after closing time and answered at the next opening took hours "
            "of calendar time but minutes of business time. ")
    return (
        clocks
        + f"**Within SLA** counts every mention whose SLA is decided: {within:,} answered in "
        f"time out of {within + breached:,}, where {not_answered:,} of the {breached:,} "
        "late ones are still not answered (waiting, or past the answer window). The "
        "per-responder shares under *Who answers* count only the mentions each account "
        "answered, so they leave those out and can be higher."
    )


def show_responses(data: DashboardData, org_id: str, window: Window) -> None:
    summary = data.client_response_summary(org_id, window)
    org = data.org(org_id)
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
    cols[4].metric("Within SLA", share(summary.get("within_sla_share")),
                   help="Of the mentions whose SLA is decided (answered, or open past the "
                   "SLA), the share answered within it.")
    st.caption(f"{int(summary.get('pending') or 0):,} pending and "
               f"{int(summary.get('unanswered') or 0):,} unanswered (past the answer window).")
    st.caption(sla_explanation(summary, org))
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
    right.dataframe(by_role, hide_index=True, width="stretch", placeholder=NO_VALUE,
                    column_config={
        "role": st.column_config.TextColumn("Role"),
        "answers": st.column_config.NumberColumn("First responses", format="localized"),
    })
    st.dataframe(
        responders.select(
            "role",
            pl.when(pl.col("handle") == "").then(pl.lit("(unknown)"))
            .otherwise(pl.col("handle")).alias("handle"),
            "answers",
            pl.col("median_response_seconds").map_elements(format_seconds,
                                                           return_dtype=pl.String)
            .alias("median_response"),
            pl.col("median_business_seconds").map_elements(format_seconds,
                                                           return_dtype=pl.String)
            .alias("median_business"),
            (pl.col("within_sla") / pl.col("answers") * 100).round(1).alias("within_sla_pct"),
        ),
        hide_index=True, width="stretch", column_config=RESPONDER_COLUMNS,
        placeholder=NO_VALUE,
    )
    st.caption("Per account, only the mentions it answered first: see *Within SLA* above "
               "for why these shares can be higher than the headline.")


def show_queue(data: DashboardData, org_id: str, now: datetime, window: Window) -> None:
    zone = data.org(org_id).timezone
    include = st.toggle("Also show mentions that went unanswered in the range", value=False,
                        key="client.queue_unanswered")
    queue = data.client_open_queue(org_id, now,
                                   include_unanswered_since=window.start if include else None)
    if queue.height == 0:
        st.success("Nothing waits for a first response.")
        return
    st.caption(f"{queue.height} mentions, oldest first"
               + (" (the first 200)" if queue.height >= 200 else "")
               + f"; posted in {zone}.")
    waiting = queue["created_at"].map_elements(
        lambda t: format_seconds((now - t).total_seconds()), return_dtype=pl.String)
    st.dataframe(
        times_in_zone(queue, ("created_at",), zone).select(
            "created_at", waiting.alias("waiting"),
            "status", "sla_breached", "complaint", "platform", "kind",
            "author_handle", "author_followers", "text", "mention_id",
        ),
        hide_index=True, width="stretch", column_config=QUEUE_COLUMNS, placeholder=NO_VALUE,
    )


def show_reach(data: DashboardData, org_id: str, window: Window,
               activity: pl.DataFrame) -> None:
    zone = data.org(org_id).timezone
    # Summed in UInt128 and capped like the warehouse's reach: UInt64 sums wrap round.
    reach = min(int(activity["potential_reach"].cast(pl.UInt128).sum()), UINT64_MAX)
    st.metric("Potential reach in range", f"{reach:,}",
              help="Per minute, the followers of that minute's distinct authors, summed.")
    st.altair_chart(charts.reach_chart(wall_clock(activity, ("bucket",), zone)),
                    width="stretch")
    st.subheader("Influential voices in this range")
    voices = data.client_influencers(org_id, window)
    if voices.height == 0:
        st.info("No voices in this range.")
        return
    st.caption("Counted over the mentions posted in the range and their shares; "
               f"last seen in {zone}.")
    st.dataframe(times_in_zone(voices, ("last_seen",), zone), hide_index=True,
                 width="stretch", column_config=VOICE_COLUMNS, placeholder=NO_VALUE)


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
            (pl.col("sentiment_sum") / pl.col("sentiment_n")).round(2).alias("avg_sentiment"),
        )
        .sort("mentions", descending=True)
    )
    st.caption(f"Clients in the sector {sector!r}: {', '.join(totals['name'].to_list())}")
    st.altair_chart(charts.share_of_voice_chart(totals, org_id), width="stretch")
    st.altair_chart(charts.voice_over_time_chart(
        wall_clock(voice, ("bucket",), data.org(org_id).timezone)), width="stretch")
    st.dataframe(
        totals.select("name", "mentions", (pl.col("share") * 100).round(1).alias("share_pct"),
                      "complaints", "avg_sentiment", "potential_reach"),
        hide_index=True, width="stretch", column_config=SECTOR_COLUMNS, placeholder=NO_VALUE,
    )


if __name__ == "__main__":
    render()
