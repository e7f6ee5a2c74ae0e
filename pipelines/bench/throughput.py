"""Throughput: the pipeline on pre-loaded events, next to the limits of its parts.

Three figures on the same events, measured one after another on the same machine:
a bare aiokafka consumer that reads the topic to the end and does nothing (what
one Python consumer can do here at most), a bare clickhouse-connect Arrow insert
of the rows the pipeline writes (what the warehouse takes at most), and the
pipeline itself: a real worker that starts on the full topic, from its first
event to the moment every event is written with its derived rows and recorded.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipelines.bench.services import ROOT, BenchError, Broker, WorkerProcess
from pipelines.classify import load_classifier
from pipelines.decode import DeadLetter, Mention, Post, Source, decode
from pipelines.enrich import label_mentions
from pipelines.roster import Roster
from pipelines.settings import Settings
from pipelines.sink import mentions_table, posts_table
from pipelines.warehouse import Warehouse


def bare_consumer(broker: Broker, topic: str) -> dict[str, Any]:
    """Read the whole topic with a plain aiokafka consumer; no work per message."""
    ends = broker.end_offsets(topic)
    return asyncio.run(_drain(broker.bootstrap, topic, ends))


async def _drain(bootstrap: str, topic: str, ends: dict[int, int]) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        total = sum(ends.values())
        count = 0
        payload = 0
        started = time.perf_counter()
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            for messages in batches.values():
                count += len(messages)
                for message in messages:
                    payload += len(message.value or b"")
            if not batches and time.perf_counter() - started > 300:
                raise BenchError(f"the bare consumer stalled at {count} of {total} messages")
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"events": count, "seconds": round(seconds, 3),
            "events_per_second": round(count / seconds), "megabytes": round(payload / 2**20, 1)}


def decoded_tables(lines: Iterable[bytes], roster: Roster, topic: str,
                   batch_size: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The mentions and posts tables the worker would write, batch by batch."""
    classifier = load_classifier()
    received = datetime.now(UTC)
    mentions: list[Mention] = []
    posts: list[Post] = []
    for offset, line in enumerate(lines):
        item = decode(line, Source(topic, 0, offset), roster)
        if isinstance(item, Mention):
            mentions.append(item)
        elif not isinstance(item, DeadLetter):
            posts.append(item)
        if len(mentions) + len(posts) >= batch_size:
            label_mentions(mentions, classifier)
            yield mentions_table(mentions, received), posts_table(posts, received)
            mentions, posts = [], []
    if mentions or posts:
        label_mentions(mentions, classifier)
        yield mentions_table(mentions, received), posts_table(posts, received)


def bare_insert(settings: Settings, lines: Sequence[bytes], roster: Roster) -> dict[str, Any]:
    """Insert the pipeline's rows with clickhouse-connect's Arrow insert, batch by batch,
    into a warehouse of their own; only the inserts are timed."""
    warehouse = Warehouse(settings)
    try:
        warehouse.migrate()
        rows = 0
        seconds = 0.0
        for mentions, posts in decoded_tables(lines, roster, settings.events_topic,
                                              settings.batch_size):
            started = time.perf_counter()
            warehouse.client.insert_arrow(warehouse.table("mentions"), mentions)
            warehouse.client.insert_arrow(warehouse.table("posts"), posts)
            seconds += time.perf_counter() - started
            rows += mentions.num_rows + posts.num_rows
    finally:
        warehouse.close()
    path = settings.warehouse_path
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
    return {"rows": rows, "batch_size": settings.batch_size, "seconds": round(seconds, 3),
            "rows_per_second": round(rows / max(seconds, 1e-9))}


def pipeline(worker: WorkerProcess, total: int, timeout: float = 900) -> dict[str, Any]:
    """Start the worker on a topic holding `total` events; wait until it has written them all.

    The worker counts an event on /health once its batch is written with the derived rows
    and its offsets are recorded, i.e. once every public table reflects it.
    """
    worker.start()
    first: float | None = None
    deadline = time.monotonic() + timeout
    events = 0
    while time.monotonic() < deadline:
        health = worker.health() or {}
        events = int(health.get("events", 0))
        now = time.perf_counter()
        if first is None and events > 0:
            first = now
        if events >= total:
            break
        time.sleep(0.05)
    else:
        raise BenchError(f"the pipeline wrote {events} of {total} events in {timeout:.0f} s; "
                         f"see {worker.log}")
    done = time.perf_counter()
    seconds = done - worker.ready
    return {
        "events": total,
        "startup_seconds": round(worker.ready - worker.started, 2),
        "seconds": round(seconds, 3),
        "events_per_second": round(total / seconds),
        "first_batch_after_seconds": round((first or done) - worker.ready, 3),
    }


def bare_faust_agent(broker: Broker, topic: str, total: int, batch_size: int,
                     workdir: Path, timeout: float = 900) -> dict[str, Any]:
    """A faust agent that takes batches like the worker and does nothing with them
    (pipelines/bench/faust_probe.py, its own process and consumer group)."""
    result = workdir / "faust-probe.json"
    probe = subprocess.run(
        [sys.executable, "-m", "pipelines.bench.faust_probe", broker.bootstrap, topic,
         str(total), str(batch_size), str(result)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "TMPDIR": str(workdir)},
    )
    if not result.is_file():
        raise BenchError(f"the faust probe failed:\n{probe.stdout[-3000:]}")
    report = orjson.loads(result.read_bytes())
    seconds = float(report["seconds"])
    return {"events": report["events"], "seconds": round(seconds, 3),
            "events_per_second": round(report["events"] / seconds)}
