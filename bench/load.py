"""Filling topics fast, before the clock of a phase starts.

The pipeline's topic is filled by `dorpspomp replay` itself, from the world written to a
file (`replay_file`): its events/s is the replay figure of the results. The memory phase's
flood, which is made as it is sent and never stored in a file, goes through `produce`:
aiokafka batches per partition (`pipelines.ingest.kafkabatch`), as replay sends them,
without replay's reading and keying. Kafka's default partitioner (murmur2 of the key) puts
every event on the partition a replay would choose. The live phases send with another
producer (`bench/live.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.services import BenchError
from pipelines.ingest.kafkabatch import Record, send_keyed

CHUNK = 10_000  # records handed to the producer at a time


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]],
            total: int | None = None, desc: str = "pre-load") -> dict[str, Any]:
    """Send (key, value) pairs to `topic`; returns the count and the seconds it took."""
    return asyncio.run(_produce(bootstrap, topic, messages, total, desc))


def replay_file(bootstrap: str, topic: str, lines: Sequence[bytes], roster: Path,
                path: Path) -> dict[str, Any]:
    """`dorpspomp replay` (`pipelines.commands.replay.replay`, as the command runs it) of
    `lines` written to `path`: the seconds from the command's start, counting the file's
    lines for its progress bar included, until the broker acknowledged the last chunk. The
    file is removed afterwards."""
    from pipelines.commands.replay import EXIT_SENT, replay
    from pipelines.roster import load_roster

    with path.open("wb") as out:
        for line in lines:
            out.write(line)
            out.write(b"\n")
    try:
        report = replay(path, bootstrap=bootstrap, topic=topic, roster=load_roster(roster))
    finally:
        path.unlink(missing_ok=True)
    if report.exit_code != EXIT_SENT or report.sent != len(lines):
        raise BenchError(f"replaying the world's {len(lines):,} events did not send them all: "
                         f"{report.summary()}")
    return {"command": "dorpspomp replay FILE", "events": report.sent,
            "bytes": sum(len(line) + 1 for line in lines),
            "seconds": round(report.seconds, 2),
            "events_per_second": round(report.sent / max(report.seconds, 1e-9))}


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
