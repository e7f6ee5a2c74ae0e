"""Memory: the worker's peak resident set while it holds a million open mentions.

Every mention an organisation has not answered yet stays in the response tracker
until its answer window passes, so the worst case for memory is a flood of mentions
that nobody answers. The flood here: `count` mentions addressed to the simulated
organisations within a few minutes of a Sunday night (inside every SLA, so no alert
fires and every one of them stays pending), read by a fresh worker. The figure is the
worker process's VmHWM from /proc once all of them are written, with the warehouse
confirming that they are all pending.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.load import produce
from bench.services import BenchError, Broker, WorkerProcess
from pipelines.serving.readapi import WarehouseReader
from pipelines.simulate import World

FLOOD_START = datetime.fromisoformat("2026-03-08T01:00:00+00:00")  # a Sunday night
FLOOD_SPAN = timedelta(minutes=10)  # the shortest simulated SLA is 30 minutes
QUESTIONS = (
    ("nl", "Weet iemand hoe laat {org} morgen opengaat?"),
    ("nl", "Vraagje aan {org}: kan ik dit ook online regelen?"),
    ("en", "Hi {org}, where can I find the opening hours?"),
    ("nl", "{org} is er nog plek voor de rondleiding van zaterdag?"),
)


def flood(world: World, count: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, event) pairs: `count` unanswerable-yet mentions, spread over the organisations."""
    orgs = world.orgs
    start_ms = int(FLOOD_START.timestamp() * 1000)
    step = FLOOD_SPAN.total_seconds() * 1000 / max(count, 1)
    for i in range(count):
        org = orgs[i % len(orgs)]
        lang, text = QUESTIONS[i % len(QUESTIONS)]
        created = datetime.fromtimestamp((start_ms + i * step) / 1000, UTC)
        event = {
            "type": "mention", "event_id": f"bench-pending-{i}", "org_id": org.id,
            "platform": "twitter",
            "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "author": {"id": f"bench-author-{i % 100_003}", "handle": f"vraagsteller{i % 100_003}",
                       "followers": (i * 7919) % 5000},
            "kind": "mention", "text": text.format(org=org.name), "lang": lang,
        }
        yield org.id.encode(), orjson.dumps(event)


def pending_memory(broker: Broker, worker: WorkerProcess, world: World,
                   count: int, timeout: float = 900) -> dict[str, Any]:
    """Load the flood, let a fresh worker read it all, report its peak RSS."""
    topic = worker.settings.events_topic
    loaded = produce(broker.bootstrap, topic, flood(world, count), total=count,
                     desc="pre-load pending mentions")
    worker.start()
    idle_rss = worker.peak_rss_bytes()
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while int((worker.health() or {}).get("events", 0)) < count:
        if time.monotonic() > deadline:
            raise BenchError(f"the worker did not read {count} pending mentions in "
                             f"{timeout:.0f} s; see {worker.log}")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    peak = worker.peak_rss_bytes()
    helpers = worker.helpers_peak_rss_bytes()
    reader = WarehouseReader(worker.settings)
    try:
        pending = reader.query(
            "SELECT count() AS n FROM mention_responses WHERE status = 'pending'"
        ).column("n")[0].as_py()
    finally:
        reader.close()
    if pending != count:
        raise BenchError(f"expected {count} pending mentions, the warehouse has {pending}")
    return {
        "pending_mentions": pending,
        "peak_rss_bytes": peak,
        "peak_rss_mib": round(peak / 2**20, 1),
        "rss_at_start_mib": round(idle_rss / 2**20, 1),
        # the worker's decode and surge-detector processes, beside the figure above
        "helper_processes_peak_rss_mib": round(helpers / 2**20, 1),
        "bytes_per_pending_mention": round((peak - idle_rss) / max(count, 1)),
        "read_seconds": round(seconds, 2),
        "events_per_second": round(count / max(seconds, 1e-9)),
        "preload": loaded,
    }
