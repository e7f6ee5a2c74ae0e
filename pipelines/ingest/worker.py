"""The stream worker: a faust-streaming app that owns the ingest path.

The faust app gives the worker its lifecycle, web server (`/health`, `/metrics`,
`/login`, `/query`), producer and tasks; the events topic itself is read in raw
batches by `pipelines.ingest.batchconsumer` (faust's per-message stream cost ~135 µs per
event here). Per batch: decode and validate, label, write to the warehouse
idempotently, run the stream processors, write what they derived, record the
written offsets — all in one warehouse thread so the event loop stays free for
heartbeats and the web server. In embedded mode this process owns the chDB
warehouse and serves read-only queries to the CLI and the dashboard.

Offsets: what counts is what the warehouse says. The worker records there, after
each write, the next offset per partition; on every partition assignment the
consumer seeks to those positions. Whatever happens — SIGKILL, a crash mid-write,
a rebalance — the worker resumes at or before the first event that is not in the
warehouse, and the sink's look-up drops what was already written. Kafka's committed
offsets follow the warehouse's, for tools only.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import os
import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import faust
import faust.web
import orjson
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipelines.ingest import kafkaadmin, statefile
from pipelines.ingest.batch import Derived, IngestBatch, WriteResult
from pipelines.ingest.batchconsumer import BatchConsumer, RawBatch
from pipelines.ingest.checkpoint import Checkpoint
from pipelines.ingest.coalesce import MIN_BATCH_SECONDS, BatchWindow, WriteQueue, merge
from pipelines.ingest.decoder import BatchDecoder, FallbackClassifier, decode_messages
from pipelines.ingest.health import (
    BrokerProbe,
    BrokerView,
    Health,
    WorkerStats,
    assess,
    health_report,
    update_gauges,
)
from pipelines.ingest.kafkabatch import RecordTooLarge, send_keyed
from pipelines.ingest.leanfaust import lean_app
from pipelines.ingest.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from pipelines.ingest.nopandas import refuse_pandas
from pipelines.ingest.restore import undelivered_alert_states
from pipelines.ingest.sink import WarehouseSink
from pipelines.processing.alerts import Alert
from pipelines.processing.notify import WebhookNotifier
from pipelines.processing.processors import StepClock, StreamProcessors
from pipelines.roster import Roster, load_roster
from pipelines.serving.queryserver import QueryService
from pipelines.serving.queryserver import register as register_queries
from pipelines.settings import Settings
from pipelines.textmodel.classify import TextClassifier, load_classifier
from pipelines.warehouse import Warehouse

log = logging.getLogger("dorpspomp.worker")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


class IngestProcessor:
    """Decode → label, then the batch's checkpoint (`pipelines.ingest.checkpoint`):
    write events → process → write derived → record offsets, for one batch of raw messages.
    No asyncio inside: it runs in the writer thread."""

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        roster: Roster,
        classifier: TextClassifier,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.roster = roster
        self.classifier = classifier
        # One writer owns the embedded warehouse: it can remember which ids it holds.
        self.sink = WarehouseSink(warehouse, settings.consumer_group,
                                  remember_ids=settings.embedded)
        self.processors = StreamProcessors(roster, settings.lateness,
                                           surge_process=bool(settings.surge_process),
                                           tracker_process=bool(settings.tracker_process))
        self.max_future = timedelta(seconds=settings.max_future)
        self.checkpoint = Checkpoint(self.sink, self.processors, self.restore)
        self.freed = FreedMemory()

    def build_batch(
        self, topic: str, messages: Sequence[tuple[int, int, bytes | None]],
        timestamps: Sequence[float | None] | None = None,
    ) -> IngestBatch:
        """Decode and label here (`pipelines.ingest.decoder`); `timestamps` are the messages' Kafka
        timestamps in seconds, in the same order (None or ≤ 0 for a message without one:
        taken as received now)."""
        return decode_messages(topic, messages, timestamps, self.roster, self.classifier,
                               self.max_future)

    def process(
        self, topic: str, messages: Sequence[tuple[int, int, bytes | None]],
        timestamps: Sequence[float | None] | None = None,
    ) -> tuple[WriteResult, Derived]:
        """Decode, then `write`."""
        return self.write(self.build_batch(topic, messages, timestamps))

    def write(self, batch: IngestBatch) -> tuple[WriteResult, Derived]:
        """The warehouse half of the batch's checkpoint (`pipelines.ingest.checkpoint`): safe
        to call again with the same batch after a failure."""
        written = self.checkpoint.write(batch)
        self.freed.give_back()
        return written

    def restore(self, why_not_loaded: str | None = None) -> Derived:
        """Rebuild the processors' state after a (re)start and write what it re-emits."""
        derived = self.processors.restore(
            self.warehouse, self.settings.events_topic, self.settings.consumer_group,
            why_not_loaded)
        self.sink.write_derived(derived)
        copied = self.sink.copy_unfinished_alert_states(self.settings.events_topic)
        if copied:
            log.warning("%d alert states of the last write before the restart had not reached "
                        "the alerts view (the worker stopped in the middle of that insert); "
                        "copied now", copied)
        return derived

    # -- start and clean stop: the processors' state file (`pipelines.ingest.statefile`) --

    @property
    def state_file(self) -> Path:
        return self.settings.home / statefile.FILE_NAME

    def start(self) -> Derived:
        """The processors' state at start: loaded from the state file a clean stop left when
        it still describes the warehouse, rebuilt by `restore` otherwise. Returns what is to
        be published again (a restore's re-emitted alert states; with the file, the alert
        states of a last batch that the stop kept from being published)."""
        try:
            return self._load_state()
        except statefile.StateFileUnusable as exc:
            why = str(exc)
        log.info("the processors' state file %s is not used: %s; replaying the answer "
                 "window's events instead", self.state_file, why)
        return self.restore(why)

    def _load_state(self) -> Derived:
        if not self.settings.embedded:
            raise statefile.StateFileUnusable(
                "the warehouse is a ClickHouse server, which several workers may share (their "
                "partitions are assigned only once they run)")
        settings = self.settings
        steps = StepClock()
        expected = statefile.StateTag.of(
            settings.events_topic,
            self.warehouse.resume_positions(settings.consumer_group, settings.events_topic),
            statefile.fingerprint(self.roster, settings.lateness))
        try:
            sections = statefile.read(self.state_file, expected)
        finally:  # read once, used or not: never again after the offsets move on
            statefile.discard(self.state_file)
        steps.lap(f"recorded offsets and the file read "
                  f"({sum(len(data) for data in sections.values()) / 1e6:.1f} MB)")
        try:
            unpublished: list[Alert] = pickle.loads(sections["unpublished alerts"])
            self.processors.load_state(sections, steps)
        except Exception as exc:  # a section that does not unpickle into this code's state
            raise statefile.StateFileUnusable(
                f"it could not be loaded ({type(exc).__name__}: {exc})") from exc
        return Derived(alerts=unpublished, watermark=self.processors.watermark)

    def save_state(self) -> None:
        """At a clean stop, after the last batch's checkpoint (in the writer thread): write
        the processors' state file, tagged with the offsets the warehouse recorded. Writes
        nothing (and says why) when that state is not the one those offsets stand for."""
        settings = self.settings
        if not settings.embedded:
            return
        if self.checkpoint.interrupted:
            log.info("no processors' state file: the last batch's write failed part-way; the "
                     "next start replays")
            return
        started = time.perf_counter()
        try:
            positions = self.warehouse.resume_positions(settings.consumer_group,
                                                        settings.events_topic)
            tag = statefile.StateTag.of(settings.events_topic, positions,
                                        statefile.fingerprint(self.roster, settings.lateness))
            mine = statefile.StateTag.of(settings.events_topic, {
                p: (offset, self.processors.offset_clocks.get(p) if clock is not None else None)
                for p, (offset, clock) in positions.items()}, tag.fingerprint)
            differ = sorted(p for p in tag.positions if mine.positions[p] != tag.positions[p])
            if differ:  # not the state those offsets stand for (another writer?)
                log.warning("no processors' state file: their clock of partition(s) %s is not "
                            "the one recorded with its offset; the next start replays",
                            ", ".join(map(str, differ)))
                return
            sections = self.processors.state_sections()
            sections["unpublished alerts"] = pickle.dumps(self.checkpoint.unpublished,
                                                          protocol=5)
            size = statefile.write(self.state_file, tag, sections)
        except Exception:
            log.exception("writing the processors' state file failed; the next start replays")
            statefile.discard(self.state_file)
            return
        log.info("wrote the processors' state file %s (%.1f MB in %.2f s) for the next start",
                 self.state_file, size / 1e6, time.perf_counter() - started)


class FreedMemory:
    """Gives the pages a batch freed back to the system, at most every `every` seconds.

    A batch allocates tens of megabytes for a moment (message values, columns, rows) between
    objects the response tracker keeps for hours; glibc's malloc keeps what is freed in
    between for reuse instead of returning it (106 of the main heap's 217 MB were free after
    600 000 pending mentions written in one process). `malloc_trim` returns it, ~10 ms of
    CPU a call there. Buffers of `MMAP_AT` bytes and more (a batch's pickles between the
    processes, fetched record sets) get pages of their own, returned as soon as they are
    freed: glibc otherwise raises that bound to 32 MiB after the first such buffer is freed,
    and they pile up between the tracker's objects. Without glibc (musl, macOS) it does
    nothing."""

    MMAP_AT = 4 * 2**20

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._last = 0.0
        self._trim: Callable[[int], int] | None
        try:  # the C library this process runs on: glibc has malloc_trim and mallopt
            libc = ctypes.CDLL(None)
            self._trim = libc.malloc_trim
            libc.mallopt(_M_MMAP_THRESHOLD, self.MMAP_AT)
        except (OSError, AttributeError):
            self._trim = None

    def give_back(self) -> None:
        now = time.monotonic()
        if self._trim is not None and now - self._last >= self.every:
            self._last = now
            self._trim(0)


def faust_brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


def create_app(
    settings: Settings,
    *,
    warehouse: Warehouse | None = None,
    roster: Roster | None = None,
    classifier: TextClassifier | None = None,
) -> faust.App:
    """Build the faust app for `settings`: topics, the ingest agent, web views."""
    warehouse = warehouse or Warehouse(settings)
    roster = roster if roster is not None else load_roster(settings.roster)
    if classifier is None:
        # with a decode process, this process labels only once that process died
        classifier = FallbackClassifier() if settings.decode_processes else load_classifier()
    processor = IngestProcessor(settings, warehouse, roster, classifier)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-writer")
    stats = WorkerStats(recorded_offsets=warehouse.resume_offsets(
        settings.consumer_group, settings.events_topic))
    # metrics.observe_query(kind, seconds, outcome): pipelines.ingest.metrics
    metrics = stats.metrics
    probe = BrokerProbe(settings.kafka, settings.events_topic)
    queries = QueryService(settings, Warehouse(settings, reader=True),
                           observe=metrics.observe_query)

    app = lean_app(
        # not the consumer group's name: the ingest consumer (pipelines.ingest.batchconsumer)
        # joins that group, and faust's own consumer may not join it too
        f"{settings.consumer_group}-app",
        broker=faust_brokers(settings.kafka),
        store="memory://",
        datadir=str(settings.home / "faust"),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        web_port=settings.worker_port,
        web_bind="127.0.0.1",
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, settings.batch_size),
        broker_commit_every=max(10_000, settings.batch_size),
        broker_max_poll_records=max(1000, min(settings.batch_size, 50_000)),
        producer_linger_ms=5,
        producer_max_batch_size=512 * 1024,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
        autodiscover=False,
    )
    app.dorpspomp_settings = settings  # type: ignore[attr-defined]
    app.dorpspomp_stats = stats  # type: ignore[attr-defined]
    app.dorpspomp_metrics = metrics  # type: ignore[attr-defined]
    # Declared so faust creates it; alerts go out through the producer directly (below).
    app.topic(settings.alerts_topic, value_serializer="raw", key_serializer="raw")
    notifier = (
        WebhookNotifier(settings.alert_webhook, WarehouseLedger(warehouse),
                        min_interval=settings.alert_webhook_interval)
        if settings.alert_webhook else None
    )
    app.dorpspomp_notifier = notifier  # type: ignore[attr-defined]
    # The decode processes start (spawn, imports, the classifier) while the state is restored.
    decoder = BatchDecoder(roster, classifier, processor.max_future,
                           processes=settings.decode_processes)
    decoder.start()
    restored = processor.start()
    if notifier is not None:
        # What a stopped worker had not got to the webhook yet and the restore does not
        # emit again (a state waiting for its client's turn, say): the newest of each.
        notifier.submit(undelivered_alert_states(warehouse, processor.processors.watermark))

    async def publish(alerts: Sequence[Alert]) -> None:
        """Every alert state to the alerts topic (keyed by organisation) and the webhook."""
        if alerts:
            # faust's own aiokafka producer, handed whole batches: faust's Topic.send and
            # even one producer.send per alert cost a future and a channel hop each, and
            # at tens of thousands of SLA alert states per minute that held up the
            # consumer (measured with `dorpspomp bench`).
            producer = cast(faust_aiokafka.Producer, app.producer)._ensure_producer()
            try:
                sent = await send_keyed(producer, settings.alerts_topic, [
                    (alert.org_id.encode(), orjson.dumps(alert.to_json()),
                     [("delivery_key", alert.delivery_key.encode())])
                    for alert in alerts
                ])
            except RecordTooLarge as exc:  # in the warehouse all the same
                log.error("alert states not sent to the alerts topic: %s", exc)
                sent = []
            for batch in sent:
                batch.add_done_callback(_log_failed_send)
        if notifier is not None and alerts:
            notifier.submit(alerts)

    consumer = BatchConsumer(
        settings.kafka, settings.events_topic, settings.consumer_group,
        lambda: warehouse.resume_offsets(settings.consumer_group, settings.events_topic),
        max_records=settings.batch_size, within=settings.batch_seconds,
        session_timeout=settings.session_timeout,
    )
    app.dorpspomp_consumer = consumer  # type: ignore[attr-defined]

    app.dorpspomp_decoder = decoder  # type: ignore[attr-defined]

    def decode(batch: RawBatch) -> asyncio.Future[IngestBatch]:
        """Start decoding a batch: in a decode process, or after the writes queued before it
        in the writer thread (never in the event loop: heartbeats and /health run there)."""
        if decoder.pool is not None:
            return asyncio.wrap_future(decoder.submit(settings.events_topic, batch.messages,
                                                      batch.timestamps))
        return asyncio.get_running_loop().run_in_executor(
            writer, decoder.decode, settings.events_topic, batch.messages, batch.timestamps)

    async def decoded(batch: RawBatch, decoding: asyncio.Future[IngestBatch]) -> IngestBatch:
        try:
            return await decoding
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a decode process died: decode here from now on
            log.error("decoding a batch of %d events in a decode process failed (%s); the "
                      "worker decodes from now on", len(batch), exc)
            decoder.close()
            return await asyncio.get_running_loop().run_in_executor(
                writer, decoder.decode, settings.events_topic, batch.messages,
                batch.timestamps)

    queue = WriteQueue(settings.batch_size)
    window = BatchWindow(consumer, shortest=MIN_BATCH_SECONDS, longest=settings.batch_seconds)

    async def write_queued() -> None:
        """Write what the queue holds, oldest first, until it is closed and empty: the first
        batch once decoded, with every batch decoded behind it by then (one write,
        `pipelines.ingest.coalesce`)."""
        try:
            while taken := await queue.next_write():
                await write_taken(taken)
        finally:
            queue.close()  # a writer that failed stops the reading too

    async def write_taken(taken: list[tuple[RawBatch, asyncio.Future[IngestBatch]]]) -> None:
        columns = [await decoded(batch, decoding) for batch, decoding in taken]
        events = sum(len(batch) for batch, _ in taken)
        taken_at = min(batch.taken_at for batch, _ in taken)
        for batch, _ in taken:
            # decoded: the raw messages (~10 MB a batch of 20 000) go while it is written
            batch.messages, batch.timestamps = [], []
        started = time.monotonic()
        await processor.checkpoint.complete(
            merge(columns), events=events, taken_at=taken_at,
            writer=writer, stats=stats, publish=publish, commit=consumer.commit_soon)
        window.wrote(time.monotonic() - started)

    @app.task
    async def ingest() -> None:
        """The events topic in raw batches (pipelines.ingest.batchconsumer), not faust's
        per-message stream. Each batch is decoded as soon as it is read, in a decode
        process (`pipelines.ingest.decoder`), while the writer writes the ones before; writes
        go one at a time, in order; a restart resumes from the warehouse's offsets."""
        await consumer.start()
        writing = asyncio.ensure_future(write_queued())
        batches = consumer.batches()
        try:
            # no batch is read while a full batch's worth waits for the writer (memory)
            while await queue.room():
                batch = await anext(batches)
                queue.put(batch, decode(batch))
        finally:
            queue.close()
            await batches.aclose()
            try:
                await writing  # what was read is written (or the writer's error raised)
            finally:
                await consumer.flush_commits()
                await consumer.stop()
                decoder.close()
            # a clean stop: every batch read is through its checkpoint
            await asyncio.get_running_loop().run_in_executor(writer, processor.save_state)

    def judge_health() -> tuple[Health, BrokerView]:
        """The last broker probe and the judgement on it (pipelines.ingest.health); cheap."""
        try:
            assigned = consumer.assignment
        except Exception:  # no consumer yet, or it is being rebuilt
            assigned = set()
        view = probe.view()
        judged = assess(stats, view, assigned, settings.kafka)
        update_gauges(metrics, settings.events_topic, judged, view)
        return judged, view

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        """200 with {"status": "ok" | "degraded", "reasons": [...], counts, lag}."""
        judged, view = judge_health()
        return web.json(health_report(settings, stats, judged, view))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        """Prometheus text format 0.0.4 (names and meanings: pipelines.ingest.metrics, README)."""
        judge_health()
        if notifier is not None:
            metrics.set_webhook(notifier.stats)
        return web.text(metrics.render(), content_type=METRICS_CONTENT_TYPE)

    @app.task
    async def watch_health() -> None:
        stats.running()
        probe.start()

    register_queries(app, queries)
    app.dorpspomp_queries = queries  # type: ignore[attr-defined]

    @app.task
    async def announce() -> None:
        write_worker_file(settings)
        await publish(restored.alerts)

    return app


class WarehouseLedger:
    """Which alert states the webhook already received, kept in the warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def delivered(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        result = self.warehouse.client.query(
            f"SELECT delivery_key FROM {self.warehouse.table('alert_deliveries')} "
            "WHERE delivery_key IN {keys:Array(String)}",
            parameters={"keys": list(keys)},
        )
        return {r[0] for r in result.result_rows}

    def record(self, keys: Sequence[str]) -> None:
        now = datetime.now(UTC)
        self.warehouse.client.insert(
            self.warehouse.table("alert_deliveries"), [[k, now] for k in keys],
            column_names=["delivery_key", "delivered_at"],
        )


def _log_failed_send(sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.error("alerts did not reach the alerts topic: %s", sent.exception())


def write_worker_file(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    info = {"pid": os.getpid(), "port": settings.worker_port, "started_at": time.time(),
            "warehouse": settings.warehouse if settings.embedded else "server"}
    tmp = settings.worker_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(settings.worker_file)


def remove_worker_file(settings: Settings) -> None:
    try:
        info = json.loads(settings.worker_file.read_text())
        if info.get("pid") == os.getpid():
            settings.worker_file.unlink()
    except (OSError, ValueError):
        pass


def run_worker(settings: Settings, loglevel: str = "info", logfile: Path | None = None) -> None:
    """Migrate, reconcile offsets, then run the faust worker until stopped."""
    refuse_pandas()
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] [%(process)d] "
                        "[%(levelname)s] %(name)s: %(message)s")
    for noisy in ("kafka", "aiokafka", "faust.transport", "mode"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warehouse = Warehouse(settings)
    applied = warehouse.migrate()
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    ensure_topics(settings)
    app = create_app(settings, warehouse=warehouse)
    # What exists now (modules, the classifier's lexicons, the restored state) lives as
    # long as the process: keep the cyclic collector from walking it again and again,
    # and let it run less often (a batch allocates tens of thousands of short-lived
    # objects, hardly any in cycles).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    worker = faust.Worker(
        app, loglevel=loglevel, logfile=str(logfile) if logfile else None,
        quiet=True, override_logging=True,
    )
    try:
        worker.execute_from_commandline()
    finally:
        remove_worker_file(settings)
        notifier = getattr(app, "dorpspomp_notifier", None)
        if notifier is not None:
            notifier.close(timeout=10)


def ensure_topics(settings: Settings) -> None:
    """Create the events and alerts topics when they do not exist yet (BrokerUnavailable,
    which says to start it with `dorpspomp up`, when no broker answers)."""
    kafkaadmin.ensure_topics(settings.kafka, {
        settings.events_topic: settings.topic_partitions,
        settings.alerts_topic: max(1, settings.topic_partitions // 2),
    }, timeout=15.0)
