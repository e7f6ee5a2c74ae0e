"""Same events, same public tables: in one go, at a slow rate with a SIGKILL
halfway, and replayed twice (issue: "How it must behave")."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests import eventgen
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

# The public tables with their contract columns, in a stable order. Events are compared
# without where and when they were read (offsets and Kafka timestamps differ between
# sends), dead letters without received_at (wall clock) and source (offsets differ).
SNAPSHOTS = {
    "mentions": "SELECT * EXCEPT (ingested_at, source_partition, source_offset, "
                "kafka_timestamp) FROM mentions ORDER BY event_id",
    "posts": "SELECT * EXCEPT (ingested_at, source_partition, source_offset, kafka_timestamp) "
             "FROM posts ORDER BY event_id",
    "mention_responses": "SELECT * FROM mention_responses ORDER BY mention_id",
    "org_activity_1m": "SELECT * FROM org_activity_1m ORDER BY org_id, minute",
    "alerts": "SELECT * FROM alerts ORDER BY alert_id",
    "influencers": "SELECT * FROM influencers ORDER BY org_id, author_id",
    "post_reach": "SELECT * FROM post_reach ORDER BY event_id",
}


def snapshot(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    return {name: stack.sql(query) for name, query in SNAPSHOTS.items()}


def new_stack(kafka_broker: Any, home: Path) -> Stack:
    return Stack.fresh("d", home, kafka_broker.bootstrap)


def test_replays_in_one_go_slowly_with_a_kill_and_twice_agree(kafka_broker: Any,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(b"\n".join(eventgen.conversations(3000, seed=31)) + b"\n")

    fast = new_stack(kafka_broker, tmp_path / "fast")
    fast.start_worker()
    try:
        fast.cli("replay", str(path), "--quiet")
        fast.wait_caught_up()
        once = snapshot(fast)
        # The same file again: nothing changes.
        fast.cli("replay", str(path), "--quiet")
        fast.wait_caught_up()
        twice = snapshot(fast)
    finally:
        fast.stop_worker()
    assert once["mention_responses"], "the file must produce response rows"
    assert any(r["status"] == "answered" for r in once["mention_responses"])
    assert any(r["status"] == "unanswered" for r in once["mention_responses"])
    assert any(a["kind"] == "sla_breach" for a in once["alerts"])
    assert twice == once

    slow = new_stack(kafka_broker, tmp_path / "slow")
    slow.start_worker()
    try:
        sender = threading.Thread(
            target=slow.cli, args=("replay", str(path), "--rate", "700", "--quiet"))
        sender.start()
        deadline = time.monotonic() + 60
        while int(slow.scalar("SELECT count() FROM mentions")) < 800:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        slow.kill_worker()
        slow.start_worker()
        sender.join()
        slow.wait_caught_up()
        killed = snapshot(slow)
    finally:
        slow.stop_worker()
    for name in SNAPSHOTS:
        assert killed[name] == once[name], f"{name} differs after a slow replay with a SIGKILL"
