"""Batches that waited for the writer, written as one (`pipelines.ingest.coalesce`): the
merged batch is the batch the same messages decode to in one piece, and the queue hands the
writer everything decoded behind the oldest batch, within its limit."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.batchconsumer import RawBatch
from pipelines.ingest.coalesce import MERGED_FIELDS, BatchWindow, WriteQueue, merge
from pipelines.ingest.decoder import decode_messages
from pipelines.roster import load_roster
from pipelines.textmodel.classify import load_classifier
from tests import eventgen

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "dorpspomp.events"


def test_merged_batches_are_the_batch_of_all_their_messages() -> None:
    """Three consecutive slices of a stream over three partitions (duplicates and bad lines
    among them), merged: the same mentions, posts, digests, dead letters and next offsets
    as the whole stream decoded at once, rows in (partition, offset) order."""
    roster = load_roster(ROOT / "examples" / "roster.yaml")
    classifier = load_classifier()
    events = eventgen.build(900, seed=4)
    messages = [(i % 3, i // 3, line) for i, line in enumerate(events.lines)]
    stamps: list[float | None] = [1_798_000_000.0 + i for i in range(len(messages))]

    def decoded(at: slice) -> IngestBatch:
        part = sorted(range(len(messages))[at], key=lambda i: messages[i][:2])
        return decode_messages(TOPIC, [messages[i] for i in part], [stamps[i] for i in part],
                               roster, classifier, timedelta(days=3650))

    cuts = [slice(0, 250), slice(250, 251), slice(251, len(messages))]
    whole = decoded(slice(0, len(messages)))
    merged = merge([decoded(at) for at in cuts])
    assert whole.mentions.num_rows > 400 and whole.posts.num_rows > 100
    for name in ("mentions", "posts"):
        a, b = getattr(merged, name), getattr(whole, name)
        keep = [c for c in a.column_names if c != "ingested_at"]  # each decode's own clock
        assert a.select(keep).equals(b.select(keep)), name
    assert merged.digests is not None and whole.digests is not None
    assert np.array_equal(merged.digests, whole.digests)
    assert merged.next_offsets == whole.next_offsets
    assert [(d.source, d.error_code, d.error) for d in merged.dead_letters] == [
        (d.source, d.error_code, d.error) for d in whole.dead_letters]
    assert len(merged.dead_letters) == sum(events.bad.values()) + events.blank


def test_merge_knows_every_field_of_a_batch() -> None:
    """A field added to `IngestBatch` must be joined by `merge` too (or it is lost when
    batches are written together)."""
    assert {f.name for f in dataclasses.fields(IngestBatch)} == MERGED_FIELDS


def test_merge_of_one_batch_is_that_batch() -> None:
    batch = IngestBatch(TOPIC, next_offsets={0: 3})
    assert merge([batch]) is batch
    with pytest.raises(ValueError, match="different topics"):
        merge([batch, IngestBatch("other")])


def raw(n: int) -> RawBatch:
    return RawBatch(TOPIC, messages=[(0, i, b"{}") for i in range(n)])


def test_the_writer_takes_the_oldest_once_decoded_with_what_is_decoded_behind_it() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        queue = WriteQueue(limit=100)
        first, second, third, fourth = (loop.create_future() for _ in range(4))
        queue.put(raw(10), first)
        queue.put(raw(20), second)
        queue.put(raw(30), third)
        queue.put(raw(50), fourth)
        assert not await asyncio.wait_for(_blocked(queue.room()), 1)  # 110 events wait
        taking = asyncio.ensure_future(queue.next_write())
        await asyncio.sleep(0.01)
        assert not taking.done()  # the oldest is not decoded yet
        for done in (second, fourth, first):
            done.set_result(IngestBatch(TOPIC))
        taken = await taking
        # the third is still decoding: the fourth, decoded, waits behind it
        assert [len(b) for b, _ in taken] == [10, 20]
        assert await queue.room()
        third.set_result(IngestBatch(TOPIC))
        assert [len(b) for b, _ in await queue.next_write()] == [30, 50]
        queue.close()
        assert await queue.next_write() == []
        assert not await queue.room()

    asyncio.run(run())


def test_a_merged_write_stays_within_the_limit() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        queue = WriteQueue(limit=100)
        for n in (60, 30, 20):
            done = loop.create_future()
            done.set_result(IngestBatch(TOPIC))
            queue.put(raw(n), done)
        assert [len(b) for b, _ in await queue.next_write()] == [60, 30]
        assert [len(b) for b, _ in await queue.next_write()] == [20]

    asyncio.run(run())


async def _blocked(waiting: object) -> bool:
    """Whether the awaitable `room()` returned within a moment (False: it waits)."""
    task = asyncio.ensure_future(waiting)  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    if task.done():
        return True
    task.cancel()
    return False


def test_the_window_follows_the_last_write_between_its_bounds() -> None:
    class Reader:
        within = 9.0

    reader = Reader()
    window = BatchWindow(reader, shortest=0.05, longest=0.25)
    assert reader.within == 0.05  # idle: cut soon after the first event
    window.wrote(0.12)
    assert reader.within == 0.12
    window.wrote(3.0)
    assert reader.within == 0.25
    window.wrote(0.001)
    assert reader.within == 0.05
