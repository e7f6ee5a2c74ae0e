"""The batch decoder against the per-message one: the same rows, column by column with the
sink's Arrow types, and the same dead letters, whatever the batch holds.

The reference is always `pipelines.ingest.decode.decode` on each message, turned into the sink's
tables by `pipelines.ingest.sink.mentions_table`/`posts_table`: what the worker writes today.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import columnar
from pipelines.ingest.columnar import ColumnarBatch, clock_at, decode_batch
from pipelines.ingest.decode import DeadLetter, Mention, Post, Source, clock_time, decode
from pipelines.ingest.sink import mentions_table, posts_table
from pipelines.roster import Roster, load_roster, parse_roster
from pipelines.simulate import simulate_to_file
from tests import eventgen
from tests.unit import test_decode
from tests.unit.test_decode import MENTION_SCHEMA, POST_SCHEMA, good_mention

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "dorpspomp.events"
NOW = datetime(2026, 12, 5, 9, 30, 15, 123000, tzinfo=UTC)  # ingested_at of both paths
RECEIVED_MS = 1_798_000_000_000  # 2026-12-23: after every test event, before the horizon ends
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(ROOT / "examples" / "roster.yaml")


def per_message(partitions: list[int], offsets: list[int], values: list[bytes | None],
                timestamps: list[int | None] | None, roster: Roster,
                max_future: timedelta = timedelta(days=1)
                ) -> tuple[pa.Table, pa.Table, list[DeadLetter]]:
    """Today's path: decode() each message, the sink's tables in (partition, offset) order."""
    results = []
    for i, value in enumerate(values):
        stamp = timestamps[i] if timestamps is not None else None
        received = None if stamp is None else _EPOCH + timedelta(milliseconds=stamp)
        source = Source(TOPIC, partitions[i], offsets[i], received)
        results.append(decode(value, source, roster, max_future=max_future))
    results.sort(key=lambda r: (r.source.partition, r.source.offset))
    return (mentions_table([r for r in results if isinstance(r, Mention)], NOW),
            posts_table([r for r in results if isinstance(r, Post)], NOW),
            [r for r in results if isinstance(r, DeadLetter)])


def check(values: list[bytes | None], roster: Roster, *, partitions: list[int] | None = None,
          offsets: list[int] | None = None, timestamps: list[int | None] | None = None,
          stamped: bool = True, max_future: timedelta = timedelta(days=1)) -> ColumnarBatch:
    """decode_batch gives exactly what decode() gives; returns the batch for more checks."""
    n = len(values)
    partitions = partitions if partitions is not None else [i % 3 for i in range(n)]
    offsets = offsets if offsets is not None else [100 + i for i in range(n)]
    if timestamps is None and stamped:
        timestamps = [RECEIVED_MS + i for i in range(n)]
    batch = decode_batch(TOPIC, partitions, offsets, values, timestamps, roster,
                         max_future=max_future, ingested_at=NOW, per_message_below=0)
    mentions, posts, dead = per_message(partitions, offsets, values, timestamps, roster,
                                        max_future)
    for name, got, want in (("mentions", batch.mentions, mentions),
                            ("posts", batch.posts, posts)):
        assert got.schema == want.schema, name
        for column in want.column_names:
            assert got[column].equals(want[column]), (
                name, column, _first_difference(got[column], want[column]))
            if pa.types.is_floating(want[column].type):  # equals() takes -0.0 for 0.0
                assert (np.signbit(got[column].fill_null(1).to_numpy()).tolist()
                        == np.signbit(want[column].fill_null(1).to_numpy()).tolist()), column
    assert batch.dead_letters == dead
    expected_next: dict[int, int] = {}
    for p, o in zip(partitions, offsets, strict=True):
        expected_next[p] = max(expected_next.get(p, 0), o + 1)
    assert batch.next_offsets == expected_next
    assert len(batch) == n
    return batch


def _first_difference(got: pa.ChunkedArray, want: pa.ChunkedArray) -> object:
    a, b = got.to_pylist(), want.to_pylist()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y or type(x) is not type(y) or repr(x) != repr(y):
            return i, x, y
    return "lengths", len(a), len(b)


def line(doc: object) -> bytes:
    return orjson.dumps(doc)


def post_doc(**changes: object) -> dict:
    doc: dict = {"type": "post", "event_id": "p-1", "platform": "twitter",
                 "created_at": "2026-03-09T08:15:00Z",
                 "account": {"id": "9", "handle": "@Marieke_Zutphen", "role": "official"},
                 "kind": "reply", "in_reply_to": "tw-1", "text": "We kijken ernaar."}
    doc.update(changes)
    return doc


# -- the decoder's own cases ----------------------------------------------------------------


def _decode_cases() -> list[bytes]:
    """Every bad input of test_decode's parametrised test, read from the test itself so that
    a case added there is checked here too."""
    marks = test_decode.test_bad_input_becomes_a_dead_letter_with_a_reason.pytestmark
    cases = [c for m in marks if m.name == "parametrize" for c in m.args[1]]
    assert len(cases) >= 20
    return [raw for raw, _code, _words in cases]


def test_every_bad_input_of_the_decoder_gives_its_dead_letter_among_good_lines(
        roster: Roster) -> None:
    good = [line(good_mention(event_id=f"g-{i}")) for i in range(5)]
    values: list[bytes | None] = [*good[:2], *_decode_cases(), None, *good[2:]]
    batch = check(values, roster)
    assert batch.mentions.num_rows == 5
    assert {d.error_code for d in batch.dead_letters} >= {
        "bad_json", "empty", "not_object", "bad_utf8", "missing_field", "unknown_type",
        "bad_type", "bad_timestamp", "bad_value", "too_large", "unknown_account"}


def test_each_bad_input_alone_in_a_batch(roster: Roster) -> None:
    for raw in _decode_cases():
        batch = check([raw], roster)
        assert len(batch.dead_letters) == 1 and batch.per_message == 1


def test_the_decoders_valid_cases(roster: Roster) -> None:
    defaults = good_mention()
    for key in ("kind", "text", "lang", "in_reply_to", "sentiment", "complaint"):
        del defaults[key]
    defaults["author"] = {"id": "42"}
    values = [
        line(good_mention()), line(defaults),
        line(good_mention(kind="share", shared_from="tw-0")),
        line(good_mention(created_at="2026-03-06T15:45:00.123456Z")),
        line(post_doc()),
        line({"type": "post", "event_id": "p2", "org_id": "dagblad-noord",
              "platform": "twitter", "created_at": "2026-03-09T08:15:00Z",
              "account": {"id": "9", "handle": "redactie"}}),
        line(dict(reversed(list(good_mention(event_id="shuffled").items())))),
    ]
    batch = check(values, roster)
    assert batch.per_message == 0, "the fast path vouches for every valid case"
    assert (batch.mentions.num_rows, batch.posts.num_rows) == (5, 2)
    assert batch.posts["account_role"].to_pylist() == ["employee", "official"]
    assert batch.posts["org_source"].to_pylist() == ["roster", "event"]


def test_generated_lines_with_every_bad_kind(roster: Roster) -> None:
    events = eventgen.build(400, seed=3)
    batch = check(list(events.lines), roster)
    assert len(batch.dead_letters) == events.dead_letters + events.blank
    assert set(batch.mentions["event_id"].to_pylist()) == events.mentions
    assert set(batch.posts["event_id"].to_pylist()) == events.posts


def test_conversations(roster: Roster) -> None:
    check(eventgen.conversations(300, seed=7), roster)


def test_the_json_schemas_agree_with_the_batch_decoder(roster: Roster) -> None:
    """As test_decode checks for decode(): a generated line makes a row exactly when its
    schema accepts it (the roster and byte-size rules aside, which JSON Schema cannot say)."""
    events = eventgen.build(300, seed=5)
    lines = [x for x in events.lines if x.strip()]
    batch = check(lines, roster, partitions=[0] * len(lines),
                  offsets=list(range(len(lines))))
    made = {*batch.mentions["source_offset"].to_pylist(),
            *batch.posts["source_offset"].to_pylist()}
    excused = {d.source.offset for d in batch.dead_letters
               if d.error_code in ("unknown_account", "too_large")}
    compared = 0
    for offset, raw in enumerate(lines):
        if offset in excused:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            assert offset not in made
            continue
        validator = POST_SCHEMA if isinstance(doc, dict) and doc.get("type") == "post" \
            else MENTION_SCHEMA
        valid = validator.is_valid(doc) and test_decode._real_time(doc)
        assert valid == (offset in made), raw[:200]
        compared += 1
    assert compared > 300


def test_the_sample_file() -> None:
    sample = ROOT / "examples" / "sample-events.jsonl"
    values = sample.read_bytes().split(b"\n")
    if values[-1] == b"":
        values.pop()
    batch = check(values, load_roster(ROOT / "examples" / "roster.yaml"))
    assert batch.mentions.num_rows > 300 and batch.posts.num_rows > 100


def test_a_simulated_day(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    simulate_to_file(out, seed=3, orgs=60, days=1, scale=0.5)
    values = out.read_bytes().splitlines()
    assert len(values) > 15_000
    batch = check(values, load_roster(out.with_suffix(".roster.yaml")),
                  partitions=[i % 6 for i in range(len(values))],
                  offsets=[i // 6 for i in range(len(values))])
    assert not batch.dead_letters
    assert batch.per_message < len(values) / 1000, "almost every event on the fast path"


# -- edge cases one by one --------------------------------------------------------------------


def _mention_with(**fields: object) -> bytes:
    return line(good_mention(**fields))


def _author(**fields: object) -> bytes:
    return line(good_mention(author={"id": "42", "handle": "anna", **fields}))


def _spliced(old: bytes, new: bytes) -> bytes:
    """A valid mention's JSON with `old` replaced by `new` (JSON that orjson cannot write)."""
    raw = line(good_mention())
    assert old in raw
    return raw.replace(old, new, 1)


def _raw_mention(tail: str) -> bytes:
    """A valid mention's JSON with `tail` spliced in before its closing brace."""
    return line(good_mention())[:-1] + b"," + tail.encode() + b"}"


EDGE_CASES: dict[str, bytes | None] = {
    # whole numbers that are not ints to orjson, booleans for numbers, big and negative
    "followers 1.0": _author(followers=1.0),
    "followers 1e3": _spliced(b'"followers":310', b'"followers":1e3'),
    "followers true": _author(followers=True),
    "followers 2**64-1": _author(followers=2**64 - 1),
    "followers 2**64": _spliced(b'"followers":310', b'"followers":18446744073709551616'),
    "followers -0": _spliced(b'"followers":310', b'"followers":-0'),
    "followers -1": _author(followers=-1),
    "followers null": _author(followers=None),
    "verified 1": _author(verified=1),
    "verified null": _author(verified=None),
    "complaint 0": _mention_with(complaint=0),
    "complaint true": _mention_with(complaint=True),
    "sentiment true": _mention_with(sentiment=True),
    "sentiment 1": _mention_with(sentiment=1),
    "sentiment -1.0": _mention_with(sentiment=-1.0),
    "sentiment 1.0000001": _mention_with(sentiment=1.0000001),
    "sentiment 0.1": _mention_with(sentiment=0.1),
    "sentiment 1/3": _mention_with(sentiment=1 / 3),
    "sentiment -0": _spliced(b'"sentiment":null', b'"sentiment":-0'),
    "sentiment -0.0": _mention_with(sentiment=-0.0),
    "sentiment 1e-400": _spliced(b'"sentiment":null', b'"sentiment":1e-400'),
    "sentiment 1e400": _spliced(b'"sentiment":null', b'"sentiment":1e400'),
    "sentiment NaN": _spliced(b'"sentiment":null', b'"sentiment":NaN'),
    "sentiment '0.5'": _mention_with(sentiment="0.5"),
    # duplicate keys: orjson keeps the last
    "duplicate type": _raw_mention('"type":"post"'),
    "duplicate event_id": _raw_mention('"event_id":"other"'),
    "duplicate author": _raw_mention('"author":{"id":"7"}'),
    "duplicate author.id": _spliced(b'"id":"42"', b'"id":"42","id":"43"'),
    "escaped duplicate key": _raw_mention('"t\\u0079pe":"post"'),
    "escaped key": line(good_mention()).replace(b'"org_id"', b'"org\\u005fid"'),
    "duplicate ignored key": _raw_mention('"x":1,"x":2'),
    # what pyarrow reads and orjson refuses
    "NaN in an ignored field": _raw_mention('"x":NaN'),
    "Infinity in an ignored field": _raw_mention('"x":[1,-Infinity]'),
    "NaN in a text": _mention_with(text="NaN Infinity Info"),
    "NaN after a colon in a text": _mention_with(text="ratio:NaN, [Inf"),
    "NaN after many spaces": _raw_mention('"x":' + " " * 100 + "NaN"),
    "-Infinity after a tab": _raw_mention('"x":[1,\t-Infinity]'),
    "Inf after a colon": _raw_mention('"x":Inf'),
    "carriage return between tokens": _raw_mention('"x":\r1'),
    "line break between tokens": _raw_mention('"x":\n1'),
    "line break at the end": line(good_mention()) + b"\n",
    "two objects on a line": line(good_mention()) + b" " + line(good_mention(event_id="b")),
    "two objects, no space": line(good_mention()) + line(good_mention(event_id="b")),
    "trailing garbage": line(good_mention()) + b"x",
    "leading space": b" " + line(good_mention()),
    "trailing space": line(good_mention()) + b" ",
    "BOM": b"\xef\xbb\xbf" + line(good_mention()),
    "BOM in a text": _mention_with(text="\ufeffhallo"),
    "comment": _raw_mention('"x":/*c*/1'),
    "trailing comma": line(good_mention())[:-1] + b",}",
    "single quotes": line(good_mention())[:-1] + b",'x':1}",
    "deep nesting 1000": _raw_mention('"x":' + "[" * 1000 + "]" * 1000),
    "deep nesting 1030": _raw_mention('"x":' + "[" * 1030 + "]" * 1030),
    "many brackets in a text": _mention_with(text="[" * 1200),
    "blank": b"",
    "spaces": b"   ",
    "missing value": None,
    "null": b"null",
    "number": b"42",
    "string": b'"mention"',
    "array of objects": b"[" + line(good_mention()) + b"]",
    "empty object": b"{}",
    # strings and escapes
    "lone surrogate escape": _mention_with(text="x").replace(b'"x"', b'"\\ud800"'),
    "surrogate pair escape": _mention_with(text="x").replace(b'"x"', b'"\\ud83d\\ude00"'),
    "lone surrogate in an ignored field": _raw_mention('"x":"\\udc00"'),
    "escaped NUL": _mention_with(text="a\x00b"),
    "escapes": _mention_with(text='a"b\\c/d\n\t\u2028'),
    "raw control character": _mention_with(text="x").replace(b'"x"', b'"a\x01b"'),
    "raw DEL": _mention_with(text="a\x7fb"),
    "invalid UTF-8 in an ignored field": _raw_mention('"x":"y"').replace(b'"y"', b'"\xff"'),
    "encoded surrogate": _mention_with(text="x").replace(b'"x"', b'"\xed\xa0\x80"'),
    "overlong encoding": _mention_with(text="x").replace(b'"x"', b'"\xc0\xaf"'),
    "truncated sequence": _mention_with(text="x").replace(b'"x"', b'"\xe2\x82"'),
    "text 64 KiB": _mention_with(text="a" * 65536),
    "text 64 KiB + 1": _mention_with(text="a" * 65537),
    "text 64 KiB of 4-byte characters": _mention_with(text="😀" * 16384),
    "text 64 KiB + 4 bytes of 4-byte characters": _mention_with(text="😀" * 16385),
    "text 1 MiB": _mention_with(text="x" * 2**20),
    "text a number": _mention_with(text=5),
    "text an array": _mention_with(text=["a"]),
    # ids, organisations, platforms
    "event_id 256 characters": _mention_with(event_id="é" * 256),
    "event_id 257 characters": _mention_with(event_id="é" * 257),
    "event_id a number": _mention_with(event_id=7),
    "event_id an object": _mention_with(event_id={"x": 1}),
    "org_id 128 characters": _mention_with(org_id="a" * 128),
    "org_id 129 characters": _mention_with(org_id="a" * 129),
    "org_id upper case": _mention_with(org_id="Gemeente"),
    "org_id with a line break": _mention_with(org_id="gemeente\n"),
    "org_id starting with a dot": _mention_with(org_id=".gemeente"),
    "platform upper case": _mention_with(platform="TWITTER"),
    "platform with the Kelvin sign": _mention_with(platform="\u212aik"),
    "platform with a dotted capital I": _mention_with(platform="\u0130nsta"),
    "platform 65 characters": _mention_with(platform="a" * 65),
    "platform empty": _mention_with(platform=""),
    "lang 35": _mention_with(lang="x" * 35),
    "lang 36": _mention_with(lang="x" * 36),
    "lang a number": _mention_with(lang=1),
    "handle 257": _author(handle="h" * 257),
    "author id empty": line(good_mention(author={"id": ""})),
    "author a list": _mention_with(author=[]),
    "author null": _mention_with(author=None),
    "kind review": _mention_with(kind="review"),
    "kind post": _mention_with(kind="post"),
    "kind a number": _mention_with(kind=3),
    "shared_from empty": _mention_with(shared_from=""),
    "in_reply_to 257": _mention_with(in_reply_to="r" * 257),
    "type upper case": _mention_with(type="Mention"),
    "type a number": _mention_with(type=1),
    "type missing": line({k: v for k, v in good_mention().items() if k != "type"}),
    "unsendable record": line({"type": "dorpspomp.unsendable", "reason": "too_large",
                               "line": 12, "file": "x.jsonl", "bytes": 9 * 2**20,
                               "limit": 2**20}),
    "unsendable, unknown reason": line({"type": "dorpspomp.unsendable"}),
    # time
    "time with Z": _mention_with(created_at="2026-03-06T15:45:00Z"),
    "time with lower-case t and z": _mention_with(created_at="2026-03-06t15:45:00z"),
    "time with a space": _mention_with(created_at="2026-03-06 15:45:00+01:00"),
    "time -00:00": _mention_with(created_at="2026-03-06T15:45:00-00:00"),
    "time +23:59": _mention_with(created_at="2026-03-06T15:45:00+23:59"),
    "time +24:00": _mention_with(created_at="2026-03-06T15:45:00+24:00"),
    "time +01:60": _mention_with(created_at="2026-03-06T15:45:00+01:60"),
    "time 1 fraction digit": _mention_with(created_at="2026-03-06T15:45:00.5Z"),
    "time 9 fraction digits": _mention_with(created_at="2026-03-06T15:45:00.999999999Z"),
    "time 30 fraction digits": _mention_with(created_at="2026-03-06T15:45:00." + "7" * 30 + "Z"),
    "time leap day": _mention_with(created_at="2024-02-29T12:00:00Z"),
    "time no leap day": _mention_with(created_at="2023-02-29T12:00:00Z"),
    "time 1900 leap day": _mention_with(created_at="1900-02-29T12:00:00Z"),
    "time 2000 leap day": _mention_with(created_at="2000-02-29T12:00:00Z"),
    "time April 31": _mention_with(created_at="2026-04-31T12:00:00Z"),
    "time month 13": _mention_with(created_at="2026-13-01T12:00:00Z"),
    "time day 0": _mention_with(created_at="2026-01-00T12:00:00Z"),
    "time hour 24": _mention_with(created_at="2026-03-06T24:00:00Z"),
    "time second 60": _mention_with(created_at="2026-03-06T23:59:60Z"),
    "time minute 60": _mention_with(created_at="2026-03-06T23:60:00Z"),
    "time first instant": _mention_with(created_at="1900-01-01T00:00:00Z"),
    "time before the first": _mention_with(created_at="1899-12-31T23:59:59.999Z"),
    "time 1899 local, 1900 UTC": _mention_with(created_at="1899-12-31T23:30:00-01:00"),
    "time last instant": _mention_with(created_at="2299-12-31T00:00:00Z"),
    "time a microsecond later": _mention_with(created_at="2299-12-31T00:00:00.000001Z"),
    "time year 0": _mention_with(created_at="0000-01-01T00:00:00Z"),
    "time year 1": _mention_with(created_at="0001-01-01T01:00:00+01:00"),
    "time Arabic-Indic digits": _mention_with(created_at="٢٠٢٦-03-06T15:45:00Z"),
    "time without a zone": _mention_with(created_at="2026-03-06T15:45:00"),
    "time with a comma": _mention_with(created_at="2026-03-06T15:45:00,5Z"),
    "time a number": _mention_with(created_at=1767225600),
    "time with a line break": _mention_with(created_at="2026-03-06T15:45:00Z\n"),
    "time in the future": _mention_with(created_at="2200-01-01T00:00:00Z"),
    # posts and the roster
    "post by handle": line(post_doc()),
    "post by handle with two @": line(post_doc(account={"id": "9",
                                                        "handle": "@@MARIEKE_zutphen"})),
    "post by handle with a space": line(post_doc(account={"id": "9",
                                                          "handle": " marieke_zutphen"})),
    "post by handle, non-ASCII": line(post_doc(account={"id": "9", "handle": "marieke_zütphen"})),
    "post by handle with a space, own org": line(post_doc(
        org_id="gemeente-zutphen", account={"id": "9", "handle": " Marieke_Zutphen"})),
    "post by handle with a no-break space, own org": line(post_doc(
        org_id="gemeente-zutphen", account={"id": "9", "handle": "Marieke_Zutphen\u00a0"})),
    "post by handle with a no-break space": line(post_doc(
        account={"id": "9", "handle": "@Marieke_Zutphen\u00a0"})),
    "post by a handle only '@'": line(post_doc(account={"id": "9", "handle": "@"})),
    "post by an empty handle": line(post_doc(account={"id": "9", "handle": ""})),
    "post with its own org": line(post_doc(org_id="dagblad-noord")),
    "post with the roster's org": line(post_doc(org_id="gemeente-zutphen")),
    "post by an unknown account": line(post_doc(account={"id": "9", "handle": "nobody"})),
    "post, unknown account, own org": line(post_doc(org_id="dagblad-noord",
                                                    account={"id": "9", "handle": "nobody"})),
    "post, bad role": line(post_doc(account={"id": "9", "handle": "gemeentezutphen",
                                             "role": "boss"})),
    "post, employee role, own org": line(post_doc(org_id="x", account={"id": "9",
                                                                       "role": "employee"})),
    "post, platform upper case": line(post_doc(platform="Twitter")),
    "post, other platform": line(post_doc(platform="facebook")),
    "post, account null": line(post_doc(account=None)),
    "post, kind mention": line(post_doc(kind="mention")),
    "post, followers 2.5": line(post_doc(account={"id": "9", "handle": "redactie",
                                                  "followers": 2.5}, org_id="x")),
    "post with an author that is not an object": line(post_doc(author="x", org_id="x")),
    "post with a sentiment out of range": line(post_doc(sentiment=7, org_id="x")),
    "mention with an account that is not an object": _mention_with(account=5),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_an_edge_case_alone_and_among_good_lines(name: str, roster: Roster) -> None:
    value = EDGE_CASES[name]
    check([value], roster)
    good = [line(good_mention(event_id=f"g-{i}")) for i in range(4)]
    check([good[0], good[1], value, good[2], good[3]], roster)


def test_all_edge_cases_in_one_batch(roster: Roster) -> None:
    values = list(EDGE_CASES.values())
    batch = check(values * 2, roster)
    assert batch.per_message < len(values) * 2


def test_roster_accounts_by_id_and_by_handle_on_the_fast_path() -> None:
    roster = parse_roster({"orgs": [
        {"id": "museum-aan-zee", "accounts": [
            {"platform": "Twitter", "handle": "@Museum", "role": "official"},
            {"platform": "instagram", "id": "ig-77", "role": "employee"},
            {"platform": "twitter", "handle": "conservator", "id": "tw-5", "role": "employee"},
        ]},
        {"id": "dagblad-noord", "accounts": [
            {"platform": "twitter", "handle": "redactie", "role": "official"}]},
    ]})
    values = [
        line(post_doc(event_id="a", account={"id": "1", "handle": "MUSEUM"})),
        line(post_doc(event_id="b", platform="instagram", account={"id": "ig-77"})),
        line(post_doc(event_id="c", platform="INSTAGRAM", account={"id": "ig-77",
                                                                  "handle": "unknown"})),
        line(post_doc(event_id="d", account={"id": "tw-5", "handle": "redactie"})),
        line(post_doc(event_id="e", org_id="museum-aan-zee",
                      account={"id": "tw-5", "role": "official"})),
        line(post_doc(event_id="f", org_id="dagblad-noord",
                      account={"id": "tw-5", "role": "official"})),
        line(post_doc(event_id="g", account={"id": "nobody"})),
    ]
    batch = check(values, roster, partitions=[0] * len(values))
    assert batch.per_message == 1  # g: unknown_account, said per message
    assert batch.posts["org_id"].to_pylist() == ["museum-aan-zee"] * 3 + [
        "dagblad-noord", "museum-aan-zee", "dagblad-noord"]
    assert batch.posts["account_role"].to_pylist() == [
        "official", "employee", "employee", "official", "employee", "official"]


def test_the_horizon_and_messages_without_a_timestamp(roster: Roster) -> None:
    received = datetime(2026, 12, 4, 23, 50, tzinfo=UTC)
    received_ms = (received - _EPOCH) // timedelta(milliseconds=1)
    edge = received + timedelta(days=1)
    values = [_mention_with(event_id="edge", created_at=edge.isoformat()),
              _mention_with(event_id="past", created_at=(
                  edge + timedelta(milliseconds=1)).isoformat()),
              _mention_with(event_id="sub-ms", created_at="2026-12-05T23:50:00.0009Z"),
              _mention_with(event_id="2200", created_at="2200-01-01T00:00:00Z"),
              line(post_doc(event_id="post", created_at="2026-12-05T01:50:00Z"))]
    for max_future in (timedelta(days=1), timedelta(hours=1), timedelta(microseconds=1)):
        check(values, roster, timestamps=[received_ms] * 5, max_future=max_future)
        check(values, roster, timestamps=[received_ms, None, received_ms, None, None],
              max_future=max_future)
    batch = check(values, roster, stamped=False)
    assert not batch.dead_letters
    assert batch.mentions["kafka_timestamp"].equals(batch.mentions["created_at"])


def test_rows_come_in_partition_and_offset_order_with_the_next_offsets(roster: Roster) -> None:
    values = [_mention_with(event_id=f"m-{i}") if i % 4 else line(post_doc(event_id=f"p-{i}"))
              for i in range(12)]
    values[5] = b"{broken"
    values[6] = _mention_with(event_id="slow", sentiment=-0.0)  # vouched per message
    partitions = [2, 2, 2, 0, 0, 0, 1, 1, 1, 2, 0, 1]
    offsets = [7, 8, 9, 3, 4, 5, 10, 11, 12, 10, 6, 13]
    batch = check(values, roster, partitions=partitions, offsets=offsets)
    order = list(zip(batch.mentions["source_partition"].to_pylist(),
                     batch.mentions["source_offset"].to_pylist(), strict=True))
    assert order == sorted(order)
    assert batch.next_offsets == {0: 7, 1: 14, 2: 11}


def test_clock_at_is_the_decoders_clock_time(roster: Roster) -> None:
    received = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    ms = (received - _EPOCH) // timedelta(milliseconds=1)
    values = [_mention_with(event_id=f"m-{i}", created_at=f"2026-03-06T15:{i:02d}:00Z")
              for i in range(0, 10, 3)]
    batch = check(values, roster, timestamps=[ms, ms, None, ms], partitions=[0] * 4)
    expected = [clock_time(created, None if i == 2 else received) for i, created in
                enumerate(batch.mentions["created_at"].to_pylist())]
    assert clock_at(batch.mentions).to_pylist() == expected


def test_a_small_batch_goes_per_message_with_the_same_result(roster: Roster) -> None:
    values = [_mention_with(event_id=f"m-{i}") for i in range(5)] + [b"{broken"]
    small = decode_batch(TOPIC, [0] * 6, list(range(6)), values, None, roster,
                         ingested_at=NOW)
    assert small.per_message == 6
    fast = check(values, roster, partitions=[0] * 6, offsets=list(range(6)), stamped=False)
    assert fast.per_message == 1
    assert small.mentions.equals(fast.mentions) and small.dead_letters == fast.dead_letters


def test_an_empty_batch(roster: Roster) -> None:
    batch = decode_batch(TOPIC, [], [], [], [], roster)
    assert (batch.mentions.num_rows, batch.posts.num_rows, batch.dead_letters,
            batch.next_offsets) == (0, 0, [], {})
    assert batch.mentions.schema == mentions_table([], NOW).schema
    assert batch.posts.schema == posts_table([], NOW).schema


def test_lists_of_different_lengths_are_refused(roster: Roster) -> None:
    with pytest.raises(ValueError, match="one of each per message"):
        decode_batch(TOPIC, [0, 0], [1], [b"{}", b"{}"], None, roster)


def test_many_broken_lines_in_a_big_batch(roster: Roster) -> None:
    """Every 50th line broken: the batch is split round them, all the rest stays fast."""
    values = [_mention_with(event_id=f"m-{i}") for i in range(3000)]
    for i in range(0, 3000, 50):
        values[i] = values[i][:-9]
    for i in range(25, 3000, 100):
        values[i] = _author(followers=1.5)  # pyarrow names no row for this one
    for i in range(7, 3000, 70):
        values[i] = _mention_with(event_id=f"u-{i}", text="x").replace(b'"x"', b'"\xc3"')
    for i in range(9, 3000, 90):
        values[i] = _mention_with(event_id=f"t-{i}", author="someone")
    batch = check(values, roster)
    assert batch.per_message < 3000 * 0.1


# -- mixed batches, generated -------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_SCALAR = (st.none() | st.booleans() | st.integers(-(2**65), 2**65)
           | st.floats(allow_nan=False, allow_infinity=False) | _TEXT)
_VALUE = _SCALAR | st.lists(_SCALAR, max_size=2) | st.dictionaries(_TEXT, _SCALAR, max_size=2)
_TIMES = st.sampled_from([
    "2026-03-06T15:45:00Z", "2026-03-06T15:45:00.1234567+05:30", "2026-03-06 15:45:00z",
    "2024-02-29T23:59:59.999-12:00", "2023-02-29T00:00:00Z", "1900-01-01T00:00:00+00:01",
    "2299-12-31T00:00:00Z", "2026-12-24T00:00:00Z", "2026-03-06T15:45", "yesterday"])


@st.composite
def _event_line(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.sampled_from(["mention", "post", "bytes", "truncated", "none", "blank"]))
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "none":
        return None
    if kind == "blank":
        return draw(st.sampled_from([b"", b" ", b"\t\n"]))
    if kind == "post" or (kind == "truncated" and draw(st.booleans())):
        doc = post_doc(event_id=draw(_TEXT), created_at=draw(_TIMES),
                       account={"id": draw(_TEXT), "handle": draw(st.sampled_from(
                           ["gemeentezutphen", "@Marieke_Zutphen", "nobody", "", "@"])),
                           "followers": draw(_SCALAR), "role": draw(st.sampled_from(
                               ["official", "employee", "boss", None]))})
        if draw(st.booleans()):
            doc["org_id"] = draw(st.sampled_from(["gemeente-zutphen", "dagblad-noord", "Bad"]))
    else:
        doc = good_mention(event_id=draw(_TEXT), created_at=draw(_TIMES))
    for key in draw(st.lists(st.sampled_from([*doc, "extra"]), max_size=3)):
        # decode() raises TypeError for a list or an object as "kind" (reported, not ours)
        doc[key] = draw(_SCALAR if key == "kind" else _VALUE)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
    if kind == "truncated":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event_line(), min_size=1, max_size=40))
def test_mixed_batches_of_valid_and_broken_lines(values: list[bytes | None]) -> None:
    roster = load_roster(ROOT / "examples" / "roster.yaml")
    n = len(values)
    partitions = [i % 2 for i in range(n)]
    stamps: list[int | None] = [RECEIVED_MS if i % 5 else None for i in range(n)]
    check(values, roster, partitions=partitions, offsets=list(range(n)), timestamps=stamps)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_judged_as_the_decoder_judges_them(raw: bytes) -> None:
    check([raw, _mention_with(event_id="ok"), raw], Roster.empty())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(good_mention())),
                       st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
                       | st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
                       | st.floats(allow_nan=False, allow_infinity=False), max_size=8))
def test_field_mutations_as_in_the_decoders_test(changes: dict) -> None:
    check([line(good_mention(**changes)), line(good_mention(event_id="ok"))], Roster.empty())


def test_the_fast_path_is_used_for_ordinary_events(roster: Roster) -> None:
    events = eventgen.build(2000, seed=9, bad_per_kind=0)
    values = [x for x in events.lines if x.strip()]
    batch = check(values, roster)
    assert batch.per_message == 0
    assert columnar.MENTIONS_SCHEMA.names == batch.mentions.column_names


def test_lines_that_begin_with_their_type_and_lines_that_do_not(roster: Roster) -> None:
    """A line that begins with its type is parsed with its kind's lines and fields, any other
    with every field: the same rows and dead letters either way, also where the beginning
    misleads, or a field the kind never reads holds something odd."""
    rng = eventgen.random.Random(12)
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    values: list[bytes | None] = []
    for i in range(700):
        doc = (eventgen.mention(f"m-{i}", "gemeente-zutphen", t, rng) if i % 2 else
               eventgen.post(f"p-{i}", "gemeente-zutphen" if i % 4 else None, t, rng,
                             handle="MARIEKE_ZUTPHEN" if i % 4 == 0 else None))
        variant = i % 7
        if variant == 1:  # the type last
            doc = {**{k: v for k, v in doc.items() if k != "type"}, "type": doc["type"]}
        elif variant == 2:  # fields the kind never reads, holding what no schema allows
            doc |= ({"account": 5, "extra": [1]} if doc["type"] == "mention" else
                    {"author": "x", "lang": 5, "sentiment": "bad", "complaint": "yes"})
        elif variant == 3:  # a type that only begins like one
            doc["type"] = doc["type"] + "s"
        elif variant == 4:  # the other kind's type
            doc["type"] = "post" if doc["type"] == "mention" else "mention"
        values.append(json.dumps(doc).encode() if variant == 5 else line(doc))
    values += [b'{"type":"m"}', b'{"type":"p", "x": 1}', b'{"type": "mention"}', b'{"type":',
               b'{"type":"mention","event_id":"q","org_id":"gemeente-zutphen","platform":"x",'
               b'"created_at":"2026-03-02T09:00:00Z","author":{"id":"a"},"type":"post"}']
    rng.shuffle(values)
    batch = check(values, roster)
    assert batch.mentions.num_rows > 100 and batch.posts.num_rows > 100
    assert {d.error_code for d in batch.dead_letters} >= {"unknown_type", "missing_field"}
    misleading = sum(1 for i in range(700) if i % 7 in (3, 4))
    assert batch.per_message == misleading + 5  # the others all on the fast path


def test_the_bench_command_measures_both_paths_on_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = eventgen.build(1500, seed=4)
    path = events.write(tmp_path / "events.jsonl")
    (tmp_path / "events.roster.yaml").write_bytes((ROOT / "examples" / "roster.yaml").read_bytes())
    assert columnar.main(["bench", str(path), "--batch", "800", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{len(events.lines):,} events in 3 batches of up to 800" in out
    assert f"{events.dead_letters + events.blank:,} dead letters" in out
    assert "same rows and dead letters: yes" in out
    for path_name in ("per message, decode()", "batch, decode_batch()"):
        assert path_name in out


def test_the_bench_command_says_how_to_make_a_file(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        columnar.main(["bench", str(tmp_path / "missing.jsonl")])
    assert "dorpspomp simulate --out FILE" in capsys.readouterr().err
