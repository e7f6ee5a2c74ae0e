"""Issue 10, finding 2, through the real stack: one mention dated 2200 harms no one.

As found: a mention dated `2200-01-01T00:00:00Z` was accepted; the surge detector stepped
through 174 years hour by hour, ingestion stalled for every organisation for minutes, the
shared watermark jumped, and every organisation's pending mentions turned `unanswered`
with their SLA alerts open. Here three organisations have mentions of ten minutes ago
waiting for an answer (SLA 1 h, open round the clock; unanswered after 2 h), then come the
2200 mention and one dated 20 hours ahead (inside the 1-day horizon), then an ordinary one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

ORGS = ("bibliotheek-oost", "dagblad-noord", "museum-aan-zee")
ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def stamp(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mention(event_id: str, org: str, at: datetime | str) -> bytes:
    return orjson.dumps({
        "type": "mention", "event_id": event_id, "org_id": org, "platform": "twitter",
        "created_at": at if isinstance(at, str) else stamp(at), "kind": "direct",
        "author": {"id": f"u-{event_id}", "handle": f"lezer_{event_id}", "followers": 40},
        "text": "Mijn krant is weer niet bezorgd", "complaint": True,
    })


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    roster = tmp_path / "roster.yaml"
    roster.write_text(yaml.safe_dump({
        "defaults": {"timezone": "UTC", "business_hours": ALWAYS,
                     "first_response_sla": "1h", "answer_window": "2h"},
        "orgs": [{"id": org} for org in ORGS],
    }))
    s = Stack.fresh("f", tmp_path / "home", kafka_broker.bootstrap, roster=roster)
    s.start_worker()
    yield s
    s.stop_worker()


def send(stack: Stack, path: Path, *lines: bytes) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")
    stack.cli("replay", str(path), "--quiet")


def responses(stack: Stack) -> dict[str, dict[str, Any]]:
    return {r["mention_id"]: r for r in stack.sql(
        "SELECT mention_id, status, sla_breached FROM mention_responses ORDER BY mention_id")}


def test_a_2200_mention_is_a_dead_letter_and_harms_no_other_organisation(
        stack: Stack, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    waiting = {f"open-{org}": org for org in ORGS}
    send(stack, tmp_path / "waiting.jsonl",
         *(mention(m, org, now - timedelta(minutes=10)) for m, org in waiting.items()))
    stack.wait_caught_up()
    assert {m: r["status"] for m, r in responses(stack).items()} == dict.fromkeys(
        waiting, "pending")

    attack = mention("aanval", "dagblad-noord", "2200-01-01T00:00:00Z")
    ahead = mention("vooruit", "dagblad-noord", now + timedelta(hours=20))
    send(stack, tmp_path / "attack.jsonl", attack, ahead)
    sent = time.monotonic()
    send(stack, tmp_path / "later.jsonl", mention("gewoon", "museum-aan-zee", datetime.now(UTC)))
    while stack.scalar("SELECT count() FROM mentions WHERE event_id = 'gewoon'") == 0:
        assert time.monotonic() - sent < 60, "ingestion stalled after the 2200 mention"
        time.sleep(0.3)
    stack.wait_caught_up()
    # Written promptly: from Kafka to the warehouse in well under the seconds per
    # organisation that walking 174 years took (the batch window is 0.3 s here).
    delay = stack.scalar("SELECT dateDiff('millisecond', kafka_timestamp, ingested_at) "
                         "FROM mentions WHERE event_id = 'gewoon'")
    assert delay < 3000, delay

    (letter,) = stack.sql("SELECT error_code, error, payload FROM dead_letters")
    assert letter["error_code"] == "future_timestamp"
    assert letter["payload"] == attack.decode()
    assert "'created_at' 2200-01-01T00:00:00Z is 173 years ahead of the time Kafka received" \
        in letter["error"] and "DORPSPOMP_MAX_FUTURE" in letter["error"]
    # The one 20 hours ahead is inside the horizon: kept, with the time Kafka received it.
    (kept,) = stack.sql("SELECT kafka_timestamp FROM mentions WHERE event_id = 'vooruit'")
    received = datetime.fromisoformat(kept["kafka_timestamp"].replace("Z", "+00:00"))
    assert now - timedelta(minutes=1) < received < datetime.now(UTC)

    def unharmed() -> None:
        rows = responses(stack)
        for mention_id in waiting:
            assert (rows[mention_id]["status"], rows[mention_id]["sla_breached"]) == (
                "pending", False), rows[mention_id]
        assert stack.sql("SELECT alert_id FROM alerts") == []
        watermark = stack.scalar("SELECT max(value) FROM watermarks WHERE name = 'events'")
        assert datetime.fromisoformat(watermark.replace("Z", "+00:00")) < (
            datetime.now(UTC) + timedelta(minutes=2))

    unharmed()
    # A restart rebuilds the clocks from the warehouse: the event 20 hours ahead is held
    # to the time Kafka received it there too.
    stack.stop_worker()
    stack.start_worker()
    unharmed()
