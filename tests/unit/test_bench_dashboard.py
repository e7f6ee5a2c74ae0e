"""The dashboard benchmark's own logic: how the warehouse is copied back in time, and that
the timers reach every dashboard statement and every page (with a fake reader)."""

from __future__ import annotations

import re

import pytest

from bench import dashboard as bench
from dashboard import queries
from dashboard.data import DashboardData
from schemas.tables import ALERTS_STATE, MENTIONS
from tests.unit.test_dashboard_ui import ROSTER, FakeReader

DAY = 86_400


def test_a_copy_moves_back_by_whole_weeks_past_the_data() -> None:
    assert bench.copy_span(0, 0) == 7 * DAY
    assert bench.copy_span(0, 7 * DAY - 1) == 7 * DAY
    assert bench.copy_span(0, 7 * DAY) == 14 * DAY  # both ends included: one second more
    assert bench.copy_span(1_000, 1_000 + 20 * DAY) == 21 * DAY


def test_copies_needed_reaches_the_target() -> None:
    assert bench.copies_needed(100, 100) == 0
    assert bench.copies_needed(100, 50) == 0
    assert bench.copies_needed(100, 101) == 1
    assert bench.copies_needed(234_348, 10_000_000) == 42
    with pytest.raises(ValueError):
        bench.copies_needed(0, 10)


def test_a_copy_suffixes_every_id_and_shifts_every_time() -> None:
    grown = next(g for g in bench.GROWN if g.table is MENTIONS)
    sql = bench.copy_select(grown, "dorpspomp", "2026-03-02 00:00:00.000", 7 * DAY, 3)
    select = sql.split(" SELECT ", 1)[1]
    for column in ("event_id", "in_reply_to", "shared_from"):
        assert f"concat(`{column}`, '~3')" in select
    for column in ("created_at", "ingested_at"):
        assert f"`{column}` - toIntervalSecond({3 * 7 * DAY})" in select
    assert "`author_id`," in select  # everything else as it was
    # Only the pipeline's own rows are copied, never an earlier copy.
    assert sql.endswith("WHERE `created_at` >= toDateTime64('2026-03-02 00:00:00.000', 3, 'UTC')")
    assert sql.startswith("INSERT INTO `dorpspomp`.`mentions` (org_id, event_id,")


def test_alert_samples_follow_their_alert_copy() -> None:
    grown = next(g for g in bench.GROWN if g.table is ALERTS_STATE)
    sql = bench.copy_select(grown, "dorpspomp", "2026-03-02 00:00:00.000", 7 * DAY, 1)
    assert "arrayMap(x -> concat(x, '~1'), `sample_event_ids`)" in sql
    assert re.search(r"`opened_at` - toIntervalSecond\(604800\)", sql)
    assert "WHERE `updated_at` >=" in sql


def test_time_queries_times_every_dashboard_statement() -> None:
    reader = FakeReader()
    timed = bench.time_queries(DashboardData(reader, ROSTER), runs=3)
    assert list(timed) == [q.name for q in queries.ALL_QUERIES]
    assert all(f["runs"] >= 3 and f["rows"] is not None for f in timed.values())
    # The One client statements are asked for the biggest client (the fake's ad-hoc answer
    # lists gemeente-zutphen first), over the page's default week ending at the watermark.
    summary = reader.parameters_of(queries.CLIENT_RESPONSE_SUMMARY)[-1]
    assert summary["org_id"] == "gemeente-zutphen"
    assert (summary["start"], summary["end"]) == ("2026-03-18 12:00:00.001",
                                                  "2026-03-25 12:00:00.001")


def test_time_pages_renders_every_page_and_reports_problems() -> None:
    reader = FakeReader()
    pages = bench.time_pages(DashboardData(reader, ROSTER), runs=1, org_id="telecom-west")
    assert list(pages) == list(bench.PAGES)
    assert all(p["ok"] and p["problems"] == [] for p in pages.values()), pages
    # The One client page showed the client asked for, on every render.
    assert {p["org_id"] for p in reader.parameters_of(queries.CLIENT_SPAN)} == {"telecom-west"}

    broken = bench.time_pages(DashboardData(FakeReader(failure=OSError("down")), ROSTER),
                              runs=1, org_id="gemeente-zutphen")
    assert not any(p["ok"] for name, p in broken.items() if name != "sql")
    assert any("down" in problem for problem in broken["clients"]["problems"])
