"""The checkpoint's order for one batch: events → derived → offsets, with the processors
running while the events are inserted (`pipelines.ingest.checkpoint`).

What a crash or a failed insert may leave in the warehouse must stay what it was before
the processors ran beside the insert: derived rows only once the batch's events are all
stored, offsets only after both, and a write that failed anywhere restores the processors
before its retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import pytest

from pipelines.ingest.batch import Derived, IngestBatch, WriteResult
from pipelines.ingest.checkpoint import Checkpoint
from pipelines.ingest.sink import NewEvents


class Journal:
    """What reached the (fake) warehouse, in order, and from which thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[str] = []

    def add(self, entry: str) -> None:
        with self.lock:
            self.entries.append(entry)


class Sink:
    def __init__(self, journal: Journal, insert_seconds: float = 0.0,
                 fail_inserts: int = 0) -> None:
        self.journal = journal
        self.insert_seconds = insert_seconds
        self.fail_inserts = fail_inserts
        self.insert_threads: set[str] = set()

    def new_events(self, batch: IngestBatch) -> NewEvents:
        self.journal.add("new events")
        return NewEvents(WriteResult(batch.mentions, batch.posts, 0, 0), [])

    def insert_events(self, new: NewEvents) -> None:
        self.insert_threads.add(threading.current_thread().name)
        time.sleep(self.insert_seconds)
        if self.fail_inserts:
            self.fail_inserts -= 1
            self.journal.add("events insert failed")
            raise ConnectionError("the warehouse went away")
        self.journal.add("events stored")

    def write_derived(self, derived: Derived) -> None:
        self.journal.add("derived stored")

    def record_offsets(self, batch: IngestBatch, clocks: Mapping[int, datetime]) -> None:
        self.journal.add("offsets stored")


class Processors:
    def __init__(self, journal: Journal, fail: bool = False) -> None:
        self.journal = journal
        self.fail = fail
        self.offset_clocks: dict[int, datetime] = {}

    def process(self, batch: IngestBatch, result: WriteResult) -> Derived:
        self.journal.add("processed")
        if self.fail:
            self.fail = False
            raise RuntimeError("a processor failed")
        return Derived()


def checkpoint(sink: Sink, processors: Processors, journal: Journal) -> Checkpoint:
    def restore() -> Derived:
        journal.add("restored")
        return Derived()
    return Checkpoint(cast(Any, sink), cast(Any, processors), restore)


BATCH = IngestBatch("events", next_offsets={0: 10})


def test_processors_run_beside_the_insert_and_derived_rows_wait_for_it() -> None:
    journal = Journal()
    sink = Sink(journal, insert_seconds=0.3)
    cp = checkpoint(sink, Processors(journal), journal)
    cp.write(BATCH)
    assert journal.entries == ["new events", "processed", "events stored", "derived stored",
                               "offsets stored"]
    assert threading.current_thread().name not in sink.insert_threads


def test_a_failed_insert_fails_the_write_and_the_retry_restores_first() -> None:
    journal = Journal()
    cp = checkpoint(Sink(journal, fail_inserts=1), Processors(journal), journal)
    with pytest.raises(ConnectionError):
        cp.write(BATCH)
    assert cp.interrupted
    assert "derived stored" not in journal.entries and "offsets stored" not in journal.entries
    journal.entries.clear()
    cp.write(BATCH)
    assert journal.entries[0] == "restored"
    assert journal.entries[-3:] == ["events stored", "derived stored", "offsets stored"]
    assert not cp.interrupted


def test_a_failed_processor_waits_for_the_insert_before_the_write_gives_up() -> None:
    """Nothing of the batch may still be being written when the retry starts."""
    journal = Journal()
    cp = checkpoint(Sink(journal, insert_seconds=0.3), Processors(journal, fail=True), journal)
    with pytest.raises(RuntimeError):
        cp.write(BATCH)
    assert journal.entries == ["new events", "processed", "events stored"]
    journal.entries.clear()
    cp.write(BATCH)
    assert journal.entries[0] == "restored"
    assert journal.entries[-2:] == ["derived stored", "offsets stored"]
