"""The webhook notifier against a real HTTP receiver on 127.0.0.1, and across a real restart.

The receiver records every request and answers from a script; like a careful
production receiver it shows a message only for an `Idempotency-Key` it has not
seen, so the tests can tell "posted twice" from "shown twice". The restart test
runs the notifier in worker-like child processes and kills the first one right
after the receiver accepted a POST, before the delivery ledger was written —
the one window in which a duplicate POST is possible.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipelines.processing.alerts import Alert
from pipelines.processing.notify import MemoryLedger, WebhookNotifier, slack_body
from tests.unit.test_notify import make_alert

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PATH = "/services/T000/B000/secret-token"


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


class WebhookReceiver:
    """A webhook endpoint on 127.0.0.1 that records every request and answers from a script."""

    def __init__(self, port: int = 0, script: Sequence[Answer] = ()) -> None:
        self.requests: list[Request] = []
        self.messages: list[Any] = []  # what the channel shows: one per Idempotency-Key
        self.seen: set[str] = set()
        self.script = list(script)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.handle(self, "POST", json.loads(body))

            def do_GET(self) -> None:
                receiver.handle(self, "GET", None)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def handle(self, handler: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        request = Request(method, handler.path, dict(handler.headers.items()), body)
        with self.lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else Answer()
        time.sleep(answer.delay)
        if 200 <= answer.status < 300 and method == "POST":
            with self.lock:
                if request.key not in self.seen:
                    self.seen.add(request.key)
                    self.messages.append(body)
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up waiting

    @property
    def posted_keys(self) -> list[str]:
        return [r.key for r in self.requests if r.method == "POST"]

    @property
    def shown_keys(self) -> list[str]:
        return [f"{m['dorpspomp']['alert_id']}#{m['dorpspomp']['version']}" for m in self.messages]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.stop()


def fast(url: str, ledger: MemoryLedger | FileLedger | None = None,
         **options: Any) -> WebhookNotifier:
    options.setdefault("backoff", (0.05,))
    options.setdefault("timeout", 2.0)
    return WebhookNotifier(url, ledger if ledger is not None else MemoryLedger(), **options)


def test_posts_slack_json_with_the_delivery_key_headers(receiver: WebhookReceiver) -> None:
    alert = make_alert("acme:complaint_surge:1", 2)
    with fast(receiver.url) as notifier:
        notifier.submit([alert])
        assert notifier.flush(10)
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"] == "acme:complaint_surge:1#2"
    assert request.headers["X-Dorpspomp-Alert-Id"] == "acme:complaint_surge:1"
    assert request.headers["X-Dorpspomp-Alert-Version"] == "2"
    assert request.body == slack_body(alert)
    assert notifier.stats.delivered == 1


def test_5xx_and_429_are_retried_and_delivered_once(receiver: WebhookReceiver) -> None:
    receiver.script = [Answer(500), Answer(429, {"Retry-After": "1"})]
    ledger = MemoryLedger()
    started = time.monotonic()
    with fast(receiver.url, ledger) as notifier:
        notifier.submit([make_alert("a")])
        assert notifier.flush(10)
    assert time.monotonic() - started >= 1.0  # the Retry-After
    assert receiver.posted_keys == ["a#1"] * 3
    assert receiver.shown_keys == ["a#1"]
    assert (notifier.stats.delivered, notifier.stats.retries) == (1, 2)
    assert "a#1" in ledger


def test_a_4xx_is_given_up_with_the_receivers_reason(receiver: WebhookReceiver) -> None:
    receiver.script = [Answer(400, body=b"invalid_payload")]
    with fast(receiver.url) as notifier:
        notifier.submit([make_alert("a"), make_alert("b")])
        assert notifier.flush(10)
    assert receiver.posted_keys == ["a#1", "b#1"]
    assert (notifier.stats.failed, notifier.stats.delivered) == (1, 1)
    assert notifier.stats.last_error == "HTTP 400: 'invalid_payload'"


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.script = [Answer(302, {"Location": "/elsewhere"})]
    with fast(receiver.url) as notifier:
        notifier.submit([make_alert("a")])
        assert notifier.flush(10)
    assert [r.method for r in receiver.requests] == ["POST"]
    assert notifier.stats.failed == 1


def test_a_slow_receiver_times_out_and_the_retry_carries_the_same_key(
        receiver: WebhookReceiver) -> None:
    receiver.script = [Answer(200, delay=1.5)]
    with fast(receiver.url, timeout=0.3) as notifier:
        notifier.submit([make_alert("a")])
        assert notifier.flush(10)
    # The slow answer was a success the notifier never heard of: the receiver
    # got the state twice and shows it once, thanks to the Idempotency-Key.
    assert receiver.posted_keys == ["a#1", "a#1"]
    assert receiver.shown_keys == ["a#1"]
    assert notifier.stats.delivered == 1 and notifier.stats.retries == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_outage_delays_alerts_but_loses_none_and_never_blocks_submit() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    alerts = [make_alert(f"alert-{i}", v) for i in range(20) for v in (1, 2)]
    with fast(url, max_attempts=1000) as notifier:
        started = time.monotonic()
        for alert in alerts:
            notifier.submit([alert])
        assert time.monotonic() - started < 0.5
        time.sleep(0.5)  # the receiver is down: connections are refused
        assert notifier.stats.delivered == 0
        assert notifier.stats.last_error is not None
        assert "Connection" in notifier.stats.last_error or "refused" in notifier.stats.last_error

        receiver = WebhookReceiver(port)
        try:
            assert notifier.flush(10)
        finally:
            receiver.stop()
    assert receiver.shown_keys == [a.delivery_key for a in alerts]
    assert receiver.posted_keys == receiver.shown_keys
    assert (notifier.stats.delivered, notifier.stats.failed, notifier.stats.dropped) == (40, 0, 0)


# --- a real restart -------------------------------------------------------------------------


class FileLedger:
    """The warehouse's part in a restart: delivered keys that outlive the process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def delivered(self, keys: Sequence[str]) -> set[str]:
        recorded = set(self.path.read_text().split()) if self.path.exists() else set()
        return recorded.intersection(keys)

    def record(self, keys: Sequence[str]) -> None:
        with self.path.open("a") as f:
            f.write("".join(f"{k}\n" for k in keys))
            f.flush()
            os.fsync(f.fileno())


def alerts_of_the_worker() -> list[Alert]:
    """What the worker emits before its restart, and re-emits after it."""
    return [
        make_alert("a", 1), make_alert("a", 2, status="resolved"),
        make_alert("b", 1), make_alert("c", 1), make_alert("c", 2), make_alert("d", 1),
    ]


WORKER = """
import os, sys
from pathlib import Path
from pipelines.processing.notify import WebhookNotifier, urllib_post
from tests.integration.test_notify_http import FileLedger, alerts_of_the_worker

url, ledger, die_after = sys.argv[1], FileLedger(Path(sys.argv[2])), int(sys.argv[3])
accepted = 0

def post(url, body, headers, timeout):
    global accepted
    response = urllib_post(url, body, headers, timeout)
    accepted += 200 <= response.status < 300
    if accepted == die_after:
        os._exit(9)  # killed after the receiver's 2xx, before the ledger write
    return response

notifier = WebhookNotifier(url, ledger, post=post, backoff=(0.05,))
notifier.submit(alerts_of_the_worker())
delivered = notifier.flush(30)
notifier.close()
print(notifier.stats)
sys.exit(0 if delivered else 1)
"""


def run_worker(receiver: WebhookReceiver, ledger: Path, die_after: int = 0) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, receiver.url, str(ledger), str(die_after)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode in (0, 9), done.stderr
    return done.returncode


def test_exactly_once_across_a_worker_restart(receiver: WebhookReceiver, tmp_path: Path) -> None:
    ledger = tmp_path / "deliveries.txt"
    # First run: killed right after b#1 was accepted, before it reached the ledger.
    assert run_worker(receiver, ledger, die_after=3) == 9
    assert receiver.posted_keys == ["a#1", "a#2", "b#1"]
    assert ledger.read_text().split() == ["a#1", "a#2"]

    # The restarted worker re-emits every state; only b#1 is posted again.
    assert run_worker(receiver, ledger) == 0
    assert receiver.posted_keys == ["a#1", "a#2", "b#1", "b#1", "c#1", "c#2", "d#1"]
    first, again = (r for r in receiver.requests if r.key == "b#1")
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"]
    assert first.body == again.body
    assert receiver.shown_keys == [a.delivery_key for a in alerts_of_the_worker()]
    assert sorted(ledger.read_text().split()) == sorted(receiver.shown_keys)

    # A third start finds everything in the ledger and posts nothing.
    assert run_worker(receiver, ledger) == 0
    assert len(receiver.posted_keys) == 7
