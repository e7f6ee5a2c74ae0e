"""Freshness and alert latency: a steady live stream against a running worker.

The simulated world goes on where the pre-loaded events stopped, sped up so that its
natural volume comes out at the asked rate (events/s). Every event is handed to the
producer when the wall clock reaches its place in simulated time (in ticks of what is due,
looked at every 5 ms; the producer lingers up to 20 ms for more of a partition's events,
as a collector's would), and that send time is kept. Meanwhile:

- a prober asks the warehouse, through the same read-only endpoint the dashboard uses,
  every `poll` seconds (or as often as its two queries allow) which sampled events have
  become visible, each table's query on its own clock: a sampled mention is
  visible in `org_activity_1m` when its organisation-minute counts at least as many
  mentions as were sent for it up to and including that one (an organisation's events
  share a partition and are written in order), and in `mention_responses` when its row
  is there. Freshness = first poll that sees it − its send time, so it is measured to
  within one poll interval, which the results state. The probes read only the
  organisations and minutes still waited for, through the tables' sort keys: they run in
  the worker's process, beside what they measure (`Prober`);
- a listener reads the alerts topic. A surge alert's `opened_at` is the end of the
  minute that made the surge detectable; the data made it detectable when the first
  event after that instant was sent (until then the minute is not known to be over).
  Alert latency = the alert's arrival on the topic − that send time.
"""

from __future__ import annotations

import bisect
import math
import os
import resource
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.services import BenchError, Broker, WorkerProcess, children
from bench.stats import summary
from dashboard.data import sql_time
from pipelines.ingest.kafkabatch import KEY_PARTITIONER
from pipelines.serving.readapi import WarehouseReader
from pipelines.simulate import Surge, World
from pipelines.warehouse import as_utc

SAMPLES_PER_SECOND = 200  # sampled mentions: one in rate / this (one in 25 at 5 000/s)
TICK = 0.005  # seconds between looks at the schedule
LINGER_MS = 20  # the producer's wait for more events of a partition before it sends


@dataclass
class Planned:
    """The live stream, generated before the clock starts so sending costs only the send."""

    start: datetime
    speedup: float
    due: list[float] = field(default_factory=list)      # seconds after the start
    t_ms: list[int] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    samples: dict[int, tuple[str, str, int, bool]] = field(default_factory=dict)
    sample_every: int = 1
    surges: list[Surge] = field(default_factory=list)


def plan(world: World, start: datetime, rate: float, seconds: float) -> Planned:
    """`seconds` of the world from `start`, at `rate` events per second."""
    natural = world.expected_events_per_day() / 86_400
    speedup = rate / natural
    end = start + timedelta(seconds=seconds * speedup)
    # The probes' queries run in the worker's process and name every sample still waited
    # for, so their cost grows with the samples per second: a fixed rate of them keeps
    # what is measured from being slowed by the measuring (at one in 25, the probes took
    # about a sixth of the worker's CPU at 50 000 events/s).
    planned = Planned(start, speedup, sample_every=max(1, round(rate / SAMPLES_PER_SECOND)))
    start_ms = int(start.timestamp() * 1000)
    per_minute: dict[tuple[str, int], int] = defaultdict(int)
    org_ids = [org.id for org in world.orgs]
    mentions = 0
    for t_ms, org_index, _, line in world.stream(start, end=end, on_surge=planned.surges.append):
        index = len(planned.lines)
        org_id = org_ids[org_index]
        planned.due.append((t_ms - start_ms) / 1000 / speedup)
        planned.t_ms.append(t_ms)
        planned.keys.append(org_id.encode())
        planned.lines.append(line)
        if not line.startswith(b'{"type":"mention"'):
            continue
        minute = t_ms // 60_000 * 60_000
        per_minute[(org_id, minute)] += 1
        mentions += 1
        if mentions % planned.sample_every == 0:
            event = orjson.loads(line)
            planned.samples[index] = (event["event_id"], org_id, per_minute[(org_id, minute)],
                                      event.get("kind") != "share")
    return planned


@dataclass
class Sample:
    event_id: str
    org_id: str
    minute: datetime
    ordinal: int          # mentions of this org-minute sent up to and including this one
    actionable: bool
    sent: float
    in_activity: float | None = None
    in_responses: float | None = None


class Prober(threading.Thread):
    """Polls the warehouse for the sampled events not yet visible in the two tables.

    Each table's query has its own clock: a sample counts as visible at the start of the
    first query of its table that sees it (a query reads the parts there were when it
    began), so each figure is an upper bound within one poll (`cycles` holds how long
    each poll took, both queries and the pause).

    The queries run in the worker's process (chDB is one process), beside what they
    measure, so they read as little as they can: the organisations and the span of
    minutes of the samples still waited for, through each table's sort key, which starts
    with (org_id, created_at). `org_activity_1m` is a view that counts `mentions` on read
    (migration 0002), but its `minute` (toDateTime64 of the minute, with a time zone)
    does not reach that key: a probe through the view read every stored mention each poll
    (`EXPLAIN indexes=1`: all granules; ~25 ms of the worker's CPU at 250 000 mentions, a
    poll every 0.2 s, growing with the table). So its probe counts each
    organisation-minute's mentions from `mentions` as the view does, on a `created_at`
    range, and `view_check` asks the view itself once the stream is drained: every
    sample's organisation-minute must count at least its ordinal there too. Likewise the
    `mention_responses` probe reads the table behind that view
    (`mention_responses_by_time`, which the view reads with FINAL and the watermark's
    subquery: a row is in one as soon as in the other; 5.7-6.9 against 9.4 ms of CPU a
    probe at 36 000 mentions, load 11), and `view_check` finds its samples in the view."""

    TABLES = ("org_activity_1m", "mention_responses")

    def __init__(self, reader: WarehouseReader, poll: float) -> None:
        super().__init__(name="freshness-prober", daemon=True)
        self.reader = reader
        self.poll = poll
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.cycles: list[float] = []

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def outstanding(self) -> int:
        with self.lock:
            return sum(1 for s in self.samples
                       if s.in_activity is None or (s.actionable and s.in_responses is None))

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            for table in self.TABLES:
                try:
                    self._poll_once(table)
                except Exception as exc:  # the worker is busy or restarting: note it, go on
                    self.errors.append(str(exc).splitlines()[0][:200])
            self.stopping.wait(max(0.0, self.poll - (time.perf_counter() - started)))
            self.cycles.append(time.perf_counter() - started)

    def _poll_once(self, table: str) -> None:
        with self.lock:
            if table == "org_activity_1m":
                waiting = [s for s in self.samples if s.in_activity is None]
            else:
                waiting = [s for s in self.samples if s.actionable and s.in_responses is None]
        if not waiting:
            return
        span = {"orgs": sorted({s.org_id for s in waiting}),
                "since": sql_time(min(s.minute for s in waiting)),
                "until": sql_time(max(s.minute for s in waiting) + timedelta(minutes=1))}
        now = time.perf_counter()
        if table == "org_activity_1m":
            # Only the organisation-minutes waited for come back: at the burst's speed-up
            # the span holds tens of thousands of them, and the whole grid cost each poll
            # hundreds of ms in both processes (poll p95 0.77 s at 48 000 events/s).
            keys = sorted({_minute_key(s.org_id, s.minute) for s in waiting})
            counts = self.reader.query(
                "SELECT concat(org_id, '|', formatDateTime(created_at, '%Y%m%d%H%i')) AS key, "
                "count() AS mentions FROM mentions "
                "WHERE org_id IN {orgs:Array(String)} "
                "AND created_at >= {since:DateTime64(3, 'UTC')} "
                "AND created_at < {until:DateTime64(3, 'UTC')} "
                "AND key IN {keys:Array(String)} GROUP BY key",
                {**span, "keys": keys},
            )
            seen = dict(zip(counts.column("key").to_pylist(),
                            counts.column("mentions").to_pylist(), strict=True))
            for s in waiting:
                if seen.get(_minute_key(s.org_id, s.minute), 0) >= s.ordinal:
                    s.in_activity = now
        else:
            rows = self.reader.query(
                "SELECT mention_id FROM mention_responses_by_time "
                "WHERE org_id IN {orgs:Array(String)} "
                "AND created_at >= {since:DateTime64(3, 'UTC')} "
                "AND created_at < {until:DateTime64(3, 'UTC')} "
                "AND mention_id IN {ids:Array(String)}",
                {**span, "ids": [s.event_id for s in waiting]},
            ).column("mention_id").to_pylist()
            visible = set(rows)
            for s in waiting:
                if s.event_id in visible:
                    s.in_responses = now

    def view_check(self) -> dict[str, int]:
        """The samples the `org_activity_1m` probe saw, asked of the view itself: how many
        of them it counts (at least their ordinal in their organisation-minute); and how many
        of the samples the `mention_responses` probe saw that view has."""
        seen_samples = [s for s in self.samples if s.in_activity is not None]
        if not seen_samples:
            return {"samples": 0, "counted_by_view": 0}
        counts = self.reader.query(
            "SELECT org_id, minute, mentions FROM org_activity_1m "
            "WHERE org_id IN {orgs:Array(String)} AND minute >= {since:DateTime64(3, 'UTC')} "
            "AND minute <= {until:DateTime64(3, 'UTC')}",
            {"orgs": sorted({s.org_id for s in seen_samples}),
             "since": sql_time(min(s.minute for s in seen_samples)),
             "until": sql_time(max(s.minute for s in seen_samples))},
        ).to_pylist()
        seen = {(r["org_id"], as_utc(r["minute"])): r["mentions"] for r in counts}
        answered = [s for s in self.samples if s.in_responses is not None]
        in_view = set(self.reader.query(
            "SELECT mention_id FROM mention_responses WHERE mention_id IN {ids:Array(String)}",
            {"ids": [s.event_id for s in answered]},
        ).column("mention_id").to_pylist()) if answered else set()
        return {"samples": len(seen_samples),
                "counted_by_view": sum(seen.get((s.org_id, s.minute), 0) >= s.ordinal
                                       for s in seen_samples),
                "responses_samples": len(answered),
                "in_responses_view": sum(s.event_id in in_view for s in answered)}


class AlertListener(threading.Thread):
    """Reads the alerts topic from its current end; keeps each alert's first open state."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="alert-listener", daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = [TopicPartition(topic, p)
                      for p in sorted(self.consumer.partitions_for_topic(topic) or ())]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end(*partitions)
        for tp in partitions:  # pin the start now, before any alert of this phase exists
            self.consumer.position(tp)
        self.opened: dict[str, tuple[dict[str, Any], float]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for records in self.consumer.poll(timeout_ms=100).values():
                    arrived = time.perf_counter()
                    for record in records:
                        alert = orjson.loads(record.value)
                        if alert.get("kind") == "complaint_surge" and alert["alert_id"] \
                                not in self.opened:
                            self.opened[alert["alert_id"]] = (alert, arrived)
        finally:
            self.consumer.close()


def run_live(broker: Broker, worker: WorkerProcess, planned: Planned,
             poll: float = 0.2, drain_timeout: float = 120) -> dict[str, Any]:
    """Send the planned stream on time; measure freshness and surge-alert latency."""
    settings = worker.settings
    reader = WarehouseReader(settings)
    prober = Prober(reader, poll)
    listener = AlertListener(broker.bootstrap, settings.alerts_topic)
    listener.start()
    prober.start()
    cpu_before = cpu_seconds(worker)
    own_before, broker_before = _own_cpu_seconds(), tree_cpu_seconds(broker.pid())
    try:
        sent_at, behind, sending = _send(broker.bootstrap, settings.events_topic, planned,
                                         prober)
        sent = time.perf_counter()
        deadline = time.monotonic() + drain_timeout
        while prober.outstanding() and time.monotonic() < deadline:
            time.sleep(poll)
        caught_up = time.perf_counter() - sent
        cpu = cpu_seconds(worker) - cpu_before
        own = _own_cpu_seconds() - own_before
        broker_cpu = tree_cpu_seconds(broker.pid()) - broker_before
        time.sleep(2)  # the last alerts of the stream
    finally:
        prober.stopping.set()
        listener.stopping.set()
        prober.join(10)
        listener.join(10)
    try:
        view_check = prober.view_check()
    finally:
        reader.close()

    samples = prober.samples
    latencies = []
    for alert, arrived in listener.opened.values():
        opened_ms = _ms(alert["opened_at"])
        first_after = bisect.bisect_left(planned.t_ms, opened_ms)
        if first_after < len(sent_at):
            latencies.append(arrived - sent_at[first_after])
    return {
        "rate_planned": round(len(planned.lines) / max(planned.due[-1], 1e-9)) if planned.due
        else 0,
        "events": len(planned.lines),
        "seconds": round(sending, 2),
        "events_per_second": round(len(planned.lines) / max(sending, 1e-9)),
        "most_behind_seconds": round(behind, 3),
        # from the last send until every sample was seen in both tables (within a poll)
        "caught_up_after_seconds": round(caught_up, 2),
        # the worker's process and its decode and surge-detector processes, sending and
        # catching up, prober's queries included: CPU time, whatever else ran on the machine
        "worker_cpu_us_per_event": round(cpu / max(len(planned.lines), 1) * 1e6, 1),
        # what shares the two cores with it over the same span: this process (the sender,
        # the probes and the alert listener) and the broker
        "bench_process_cpu_us_per_event": round(own / max(len(planned.lines), 1) * 1e6, 1),
        "broker_cpu_us_per_event": round(broker_cpu / max(len(planned.lines), 1) * 1e6, 1),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "speedup": round(planned.speedup),
        "simulated_hours": round(planned.due[-1] * planned.speedup / 3600, 1) if planned.due
        else 0,
        "poll_seconds": poll,
        # how long the polls took: each table's freshness is within one of its polls
        "poll_cycle_p95_seconds": summary(prober.cycles).get("p95"),
        "samples": len(samples),
        "org_activity_1m": summary([s.in_activity - s.sent for s in samples
                                    if s.in_activity is not None],
                                   missing=sum(s.in_activity is None for s in samples)),
        "mention_responses": summary([s.in_responses - s.sent for s in samples
                                      if s.actionable and s.in_responses is not None],
                                     missing=sum(s.actionable and s.in_responses is None
                                                 for s in samples)),
        "surge_alert_latency": summary(latencies),
        "org_activity_1m_view_check": view_check,
        "probe_errors": prober.errors[:5],
    }


def _send(bootstrap: str, topic: str, planned: Planned,
          prober: Prober) -> tuple[list[float], float, float]:
    """Hand every planned event to the producer once the clock reaches its due time, in
    ticks of whatever is due. Returns each event's send time, how far behind the schedule
    a tick ever was, and the seconds the whole stream took.

    The producer is librdkafka's (confluent-kafka), lingering `LINGER_MS` as a collector's
    producer would; each event goes to the partition `pipelines.ingest.kafkabatch` keys it
    to. The sender shares the two cores with the worker and the broker, so it must be
    light: at 50 000 events/s, aiokafka batches per tick took 0.55-0.75 of a core and
    reached ~47 000/s, with the broker at 0.3-0.8; librdkafka 0.10-0.13, the broker
    0.07-0.10 (this pacing against the benchmark's broker, 8 s at 50 000 events/s, no
    worker running, 2026-12-05)."""
    from confluent_kafka import KafkaException, Producer

    failed: list[str] = []  # deliveries the broker refused
    said: list[str] = []  # what librdkafka reported besides (it retries on its own)

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1,
                         "linger.ms": LINGER_MS, "batch.size": 1024 * 1024,
                         "message.max.bytes": 8 * 1024 * 1024,
                         "error_cb": lambda error: said.append(str(error))})
    try:
        metadata = producer.list_topics(topic, timeout=30).topics[topic]
    except KafkaException as exc:
        raise BenchError(f"the live stream's topic {topic} is not on the broker: {exc}") from exc
    partitions = sorted(metadata.partitions)
    if not partitions:
        raise BenchError(f"the broker lists no partition of the live stream's topic {topic}"
                         f" ({metadata.error or 'no error given'})")
    partition_of = {key: KEY_PARTITIONER(key, partitions, partitions)
                    for key in set(planned.keys)}
    targets = [partition_of[key] for key in planned.keys]
    produce, keys, lines, due = producer.produce, planned.keys, planned.lines, planned.due
    sent_at: list[float] = []
    behind = 0.0
    begin = time.perf_counter()
    i = 0
    while i < len(due):
        now = time.perf_counter()
        if due[i] > now - begin:
            # to the first tick at or after the next event's due time (waking for each
            # event sent them one or two at a time)
            time.sleep(math.ceil(due[i] / TICK) * TICK - (now - begin))
            continue
        behind = max(behind, now - begin - due[i])
        j = bisect.bisect_right(due, now - begin, lo=i)
        for k in range(i, j):
            while True:
                try:
                    produce(topic, lines[k], keys[k], partition=targets[k],
                            on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let it drain
                    producer.poll(0.05)
        producer.poll(0)
        sent_at += [now] * (j - i)
        for k in range(i, j):
            chosen = planned.samples.get(k)
            if chosen is not None:
                event_id, org_id, ordinal, actionable = chosen
                minute = datetime.fromtimestamp(planned.t_ms[k] // 60_000 * 60, UTC)
                prober.add(Sample(event_id, org_id, minute, ordinal, actionable, now))
        i = j
    left = producer.flush(60)
    if left or failed:
        raise BenchError(f"the live stream was not all delivered: {len(failed):,} refused, "
                         f"{left:,} still in the producer after 60 s; "
                         f"{'; '.join((failed + said)[:5]) or 'no error reported'}")
    return sent_at, behind, time.perf_counter() - begin


def cpu_seconds(worker: WorkerProcess) -> float:
    """User and system CPU seconds the worker's process and its child processes (decode,
    surge detector) have used so far, from /proc (0 where there is none). A child that
    exits in between takes its seconds with it."""
    return tree_cpu_seconds(worker.process.pid) if worker.process is not None else 0.0


def tree_cpu_seconds(root: int | None) -> float:
    """User and system CPU seconds of process `root` and its descendants, from /proc."""
    if root is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        proc = Path(f"/proc/{pid}")
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        try:
            pending += children(pid)
        except OSError:  # it ended meanwhile
            continue
    return total


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _minute_key(org_id: str, minute: datetime) -> str:
    """An organisation-minute as the org_activity_1m probe names it."""
    return f"{org_id}|{minute:%Y%m%d%H%M}"


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
