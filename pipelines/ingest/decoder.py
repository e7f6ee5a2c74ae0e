"""Raw Kafka messages → a labelled `IngestBatch`, in the worker or in a process beside it.

Decoding and labelling a batch is a pure function of its messages, the roster and the
classifier, and it is the part of the ingest step that holds no state (so are the 64-bit
digests of the event ids the duplicate check needs, `pipelines.ingest.seenids`, made here too): so
it can run in a
second process while the worker's own process writes the batch before it (the warehouse,
the duplicate check and the stream processors stay in the worker: chDB allows one process
per data directory, and the processors' state is the worker's). Two cores then work on
two batches at once. The batch goes there as columns (`batchconsumer.RawMessages`: the
values in one buffer, partitions and offsets as arrays) and comes back as Arrow buffers
(pickled `pyarrow.Table`s), which costs far less than decoding it.

`DORPSPOMP_DECODE_PROCESSES` says how many such processes (default 1; 0: the worker
decodes itself, between writes, as on a one-core machine). The processes start with
`spawn`, not `fork`: the worker's process holds threads (the warehouse writer, chDB's
own, the web server's) that a fork would copy mid-state.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.batchconsumer import RawMessages
from pipelines.ingest.columnar import JoinedValues, decode_batch
from pipelines.ingest.enrich import label_table
from pipelines.ingest.nopandas import refuse_pandas
from pipelines.ingest.seenids import digests
from pipelines.roster import Roster
from pipelines.textmodel.classify import Column, TextClassifier, load_classifier

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Messages = Sequence[tuple[int, int, bytes | None]]
Timestamps = Sequence[float | None] | np.ndarray


def decode_messages(
    topic: str, messages: Messages, timestamps: Timestamps | None,
    roster: Roster, classifier: TextClassifier, max_future: timedelta,
) -> IngestBatch:
    """Decode the batch as columns (`pipelines.ingest.columnar`) and label it; `messages` are
    (partition, offset, value) or, from the batch consumer, `RawMessages`; `timestamps` are
    the messages' Kafka timestamps in seconds, in the same order (None, NaN or ≤ 0 for a
    message without one: taken as received now, by this process's clock)."""
    now_ms = time.time_ns() // 1_000_000
    stamps = np.full(len(messages), now_ms, dtype=np.int64)
    if timestamps is not None and len(stamps):
        seconds = np.asarray(timestamps, dtype=np.float64)  # None -> NaN
        known = seconds > 0
        stamps[known] = np.round(seconds[known] * 1000)
    if isinstance(messages, RawMessages):
        parts, offsets, values = messages.partitions, messages.offsets, messages.values
    else:
        parts = np.fromiter((m[0] for m in messages), np.int64, len(messages))
        offsets = np.fromiter((m[1] for m in messages), np.int64, len(messages))
        values = JoinedValues.of([m[2] for m in messages])
    decoded = decode_batch(
        topic, parts, offsets, values, stamps, roster, max_future=max_future,
        ingested_at=_EPOCH + timedelta(milliseconds=now_ms))
    batch = IngestBatch(
        topic=topic, mentions=label_table(decoded.mentions, classifier), posts=decoded.posts,
        dead_letters=decoded.dead_letters, next_offsets=decoded.next_offsets)
    batch.digests = digests(batch.event_ids())
    return batch


class FallbackClassifier:
    """The classifier of a worker whose decode process labels: loaded at its first use.

    With a decode process the worker's own process labels only when that process died
    (`pipelines.ingest.worker` then decodes itself), so the model it would keep for that case
    (46 MiB of lexicons and weights) is not loaded until then; it costs that process's peak
    memory otherwise (`dorpspomp bench`'s memory phase)."""

    def __init__(self, load: Callable[[], TextClassifier] = load_classifier) -> None:
        self._load = load
        self._model: TextClassifier | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def score(self, texts: Column, langs: Column) -> tuple[list[bool], list[float]]:
        with self._lock:
            if self._model is None:
                log.info("loading the text classifier in the worker's own process (its decode "
                         "process is gone)")
                self._model = self._load()
        return self._model.score(texts, langs)


class BatchDecoder:
    """Decodes batches in this process or in `processes` processes beside it."""

    def __init__(self, roster: Roster, classifier: TextClassifier, max_future: timedelta,
                 *, processes: int = 0) -> None:
        self.roster = roster
        self.classifier = classifier
        self.max_future = max_future
        self.pool: ProcessPoolExecutor | None = None
        if processes > 0:
            self.pool = ProcessPoolExecutor(
                processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child, initargs=(roster, max_future))

    def decode(self, topic: str, messages: Messages,
               timestamps: Timestamps | None = None) -> IngestBatch:
        """Here, now."""
        return decode_messages(topic, messages, timestamps, self.roster, self.classifier,
                               self.max_future)

    def submit(self, topic: str, messages: Messages,
               timestamps: Timestamps | None = None) -> Future[IngestBatch]:
        """In a decode process when there is one (else here, done at once)."""
        if self.pool is None:
            done: Future[IngestBatch] = Future()
            try:
                done.set_result(self.decode(topic, messages, timestamps))
            except Exception as exc:
                done.set_exception(exc)
            return done
        return self.pool.submit(_decode_in_child, topic, messages, timestamps)

    def start(self) -> None:
        """Start the decode processes (they load their classifier) now, not at the first
        batch; does not wait for them."""
        if self.pool is not None:
            self.pool.submit(_decode_in_child, "", [], None)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


# -- in a decode process -------------------------------------------------------------------

_child: tuple[Roster, TextClassifier, timedelta] | None = None


def _start_child(roster: Roster, max_future: timedelta) -> None:
    global _child
    follow_parent()
    refuse_pandas()
    # Arrow's default pool (mimalloc) hands the pages of a freed batch back to the system
    # between batches, and the next batch faults them in again; the C library's allocator
    # keeps them: 0.26-0.35 against 0.44-0.62 µs of system time an event in this process
    # (batches of 20 000 simulated events, alternate runs, load 4-7), the same user time.
    pa.set_memory_pool(pa.system_memory_pool())
    _child = (roster, load_classifier(), max_future)


def follow_parent(every: float = 1.0) -> None:
    """End this process when the one that started it is gone (a worker killed with
    SIGKILL, or one that left with `os._exit`, never shuts its pool down)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def _decode_in_child(topic: str, messages: Messages,
                     timestamps: Timestamps | None) -> IngestBatch:
    if _child is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("decode process started without its roster")
    roster, classifier, max_future = _child
    return decode_messages(topic, messages, timestamps, roster, classifier, max_future)
