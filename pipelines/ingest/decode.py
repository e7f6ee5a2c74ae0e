"""Turn one raw Kafka message into a mention, a post or a dead letter.

Pure and synchronous: no I/O, no clock (the caller puts the time Kafka received the
message in its `Source`).
The rules are those of CONTRACT.md §1 and `schemas/events/*.schema.json`;
`tests/unit/test_decode.py` checks that this decoder and the JSON Schemas
accept and refuse the same documents. Every refusal carries a reason a person
can act on, because it ends up in `dead_letters` for someone to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipelines.roster import Roster, format_duration

MAX_TEXT_BYTES = 64 * 1024
MAX_ID_CHARS = 256
ORG_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
PLATFORM = re.compile(r"[a-z0-9._-]{1,64}")
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)
MENTION_KINDS = frozenset({"mention", "reply", "comment", "direct", "share", "review"})
POST_KINDS = frozenset({"post", "reply", "share"})
ROLES = frozenset({"official", "employee"})
UNSENDABLE = "dorpspomp.unsendable"
"""The type of the record `dorpspomp replay` sends instead of a line too long for Kafka."""
# DateTime64(3) holds 1900-01-01 .. 2299-12-31.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, tzinfo=UTC)
DEFAULT_MAX_FUTURE = timedelta(days=1)
"""How far `created_at` may be ahead of the time Kafka received the event (the horizon,
`DORPSPOMP_MAX_FUTURE`); an event further ahead is a dead letter."""
CLOCK_SKEW = timedelta(minutes=1)
"""How far past the time Kafka received it an event may move an event-time clock
(`clock_time`): room for a collector's clock that runs a little ahead, and no more."""


@dataclass(slots=True)
class Source:
    """Where a message came from; the dead-letter key and the idempotency key of rejects."""

    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime | None = None
    """The message's Kafka timestamp (the worker's clock for a message without one), to the
    millisecond: what the horizon and the event clocks are measured against. None: not
    known, and then neither applies."""

    def __str__(self) -> str:
        return f"kafka {self.topic}[{self.partition}]@{self.offset}"


def clock_time(created_at: datetime, kafka_timestamp: datetime | None) -> datetime:
    """How far an event may move an event-time clock: its `created_at`, but at most
    `CLOCK_SKEW` past the time Kafka received it.

    So one event dated ahead of the others (inside the horizon, e.g. 20 hours) cannot throw
    a partition's clock, and with it every organisation's SLA timers and the watermark,
    forward; live and replayed events, which are never ahead of their arrival, move the
    clocks exactly as their `created_at` says. The Kafka timestamp is part of the message
    (and kept in the warehouse), so a re-read, a restart or a replay of the same topic gives
    the same clocks.
    """
    if kafka_timestamp is None:
        return created_at
    limit = kafka_timestamp + CLOCK_SKEW
    return created_at if created_at <= limit else limit


@dataclass(slots=True)
class Mention:
    org_id: str
    event_id: str
    platform: str
    created_at: datetime
    author_id: str
    author_handle: str
    author_followers: int
    author_verified: bool
    kind: str
    text: str
    lang: str | None
    in_reply_to: str | None
    shared_from: str | None
    sentiment: float | None
    complaint: bool | None
    source: Source
    labels_source: str = "upstream"
    """upstream, model or mixed: who set sentiment and complaint (see pipelines.ingest.enrich)."""

    @property
    def clock_at(self) -> datetime:
        """The event time this mention moves its partition's clock to (`clock_time`)."""
        return clock_time(self.created_at, self.source.kafka_timestamp)

    @property
    def actionable(self) -> bool:
        """Every kind but a share expects an answer (CONTRACT.md §1)."""
        return self.kind != "share"


@dataclass(slots=True)
class Post:
    org_id: str
    event_id: str
    platform: str
    created_at: datetime
    account_id: str
    account_handle: str
    account_role: str
    account_followers: int
    kind: str
    in_reply_to: str | None
    text: str
    org_source: str
    source: Source

    @property
    def clock_at(self) -> datetime:
        """The event time this post moves its partition's clock to (`clock_time`)."""
        return clock_time(self.created_at, self.source.kafka_timestamp)


@dataclass(slots=True)
class DeadLetter:
    source: Source
    payload: bytes
    error_code: str
    error: str


class Rejected(Exception):
    """Raised inside the decoder; becomes a DeadLetter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Decoded = Mention | Post | DeadLetter


def decode(payload: bytes | None, source: Source, roster: Roster, *,
           max_future: timedelta = DEFAULT_MAX_FUTURE) -> Decoded:
    """Decode one message. Never raises: bad input becomes a `DeadLetter`.

    With a Kafka timestamp in `source`, an event whose `created_at` is more than
    `max_future` ahead of it is refused (`future_timestamp`): a collector with a wrong
    clock or a wrong zone is told so, instead of the pipeline living in its future.
    """
    raw = payload if payload is not None else b""
    try:
        event = _decode(raw, source, roster)
        _within_horizon(event.created_at, source.kafka_timestamp, max_future)
        return event
    except Rejected as exc:
        return DeadLetter(source, raw, exc.code, exc.message)


def _within_horizon(created_at: datetime, received: datetime | None,
                    max_future: timedelta) -> None:
    if received is None or created_at <= received + max_future:
        return
    raise Rejected(
        "future_timestamp",
        f"'created_at' {_instant(created_at)} is {_span(created_at - received)} ahead of the "
        f"time Kafka received the event ({_instant(received)}); events more than "
        f"{_span(max_future)} ahead are refused (DORPSPOMP_MAX_FUTURE) — check the "
        "collector's clock and time zone (a local time sent with Z?) and send the event "
        "again with the time it was posted",
    )


def _instant(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace(".000", "").replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 31_556_952:  # two Gregorian years
        return f"{seconds // 31_556_952} years"
    if seconds >= 2 * 86_400:
        return f"{seconds // 86_400} days"
    return format_duration(max(seconds, 1))


def _decode(raw: bytes, source: Source, roster: Roster) -> Mention | Post:
    if not raw.strip():
        raise Rejected("empty", "the message is empty; send one JSON object per message")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            "bad_utf8",
            f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 4]!r}); "
            "events must be UTF-8 JSON — check the collector's encoding",
        ) from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected("bad_json", f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Rejected(
            "not_object", f"expected a JSON object, got {_json_kind(doc)}; send one event object"
        )
    kind = doc.get("type")
    if kind == "mention":
        return _mention(doc, source)
    if kind == "post":
        return _post(doc, source, roster)
    if kind == UNSENDABLE:
        raise _unsendable(doc)
    if kind is None:
        raise Rejected("missing_field", "required field 'type' is missing; use 'mention' or 'post'")
    raise Rejected(
        "unknown_type", f"unknown event type {_short(kind)}; dorpspomp takes 'mention' and 'post'"
    )


def _mention(doc: dict[str, Any], source: Source) -> Mention:
    author = _object(doc, "author")
    kind = _optional_enum(doc, "kind", MENTION_KINDS) or "mention"
    sentiment = doc.get("sentiment")
    if sentiment is not None:
        if not _is_number(sentiment) or not -1.0 <= float(sentiment) <= 1.0:
            raise Rejected(
                "bad_value",
                f"'sentiment' must be a number in [-1, 1] or null, got {_short(sentiment)}",
            )
        sentiment = float(sentiment)
    complaint = doc.get("complaint")
    if complaint is not None and not isinstance(complaint, bool):
        raise Rejected(
            "bad_type", f"'complaint' must be true, false or null, got {_short(complaint)}"
        )
    return Mention(
        org_id=_org_id(doc, "org_id", required=True) or "",
        event_id=_id(doc, "event_id", required=True) or "",
        platform=_platform(doc),
        created_at=_timestamp(doc),
        author_id=_id(author, "id", required=True, where="author.") or "",
        author_handle=_optional_str(author, "handle", MAX_ID_CHARS, where="author.") or "",
        author_followers=_followers(author, "author."),
        author_verified=_optional_bool(author, "verified", where="author."),
        kind=kind,
        text=_text(doc),
        lang=_optional_str(doc, "lang", 35),
        in_reply_to=_id(doc, "in_reply_to", required=False),
        shared_from=_id(doc, "shared_from", required=False),
        sentiment=sentiment,
        complaint=complaint,
        source=source,
    )


def _post(doc: dict[str, Any], source: Source, roster: Roster) -> Post:
    account = _object(doc, "account")
    event_id = _id(doc, "event_id", required=True) or ""
    platform = _platform(doc)
    created_at = _timestamp(doc)
    account_id = _id(account, "id", required=True, where="account.") or ""
    handle = _optional_str(account, "handle", MAX_ID_CHARS, where="account.") or ""
    role = _optional_enum(account, "role", ROLES, where="account.")
    kind = _optional_enum(doc, "kind", POST_KINDS) or "post"
    org_id = _org_id(doc, "org_id", required=False)
    owner = roster.account_owner(platform, handle) if handle else None
    if owner is None:
        owner = roster.account_by_id(platform, account_id)
    org_source = "event"
    if org_id is None:
        if owner is None:
            who = f"@{handle}" if handle else f"id {account_id}"
            raise Rejected(
                "unknown_account",
                f"post from {platform} account {who} has no org_id and the roster lists no "
                "such account; add the account to the roster or set org_id on the event",
            )
        org_id = owner.org_id
        org_source = "roster"
    if owner is not None and owner.org_id == org_id:
        role = owner.role
    return Post(
        org_id=org_id,
        event_id=event_id,
        platform=platform,
        created_at=created_at,
        account_id=account_id,
        account_handle=handle,
        account_role=role or "official",
        account_followers=_followers(account, "account."),
        kind=kind,
        in_reply_to=_id(doc, "in_reply_to", required=False),
        text=_text(doc),
        org_source=org_source,
        source=source,
    )


def _unsendable(doc: dict[str, Any]) -> Rejected:
    """The dead letter of a line `dorpspomp replay` could not send (its reference record,
    `pipelines.commands.replay.reference_record`), so that the line is in dead_letters all the
    same."""
    line, file, size, limit = (doc.get(k) for k in ("line", "file", "bytes", "limit"))
    where = (f"line {line:,} of {file}" if isinstance(line, int) and isinstance(file, str)
             else "a line of a replayed file")
    if doc.get("reason") == "too_large" and isinstance(size, int) and isinstance(limit, int):
        return Rejected(
            "unsendable",
            f"{where} was {size / 2**20:.1f} MiB, over the {limit / 2**20:.1f} MiB one "
            "Kafka message may hold here; it was not sent: split it into events (a text holds "
            "at most 64 KiB) or remove it, and send those lines again (this record keeps its "
            "first KiB and its sha256)",
        )
    return Rejected("unsendable", f"{where} could not be sent to Kafka and was left out; "
                    "this record says what is known of it")


# -- field helpers -----------------------------------------------------------


def _missing(where: str, name: str) -> Rejected:
    return Rejected("missing_field", f"required field '{where}{name}' is missing")


def _object(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        raise _missing("", name)
    if not isinstance(value, dict):
        raise Rejected(
            "bad_type", f"'{name}' must be an object like {{\"id\": ...}}, got {_json_kind(value)}"
        )
    return value


def _id(doc: dict[str, Any], name: str, *, required: bool, where: str = "") -> str | None:
    value = doc.get(name)
    if value is None:
        if required:
            raise _missing(where, name)
        return None
    if not isinstance(value, str):
        raise Rejected(
            "bad_type", f"'{where}{name}' must be a string, got {_json_kind(value)} {_short(value)}"
        )
    if not 1 <= len(value) <= MAX_ID_CHARS:
        raise Rejected(
            "bad_value", f"'{where}{name}' must be 1 to {MAX_ID_CHARS} characters, got {len(value)}"
        )
    return value


def _org_id(doc: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = _id(doc, name, required=required)
    if value is not None and not ORG_ID.fullmatch(value):
        raise Rejected(
            "bad_value",
            f"'{name}' {_short(value)} is not a valid organisation id "
            "(lower-case letters, digits, '.', '_', '-'; starting with a letter or digit)",
        )
    return value


def _platform(doc: dict[str, Any]) -> str:
    value = _id(doc, "platform", required=True) or ""
    platform = value.lower()
    if not PLATFORM.fullmatch(platform):
        raise Rejected(
            "bad_value", f"'platform' {_short(value)} is not a platform name such as 'twitter'"
        )
    return platform


def _timestamp(doc: dict[str, Any]) -> datetime:
    value = doc.get("created_at")
    if value is None:
        raise _missing("", "created_at")
    if not isinstance(value, str):
        raise Rejected(
            "bad_timestamp",
            f"'created_at' must be an RFC 3339 string like 2026-03-01T09:30:00Z, got "
            f"{_json_kind(value)} {_short(value)}",
        )
    if not RFC3339.fullmatch(value):
        raise Rejected(
            "bad_timestamp",
            f"'created_at' {_short(value)} is not RFC 3339: write it like "
            "2026-03-01T09:30:00Z or 2026-03-01T10:30:00+01:00 (a zone is required)",
        )
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise Rejected(
            "bad_timestamp", f"'created_at' {_short(value)} is not a real time: {exc}"
        ) from None
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        utc = EARLIEST - timedelta(days=1)
    if not EARLIEST <= utc <= LATEST:
        raise Rejected(
            "bad_timestamp", f"'created_at' {_short(value)} is outside the years 1900-2299"
        )
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _text(doc: dict[str, Any]) -> str:
    value = doc.get("text")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Rejected("bad_type", f"'text' must be a string, got {_json_kind(value)}")
    if len(value) > MAX_TEXT_BYTES // 4:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise Rejected(
                "too_large",
                f"'text' is {size} bytes; the limit is {MAX_TEXT_BYTES} bytes (64 KiB) — "
                "truncate it in the collector",
            )
    return value


def _followers(doc: dict[str, Any], where: str) -> int:
    value = doc.get("followers")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(
            "bad_type",
            f"'{where}followers' must be a whole number ≥ 0, "
            f"got {_json_kind(value)} {_short(value)}",
        )
    if not 0 <= value < 2**64:
        raise Rejected("bad_value", f"'{where}followers' must be ≥ 0, got {value}")
    return value


def _optional_str(doc: dict[str, Any], name: str, limit: int, where: str = "") -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected("bad_type", f"'{where}{name}' must be a string, got {_json_kind(value)}")
    if len(value) > limit:
        raise Rejected("bad_value", f"'{where}{name}' is longer than {limit} characters")
    return value


def _optional_bool(doc: dict[str, Any], name: str, where: str = "") -> bool:
    value = doc.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Rejected(
            "bad_type", f"'{where}{name}' must be true or false, got {_short(value)}"
        )
    return value


def _optional_enum(
    doc: dict[str, Any], name: str, allowed: frozenset[str], where: str = ""
) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:  # a list or object is unhashable
        choices = ", ".join(sorted(allowed))
        raise Rejected("bad_value", f"'{where}{name}' {_short(value)} is not one of: {choices}")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: Any, limit: int = 60) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
