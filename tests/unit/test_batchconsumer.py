"""The batch window of the ingest consumer counts from the first event's arrival in Kafka."""

from __future__ import annotations

import asyncio
import gc
import struct
import time
import weakref
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import FetchError, FetchResult, PartitionRecords
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from pipelines.ingest.batchconsumer import (
    BatchConsumer,
    RawMessages,
    _from,
    _RawWalk,
    _Taken,
    _Taking,
    _WalkedRecords,
    waited,
)


def records(*stamps_ms: int | None) -> dict[int, list[SimpleNamespace]]:
    """One partition per timestamp, its first record stamped so (later ones newer)."""
    return {p: [SimpleNamespace(timestamp=t), SimpleNamespace(timestamp=None if t is None
                                                              else t + 5)]
            for p, t in enumerate(stamps_ms)}


def test_an_event_that_sat_in_the_fetch_buffer_shortens_its_window() -> None:
    now_ms = int(time.time() * 1000)
    assert 0.099 <= waited(records(now_ms - 100, now_ms - 20), within=0.25) < 0.2


def test_the_wait_counted_is_at_most_the_window() -> None:
    """A backlog: the batch takes what is fetched at once."""
    old = int(time.time() * 1000) - 3_600_000
    assert waited(records(old), within=0.25) == 0.25


def test_no_timestamp_or_one_from_a_clock_ahead_counts_as_just_now() -> None:
    ahead = int(time.time() * 1000) + 60_000
    assert waited(records(None), within=0.25) == 0.0
    assert waited(records(ahead), within=0.25) == 0.0
    assert waited(records(), within=0.25) == 0.0
    assert waited(records(-1), within=0.25) == 0.0


def test_a_batch_is_taken_as_columns_in_partition_runs() -> None:
    """What the consumer takes becomes one buffer of values and arrays: partitions, offsets,
    timestamps in seconds (NaN without one); records before the resume offset are left out."""
    def record(offset: int, value: bytes | None, stamp: int | None) -> SimpleNamespace:
        return SimpleNamespace(offset=offset, value=value, timestamp=stamp)

    taking = _Taking()
    taking.add(2, _from([record(4, b"a", 1000), record(5, b"b", 1500)], 5))
    taking.add(0, _from([record(9, None, -1), record(10, b'{"x":\n1}', None)], 0))
    batch = taking.batch("t", 12.5)
    assert batch.taken_at == 12.5 and len(batch) == 3
    assert list(batch.messages) == [(2, 5, b"b"), (0, 9, b""), (0, 10, b'{"x":\n1}')]
    assert isinstance(batch.messages, RawMessages)
    assert batch.messages.values.buf == b'b\n\n{"x":\n1}'
    assert list(np.isnan(np.asarray(batch.timestamps, dtype=float))) == [False, True, True]
    assert batch.timestamps[0] == 1.5


class _Position:
    def __init__(self, offset: int) -> None:
        self.position, self.paused = offset, False

    def consumed_to(self, offset: int) -> None:
        self.position = offset


def _record_batches(sizes: list[int]) -> bytes:
    """Kafka v2 record batches as a broker returns them, offsets from 0 on; every seventh
    value absent."""
    data, offset = bytearray(), 0
    for size in sizes:
        builder = DefaultRecordBatchBuilder(2, 0, is_transactional=False, producer_id=-1,
                                            producer_epoch=-1, base_sequence=-1,
                                            batch_size=1 << 20)
        for i in range(size):
            at = offset + i
            builder.append(i, timestamp=1_000 + at, key=None, headers=[],
                           value=b"v%d" % at if at % 7 else None)
        raw = bytearray(builder.build())
        struct.pack_into(">q", raw, 0, offset)  # the base offset, outside the CRC
        data += raw
        offset += size
    return bytes(data)


def _fetched(data: bytes, fetch_offset: int) -> tuple[FetchResult, _Position]:
    tp = TopicPartition("t", 0)
    position = _Position(fetch_offset)
    assignment = SimpleNamespace(active=True, state_value=lambda tp: position)
    records = PartitionRecords(tp, MemoryRecords(data), [], fetch_offset, None, None, True, 0)
    return FetchResult(tp, assignment=assignment, partition_records=records,
                       backoff=0), position


def test_records_read_off_the_record_batches_are_aiokafkas_records() -> None:
    """`_RawWalk` against aiokafka's own `getall` on the same record batches: the same
    records in the same takes, the same positions, whatever the takes' sizes and where the
    fetch starts (inside a record batch too)."""
    data = _record_batches([5, 1, 9, 4])
    for fetch_offset in (0, 3, 6, 18):
        for most in (1, 3, 5, 7, 100, None):
            ours, ours_at = _fetched(data, fetch_offset)
            theirs, theirs_at = _fetched(data, fetch_offset)
            assert _RawWalk.fits(ours)
            ours.getall = _RawWalk(ours)
            got: list[list[tuple[int, bytes | None, int | None]]] = []
            expected: list[list[tuple[int, bytes | None, int | None]]] = []
            while ours.has_more():
                taken = ours.getall(most)
                got.append(list(zip(taken.offsets, taken.values, taken.stamps, strict=True))
                           if isinstance(taken, _Taken) else [])
                if len(taken):
                    assert ours_at.position == taken.offsets[-1] + 1
            while theirs.has_more():
                expected.append([(r.offset, r.value, r.timestamp) for r in theirs.getall(most)])
            assert [t for t in got if t] == [t for t in expected if t], (fetch_offset, most)
            assert ours_at.position == theirs_at.position == 19
            assert sum(map(len, got)) >= 19 - fetch_offset


def test_the_fetcher_stores_errors_as_they_are_and_results_to_be_walked() -> None:
    """What aiokafka's fetcher puts in its records: a fetch error stays aiokafka's to raise,
    a fetched result is read by `_RawWalk`; one aiokafka has begun to read is left to it."""
    fetched = _WalkedRecords()
    error = FetchError(error=CorruptRecordException("bad"), backoff=0)
    fetched[TopicPartition("t", 1)] = error
    assert fetched[TopicPartition("t", 1)] is error and "getall" not in error.__dict__
    result, _ = _fetched(_record_batches([3]), 0)
    fetched[TopicPartition("t", 0)] = result
    assert isinstance(result.getall, _RawWalk)
    begun, _ = _fetched(_record_batches([3]), 0)
    assert [r.offset for r in begun.getall(1)] == [0]
    assert not _RawWalk.fits(begun)
    odd, _ = _fetched(_record_batches([3]), 0)
    del odd._partition_records  # as another aiokafka might keep it: stored, read its own way
    fetched[TopicPartition("t", 2)] = odd
    assert fetched[TopicPartition("t", 2)] is odd and "getall" not in odd.__dict__


def test_a_walked_result_frees_its_fetched_records_without_a_garbage_collection() -> None:
    """The worker runs with collections made rare (`pipelines.ingest.worker`): a fetched
    result the walk read part of, then dropped (a seek, a revoked partition) or read to the
    end, must let its records (the fetch's buffer) go at once, not wait in a cycle."""
    data = _record_batches([5, 1, 9, 4])
    enabled = gc.isenabled()
    gc.disable()
    try:
        for most in (3, None):
            result, _ = _fetched(data, 0)
            result.getall = _RawWalk(result)
            held = weakref.ref(result._partition_records)
            result.getall(most)
            del result
            assert held() is None, most
    finally:
        if enabled:
            gc.enable()


def test_commits_leave_the_write_path_and_send_the_newest_offsets_in_order() -> None:
    """`commit_soon` returns before the broker answers; while a commit is on its way the
    offsets handed in meanwhile wait and go next, as one commit of the newest."""

    async def run() -> list[dict[int, int]]:
        consumer = BatchConsumer("localhost:9092", "events", "group", dict,
                                 max_records=10, within=0.1, session_timeout=10)
        sent: list[dict[int, int]] = []
        answer = asyncio.Event()

        async def commit(offsets: Mapping[int, int]) -> None:
            sent.append(dict(offsets))
            await answer.wait()

        consumer.commit = commit  # type: ignore[method-assign,assignment]
        await consumer.commit_soon({0: 5, 1: 3})
        await asyncio.sleep(0)
        assert sent == [{0: 5, 1: 3}]  # on its way, not answered yet
        await consumer.commit_soon({0: 9})
        await consumer.commit_soon({0: 12, 2: 4})
        assert len(sent) == 1
        answer.set()
        await consumer.flush_commits()
        return sent

    assert asyncio.run(run()) == [{0: 5, 1: 3}, {0: 12, 2: 4}]
