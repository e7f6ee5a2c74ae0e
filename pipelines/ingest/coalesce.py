"""Decoded batches that waited for the writer, written as one.

A live worker reads in short windows (`pipelines.ingest.worker`): a batch is cut and
decoded a quarter of a second after its first event arrived, and an idle writer writes it
at once. While the writer is busy, the batches cut meanwhile wait decoded; when it is free
it takes all of them as one batch. Every write has a fixed cost (an insert per table, a
part each, the merges after them: ~75 ms of CPU a batch against ~30 µs an event, measured
on batches of 250-5 000 events at load 8-15), so a busy writer pays it once for everything
that came in the meantime, and an idle one writes each batch as soon as it is cut.

The rows stay in (partition, offset) order, as every batch's are (`pipelines.ingest.batch`):
the batches of one partition follow each other in offset order, so a stable sort by
(partition, offset) of the joined rows is the order the events were read in. Results do not
depend on where batches are cut (the stream processors' clocks are per partition).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.batchconsumer import RawBatch

MIN_BATCH_SECONDS = 0.25
"""The shortest batch window: what an idle writer waits for more events after the first
(unless `DORPSPOMP_BATCH_SECONDS` is shorter). Every write costs ~100 ms of CPU in all
whatever its size, so a window that follows quick writes down to 0.05 s kept a worker fed
100 events/s busy writing: 1.16 cores against 0.33 with 0.25 s; at 5 000 events/s 237-267
against 153 µs of CPU an event, freshness p95 0.39-0.46 against 0.42 s (`bench/live.py`
phases run apart, 2026-12-05, load 1-3)."""

Queued = tuple[RawBatch, "asyncio.Future[IngestBatch]"]

_ORDER = [("source_partition", "ascending"), ("source_offset", "ascending")]

MERGED_FIELDS = frozenset({"topic", "mentions", "posts", "dead_letters", "next_offsets",
                           "digests"})
"""The fields of `IngestBatch` that `merge` joins (a test keeps this list complete)."""


def merge(batches: Sequence[IngestBatch]) -> IngestBatch:
    """One batch holding the events of `batches` (taken in this order off one topic)."""
    if len(batches) == 1:
        return batches[0]
    if not batches:
        raise ValueError("no batch to merge")
    topic = batches[0].topic
    if any(b.topic != topic for b in batches):
        raise ValueError("batches of different topics cannot be merged")
    mentions, mention_order = _joined([b.mentions for b in batches])
    posts, post_order = _joined([b.posts for b in batches])
    next_offsets: dict[int, int] = {}
    for b in batches:
        for partition, offset in b.next_offsets.items():
            next_offsets[partition] = max(offset, next_offsets.get(partition, offset))
    digests = None
    if all(b.digests is not None and len(b.digests) == b.mentions.num_rows + b.posts.num_rows
           for b in batches):
        parts = [(b.digests[:b.mentions.num_rows], b.digests[b.mentions.num_rows:])
                 for b in batches if b.digests is not None]
        digests = np.concatenate([np.concatenate([m for m, _ in parts])[mention_order],
                                  np.concatenate([p for _, p in parts])[post_order]])
    return IngestBatch(
        topic=topic, mentions=mentions, posts=posts,
        dead_letters=sorted((letter for b in batches for letter in b.dead_letters),
                            key=lambda letter: (letter.source.partition, letter.source.offset)),
        next_offsets=next_offsets, digests=digests)


def _joined(tables: Sequence[pa.Table]) -> tuple[pa.Table, np.ndarray]:
    """The tables' rows in (partition, offset) order, and that order over the joined rows."""
    joined = pa.concat_tables(tables)
    order = pc.sort_indices(joined, sort_keys=_ORDER).to_numpy()
    if np.all(order[1:] > order[:-1]):
        return joined.combine_chunks(), order
    return joined.take(pa.array(order)).combine_chunks(), order


class WriteQueue:
    """Batches read and being decoded, waiting for the writer, oldest first.

    The reader puts a batch only while fewer than `limit` events wait (`room`), so that what
    waits stays about one full batch, as when one batch at a time was decoded ahead of the
    writer; the writer takes the oldest once it is decoded and, with it, the batches behind
    it already decoded, up to `limit` events in all (`next_write`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[Queued] = deque()
        self._waiting = 0  # events in the queue
        self._closed = False
        self._wakers: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, batch: RawBatch, decoding: asyncio.Future[IngestBatch]) -> None:
        if self._closed:
            raise RuntimeError("the write queue is closed")
        self._items.append((batch, decoding))
        self._waiting += len(batch)
        self._wake()

    def close(self) -> None:
        """No more batches: the writer takes what is queued, then gets nothing."""
        self._closed = True
        self._wake()

    async def room(self) -> bool:
        """Wait until another batch may be read; False once the queue is closed."""
        while not self._closed and self._waiting >= self.limit:
            await self._changed()
        return not self._closed

    async def next_write(self) -> list[Queued]:
        """The batches of the next write, in order (empty once closed and drained)."""
        while not self._items:
            if self._closed:
                return []
            await self._changed()
        first = self._items.popleft()
        taken, events = [first], len(first[0])
        await asyncio.wait([first[1]])  # decoded, or failed (the writer decodes it then)
        while (self._items and self._items[0][1].done()
               and events + len(self._items[0][0]) <= self.limit):
            item = self._items.popleft()
            taken.append(item)
            events += len(item[0])
        self._waiting -= events
        self._wake()
        return taken

    async def _changed(self) -> None:
        waker = asyncio.get_running_loop().create_future()
        self._wakers.append(waker)
        await waker

    def _wake(self) -> None:
        wakers, self._wakers = self._wakers, []
        for waker in wakers:
            if not waker.done():
                waker.set_result(None)


class Windowed(Protocol):
    within: float


class BatchWindow:
    """How long the reader waits to fill a batch (`BatchConsumer.within`): as long as the
    last write took, between `shortest` and `longest` (`DORPSPOMP_BATCH_SECONDS`).

    While writes are quick a batch is cut soon after its first event and written at once;
    when a write takes longer than the window, batches would only wait for the writer
    (and be written together, `WriteQueue`), so the window grows with it and the reader
    cuts and decodes fewer, larger batches."""

    def __init__(self, reader: Windowed, *, shortest: float, longest: float) -> None:
        self.reader = reader
        self.shortest = min(shortest, longest)
        self.longest = longest
        reader.within = self.shortest

    def wrote(self, seconds: float) -> None:
        self.reader.within = min(self.longest, max(self.shortest, seconds))
