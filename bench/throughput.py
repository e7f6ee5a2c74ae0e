"""Throughput: the pipeline on pre-loaded events, next to the limits of its parts.

Figures on the same events, measured one after another on the same machine: a bare
aiokafka consumer that reads the topic to the end and does nothing (what one Python
consumer can do here at most), a bare faust agent that takes batches the way the
worker does and does nothing (what any faust worker can do here at most), the pipeline
itself (a real worker that starts on the full topic, timed from its readiness to the
moment every event is written with its derived rows and recorded), and a bare
clickhouse-connect Arrow insert of the rows the pipeline wrote (what the warehouse
takes at most).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.services import ROOT, BenchError, Broker, WorkerProcess
from pipelines.serving.readapi import WarehouseReader
from pipelines.settings import Settings
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


def bare_insert(settings: Settings, source: WarehouseReader) -> dict[str, Any]:
    """Insert the rows the pipeline wrote (read back through its worker) again, with
    clickhouse-connect's Arrow insert in batches of the worker's size, into a warehouse
    of their own; only the inserts are timed."""
    tables = {name: source.query(f"SELECT * FROM {name}",
                                 max_rows=10_000_000)
              for name in ("mentions", "posts")}
    warehouse = Warehouse(settings)
    try:
        warehouse.migrate()
        rows = 0
        seconds = 0.0
        for name, table in tables.items():
            target = warehouse.table(name)
            for batch in range(0, table.num_rows, settings.batch_size):
                chunk = table.slice(batch, settings.batch_size)
                started = time.perf_counter()
                warehouse.client.insert_arrow(target, chunk)
                seconds += time.perf_counter() - started
                rows += chunk.num_rows
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
    (bench/faust_probe.py, its own process and consumer group), over the first
    `total` events of the topic."""
    result = workdir / "faust-probe.json"
    probe = subprocess.run(
        [sys.executable, "-m", "bench.faust_probe", broker.bootstrap, topic,
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
