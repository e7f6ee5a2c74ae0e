"""The webhook notifier without a network: body format, retries, ordering, the ledger.

A scripted `post` function plays the receiver and a recording `sleep` replaces
the clock, so retry schedules are checked exactly and nothing waits. The same
behaviour over real HTTP, and across a real process restart, is in
`tests/integration/test_notify_http.py`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipelines.processing.alerts import Alert
from pipelines.processing.notify import (
    RETRY_AFTER_CAP,
    MemoryLedger,
    WebhookNotifier,
    WebhookResponse,
    in_version_order,
    slack_body,
)
from pipelines.settings import SettingsError

URL = "https://hooks.example.test/services/T000/B000/secret-token"
T0 = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def make_alert(alert_id: str = "acme:complaint_surge:1", version: int = 1, *,
               status: str = "open", kind: str = "complaint_surge", org_id: str = "acme",
               summary: str = "42 complaints in 10 minutes, 6 expected",
               retracted: bool = False) -> Alert:
    resolved = status == "resolved"
    return Alert(
        alert_id=alert_id, org_id=org_id, kind=kind, status=status,
        opened_at=T0, resolved_at=T0 + timedelta(minutes=40) if resolved else None,
        severity=3.5, observed=42.0, expected=6.0, summary=summary,
        sample_event_ids=("m-1", "m-2", "m-3"),
        updated_at=T0 + timedelta(minutes=10 * version), version=version, retracted=retracted,
    )


class Receiver:
    """A scripted webhook receiver: each call takes the next answer (default 200)."""

    def __init__(self, script: Iterable[int | WebhookResponse | BaseException] = ()) -> None:
        self.script = list(script)
        self.calls: list[tuple[Mapping[str, str], dict[str, object]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                 timeout: float) -> WebhookResponse:
        assert url == URL
        with self.lock:
            self.calls.append((dict(headers), json.loads(body)))
            answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, WebhookResponse) else WebhookResponse(answer, {})

    @property
    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.calls]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def notifier(post: Callable[[str, bytes, Mapping[str, str], float], WebhookResponse],
             ledger: MemoryLedger | None = None, **options: object) -> WebhookNotifier:
    options.setdefault("sleep", Sleeps())
    return WebhookNotifier(URL, ledger if ledger is not None else MemoryLedger(), post=post,
                           **options)  # type: ignore[arg-type]


def deliver(alerts: Sequence[Alert], post: Receiver, ledger: MemoryLedger | None = None,
            **options: object) -> WebhookNotifier:
    n = notifier(post, ledger, **options)
    n.submit(alerts)
    assert n.flush(10)
    n.close()
    return n


# --- the body -------------------------------------------------------------------------------


def test_slack_body_has_fallback_text_blocks_and_the_alert() -> None:
    alert = make_alert()
    body = slack_body(alert, dashboard_url="http://dash.example.test:8501")
    json.dumps(body)  # serialisable as it is

    assert body["text"] == (":rotating_light: [acme] Complaint surge (open): "
                            "42 complaints in 10 minutes, 6 expected")
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {
        "type": "plain_text", "text": ":rotating_light: Complaint surge: open", "emoji": True}}
    assert section["text"]["text"] == "42 complaints in 10 minutes, 6 expected"
    fields = dict(f["text"].split("\n", 1) for f in section["fields"])
    assert fields == {
        "*Organisation*": "acme",
        "*Kind*": "complaint_surge",
        "*Status*": "open",
        "*Observed vs expected*": "42 vs 6",
        "*Severity*": "3.50",
        "*Opened*": "2024-05-06 09:30 UTC",
        "*Sample events*": "`m-1`, `m-2`, `m-3`",
    }
    assert len(section["fields"]) <= 10  # Slack's limit
    assert "version 1" in context["elements"][0]["text"]
    assert "<http://dash.example.test:8501|open the dashboard>" in context["elements"][0]["text"]
    assert body["dorpspomp"] == alert.to_json()


def test_slack_body_of_resolved_and_retracted_states() -> None:
    resolved = slack_body(make_alert(version=2, status="resolved", kind="sla_breach"))
    assert resolved["text"].startswith(":white_check_mark: [acme] Response SLA breach (resolved)")
    fields = [f["text"] for f in resolved["blocks"][1]["fields"]]
    assert "*Resolved*\n2024-05-06 10:10 UTC" in fields

    retracted = slack_body(make_alert(version=3, retracted=True))
    assert retracted["text"].startswith(":heavy_minus_sign: [acme] Complaint surge (retracted)")
    assert retracted["dorpspomp"]["status"] == "retracted"

    breach = slack_body(make_alert(kind="sla_breach"))
    assert breach["text"].startswith(":hourglass_flowing_sand: ")


def test_slack_body_escapes_event_text_and_stays_on_one_line() -> None:
    body = slack_body(make_alert(summary="<!channel> R&D\nis <https://evil.test|down>" + "x" * 500))
    assert "\n" not in body["text"]
    assert "<!channel>" not in json.dumps(body["blocks"])
    assert "<!channel>" not in body["text"]
    assert body["text"].startswith(":rotating_light: [acme] Complaint surge (open): "
                                   "&lt;!channel&gt; R&amp;D is &lt;https://evil.test|down&gt;")
    assert len(body["text"]) < 400
    assert body["dorpspomp"]["summary"].startswith("<!channel> R&D\n")  # machines get it raw


# --- delivery -------------------------------------------------------------------------------


def test_every_post_carries_the_delivery_key_headers() -> None:
    receiver = Receiver()
    deliver([make_alert("a", 3)], receiver)
    headers, body = receiver.calls[0]
    assert headers["Idempotency-Key"] == "a#3"
    assert headers["X-Dorpspomp-Alert-Id"] == "a"
    assert headers["X-Dorpspomp-Alert-Version"] == "3"
    assert headers["Content-Type"].startswith("application/json")
    assert body == slack_body(make_alert("a", 3))


def test_server_errors_are_retried_with_the_backoff_and_deliver_once() -> None:
    receiver, sleeps, ledger = Receiver([500, 502, 200]), Sleeps(), MemoryLedger()
    n = deliver([make_alert("a")], receiver, ledger, sleep=sleeps, backoff=(0.5, 1, 2))
    assert receiver.keys == ["a#1"] * 3
    assert sleeps == [0.5, 1.0]
    assert (n.stats.delivered, n.stats.failed, n.stats.retries) == (1, 0, 2)
    assert "a#1" in ledger


def test_connection_errors_and_timeouts_are_retried() -> None:
    receiver = Receiver([ConnectionRefusedError("refused"), TimeoutError("timed out"), 204])
    n = deliver([make_alert("a")], receiver)
    assert len(receiver.calls) == 3
    assert n.stats.delivered == 1


def test_429_waits_as_long_as_retry_after_says() -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    receiver = Receiver([
        WebhookResponse(429, {"retry-after": "7"}),
        WebhookResponse(429, {"Retry-After": in_a_minute}),
        WebhookResponse(429, {"Retry-After": "86400"}),
        WebhookResponse(429, {"Retry-After": "soon"}),
        200,
    ])
    sleeps = Sleeps()
    n = deliver([make_alert("a")], receiver, sleep=sleeps, backoff=(0.5,), max_attempts=5)
    assert sleeps[0] == 7
    assert 55 <= sleeps[1] <= 60
    assert sleeps[2] == RETRY_AFTER_CAP
    assert sleeps[3] == 0.5  # unreadable: the backoff
    assert n.stats.delivered == 1


def test_a_client_error_gives_up_at_once_and_the_next_alert_still_goes_out(
        caplog: pytest.LogCaptureFixture) -> None:
    refusal = WebhookResponse(400, {}, b"invalid_blocks: " + b"y" * 300)
    receiver, sleeps = Receiver([refusal, 200]), Sleeps()
    n = deliver([make_alert("a"), make_alert("b")], receiver, sleep=sleeps)
    assert receiver.keys == ["a#1", "b#1"]
    assert sleeps == []
    assert (n.stats.delivered, n.stats.failed) == (1, 1)
    assert n.stats.last_error is not None and "HTTP 400" in n.stats.last_error
    message = next(r.getMessage() for r in caplog.records if "gave up on a#1" in r.getMessage())
    assert "HTTP 400" in message and "invalid_blocks: " in message
    assert "y" * 184 in message and "y" * 185 not in message  # the first 200 bytes
    assert "secret-token" not in message


def test_a_redirect_is_not_followed_and_says_what_to_fix() -> None:
    receiver = Receiver([WebhookResponse(301, {"Location": "https://new.example.test/x/tok"})])
    n = deliver([make_alert("a")], receiver)
    assert n.stats.failed == 1 and len(receiver.calls) == 1
    assert n.stats.last_error is not None
    assert "https://new.example.test/…" in n.stats.last_error
    assert "DORPSPOMP_ALERT_WEBHOOK" in n.stats.last_error


def test_max_attempts_gives_up_without_holding_back_later_alerts() -> None:
    receiver, sleeps = Receiver([503] * 4), Sleeps()
    n = deliver([make_alert("a"), make_alert("b")], receiver, sleep=sleeps, max_attempts=4,
                backoff=(1, 2))
    assert receiver.keys == ["a#1"] * 4 + ["b#1"]
    assert sleeps == [1, 2, 2]
    assert (n.stats.delivered, n.stats.failed) == (1, 1)


def test_a_bug_in_delivery_costs_one_state_and_does_not_stop_the_thread() -> None:
    receiver = Receiver([RuntimeError("bug"), 200])
    n = deliver([make_alert("a"), make_alert("b")], receiver)
    assert receiver.keys == ["a#1", "b#1"]
    assert (n.stats.failed, n.stats.delivered) == (1, 1)
    assert n.stats.last_error == "RuntimeError: bug"


# --- order and duplicates -------------------------------------------------------------------


def test_states_of_one_alert_go_out_in_version_order() -> None:
    submitted = [make_alert("a", 3), make_alert("b", 1), make_alert("a", 1), make_alert("a", 2)]
    assert [a.delivery_key for a in in_version_order(submitted)] == ["a#1", "b#1", "a#2", "a#3"]
    receiver = Receiver()
    deliver(submitted, receiver)
    assert receiver.keys == ["a#1", "b#1", "a#2", "a#3"]


def test_a_state_older_than_one_delivered_is_not_sent_late() -> None:
    receiver = Receiver()
    n = notifier(receiver)
    n.submit([make_alert("a", 2)])
    n.submit([make_alert("a", 1)])
    assert n.flush(10)
    assert receiver.keys == ["a#2"]
    assert n.stats.skipped_stale == 1
    n.close()


def test_a_state_already_queued_or_delivered_is_skipped() -> None:
    receiver = Receiver()
    n = notifier(receiver)
    n.submit([make_alert("a", 1), make_alert("a", 1)])
    assert n.flush(10)
    n.submit([make_alert("a", 1)])
    assert n.flush(10)
    assert receiver.keys == ["a#1"]
    assert (n.stats.delivered, n.stats.skipped_duplicates) == (1, 2)
    n.close()


def test_a_given_up_state_may_be_followed_by_an_older_one() -> None:
    # The receiver never saw a#2, so a#1 after it is still in order for the receiver.
    receiver = Receiver([400])
    deliver([make_alert("a", 2)], receiver)
    n = deliver([make_alert("a", 1)], receiver)
    assert receiver.keys == ["a#2", "a#1"]
    assert n.stats.delivered == 1


# --- at most one message per client per interval --------------------------------------------


class Clock:
    """The notifier's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settle(receiver: Receiver, calls: int, n: WebhookNotifier) -> list[str]:
    """The keys posted once `calls` came (or, for fewer, after a moment of nothing new)."""
    n.submit([])  # wakes the thread up to look at the clock again
    deadline = time.monotonic() + (5 if calls > len(receiver.calls) else 0.3)
    while len(receiver.calls) < calls and time.monotonic() < deadline:
        time.sleep(0.01)
    if calls <= len(receiver.calls):
        time.sleep(0.05)  # and nothing more
    return receiver.keys


def test_each_client_gets_at_most_one_message_per_interval_and_the_newest_state() -> None:
    clock, receiver, ledger = Clock(), Receiver(), MemoryLedger()
    n = notifier(receiver, ledger, min_interval=300, clock=clock)
    n.submit([make_alert("acme-sla", 1, org_id="acme", kind="sla_breach"),
              make_alert("acme-surge", 1, org_id="acme"), make_alert("zeta-sla", 1,
                                                                    org_id="zeta")])
    # One message per client right away; acme's surge waits for acme's turn.
    assert settle(receiver, 2, n) == ["acme-sla#1", "zeta-sla#1"]
    # Meanwhile acme's SLA alert moves on twice: only its newest state will go.
    n.submit([make_alert("acme-sla", 2, org_id="acme", kind="sla_breach"),
              make_alert("acme-sla", 3, org_id="acme", kind="sla_breach")])
    clock.now += 299
    assert settle(receiver, 2, n) == ["acme-sla#1", "zeta-sla#1"]
    clock.now += 1  # five minutes after acme's last message: the oldest waiting goes
    assert settle(receiver, 3, n)[2:] == ["acme-surge#1"]
    clock.now += 299
    assert len(settle(receiver, 3, n)) == 3
    clock.now += 1
    assert settle(receiver, 4, n)[3:] == ["acme-sla#3"]
    assert n.stats.superseded == 1 and n.stats.delivered == 4
    assert n.flush(1)
    # What went out is in the ledger under its own key, as the Idempotency-Key said.
    assert all(key in ledger for key in receiver.keys)
    assert [h["Idempotency-Key"] for h, _ in receiver.calls] == receiver.keys
    n.close()


def test_a_state_waiting_for_its_turn_is_not_lost_at_a_restart() -> None:
    clock, receiver, ledger = Clock(), Receiver(), MemoryLedger()
    first = notifier(receiver, ledger, min_interval=300, clock=clock)
    first.submit([make_alert("a", 1)])
    assert settle(receiver, 1, first) == ["a#1"]
    first.submit([make_alert("a", 2, status="resolved")])
    first.close(timeout=0.2)  # a#2 still waits for its turn when the worker stops
    assert first.stats.pending == 1 and receiver.keys == ["a#1"]
    # The restarted worker re-emits both; a#1 is in the ledger, a#2 goes (a new process
    # counts the interval afresh).
    second = notifier(receiver, ledger, min_interval=300, clock=clock)
    second.submit([make_alert("a", 1), make_alert("a", 2, status="resolved")])
    assert settle(receiver, 2, second) == ["a#1", "a#2"]
    second.close()


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval"):
        notifier(Receiver(), min_interval=-1)



# --- restarts -------------------------------------------------------------------------------


def test_restart_with_the_same_ledger_delivers_nothing_twice() -> None:
    ledger, receiver = MemoryLedger(), Receiver()
    before = [make_alert("a", 1), make_alert("a", 2, status="resolved"), make_alert("b", 1)]
    first = deliver(before, receiver, ledger)
    assert first.stats.delivered == 3

    # After the restart the worker re-emits its alert states, plus something new.
    second = deliver([*before, make_alert("b", 2)], receiver, ledger)
    assert receiver.keys == ["a#1", "a#2", "b#1", "b#2"]
    assert (second.stats.delivered, second.stats.skipped_duplicates) == (1, 3)
    assert len(ledger) == 4


def test_restart_skips_states_older_than_a_delivered_one() -> None:
    ledger = MemoryLedger(["a#3"])  # a#2 had been given up before the restart
    receiver = Receiver()
    n = deliver([make_alert("a", 2), make_alert("a", 3)], receiver, ledger)
    assert receiver.keys == []
    assert (n.stats.skipped_stale, n.stats.skipped_duplicates) == (1, 1)


class LedgerLostInCrash(MemoryLedger):
    """The process died after the receiver's 2xx, before `record` reached the warehouse."""

    def __init__(self, lost: str) -> None:
        super().__init__()
        self.lost = lost

    def record(self, keys: Sequence[str]) -> None:
        super().record([k for k in keys if k != self.lost])


def test_crash_between_post_and_record_repeats_the_same_idempotency_key() -> None:
    ledger, receiver = LedgerLostInCrash(lost="b#1"), Receiver()
    alerts = [make_alert("a", 1), make_alert("b", 1), make_alert("c", 1)]
    deliver(alerts, receiver, ledger)
    deliver(alerts, receiver, MemoryLedger(ledger.delivered(["a#1", "b#1", "c#1"])))

    assert receiver.keys == ["a#1", "b#1", "c#1", "b#1"]
    (first, body1), (again, body2) = [c for c in receiver.calls
                                      if c[0]["Idempotency-Key"] == "b#1"]
    assert first["Idempotency-Key"] == again["Idempotency-Key"] == "b#1"
    assert body1 == body2
    # What a receiver that honours Idempotency-Key keeps:
    assert list(dict.fromkeys(receiver.keys)) == ["a#1", "b#1", "c#1"]


class FlakyLedger(MemoryLedger):
    def __init__(self, read_failures: int, record_failures: int) -> None:
        super().__init__()
        self.read_failures, self.record_failures = read_failures, record_failures

    def delivered(self, keys: Sequence[str]) -> set[str]:
        if self.read_failures:
            self.read_failures -= 1
            raise ConnectionError("warehouse down")
        return super().delivered(keys)

    def record(self, keys: Sequence[str]) -> None:
        if self.record_failures:
            self.record_failures -= 1
            raise ConnectionError("warehouse down")
        super().record(keys)


def test_an_unreadable_ledger_is_waited_for_not_guessed() -> None:
    ledger, receiver, sleeps = FlakyLedger(read_failures=2, record_failures=0), Receiver(), Sleeps()
    n = deliver([make_alert("a")], receiver, ledger, sleep=sleeps, backoff=(1, 5))
    assert sleeps == [1, 5]
    assert receiver.keys == ["a#1"]
    assert (n.stats.delivered, n.stats.ledger_errors) == (1, 2)


def test_a_failed_ledger_write_still_counts_and_is_not_resent_by_this_process() -> None:
    ledger, receiver = FlakyLedger(read_failures=0, record_failures=1), Receiver()
    n = notifier(receiver, ledger)
    n.submit([make_alert("a")])
    assert n.flush(10)
    n.submit([make_alert("a")])
    assert n.flush(10)
    assert receiver.keys == ["a#1"]
    assert (n.stats.delivered, n.stats.ledger_errors, n.stats.skipped_duplicates) == (1, 1, 1)
    assert "a#1" not in ledger
    n.close()


# --- outages and back-pressure --------------------------------------------------------------


class Outage:
    """Refuses connections until `end()`; then accepts everything."""

    def __init__(self) -> None:
        self.over = threading.Event()
        self.receiver = Receiver()
        self.refused = 0

    def end(self) -> None:
        self.over.set()

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                 timeout: float) -> WebhookResponse:
        if not self.over.is_set():
            self.refused += 1
            raise ConnectionRefusedError("connection refused")
        return self.receiver(url, body, headers, timeout)


def test_an_outage_delays_alerts_without_losing_them_or_blocking_submit() -> None:
    outage = Outage()
    # A real, short backoff: the thread keeps retrying while the test goes on.
    n = notifier(outage, sleep=time.sleep, backoff=(0.01,), max_attempts=10_000)
    alerts = [make_alert(f"alert-{i}", v) for i in range(200) for v in (1, 2)]
    started = time.monotonic()
    for alert in alerts:
        n.submit([alert])
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 5
    while outage.refused < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not n.flush(0.05)
    assert n.stats.delivered == 0 and n.stats.pending == 400

    outage.end()
    assert n.flush(10)
    assert outage.receiver.keys == [a.delivery_key for a in alerts]
    assert (n.stats.delivered, n.stats.failed, n.stats.dropped) == (400, 0, 0)
    n.close()


class Stuck:
    """A receiver that hangs on the first request until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.receiver = Receiver()

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                 timeout: float) -> WebhookResponse:
        self.entered.set()
        self.release.wait(10)
        return self.receiver(url, body, headers, timeout)


def test_a_full_queue_drops_the_oldest_resolved_states_first() -> None:
    stuck = Stuck()
    n = notifier(stuck, max_queue=3)
    n.submit([make_alert("first")])
    assert stuck.entered.wait(5)  # "first" is being posted; the queue is empty
    n.submit([make_alert("o1"), make_alert("r1", status="resolved"), make_alert("o2")])
    n.submit([make_alert("r2", status="resolved")])  # pushes out r1
    n.submit([make_alert("o3")])  # pushes out r2
    n.submit([make_alert("o4")])  # no resolved state left: pushes out the oldest, o1
    assert n.stats.dropped == 3
    assert n.stats.pending == 4

    stuck.release.set()
    assert n.flush(10)
    assert stuck.receiver.keys == ["first#1", "o2#1", "o3#1", "o4#1"]
    n.close()


def test_close_cuts_a_long_backoff_short_and_submit_after_close_is_harmless() -> None:
    receiver = Receiver([503] * 10)
    n = WebhookNotifier(URL, MemoryLedger(), post=receiver, backoff=(3600,))
    n.submit([make_alert("a"), make_alert("b")])
    started = time.monotonic()
    n.close(timeout=0.2)
    assert time.monotonic() - started < 5
    assert n.stats.abandoned == 2 and n.stats.failed == 0
    n.submit([make_alert("c")])  # does not raise
    assert n.stats.dropped == 1


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.test/services/secret-token",
    "hooks.example.test/services/secret-token",
    "https:///services/secret-token",
    "http://hooks.example.test:port/services/secret-token",
    "",
])
def test_only_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(SettingsError, match="DORPSPOMP_ALERT_WEBHOOK") as raised:
        WebhookNotifier(url, MemoryLedger())
    assert "secret-token" not in str(raised.value)


@pytest.mark.parametrize("options", [
    {"max_attempts": 0}, {"backoff": ()}, {"backoff": (1, -1)}, {"timeout": 0},
    {"max_queue": 0},
])
def test_nonsense_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WebhookNotifier(URL, MemoryLedger(), **options)  # type: ignore[arg-type]
