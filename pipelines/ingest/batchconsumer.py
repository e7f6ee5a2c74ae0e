"""Raw Kafka batches for the ingest path, thousands of messages per call.

faust hands every message through its conductor, a channel and the stream one at a
time: a bare faust agent measured ~135 µs per message here, a bare aiokafka
`getmany` ~6 (DESIGN.md; `dorpspomp bench`'s limits phase). So the worker keeps the
faust app for its lifecycle, web server, producer and health, and takes the events
topic with an aiokafka consumer of its own, driven by a task of that app:

- **Its own group**: the consumer joins `DORPSPOMP_GROUP`; the faust app runs under
  another id (`<group>-app`), because two consumers with different assignment
  protocols in one group fail to join (`InconsistentGroupProtocolError`, measured).
- **Where to start**: the warehouse, not Kafka, records how far each partition is
  written (`ingest_offsets`). On every assignment — at start and at each rebalance —
  the consumer seeks each assigned partition to the warehouse's next offset (or the
  beginning), so a worker killed at any moment resumes at the first event that may
  be missing; Kafka's committed offsets are kept up to date only for tools.
- **Batches**: up to `max_records` messages; when fewer are waiting, it keeps
  fetching until `within` seconds passed since the batch's first message arrived in
  Kafka (its timestamp; time it spent in the fetch buffer while the worker wrote the
  batch before counts), so a live stream is written in windows of
  `DORPSPOMP_BATCH_SECONDS`, a backlog in full batches (what is fetched already joins
  the batch past its window).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = logging.getLogger("dorpspomp.consumer")

# partition → next offset to read, as the warehouse recorded it
OffsetsLookup = Callable[[], dict[int, int]]


@dataclass
class RawBatch:
    """Messages of one topic in (partition, offset) order, with their Kafka timestamps."""

    topic: str
    messages: list[tuple[int, int, bytes | None]] = field(default_factory=list)
    timestamps: list[float | None] = field(default_factory=list)  # seconds
    taken_at: float = 0.0  # time.monotonic() when the first message was taken

    def __len__(self) -> int:
        return len(self.messages)


class _SeekToWarehouse(ConsumerRebalanceListener):
    def __init__(self, source: BatchConsumer) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.source.revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.source.assigned(assigned)


class BatchConsumer:
    """The events topic in batches, for one worker of the consumer group."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        written_offsets: OffsetsLookup,
        *,
        max_records: int,
        within: float,
        session_timeout: float,
    ) -> None:
        self.topic = topic
        self.written_offsets = written_offsets
        self.max_records = max_records
        self.within = within
        # made in start(): aiokafka binds its consumer to the running event loop
        self._consumer: AIOKafkaConsumer | None = None
        self._config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap.split(","),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            session_timeout_ms=int(session_timeout * 1000),
            heartbeat_interval_ms=int(min(3.0, session_timeout / 4) * 1000),
            max_poll_interval_ms=600_000,
        )
        self._generation = 0
        # partition → the next offset a batch may hold: set at each assignment, moved on
        # by every batch; a record before it was handed out already (or is before the
        # warehouse's position) and is dropped, so no event is read twice in one process
        self._next: dict[int, int] = {}

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the batch consumer has not started")
        return self._consumer

    @property
    def assignment(self) -> set[int]:
        if self._consumer is None:
            return set()
        return {tp.partition for tp in self.consumer.assignment() if tp.topic == self.topic}

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._config)
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_SeekToWarehouse(self))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def revoked(self, partitions: Any) -> None:
        self._generation += 1
        if partitions:
            log.info("partitions %s revoked", sorted(tp.partition for tp in partitions))

    async def assigned(self, partitions: Any) -> None:
        self._generation += 1
        mine = sorted(tp.partition for tp in partitions if tp.topic == self.topic)
        if not mine:
            return
        loop = asyncio.get_running_loop()
        written = await loop.run_in_executor(None, self.written_offsets)
        # No await from here on: the fetcher may have run (and batches been taken) while
        # the warehouse was asked, and `_next` holds what they took. What this process
        # took is written in order (a failed write is retried until it succeeds), so a
        # partition goes on from there unless another worker wrote further meanwhile;
        # never backwards within one process. Offset 0 before the log's start falls
        # back to the earliest offset (auto_offset_reset).
        resume = {p: max(written.get(p, 0), self._next.get(p, 0)) for p in mine}
        for partition in mine:
            self._next[partition] = resume[partition]
            self.consumer.seek(TopicPartition(self.topic, partition), resume[partition])
        log.info("assigned partitions %s, resuming at offsets %s (the warehouse's: %s)", mine,
                 resume, {p: written.get(p, "none") for p in mine})

    async def batches(self) -> AsyncIterator[RawBatch]:
        """Batches for as long as the consumer runs; a rebalance in the middle of a batch
        ends it early, so that a batch never mixes partitions' generations."""
        while True:
            batch = RawBatch(self.topic)
            generation = self._generation
            deadline: float | None = None
            last = False
            while len(batch) < self.max_records:
                wait = self.within if deadline is None else max(0.0, deadline - time.monotonic())
                if deadline is not None and wait <= 0:
                    # past the window: what is fetched already still joins, without waiting
                    # (a backlog goes in full batches)
                    last = True
                records = await self.consumer.getmany(
                    timeout_ms=int(wait * 1000), max_records=self.max_records - len(batch))
                # Records returned are past the consumer's position, whatever a rebalance
                # in the call did (aiokafka drops fetches of revoked or re-sought
                # partitions): never drop them, or their offsets would be skipped.
                if records and deadline is None:
                    batch.taken_at = time.monotonic()
                    deadline = batch.taken_at + self.within - waited(records, self.within)
                for tp, rows in sorted(records.items(), key=lambda item: item[0].partition):
                    start = self._next.get(tp.partition, 0)
                    fresh = [r for r in rows if r.offset >= start]
                    if not fresh:
                        continue
                    self._next[tp.partition] = fresh[-1].offset + 1
                    batch.messages.extend((tp.partition, r.offset, r.value) for r in fresh)
                    batch.timestamps.extend(
                        r.timestamp / 1000 if r.timestamp is not None and r.timestamp >= 0
                        else None for r in fresh)
                if self._generation != generation or last:
                    break
                if not records and deadline is not None:
                    break
            if batch.messages:
                yield batch

    async def commit(self, next_offsets: Mapping[int, int]) -> None:
        """Tell Kafka how far the warehouse has the events (for tools; the warehouse's
        record is what a restart uses). Partitions no longer assigned are skipped."""
        mine = self.assignment
        offsets = {TopicPartition(self.topic, p): o for p, o in next_offsets.items() if p in mine}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # a rebalance in between: the next write commits again
            log.debug("offset commit skipped: %s", exc)


def waited(records: Mapping[Any, list[Any]], within: float) -> float:
    """How long the oldest of `records` has been in Kafka (from its timestamp), up to
    `within`: a batch's window runs from when its first event arrived, not from when the
    worker got round to it (it sat in the consumer's fetch buffer while the batch before
    was written). A timestamp ahead of this clock (another host's) counts as just now."""
    stamps = [rows[0].timestamp for rows in records.values()
              if rows and rows[0].timestamp is not None and rows[0].timestamp > 0]
    if not stamps:
        return 0.0
    return min(within, max(0.0, time.time() - min(stamps) / 1000))
