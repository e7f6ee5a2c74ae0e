"""Send a `.jsonl` file of events into Kafka, fast, and never stop without saying where.

Each non-blank line goes out as it is — a broken line too, so that it lands in
`dead_letters` like any bad input from a collector. Lines go out in chunks, each
chunk as one batch per partition (`pipelines.ingest.kafkabatch.send_keyed`), keyed by the
organisation the worker's decoder files the event under, so that an organisation's
events share a partition and keep the file's order within it.

Two things can keep a line out of Kafka, and neither ends a replay silently:

- A line longer than one Kafka message may be (`message_limit`). It is not sent; a
  small reference record of type `dorpspomp.unsendable` (file, line, size, limit,
  sha256 and the first KiB) goes in its place, and the decoder turns that into a
  dead letter saying which line it was and what to do. The replay goes on to the
  end and exits 3.
- The broker stops acknowledging. The replay reconnects with back-off; when nothing
  has been acknowledged for `broker_wait` seconds it stops, exit 2, with a line
  saying how many events the broker acknowledged and the line to resume from.
  Chunks count as sent only once every batch of theirs is acknowledged, and they
  are counted in file order, so `--from-line` at that line loses nothing (events
  the broker took after it arrive twice; event_id is the idempotency key).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from pipelines.ingest.decode import UNSENDABLE, Post, Source, decode
from pipelines.ingest.kafkaadmin import BrokerUnavailable, no_broker
from pipelines.roster import Roster

MAX_REQUEST_BYTES = 8 * 1024 * 1024
"""The most dorpspomp's producers put in one message. infra/broker.py's topics take
10 MiB, so an oversized but sendable event still reaches the worker's dead letters."""
RECORD_OVERHEAD = 1024
"""Room for the key, the record's and the record batch's headers beside a line."""
BATCH_BYTES = 1024 * 1024
CHUNK_LINES = 2_000
"""Records handed to `send_keyed` at a time: large enough that a batch per partition
carries hundreds of events, small enough that a rewind resends little."""
IN_FLIGHT = 4
"""Chunks handed over but not yet acknowledged, at most."""
HEAD_BYTES = 1024
TICKS_PER_SECOND = 20
"""With `--rate`: how often a (smaller) chunk goes out."""
BROKER_WAIT = 60.0
KAFKA_DEFAULT_MESSAGE_BYTES = 1048588
"""Kafka's own default for message.max.bytes, when the broker will not tell its own."""

EXIT_SENT = 0
EXIT_STOPPED = 2
EXIT_NOT_SENT = 3
EXIT_INTERRUPTED = 130

NO_HEADERS: list[tuple[str, bytes]] = []
_NOWHERE = Source("replay", -1, -1)

log = logging.getLogger(__name__)


# -- the pure part: keys, reference records, chunks, the report --------------------------


def message_key(line: bytes, roster: Roster) -> bytes | None:
    """The partitioning key of one line: the organisation the worker will file it under,
    or None when the line is no event the decoder would accept."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return _organisation_key(doc, line, roster)


def _organisation_key(doc: Any, line: bytes, roster: Roster) -> bytes | None:
    if not isinstance(doc, dict):
        return None
    org = doc.get("org_id")
    if isinstance(org, str) and org:
        # The decoder files an event it accepts under its own org_id whenever it has one
        # (a mention must; a post's wins over the roster), so no need to decode it.
        return org.encode()
    if doc.get("type") == "post":
        # The roster's owner, by handle or else by account id: the decoder's own look-up.
        decoded = decode(line, _NOWHERE, roster)
        if isinstance(decoded, Post):
            return decoded.org_id.encode()
    return None


def reference_record(file: str, number: int, line: bytes, limit: int) -> bytes:
    """What goes to Kafka instead of a line over `limit` bytes: enough to find the line
    again and to see what it was, as a record the decoder makes a dead letter of."""
    return orjson.dumps({
        "type": UNSENDABLE, "reason": "too_large", "file": file, "line": number,
        "bytes": len(line), "limit": limit, "sha256": hashlib.sha256(line).hexdigest(),
        "head": line[:HEAD_BYTES].decode("utf-8", "replace"),
    })


@dataclass(frozen=True, slots=True)
class NotSent:
    """A line that was too long to send; its reference record went instead."""

    line: int
    size: int


@dataclass(slots=True)
class Chunk:
    """Consecutive lines of the file, handed over together and acknowledged together."""

    first_line: int
    offset: int
    end_line: int = 0
    """The first line after the chunk; where to resume once the chunk is acknowledged."""
    end_offset: int = 0
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = field(
        default_factory=list)
    events: int = 0
    """Lines sent as they are (not blank, not too long)."""
    blank: int = 0
    unparsable: int = 0
    not_sent: list[NotSent] = field(default_factory=list)
    deliveries: list[asyncio.Future[Any]] = field(default_factory=list)
    handed_over: float = 0.0


def chunks(raw_lines: Iterable[bytes], line: int, offset: int, *, file: str, limit: int,
           roster: Roster, size: int = CHUNK_LINES) -> Iterator[Chunk]:
    """Cut lines (as read, with their newline) into chunks of at most `size` records.

    `line` and `offset` are the number and byte offset of the first of `raw_lines`; a
    chunk's end is where the next one starts, so a replay can go back to any of them.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    chunk = Chunk(line, offset)
    records = chunk.records
    for raw in raw_lines:
        offset += len(raw)
        text = raw.rstrip(b"\r\n")
        if len(text) > limit:
            chunk.not_sent.append(NotSent(line, len(text)))
            records.append((None, reference_record(file, line, text, limit), NO_HEADERS))
        elif not text.strip():
            chunk.blank += 1
        else:
            try:
                doc = loads(text)
            except decode_error:
                doc = None
            key = _organisation_key(doc, text, roster)
            if key is None and not isinstance(doc, dict):
                chunk.unparsable += 1
            records.append((key, text, NO_HEADERS))
            chunk.events += 1
        line += 1
        if len(records) >= size:
            chunk.end_line, chunk.end_offset = line, offset
            yield chunk
            chunk = Chunk(line, offset)
            records = chunk.records
    chunk.end_line, chunk.end_offset = line, offset
    if chunk.end_line > chunk.first_line:
        yield chunk


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


@dataclass
class ReplayReport:
    """What a replay did, counted from acknowledged chunks only."""

    path: Path
    topic: str
    from_line: int = 1
    sent: int = 0
    """Events of the file the broker acknowledged."""
    blank: int = 0
    unparsable: int = 0
    not_sent: list[NotSent] = field(default_factory=list)
    limit: int = 0
    resume_line: int = 1
    """The first line not acknowledged yet (after the end of the file when done)."""
    resume_offset: int = 0
    last_ack: float = field(default_factory=time.monotonic)
    stopped: str | None = None
    """Why the replay ended before the end of the file, or None."""
    interrupted: bool = False
    seconds: float = 0.0

    def acknowledge(self, chunk: Chunk, now: float) -> None:
        self.sent += chunk.events
        self.blank += chunk.blank
        self.unparsable += chunk.unparsable
        self.not_sent += chunk.not_sent
        self.resume_line, self.resume_offset = chunk.end_line, chunk.end_offset
        self.last_ack = now

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.stopped is not None:
            return EXIT_STOPPED
        return EXIT_NOT_SENT if self.not_sent else EXIT_SENT

    def summary(self) -> str:
        """One line: what was sent, what was not and why, and where to resume."""
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        if self.stopped is None:
            parts = [f"sent {self.sent:,} events from {self.path} to {self.topic} in "
                     f"{self.seconds:.1f} s ({rate:,.0f}/s)"]
        else:
            acknowledged = (f"lines {self.from_line:,}–{self.resume_line - 1:,}"
                            if self.resume_line > self.from_line else "no line")
            parts = [f"stopped at line {self.resume_line:,} of {self.path}: {self.stopped}",
                     f"sent {self.sent:,} events to {self.topic} in {self.seconds:.1f} s "
                     f"(the broker acknowledged {acknowledged})",
                     f"resume with `dorpspomp replay {self.path} --from-line "
                     f"{self.resume_line}`"]
        if self.not_sent:
            n = len(self.not_sent)
            which = ", ".join(f"line {x.line:,} ({_mib(x.size)})" for x in self.not_sent[:5])
            more = f" and {n - 5:,} more" if n > 5 else ""
            parts.append(
                f"{n:,} line{'s were' if n > 1 else ' was'} not sent, over the "
                f"{_mib(self.limit)} one Kafka message may hold: {which}{more}; a reference "
                "record for each is in dead_letters (error_code 'unsendable'): split such "
                "lines into events and send them again")
        if self.from_line > 1:
            parts.append(f"lines 1–{self.from_line - 1:,} skipped (--from-line "
                         f"{self.from_line})")
        if self.unparsable:
            parts.append(f"{self.unparsable:,} lines were not valid JSON events and were sent "
                         "as they are (see the dead_letters table)")
        if self.blank:
            parts.append(f"{self.blank:,} blank lines skipped")
        return "; ".join(parts)


class Pacer:
    """Holds a sender to `rate` events per second (None: as fast as it can)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.perf_counter()
        self.count = 0

    def delay(self, count: int) -> float:
        """Seconds to wait before sending the next `count` events.

        A sender held up (by a broker away for a while) catches up one second's worth at
        most, not in one burst of all it missed.
        """
        if not self.rate:
            return 0.0
        wait = self.start + self.count / self.rate - time.perf_counter()
        if wait < -1.0:
            self.start -= wait + 1.0
            wait = -1.0
        self.count += count
        return wait

    def chunk_size(self) -> int:
        if not self.rate:
            return CHUNK_LINES
        return max(1, min(CHUNK_LINES, int(self.rate / TICKS_PER_SECOND)))


# -- the file ---------------------------------------------------------------------------


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        size = 0
        last = b"\n"
        for block in iter(lambda: f.read(1 << 20), b""):
            size += block.count(b"\n")
            last = block[-1:]
        return size + (last != b"\n")


def locate(path: Path, line: int) -> int | None:
    """The byte offset where line number `line` (from 1) starts; None past the end."""
    if line == 1:
        return 0
    offset, number = 0, 1
    with path.open("rb") as f:
        for raw in f:
            offset += len(raw)
            number += 1
            if number == line:
                return offset
    return None


def read_from(path: Path, offset: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(offset)
        yield from f


def check_file(path: Path) -> None:
    """A readable file, or a message that says what to pass instead."""
    if path.is_dir():
        files = sorted(p.name for p in path.glob("*.jsonl"))[:3]
        example = f", e.g. {path / files[0]}" if files else ""
        raise ReplayError(
            f"{path} is a directory; pass one .jsonl file{example} (for every file in it: "
            f"for f in {path}/*.jsonl; do dorpspomp replay \"$f\"; done)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")


class ReplayError(ValueError):
    """Arguments that cannot be replayed: a directory, a line past the end of the file."""


# -- Kafka ------------------------------------------------------------------------------


def make_producer(bootstrap: str) -> Any:
    """A kafka-python producer for one-at-a-time, paced sends (`dorpspomp simulate` live)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    try:
        return KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            linger_ms=20,
            batch_size=512 * 1024,
            compression_type=None,
            max_request_size=MAX_REQUEST_BYTES,
            request_timeout_ms=30000,
            bootstrap_timeout_ms=5000,
        )
    except KafkaError:
        raise BrokerUnavailable(no_broker(bootstrap)) from None


def _transient(exc: BaseException) -> bool:
    """An error that a broker coming back cures (as opposed to a refusal)."""
    from aiokafka.errors import (
        KafkaConnectionError,
        KafkaTimeoutError,
        NoBrokersAvailable,
        NodeNotReadyError,
        ProducerClosed,
    )

    return (isinstance(exc, (KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable,
                             NodeNotReadyError, ProducerClosed, OSError))
            or bool(getattr(exc, "retriable", False)))


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc).strip()
    return text if name in text else f"{name}: {text}" if text else name


async def message_limit(bootstrap: str, topic: str) -> int:
    """The most bytes one line may have to go out as one message to `topic`.

    The topic's max.message.bytes (for a topic not created yet, the broker's
    message.max.bytes, which it will get), never above MAX_REQUEST_BYTES, less the room
    a record and its batch need around the line.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
    except (KafkaError, OSError):
        await _quietly(admin.close())
        raise BrokerUnavailable(no_broker(bootstrap)) from None
    try:
        topic_limit = await _config(admin, ConfigResource(ConfigResourceType.TOPIC, topic),
                                    "max.message.bytes")
        if topic_limit is None:
            cluster = await admin.describe_cluster()
            node = str(cluster["brokers"][0]["node_id"])
            topic_limit = await _config(
                admin, ConfigResource(ConfigResourceType.BROKER, node), "message.max.bytes")
    except (KafkaError, OSError, LookupError, ValueError) as exc:
        log.info("the broker did not tell its message limit (%s); assuming Kafka's default",
                 _describe(exc))
        topic_limit = None
    finally:
        await _quietly(admin.close())
    return min(MAX_REQUEST_BYTES, topic_limit or KAFKA_DEFAULT_MESSAGE_BYTES) - RECORD_OVERHEAD


async def _config(admin: Any, resource: Any, name: str) -> int | None:
    """One numeric setting of a topic or broker; None for a topic that does not exist."""
    response = (await admin.describe_configs([resource]))[0]
    error_code, _message, _kind, _name, entries = response.resources[0][:5]
    if error_code == 3:  # UNKNOWN_TOPIC_OR_PARTITION
        return None
    if error_code:
        raise ValueError(f"describe_configs error {error_code}")
    for entry in entries:
        if entry[0] == name:
            return int(entry[1])
    return None


def _batch_producer(bootstrap: str, limit: int, broker_wait: float) -> Any:
    from aiokafka import AIOKafkaProducer

    # A batch that waits this long for the broker fails, and the replay rewinds.
    request_timeout = max(10.0, min(30.0, broker_wait / 2))
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5,
        max_batch_size=min(BATCH_BYTES, limit + RECORD_OVERHEAD),
        max_request_size=MAX_REQUEST_BYTES, request_timeout_ms=int(request_timeout * 1000),
        retry_backoff_ms=500,
    )


async def _quietly(closing: Any, timeout: float = 5.0) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, timeout)


class _Lost(Exception):
    """The broker did not acknowledge a chunk; `since` is when it was last expected to."""

    def __init__(self, error: BaseException, since: float) -> None:
        super().__init__(_describe(error))
        self.error = error
        self.since = since


@dataclass
class _Replay:
    """One replay's connections and counters; `run` is the whole of it."""

    path: Path
    bootstrap: str
    topic: str
    roster: Roster
    report: ReplayReport
    pacer: Pacer
    bar: Any
    broker_wait: float
    say: Any
    producer: Any = None

    async def run(self) -> None:
        self.report.limit = await message_limit(self.bootstrap, self.topic)
        self.producer = await self._connect()
        try:
            while True:
                try:
                    await self._send()
                    return
                except _Lost as lost:
                    await _quietly(self.producer.stop())
                    self.producer = None
                    if not _transient(lost.error):
                        self.report.stopped = f"Kafka refused a batch ({lost})"
                        return
                    since = max(self.report.last_ack, lost.since)
                    self.say(f"the broker at {self.bootstrap} did not acknowledge line "
                             f"{self.report.resume_line:,} or later ({lost}); trying again "
                             f"for up to {self.broker_wait:.0f} s")
                    self.producer = await self._reconnect(since)
                    if self.producer is None:
                        self.report.stopped = (
                            f"the broker at {self.bootstrap} acknowledged nothing for "
                            f"{self.broker_wait:.0f} s (last error: {lost})")
                        return
                    self.say(f"the broker is back; sending again from line "
                             f"{self.report.resume_line:,}")
                    self.bar.n = self.report.resume_line - self.report.from_line
                    self.bar.refresh()
        finally:
            if self.producer is not None:
                await _quietly(self.producer.stop(), timeout=30)

    async def _connect(self) -> Any:
        """A started producer that knows the topic's partitions, or BrokerUnavailable."""
        from aiokafka.errors import KafkaError

        producer = _batch_producer(self.bootstrap, self.report.limit, self.broker_wait)
        try:
            await producer.start()
        except (KafkaError, OSError):  # OSError: TimeoutError too
            await _quietly(producer.stop())
            raise BrokerUnavailable(no_broker(self.bootstrap)) from None
        try:
            await asyncio.wait_for(producer.partitions_for(self.topic), 30)
        except (KafkaError, OSError):
            await _quietly(producer.stop())
            raise BrokerUnavailable(
                f"the broker at {self.bootstrap} gave no partitions of {self.topic}: it does "
                "not create topics on first use; start the worker once (it creates the "
                "topic) or create it") from None
        return producer

    async def _reconnect(self, since: float) -> Any:
        delay = 0.5
        while True:
            left = since + self.broker_wait - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(delay, left))
            delay = min(2 * delay, 8.0)
            with contextlib.suppress(BrokerUnavailable):
                return await self._connect()

    async def _send(self) -> None:
        from pipelines.ingest.kafkabatch import send_keyed

        report = self.report
        in_flight: deque[Chunk] = deque()
        lines = chunks(read_from(self.path, report.resume_offset), report.resume_line,
                       report.resume_offset, file=str(self.path.resolve()),
                       limit=report.limit, roster=self.roster, size=self.pacer.chunk_size())
        try:
            for chunk in lines:
                wait = self.pacer.delay(len(chunk.records))
                if wait > 0:
                    await asyncio.sleep(wait)
                chunk.handed_over = time.monotonic()
                if chunk.records:
                    try:
                        chunk.deliveries = await send_keyed(
                            self.producer, self.topic, chunk.records)
                    except Exception as exc:
                        raise _Lost(exc, chunk.handed_over) from exc
                in_flight.append(chunk)
                self.bar.update(chunk.end_line - chunk.first_line)
                while in_flight and (len(in_flight) > IN_FLIGHT or
                                     all(d.done() for d in in_flight[0].deliveries)):
                    await self._settle(in_flight.popleft())
            while in_flight:
                await self._settle(in_flight.popleft())
        except _Lost:
            # Let what is still under way end (it fails or expires within the request
            # timeout), so that no delivery is left unobserved; the rewind resends it all.
            await asyncio.gather(*(d for c in in_flight for d in c.deliveries),
                                 return_exceptions=True)
            raise

    async def _settle(self, chunk: Chunk) -> None:
        for outcome in await asyncio.gather(*chunk.deliveries, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise _Lost(outcome, chunk.handed_over)
        self.report.acknowledge(chunk, time.monotonic())


def _ignore_lost_deliveries(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A chunk cut short by a lost broker leaves delivery futures nobody awaits; their
    errors are the ones the replay already reported."""
    from aiokafka.errors import KafkaError

    if isinstance(context.get("exception"), KafkaError):
        return
    loop.default_exception_handler(context)


def replay(
    path: Path,
    *,
    bootstrap: str,
    topic: str,
    roster: Roster,
    rate: float | None = None,
    from_line: int = 1,
    broker_wait: float = BROKER_WAIT,
    progress: bool = True,
    stream: IO[str] = sys.stderr,
) -> ReplayReport:
    """Send every non-blank line of `path` from line `from_line` on to `topic`.

    Returns the report also when the replay stopped early (`report.stopped`) or was
    interrupted; raises BrokerUnavailable only when no broker answered at all.
    """
    from tqdm import tqdm

    check_file(path)
    if from_line < 1:
        raise ReplayError("--from-line counts from 1")
    offset = locate(path, from_line)
    if offset is None:
        raise ReplayError(f"--from-line {from_line}: {path} has only {count_lines(path):,} "
                         "lines")
    report = ReplayReport(path, topic, from_line=from_line, resume_line=from_line,
                          resume_offset=offset)
    total = count_lines(path) - from_line + 1 if progress else None
    bar = tqdm(total=total, unit="line", unit_scale=True, disable=not progress, file=stream,
               desc=f"replay {path.name}", mininterval=0.5, delay=0.5)

    def say(message: str) -> None:
        bar.write(f"dorpspomp replay: {message}", file=stream)

    job = _Replay(path, bootstrap, topic, roster, report, Pacer(rate), bar, broker_wait, say)
    started = time.perf_counter()

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(_ignore_lost_deliveries)
        try:
            await job.run()
        except asyncio.CancelledError:  # Ctrl-C: say how far it got
            report.interrupted = True
            report.stopped = "interrupted"

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the replay says itself what went wrong
    try:
        asyncio.run(main())
    finally:
        quiet.setLevel(level)
        bar.close()
        report.seconds = time.perf_counter() - started
    return report
