"""Whether the stream worker is doing its job: the judgement behind `/health`.

`/health` used to say "ok" as long as the web server answered, while the broker
was down or every write failed. It now says "degraded", with a sentence per
cause, when

- the **broker** has not answered for `BROKER_SILENCE_SECONDS`: a thread of its
  own (`BrokerProbe`) asks it for the events topic's offsets every
  `PROBE_SECONDS`, so a busy or stuck event loop cannot make it look down, and
  the event loop never waits on the network for it;
- the **last write** of a batch to the warehouse failed (the batch is retried
  with back-off; its events wait in Kafka meanwhile);
- events **wait in Kafka** on this worker's partitions and no batch has been
  written for `STALL_SECONDS` (a write that hangs, or a consumer that stopped
  taking events: faust issues #175 and #640 describe consumers that slowly stop).

The same probe gives the consumer lag per partition (end offset minus the next
offset recorded in the warehouse) for `/health`, `/metrics` and `dorpspomp
status`, at most once per `PROBE_SECONDS`. The judgement itself (`assess`) is a
pure function of the counters and the last probe, so it is unit-tested without
a broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.ingest import kafkaadmin
from pipelines.ingest.batch import WriteResult
from pipelines.ingest.metrics import WorkerMetrics
from pipelines.settings import Settings

log = logging.getLogger("dorpspomp.health")

PROBE_SECONDS = 5.0  # how often the broker is asked for offsets
PROBE_TIMEOUT_SECONDS = 4.0  # how long one question may take
BROKER_SILENCE_SECONDS = 15.0  # no answer for this long: degraded
STALL_SECONDS = 60.0  # events wait and no batch was written for this long: degraded


@dataclass(frozen=True)
class BrokerView:
    """What the probes of the broker found so far."""

    answered: bool  # the latest question got an answer
    silence: float  # seconds since the last answer (since probing began, before any)
    error: str | None  # why the latest question got none
    end_offsets: Mapping[int, int]  # as of the last answer
    beginning_offsets: Mapping[int, int]


class BrokerProbe:
    """Asks the broker for the events topic's first and end offsets every `interval`
    seconds, in a daemon thread with its own kafka-python client, and keeps the answer."""

    def __init__(self, bootstrap: str, topic: str, *, interval: float = PROBE_SECONDS,
                 timeout: float = PROBE_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Any = None  # touched by the probe thread only
        self._began = clock()
        self._answered_at: float | None = None
        self._error: str | None = None
        self._ends: dict[int, int] = {}
        self._beginnings: dict[int, int] = {}

    def start(self) -> None:
        if self._thread is None:
            self._began = self._clock()
            self._thread = threading.Thread(target=self._run, name="dorpspomp-broker-probe",
                                            daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def view(self) -> BrokerView:
        now = self._clock()
        with self._lock:
            since = self._answered_at if self._answered_at is not None else self._began
            return BrokerView(
                answered=self._answered_at is not None and self._error is None,
                silence=max(0.0, now - since), error=self._error,
                end_offsets=dict(self._ends), beginning_offsets=dict(self._beginnings),
            )

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = self._clock()
                self.probe_once()
                self._stop.wait(max(0.0, self.interval - (self._clock() - started)))
        finally:
            if self._consumer is not None:
                # closing the client of a dead broker may fail; nothing is lost
                with contextlib.suppress(Exception):
                    self._consumer.close()

    def probe_once(self) -> None:
        try:
            if self._consumer is None:
                self._consumer = kafkaadmin.offset_reader(
                    self.bootstrap, self.timeout, client_id="dorpspomp-health",
                    reconnect_backoff_max_ms=2000)
            ends = kafkaadmin.end_offsets(self._consumer, self.topic)
            if not ends:
                raise LookupError(f"the broker does not know the topic {self.topic}")
            beginnings = kafkaadmin.beginning_offsets(self._consumer, self.topic)
        except Exception as exc:  # every failure means "no usable answer"
            with self._lock:
                self._error = describe(exc)
            return
        with self._lock:
            self._answered_at = self._clock()
            self._error = None
            self._ends = ends
            self._beginnings = beginnings


def describe(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return text or type(exc).__name__


@dataclass
class WorkerStats:
    """What the worker did since start-up (the counts live in `metrics`) and the state of
    its writes that `assess` judges. Changed only on the event loop."""

    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    started_at: float = field(default_factory=time.time)
    # The next offset per partition recorded in the warehouse: loaded at start, then
    # moved on by every batch this worker writes.
    recorded_offsets: dict[int, int] = field(default_factory=dict)
    last_batch_at: float | None = None  # wall clock, for display
    progress_at: float = field(default_factory=time.monotonic)  # last batch written, or start
    writing_since: float | None = None  # a batch is in the writer since then
    writing_events: int = 0
    failures_in_a_row: int = 0
    failing_since: float | None = None  # wall clock of the first failure in the row
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.metrics.start_time.set(self.started_at)

    def running(self) -> None:
        """The app has started: the stall clock starts now, not when state restore began."""
        self.progress_at = time.monotonic()

    def write_started(self, events: int) -> None:
        self.writing_since = time.monotonic()
        self.writing_events = events

    def write_failed(self, exc: BaseException) -> str:
        """Count a failed attempt; returns the error's first line (for the log)."""
        self.last_error = describe(exc)
        self.failures_in_a_row += 1
        if self.failing_since is None:
            self.failing_since = time.time()
        self.metrics.write_failures.inc()
        return self.last_error

    def batch_written(self, events: int, next_offsets: Mapping[int, int],
                      result: WriteResult, taken_at: float) -> None:
        """A batch of `events` messages is written and its offsets recorded (`next_offsets`:
        per partition, the offset after its last message); `taken_at` (monotonic) is when it
        was taken off the stream."""
        now = time.monotonic()
        for partition, offset in next_offsets.items():
            if offset > self.recorded_offsets.get(partition, 0):
                self.recorded_offsets[partition] = offset
        self.metrics.batch_written(
            events=events, mentions=len(result.mentions), posts=len(result.posts),
            dead_letters=result.dead_letters, duplicates=result.duplicates,
            seconds=max(0.0, now - taken_at))
        self.last_batch_at = time.time()
        self.progress_at = now
        self.writing_since = None
        self.writing_events = 0
        self.failures_in_a_row = 0
        self.failing_since = None

    def alerts_published(self, count: int) -> None:
        self.metrics.alert_states_published.inc(count)


@dataclass(frozen=True)
class Health:
    status: str  # "ok" or "degraded"
    reasons: list[str]
    lag: dict[int, int] | None  # per assigned partition; None before the broker answered


def consumer_lag(broker: BrokerView, recorded: Mapping[int, int],
                 assigned: Collection[int]) -> dict[int, int] | None:
    """End offset minus the next recorded offset (never below the partition's first
    offset, which retention may have moved) for each partition assigned to this worker."""
    if not broker.end_offsets:
        return None
    return {
        p: max(0, broker.end_offsets[p] - max(recorded.get(p, 0),
                                              broker.beginning_offsets.get(p, 0)))
        for p in sorted(assigned) if p in broker.end_offsets
    }


def assess(stats: WorkerStats, broker: BrokerView, assigned: Collection[int],
           bootstrap: str, now: float | None = None) -> Health:
    """ok or degraded, with a sentence per reason (see the module's text)."""
    now = time.monotonic() if now is None else now
    reasons: list[str] = []
    broker_down = not broker.answered and broker.silence >= BROKER_SILENCE_SECONDS
    if broker_down:
        reasons.append(
            f"the Kafka broker at {bootstrap} has not answered for {broker.silence:.0f} s "
            f"({broker.error or 'no answer yet'}); no events are read until it is back — "
            "check it with `dorpspomp broker status` or `dorpspomp status`")
    if stats.failures_in_a_row:
        since = (datetime.fromtimestamp(stats.failing_since, UTC).strftime("%H:%M:%S UTC")
                 if stats.failing_since else "start-up")
        attempts = ("the last write" if stats.failures_in_a_row == 1
                    else f"the last {stats.failures_in_a_row} writes")
        reasons.append(
            f"{attempts} of a batch to the warehouse failed (failing since {since}): "
            f"{stats.last_error}; the batch is retried with back-off and its events wait "
            "in Kafka — see the worker log")
    lag = consumer_lag(broker, stats.recorded_offsets, assigned)
    waiting = sum(lag.values()) if lag else 0
    idle = now - stats.progress_at
    if not broker_down and not stats.failures_in_a_row and waiting and idle >= STALL_SECONDS:
        if stats.writing_since is not None:
            reasons.append(
                f"a write of {stats.writing_events:,} events to the warehouse has been "
                f"running for {now - stats.writing_since:.0f} s while {waiting:,} events "
                "wait in Kafka — see the worker log")
        else:
            reasons.append(
                f"no batch was written for {idle:.0f} s while {waiting:,} events wait in "
                "Kafka on this worker's partitions: the consumer has stopped taking events "
                "— see the worker log, and restart the worker if it stays so")
    return Health("degraded" if reasons else "ok", reasons, lag)


def health_report(settings: Settings, stats: WorkerStats, health: Health,
                  broker: BrokerView) -> dict[str, Any]:
    """The JSON of `GET /health` (HTTP 200 whatever the status)."""
    metrics = stats.metrics
    lag = health.lag
    return {
        "status": health.status,
        "reasons": health.reasons,
        "pid": os.getpid(),
        "consumer_group": settings.consumer_group,
        "topic": settings.events_topic,
        "embedded_warehouse": settings.embedded,
        "uptime_s": round(time.time() - stats.started_at, 1),
        "batches": int(metrics.batches_written.value()),
        "events": int(metrics.events_consumed.value()),
        "mentions_written": int(metrics.mentions_written.value()),
        "posts_written": int(metrics.posts_written.value()),
        "dead_letters_written": int(metrics.dead_letters_written.value()),
        "duplicates_dropped": int(metrics.duplicates_dropped.value()),
        "alert_states": int(metrics.alert_states_published.value()),
        "write_failures": int(metrics.write_failures.value()),
        "last_error": stats.last_error,
        "last_batch_at": (
            datetime.fromtimestamp(stats.last_batch_at, UTC).isoformat()
            if stats.last_batch_at else None
        ),
        "broker_answered_s_ago": round(broker.silence, 1) if broker.answered else None,
        "consumer_lag": (
            {"total": sum(lag.values()), "per_partition": {str(p): n for p, n in lag.items()}}
            if lag is not None else None
        ),
    }


def update_gauges(metrics: WorkerMetrics, topic: str, health: Health,
                  broker: BrokerView) -> None:
    """The gauges of /metrics that come from the last probe and the judgement."""
    if health.lag is not None:
        metrics.set_consumer_lag(topic, health.lag)
    metrics.set_broker(broker.answered, broker.silence)
    metrics.health_degraded.set(0 if health.status == "ok" else 1)
