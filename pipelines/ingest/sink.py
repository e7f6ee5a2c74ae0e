"""Batched, idempotent writes of decoded events to the warehouse.

One `write(batch)` per batch (Quix's BatchingSink, Snuba's reduce → write →
commit): duplicates inside the batch and event ids already in the warehouse are
dropped, the rest is inserted as Arrow, and only then are the batch's Kafka
offsets recorded. A worker killed at any point re-reads from the recorded
offsets, and the look-up makes the replayed part a no-op: nothing lost, nothing
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.batch import Derived, IngestBatch, WriteResult, in_set, rows_at
from pipelines.ingest.decode import DeadLetter, Mention, Post
from pipelines.ingest.seenids import SeenIds, digests
from pipelines.processing.alerts import Alert
from pipelines.processing.responses import ResponseRow
from pipelines.warehouse import Warehouse
from schemas.tables import (
    ALERTS_STATE,
    DEAD_LETTERS,
    MENTION_RESPONSES_STATE,
    MENTIONS,
    POSTS,
    WATERMARKS,
    Table,
)

log = logging.getLogger(__name__)

MS_UTC = pa.timestamp("ms", tz="UTC")

UNFINISHED_WRITE_MARGIN = timedelta(days=7)
"""How far before the recorded partition clocks a restart looks for alert states a write
cut short left out of the `alerts` view. The states a write makes are dated at or after
its partitions' clocks before it (surge states by the minute they judge, which follows the
newest clock); the margin is generous because the look costs little (two scans of the
alert tables, which hold states, not events)."""


@dataclass(frozen=True)
class NewEvents:
    """A batch's events that were not stored yet (`result`, what the processors take) and
    its dead letters not stored yet: what `WarehouseSink.insert_events` writes."""

    result: WriteResult
    dead_letters: list[DeadLetter]


class WarehouseSink:
    """Writes ingest batches; safe to call again with the same events."""

    def __init__(self, warehouse: Warehouse, consumer_group: str, *,
                 remember_ids: bool = False) -> None:
        """`remember_ids`: keep the ids already stored in memory (`pipelines.ingest.seenids`; only
        for the embedded warehouse's single writer); without it every batch asks the
        warehouse. The stored ids are read in a thread of their own, from the first batch
        on (13.7 M of them take seconds of CPU, which a starting worker's restore needs more):
        until they are in, batches ask the warehouse, and the ids they add are kept aside to
        join them."""
        self.warehouse = warehouse
        self.consumer_group = consumer_group
        self.seen: SeenIds | None = None
        self._loading: Future[np.ndarray] | None = None
        self._added_while_loading: list[np.ndarray] = []
        self._to_load = remember_ids

    def _remembered(self) -> SeenIds | None:
        """The in-memory ids once they are loaded (None before, and without them); the first
        call starts loading them."""
        if self._to_load:
            self._to_load = False
            loader = ThreadPoolExecutor(1, thread_name_prefix="seen-ids")
            self._loading = loader.submit(lambda: self.warehouse.stored_id_digests())
            loader.shutdown(wait=False)
        if self.seen is None and self._loading is not None and self._loading.done():
            try:
                seen = SeenIds(self._loading.result())
            except Exception as exc:  # the warehouse look-up goes on doing the job
                log.warning("could not load the stored event ids (%s); looking ids up in the "
                            "warehouse per batch instead", exc)
                self._loading = None
                return None
            for keys in self._added_while_loading:
                seen.add_digests(keys)
            self.seen, self._loading, self._added_while_loading = seen, None, []
        return self.seen

    def write(self, batch: IngestBatch) -> WriteResult:
        """Events, then offsets: the whole ingest step for a batch without processors."""
        result = self.write_events(batch)
        self.record_offsets(batch)
        return result

    def write_events(self, batch: IngestBatch) -> WriteResult:
        """Insert the batch's events that are not stored yet; return those."""
        new = self.new_events(batch)
        self.insert_events(new)
        return new.result

    def new_events(self, batch: IngestBatch) -> NewEvents:
        """The batch's events that are not stored yet, and its new dead letters, without
        writing them (`insert_events` does). From here on their ids count as stored for the
        batches after (a write that fails half-way is retried: the retry looks them up in
        the warehouse, and only what is missing goes in).

        The tables keep the `ingested_at` decode gave them (the time the batch was taken)."""
        keep = first_copy_mask(batch.mentions, batch.posts)
        every_id = batch.event_ids()
        if not keep.all():
            every_id = every_id.filter(pa.array(keep))
        seen = self._remembered()
        if seen is None:
            stored = self.warehouse.existing_event_ids(every_id.to_pylist())
            if self._loading is not None:
                new = ~in_set(every_id, stored)
                self._added_while_loading.append(self._digests(batch, keep)[new])
        else:
            keys = self._digests(batch, keep)
            maybe = np.flatnonzero(seen.known(keys))
            stored = (self.warehouse.existing_event_ids(every_id.take(pa.array(maybe))
                                                        .to_pylist())
                      if len(maybe) else set())
            # before the insert: if it fails half-way, the retry looks these ids up
            seen.add_digests(keys if not stored else keys[~in_set(every_id, stored)])
        m = batch.mentions.num_rows
        mentions, posts = rows_at(batch.mentions, keep[:m]), rows_at(batch.posts, keep[m:])
        in_batch_dupes = len(keep) - len(every_id)
        if stored:
            known = sorted(stored)
            mentions = rows_at(mentions, ~in_set(mentions["event_id"], known))
            posts = rows_at(posts, ~in_set(posts["event_id"], known))
        dead = _new_dead_letters(self.warehouse, batch.topic, batch.dead_letters)
        duplicates = in_batch_dupes + len(stored)
        if duplicates:
            log.debug("dropped %d duplicate events", duplicates)
        return NewEvents(WriteResult(mentions, posts, len(dead), duplicates), dead)

    def insert_events(self, new: NewEvents) -> None:
        """Insert what `new_events` found new: mentions first (what `org_activity_1m`
        counts), then posts and dead letters. Safe in a thread of its own while the
        processors work on the same rows (they only read them; chDB lets go of the GIL
        while it writes)."""
        self.warehouse.insert_arrow(MENTIONS.name, new.result.mentions)
        self.warehouse.insert_arrow(POSTS.name, new.result.posts)
        self.warehouse.insert_arrow(DEAD_LETTERS.name,
                                    dead_letters_table(new.dead_letters, datetime.now(UTC)))

    @staticmethod
    def _digests(batch: IngestBatch, keep: np.ndarray) -> np.ndarray:
        """The digests of the kept rows' event ids (decode's, when it made them)."""
        keys = batch.digests
        if keys is None or len(keys) != len(keep):
            keys = digests(batch.event_ids().to_pylist())
        return keys[keep]

    def write_derived(self, derived: Derived) -> None:
        """What the stream processors made of the batch: response states, alerts, watermark."""
        rows = derived.rows
        self.warehouse.insert_arrow(MENTION_RESPONSES_STATE.name,
                                    rows if isinstance(rows, pa.Table) else responses_table(rows))
        self.warehouse.insert_arrow(ALERTS_STATE.name, alerts_table(derived.alerts))
        if derived.watermark is not None:
            self.warehouse.insert_arrow(WATERMARKS.name, pa.table({
                "name": pa.array(["events"], pa.string()),
                "value": pa.array([derived.watermark], MS_UTC),
            }))

    def copy_unfinished_alert_states(self, topic: str) -> int:
        """After a restart: the alert states a write cut short stored in `alerts_state`
        without their copy for the `alerts` view (`Warehouse.copy_missing_alert_states`),
        copied now. Only states from shortly before the recorded offsets on are looked at
        (`UNFINISHED_WRITE_MARGIN` before the earliest partition clock recorded with them):
        every write before the last one finished its inserts, so nothing older can be
        missing."""
        clocks = [clock for _, clock in
                  self.warehouse.resume_positions(self.consumer_group, topic).values()
                  if clock is not None]
        since = min(clocks) - UNFINISHED_WRITE_MARGIN if clocks else None
        return self.warehouse.copy_missing_alert_states(since)

    def record_offsets(self, batch: IngestBatch,
                       clocks: Mapping[int, datetime] | None = None) -> None:
        """Last: from here on a restart resumes after this batch. `clocks`: each partition's
        event clock at its next offset (`StreamProcessors.offset_clocks`), recorded with it so
        that a restart need not scan the stored events for it."""
        self.warehouse.record_offsets(self.consumer_group, batch.topic, batch.next_offsets,
                                      clocks)


def first_copies(mentions: pa.Table, posts: pa.Table) -> tuple[pa.Table, pa.Table, int]:
    """Keep the first copy of each event_id (by partition and offset); a post and a mention
    with the same event_id are copies too. Returns the kept rows and how many were dropped."""
    keep = first_copy_mask(mentions, posts)
    m = mentions.num_rows
    return rows_at(mentions, keep[:m]), rows_at(posts, keep[m:]), len(keep) - int(keep.sum())


def first_copy_mask(mentions: pa.Table, posts: pa.Table) -> np.ndarray:
    """Which rows (the mentions', then the posts') are the first copy of their event_id by
    partition and offset."""
    m_ids, p_ids = mentions["event_id"], posts["event_id"]
    n = len(m_ids) + len(p_ids)
    every = pa.chunked_array([*m_ids.chunks, *p_ids.chunks], pa.string())
    if pc.count_distinct(every).as_py() == n:
        return np.ones(n, dtype=bool)
    frame = pl.DataFrame({
        "id": pl.from_arrow(every),
        "p": pl.from_arrow(pa.chunked_array(
            [*mentions["source_partition"].chunks, *posts["source_partition"].chunks],
            pa.uint32())),
        "o": pl.from_arrow(pa.chunked_array(
            [*mentions["source_offset"].chunks, *posts["source_offset"].chunks],
            pa.uint64())),
        "row": pl.int_range(0, n, eager=True),
    }).sort("p", "o", maintain_order=True)
    keep = np.zeros(n, dtype=bool)
    keep[frame.filter(pl.col("id").is_first_distinct())["row"].to_numpy()] = True
    return keep


def _new_dead_letters(
    warehouse: Warehouse, topic: str, letters: Sequence[DeadLetter]
) -> list[DeadLetter]:
    if not letters:
        return []
    by_partition: dict[int, list[int]] = {}
    for letter in letters:
        by_partition.setdefault(letter.source.partition, []).append(letter.source.offset)
    stored = warehouse.existing_dead_letters(topic, by_partition)
    unique: dict[tuple[int, int], DeadLetter] = {}
    for letter in letters:
        key = (letter.source.partition, letter.source.offset)
        if key not in stored:
            unique.setdefault(key, letter)
    return list(unique.values())


def _source_columns(rows: Sequence[Mention | Post], now: datetime) -> dict[str, pa.Array]:
    return {
        "ingested_at": pa.array([now] * len(rows), MS_UTC),
        "source_partition": pa.array([r.source.partition for r in rows], pa.uint32()),
        "source_offset": pa.array([r.source.offset for r in rows], pa.uint64()),
        # Unknown (an event not read from Kafka): its created_at, as for rows of old.
        "kafka_timestamp": pa.array([r.source.kafka_timestamp or r.created_at for r in rows],
                                    MS_UTC),
    }


def _table(spec: Table, columns: dict[str, pa.Array]) -> pa.Table:
    missing = set(spec.names) - set(columns)
    if missing:  # a column added to schemas/tables.py but not filled here
        raise AssertionError(f"{spec.name}: no data for columns {sorted(missing)}")
    return pa.table({name: columns[name] for name in spec.names})


def mentions_table(rows: Sequence[Mention], now: datetime) -> pa.Table:
    return _table(MENTIONS, {
        "org_id": pa.array([m.org_id for m in rows], pa.string()),
        "event_id": pa.array([m.event_id for m in rows], pa.string()),
        "platform": pa.array([m.platform for m in rows], pa.string()),
        "created_at": pa.array([m.created_at for m in rows], MS_UTC),
        "author_id": pa.array([m.author_id for m in rows], pa.string()),
        "author_handle": pa.array([m.author_handle for m in rows], pa.string()),
        "author_followers": pa.array([m.author_followers for m in rows], pa.uint64()),
        "kind": pa.array([m.kind for m in rows], pa.string()),
        "text": pa.array([m.text for m in rows], pa.string()),
        "lang": pa.array([m.lang for m in rows], pa.string()),
        "in_reply_to": pa.array([m.in_reply_to for m in rows], pa.string()),
        "shared_from": pa.array([m.shared_from for m in rows], pa.string()),
        "sentiment": pa.array([m.sentiment for m in rows], pa.float32()),
        "complaint": pa.array([m.complaint for m in rows], pa.bool_()),
        "author_verified": pa.array([m.author_verified for m in rows], pa.bool_()),
        "labels_source": pa.array([m.labels_source for m in rows], pa.string()),
        **_source_columns(rows, now),
    })


def posts_table(rows: Sequence[Post], now: datetime) -> pa.Table:
    return _table(POSTS, {
        "org_id": pa.array([p.org_id for p in rows], pa.string()),
        "event_id": pa.array([p.event_id for p in rows], pa.string()),
        "platform": pa.array([p.platform for p in rows], pa.string()),
        "created_at": pa.array([p.created_at for p in rows], MS_UTC),
        "account_id": pa.array([p.account_id for p in rows], pa.string()),
        "account_handle": pa.array([p.account_handle for p in rows], pa.string()),
        "account_role": pa.array([p.account_role for p in rows], pa.string()),
        "account_followers": pa.array([p.account_followers for p in rows], pa.uint64()),
        "kind": pa.array([p.kind for p in rows], pa.string()),
        "in_reply_to": pa.array([p.in_reply_to for p in rows], pa.string()),
        "text": pa.array([p.text for p in rows], pa.string()),
        "org_source": pa.array([p.org_source for p in rows], pa.string()),
        **_source_columns(rows, now),
    })


def dead_letters_table(rows: Sequence[DeadLetter], now: datetime) -> pa.Table:
    return _table(DEAD_LETTERS, {
        "received_at": pa.array([now] * len(rows), MS_UTC),
        "source": pa.array([str(d.source) for d in rows], pa.string()),
        "error": pa.array([d.error for d in rows], pa.string()),
        "payload": pa.array([d.payload for d in rows], pa.binary()),
        "error_code": pa.array([d.error_code for d in rows], pa.string()),
        "topic": pa.array([d.source.topic for d in rows], pa.string()),
        "partition": pa.array([d.source.partition for d in rows], pa.uint32()),
        "offset": pa.array([d.source.offset for d in rows], pa.uint64()),
    })


def _times(values: Sequence[datetime | None]) -> pa.Array:
    return pa.array(values, MS_UTC)


def responses_table(rows: Sequence[ResponseRow]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for column in MENTION_RESPONSES_STATE.columns:
        values = [getattr(r, column.name) for r in rows]
        if "DateTime64" in column.type:
            columns[column.name] = _times(values)
        elif column.name == "version":
            columns[column.name] = pa.array(values, pa.uint64())
        elif "Float64" in column.type:
            columns[column.name] = pa.array(values, pa.float64())
        elif column.type == "Bool":
            columns[column.name] = pa.array(values, pa.bool_())
        else:
            columns[column.name] = pa.array(values, pa.string())
    return _table(MENTION_RESPONSES_STATE, columns)


def alerts_table(alerts: Sequence[Alert]) -> pa.Table:
    return _table(ALERTS_STATE, {
        "alert_id": pa.array([a.alert_id for a in alerts], pa.string()),
        "org_id": pa.array([a.org_id for a in alerts], pa.string()),
        "kind": pa.array([a.kind for a in alerts], pa.string()),
        "status": pa.array([a.status for a in alerts], pa.string()),
        "opened_at": _times([a.opened_at for a in alerts]),
        "resolved_at": _times([a.resolved_at for a in alerts]),
        "severity": pa.array([a.severity for a in alerts], pa.float64()),
        "observed": pa.array([a.observed for a in alerts], pa.float64()),
        "expected": pa.array([a.expected for a in alerts], pa.float64()),
        "summary": pa.array([a.summary for a in alerts], pa.string()),
        "sample_event_ids": pa.array([list(a.sample_event_ids) for a in alerts],
                                     pa.list_(pa.string())),
        "updated_at": _times([a.updated_at for a in alerts]),
        "version": pa.array([a.version for a in alerts], pa.uint64()),
        "is_deleted": pa.array([1 if a.retracted else 0 for a in alerts], pa.uint8()),
        "details": pa.array([a.details_json() for a in alerts], pa.string()),
    })
