"""Filling a topic fast: the benchmark's pre-load, not part of what it measures.

It hands aiokafka whole batches per partition (`pipelines.ingest.kafkabatch`), as
`dorpspomp replay` does, without replay's reading, keying and resumable bookkeeping: the
simulated events come with their organisation as key. Kafka's default partitioner
(murmur2 of the key) puts every event on the partition a replay would choose. The live
phases send with another producer (`bench/live.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from pipelines.ingest.kafkabatch import Record, send_keyed

CHUNK = 10_000  # records handed to the producer at a time


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]],
            total: int | None = None, desc: str = "pre-load") -> dict[str, Any]:
    """Send (key, value) pairs to `topic`; returns the count and the seconds it took."""
    return asyncio.run(_produce(bootstrap, topic, messages, total, desc))


def batch_producer(bootstrap: str, linger_ms: int = 20) -> Any:
    """An aiokafka producer for `pipelines.ingest.kafkabatch.send_keyed` (call inside a loop)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=linger_ms,
                            max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)


async def _produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]],
                   total: int | None, desc: str) -> dict[str, Any]:
    from tqdm import tqdm

    producer = batch_producer(bootstrap)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        chunk: list[Record] = []
        count = 0
        started = time.perf_counter()
        with tqdm(total=total, unit="ev", unit_scale=True, desc=desc, mininterval=0.5,
                  leave=False) as bar:
            for key, value in messages:
                chunk.append((key, value, []))
                if len(chunk) == CHUNK:
                    pending += await send_keyed(producer, topic, chunk)
                    count += len(chunk)
                    bar.update(len(chunk))
                    chunk = []
            pending += await send_keyed(producer, topic, chunk)
            count += len(chunk)
            bar.update(len(chunk))
            await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"events": count, "seconds": round(seconds, 2),
            "events_per_second": round(count / max(seconds, 1e-9))}
