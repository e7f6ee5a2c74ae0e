"""A decoded batch's checkpoint: the one order in which its results leave the worker.

    write events → run the processors → write what they derived → record the offsets
    (all in the warehouse, in the writer thread; safe to repeat)
    → publish the alert states (alerts topic, webhook) → commit Kafka's offsets

The processors run while the events are being inserted, in a thread beside (chDB lets go
of the GIL while it writes): they need to know which events are new, not that they are
stored, and what they derived is written only once the insert is done, so the order of
what reaches the warehouse is the one above. A live batch of 2 500 events had its
`mention_responses` rows stored 33-62 ms sooner on average (242 → 209 and 242 → 181 ms
after the write began, alternate runs at load 10), its mentions ~20 ms later (the insert
waits for the GIL between its steps while the tracker holds it).

Why this order: the warehouse's recorded offsets are what a restarting worker resumes
from (`pipelines.ingest.worker`), so they are written only after everything the batch
produced is stored; alerts go out only once their states are stored (a restart re-emits
nothing the warehouse already has, `alerts_state` keeps one row per version); Kafka's
committed offsets follow for tools. A failed write is retried with a growing pause until it
succeeds — the consumer does not read on meanwhile — and a retry after a failure part-way
first rebuilds the processors' state from the warehouse, which may hold part of the batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent import futures
from concurrent.futures import Executor, ThreadPoolExecutor

from pipelines.ingest.batch import Derived, IngestBatch, WriteResult
from pipelines.ingest.health import WorkerStats
from pipelines.ingest.sink import WarehouseSink
from pipelines.processing.alerts import Alert
from pipelines.processing.processors import StreamProcessors

log = logging.getLogger("dorpspomp.worker")

WRITE_RETRY_SECONDS = (0.5, 1, 2, 5, 10, 30)
"""Pauses between attempts to write a batch (the last one repeats)."""

STOP_GRACE_SECONDS = 60
"""How long a stop request waits for a batch being written before the process leaves."""


class Checkpoint:
    """Owns the order above for every batch; `write` is its warehouse half (no asyncio: it
    runs in the writer thread), `complete` the whole of it from the event loop."""

    def __init__(self, sink: WarehouseSink, processors: StreamProcessors,
                 restore: Callable[[], Derived]) -> None:
        self.sink = sink
        self.processors = processors
        self.restore = restore
        # Set while a batch is being written: if it is still set when the next call comes,
        # the previous one failed part-way (some rows may be written, the processors' memory
        # may be ahead of the warehouse), so the state is rebuilt before the batch is tried
        # again.
        self._interrupted = False
        # The alert states of the last batch written and not published yet (a stop came
        # between): a clean stop's state file carries them, to be published at the next start.
        self.unpublished: list[Alert] = []
        self._events_writer = ThreadPoolExecutor(1, thread_name_prefix="events-insert")

    @property
    def interrupted(self) -> bool:
        """Whether the last write failed part-way (the processors may be ahead of the
        warehouse until the next write restores them)."""
        return self._interrupted

    def write(self, batch: IngestBatch) -> tuple[WriteResult, Derived]:
        """Events, derived rows and offsets of one batch into the warehouse."""
        recovered: list[Alert] = []
        if self._interrupted:
            recovered = self.restore().alerts
        self._interrupted = True
        new = self.sink.new_events(batch)
        # The processors need only to know which events are new, not that they are stored:
        # they run while the events are inserted, and what they derived is written once the
        # events are in (a retry after either failed restores the processors first).
        inserting = self._events_writer.submit(self.sink.insert_events, new)
        try:
            derived = self.processors.process(batch, new.result)
        finally:
            futures.wait([inserting])
        inserting.result()
        result = new.result
        self.sink.write_derived(derived)
        self.sink.record_offsets(batch, self.processors.offset_clocks)
        self._interrupted = False
        if recovered:
            derived.alerts[:0] = recovered
        self.unpublished = list(derived.alerts)
        return result, derived

    async def complete(
        self, batch: IngestBatch, *, events: int, taken_at: float, writer: Executor,
        stats: WorkerStats,
        publish: Callable[[Sequence[Alert]], Awaitable[None]],
        commit: Callable[[Mapping[int, int]], Awaitable[None]],
    ) -> None:
        """`write` in the writer thread until it succeeds, then publish and commit. `events`
        is the number of messages the batch was decoded from, `taken_at` (monotonic) when it
        was taken off the stream."""
        loop = asyncio.get_running_loop()
        attempt = 0
        stats.write_started(events)
        while True:
            task = loop.run_in_executor(writer, self.write, batch)
            try:
                # A stop request must not cut a write in half: the events of this batch
                # are acked as soon as this function returns or raises.
                result, derived = await asyncio.shield(task)
            except asyncio.CancelledError:
                try:
                    result, derived = await asyncio.wait_for(asyncio.shield(task),
                                                             timeout=STOP_GRACE_SECONDS)
                except Exception:
                    log.error("stopped while a batch was being written; it will be re-read")
                    _exit_without_commit()
                stats.batch_written(events, batch.next_offsets, result, taken_at)
                raise
            except Exception as exc:
                error = stats.write_failed(exc)
                delay = WRITE_RETRY_SECONDS[min(attempt, len(WRITE_RETRY_SECONDS) - 1)]
                log.error("writing a batch of %d events failed (%s); retrying in %ss",
                          events, error, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            stats.batch_written(events, batch.next_offsets, result, taken_at)
            stats.alerts_published(len(derived.alerts))
            await publish(derived.alerts)
            self.unpublished = []
            await commit(batch.next_offsets)
            return


def _exit_without_commit() -> None:
    """Leave at once so that no offset of an unwritten batch gets committed."""
    logging.shutdown()
    os._exit(70)
