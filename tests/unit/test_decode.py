"""The decoder against CONTRACT.md §1 and the JSON Schemas in schemas/events."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest.decode import DeadLetter, Mention, Post, Source, decode
from pipelines.roster import Roster, load_roster
from tests import eventgen

ROOT = Path(__file__).resolve().parents[2]
SRC = Source("dorpspomp.events", 2, 41)


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(ROOT / "examples" / "roster.yaml")


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / "events" / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


MENTION_SCHEMA = schema_validator("mention")
POST_SCHEMA = schema_validator("post")


def good_mention(**changes: object) -> dict:
    doc: dict = {
        "type": "mention", "event_id": "tw-1", "org_id": "gemeente-zutphen",
        "platform": "twitter", "created_at": "2026-03-06T16:45:00+01:00",
        "author": {"id": "42", "handle": "anna", "followers": 310, "verified": False},
        "kind": "reply", "text": "Waarom is het loket dicht?", "lang": "nl",
        "in_reply_to": None, "sentiment": None, "complaint": None,
        "some_future_field": {"ignored": True},
    }
    doc.update(changes)
    return doc


def run(doc: object, roster: Roster | None = None) -> Mention | Post | DeadLetter:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return decode(raw, SRC, roster or Roster.empty())


def test_a_valid_mention_becomes_a_row_in_utc() -> None:
    m = run(good_mention())
    assert isinstance(m, Mention)
    assert m.created_at == datetime(2026, 3, 6, 15, 45, tzinfo=UTC)
    assert (m.org_id, m.event_id, m.kind, m.author_followers) == ("gemeente-zutphen", "tw-1",
                                                                  "reply", 310)
    assert m.actionable and m.sentiment is None and m.complaint is None


def test_defaults_fill_optional_fields() -> None:
    doc = good_mention()
    for key in ("kind", "text", "lang", "in_reply_to", "sentiment", "complaint"):
        del doc[key]
    doc["author"] = {"id": "42"}
    m = run(doc)
    assert isinstance(m, Mention)
    assert (m.kind, m.text, m.author_followers, m.author_verified, m.author_handle) == (
        "mention", "", 0, False, "")


def test_a_share_is_not_actionable() -> None:
    m = run(good_mention(kind="share", shared_from="tw-0"))
    assert isinstance(m, Mention) and not m.actionable and m.shared_from == "tw-0"


def test_milliseconds_are_kept_and_finer_digits_dropped() -> None:
    m = run(good_mention(created_at="2026-03-06T15:45:00.123456Z"))
    assert isinstance(m, Mention) and m.created_at.microsecond == 123000


def test_post_org_comes_from_the_roster_and_the_roster_role_wins(roster: Roster) -> None:
    doc = {"type": "post", "event_id": "p1", "platform": "twitter",
           "created_at": "2026-03-09T08:15:00Z",
           "account": {"id": "9", "handle": "@Marieke_Zutphen", "role": "official"},
           "kind": "reply", "in_reply_to": "tw-1"}
    p = run(doc, roster)
    assert isinstance(p, Post)
    assert (p.org_id, p.account_role, p.org_source) == ("gemeente-zutphen", "employee", "roster")


def test_post_with_its_own_org_id_needs_no_roster() -> None:
    doc = {"type": "post", "event_id": "p2", "org_id": "dagblad-noord", "platform": "twitter",
           "created_at": "2026-03-09T08:15:00Z", "account": {"id": "9", "handle": "redactie"}}
    p = run(doc)
    assert isinstance(p, Post)
    assert (p.org_id, p.account_role, p.kind, p.org_source) == (
        "dagblad-noord", "official", "post", "event")


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"{not json", "bad_json", "not valid JSON"),
        (b"", "empty", "empty"),
        (b"[1,2]", "not_object", "JSON object"),
        (b'{"type":"mention","text":"\xff"}', "bad_utf8", "UTF-8"),
        (orjson.dumps({"event_id": "x"}), "missing_field", "'type'"),
        (orjson.dumps(good_mention(type="like")), "unknown_type", "'like'"),
        (orjson.dumps(good_mention(author="anna")), "bad_type", "'author' must be an object"),
        (orjson.dumps(good_mention(created_at="2026-03-06 16:45")), "bad_timestamp", "RFC 3339"),
        (orjson.dumps(good_mention(created_at="2026-03-06T16:45:00")), "bad_timestamp",
         "a zone is required"),
        (orjson.dumps(good_mention(created_at="2026-02-30T10:00:00Z")), "bad_timestamp",
         "not a real time"),
        (orjson.dumps(good_mention(created_at=1767225600)), "bad_timestamp", "RFC 3339 string"),
        (orjson.dumps(good_mention(org_id="Gemeente Zutphen")), "bad_value",
         "not a valid organisation id"),
        (orjson.dumps(good_mention(event_id="")), "bad_value", "1 to 256"),
        (orjson.dumps(good_mention(event_id=7)), "bad_type", "'event_id' must be a string"),
        (orjson.dumps(good_mention(kind="like")), "bad_value", "'kind'"),
        (orjson.dumps(good_mention(sentiment=3)), "bad_value", "[-1, 1]"),
        (orjson.dumps(good_mention(complaint="yes")), "bad_type", "'complaint'"),
        (orjson.dumps(good_mention(author={"id": "1", "followers": -3})), "bad_value", "≥ 0"),
        (orjson.dumps(good_mention(author={"id": "1", "followers": "12"})), "bad_type",
         "whole number"),
        (orjson.dumps(good_mention(author={"handle": "x"})), "missing_field", "'author.id'"),
        (orjson.dumps(good_mention(text="é" * 40000)), "too_large", "64 KiB"),
        (orjson.dumps({"type": "post", "event_id": "p", "platform": "twitter",
                       "created_at": "2026-03-09T08:15:00Z",
                       "account": {"id": "9", "handle": "nobody"}}),
         "unknown_account", "add the account to the roster"),
    ],
)
def test_bad_input_becomes_a_dead_letter_with_a_reason(raw: bytes, code: str, words: str) -> None:
    result = decode(raw, SRC, Roster.empty())
    assert isinstance(result, DeadLetter)
    assert result.error_code == code
    assert words in result.error
    assert result.payload == raw
    assert str(result.source) == "kafka dorpspomp.events[2]@41"


def test_a_missing_message_value_is_a_dead_letter_not_a_crash() -> None:
    result = decode(None, SRC, Roster.empty())
    assert isinstance(result, DeadLetter) and result.error_code == "empty"


def test_generated_bad_lines_are_all_refused_and_good_ones_accepted(roster: Roster) -> None:
    events = eventgen.build(400, seed=3)
    results = [decode(line, SRC, roster) for line in events.lines if line.strip()]
    dead = [r for r in results if isinstance(r, DeadLetter)]
    assert len(dead) == events.dead_letters
    mentions = {r.event_id for r in results if isinstance(r, Mention)}
    posts = {r.event_id for r in results if isinstance(r, Post)}
    assert mentions == events.mentions
    assert posts == events.posts


def test_the_json_schemas_agree_with_the_decoder(roster: Roster) -> None:
    """Every generated line: the schema accepts it exactly when the decoder makes a row.

    Two rules need the roster or byte sizes and are not expressible in JSON
    Schema: a post whose account the roster does not know, and a text over
    64 KiB of UTF-8. Those are excluded from the comparison.
    """
    events = eventgen.build(300, seed=5)
    compared = 0
    for line in events.lines:
        if not line.strip():
            continue
        result = decode(line, SRC, roster)
        if isinstance(result, DeadLetter) and result.error_code in ("unknown_account",
                                                                    "too_large"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            assert isinstance(result, DeadLetter)
            continue
        validator = POST_SCHEMA if isinstance(doc, dict) and doc.get("type") == "post" \
            else MENTION_SCHEMA
        valid = validator.is_valid(doc) and _real_time(doc)
        assert valid == (not isinstance(result, DeadLetter)), (line[:200], result)
        compared += 1
    assert compared > 300


def _real_time(doc: object) -> bool:
    """JSON Schema's date-time format is not asserted by default; check it as RFC 3339 does."""
    try:
        value = doc["created_at"]  # type: ignore[index]
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = decode(raw, SRC, Roster.empty())
    assert isinstance(result, Mention | Post | DeadLetter)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(good_mention())),
                       st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                       | st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
                       | st.floats(allow_nan=False, allow_infinity=False), max_size=8))
def test_field_mutations_are_either_valid_or_dead_letters(changes: dict) -> None:
    doc = good_mention(**changes)
    result = run(doc)
    valid = MENTION_SCHEMA.is_valid(doc) and _real_time(doc)
    assert valid == (not isinstance(result, DeadLetter)), (doc, result)


def test_shuffled_keys_do_not_matter() -> None:
    doc = good_mention()
    items = list(doc.items())
    random.Random(1).shuffle(items)
    assert run(dict(items)) == run(doc)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("kind", [], "bad_value"),
    ("kind", {}, "bad_value"),
    ("created_at", "0001-01-01T00:00:00+01:00", "bad_timestamp"),
    ("created_at", "9999-12-31T23:59:59-01:00", "bad_timestamp"),
])
def test_values_that_crashed_the_decoder_are_dead_letters(
    field: str, value: Any, code: str
) -> None:
    doc = {"type": "mention", "event_id": "e1", "org_id": "o", "platform": "twitter",
           "created_at": "2026-03-02T10:00:00Z", "author": {"id": "a"}, field: value}
    item = decode(json.dumps(doc).encode(), Source("t", 0, 1), Roster.empty())
    assert isinstance(item, DeadLetter) and item.error_code == code, item
