"""The benchmark's big warehouse is the real one, copied back in time.

A real embedded warehouse is filled by the worker's own ingest step from the sample
events, grown five-fold with `pipelines.bench.dashboard.grow`, and then checked the way
the dashboard would see it: every table five times as big, ids unique, replies still
pointing at their (copied) mentions, the newest data and the watermark unchanged, and
each organisation's share of the mentions as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.bench.dashboard import grow
from pipelines.classify import load_classifier
from pipelines.replay import read_lines
from pipelines.roster import load_roster
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from pipelines.worker import IngestProcessor

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample-events.jsonl"
ROSTER = ROOT / "examples" / "roster.yaml"
TABLES = ("mentions", "posts", "mention_responses_state", "alerts_state")


def snapshot(settings: Settings) -> dict[str, Any]:
    warehouse = Warehouse(settings)
    try:
        client = warehouse.client

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return list(client.query(sql).result_rows)

        return {
            "counts": {t: rows(f"SELECT count() FROM dorpspomp.{t}")[0][0] for t in TABLES},
            "unique": {
                "mentions": rows("SELECT uniqExact(event_id) FROM dorpspomp.mentions")[0][0],
                "posts": rows("SELECT uniqExact(event_id) FROM dorpspomp.posts")[0][0],
                "responses": rows("SELECT uniqExact(org_id, mention_id) "
                                  "FROM dorpspomp.mention_responses_state")[0][0],
            },
            "newest": rows("SELECT max(created_at) FROM dorpspomp.mentions")[0][0],
            "watermark": rows("SELECT max(value) FROM dorpspomp.watermarks")[0][0],
            "shares": dict(rows("SELECT org_id, count() / (SELECT count() FROM "
                                "dorpspomp.mentions) FROM dorpspomp.mentions GROUP BY org_id")),
            "foreign_answers": rows(
                "SELECT count() FROM dorpspomp.mention_responses_state "
                "WHERE first_response_id IS NOT NULL AND "
                "splitByChar('~', mention_id)[2] != splitByChar('~', first_response_id)[2]"
            )[0][0],
            "answered_by_a_post": rows(
                "SELECT count() FROM dorpspomp.mention_responses_state r "
                "WHERE first_response_id IS NOT NULL AND first_response_id IN "
                "(SELECT event_id FROM dorpspomp.posts)")[0][0],
            "answered": rows("SELECT count() FROM dorpspomp.mention_responses_state "
                             "WHERE first_response_id IS NOT NULL")[0][0],
        }
    finally:
        warehouse.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("grow")
    settings = Settings.from_env({}, home=home, roster=ROSTER)
    warehouse = Warehouse(settings)
    try:
        warehouse.migrate()
        processor = IngestProcessor(settings, warehouse, load_roster(ROSTER), load_classifier())
        messages = [(0, offset, line) for offset, line in enumerate(read_lines(SAMPLE))
                    if line.strip()]
        processor.process(settings.events_topic, messages)
    finally:
        warehouse.close()
    yield settings


def test_grow_copies_every_table_back_in_time(warehouse: Settings) -> None:
    before = snapshot(warehouse)
    assert before["counts"]["mentions"] == 351  # the sample's unique valid mentions
    assert before["answered"] > 0 and before["counts"]["alerts_state"] > 0

    report = grow(warehouse.warehouse, mentions=5 * 351)
    after = snapshot(warehouse)

    assert report["copies"] == 4
    assert report["shift_days"] % 7 == 0  # weekdays and hours stay what they were
    assert after["counts"] == {t: 5 * n for t, n in before["counts"].items()}
    assert report["rows"] == after["counts"]
    assert after["unique"] == {k: 5 * n for k, n in before["unique"].items()}
    # "Now" does not move: the copies are all older than the original data.
    assert after["newest"] == before["newest"]
    assert after["watermark"] == before["watermark"]
    for org, share in before["shares"].items():
        assert after["shares"][org] == pytest.approx(share)
    # A copied answer names the copied post of its own copy, and that post exists.
    assert after["foreign_answers"] == 0
    assert after["answered_by_a_post"] == 5 * before["answered_by_a_post"]
