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
from dashboard.data import (
    DashboardData,
    DashboardReader,
    DataUnavailable,
    QueryFailed,
    Scope,
    sql_time,
)
from dashboard.figures import (
    BUCKET_SIZES,
    Window,
    attention,
    bucket_for,
    build_overview,
    format_seconds,
    local_midnight,
    window_until,
)
from dashboard.pages.client import CUSTOM, pick_window
from dashboard.pages.sql import csv_bytes, parquet_bytes
from pipelines.roster import parse_roster
from pipelines.settings import Settings
from pipelines.sqlguard import ForbiddenQuery, check_read_only
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
             "oldest_open_at": NOW - timedelta(hours=3), "open_past_sla": 2,
             "median_response_today": 1800.0, "within_sla_today": 6, "sla_due_today": 8},
        ]),
        alerts=_frame([{"org_id": "harbor-museum", "open_alerts": 1, "open_surges": 1}]),
    )
    assert overview["org_id"].to_list() == ["harbor-museum", "gemeente-zutphen", "unlisted"]
    zutphen = overview.row(1, named=True)
    assert zutphen["name"] == "Gemeente Zutphen"
    assert zutphen["usual_last_hour"] == 5.0
    assert zutphen["complaint_share"] == 0.25
    assert zutphen["oldest_open_seconds"] == 3 * 3600
    assert zutphen["within_sla_share"] == 0.75
    assert zutphen["reach_today"] == 999
    assert "2 open past SLA" in zutphen["why"] and "6.0× the usual volume" in zutphen["why"]
    unlisted = overview.row(2, named=True)
    assert unlisted["name"] == "unlisted"
    assert unlisted["usual_last_hour"] is None  # no earlier day to compare with
    assert unlisted["complaint_share"] == 0.0
    assert unlisted["median_response_today"] is None


def test_attention_order_surge_then_sla_then_volume() -> None:
    surge, _ = attention({"open_surges": 1, "open_alerts": 1}, sla_seconds=3600)
    late, _ = attention({"open_past_sla": 50, "oldest_open_seconds": 40 * 3600},
                        sla_seconds=3600)
    busy, why = attention({"mentions_last_hour": 100, "usual_last_hour": 2.0},
                          sla_seconds=3600)
    calm, nothing = attention({"mentions_last_hour": 3, "usual_last_hour": 3.0},
                              sla_seconds=3600)
    assert surge > late > busy > calm == 0
    assert why == ["50.0× the usual volume"]
    assert nothing == []


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
