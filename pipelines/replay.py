"""Send a `.jsonl` file of events into Kafka, with a progress bar.

Each non-blank line goes out as it is — a broken line too, so that it lands in
`dead_letters` like any bad input from a collector. The message key is the
event's organisation (its `org_id`, or for a post without one the roster's owner
of its account), so that an organisation's events share a partition.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from pipelines.roster import Roster


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered at the configured address."""


@dataclass
class ReplayReport:
    sent: int = 0
    unparsable: int = 0
    blank: int = 0
    seconds: float = 0.0

    def summary(self, path: Path, topic: str) -> str:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        parts = [f"sent {self.sent:,} events from {path} to {topic} in {self.seconds:.1f} s "
                 f"({rate:,.0f}/s)"]
        if self.unparsable:
            parts.append(f"{self.unparsable:,} lines were not valid JSON events and were sent "
                         "as they are (see the dead_letters table)")
        if self.blank:
            parts.append(f"{self.blank:,} blank lines skipped")
        return "; ".join(parts)


def message_key(line: bytes, roster: Roster) -> bytes | None:
    """The partitioning key of one line: its organisation, when one can be told."""
    try:
        doc: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    org = doc.get("org_id")
    if isinstance(org, str) and org:
        return org.encode()
    account = doc.get("account")
    if doc.get("type") == "post" and isinstance(account, dict):
        handle, platform = account.get("handle"), doc.get("platform")
        if isinstance(handle, str) and isinstance(platform, str):
            owner = roster.account_owner(platform.lower(), handle)
            if owner is not None:
                return owner.org_id.encode()
    return None


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        for line in f:
            yield line.rstrip(b"\r\n")


class Pacer:
    """Holds a producer to `rate` events per second (None: as fast as it can)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.start = time.perf_counter()
        self.count = 0

    def wait(self) -> None:
        if not self.interval:
            return
        self.count += 1
        due = self.start + self.count * self.interval
        delay = due - time.perf_counter()
        if delay > 0.002:
            time.sleep(delay)


def make_producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    try:
        return KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            linger_ms=20,
            batch_size=512 * 1024,
            compression_type=None,
            max_request_size=8 * 1024 * 1024,
            request_timeout_ms=30000,
            bootstrap_timeout_ms=5000,
        )
    except KafkaError:
        raise BrokerUnavailable(
            f"no broker at {bootstrap} — start it with `dorpspomp up` (or set DORPSPOMP_KAFKA)"
        ) from None


def replay(
    path: Path,
    *,
    bootstrap: str,
    topic: str,
    roster: Roster,
    rate: float | None = None,
    progress: bool = True,
    stream: IO[str] = sys.stderr,
) -> ReplayReport:
    """Send every non-blank line of `path` to `topic`; returns what was sent."""
    from tqdm import tqdm

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    total = count_lines(path)
    producer = make_producer(bootstrap)
    report = ReplayReport()
    pacer = Pacer(rate)
    started = time.perf_counter()
    bar = tqdm(total=total, unit="ev", unit_scale=True, disable=not progress, file=stream,
               desc=f"replay {path.name}", mininterval=0.5)
    failures: list[BaseException] = []

    def on_error(exc: BaseException) -> None:
        failures.append(exc)

    try:
        for line in read_lines(path):
            bar.update(1)
            if not line.strip():
                report.blank += 1
                continue
            key = message_key(line, roster)
            if key is None:
                report.unparsable += _not_an_event(line)
            producer.send(topic, value=line, key=key).add_errback(on_error)
            report.sent += 1
            pacer.wait()
            if failures:
                break
        producer.flush(timeout=120)
    finally:
        bar.close()
        producer.close(timeout=30)
    if failures:
        raise BrokerUnavailable(f"Kafka refused an event: {failures[0]}")
    report.seconds = time.perf_counter() - started
    return report


def _not_an_event(line: bytes) -> int:
    try:
        return 0 if isinstance(orjson.loads(line), dict) else 1
    except orjson.JSONDecodeError:
        return 1
