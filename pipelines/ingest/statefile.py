"""The processors' state kept at a clean stop, so that a restart loads it instead of replaying.

A restart rebuilds the response tracker and the surge detector from the warehouse
(`pipelines.processing.processors.StreamProcessors.restore`): on a warehouse of ten million
mentions that is most of the start-up (the tracker takes the answer window's ~600 000 events
again, the detector the organisations' five weeks of complaint minutes). A worker that stops
cleanly has that state in memory, exactly as of the offsets it recorded last, so it writes it
to `processor-state.bin` in its data folder, after the last batch's checkpoint; the next start
loads it when the file still describes the warehouse, and replays as before when it does not.

The file is a *tag* and its *sections*. The tag says which state it is: the format's version,
the events topic, each partition's recorded offset with its event clock as the warehouse had
them when the file was written (`Warehouse.resume_positions`), and a fingerprint of what shapes
the state (the roster, the lateness, the worker's code and the libraries that pickle it). A
start uses the file only when all of it matches what it would restore from; anything else
(a crash after new batches moved the offsets, another roster, an upgrade, a truncated or
damaged file, a ClickHouse server that several workers may share) is a `StateFileUnusable`
with the reason, and the worker replays. The file is removed as soon as a
start has read it, used or not, before the first new batch: a worker killed later must never
find a state older than its offsets moved to. Deleting it by hand is always safe (the next
start replays).

The sections are the processors' own bytes (pickle protocol 5 of their state objects, numpy
and Arrow columns in it). Unpickling runs code named in the file, so it is only ever read from
the worker's own data folder, written by the worker itself; the checksum catches damage, not
tampering. Writing is atomic: a temporary file beside it, fsync, rename, fsync of the folder.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

import schemas
from pipelines.roster import Roster

FILE_NAME = "processor-state.bin"
FORMAT_VERSION = 1
MAGIC = b"dorpspomp processor state\n"
_LENGTH = struct.Struct("<Q")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The worker's code (these packages' sources): the state's classes, and what a replay would
# compute from the stored events (a migration may rewrite them). Any change to it, an upgrade
# say, makes the next start replay once.
_CODE = (Path(__file__).resolve().parents[1], Path(schemas.__file__).resolve().parent)

Positions = Mapping[int, tuple[int, datetime | None]]


class StateFileUnusable(Exception):
    """The state file cannot stand in for a replay; the message says why."""


@dataclass(frozen=True)
class StateTag:
    """What a state file holds the state of (see the module's docstring)."""

    topic: str
    positions: dict[int, tuple[int, int | None]]  # partition -> (next offset, clock in ms)
    fingerprint: str
    version: int = FORMAT_VERSION

    @classmethod
    def of(cls, topic: str, positions: Positions, fingerprint: str) -> StateTag:
        """The tag for `positions` as `Warehouse.resume_positions` gives them."""
        return cls(topic, {int(p): (int(offset), _ms(clock))
                           for p, (offset, clock) in positions.items()}, fingerprint)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "topic": self.topic, "fingerprint": self.fingerprint,
                "positions": {str(p): list(at) for p, at in sorted(self.positions.items())}}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StateTag:
        return cls(str(doc["topic"]),
                   {int(p): (int(at[0]), None if at[1] is None else int(at[1]))
                    for p, at in doc["positions"].items()},
                   str(doc["fingerprint"]), int(doc["version"]))

    def mismatch(self, expected: StateTag) -> str | None:
        """Why a file with this tag is not the state `expected` describes (None: it is)."""
        if self.version != expected.version:
            return f"it has format version {self.version}, this worker reads {expected.version}"
        if self.topic != expected.topic:
            return f"it is of topic {self.topic!r}, the worker reads {expected.topic!r}"
        if self.fingerprint != expected.fingerprint:
            return ("the roster, DORPSPOMP_LATENESS or the worker's code changed since it "
                    "was written")
        if not expected.positions:
            return "the warehouse has no recorded offsets for the topic"
        for partition in sorted(self.positions.keys() | expected.positions.keys()):
            mine, theirs = self.positions.get(partition), expected.positions.get(partition)
            if mine != theirs:
                return (f"partition {partition}'s recorded offset moved since it was written "
                        f"(the warehouse: {_where(theirs)}, the file: {_where(mine)})")
        return None


def fingerprint(roster: Roster, lateness_seconds: int) -> str:
    """A hash of what shapes the processors' state: the roster's content, the lateness, the
    worker's code (`pipelines` and `schemas`, ~2 MB of source: a few milliseconds), and the
    Python, numpy and pyarrow versions that pickle it."""
    digest = hashlib.sha256()
    for part in (roster.fingerprint(), str(lateness_seconds), sys.version, np.__version__,
                 pa.__version__):
        digest.update(part.encode() + b"\0")
    for root in _CODE:
        for source in sorted(root.rglob("*.py")):
            digest.update(str(source.relative_to(root.parent)).encode() + b"\0")
            digest.update(source.read_bytes())
    return digest.hexdigest()[:32]


def write(path: Path, tag: StateTag, sections: Mapping[str, bytes]) -> int:
    """Write the state file atomically; returns its size in bytes."""
    index: dict[str, list[int]] = {}
    at = 0
    for name, data in sections.items():
        index[name] = [at, len(data), zlib.crc32(data)]
        at += len(data)
    header = orjson.dumps({**tag.to_json(), "sections": index,
                           "written_at": datetime.now(UTC).isoformat()})
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        out.write(MAGIC)
        out.write(_LENGTH.pack(len(header)))
        out.write(header)
        for data in sections.values():
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _sync_folder(path.parent)
    return len(MAGIC) + _LENGTH.size + len(header) + at


def read(path: Path, expected: StateTag) -> dict[str, memoryview]:
    """The sections of the state file at `path` if its tag is `expected` and every section is
    whole; `StateFileUnusable` saying why not otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StateFileUnusable("there is none (the worker was not stopped cleanly, or this "
                                "is its first start)") from None
    except OSError as exc:
        raise StateFileUnusable(f"it could not be read ({exc})") from None
    header, body = split(data)
    try:
        tag = StateTag.from_json(header)
        index = {str(name): (int(at), int(size), int(crc))
                 for name, (at, size, crc) in header["sections"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateFileUnusable(f"its header is unreadable ({exc!r}): damaged") from None
    why = tag.mismatch(expected)
    if why is not None:
        raise StateFileUnusable(why)
    sections: dict[str, memoryview] = {}
    for name, (at, size, crc) in index.items():
        section = body[at:at + size]
        if len(section) != size:
            raise StateFileUnusable(f"it is truncated (section {name!r} is cut short)")
        if zlib.crc32(section) != crc:
            raise StateFileUnusable(f"it is damaged (section {name!r} fails its checksum)")
        sections[name] = section
    return sections


def split(data: bytes) -> tuple[dict[str, Any], memoryview]:
    """A state file's bytes as its header (the tag and where each section is) and its body
    (the sections, end to end)."""
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start or data[:len(MAGIC)] != MAGIC:
        raise StateFileUnusable("it is not a state file of this worker (or it is truncated)")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    view = memoryview(data)
    try:
        header = orjson.loads(view[start:start + length])
    except orjson.JSONDecodeError as exc:
        raise StateFileUnusable(f"its header is unreadable ({exc}): truncated or "
                                "damaged") from None
    if not isinstance(header, dict):
        raise StateFileUnusable("its header is unreadable: damaged")
    return header, view[start + length:]


def discard(path: Path) -> bool:
    """Remove the state file (and a temporary one left by a write cut short); True if there
    was one. A file that cannot be removed stops the worker: a later start would load it."""
    removed = False
    for stale in (path, path.with_name(path.name + ".tmp")):
        try:
            stale.unlink()
            removed = True
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise RuntimeError(
                f"cannot remove the processors' state file {stale} ({exc}); a later start "
                "could load it after newer batches: remove it by hand, then start again"
            ) from exc
    if removed:
        _sync_folder(path.parent)
    return removed


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ms(clock: datetime | None) -> int | None:
    """A recorded clock in whole milliseconds, as the warehouse keeps it (DateTime64(3))."""
    if clock is None:
        return None
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    return (clock - _EPOCH) // timedelta(milliseconds=1)


def _where(at: tuple[int, int | None] | None) -> str:
    if at is None:
        return "none"
    offset, clock = at
    when = "unknown" if clock is None else (_EPOCH + timedelta(milliseconds=clock)).isoformat()
    return f"offset {offset}, clock {when}"
