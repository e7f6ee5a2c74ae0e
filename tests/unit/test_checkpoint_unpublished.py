"""A stop that comes while a batch is being written lets the write finish but not the
publishing; the checkpoint keeps that batch's alert states (`Checkpoint.unpublished`) so
that a clean stop's state file carries them to the next start (`pipelines.ingest.statefile`),
which would otherwise not emit them again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from pipelines.ingest.batch import Derived, IngestBatch, WriteResult
from pipelines.ingest.checkpoint import Checkpoint
from pipelines.ingest.health import WorkerStats
from pipelines.ingest.sink import NewEvents
from pipelines.processing.alerts import Alert

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def alert(org: str) -> Alert:
    return Alert(alert_id=f"sla_breach:{org}:1", org_id=org, kind="sla_breach", status="open",
                 opened_at=AT, resolved_at=None, severity=1.0, observed=3, expected=0.0,
                 summary="3 waiting past SLA", sample_event_ids=(), updated_at=AT, version=1)


class Sink:
    """The warehouse half, in memory: a write can be held until the test lets it go."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.go.set()
        self.writing = threading.Event()

    def new_events(self, batch: IngestBatch) -> NewEvents:
        self.writing.set()
        self.go.wait(10)
        return NewEvents(WriteResult(batch.mentions, batch.posts, 0, 0), [])

    def insert_events(self, new: NewEvents) -> None:
        pass

    def write_derived(self, derived: Derived) -> None:
        pass

    def record_offsets(self, batch: IngestBatch, clocks: Mapping[int, datetime]) -> None:
        pass


class Processors:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.offset_clocks: dict[int, datetime] = {}

    def process(self, batch: IngestBatch, result: WriteResult) -> Derived:
        return Derived(alerts=list(self.alerts))


def test_a_batch_stopped_before_publishing_keeps_its_alert_states() -> None:
    sink, processors = Sink(), Processors()
    checkpoint = Checkpoint(cast(Any, sink), cast(Any, processors), Derived)
    published: list[Alert] = []

    async def publish(alerts: Sequence[Alert]) -> None:
        published.extend(alerts)

    async def commit(offsets: Mapping[int, int]) -> None:
        pass

    async def run() -> None:
        writer = ThreadPoolExecutor(1)
        stats = WorkerStats()

        def complete() -> asyncio.Future[None]:
            return asyncio.ensure_future(checkpoint.complete(
                IngestBatch("events", next_offsets={0: 1}), events=1, taken_at=0.0,
                writer=writer, stats=stats, publish=publish, commit=commit))

        processors.alerts = [alert("a")]
        await complete()
        assert [a.org_id for a in published] == ["a"]
        assert checkpoint.unpublished == []

        # a stop while the next batch is in the writer: it is written, not published
        processors.alerts = [alert("b"), alert("c")]
        sink.go.clear()
        sink.writing.clear()
        task = complete()
        while not sink.writing.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        sink.go.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        writer.shutdown()

    asyncio.run(run())
    assert [a.org_id for a in published] == ["a"]
    assert [a.org_id for a in checkpoint.unpublished] == ["b", "c"]
    assert not checkpoint.interrupted
