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
- **Batches as columns**: a batch's values are joined into one buffer as they are taken
  (`RawMessages`), so that handing it to a decode process pickles one buffer and a few
  arrays instead of a tuple per message. The records are read straight off the record
  batches aiokafka fetched (`_RawWalk`), not as one `ConsumerRecord` each. Measured here
  on 411 000 simulated events (CPU µs an event, machine under load): taking the batches
  2.2 against 3.4 with tuples of `ConsumerRecord` fields, pickling them for the decode
  process and back 0.2 against 1.1.
- **Batches**: up to `max_records` messages; when fewer are waiting, it keeps
  fetching until `within` seconds passed since the batch's first message arrived in
  Kafka (its timestamp; time it spent in the fetch buffer while the worker wrote the
  batch before counts), so a live stream is cut in windows, a backlog in full batches
  (what is fetched already joins the batch past its window). The worker sets `within`
  from its last write (`pipelines.ingest.coalesce.BatchWindow`: 0.25 s, or
  `DORPSPOMP_BATCH_SECONDS` when shorter, up to `DORPSPOMP_BATCH_SECONDS`) and writes the
  batches that waited for it as one.
- **Commits**: Kafka's offsets are committed in a task of their own (`commit_soon`), so
  the next write does not wait for the broker's answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import GEN_CREATED, getgeneratorstate
from typing import Any, overload

import numpy as np
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.consumer.fetcher import READ_COMMITTED, FetchResult
from aiokafka.errors import CorruptRecordException

from pipelines.ingest.columnar import JoinedValues

log = logging.getLogger("dorpspomp.consumer")

# partition → next offset to read, as the warehouse recorded it
OffsetsLookup = Callable[[], dict[int, int]]


@dataclass
class RawMessages(Sequence[tuple[int, int, bytes]]):
    """A batch's messages as columns: partitions, offsets and the values joined in one buffer
    (`pipelines.ingest.columnar.JoinedValues`, which the columnar decode parses as it is).
    Also a sequence of (partition, offset, value) for code that takes messages one by one
    (an absent value reads as b"", which `decode()` takes as it takes None)."""

    partitions: np.ndarray
    offsets: np.ndarray
    values: JoinedValues

    @classmethod
    def of(cls, messages: Sequence[tuple[int, int, bytes | None]]) -> RawMessages:
        return cls(np.fromiter((m[0] for m in messages), np.int64, len(messages)),
                   np.fromiter((m[1] for m in messages), np.int64, len(messages)),
                   JoinedValues.of([m[2] for m in messages]))

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, row: int) -> tuple[int, int, bytes]: ...
    @overload
    def __getitem__(self, row: slice) -> list[tuple[int, int, bytes]]: ...
    def __getitem__(self, row: int | slice) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return int(self.partitions[row]), int(self.offsets[row]), self.values[row]

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        return (self[i] for i in range(len(self)))


@dataclass
class RawBatch:
    """Messages of one topic in (partition, offset) order, with their Kafka timestamps."""

    topic: str
    messages: Sequence[tuple[int, int, bytes | None]] = field(default_factory=list)
    timestamps: Sequence[float | None] | np.ndarray = field(default_factory=list)
    """Seconds; None (NaN in an array) for a message without one."""
    taken_at: float = 0.0  # time.monotonic() when the first message was taken

    def __len__(self) -> int:
        return len(self.messages)


class _Taking:
    """The columns of a batch being taken, partition run by partition run."""

    def __init__(self) -> None:
        self.partitions: list[int] = []
        self.counts: list[int] = []
        self.offsets: list[int] = []
        self.values: list[bytes | None] = []
        self.stamps: list[int | None] = []

    def __len__(self) -> int:
        return len(self.offsets)

    def add(self, partition: int, rows: Sequence[Any] | _Taken) -> None:
        self.partitions.append(partition)
        self.counts.append(len(rows))
        if isinstance(rows, _Taken):
            self.offsets += rows.offsets
            self.values += rows.values
            self.stamps += rows.stamps
            return
        self.offsets += [r.offset for r in rows]
        self.values += [r.value for r in rows]
        self.stamps += [r.timestamp for r in rows]

    def batch(self, topic: str, taken_at: float) -> RawBatch:
        stamps = np.array(self.stamps, dtype=np.float64)  # None -> NaN
        stamps[~(stamps >= 0)] = np.nan
        messages = RawMessages(
            np.repeat(np.array(self.partitions, dtype=np.int64), self.counts),
            np.array(self.offsets, dtype=np.int64), JoinedValues.of(self.values))
        self.values = []  # joined now: the values go while the batch waits to be written
        return RawBatch(topic, messages, stamps / 1000, taken_at)


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
        # offsets to commit to Kafka, and the task committing them (`commit_soon`)
        self._to_commit: dict[int, int] = {}
        self._committing: asyncio.Future[None] | None = None

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
        try:
            fetcher = self.consumer._fetcher
            fetcher._records = _WalkedRecords(fetcher._records)
        except AttributeError as exc:  # another aiokafka: records as it gives them
            log.warning("reading records as aiokafka's ConsumerRecords (%s)", exc)
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

    async def batches(self) -> AsyncGenerator[RawBatch, None]:
        """Batches for as long as the consumer runs; a rebalance in the middle of a batch
        ends it early, so that a batch never mixes partitions' generations."""
        while True:
            batch = _Taking()
            taken_at = 0.0
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
                    taken_at = time.monotonic()
                    deadline = taken_at + self.within - waited(records, self.within)
                for tp, rows in sorted(records.items(), key=lambda item: item[0].partition):
                    fresh = _from(rows, self._next.get(tp.partition, 0))
                    if not fresh:
                        continue
                    batch.add(tp.partition, fresh)
                    self._next[tp.partition] = batch.offsets[-1] + 1
                if self._generation != generation or last:
                    break
                if not records and deadline is not None:
                    break
            if len(batch):
                yield batch.batch(self.topic, taken_at)

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

    async def commit_soon(self, next_offsets: Mapping[int, int]) -> None:
        """`commit` in a task of its own, so that the next write does not wait for the
        broker's answer (a round trip a batch); commits go one at a time, each with the
        newest offsets handed in by then."""
        self._to_commit.update(next_offsets)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.ensure_future(self._commit_pending())

    async def flush_commits(self) -> None:
        """Wait for the commits `commit_soon` started (before the consumer stops)."""
        while self._committing is not None and not self._committing.done():
            await asyncio.shield(self._committing)

    async def _commit_pending(self) -> None:
        while self._to_commit:
            offsets, self._to_commit = self._to_commit, {}
            await self.commit(offsets)


@dataclass
class _Taken:
    """One partition's records as `_RawWalk` takes them: columns, in offset order."""

    offsets: list[int]
    values: list[bytes | None]
    stamps: list[int | None]

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def first_timestamp(self) -> int | None:
        return self.stamps[0] if self.stamps else None

    def since(self, start: int) -> _Taken:
        if not self.offsets or self.offsets[0] >= start:
            return self
        at = bisect_left(self.offsets, start)
        return _Taken(self.offsets[at:], self.values[at:], self.stamps[at:])


class _RawWalk:
    """`FetchResult.getall` for one fetched result of the ingest consumer, giving `_Taken`
    columns read off the record batches instead of a `ConsumerRecord` per record (its
    construction and the generator around it are most of aiokafka's cost per record).

    Set on each result as the fetcher stores it (`_WalkedRecords`); the rest of `getmany`
    (waiting, errors, assignment checks, positions, prefetching) is aiokafka's own. Only
    results of a read_uncommitted consumer whose record iterator has not started are
    walked so: what this does not cover (aborted transactions) stays with aiokafka. Mirrors
    `PartitionRecords._unpack_records` and `FetchResult.getall` of aiokafka 0.14
    (`tests/unit/test_batchconsumer.py` compares the two on real record batches)."""

    def __init__(self, result: Any) -> None:
        # No reference cycles may hold a fetched result: each keeps its fetch's buffer (up
        # to 16 MiB a partition) until a full collection, which the worker's raised GC
        # thresholds make rare. The result holds this walk (its `getall`), so the walk holds
        # it weakly; aiokafka's record iterator, a generator of the partition's records
        # that holds them while it is not finished, is never run here, so it is closed
        # (300 MiB less at the peak of the benchmark's memory phase).
        self.result = weakref.ref(result)
        self.part = result._partition_records
        self.part._records_iterator.close()
        self.rest: list[Any] = []  # records of the current record batch not taken yet
        self.rest_next = 0  # the offset after that record batch

    @staticmethod
    def fits(result: Any) -> bool:
        """A fetched result (not an error) that aiokafka has not begun to read."""
        if type(result) is not FetchResult or "getall" in result.__dict__:
            return False
        part = result._partition_records
        return (part is not None and part._isolation_level != READ_COMMITTED
                and part._records_iterator is not None
                and getgeneratorstate(part._records_iterator) == GEN_CREATED)

    def __call__(self, max_records: int | None = None) -> _Taken | list[Any]:
        result, part = self.result(), self.part
        if result is None:
            return []
        if not result.check_assignment(result._topic_partition) or not result.has_more():
            return []
        taken = _Taken([], [], [])
        room = max_records if max_records is not None else 1 << 62
        records = part._records
        while room > 0:
            if not self.rest:
                if not records.has_next():
                    break
                batch = records.next_batch()
                if part._check_crcs and not batch.validate_crc():
                    raise CorruptRecordException(f"Invalid CRC - {result._topic_partition}")
                if batch.is_control_batch:
                    part.next_fetch_offset = batch.next_offset
                    continue
                rows = list(batch)
                if rows and rows[0].offset < part.next_fetch_offset:
                    rows = [r for r in rows if r.offset >= part.next_fetch_offset]
                self.rest, self.rest_next = rows, batch.next_offset
                if not rows:
                    part.next_fetch_offset = batch.next_offset
                    continue
            take = self.rest if len(self.rest) <= room else self.rest[:room]
            self.rest = [] if take is self.rest else self.rest[room:]
            taken.offsets += [r.offset for r in take]
            taken.values += [r.value for r in take]
            taken.stamps += [r.timestamp for r in take]
            room -= len(take)
            part.next_fetch_offset = self.rest[0].offset if self.rest else self.rest_next
        result._update_position()
        if not self.rest and not records.has_next():
            result._partition_records = None
        return taken


class _WalkedRecords(OrderedDict[Any, Any]):
    """The ingest consumer's fetched results (aiokafka's `Fetcher._records`), each taken by a
    `_RawWalk` from the moment the fetcher puts it here."""

    def __setitem__(self, tp: Any, result: Any) -> None:
        try:
            if _RawWalk.fits(result):
                result.getall = _RawWalk(result)
        except AttributeError:  # not the aiokafka this was written for: its own reading
            pass
        super().__setitem__(tp, result)


def _from(rows: Sequence[Any] | _Taken, start: int) -> Sequence[Any] | _Taken:
    """The records at offset `start` or later (a partition's records come in offset order)."""
    if isinstance(rows, _Taken):
        return rows.since(start)
    if not rows or rows[0].offset >= start:
        return rows
    return [r for r in rows if r.offset >= start]


def _first_stamp(rows: Sequence[Any] | _Taken) -> int | None:
    if isinstance(rows, _Taken):
        return rows.first_timestamp
    return rows[0].timestamp if rows else None


def waited(records: Mapping[Any, list[Any]], within: float) -> float:
    """How long the oldest of `records` has been in Kafka (from its timestamp), up to
    `within`: a batch's window runs from when its first event arrived, not from when the
    worker got round to it (it sat in the consumer's fetch buffer while the batch before
    was written). A timestamp ahead of this clock (another host's) counts as just now."""
    firsts = [_first_stamp(rows) for rows in records.values()]
    stamps = [t for t in firsts if t is not None and t > 0]
    if not stamps:
        return 0.0
    return min(within, max(0.0, time.time() - min(stamps) / 1000))
