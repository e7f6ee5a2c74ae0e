"""The stream processors behind the ingest step: responses, escalation, clocks.

Each batch's *new* events (the sink has already dropped duplicates) go to the
response tracker (`pipelines.responses`) and the surge detector
(`pipelines.escalation`). Both keep their state in memory and are driven by
per-partition event-time clocks, so their output depends on the events and on
each partition's order only — not on batch sizes, replay speed or restarts.

After a restart the state is rebuilt from the warehouse (`restore`): the
mentions and replies of the last answer window, and the per-minute complaint
history. Everything they emit is a deterministic function of those events, so
rows and alert states written again are identical to the ones written before
(the `*_state` tables keep one row per key and version).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from pipelines.decode import Mention, Post, Source
from pipelines.escalation import SurgeDetector
from pipelines.responses import ResponseTracker
from pipelines.roster import Roster
from pipelines.sink import Derived, IngestBatch, WriteResult
from pipelines.warehouse import Warehouse

log = logging.getLogger(__name__)

HISTORY_FOR_BASELINES = timedelta(weeks=5)


class StreamProcessors:
    """Responses and escalation for one worker's partitions."""

    def __init__(self, roster: Roster, lateness_seconds: int) -> None:
        self.roster = roster
        self.lateness = lateness_seconds
        self.tracker = ResponseTracker(roster, lateness_seconds)
        self.detector = SurgeDetector(roster)
        self.clocks: dict[int, datetime] = {}
        self.watermark: datetime | None = None

    def advance_clocks(self, batch: IngestBatch) -> bool:
        """Move each partition's clock to the newest event time read; True if the
        global watermark moved. Every valid event counts, duplicates included:
        they were read, whoever wrote them first."""
        clocks = self.clocks
        events: list[Mention | Post] = [*batch.mentions, *batch.posts]
        for event in events:
            partition = event.source.partition
            current = clocks.get(partition)
            if current is None or event.created_at > current:
                clocks[partition] = event.created_at
        newest = max(clocks.values(), default=None)
        if newest is not None and (self.watermark is None or newest > self.watermark):
            self.watermark = newest
            return True
        return False

    def process(self, batch: IngestBatch, result: WriteResult) -> Derived:
        moved = self.advance_clocks(batch)
        tracked = self.tracker.process(result.mentions, result.posts, self.clocks)
        surges = self.detector.process(result.mentions, self.clocks)
        return Derived(
            rows=tracked.rows,
            alerts=[*tracked.alerts, *surges],
            watermark=self.watermark if moved else None,
        )

    # -- restart ----------------------------------------------------------------

    def restore(self, warehouse: Warehouse, topic: str) -> Derived:
        """Rebuild the state from the warehouse; returns what it re-emits."""
        clocks = partition_clocks(warehouse)
        if not clocks:
            return Derived()
        self.clocks = dict(clocks)
        self.watermark = max(clocks.values())
        window = max([self.roster.defaults.answer_window,
                      *(org.answer_window for org in self.roster.orgs.values())])
        horizon = min(clocks.values()) - timedelta(seconds=window + self.lateness)
        mentions = load_mentions(warehouse, topic, horizon)
        posts = load_posts(warehouse, topic, horizon - timedelta(seconds=self.lateness))
        tracked = self.tracker.process(mentions, posts, self.clocks)
        history = complaint_history(warehouse, self.watermark - HISTORY_FOR_BASELINES)
        self.detector.load_history(history)
        log.info("restored state: %d open mentions, %d early replies, %d organisations with "
                 "complaint history", self.tracker.open_mentions, self.tracker.orphan_posts,
                 self.detector.tracked_orgs)
        return Derived(rows=tracked.rows, alerts=tracked.alerts, watermark=self.watermark)


def partition_clocks(warehouse: Warehouse) -> dict[int, datetime]:
    table = warehouse.client.query_arrow(
        f"SELECT source_partition AS p, max(created_at) AS t FROM ("
        f"SELECT source_partition, created_at FROM {warehouse.table('mentions')} UNION ALL "
        f"SELECT source_partition, created_at FROM {warehouse.table('posts')}) GROUP BY p"
    )
    return {int(p): _utc(t) for p, t in zip(table.column("p").to_pylist(),
                                             table.column("t").to_pylist(), strict=True)}


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _rows(table: pa.Table) -> Iterable[dict[str, Any]]:
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for i in range(table.num_rows):
        yield {name: values[i] for name, values in columns.items()}


def load_mentions(warehouse: Warehouse, topic: str, since: datetime) -> list[Mention]:
    table = warehouse.client.query_arrow(
        f"SELECT * FROM {warehouse.table('mentions')} WHERE created_at >= {{since:DateTime64(3)}} "
        "AND kind != 'share' ORDER BY source_partition, source_offset",
        parameters={"since": since},
    )
    return [
        Mention(
            org_id=r["org_id"], event_id=r["event_id"], platform=r["platform"],
            created_at=_utc(r["created_at"]), author_id=r["author_id"],
            author_handle=r["author_handle"], author_followers=r["author_followers"],
            author_verified=bool(r["author_verified"]), kind=r["kind"], text=r["text"],
            lang=r["lang"], in_reply_to=r["in_reply_to"], shared_from=r["shared_from"],
            sentiment=r["sentiment"], complaint=r["complaint"],
            source=Source(topic, r["source_partition"], r["source_offset"]),
            labels_source=r["labels_source"],
        )
        for r in _rows(table)
    ]


def load_posts(warehouse: Warehouse, topic: str, since: datetime) -> list[Post]:
    table = warehouse.client.query_arrow(
        f"SELECT * FROM {warehouse.table('posts')} WHERE created_at >= {{since:DateTime64(3)}} "
        "AND in_reply_to IS NOT NULL ORDER BY source_partition, source_offset",
        parameters={"since": since},
    )
    return [
        Post(
            org_id=r["org_id"], event_id=r["event_id"], platform=r["platform"],
            created_at=_utc(r["created_at"]), account_id=r["account_id"],
            account_handle=r["account_handle"], account_role=r["account_role"],
            account_followers=r["account_followers"], kind=r["kind"],
            in_reply_to=r["in_reply_to"], text=r["text"], org_source=r["org_source"],
            source=Source(topic, r["source_partition"], r["source_offset"]),
        )
        for r in _rows(table)
    ]


def complaint_history(
    warehouse: Warehouse, since: datetime
) -> Sequence[tuple[str, datetime, int, int]]:
    """(org_id, minute, complaints, summed followers of the distinct complaining authors)."""
    table = warehouse.client.query_arrow(
        "SELECT org_id, minute, sum(n) AS complaints, sum(followers) AS reach FROM ("
        "SELECT org_id, toDateTime64(toStartOfMinute(created_at), 3, 'UTC') AS minute, "
        "author_id, count() AS n, "
        f"max(author_followers) AS followers FROM {warehouse.table('mentions')} "
        "WHERE complaint AND created_at >= {since:DateTime64(3)} "
        "GROUP BY org_id, minute, author_id) GROUP BY org_id, minute ORDER BY minute, org_id",
        parameters={"since": since},
    )
    return [
        (org, _utc(minute), int(n), int(reach))
        for org, minute, n, reach in zip(
            table.column("org_id").to_pylist(), table.column("minute").to_pylist(),
            table.column("complaints").to_pylist(), table.column("reach").to_pylist(),
            strict=True,
        )
    ]
