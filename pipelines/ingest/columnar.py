"""Decode a whole Kafka batch at once into the warehouse's columns (issue 12, item 1).

`decode_batch` gives the same rows and the same dead letters as calling
`pipelines.ingest.decode.decode` on every message, at a fraction of the cost: the batch is
parsed as columns by one C++ call and checked with column operations, and only the
messages the fast path cannot vouch for go through `decode()` one by one, so every dead
letter keeps its exact reason and every odd input (1.0 or 1e3 for a whole number, a
boolean for a number, duplicate keys, invalid UTF-8, a non-object, a huge text, a
`dorpspomp.unsendable` record) is judged exactly as `decode()` judges it.

Why pyarrow.json. Parse alone, per event, on 141 679 simulated events (310 bytes each),
CPU time on this 2-core machine while it was busy (best of three; wall time was 1.2-2x
that): polars `read_ndjson` with an explicit schema 2.2 µs, pyarrow.json with an explicit
schema 2.4 µs on one thread (2.1 on two), msgspec into validating Structs 3.3 µs
(6.8 with the columns built from its objects), an orjson loop 4.7 µs (9.0 with
`Table.from_pylist`). polars is a little faster but cannot vouch for a row: it turns
`"event_id": 7` into "7" and `{"x": 1}` into a string, keeps the first of two duplicate
keys where orjson keeps the last, reads a lone surrogate escape as NUL and skips blank
lines. pyarrow.json with an explicit schema refuses every type mismatch, duplicate key,
bad escape, control character and trailing comma, so what it accepts for the schema's
fields is what orjson gives. What it accepts and orjson refuses is screened out before
the parse, on the raw bytes (see `_screen`): NaN and Infinity, a carriage return (a line
break to pyarrow), a value that is not exactly one `{...}` line, nesting deeper than
orjson's 1024, invalid UTF-8 (pyarrow does not check it), and very long messages.

A batch pyarrow refuses (one broken line fails the call) is split: at the row its error
names, else in halves, down to small pieces that go per message. Where a value parses but
the fast checks cannot be sure (a `-0` sentiment, a non-ASCII platform or handle, a time
outside the plain RFC 3339 shape, ...), the row goes per message too: the fast path only
ever says yes to rows it is sure of, so the per-message decoder stays the one definition
of the rules.

`python -m pipelines.ingest.columnar bench FILE` measures both paths on the same lines. On 183 061
simulated events (`dorpspomp simulate --days 4 --seed 7`) in batches of 50 000, CPU per
event on this busy 2-core machine: 4.2 µs here against 19.9 µs for `decode()` and the
sink's Arrow tables (11.5 for `decode()` alone); with 1 % bad lines of every kind of
`tests/eventgen.py` mixed in, 8.1 against 18.3 (a refused parse is redone round the bad
row, and each bad line costs a `decode()`).
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipelines.ingest.decode import (
    CLOCK_SKEW,
    DEFAULT_MAX_FUTURE,
    EARLIEST,
    LATEST,
    MAX_ID_CHARS,
    MAX_TEXT_BYTES,
    MENTION_KINDS,
    POST_KINDS,
    ROLES,
    DeadLetter,
    Mention,
    Post,
    Source,
    decode,
)
from pipelines.roster import Roster
from schemas.tables import MENTIONS, POSTS

MS_UTC = pa.timestamp("ms", tz="UTC")
T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# -- the tables, as the sink inserts them --------------------------------------------------

_SOURCE_FIELDS = [
    pa.field("ingested_at", MS_UTC),
    pa.field("source_partition", pa.uint32()),
    pa.field("source_offset", pa.uint64()),
    pa.field("kafka_timestamp", MS_UTC),
]
MENTIONS_SCHEMA = pa.schema([
    pa.field("org_id", pa.string()),
    pa.field("event_id", pa.string()),
    pa.field("platform", pa.string()),
    pa.field("created_at", MS_UTC),
    pa.field("author_id", pa.string()),
    pa.field("author_handle", pa.string()),
    pa.field("author_followers", pa.uint64()),
    pa.field("kind", pa.string()),
    pa.field("text", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("in_reply_to", pa.string()),
    pa.field("shared_from", pa.string()),
    pa.field("sentiment", pa.float32()),
    pa.field("complaint", pa.bool_()),
    pa.field("author_verified", pa.bool_()),
    pa.field("labels_source", pa.string()),
    *_SOURCE_FIELDS,
])
"""The Arrow types of `pipelines.ingest.sink.mentions_table`, in `schemas.tables.MENTIONS` order."""
POSTS_SCHEMA = pa.schema([
    pa.field("org_id", pa.string()),
    pa.field("event_id", pa.string()),
    pa.field("platform", pa.string()),
    pa.field("created_at", MS_UTC),
    pa.field("account_id", pa.string()),
    pa.field("account_handle", pa.string()),
    pa.field("account_role", pa.string()),
    pa.field("account_followers", pa.uint64()),
    pa.field("kind", pa.string()),
    pa.field("in_reply_to", pa.string()),
    pa.field("text", pa.string()),
    pa.field("org_source", pa.string()),
    *_SOURCE_FIELDS,
])
"""The Arrow types of `pipelines.ingest.sink.posts_table`, in `schemas.tables.POSTS` order."""
# A column added to the warehouse must be filled here too (the sink asserts the same).
assert MENTIONS_SCHEMA.names == MENTIONS.names, "columnar: MENTIONS_SCHEMA is behind MENTIONS"
assert POSTS_SCHEMA.names == POSTS.names, "columnar: POSTS_SCHEMA is behind POSTS"


@dataclass
class ColumnarBatch:
    """One Kafka batch decoded: rows as the sink's Arrow tables, in (partition, offset) order.

    `dead_letters` are `decode()`'s own, also in (partition, offset) order; `next_offsets`
    is the offset to resume from per partition (every message counts, dead or alive);
    `per_message` says how many messages went through `decode()` one by one.
    """

    topic: str
    mentions: pa.Table
    posts: pa.Table
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    per_message: int = 0

    def __len__(self) -> int:
        return self.mentions.num_rows + self.posts.num_rows + len(self.dead_letters)


def clock_at(table: pa.Table) -> pa.Array:
    """Each row's `pipelines.ingest.decode.clock_time`: its created_at, at most `CLOCK_SKEW`
    past its Kafka timestamp (a row without one has its created_at there, so it keeps its own)."""
    created = table["created_at"].cast(pa.int64())
    limit = pc.add(table["kafka_timestamp"].cast(pa.int64()), CLOCK_SKEW // _ONE_MS)
    return pc.min_element_wise(created, limit).cast(MS_UTC)


# -- the JSON reader -----------------------------------------------------------------------

_AUTHOR = pa.struct([("id", pa.string()), ("handle", pa.string()),
                     ("followers", pa.uint64()), ("verified", pa.bool_())])
_ACCOUNT = pa.struct([("id", pa.string()), ("handle", pa.string()),
                      ("followers", pa.uint64()), ("role", pa.string())])
_JSON_SCHEMA = pa.schema([
    ("type", pa.string()), ("event_id", pa.string()), ("org_id", pa.string()),
    ("platform", pa.string()), ("created_at", pa.string()), ("author", _AUTHOR),
    ("account", _ACCOUNT), ("kind", pa.string()), ("text", pa.string()), ("lang", pa.string()),
    ("in_reply_to", pa.string()), ("shared_from", pa.string()), ("sentiment", pa.float64()),
    ("complaint", pa.bool_()),
])
"""Every field `decode()` reads, with the one JSON type it accepts (JSON null reads as null,
as `decode()` treats null like a missing field); other fields are ignored, as there."""
_MENTION_JSON = pa.schema([f for f in _JSON_SCHEMA if f.name != "account"])
"""What `decode()` reads of a mention (it never looks at `account`)."""
_POST_JSON = pa.schema([f for f in _JSON_SCHEMA if f.name not in
                        ("author", "lang", "shared_from", "sentiment", "complaint")])
"""What `decode()` reads of a post."""


def _options(schema: pa.Schema) -> pj.ParseOptions:
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore",
                           newlines_in_values=False)


_PARSE = _options(_JSON_SCHEMA)
_PARSE_MENTIONS = _options(_MENTION_JSON)
_PARSE_POSTS = _options(_POST_JSON)

PER_MESSAGE_BELOW = 400
"""Smaller batches go per message: the columnar path costs ~3.5 ms of CPU per call whatever
the size. Measured here in batches of simulated events, CPU µs per event, columnar against
per message: 55 / 24 at 64 messages, 14.6 / 14.1 at 384, 10.8 / 13.6 at 512, 7.7 / 13.8
at 1024 (4.2 / 19.9 at 50 000)."""
MAX_FAST_BYTES = 256 * 1024
"""Longer messages go per message (a valid event is rarely over a few KiB; its text at most
64 KiB): bounds what one refused parse costs."""
MAX_PARSE_BYTES = 64 * 1024 * 1024
"""The most one pyarrow call reads (its block must hold the whole piece)."""
SMALL_PIECE = 32
"""A refused piece this small goes per message instead of being split further."""
_DEEP = 1000
"""orjson refuses nesting deeper than 1024; pyarrow reads deeper. A message with this many
'[' and '{' goes per message."""
_ROW_HINT = re.compile(r"in row (\d+)")
_FOLLOWERS_NOT_UINT = re.compile(rb'"followers"\s*:\s*(?:-|[0-9]+[.eE]|[0-9]{20})')


@dataclass
class JoinedValues:
    """A batch's message values as one buffer, joined with b"\\n", with each value's byte
    range: what the columnar parse reads, and how the batch consumer hands a batch to a
    decode process (one buffer pickles as one copy; a list of 20 000 values as 20 000
    objects, ~1 µs an event both ways). An absent value (a tombstone) is b"": `decode()`
    takes both as the same empty message. Lines taken from a batch (`take`) keep their
    buffer as Arrow made it (a memoryview), with a b"\\n" after the last too."""

    buf: bytes | memoryview
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, values: Sequence[bytes | None]) -> JoinedValues:
        present = cast(Sequence[bytes], values if None not in values
                       else [v if v is not None else b"" for v in values])
        buf = b"\n".join(present)
        lengths = np.fromiter(map(len, present), dtype=np.int64, count=len(present))
        return cls.of_lengths(buf, lengths)

    @classmethod
    def of_lengths(cls, buf: bytes | memoryview, lengths: np.ndarray) -> JoinedValues:
        """`buf` holds values of these lengths, one b"\\n" between each two."""
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return cls(buf, starts, starts + lengths)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, row: int) -> bytes:
        return bytes(self.buf[int(self.starts[row]):int(self.ends[row])])

    def with_placeholders(self, slow: np.ndarray) -> JoinedValues:
        """The same lines with `{}` for those marked: still one row each, parsed cheaply."""
        view = memoryview(self.buf)
        pieces: list[bytes | memoryview] = []
        at = 0
        for row in np.flatnonzero(slow).tolist():
            pieces += [view[at:int(self.starts[row])], b"{}"]
            at = int(self.ends[row])
        pieces.append(view[at:])
        lengths = self.ends - self.starts
        lengths[slow] = 2
        return JoinedValues.of_lengths(b"".join(pieces), lengths)

    def take(self, rows: np.ndarray) -> JoinedValues:
        """The lines at `rows` (ascending), joined the same way: one Arrow take copies them
        (each with the b"\\n" after it, the batch's last line without one, which is last
        here too)."""
        bounds = np.append(self.starts, len(self.buf) + 1).astype(np.int64)
        bounds[-1] = len(self.buf)
        every = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(self.starts),
            [None, pa.py_buffer(bounds), pa.py_buffer(self.buf)])
        taken = every.take(pa.array(rows, pa.int64()))
        data = taken.buffers()[2]
        return JoinedValues.of_lengths(memoryview(data) if data is not None else b"",
                                       (self.ends - self.starts)[rows])

    def rows_at(self, positions: Sequence[int]) -> np.ndarray:
        """The messages the byte positions fall in."""
        return np.searchsorted(self.starts, np.asarray(positions, dtype=np.int64), "right") - 1


def _screen(lines: JoinedValues) -> tuple[JoinedValues, np.ndarray]:
    """Messages that go per message before any parse (True): those pyarrow would read
    differently from orjson, or that would not line up with their row. Returns the lines
    to parse, with `{}` in place of those that would break the parse or the alignment."""
    buf = lines.buf if isinstance(lines.buf, bytes) else bytes(lines.buf)
    starts, ends = lines.starts, lines.ends
    n = len(starts)
    lengths = ends - starts
    slow = (lengths == 0) | (lengths > MAX_FAST_BYTES)
    raw = np.frombuffer(buf, dtype=np.uint8)
    some = ~slow
    # Exactly one object per line: no leading or trailing whitespace (a blank line would be
    # skipped by pyarrow and shift every row after it), no array or scalar, no BOM.
    first = np.zeros(n, dtype=np.uint8)
    last = np.zeros(n, dtype=np.uint8)
    first[some] = raw[starts[some]]
    last[some] = raw[ends[some] - 1]
    slow |= (first != ord("{")) | (last != ord("}"))
    # a line break inside a message (numpy counts them in a fifth of bytes.count's time)
    if np.count_nonzero(raw == ord("\n")) != n - 1:
        positions = [m.start() for m in re.finditer(b"\n", buf)]
        rows = lines.rows_at(positions)
        inside = np.asarray(positions, dtype=np.int64) < ends[rows]
        slow[rows[inside]] = True
    if b"\r" in buf:  # a line break to pyarrow
        slow[lines.rows_at([m.start() for m in re.finditer(b"\r", buf)])] = True
    if slow.any():
        lines = lines.with_placeholders(slow)
    # What pyarrow parses without complaint but orjson or the UTF-8 check refuse.
    _mark_non_finite(lines, slow)
    for row in np.flatnonzero((lines.ends - lines.starts >= _DEEP) & ~slow).tolist():
        value = lines[row]
        if value.count(b"[") + value.count(b"{") >= _DEEP:
            slow[row] = True
    if not (lines.buf if isinstance(lines.buf, bytes) else bytes(lines.buf)).isascii():
        _mark_bad_utf8(lines, slow)
    return lines, slow


def _mark_non_finite(lines: JoinedValues, slow: np.ndarray) -> None:
    """NaN, Inf and Infinity as values (after ':', ',' or '[', maybe with '-'): pyarrow
    reads them, orjson refuses them. A text that merely contains the words is not marked.
    The tokens are found with numpy (1.7 against 8.4 ms for `bytes.find` over a batch of
    20 000 events here), then each is judged by what precedes it."""
    buf = lines.buf
    raw = np.frombuffer(buf, dtype=np.uint8)
    for token in (b"NaN", b"Inf"):
        at = np.flatnonzero(raw[:-2] == token[0])
        at = at[(raw[at + 1] == token[1]) & (raw[at + 2] == token[2])]
        for a in at.tolist():
            j = a - 1
            if j >= 0 and buf[j] == ord("-"):
                j -= 1
            while j >= 0 and buf[j] in b" \t":
                j -= 1
            if j >= 0 and buf[j] in b":,[":
                slow[lines.rows_at([a])] = True


def _mark_bad_utf8(lines: JoinedValues, slow: np.ndarray) -> None:
    """`decode()` refuses a message that is not UTF-8, and pyarrow.json does not check:
    Arrow's validator (the same rules as Python's strict codec: no surrogates, no overlong
    forms, nothing past U+10FFFF), which names the first bad message; go on after it."""
    n = len(slow)
    offsets = np.append(lines.starts, len(lines.buf)).astype(np.int64)
    text = pa.Array.from_buffers(pa.large_string(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(lines.buf)])
    a = 0
    while a < n:
        try:
            text.slice(a).validate(full=True)
            return
        except pa.ArrowInvalid as exc:
            at = _UTF8_AT.search(str(exc))
            if at is None:  # not the message expected: the codec, one by one
                for row in range(a, n):
                    try:
                        lines[row].decode("utf-8")
                    except UnicodeDecodeError:
                        slow[row] = True
                return
            slow[a + int(at.group(1))] = True
            a += int(at.group(1)) + 1


_UTF8_AT = re.compile(r"Invalid UTF8 sequence at string index (\d+)")


def _read(lines: JoinedValues, a: int, b: int, parse: pj.ParseOptions = _PARSE) -> pa.Table:
    piece = memoryview(lines.buf)[int(lines.starts[a]):int(lines.ends[b - 1])]
    options = pj.ReadOptions(use_threads=False, block_size=max(len(piece) + 1, 1 << 16))
    return pj.read_json(pa.BufferReader(pa.py_buffer(piece)), read_options=options,
                        parse_options=parse)


def _parse(lines: JoinedValues, slow: np.ndarray, parse: pj.ParseOptions = _PARSE
           ) -> tuple[pa.Table, np.ndarray]:
    """Parse every message not marked slow; return the table and each row's message index.

    A piece pyarrow refuses is split at the row its error names (that message goes per
    message), else in halves; a refused piece of `SMALL_PIECE` messages or fewer goes per
    message whole. Marks in `slow` what it sends per message.
    """
    n = len(slow)
    if slow.all():
        return parse.explicit_schema.empty_table(), np.zeros(0, dtype=np.int64)
    work: list[tuple[int, int]] = []
    a = 0
    while a < n:  # pieces of at most MAX_PARSE_BYTES (a longer message is slow already)
        limit = lines.starts[a] + MAX_PARSE_BYTES
        b = max(a + 1, int(np.searchsorted(lines.ends, limit, "right")))
        work.append((a, b))
        a = b
    done: list[tuple[int, pa.Table]] = []
    while work:
        a, b = work.pop()
        if a >= b:
            continue
        try:
            table = _read(lines, a, b, parse)
        except (pa.ArrowException, ValueError) as exc:
            hint = _ROW_HINT.search(str(exc))
            if hint is not None and int(hint.group(1)) < b - a:
                bad = a + int(hint.group(1))
                slow[bad] = True
                work += [(a, bad), (bad + 1, b)]
                continue
            if "uint64" in str(exc) and _split_at_followers(lines, a, b, slow, work):
                continue
            table = None
        if table is not None and table.num_rows == b - a:
            done.append((a, table))
        elif b - a <= SMALL_PIECE:
            slow[a:b] = True
        else:
            middle = (a + b) // 2
            work += [(a, middle), (middle, b)]
    if not done:
        return parse.explicit_schema.empty_table(), np.zeros(0, dtype=np.int64)
    done.sort(key=lambda piece: piece[0])
    rows = np.concatenate([np.arange(a, a + t.num_rows, dtype=np.int64) for a, t in done])
    return pa.concat_tables([t for _, t in done]), rows


def _split_at_followers(lines: JoinedValues, a: int, b: int, slow: np.ndarray,
                        work: list[tuple[int, int]]) -> bool:
    """pyarrow names no row when a number is not a whole number ≥ 0: find the followers that
    are not, send their messages per message and parse around them."""
    start = int(lines.starts[a])
    piece = memoryview(lines.buf)[start:int(lines.ends[b - 1])]
    positions = [start + m.start() for m in _FOLLOWERS_NOT_UINT.finditer(piece)]
    rows = sorted({int(r) for r in lines.rows_at(positions) if not slow[r]})
    if not rows:
        return False
    slow[rows] = True
    edges = [a - 1, *rows, b]
    work += [(lo + 1, hi) for lo, hi in itertools.pairwise(edges)]
    return True


# -- the checks, as column operations ------------------------------------------------------

def _bytes_of(*ranges: str) -> np.ndarray:
    """Which byte values are in the class, as a table of 256 (ranges like "az")."""
    table = np.zeros(256, dtype=bool)
    for r in ranges:
        table[ord(r[0]):ord(r[-1]) + 1] = True
    return table


@dataclass(frozen=True)
class _Name:
    """An ASCII name as a pattern: its first byte from `first`, the others from `rest`, from
    1 to `most` bytes (ASCII only, so bytes are characters)."""

    first: np.ndarray
    rest: np.ndarray
    most: int


_ORG_ID = _Name(_bytes_of("az", "09"), _bytes_of("az", "09", ".", "_", "-"),
                128)  # pipelines.ingest.decode.ORG_ID: [a-z0-9][a-z0-9._-]*
_PLATFORM = _Name(_bytes_of("AZ", "az", "09", ".", "_", "-"),
                  _bytes_of("AZ", "az", "09", ".", "_", "-"),
                  64)  # ASCII only: str.lower() maps a few others to ASCII
_PRINTABLE = _bytes_of("!~")  # roster look-ups for handles without spaces or non-ASCII only
_TIME = (r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
         r"([Zz]|[+-][0-9]{2}:[0-9]{2})\z")  # pipelines.ingest.decode.RFC3339 with ASCII digits
_US = 1_000_000
_EARLIEST_US = (EARLIEST - _EPOCH) // timedelta(microseconds=1)
_LATEST_US = (LATEST - _EPOCH) // timedelta(microseconds=1)


def _np(values: pa.Array | pa.ChunkedArray, fill: object) -> np.ndarray:
    return pc.fill_null(values, fill).to_numpy(zero_copy_only=False)


def _chars(values: pa.Array, absent: int = -1) -> np.ndarray:
    """Characters (code points, as Python's len) per string; `absent` for null."""
    return _np(pc.utf8_length(values), absent)


def _matches(values: pa.Array | pa.ChunkedArray, pattern: str, absent: bool = False
             ) -> np.ndarray:
    return _np(pc.match_substring_regex(values, pattern), absent)


def _ascii_name(values: pa.Array | pa.ChunkedArray, rule: _Name) -> np.ndarray:
    """An organisation id or platform name (False where absent): each string's bytes looked
    up in the rule's tables, over the whole column at once (a regex per string cost RE2
    several times as much)."""
    bad, length, first = _byte_classes(values, rule.rest, rule.first)
    return (bad == 0) & (length >= 1) & (length <= rule.most) & first


def _printable(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Absent, or only printable ASCII other than the space (`[!-~]*`)."""
    bad, _, _ = _byte_classes(values, _PRINTABLE, _PRINTABLE)
    return (bad == 0) | _np(pc.is_null(values), True)


def _byte_classes(values: pa.Array | pa.ChunkedArray, allowed: np.ndarray, first: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per string: how many of its bytes `allowed` lacks, its length in bytes (0 where
    absent), and whether its first byte is in `first` (False where empty or absent)."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    n = len(array)
    valid = ~_np(pc.is_null(array), True)
    _, offsets_buffer, data_buffer = array.buffers()
    if offsets_buffer is None or data_buffer is None:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[array.offset:array.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    length = np.where(valid, offsets[1:] - offsets[:-1], 0)
    outside = np.zeros(int(offsets[-1] - offsets[0]) + 1, dtype=np.int64)
    np.cumsum(~allowed[data[offsets[0]:offsets[-1]]], out=outside[1:])
    bad = outside[offsets[1:] - offsets[0]] - outside[offsets[:-1] - offsets[0]]
    first_byte = data[np.minimum(offsets[:-1], max(len(data) - 1, 0))] if len(data) else \
        np.zeros(n, dtype=np.uint8)
    return np.where(valid, bad, 0), length, (length >= 1) & first[first_byte]


def _times(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """`decode()`'s created_at, to UTC milliseconds, and whether the fast path vouches for it:
    RFC 3339 with Z or an offset, checked as `datetime.fromisoformat` checks it (real dates,
    hours 0-23, no leap second, an offset under a day) and within 1900-2299 to the
    microsecond. The digits are read from the string's bytes: the shape is fixed once the
    pattern matched (YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or ±HH:MM)."""
    created_at = column.combine_chunks()
    n = len(created_at)
    shaped = _matches(created_at, _TIME)
    rows = np.flatnonzero(shaped)
    ms = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if not len(rows):
        return ok, ms
    _, offsets_buffer, data_buffer = created_at.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[created_at.offset:][:n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    start = offsets[:-1][rows].astype(np.int64)
    end = offsets[1:][rows].astype(np.int64)

    def number(at: np.ndarray, digits: int) -> np.ndarray:
        value = np.zeros(len(at), dtype=np.int64)
        for k in range(digits):
            value = value * 10 + (data[at + k].astype(np.int64) - 48)
        return value

    y, mo, d = number(start, 4), number(start + 5, 2), number(start + 8, 2)
    h, mi, s = number(start + 11, 2), number(start + 14, 2), number(start + 17, 2)
    zulu = (data[end - 1] == ord("Z")) | (data[end - 1] == ord("z"))
    zone_at = np.where(zulu, end - 1, end - 6)
    safe = np.where(zulu, start, end - 6)  # in range either way; used where not zulu
    sign = np.where(data[safe] == ord("-"), -1, 1)
    oh = np.where(zulu, 0, number(safe + 1, 2))
    om = np.where(zulu, 0, number(safe + 4, 2))
    micros = np.zeros(len(rows), dtype=np.int64)
    for k in range(6):  # the first six fraction digits; fromisoformat drops the rest
        at = start + 20 + k
        digit = np.where(at < zone_at, data[np.minimum(at, end - 1)].astype(np.int64) - 48, 0)
        micros = micros * 10 + digit
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[
        np.clip(mo, 0, 12)] + (leap & (mo == 2))
    valid = ((y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= month_days) & (h <= 23)
             & (mi <= 59) & (s <= 59) & (oh <= 23) & (om <= 59))
    # Days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant's days_from_civil).
    yy = y - (mo <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    utc = (days * 86400 + h * 3600 + mi * 60 + s - sign * (oh * 3600 + om * 60)) * _US + micros
    ok[rows] = valid & (utc >= _EARLIEST_US) & (utc <= _LATEST_US)
    ms[rows] = utc // 1000
    return ok, ms


@dataclass
class _Vouched:
    """What the fast path makes of the parsed rows: which it vouches for, and as what."""

    mention: np.ndarray
    post: np.ndarray
    created_ms: np.ndarray


def _vouch(parsed: pa.Table, screened: np.ndarray, received_ms: np.ndarray,
           stamped: np.ndarray, max_future: timedelta) -> _Vouched:
    """The checks of `decode()`, as column operations, on rows pyarrow parsed.

    Only ever says yes when `decode()` would make the same row: where a value is legal but
    the fast path cannot be sure of it (a non-ASCII platform, a -0 sentiment), the row goes
    per message."""
    column = parsed.column
    names = set(parsed.column_names)
    n = parsed.num_rows

    def field(struct: str, name: str) -> pa.Array:
        return pc.struct_field(column(struct), name)

    ts_ok, created_ms = _times(column("created_at"))
    horizon_us = max_future // timedelta(microseconds=1)
    common = (
        ~screened & ts_ok
        & _between(_chars(column("event_id")), 1, MAX_ID_CHARS)
        & _ascii_name(column("platform"), _PLATFORM)
        & (_np(pc.binary_length(column("text")), 0) <= MAX_TEXT_BYTES)
        & _optional_id(_chars(column("in_reply_to")))
        & (~stamped | (created_ms * 1000 <= received_ms * 1000 + horizon_us))
    )
    org_ok = _ascii_name(column("org_id"), _ORG_ID)
    mention = np.zeros(n, dtype=bool)
    post = np.zeros(n, dtype=bool)
    if "author" in names:  # parsed with what a mention has
        sentiment = _np(column("sentiment"), 0.0)
        mention = (
            _np(pc.equal(column("type"), "mention"), False)
            & org_ok
            & ~_np(pc.is_null(column("author")), True)
            & _between(_chars(field("author", "id")), 1, MAX_ID_CHARS)
            & (_chars(field("author", "handle"), 0) <= MAX_ID_CHARS)
            & _optional_in(column("kind"), MENTION_KINDS)
            & (_chars(column("lang"), 0) <= 35)
            & _optional_id(_chars(column("shared_from")))
            # -0 is 0 to orjson but -0.0 to pyarrow (and -0.0 is -0.0 to both): not vouched.
            & (sentiment >= -1.0) & (sentiment <= 1.0) & ~((sentiment == 0) & np.signbit(sentiment))
        )
    if "account" in names:  # parsed with what a post has
        has_org = ~_np(pc.is_null(column("org_id")), True)
        post = (
            _np(pc.equal(column("type"), "post"), False)
            & (org_ok | ~has_org)
            & ~_np(pc.is_null(column("account")), True)
            & _between(_chars(field("account", "id")), 1, MAX_ID_CHARS)
            & (_chars(field("account", "handle"), 0) <= MAX_ID_CHARS)
            & _printable(field("account", "handle"))
            & _optional_in(field("account", "role"), ROLES)
            & _optional_in(column("kind"), POST_KINDS)
        )
    return _Vouched(common & mention, common & post, created_ms)


def _optional_in(values: pa.Array | pa.ChunkedArray, allowed: frozenset[str]) -> np.ndarray:
    """Absent, or one of `allowed` (a string: pyarrow refused any other JSON type)."""
    return _np(pc.is_null(values), True) | _np(pc.is_in(values, pa.array(sorted(allowed))), False)


def _between(values: np.ndarray, low: int, high: int) -> np.ndarray:
    return (values >= low) & (values <= high)


def _optional_id(chars: np.ndarray) -> np.ndarray:
    """An optional id: absent (-1), or 1 to MAX_ID_CHARS characters."""
    return (chars == -1) | _between(chars, 1, MAX_ID_CHARS)


# -- the tables from the columns -----------------------------------------------------------


@dataclass
class _Accounts:
    """The roster's accounts as `Roster.account_owner` and `Roster.account_by_id` find them:
    keys "platform NUL handle" and "platform NUL id", each with its account's position."""

    by_handle: pa.Array
    by_handle_at: np.ndarray
    by_id: pa.Array
    by_id_at: np.ndarray
    org: pa.Array
    role: pa.Array

    @classmethod
    def of(cls, roster: Roster) -> _Accounts:
        cached = _ACCOUNTS.get(id(roster))
        if cached is not None and cached[0] is roster:
            return cached[1]
        accounts = [a for org in roster.orgs.values() for a in org.accounts]
        handles = [(f"{a.platform}\0{a.handle}", i) for i, a in enumerate(accounts) if a.handle]
        ids = [(f"{a.platform}\0{a.id}", i) for i, a in enumerate(accounts) if a.id]
        made = cls(
            by_handle=pa.array([k for k, _ in handles], pa.string()),
            by_handle_at=np.array([i for _, i in handles], dtype=np.int64),
            by_id=pa.array([k for k, _ in ids], pa.string()),
            by_id_at=np.array([i for _, i in ids], dtype=np.int64),
            org=pa.array([a.org_id for a in accounts], pa.string()),
            role=pa.array([a.role for a in accounts], pa.string()),
        )
        _ACCOUNTS.clear()
        _ACCOUNTS[id(roster)] = (roster, made)
        return made

    def owner(self, platform: pa.Array, handle: pa.Array, account_id: pa.Array) -> pa.Array:
        """Each post's roster account (a position in `org`/`role`), null for none: by handle
        (a non-empty one, normalised as `normalise_handle` does for printable ASCII), else
        by id."""
        key = pc.ascii_lower(pc.utf8_ltrim(handle, characters="@"))
        at_handle = self._at(pc.binary_join_element_wise(platform, key, "\0"),
                             self.by_handle, self.by_handle_at)
        at_handle[_np(pc.equal(handle, ""), True)] = -1
        at_id = self._at(pc.binary_join_element_wise(platform, account_id, "\0"),
                         self.by_id, self.by_id_at)
        at = np.where(at_handle >= 0, at_handle, at_id)
        return pa.array(at, pa.int64(), mask=at < 0)

    @staticmethod
    def _at(keys: pa.Array, known: pa.Array, position: np.ndarray) -> np.ndarray:
        found = _np(pc.index_in(keys, value_set=known), -1).astype(np.int64)
        return np.where(found >= 0, position[np.maximum(found, 0)] if len(position) else -1, -1)


_ACCOUNTS: dict[int, tuple[Roster, _Accounts]] = {}


def _source_columns(n: int, ingested_ms: int, partitions: np.ndarray, offsets: np.ndarray,
                    kafka_ms: np.ndarray) -> list[pa.Array]:
    return [
        pa.array(np.full(n, ingested_ms, dtype=np.int64)).cast(MS_UTC),
        pa.array(partitions, pa.uint32()),
        pa.array(offsets, pa.uint64()),
        pa.array(kafka_ms).cast(MS_UTC),
    ]


def _mentions(parsed: pa.Table, created_ms: np.ndarray, source: list[pa.Array]) -> pa.Table:
    column = parsed.column
    author = column("author")
    n = parsed.num_rows
    return pa.Table.from_arrays([
        column("org_id").combine_chunks(),
        column("event_id").combine_chunks(),
        pc.ascii_lower(column("platform")).combine_chunks(),  # ASCII: lower() is exact
        pa.array(created_ms).cast(MS_UTC),
        pc.struct_field(author, "id").combine_chunks(),
        pc.fill_null(pc.struct_field(author, "handle"), "").combine_chunks(),
        pc.fill_null(pc.struct_field(author, "followers"), 0).combine_chunks(),
        pc.fill_null(column("kind"), "mention").combine_chunks(),
        pc.fill_null(column("text"), "").combine_chunks(),
        column("lang").combine_chunks(),
        column("in_reply_to").combine_chunks(),
        column("shared_from").combine_chunks(),
        column("sentiment").cast(pa.float32()).combine_chunks(),
        column("complaint").combine_chunks(),
        pc.fill_null(pc.struct_field(author, "verified"), False).combine_chunks(),
        pa.repeat("upstream", n).cast(pa.string()),
        *source,
    ], schema=MENTIONS_SCHEMA)


def _posts(parsed: pa.Table, created_ms: np.ndarray, source: list[pa.Array],
           roster: Roster) -> tuple[pa.Table, np.ndarray]:
    """The posts, and which have an organisation (the others are `unknown_account`, which
    the per-message path says)."""
    column = parsed.column
    account = column("account").combine_chunks()
    platform = pc.ascii_lower(column("platform")).combine_chunks()
    handle = pc.fill_null(pc.struct_field(account, "handle"), "")
    account_id = pc.struct_field(account, "id")
    accounts = _Accounts.of(roster)
    owner = accounts.owner(platform, handle, account_id)
    owner_org = accounts.org.take(owner)
    own_org = column("org_id").combine_chunks()
    org = pc.coalesce(own_org, owner_org)
    role = pc.if_else(pc.fill_null(pc.equal(owner_org, org), False), accounts.role.take(owner),
                      pc.fill_null(pc.struct_field(account, "role"), "official"))
    table = pa.Table.from_arrays([
        org,
        column("event_id").combine_chunks(),
        platform,
        pa.array(created_ms).cast(MS_UTC),
        account_id,
        handle,
        role,
        pc.fill_null(pc.struct_field(account, "followers"), 0),
        pc.fill_null(column("kind"), "post").combine_chunks(),
        column("in_reply_to").combine_chunks(),
        pc.fill_null(column("text"), "").combine_chunks(),
        pc.if_else(pc.is_null(own_org), "roster", "event"),
        *source,
    ], schema=POSTS_SCHEMA)
    known = ~_np(pc.is_null(org), True)
    return table.filter(pa.array(known)), known


# -- rows decoded one by one, as the sink would write them ---------------------------------


def _ms(t: datetime) -> int:
    return (t - _EPOCH) // _ONE_MS


def _source_values(rows: Sequence[Mention | Post], ingested_ms: int) -> dict[str, list]:
    return {
        "ingested_at": [ingested_ms] * len(rows),
        "source_partition": [r.source.partition for r in rows],
        "source_offset": [r.source.offset for r in rows],
        "kafka_timestamp": [_ms(r.source.kafka_timestamp or r.created_at) for r in rows],
    }


def _table(values: dict[str, list], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(values[f.name], pa.int64()).cast(f.type) if f.type == MS_UTC
         else pa.array(values[f.name], f.type) for f in schema], schema=schema)


def _mention_rows(rows: Sequence[Mention], ingested_ms: int) -> pa.Table:
    if not rows:
        return MENTIONS_SCHEMA.empty_table()
    names = [n for n in MENTIONS_SCHEMA.names if n not in ("created_at", *_SOURCE_NAMES)]
    values = {n: [getattr(m, n) for m in rows] for n in names}
    values["created_at"] = [_ms(m.created_at) for m in rows]
    return _table(values | _source_values(rows, ingested_ms), MENTIONS_SCHEMA)


def _post_rows(rows: Sequence[Post], ingested_ms: int) -> pa.Table:
    if not rows:
        return POSTS_SCHEMA.empty_table()
    names = [n for n in POSTS_SCHEMA.names if n not in ("created_at", *_SOURCE_NAMES)]
    values = {n: [getattr(p, n) for p in rows] for n in names}
    values["created_at"] = [_ms(p.created_at) for p in rows]
    return _table(values | _source_values(rows, ingested_ms), POSTS_SCHEMA)


_SOURCE_NAMES = tuple(f.name for f in _SOURCE_FIELDS)


def _in_order(fast: pa.Table, slow: pa.Table) -> pa.Table:
    """Both kinds of rows in (partition, offset) order."""
    table = pa.concat_tables([fast, slow]) if slow.num_rows else fast
    partition = table["source_partition"].to_numpy().astype(np.int64)
    offset = table["source_offset"].to_numpy().astype(np.int64)
    if len(partition) < 2 or bool(np.all(
            (partition[1:] > partition[:-1])
            | ((partition[1:] == partition[:-1]) & (offset[1:] > offset[:-1])))):
        return table
    return table.take(pa.array(np.lexsort((offset, partition))))


# -- the batch -----------------------------------------------------------------------------


def decode_batch(
    topic: str,
    partitions: Sequence[int] | np.ndarray,
    offsets: Sequence[int] | np.ndarray,
    values: Sequence[bytes | None] | JoinedValues,
    timestamps: Sequence[int | None] | np.ndarray | None,
    roster: Roster,
    *,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    ingested_at: datetime | None = None,
    per_message_below: int = PER_MESSAGE_BELOW,
) -> ColumnarBatch:
    """Decode one batch of raw Kafka messages; the same rows and dead letters as `decode()`.

    `partitions`, `offsets`, `values` (a list, or one `JoinedValues`) and `timestamps` (the
    Kafka timestamps in milliseconds, None for a message without one: then no horizon
    applies, as in `decode()`) are parallel.
    The messages are expected in offset order within each partition, as a consumer returns
    them. `ingested_at` fills the tables' ingested_at (default: now). A batch of fewer than
    `per_message_below` messages is decoded per message: the columnar path costs a few
    milliseconds per call whatever the size.
    """
    n = len(values)
    ingested_ms = _ms(ingested_at or datetime.now(UTC))
    parts = np.asarray(partitions, dtype=np.int64)
    offs = np.asarray(offsets, dtype=np.int64)
    if not len(parts) == len(offs) == n or (timestamps is not None and len(timestamps) != n):
        raise ValueError(
            f"decode_batch: {len(parts)} partitions, {len(offs)} offsets, {n} values and "
            f"{'no' if timestamps is None else len(timestamps)} timestamps; pass one of each "
            "per message")
    stamped = np.zeros(n, dtype=bool)
    received_ms = np.zeros(n, dtype=np.int64)
    if timestamps is not None:
        stamps = pa.array(timestamps, pa.int64())
        stamped = ~_np(pc.is_null(stamps), True)
        received_ms = _np(stamps, 0).astype(np.int64)
    if n == 0:
        return ColumnarBatch(topic, MENTIONS_SCHEMA.empty_table(), POSTS_SCHEMA.empty_table())

    fast = np.zeros(n, dtype=bool)
    mentions, posts = MENTIONS_SCHEMA.empty_table(), POSTS_SCHEMA.empty_table()
    if n >= per_message_below:
        mentions, posts = _fast_path(values, parts, offs, received_ms, stamped, roster,
                                     max_future, ingested_ms, fast)
    slow_mentions: list[Mention] = []
    slow_posts: list[Post] = []
    dead: list[DeadLetter] = []
    for row in np.flatnonzero(~fast).tolist():
        received = (_EPOCH + timedelta(milliseconds=int(received_ms[row])) if stamped[row]
                    else None)
        item = decode(values[row], Source(topic, int(parts[row]), int(offs[row]), received),
                      roster, max_future=max_future)
        if isinstance(item, Mention):
            slow_mentions.append(item)
        elif isinstance(item, Post):
            slow_posts.append(item)
        else:
            dead.append(item)
    dead.sort(key=lambda d: (d.source.partition, d.source.offset))
    return ColumnarBatch(
        topic=topic,
        mentions=_in_order(mentions, _mention_rows(slow_mentions, ingested_ms)),
        posts=_in_order(posts, _post_rows(slow_posts, ingested_ms)),
        dead_letters=dead,
        next_offsets=_next_offsets(parts, offs),
        per_message=int(n - fast.sum()),
    )


def _fast_path(values: Sequence[bytes | None] | JoinedValues, parts: np.ndarray, offs: np.ndarray,
               received_ms: np.ndarray, stamped: np.ndarray, roster: Roster,
               max_future: timedelta, ingested_ms: int, fast: np.ndarray
               ) -> tuple[pa.Table, pa.Table]:
    """The mentions and posts the columnar path vouches for; marks their messages in
    `fast`.

    A line that begins with its type (`{"type":"mention"`, `{"type": "post"`, as dorpspomp's
    own producers write events) is parsed with its kind's lines and only the fields that kind
    has: pyarrow pays for a struct column on every row, whether the row has it or not, and
    each kind's rows then come out as their own table, with no take. What the line says after
    the parse is what counts (a wrong guess is a row not vouched for, which goes per message);
    other lines are parsed together with every field."""
    lines, slow = _screen(values if isinstance(values, JoinedValues) else JoinedValues.of(values))
    kinds = _kinds(lines, slow)
    mentions: list[pa.Table] = []
    posts: list[pa.Table] = []
    for kind, parse in ((_MENTION, _PARSE_MENTIONS), (_POST, _PARSE_POSTS), (_OTHER, _PARSE)):
        group = np.flatnonzero(kinds == kind)
        if not len(group):
            continue
        group_lines = lines if len(group) == len(lines) else lines.take(group)
        parsed, at = _parse(group_lines, np.zeros(len(group), dtype=bool), parse)
        if not len(at):
            continue
        rows = group[at]
        parsed = parsed.combine_chunks()
        vouched = _vouch(parsed, np.zeros(len(rows), dtype=bool), received_ms[rows],
                         stamped[rows], max_future)
        kafka_ms = np.where(stamped[rows], received_ms[rows], vouched.created_ms)

        def part(mask: np.ndarray, parsed: pa.Table = parsed, rows: np.ndarray = rows,
                 kafka_ms: np.ndarray = kafka_ms) -> tuple[pa.Table, np.ndarray, list[pa.Array]]:
            chosen = np.flatnonzero(mask)
            at = rows[chosen]
            source = _source_columns(len(chosen), ingested_ms, parts[at], offs[at],
                                     kafka_ms[chosen])
            table = parsed if len(chosen) == parsed.num_rows else parsed.take(pa.array(chosen))
            return table, chosen, source

        if vouched.mention.any():
            m_table, m_chosen, m_source = part(vouched.mention)
            mentions.append(_mentions(m_table, vouched.created_ms[m_chosen], m_source))
            fast[rows[m_chosen]] = True
        if vouched.post.any():
            p_table, p_chosen, p_source = part(vouched.post)
            table, known = _posts(p_table, vouched.created_ms[p_chosen], p_source, roster)
            posts.append(table)
            fast[rows[p_chosen[known]]] = True
    return _joined(mentions, MENTIONS_SCHEMA), _joined(posts, POSTS_SCHEMA)


_OTHER, _MENTION, _POST, _SLOW = 0, 1, 2, 3


def _kinds(lines: JoinedValues, slow: np.ndarray) -> np.ndarray:
    """Per line, the kind its first bytes announce (`{"type":"m...` or `{"type": "p...`):
    _MENTION, _POST, _OTHER, or _SLOW for a line that goes per message."""
    kinds = np.full(len(slow), _OTHER, dtype=np.int8)
    kinds[slow] = _SLOW
    rows = np.flatnonzero(~slow & (lines.ends - lines.starts > len(_TYPE_FIRST) + 3))
    raw = np.frombuffer(lines.buf, dtype=np.uint8)
    # the first 8 bytes of each line as one unaligned little-endian integer
    words = np.ndarray((max(len(raw) - 7, 0),), dtype="<u8", buffer=raw, strides=(1,))
    start = lines.starts[rows]
    match = words[start] == _TYPE_FIRST_WORD
    quote = start + len(_TYPE_FIRST)
    quote += raw[quote] == ord(" ")
    match &= raw[quote] == ord('"')
    first = raw[quote + 1]
    kinds[rows[match & (first == ord("m"))]] = _MENTION
    kinds[rows[match & (first == ord("p"))]] = _POST
    return kinds


_TYPE_FIRST = b'{"type":'
_TYPE_FIRST_WORD = np.frombuffer(_TYPE_FIRST, dtype="<u8")[0]


def _joined(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not tables:
        return schema.empty_table()
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _next_offsets(partitions: np.ndarray, offsets: np.ndarray) -> dict[int, int]:
    """Per partition, one past the highest offset in the batch."""
    order = np.lexsort((offsets, partitions))
    p = partitions[order]
    last = order[np.append(p[1:] != p[:-1], True)]
    return {int(q): int(o) + 1 for q, o in zip(partitions[last], offsets[last], strict=True)}


# -- python -m pipelines.ingest.columnar bench FILE ------------------------------------------------


def bench(path: Path, roster_path: Path | None, batch_size: int, repeat: int,
          partitions: int, out: TextIO) -> bool:
    """Both paths on the same lines, batch by batch: µs per event (CPU and wall, best of
    `repeat`), and whether they gave the same rows and dead letters."""
    from pipelines.ingest.sink import mentions_table, posts_table
    from pipelines.roster import load_roster

    values: list[bytes | None] = list(path.read_bytes().split(b"\n"))
    if values and values[-1] == b"":
        values.pop()
    if roster_path is None and path.with_suffix(".roster.yaml").exists():
        roster_path = path.with_suffix(".roster.yaml")
    roster = load_roster(roster_path) if roster_path is not None else Roster.empty()
    n = len(values)
    received_ms = time.time_ns() // 1_000_000
    received = _EPOCH + timedelta(milliseconds=received_ms)
    now = datetime.now(UTC)
    batches = [(range(a, min(a + batch_size, n))) for a in range(0, n, batch_size)]

    def per_message(tables: bool) -> list[tuple[pa.Table, pa.Table, list[DeadLetter]]]:
        results = []
        for rows in batches:
            decoded = [decode(values[i], Source("bench", i % partitions, i // partitions,
                                                received), roster) for i in rows]
            if tables:
                decoded.sort(key=lambda e: (e.source.partition, e.source.offset))
                results.append((
                    mentions_table([e for e in decoded if isinstance(e, Mention)], now),
                    posts_table([e for e in decoded if isinstance(e, Post)], now),
                    [e for e in decoded if isinstance(e, DeadLetter)]))
        return results

    def columnar() -> list[ColumnarBatch]:
        return [decode_batch("bench", [i % partitions for i in rows],
                             [i // partitions for i in rows], values[rows.start:rows.stop],
                             [received_ms] * len(rows), roster, ingested_at=now)
                for rows in batches]

    def timed(run: Callable[[], T]) -> tuple[T, float, float]:
        cpu = wall = float("inf")
        result = run()
        for _ in range(repeat):
            c, w = time.process_time(), time.perf_counter()
            result = run()
            cpu = min(cpu, time.process_time() - c)
            wall = min(wall, time.perf_counter() - w)
        return result, cpu / n * 1e6, wall / n * 1e6

    _, decode_cpu, decode_wall = timed(lambda: per_message(False))
    expected, tables_cpu, tables_wall = timed(lambda: per_message(True))
    got, batch_cpu, batch_wall = timed(columnar)
    same = all(
        b.mentions.drop(["ingested_at"]).equals(m.drop(["ingested_at"]))
        and b.posts.drop(["ingested_at"]).equals(p.drop(["ingested_at"]))
        and b.dead_letters == d for b, (m, p, d) in zip(got, expected, strict=True))
    rows = sum(b.mentions.num_rows + b.posts.num_rows for b in got)
    dead = sum(len(b.dead_letters) for b in got)
    slow = sum(b.per_message for b in got)
    print(f"{path}: {n:,} events in {len(batches)} batches of up to {batch_size:,}, "
          f"{rows:,} rows, {dead:,} dead letters; best of {repeat}, µs per event", file=out)
    print(f"  per message, decode()                 cpu {decode_cpu:6.2f}  wall {decode_wall:6.2f}",
          file=out)
    print(f"  per message, decode() + Arrow tables  cpu {tables_cpu:6.2f}  wall {tables_wall:6.2f}",
          file=out)
    print(f"  batch, decode_batch()                 cpu {batch_cpu:6.2f}  wall {batch_wall:6.2f}"
          f"   ({slow:,} events per message)", file=out)
    print(f"  {tables_cpu / batch_cpu:.1f}x less CPU; same rows and dead letters: "
          f"{'yes' if same else 'NO'}", file=out)
    return same


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ingest.columnar",
        description="Measure the batch decoder against the per-message one.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("bench", help="µs per event of both paths on a .jsonl file")
    run.add_argument("file", type=Path, help="events, one JSON object per line "
                     "(e.g. from `dorpspomp simulate --out FILE`)")
    run.add_argument("--roster", type=Path, default=None,
                     help="roster file (default: FILE's .roster.yaml beside it, if any)")
    run.add_argument("--batch", type=int, default=50_000, help="messages per batch")
    run.add_argument("--repeat", type=int, default=3, help="runs per path; the best counts")
    run.add_argument("--partitions", type=int, default=6,
                     help="partitions the events are spread over (round robin)")
    args = parser.parse_args(argv)
    if not args.file.exists():
        parser.error(f"{args.file} does not exist; make one with "
                     "`dorpspomp simulate --out FILE --days 3`")
    if args.batch < 1 or args.repeat < 1 or args.partitions < 1:
        parser.error("--batch, --repeat and --partitions must be at least 1")
    same = bench(args.file, args.roster, args.batch, args.repeat, args.partitions, sys.stdout)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
