"""Sending keyed records to Kafka a batch per partition, not a future per record.

aiokafka's `send` costs a future and an accumulator call per record; at thousands of
records per second that is most of a sender's time here. `send_keyed` puts records in
the partition Kafka's default partitioner gives their key (murmur2, as the Java client
and `dorpspomp replay` do), in order within a partition, and hands aiokafka whole
batches. The worker publishes alert states with it; the benchmark pre-loads and sends
its live stream with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

KEY_PARTITIONER = DefaultPartitioner()

Record = tuple[bytes | None, bytes, list[tuple[str, bytes]]]  # key, value, headers (a list)


class RecordTooLarge(ValueError):
    pass


async def send_keyed(producer: AIOKafkaProducer, topic: str,
                     records: Sequence[Record]) -> list[asyncio.Future[Any]]:
    """Queue `records` on `topic`; returns once they are queued, with one delivery
    future per batch (await them to know they were written)."""
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[Record]] = {}
    # murmur2 in Python costs ~3 µs a key: once per distinct key of the call (records
    # without a key share one partition, chosen at random, as Kafka's sticky partitioner).
    partition_of: dict[bytes | None, int] = {}
    for record in records:
        key = record[0]
        partition = partition_of.get(key)
        if partition is None:
            partition = partition_of[key] = KEY_PARTITIONER(key, partitions, partitions)
        by_partition.setdefault(partition, []).append(record)
    sent: list[asyncio.Future[Any]] = []
    for partition, queued in by_partition.items():
        batch = producer.create_batch()
        for key, value, headers in queued:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                if batch.record_count():
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise RecordTooLarge(
                        f"a record of {len(value):,} bytes does not fit in a producer batch "
                        f"for {topic}; raise the producer's max_batch_size")
        if batch.record_count():
            sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent
