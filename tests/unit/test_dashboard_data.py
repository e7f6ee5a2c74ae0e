"""The dashboard's data layer without Streamlit or a warehouse: queries, parameters, figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard import queries
from dashboard.charts import time_axis
from dashboard.data import (
    DashboardData,
    DashboardReader,
    DataUnavailable,
    QueryFailed,
    Scope,
    sql_time,
)
from dashboard.display import (
    NO_VALUE,
    alert_figure,
    alert_kind,
    count,
    local_time,
    opening_hours,
    severity,
    share,
    times_in_zone,
    wall_clock,
)
from dashboard.figures import (
    BUCKET_SIZES,
    Window,
    bucket_for,
    build_overview,
    format_seconds,
    local_midnight,
    window_until,
)
from dashboard.pages.client import CUSTOM, pick_window, sla_explanation
from dashboard.pages.sql import csv_bytes, parquet_bytes
from dashboard.triage import queue_points, silent_for, surge_points, urgency
from pipelines.roster import parse_roster
from pipelines.serving.sqlguard import ForbiddenQuery, check_read_only
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseError

NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
ROSTER = parse_roster({
    "orgs": [
        {"id": "gemeente-zutphen", "name": "Gemeente Zutphen", "sector": "government",
         "timezone": "Europe/Amsterdam", "first_response_sla": "30m"},
        {"id": "harbor-museum", "name": "Harbor Museum", "sector": "culture",
         "timezone": "America/New_York", "answer_window": "14d"},
    ],
})


class RecordingReader:
    """Answers every statement with `answer` and remembers what was asked."""

    def __init__(self, answer: pa.Table | Exception | None = None) -> None:
        self.answer = answer if answer is not None else pa.table({"x": [1]})
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        self.calls.append((sql, parameters))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


# -- the statements ----------------------------------------------------------------


@pytest.mark.parametrize("query", queries.ALL_QUERIES, ids=lambda q: q.name)
def test_every_query_passes_the_read_only_guard(query: queries.Query) -> None:
    check_read_only(query.sql)


@pytest.mark.parametrize("query", queries.ALL_QUERIES, ids=lambda q: q.name)
def test_every_query_reading_client_data_carries_the_access_filter(query: queries.Query) -> None:
    if query is queries.PUBLIC_COLUMNS:  # the schema, no client data
        assert not query.filtered
        return
    assert query.filtered
    assert query.parameters["restrict"] == "UInt8"
    assert query.parameters["org_ids"] == "Array(String)"


def test_query_names_are_unique_and_every_constant_is_listed() -> None:
    names = [q.name for q in queries.ALL_QUERIES]
    assert len(names) == len(set(names))
    constants = {v for v in vars(queries).values() if isinstance(v, queries.Query)}
    assert constants == set(queries.ALL_QUERIES)


def test_placeholders_refuse_one_name_with_two_types() -> None:
    assert queries.placeholders("SELECT {a:String}, {b:UInt8}") == {"a": "String", "b": "UInt8"}
    with pytest.raises(ValueError, match="parameter a"):
        queries.placeholders("SELECT {a:String}, {a:UInt8}")


@pytest.mark.parametrize("example", queries.EXAMPLES, ids=lambda e: e.title)
def test_examples_are_read_only(example: queries.Example) -> None:
    check_read_only(example.sql)


# -- parameters ----------------------------------------------------------------------


def test_parameters_carry_the_scope_and_send_times_as_utc_text() -> None:
    everyone = DashboardData(RecordingReader(), ROSTER)
    assert everyone.parameters(queries.CLIENT_SPAN, org_id="x") == {
        "restrict": 0, "org_ids": [], "org_id": "x"}
    limited = DashboardData(RecordingReader(), ROSTER, Scope(frozenset({"b", "a"})))
    params = limited.parameters(queries.ALERTS_SUMMARY, start=NOW, end=NOW)
    assert params["restrict"] == 1
    assert params["org_ids"] == ["a", "b"]
    assert params["start"] == "2026-03-25 12:00:00.000"


def test_a_limited_scope_with_no_organisations_sees_nothing_rather_than_everything() -> None:
    assert Scope(frozenset()).parameters() == {"restrict": 1, "org_ids": []}


def test_parameters_must_match_the_statement_exactly() -> None:
    data = DashboardData(RecordingReader(), ROSTER)
    with pytest.raises(TypeError, match="missing parameters \\['org_id'\\]"):
        data.parameters(queries.CLIENT_SPAN)
    with pytest.raises(TypeError, match="unknown \\['colour'\\]"):
        data.parameters(queries.CLIENT_SPAN, org_id="x", colour="red")


def test_sql_time_keeps_milliseconds_and_refuses_naive_times() -> None:
    amsterdam = datetime(2026, 3, 25, 13, 0, 0, 123456).astimezone(UTC)
    assert sql_time(amsterdam).endswith(".123")
    assert sql_time(datetime(2026, 3, 25, 13, 0, tzinfo=UTC) + timedelta(hours=1)) == (
        "2026-03-25 14:00:00.000")
    with pytest.raises(ValueError):
        sql_time(datetime(2026, 3, 25))


def test_reader_failures_become_a_readable_unavailable() -> None:
    data = DashboardData(RecordingReader(WarehouseError("the worker did not answer")), ROSTER)
    with pytest.raises(DataUnavailable, match="the worker did not answer"):
        data.clock()
    data = DashboardData(RecordingReader(ConnectionRefusedError("refused")), ROSTER)
    with pytest.raises(DataUnavailable, match="could not be reached"):
        data.clock()


def test_an_empty_warehouse_has_no_clock() -> None:
    reader = RecordingReader(pa.table({
        "watermark": pa.array([datetime(1970, 1, 1, tzinfo=UTC)], pa.timestamp("ms", "UTC")),
        "mentions": pa.array([0], pa.uint64()), "posts": pa.array([0], pa.uint64()),
    }))
    clock = DashboardData(reader, ROSTER).clock()
    assert clock.empty and clock.now is None


# -- ad-hoc SQL ------------------------------------------------------------------------


def test_ad_hoc_sql_is_refused_before_it_reaches_the_reader() -> None:
    reader = RecordingReader()
    with pytest.raises(ForbiddenQuery, match="DROP"):
        DashboardData(reader, ROSTER).ad_hoc("DROP TABLE mentions")
    assert reader.calls == []


def test_a_client_logins_ad_hoc_sql_goes_to_its_reader_after_the_client_refusals() -> None:
    reader = RecordingReader()
    data = DashboardData(reader, ROSTER, Scope(frozenset({"gemeente-zutphen"})))
    data.ad_hoc("SELECT org_id FROM mentions")
    assert [sql for sql, _ in reader.calls] == ["SELECT org_id FROM mentions"]
    for refused in ("SELECT * FROM system.tables", "EXPLAIN ESTIMATE SELECT 1",
                    "SELECT _part_offset FROM mentions"):
        with pytest.raises(ForbiddenQuery):
            data.ad_hoc(refused)
    assert len(reader.calls) == 1


def test_ad_hoc_failures_are_query_failures() -> None:
    data = DashboardData(RecordingReader(WarehouseError("Unknown identifier nope")), ROSTER)
    with pytest.raises(QueryFailed, match="nope"):
        data.ad_hoc("SELECT nope FROM mentions")


def test_the_dashboard_never_opens_the_embedded_warehouse_itself(tmp_path: Path) -> None:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)})
    reader = DashboardReader(settings)
    with pytest.raises(WarehouseError, match="worker is not running"):
        reader.query("SELECT 1")
    assert not (tmp_path / "warehouse").exists()


# -- the overview --------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def test_overview_joins_sources_and_puts_the_most_urgent_first() -> None:
    overview = build_overview(
        now=NOW, roster=ROSTER, known=["gemeente-zutphen", "harbor-museum"],
        volume=_frame([
            {"org_id": "gemeente-zutphen", "mentions_last_hour": 30,
             "same_hour_previous_days": 35, "previous_days": 7, "mentions_today": 120,
             "complaints_today": 30},
            {"org_id": "unlisted", "mentions_last_hour": 1, "same_hour_previous_days": 0,
             "previous_days": 0, "mentions_today": 4, "complaints_today": 0},
        ]),
        reach=_frame([{"org_id": "gemeente-zutphen", "reach_today": 999}]),
        responses=_frame([
            {"org_id": "gemeente-zutphen", "open_mentions": 4,
             "oldest_open_at": NOW - timedelta(hours=3), "open_past_sla": 3,
             "oldest_past_sla_at": NOW - timedelta(hours=1),
             "median_response_today": 1800.0, "within_sla_today": 6, "sla_due_today": 8},
        ]),
        alerts=_frame([{"org_id": "harbor-museum", "open_alerts": 1, "open_surges": 1}]),
        surges=_frame([{"org_id": "harbor-museum", "open_surges": 1, "surge_severity": 4.0,
                        "surge_opened_at": NOW - timedelta(minutes=5),
                        "surge_summary": "Harbor Museum: 12 complaints in 10 min",
                        "surge_reach": 99}]),
    )
    assert overview["org_id"].to_list() == ["harbor-museum", "gemeente-zutphen", "unlisted"]
    harbor = overview.row(0, named=True)
    assert harbor["urgency"] == 37.0  # 25 + 2.5 × 4 + log10(100)
    assert harbor["why"] == ("complaint surge (severity 4.0, open 5 min): 12 complaints in "
                             "10 min; the complainers reach 99 people")
    zutphen = overview.row(1, named=True)
    assert zutphen["name"] == "Gemeente Zutphen"
    assert zutphen["usual_last_hour"] == 5.0
    assert zutphen["complaint_share"] == 0.25
    assert zutphen["oldest_open_seconds"] == 3 * 3600
    assert zutphen["within_sla_share"] == 0.75
    assert zutphen["reach_today"] == 999
    assert zutphen["urgency"] == zutphen["queue_points"] == 9.0  # 3·log2(4) + 3·log2(2)
    assert zutphen["why"] == ("3 mentions wait past the 30 min SLA, the oldest 1 h of "
                              "business hours past it")
    unlisted = overview.row(2, named=True)
    assert unlisted["name"] == "unlisted"
    assert unlisted["usual_last_hour"] is None  # no earlier day to compare with
    assert unlisted["complaint_share"] == 0.0
    assert unlisted["median_response_today"] is None
    assert (unlisted["urgency"], unlisted["why"]) == (0.0, "")


# -- triage ------------------------------------------------------------------------------

AMSTERDAM = ROSTER.org("gemeente-zutphen")  # Europe/Amsterdam, Mon-Fri 09:00-17:00, SLA 30 min


def test_urgency_has_a_reason_for_every_point_and_none_without() -> None:
    calm = urgency({"mentions_last_hour": 300, "usual_last_hour": 2.0, "open_mentions": 40,
                    "oldest_open_at": NOW - timedelta(minutes=20)}, AMSTERDAM, NOW)
    assert (calm.score, calm.reasons) == (0.0, ())  # busy, but nothing to act on yet
    for found in (
        {"open_surges": 1, "surge_severity": 0.0, "surge_reach": 0},
        {"open_past_sla": 3, "oldest_past_sla_at": NOW},
        {"open_silences": 1, "silence_summary": "Gemeente Zutphen: silent"},
        {"mentions_since_post": 5, "last_mention_at": NOW, "last_post_at":
         NOW - timedelta(hours=2)},
    ):
        need = urgency(found, AMSTERDAM, NOW)
        assert need.score > 0 and len(need.reasons) == 1, (found, need)


def test_urgency_orders_a_surge_before_a_long_queue_before_silence() -> None:
    surge = urgency({"open_surges": 1, "surge_severity": 3.2, "surge_reach": 10},
                    AMSTERDAM, NOW)
    queue = urgency({"open_past_sla": 500, "oldest_past_sla_at": NOW - timedelta(days=6)},
                    AMSTERDAM, NOW)
    silent = urgency({"mentions_since_post": 80, "last_mention_at": NOW,
                      "last_post_at": NOW - timedelta(days=7)}, AMSTERDAM, NOW)
    assert surge.score > queue.score > silent.score > 0
    assert (queue.queue, silent.silence) == (30.0, 15.0)  # each part has its ceiling
    both = urgency({"open_surges": 1, "surge_severity": 3.2, "surge_reach": 10,
                    "open_past_sla": 500, "oldest_past_sla_at": NOW - timedelta(days=6)},
                   AMSTERDAM, NOW)
    assert both.score == round(surge.score + queue.score, 1) and len(both.reasons) == 2


def test_surge_points_grow_with_severity_and_reach() -> None:
    assert surge_points(0.0, 0) == 25.0
    assert surge_points(10.0, 0) == 50.0
    assert surge_points(10.0, 99_999) == 55.0
    assert surge_points(10.0, 10**19) == 55.0  # reach counts at most 5
    assert surge_points(2.1, 0) > queue_points(10**6, 10**9)  # any real surge comes first
    assert surge_points(5.0, 1000) > surge_points(5.0, 10) > surge_points(4.0, 10)


def test_queue_points_count_the_waiting_and_how_long_past_the_sla() -> None:
    assert queue_points(0, 99 * 3600) == 0.0
    assert queue_points(1, 0) == 3.0
    assert queue_points(7, 0) == 9.0
    assert queue_points(1, 3 * 3600) == 9.0
    assert queue_points(31, 31 * 3600) == queue_points(1000, 1000 * 3600) == 30.0
    # A morning of many clients with a night's queue: the longer one still ranks higher.
    assert queue_points(334, 23 * 3600) > queue_points(301, 16 * 3600) > queue_points(
        10, 15 * 3600)


def test_silence_counts_business_hours_only_and_needs_mentions_still_coming() -> None:
    friday_evening = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)  # 17:00 in Amsterdam
    monday = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam (summer time)
    found = {"mentions_since_post": 30, "last_mention_at": monday - timedelta(minutes=5),
             "last_post_at": friday_evening}
    # A weekend without posts is one business hour (Monday 09:00-10:00): not silent.
    assert silent_for(found, AMSTERDAM, monday) is None
    later = monday + timedelta(hours=3)
    found["last_mention_at"] = later - timedelta(minutes=5)
    assert silent_for(found, AMSTERDAM, later) == 4 * 3600
    need = urgency(found, AMSTERDAM, later)
    assert need.silence == 12.5
    assert need.reasons == ("no post for 4 h of business hours, while 30 mentions came in",)
    # Mentions that stopped coming, or too few of them, are no silence.
    assert silent_for({**found, "last_mention_at": later - timedelta(hours=2)},
                      AMSTERDAM, later) is None
    assert silent_for({**found, "mentions_since_post": 4}, AMSTERDAM, later) is None


def test_a_silent_org_alert_counts_as_silence() -> None:
    need = urgency({"open_silences": 1, "silence_summary":
                    "Gemeente Zutphen: no post for 6 h while 50 mentions came in"},
                   AMSTERDAM, NOW)
    assert need.silence == 10.0
    assert need.reasons == ("silent (alert): no post for 6 h while 50 mentions came in",)


def test_a_silent_org_alert_waits_for_the_clients_business_hours() -> None:
    # The alert counts calendar time: a client closed at weekends that last posted on
    # Friday afternoon has one on Saturday, but nobody needs to act on it before Monday.
    friday = datetime(2026, 3, 27, 15, 30, tzinfo=UTC)  # 16:30 in Amsterdam, open till 17
    found = {"open_silences": 1, "silence_summary": "Gemeente Zutphen: no post since Friday",
             "last_post_at": friday}
    saturday = datetime(2026, 3, 28, 16, 0, tzinfo=UTC)
    assert urgency(found, AMSTERDAM, saturday) == urgency({}, AMSTERDAM, saturday)
    monday_early = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00: 1 h 30 min of business
    assert urgency(found, AMSTERDAM, monday_early).silence == 0.0
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # 11:00: 2 h 30 min
    assert urgency(found, AMSTERDAM, monday).silence == 10.0


# -- how values look ---------------------------------------------------------------------


def test_times_show_the_wall_clock_of_a_zone_without_an_offset() -> None:
    assert local_time(NOW, "Europe/Amsterdam") == "2026-03-25 13:00"
    assert local_time(None, "UTC") == NO_VALUE == "–"
    frame = pl.DataFrame({"t": [NOW, None]}, schema={"t": pl.Datetime("ms", "UTC")})
    assert times_in_zone(frame, ("t",), "America/New_York")["t"].to_list() == [
        "2026-03-25 08:00", None]
    wall = wall_clock(frame, ("t",), "Europe/Amsterdam")["t"]
    assert wall.dtype == pl.Datetime("ms") and wall[0] == datetime(2026, 3, 25, 13, 0)


def test_counts_severities_and_alert_figures_read_as_people_say_them() -> None:
    assert (count(896037), count(None)) == ("896,037", "–")
    assert (severity(5), severity(5.47), severity(None)) == ("5.0", "5.5", "–")
    assert (share(0.314), share(None)) == ("31%", "–")
    assert alert_figure("sla_breach", 5400.0) == "1 h 30 min business"
    assert alert_figure("silent_org", 3 * 86400 + 7200.0) == "3 d 2 h"  # without a post
    assert alert_figure("complaint_surge", 25.0) == "25 complaints"
    assert alert_figure("complaint_surge", 4.35) == "4.3 complaints"
    assert alert_kind("sla_breach") == "SLA breach"
    assert alert_kind("silent_org") == "silent client"
    assert alert_kind("new_kind") == "new kind"
    assert opening_hours(ROSTER.org("gemeente-zutphen").business_hours) == (
        "Mon–Fri 09:00-17:00")


def test_the_sla_note_explains_the_two_clocks_and_the_two_shares() -> None:
    summary = {"answered": 70, "within_sla": 45, "breached": 35}
    note = sla_explanation(summary, ROSTER.org("gemeente-zutphen"))
    assert "counts only the client's business hours (Mon–Fri 09:00-17:00, " \
           "Europe/Amsterdam)" in note
    # 25 answered late of 35 late: 10 never answered, which the per-responder shares omit.
    assert "45 answered in time out of 80, where 10 of the 35 late ones are still not " \
           "answered" in note
    always = parse_roster({"orgs": [{"id": "airline", "name": "Airline", "business_hours": {
        d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}]})
    note = sla_explanation(summary, always.org("airline"))
    assert "the whole week: both clocks run alike" in note and "closing time" not in note


@pytest.mark.parametrize(("span", "label"), [
    (3600, "%H:%M"), (86400, "%H:%M"), (7 * 86400, "%a %d %b"), (30 * 86400, "%d %b"),
    (90 * 86400, "%b %Y"), (3 * 365 * 86400, "%Y"),
])
def test_time_axes_label_by_the_span(span: float, label: str) -> None:
    assert time_axis(span).format == label


# -- time ------------------------------------------------------------------------------


def test_local_midnight_follows_the_organisations_time_zone_across_dst() -> None:
    # 29 March 2026: Amsterdam moves from UTC+1 to UTC+2.
    assert local_midnight(datetime(2026, 3, 28, 12, tzinfo=UTC), "Europe/Amsterdam") == (
        datetime(2026, 3, 27, 23, tzinfo=UTC))
    assert local_midnight(datetime(2026, 3, 30, 12, tzinfo=UTC), "Europe/Amsterdam") == (
        datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert local_midnight(datetime(2026, 3, 25, 3, tzinfo=UTC), "America/New_York") == (
        datetime(2026, 3, 24, 4, tzinfo=UTC))


def test_day_starts_list_the_roster_and_default_the_rest() -> None:
    days = DashboardData(RecordingReader(), ROSTER).day_starts(NOW)
    assert days["day_orgs"] == ["gemeente-zutphen", "harbor-museum"]
    assert days["day_starts"] == [datetime(2026, 3, 24, 23, tzinfo=UTC),
                                  datetime(2026, 3, 25, 4, tzinfo=UTC)]
    assert days["default_day_start"] == datetime(2026, 3, 25, tzinfo=UTC)


def test_bucket_sizes_keep_charts_readable() -> None:
    assert bucket_for(3600) == 60
    assert bucket_for(86400) == 900
    assert bucket_for(7 * 86400) == 3600
    assert bucket_for(90 * 86400) == 12 * 3600
    assert bucket_for(180 * 86400) == 86400
    assert bucket_for(50 * 365 * 86400) == BUCKET_SIZES[-1]


def test_windows_end_just_after_the_watermark_and_buckets_cover_them() -> None:
    window = window_until(NOW, timedelta(days=1))
    assert window.end == NOW + timedelta(milliseconds=1)
    assert window.start == window.end - timedelta(days=1)
    buckets = window.buckets()
    assert buckets[0] <= window.start < buckets[0] + timedelta(seconds=window.bucket_seconds)
    assert buckets[-1] <= NOW
    assert len(buckets) == 97  # 96 quarter hours, the first one partly before the start


def test_range_presets_and_dates() -> None:
    assert pick_window("24 hours", NOW, None).start == NOW + timedelta(milliseconds=1) - (
        timedelta(days=1))
    everything = pick_window("All", NOW, (NOW - timedelta(days=40), NOW))
    assert everything.start <= NOW - timedelta(days=40)
    chosen = pick_window(CUSTOM, NOW, None, (date(2026, 3, 1), date(2026, 3, 2)))
    assert (chosen.start, chosen.end) == (datetime(2026, 3, 1, tzinfo=UTC),
                                          datetime(2026, 3, 3, tzinfo=UTC))
    assert isinstance(chosen, Window)


def test_format_seconds_reads_like_speech() -> None:
    assert [format_seconds(s) for s in (None, 42, 600, 3600, 3 * 3600 + 20 * 60,
                                        2 * 86400 + 4 * 3600)] == [
        "–", "42 s", "10 min", "1 h", "3 h 20 min", "2 d 4 h"]


def test_downloads_keep_every_row_and_nested_values() -> None:
    result = pa.table({
        "alert_id": ["a", "b"],
        "sample_event_ids": pa.array([["m1", "m2"], []], pa.list_(pa.string())),
        "opened_at": pa.array([NOW, NOW], pa.timestamp("ms", "UTC")),
    })
    lines = csv_bytes(result).decode().splitlines()
    assert lines[0] == "alert_id,sample_event_ids,opened_at"
    assert len(lines) == 3 and "m1" in lines[1] and "m2" in lines[1]
    assert pq.read_table(pa.BufferReader(parquet_bytes(result))).equals(result)


def test_activity_is_zero_filled_without_dropping_any_bucket() -> None:
    window = Window(NOW - timedelta(hours=3), NOW, 3600)
    found = pa.table({
        "bucket": pa.array([NOW - timedelta(hours=2), NOW - timedelta(minutes=90)],
                           pa.timestamp("ms", "UTC")),
        "mentions": pa.array([5, 7], pa.uint64()), "complaints": pa.array([1, 0], pa.uint64()),
        "shares": pa.array([0, 1], pa.uint64()), "potential_reach": pa.array([10, 20], pa.uint64()),
    })
    activity = DashboardData(RecordingReader(found), ROSTER).client_activity("x", window)
    assert activity["mentions"].to_list() == [0, 5, 7, 0]  # an off-grid bucket is kept too
    assert activity["bucket"].to_list()[0] == NOW - timedelta(hours=3)
    assert activity["mentions"].sum() == 12
