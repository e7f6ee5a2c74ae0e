"""Filling a topic fast: the benchmark's pre-load, not part of what it measures.

`dorpspomp replay` sends one event at a time through kafka-python (about 10 k
events/s here), which would spend minutes on a million events before the clock even
starts. This uses aiokafka's batch API instead, with Kafka's default partitioner
(murmur2 of the key), so every event lands on the partition a replay would choose.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]],
            total: int | None = None, desc: str = "pre-load") -> dict[str, Any]:
    """Send (key, value) pairs to `topic`; returns the count and the seconds it took."""
    return asyncio.run(_produce(bootstrap, topic, messages, total, desc))


async def _produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]],
                   total: int | None, desc: str) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner
    from tqdm import tqdm

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    partitioner = DefaultPartitioner()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        batches: dict[int, Any] = {}
        pending: list[asyncio.Future[Any]] = []
        count = 0
        started = time.perf_counter()
        with tqdm(total=total, unit="ev", unit_scale=True, desc=desc, mininterval=0.5,
                  leave=False) as bar:
            for key, value in messages:
                partition = partitioner(key, partitions, partitions)
                batch = batches.get(partition)
                if batch is None:
                    batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = batches[partition] = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
                count += 1
                if count % 10_000 == 0:
                    bar.update(10_000)
                    await asyncio.sleep(0)
            for partition, batch in batches.items():
                if batch.record_count():
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*pending)
            bar.update(count % 10_000)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"events": count, "seconds": round(seconds, 2),
            "events_per_second": round(count / max(seconds, 1e-9))}
