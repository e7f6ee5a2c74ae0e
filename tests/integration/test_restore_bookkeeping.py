"""A restart reads each partition's clock from the offsets the worker recorded
(`ingest_offsets.clock_at`, migration 0007) instead of scanning every stored event, and
restores the same state from a warehouse whose offsets were recorded before that column
existed.

Runs the ingest processor in this process against a real embedded warehouse (no Kafka:
the messages carry their partition, offset and Kafka timestamp as the consumer gives them).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.commands.replay import message_key
from pipelines.ingest.decode import CLOCK_SKEW
from pipelines.ingest.worker import IngestProcessor
from pipelines.roster import load_roster
from pipelines.settings import Settings
from pipelines.textmodel.classify import load_classifier
from pipelines.warehouse import Warehouse
from schemas.migrations import all_migrations
from tests import eventgen
from tests.integration.harness import ROOT

pytestmark = pytest.mark.integration

PARTITIONS = 3
TOPIC = Settings.from_env({}).events_topic
START = datetime(2026, 11, 2, tzinfo=UTC)


def settings_for(home: Path) -> Settings:
    return Settings.from_env({"DORPSPOMP_HOME": str(home),
                              "DORPSPOMP_ROSTER": str(ROOT / "examples/roster.yaml")})


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse(settings_for(tmp_path))
    warehouse.migrate()
    yield warehouse
    warehouse.close()


def new_processor(warehouse: Warehouse) -> IngestProcessor:
    settings = warehouse.settings
    return IngestProcessor(settings, warehouse, load_roster(settings.roster), load_classifier())


def batches(count: int, *, keyed: bool = False,
            ) -> list[tuple[list[tuple[int, int, bytes]], list[float]]]:
    """The conversations of `eventgen` over three partitions, in `count` batches, as Kafka
    received them now (their events are older). `keyed`: each on its organisation's
    partition, as `dorpspomp replay` sends them (else round the partitions, so that a reply
    may be read on another partition than its mention)."""
    lines = eventgen.conversations(900, seed=12, days=6, start=START)
    roster = load_roster(ROOT / "examples/roster.yaml")
    offsets = [0] * PARTITIONS
    received = datetime.now(UTC).timestamp()
    messages: list[tuple[int, int, bytes]] = []
    stamps: list[float] = []
    for i, line in enumerate(lines):
        key = message_key(line, roster) if keyed else None
        partition = zlib.crc32(key) % PARTITIONS if key is not None else i % PARTITIONS
        messages.append((partition, offsets[partition], line))
        offsets[partition] += 1
        stamps.append(received)
    size = -(-len(messages) // count)
    return [(messages[i:i + size], stamps[i:i + size]) for i in range(0, len(messages), size)]


def recorded_clocks(warehouse: Warehouse) -> dict[int, Any]:
    rows = warehouse.client.query(
        "SELECT partition, argMax(clock_at, next_offset) FROM dorpspomp.ingest_offsets "
        "GROUP BY partition").result_rows
    return {int(p): c for p, c in rows}


def scanned_clocks(warehouse: Warehouse) -> dict[int, Any]:
    """Each partition's newest clock time (`decode.clock_time`) over every stored event."""
    skew = CLOCK_SKEW // timedelta(milliseconds=1)
    rows = warehouse.client.query(
        "SELECT source_partition, max(least(created_at, kafka_timestamp + "
        f"toIntervalMillisecond({skew}))) FROM (SELECT source_partition, created_at, "
        "kafka_timestamp FROM dorpspomp.mentions UNION ALL SELECT source_partition, "
        "created_at, kafka_timestamp FROM dorpspomp.posts) GROUP BY source_partition"
    ).result_rows
    return {int(p): c for p, c in rows}


def restored(warehouse: Warehouse) -> dict[str, Any]:
    """A restarted worker's state."""
    processor = new_processor(warehouse)
    derived = processor.restore()
    state = {
        "clocks": dict(processor.processors.clocks),
        "offset_clocks": dict(processor.processors.offset_clocks),
        "watermark": processor.processors.watermark,
        "open": processor.processors.tracker.open_mentions,
        "early_replies": processor.processors.tracker.orphan_posts,
        "alerts": sorted(a.delivery_key for a in derived.alerts),
    }
    return state


def test_offsets_carry_each_partitions_clock_and_a_restart_without_them_agrees(
        warehouse: Warehouse) -> None:
    work = batches(4)
    processor = new_processor(warehouse)
    for messages, stamps in work[:-1]:
        processor.process(TOPIC, messages, stamps)
    # What a user can check: each partition's recorded clock is its newest event's clock.
    assert recorded_clocks(warehouse) == scanned_clocks(warehouse)
    assert len(recorded_clocks(warehouse)) == PARTITIONS

    with_clocks = restored(warehouse)
    assert with_clocks["clocks"] == with_clocks["offset_clocks"]
    assert with_clocks["open"] > 0

    # The same warehouse as a worker from before migration 0007 left it: no clock recorded.
    warehouse.client.command("ALTER TABLE dorpspomp.ingest_offsets UPDATE clock_at = NULL "
                             "WHERE 1 SETTINGS mutations_sync = 1")
    assert set(recorded_clocks(warehouse).values()) == {None}
    without = restored(warehouse)
    assert without == with_clocks

    # Both go on to the same response rows as a worker that never stopped.
    def rows_after_last_batch(home_warehouse: Warehouse) -> list[tuple]:
        return home_warehouse.client.query(
            "SELECT * FROM dorpspomp.mention_responses ORDER BY mention_id").result_rows

    resumed = new_processor(warehouse)
    resumed.restore()
    resumed.process(TOPIC, *work[-1])
    assert recorded_clocks(warehouse) == scanned_clocks(warehouse)
    after_restart = rows_after_last_batch(warehouse)

    warehouse.client.command("DROP DATABASE dorpspomp SYNC")
    warehouse.migrate()
    clean = new_processor(warehouse)
    for messages, stamps in work:
        clean.process(TOPIC, messages, stamps)
    assert after_restart == rows_after_last_batch(warehouse)
    assert len(after_restart) > 300


def test_a_warehouse_made_before_the_clock_column_opens_and_reads_it_as_unknown(
        tmp_path: Path) -> None:
    warehouse = Warehouse(settings_for(tmp_path))
    try:
        before = [m for m in all_migrations() if m.name < "0007"]
        warehouse.migrate(before)
        warehouse.client.insert(
            "dorpspomp.ingest_offsets", [["g", "events", 0, 42, datetime.now(UTC)]],
            column_names=["consumer_group", "topic", "partition", "next_offset", "written_at"])
        assert warehouse.migrate() == [m.name for m in all_migrations() if m not in before]
        assert warehouse.resume_positions("g", "events") == {0: (42, None)}
        assert warehouse.resume_offsets("g", "events") == {0: 42}
        assert warehouse.resume_positions("new", "events") == {0: (42, None)}
    finally:
        warehouse.close()


def test_alert_states_a_write_cut_short_kept_from_the_alerts_view_return_at_restart(
        warehouse: Warehouse) -> None:
    """A worker killed while its alert states were being inserted can leave them in
    `alerts_state` without their copy in `alerts_by_time`, which the `alerts` view reads:
    ClickHouse stores an insert's part in the table before it pushes the rows through the
    table's materialized view (a chDB process killed in between kept the table's rows and
    none of the view's). Here the last write's copies are taken away, as such a kill leaves
    them; the restart copies them back."""
    def shown() -> list[tuple[Any, ...]]:
        return warehouse.client.query(
            "SELECT alert_id, version, status, updated_at FROM dorpspomp.alerts "
            "ORDER BY alert_id").result_rows

    processor = new_processor(warehouse)
    for messages, stamps in batches(3, keyed=True):
        _, derived = processor.process(TOPIC, messages, stamps)
    last_write = [(a.alert_id, a.version) for a in derived.alerts]
    assert last_write, "the last write must carry alert states"
    complete = shown()

    warehouse.client.command(
        "ALTER TABLE dorpspomp.alerts_by_time DELETE WHERE (alert_id, version) IN "
        "{states:Array(Tuple(String, UInt32))} SETTINGS mutations_sync = 1",
        parameters={"states": last_write})
    assert shown() != complete

    new_processor(warehouse).restore()
    assert shown() == complete


def test_response_rows_a_write_cut_short_kept_from_their_view_return_at_restart(
        warehouse: Warehouse) -> None:
    """The same cut for `mention_responses_state` and its copy by time, which the
    `mention_responses` view reads: the restart writes the response rows of every event
    after the recorded offsets again, the last write's among them."""
    def shown() -> list[tuple[Any, ...]]:
        return warehouse.client.query(
            "SELECT * FROM dorpspomp.mention_responses ORDER BY mention_id").result_rows

    processor = new_processor(warehouse)
    work = batches(3, keyed=True)
    for messages, stamps in work[:-1]:
        processor.process(TOPIC, messages, stamps)
    # the last write stores its rows and their copies, but dies before its offsets
    batch = processor.build_batch(TOPIC, *work[-1])
    new = processor.sink.new_events(batch)
    processor.sink.insert_events(new)
    derived = processor.processors.process(batch, new.result)
    processor.sink.write_derived(derived)
    complete = shown()
    rows = derived.rows
    assert isinstance(rows, pa.Table) and rows.num_rows
    warehouse.client.command(
        "ALTER TABLE dorpspomp.mention_responses_by_time DELETE WHERE (mention_id, version) IN "
        "{rows:Array(Tuple(String, UInt32))} SETTINGS mutations_sync = 1",
        parameters={"rows": list(zip(rows["mention_id"].to_pylist(),
                                     rows["version"].to_pylist(), strict=True))})
    assert shown() != complete

    new_processor(warehouse).restore()
    assert shown() == complete
