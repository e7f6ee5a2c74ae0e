"""`dorpspomp replay` against what breaks it: a line too long for Kafka, a broker that goes
away in the middle. Real broker, real worker, real embedded ClickHouse; the counts are the
public tables'."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines.ingest import kafkaadmin
from tests import eventgen
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

NINE_MIB = 9 * 1024 * 1024


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack.fresh("r", tmp_path / "home", kafka_broker.bootstrap)
    yield s
    s.stop_worker()


def test_a_9_mib_line_in_the_middle_is_reported_and_every_other_line_arrives(
        stack: Stack, tmp_path: Path) -> None:
    events = eventgen.build(3_000, seed=31, duplicate_share=0.05, bad_per_kind=1)
    huge = orjson.dumps({"type": "mention", "event_id": "huge-1", "org_id": "dagblad-noord",
                         "platform": "web", "created_at": "2026-03-02T09:00:00Z",
                         "author": {"id": "a"}, "text": "x" * NINE_MIB})
    middle = len(events.lines) // 2
    lines = [*events.lines[:middle], huge, *events.lines[middle:]]
    path = tmp_path / "with-a-huge-line.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    stack.start_worker()

    out = stack.cli("replay", str(path), "--quiet", check=False)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    sent = len(events.lines) - events.blank
    assert f"sent {sent:,} events" in out.stdout
    assert f"1 line was not sent, over the 8.0 MiB one Kafka message may hold: line " \
           f"{middle + 1:,} (9.0 MiB)" in out.stdout
    stack.wait_caught_up()

    assert stack.scalar("SELECT count() FROM mentions") == len(events.mentions)
    assert stack.scalar("SELECT count() FROM posts") == len(events.posts)
    assert stack.scalar("SELECT count() FROM dead_letters") == events.dead_letters + 1
    [letter] = stack.sql("SELECT error, payload FROM dead_letters "
                         "WHERE error_code = 'unsendable'")
    assert letter["error"].startswith(
        f"line {middle + 1:,} of {path} was 9.0 MiB, over the 8.0 MiB one Kafka message may "
        "hold here; it was not sent")
    reference = orjson.loads(letter["payload"])
    assert reference["sha256"] == hashlib.sha256(huge).hexdigest()
    assert reference["head"] == huge[:1024].decode()


def _replay(stack: Stack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pipelines.commands.cli", "replay", *args],
                            env=stack.env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _own_stack(own_broker: Any, broker_api: Any, tmp_path: Path) -> Stack:
    stack = Stack.fresh("rb", tmp_path / "home", own_broker.bootstrap)
    broker_api.ensure_topics(own_broker.bootstrap, {stack.topic: 4})
    return stack


def _events(path: Path) -> eventgen.EventFile:
    events = eventgen.build(30_000, seed=47, duplicate_share=0.05, bad_per_kind=1,
                            bad_kinds=("broken_json", "unknown_type"))
    events.write(path)
    return events


def _check_everything_arrived(stack: Stack, events: eventgen.EventFile) -> None:
    stack.start_worker()
    try:
        stack.wait_caught_up()
        assert stack.scalar("SELECT count() FROM mentions") == len(events.mentions)
        assert stack.scalar("SELECT uniqExact(event_id) FROM mentions") == len(events.mentions)
        assert stack.scalar("SELECT count() FROM posts") == len(events.posts)
    finally:
        stack.stop_worker()


def test_a_broker_that_returns_mid_replay_loses_nothing(own_broker: Any, broker_api: Any,
                                                          tmp_path: Path) -> None:
    stack = _own_stack(own_broker, broker_api, tmp_path)
    events = _events(tmp_path / "events.jsonl")
    sender = _replay(stack, str(tmp_path / "events.jsonl"), "--rate", "3000", "--quiet")
    time.sleep(3)
    own_broker.stop()
    assert sender.poll() is None, "the replay ended before the broker stopped"
    time.sleep(4)
    own_broker.start()
    out, err = sender.communicate(timeout=240)
    assert sender.returncode == 0, out + err
    assert f"sent {len(events.lines) - events.blank:,} events" in out
    _check_everything_arrived(stack, events)


def test_a_broker_gone_for_good_stops_the_replay_with_the_line_to_resume_from(
        own_broker: Any, broker_api: Any, tmp_path: Path) -> None:
    stack = _own_stack(own_broker, broker_api, tmp_path)
    path = tmp_path / "events.jsonl"
    events = _events(path)
    sender = _replay(stack, str(path), "--rate", "3000", "--broker-wait", "3", "--quiet")
    time.sleep(3)
    own_broker.stop()
    assert sender.poll() is None, "the replay ended before the broker stopped"
    out, err = sender.communicate(timeout=120)
    assert sender.returncode == 2, out + err
    assert "Traceback" not in err
    summary = err.strip().splitlines()[-1]
    stopped = re.search(r"stopped at line ([\d,]+) of .*acknowledged nothing for 3 s.*"
                        r"sent ([\d,]+) events.*resume with `dorpspomp replay (\S+) "
                        r"--from-line (\d+)`", summary)
    assert stopped, summary
    resume = int(stopped.group(4))
    assert int(stopped.group(1).replace(",", "")) == resume and stopped.group(3) == str(path)
    assert 0 < int(stopped.group(2).replace(",", "")) < len(events.lines)

    own_broker.start()
    out = stack.cli("replay", str(path), "--from-line", str(resume), "--quiet").stdout
    assert f"lines 1–{resume - 1:,} skipped (--from-line {resume})" in out
    _check_everything_arrived(stack, events)


def test_the_limit_is_the_topics_own_when_it_is_kafkas_default_of_1_mib(
        kafka_broker: Any, tmp_path: Path) -> None:
    stack = Stack.fresh("rl", tmp_path / "home", kafka_broker.bootstrap)
    kafkaadmin.ensure_topics(kafka_broker.bootstrap, {stack.topic: 2},
                             configs={"max.message.bytes": "1048588"})
    just_under = orjson.dumps({"type": "mention", "text": "y" * 1_000_000})
    over = orjson.dumps({"type": "mention", "text": "z" * 1_500_000})
    lines = [b'{"type": "mention"}', just_under, over, b'{"type": "post"}']
    path = tmp_path / "limits.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))

    out = stack.cli("replay", str(path), "--quiet", check=False)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "sent 3 events" in out.stdout
    assert "1 line was not sent, over the 1.0 MiB one Kafka message may hold: line 3 (1.4 MiB)" \
        in out.stdout
    assert sum(stack.end_offsets().values()) == 4  # three lines and one reference record
