"""Alerts reach a webhook exactly once, across worker restarts (SIGTERM and SIGKILL)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import Stack
from tests.integration.test_processors import EVENTS

pytestmark = pytest.mark.integration


class Receiver:
    """A Slack-like webhook endpoint on 127.0.0.1 that records every POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((self.headers.get("Idempotency-Key", ""), body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"

    def keys(self) -> list[str]:
        return [key for key, _ in self.posts]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path, receiver: Receiver) -> Iterator[Stack]:
    # Every state, with no wait per client: this test is about exactly once.
    s = Stack.fresh("w", tmp_path / "home", kafka_broker.bootstrap,
                    extra_env={"DORPSPOMP_ALERT_WEBHOOK": receiver.url,
                               "DORPSPOMP_ALERT_WEBHOOK_INTERVAL": "0"})
    yield s
    s.stop_worker()


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_each_alert_state_is_delivered_once_across_restarts(stack: Stack, receiver: Receiver,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
    stack.start_worker()
    stack.cli("replay", str(path), "--quiet")
    stack.wait_caught_up()
    latest = stack.sql("SELECT alert_id, version FROM alerts")
    assert latest, "the events must raise alerts"
    wanted = {f"{a['alert_id']}#{a['version']}" for a in latest}
    wait_for(lambda: wanted <= set(receiver.keys()))
    time.sleep(1)
    delivered = sorted(receiver.keys())
    assert len(delivered) == len(set(delivered)), "an alert state was delivered twice"

    # A graceful restart, then a SIGKILL and another start: the restored state
    # re-emits the same alert states, and the delivery ledger holds them back.
    assert stack.stop_worker() == 0
    stack.start_worker()
    stack.kill_worker()
    stack.start_worker()
    time.sleep(3)
    assert sorted(receiver.keys()) == delivered, "a restart delivered an alert state again"

    sla = "sla_breach:gemeente-zutphen:20260310T083000.001Z"
    body = dict(receiver.posts)[f"{sla}#1"]
    assert "text" in body and "blocks" in body, "a Slack-compatible body"
    assert body["dorpspomp"]["alert_id"] == sla
    assert body["dorpspomp"]["status"] == "open"


def test_a_worker_that_starts_with_a_webhook_sends_the_newest_state_it_lacks(
        kafka_broker: Any, tmp_path: Path, receiver: Receiver) -> None:
    """States the webhook never got (it was down, not set, or a state still waited for its
    client's turn when the worker stopped) are not lost at a restart: the newest state of
    each alert of the last day of event time goes out, once; older history stays quiet."""
    path = tmp_path / "events.jsonl"
    # A share an hour after m5 moves the clock past m5's SLA (Wed 10:30 local): the SLA
    # alert opens, and so does a silence alert (no post since Mon 9 March).
    later = {"type": "mention", "event_id": "m6", "org_id": "gemeente-zutphen",
             "platform": "twitter", "created_at": "2026-03-18T10:00:00Z", "kind": "share",
             "author": {"id": "u-m6", "handle": "burger_m6"}}
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in [*EVENTS, later]) + b"\n")
    stack = Stack.fresh("w", tmp_path / "home", kafka_broker.bootstrap)
    try:
        stack.start_worker()  # no webhook yet
        stack.cli("replay", str(path), "--quiet")
        stack.wait_caught_up()
        assert stack.stop_worker() == 0
        newest = {a["alert_id"]: a["version"] for a in stack.sql(
            "SELECT alert_id, version FROM alerts WHERE updated_at >= "
            "(SELECT max(created_at) FROM mentions) - INTERVAL 1 DAY")}
        assert {a.split(":")[0] for a in newest} == {"sla_breach", "silent_org"}
        stack.extra_env.update({"DORPSPOMP_ALERT_WEBHOOK": receiver.url,
                                "DORPSPOMP_ALERT_WEBHOOK_INTERVAL": "0"})
        stack.start_worker()
        wanted = {f"{alert_id}#{version}" for alert_id, version in newest.items()}
        wait_for(lambda: wanted <= set(receiver.keys()))
        time.sleep(1)
        sent = receiver.keys()
        assert len(sent) == len(set(sent)), "a state was sent twice"
        # The newest state of each alert only (a withdrawn one's too), no older ones.
        ids = [key.rsplit("#", 1)[0] for key in sent]
        assert len(ids) == len(set(ids)), sent
        assert set(ids) == set(newest), "only the last day's alerts"
        # A second start has nothing left to send.
        assert stack.stop_worker() == 0
        stack.start_worker()
        time.sleep(3)
        assert sorted(receiver.keys()) == sorted(sent)
    finally:
        stack.stop_worker()
