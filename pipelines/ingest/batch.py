"""What goes along the ingest path for one Kafka batch, as columns.

A batch is decoded at once into the warehouse's own layout (`pipelines.ingest.columnar`): the
mentions and the posts are Arrow tables with the columns of `schemas.tables.MENTIONS` and
`POSTS`, in (partition, offset) order, ready for the insert. The same tables go on to the
sink's duplicate check, to the stream processors and, as far as they are new, into the
warehouse; nothing on the way builds a Python object per event.

    raw messages ──decode──▶ IngestBatch ──sink──▶ WriteResult ──processors──▶ Derived
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.columnar import MENTIONS_SCHEMA, POSTS_SCHEMA, clock_at
from pipelines.ingest.decode import DeadLetter, Mention, Source
from pipelines.processing.alerts import Alert
from pipelines.processing.responses import ResponseRow
from pipelines.warehouse import as_utc

__all__ = ["Derived", "IngestBatch", "WriteResult", "in_set", "mention_objects",
           "newest_clocks", "rows_at"]


@dataclass
class IngestBatch:
    """One Kafka batch decoded and labelled: rows in (partition, offset) order."""

    topic: str
    mentions: pa.Table = field(default_factory=MENTIONS_SCHEMA.empty_table)
    posts: pa.Table = field(default_factory=POSTS_SCHEMA.empty_table)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    digests: np.ndarray | None = None
    """The 64-bit digests of the mentions' event ids, then the posts' (`pipelines.ingest.seenids`),
    when decode computed them (in the decode process, off the writer's path)."""

    def __len__(self) -> int:
        return self.mentions.num_rows + self.posts.num_rows + len(self.dead_letters)

    def event_ids(self) -> pa.ChunkedArray:
        """The mentions' event ids, then the posts'."""
        return pa.chunked_array([*self.mentions["event_id"].chunks,
                                 *self.posts["event_id"].chunks], pa.string())


@dataclass(frozen=True)
class WriteResult:
    """The batch's rows that were new (stored by this write), for the processors."""

    mentions: pa.Table
    posts: pa.Table
    dead_letters: int
    duplicates: int


@dataclass
class Derived:
    """The processors' output for one batch: response states (objects, or already a table in
    the `mention_responses_state` layout), alert states, the watermark if it moved."""

    rows: list[ResponseRow] | pa.Table = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    watermark: datetime | None = None


def newest_clocks(*tables: pa.Table) -> dict[int, datetime]:
    """Per partition, the newest `clock_at` (`pipelines.ingest.decode.clock_time`) of the rows."""
    partitions: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    for table in tables:
        if table.num_rows:
            partitions.append(table["source_partition"].to_numpy())
            stamps.append(clock_at(table).cast(pa.int64()).to_numpy())
    if not partitions:
        return {}
    part = np.concatenate(partitions).astype(np.int64)
    ms = np.concatenate(stamps)
    order = np.lexsort((ms, part))
    part, ms = part[order], ms[order]
    last = np.append(part[1:] != part[:-1], True)
    newest = pa.array(ms[last]).cast(pa.timestamp("ms", tz="UTC")).to_pylist()
    return {int(p): t for p, t in zip(part[last].tolist(), newest, strict=True)}


def _columns(table: pa.Table, names: Sequence[str]) -> dict[str, list]:
    return {name: table.column(name).to_pylist() for name in names}


def mention_objects(table: pa.Table, topic: str) -> list[Mention]:
    """The rows of a mentions table as `Mention`s (for steps that still take objects)."""
    c = _columns(table, MENTIONS_SCHEMA.names)
    return [
        Mention(
            org_id=c["org_id"][i], event_id=c["event_id"][i], platform=c["platform"][i],
            created_at=as_utc(c["created_at"][i]), author_id=c["author_id"][i],
            author_handle=c["author_handle"][i], author_followers=c["author_followers"][i],
            author_verified=bool(c["author_verified"][i]), kind=c["kind"][i],
            text=c["text"][i], lang=c["lang"][i], in_reply_to=c["in_reply_to"][i],
            shared_from=c["shared_from"][i], sentiment=c["sentiment"][i],
            complaint=c["complaint"][i],
            source=Source(topic, c["source_partition"][i], c["source_offset"][i],
                          as_utc(c["kafka_timestamp"][i])),
            labels_source=c["labels_source"][i],
        )
        for i in range(table.num_rows)
    ]


def rows_at(table: pa.Table, keep: np.ndarray) -> pa.Table:
    """The rows of `table` where the boolean mask `keep` is set (all of it when all are)."""
    if bool(keep.all()):
        return table
    return table.filter(pa.array(keep))


def in_set(values: pa.ChunkedArray | pa.Array, members: Collection[str]) -> np.ndarray:
    """A boolean mask: which of `values` are among `members`."""
    if not members:
        return np.zeros(len(values), dtype=bool)
    found = pc.is_in(values, value_set=pa.array(list(members), pa.string()))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
