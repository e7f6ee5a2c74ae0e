"""Real broker, real worker, real embedded ClickHouse: exact counts after replay."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import eventgen
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack.fresh("t", tmp_path / "home", kafka_broker.bootstrap)
    yield s
    s.stop_worker()


def test_replay_of_10k_events_with_duplicates_and_every_bad_kind(stack: Stack,
                                                                 tmp_path: Path) -> None:
    events = eventgen.build(10_000, seed=11, duplicate_share=0.12, bad_per_kind=4)
    path = events.write(tmp_path / "events.jsonl")
    stack.start_worker()
    out = stack.cli("replay", str(path), "--quiet")
    sent = len(events.lines) - events.blank
    assert f"sent {sent:,} events" in out.stdout
    stack.wait_caught_up()

    assert stack.scalar("SELECT count() FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT count() FROM posts") == len(events.posts)
    assert stack.scalar("SELECT uniqExact(event_id) FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT count() FROM dead_letters") == events.dead_letters

    letters = stack.sql("SELECT error_code, error, source, length(payload) AS size "
                        "FROM dead_letters ORDER BY error_code")
    by_code: dict[str, int] = {}
    for letter in letters:
        by_code[letter["error_code"]] = by_code.get(letter["error_code"], 0) + 1
        assert len(letter["error"]) > 15 and letter["source"].startswith(f"kafka {stack.topic}[")
        assert letter["size"] > 0
    assert by_code["bad_json"] >= events.bad["broken_json"]
    assert by_code["unknown_type"] == events.bad["unknown_type"]
    assert by_code["unknown_account"] == events.bad["unknown_account"]
    assert by_code["too_large"] == events.bad["huge_text"]
    assert by_code["bad_utf8"] == events.bad["invalid_utf8"]
    assert by_code["bad_timestamp"] >= events.bad["bad_timestamp"]
    huge = stack.scalar("SELECT max(length(payload)) FROM dead_letters "
                        "WHERE error_code = 'too_large'")
    assert huge > 1024 * 1024, "the raw bytes of a rejected event are kept whole"
    reasons = stack.sql("SELECT error FROM dead_letters WHERE error_code = 'unknown_account' "
                        "LIMIT 1")
    assert "add the account to the roster" in reasons[0]["error"]

    # Posts that named no org_id got it from the roster, with the roster's role.
    rows = stack.sql("SELECT org_id, account_role, count() AS n FROM posts "
                     "WHERE org_source = 'roster' GROUP BY org_id, account_role ORDER BY 2")
    assert {r["org_id"] for r in rows} == {"gemeente-zutphen"}
    assert {r["account_role"] for r in rows} == {"employee", "official"}

    # Replaying the same file again changes nothing but the dead letters' count
    # (a second delivery of a broken line is a second reject, kept with its offset).
    stack.cli("replay", str(path), "--quiet")
    stack.wait_caught_up()
    assert stack.scalar("SELECT count() FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT count() FROM posts") == len(events.posts)
    assert stack.scalar("SELECT count() FROM dead_letters") == 2 * events.dead_letters


def test_sigkill_mid_replay_loses_nothing_and_writes_nothing_twice(stack: Stack,
                                                                   tmp_path: Path) -> None:
    events = eventgen.build(18_000, seed=23, duplicate_share=0.05, bad_per_kind=2)
    path = events.write(tmp_path / "events.jsonl")
    stack.start_worker()
    replay_done = threading.Event()
    errors: list[BaseException] = []

    def send() -> None:
        try:
            stack.cli("replay", str(path), "--rate", "1500", "--quiet")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            replay_done.set()

    sender = threading.Thread(target=send)
    sender.start()
    # First kill: while the replay is still sending and batches are being written.
    _wait_for_rows(stack, more_than=500)
    stack.kill_worker()
    assert not errors, f"the replay failed: {errors}"
    assert not replay_done.is_set(), "the replay ended before the kill; send more events"
    # Second kill: right after the restarted worker has written again (on a busy machine its
    # start can outlast the sending, and then it has written everything by the time it is up).
    stack.start_worker()
    before = _rows(stack)
    if before < len(events.mentions):
        _wait_for_rows(stack, more_than=before)
    stack.kill_worker()
    stack.start_worker()
    sender.join()
    assert not errors, errors
    stack.wait_caught_up()

    assert stack.scalar("SELECT count() FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT uniqExact(event_id) FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT count() FROM posts") == len(events.posts)
    assert stack.scalar("SELECT count() FROM dead_letters") == events.dead_letters
    assert stack.scalar("SELECT count() FROM (SELECT topic, partition, offset FROM dead_letters "
                        "GROUP BY topic, partition, offset HAVING count() > 1)") == 0


def _rows(stack: Stack) -> int:
    return int(stack.scalar("SELECT count() FROM mentions"))


def _wait_for_rows(stack: Stack, more_than: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _rows(stack) <= more_than:
        assert time.monotonic() < deadline, f"no more than {more_than} mentions after {timeout} s"
        time.sleep(0.1)


def test_sample_file_gives_the_documented_count(stack: Stack) -> None:
    """README: replaying examples/sample-events.jsonl gives exactly this many mentions."""
    sample = ROOT / "examples" / "sample-events.jsonl"
    expected = (ROOT / "examples" / "sample-events.expected").read_text().split()
    numbers = dict(zip(expected[::2], map(int, expected[1::2]), strict=True))
    stack.start_worker()
    stack.cli("replay", str(sample), "--quiet")
    stack.wait_caught_up()
    out = stack.cli("sql", "SELECT count() FROM mentions").stdout
    assert str(numbers["mentions"]) in out.split()
    assert stack.scalar("SELECT count() FROM posts") == numbers["posts"]
    assert stack.scalar("SELECT count() FROM dead_letters") == numbers["dead_letters"]
