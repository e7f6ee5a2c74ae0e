"""The benchmark's big warehouse is the real one, copied back in time.

A real worker fills an embedded warehouse from the sample events through the broker;
with the worker stopped, `python -m bench.dashboard grow` makes it five times
as big (the way `dorpspomp bench` does), and the result is checked the way the dashboard
would see it: every public table five times as big, ids unique, replies still pointing
at their (copied) mentions, the pipeline's own rows and the watermark unchanged, each
organisation's share as before. Then the worker runs on the grown warehouse and the
benchmark's timers give a figure for every dashboard query and every page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bench import dashboard as bench
from dashboard import queries
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "examples" / "sample-events.jsonl"
TIMES = 5


def snapshot(settings: Settings, since: Any = None) -> dict[str, Any]:
    """What the grow must keep or multiply, read straight from the (unowned) warehouse."""
    warehouse = Warehouse(settings)
    try:
        client = warehouse.client

        def one(sql: str, **parameters: Any) -> Any:
            return client.query(sql, parameters=parameters or None).result_rows[0][0]

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in client.query(sql).result_rows]

        first = since or one("SELECT min(created_at) FROM dorpspomp.mentions")
        return {
            "first": first,
            "counts": {t: one(f"SELECT count() FROM dorpspomp.{t}")
                       for t in ("mentions", "posts", "mention_responses", "alerts")},
            "unique": {
                "mentions": one("SELECT uniqExact(event_id) FROM dorpspomp.mentions"),
                "posts": one("SELECT uniqExact(event_id) FROM dorpspomp.posts"),
                "mention_responses": one(
                    "SELECT uniqExact(org_id, mention_id) FROM dorpspomp.mention_responses"),
                "alerts": one("SELECT uniqExact(alert_id) FROM dorpspomp.alerts"),
            },
            # The states the view reads (fed by a materialized view) cover every state.
            "states": one("SELECT uniqExact(org_id, mention_id) "
                          "FROM dorpspomp.mention_responses_state"),
            "newest": rows("SELECT (SELECT max(created_at) FROM dorpspomp.mentions), "
                           "(SELECT max(created_at) FROM dorpspomp.posts)"),
            "watermark": one("SELECT max(value) FROM dorpspomp.watermarks"),
            # The pipeline's own rows, as a checksum: the copies are all older.
            "own": [rows(
                f"SELECT count(), sum(cityHash64({columns})) FROM dorpspomp.{table} "
                f"WHERE created_at >= toDateTime64('{first}', 3, 'UTC')")
                for table, columns in (
                    ("mentions", "event_id, text, author_id"),
                    ("mention_responses", "mention_id, status, ifNull(first_response_id, '')"))],
            "shares": dict(rows("SELECT org_id, count() / (SELECT count() FROM "
                                "dorpspomp.mentions) FROM dorpspomp.mentions GROUP BY org_id")),
            "foreign_answers": one(
                "SELECT count() FROM dorpspomp.mention_responses "
                "WHERE first_response_id IS NOT NULL AND "
                "splitByChar('~', mention_id)[2] != splitByChar('~', first_response_id)[2]"),
            "answered_by_a_post": one(
                "SELECT count() FROM dorpspomp.mention_responses "
                "WHERE first_response_id IN (SELECT event_id FROM dorpspomp.posts)"),
            "answered": one("SELECT countIf(status = 'answered') "
                            "FROM dorpspomp.mention_responses"),
        }
    finally:
        warehouse.close()


@dataclass
class Grown:
    stack: Stack
    settings: Settings
    before: dict[str, Any]
    after: dict[str, Any]
    report: dict[str, Any]
    spans: dict[str, int]


def spans(settings: Settings) -> dict[str, int]:
    """Mentions per organisation as the One client page reads them (client_span)."""
    data = bench.dashboard_data(settings)
    out = {}
    for org in data.orgs():
        span = data.run(queries.CLIENT_SPAN, org_id=org).row(0, named=True)
        out[org] = int(span["mentions"])
    return out


@pytest.fixture(scope="module")
def grown(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grown]:
    home = tmp_path_factory.mktemp("grow")
    stack = Stack.fresh("g", home / "home", kafka_broker.bootstrap)
    settings = Settings.from_env(stack.env)
    stack.start_worker()
    try:
        stack.cli("replay", str(SAMPLE), "--quiet")
        stack.wait_caught_up()
        spans_before = spans(settings)
        stack.stop_worker()
        before = snapshot(settings)
        grow = subprocess.run(
            [sys.executable, "-m", "bench.dashboard", "grow",
             "--warehouse", settings.warehouse,
             "--mentions", str(TIMES * before["counts"]["mentions"])],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        assert grow.returncode == 0, grow.stderr[-3000:]
        report = json.loads(grow.stdout.strip().splitlines()[-1])
        after = snapshot(settings, since=before["first"])
        stack.start_worker()
        yield Grown(stack, settings, before, after, report, spans_before)
    finally:
        stack.stop_worker()


def test_grow_copies_every_table_back_in_time(grown: Grown) -> None:
    before, after, report = grown.before, grown.after, grown.report
    assert before["answered"] > 0 and before["counts"]["alerts"] > 0

    assert report["copies"] == TIMES - 1
    assert report["shift_days"] % 7 == 0  # weekdays and hours stay what they were
    assert report["merged_partitions"] > 0
    assert after["counts"] == {t: TIMES * n for t, n in before["counts"].items()}
    assert report["rows"]["mentions"] == after["counts"]["mentions"]
    assert after["unique"] == after["counts"]  # every id once
    assert after["states"] == after["counts"]["mention_responses"]
    # "Now" does not move, and the pipeline's own rows are as they were.
    assert after["newest"] == before["newest"]
    assert after["watermark"] == before["watermark"]
    assert after["own"] == before["own"]
    for org, share in before["shares"].items():
        assert after["shares"][org] == pytest.approx(share)
    # A copied answer names the copied post of its own copy, and that post exists.
    assert after["foreign_answers"] == 0
    assert after["answered_by_a_post"] == TIMES * before["answered_by_a_post"]
    assert after["answered"] == TIMES * before["answered"]


def test_the_dashboard_sees_every_client_five_times_over(grown: Grown) -> None:
    assert spans(grown.settings) == {org: TIMES * n for org, n in grown.spans.items()}


def test_every_query_and_every_page_gets_a_figure(grown: Grown) -> None:
    data = bench.dashboard_data(grown.settings)
    timed = bench.time_queries(data, runs=2)
    assert list(timed) == [q.name for q in queries.ALL_QUERIES]
    for name, figure in timed.items():
        assert figure["runs"] >= 2, name
        assert 0 < figure["p50_ms"] <= figure["p95_ms"] <= figure["max_ms"], name
        assert figure["rows"] is not None, name
    assert timed["known_orgs"]["rows"] == sum(1 for n in grown.spans.values() if n)
    assert timed["alerts_list"]["rows"] > 0 and timed["alert_samples"]["rows"] > 0

    pages = bench.time_pages(data, runs=1)
    assert list(pages) == list(bench.PAGES)
    for page, figure in pages.items():
        assert figure["ok"], (page, figure["problems"])
        assert figure["p50_seconds"] > 0 and figure["max_seconds"] >= figure["p50_seconds"]
