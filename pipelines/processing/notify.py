"""Deliver alert states to an optional webhook, each state once, without slowing the pipeline.

The worker hands every alert state it publishes to a :class:`WebhookNotifier`
(`DORPSPOMP_ALERT_WEBHOOK`). ``submit`` only queues; a background thread POSTs a
Slack-compatible body (:func:`slack_body`) per state, retrying outages and
throttling, so a slow or dead receiver can never hold up ingest.

Exactly once across restarts rests on two things:

* a durable :class:`DeliveryLedger` (the worker keeps it in the warehouse) that
  records each state's ``delivery_key`` right after the receiver accepted it.
  After a restart the worker re-emits its alert states; those already in the
  ledger are skipped.
* an ``Idempotency-Key`` header (the same ``delivery_key``) on every POST, for
  the one duplicate the ledger cannot prevent: a crash after the receiver said
  2xx but before the ledger write. A receiver that honours the header drops it.

Per alert the receiver sees versions in increasing order: a state older than
one already delivered is skipped rather than sent late.

A channel that gets a message per alert state of a busy client is a channel
nobody reads, so with `min_interval` (`DORPSPOMP_ALERT_WEBHOOK_INTERVAL`) each
client (organisation) gets at most one message per that many seconds: the
first right away, the next once the interval has passed. While a state waits
for its client's turn, a newer state of the same alert replaces it (the
receiver gets the latest, never an older one after it); states of different
alerts of one client go out one per interval, oldest first. The interval counts
from the last message the receiver answered; a restarted worker starts
counting afresh.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any, Protocol
from urllib.parse import urlsplit

from pipelines.processing.alerts import Alert
from pipelines.settings import SettingsError

__all__ = [
    "DeliveryLedger",
    "MemoryLedger",
    "NotifierStats",
    "WebhookNotifier",
    "WebhookResponse",
    "slack_body",
    "urllib_post",
]

log = logging.getLogger(__name__)

MAX_QUEUE = 10_000
# How many queued states one ledger look-up covers.
LEDGER_BATCH = 100
# A receiver's Retry-After is honoured up to this many seconds.
RETRY_AFTER_CAP = 300.0
# Alerts whose latest delivered version is remembered in memory (on top of the ledger).
REMEMBERED_ALERTS = 100_000
ERROR_BODY_BYTES = 200

EMOJI = {
    ("complaint_surge", "open"): ":rotating_light:",
    ("sla_breach", "open"): ":hourglass_flowing_sand:",
}
EMOJI_RESOLVED = ":white_check_mark:"
EMOJI_RETRACTED = ":heavy_minus_sign:"
EMOJI_OTHER = ":warning:"
KIND_LABELS = {"complaint_surge": "Complaint surge", "sla_breach": "Response SLA breach"}
SAMPLE_EVENTS_SHOWN = 5


class DeliveryLedger(Protocol):
    """Durable record of the delivery keys the webhook has accepted."""

    def delivered(self, keys: Sequence[str]) -> set[str]:
        """The subset of `keys` already recorded."""
        ...

    def record(self, keys: Sequence[str]) -> None:
        """Remember `keys` as delivered; must survive a restart to make restarts safe."""
        ...


class MemoryLedger:
    """A ledger that lives as long as the process: for tests, and runs without a warehouse."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = set(keys)
        self._lock = threading.Lock()

    def delivered(self, keys: Sequence[str]) -> set[str]:
        with self._lock:
            return self._keys.intersection(keys)

    def record(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._keys.update(keys)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._keys

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


# --- the body -------------------------------------------------------------------------------


def display_status(alert: Alert) -> str:
    return "retracted" if alert.retracted else alert.status


def emoji(alert: Alert) -> str:
    status = display_status(alert)
    if status == "retracted":
        return EMOJI_RETRACTED
    if status == "resolved":
        return EMOJI_RESOLVED
    return EMOJI.get((alert.kind, status), EMOJI_OTHER)


def slack_body(alert: Alert, dashboard_url: str | None = None) -> dict[str, Any]:
    """The JSON body of one alert state, for Slack incoming webhooks and look-alikes.

    ``text`` is the one-line fallback (notifications, clients without blocks),
    ``blocks`` the formatted message, and ``dorpspomp`` the alert itself
    (`Alert.to_json`) for receivers that are programs, not people. Text that
    comes from events is escaped, so a summary cannot ping a channel or forge a link.
    """
    status = display_status(alert)
    kind = KIND_LABELS.get(alert.kind, alert.kind)
    icon = emoji(alert)
    summary = _one_line(alert.summary)
    text = _shorten(f"{icon} [{alert.org_id}] {kind} ({status}): {summary}", 300)
    fields = [
        ("Organisation", alert.org_id),
        ("Kind", alert.kind),
        ("Status", status),
        ("Observed vs expected", f"{alert.observed:g} vs {alert.expected:g}"),
        ("Severity", f"{alert.severity:.2f}"),
        ("Opened", _when(alert.opened_at)),
    ]
    if alert.resolved_at is not None:
        fields.append(("Resolved", _when(alert.resolved_at)))
    if alert.sample_event_ids:
        shown = ", ".join(f"`{i}`" for i in alert.sample_event_ids[:SAMPLE_EVENTS_SHOWN])
        more = len(alert.sample_event_ids) - SAMPLE_EVENTS_SHOWN
        fields.append(("Sample events", shown + (f" and {more} more" if more > 0 else "")))
    as_of = _when(alert.updated_at)
    context = f"alert `{_escape(alert.alert_id)}` · version {alert.version} · as of {as_of}"
    if dashboard_url:
        context += f" · <{dashboard_url}|open the dashboard>"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _shorten(f"{icon} {kind}: {status}", 150),
                     "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _shorten(_escape(alert.summary) or "-", 3000)},
            "fields": [
                {"type": "mrkdwn", "text": _shorten(f"*{name}*\n{_escape(value)}", 2000)}
                for name, value in fields
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _shorten(context, 3000)}]},
    ]
    return {"text": _escape(text), "blocks": blocks, "dorpspomp": alert.to_json()}


def _escape(text: str) -> str:
    """Slack's three control characters, so event text shows as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(t: datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


# --- the transport --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What the notifier needs from an HTTP answer: status, headers, the start of the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""


PostFunction = Callable[[str, bytes, Mapping[str, str], float], WebhookResponse]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without body; a 2xx to that GET
    # would be recorded as a delivery that never happened.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def urllib_post(url: str, body: bytes, headers: Mapping[str, str],
                timeout: float) -> WebhookResponse:
    """POST with the standard library. Any HTTP status is an answer; network trouble raises."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return WebhookResponse(response.status, dict(response.headers.items()),
                                   response.read(1024))
    except urllib.error.HTTPError as error:
        with error:
            try:
                start = error.read(1024)
            except (OSError, HTTPException):
                start = b""
            answer = dict(error.headers.items()) if error.headers else {}
            return WebhookResponse(error.code, answer, start)


# --- the notifier ---------------------------------------------------------------------------


@dataclass(slots=True)
class NotifierStats:
    """Counts since start-up; `WebhookNotifier.stats` hands out copies."""

    delivered: int = 0
    failed: int = 0  # given up: a 4xx answer, or max_attempts used up
    skipped_duplicates: int = 0  # already delivered (ledger, memory) or already queued
    skipped_stale: int = 0  # a later version of the same alert was already delivered
    dropped: int = 0  # pushed out of a full queue, or submitted after close()
    superseded: int = 0  # replaced by a newer state of the same alert while waiting
    abandoned: int = 0  # still undelivered when close() stopped the thread
    retries: int = 0
    ledger_errors: int = 0
    pending: int = 0  # queued or being delivered right now
    last_error: str | None = None


class WebhookNotifier:
    """Posts alert states to one webhook from a background thread, each state once.

    ``submit`` never blocks and never raises. States of one alert go out in
    version order. Connection errors, timeouts, 429 (after its Retry-After) and
    5xx are retried with `backoff`; any other answer but 2xx, or `max_attempts`
    failures, give the state up so later ones are not held back. The queue holds
    `max_queue` states; beyond that the oldest resolved states are dropped first.
    """

    def __init__(
        self,
        url: str,
        ledger: DeliveryLedger,
        *,
        timeout: float = 5.0,
        max_attempts: int = 8,
        backoff: Sequence[float] = (0.5, 1, 2, 5, 10, 30),
        dashboard_url: str | None = None,
        sleep: Callable[[float], object] | None = None,
        post: PostFunction | None = None,
        max_queue: int = MAX_QUEUE,
        min_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = _checked_url(url)
        self.target = redacted(url)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not backoff or any(b < 0 for b in backoff):
            raise ValueError("backoff needs at least one delay, none negative")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if not min_interval >= 0:
            raise ValueError("min_interval must be 0 (no limit) or more seconds")
        self.ledger = ledger
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = tuple(float(b) for b in backoff)
        self.dashboard_url = dashboard_url
        self.max_queue = max_queue
        self.min_interval = float(min_interval)
        self._clock = clock
        self._post: PostFunction = urllib_post if post is None else post
        self._stopping = threading.Event()
        # Default: a wait that close() can cut short.
        self._sleep: Callable[[float], object] = self._stopping.wait if sleep is None else sleep
        self._cond = threading.Condition()
        self._queue: OrderedDict[str, Alert] = OrderedDict()
        self._resolved: deque[str] = deque()  # keys of queued resolved states, oldest first
        self._in_flight = 0
        self._latest: OrderedDict[str, int] = OrderedDict()  # alert_id -> version delivered
        # With min_interval: the state of each alert that waits, and when each client last
        # got a message.
        self._waiting: dict[str, str] = {}  # alert_id -> delivery_key in the queue
        self._sent_at: dict[str, float] = {}  # org_id -> clock() of its last message
        self._stats = NotifierStats()
        self._overflowing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="dorpspomp-webhook", daemon=True)
        self._thread.start()

    # -- the caller's side

    def submit(self, alerts: Sequence[Alert]) -> None:
        """Queue alert states for delivery and return at once."""
        try:
            ordered = in_version_order(alerts)
            with self._cond:
                if self._closed:
                    self._stats.dropped += len(ordered)
                    log.warning("webhook notifier is closed; %d alert states not queued",
                                len(ordered))
                    return
                for alert in ordered:
                    self._enqueue(alert)
                self._cond.notify_all()
        except Exception:  # never into the pipeline
            log.exception("queueing alert states for the webhook failed")

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted state was delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 10) -> None:
        """Try to deliver what is queued within `timeout`, then stop the thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()) + self.timeout)
        stats = self.stats
        left = stats.pending + stats.abandoned
        if left:
            log.warning("webhook %s: %d alert states not delivered at shutdown; they are sent "
                        "if the worker re-emits them after a restart", self.target, left)

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> NotifierStats:
        with self._cond:
            return replace(self._stats, pending=len(self._queue) + self._in_flight)

    # -- the queue

    def _enqueue(self, alert: Alert) -> None:
        key = alert.delivery_key
        if key in self._queue:
            self._stats.skipped_duplicates += 1
            return
        if self.min_interval:
            waiting = self._waiting.get(alert.alert_id)
            if waiting is not None and waiting in self._queue:
                if self._queue[waiting].version > alert.version:
                    self._stats.skipped_stale += 1  # a newer state waits already
                    return
                del self._queue[waiting]
                self._stats.superseded += 1
            self._waiting[alert.alert_id] = key
        if len(self._queue) >= self.max_queue:
            self._drop_one()
        self._queue[key] = alert
        if display_status(alert) == "resolved":
            self._resolved.append(key)

    def _drop_one(self) -> None:
        while self._resolved:
            key = self._resolved.popleft()
            if key in self._queue:
                del self._queue[key]
                break
        else:
            self._queue.popitem(last=False)
        self._stats.dropped += 1
        if not self._overflowing:
            self._overflowing = True
            log.warning("webhook %s is behind: queue full (%d alert states); dropping the oldest "
                        "resolved states first", self.target, self.max_queue)

    def _take(self) -> list[Alert] | None:
        with self._cond:
            while True:
                while not self._queue and not self._stopping.is_set():
                    self._overflowing = False
                    self._cond.wait()
                if self._stopping.is_set():
                    return None
                if not self.min_interval:
                    batch: list[Alert] = []
                    while self._queue and len(batch) < LEDGER_BATCH:
                        batch.append(self._queue.popitem(last=False)[1])
                    break
                batch, wait = self._clients_due()
                if batch:
                    break
                self._cond.wait(wait)  # until a client's interval is over, or news
            while self._resolved and self._resolved[0] not in self._queue:
                self._resolved.popleft()
            self._in_flight = len(batch)
            return batch

    def _clients_due(self) -> tuple[list[Alert], float]:
        """With min_interval: the oldest waiting state of each client whose interval is
        over (taken out of the queue), or else how long until the first one is."""
        now = self._clock()
        batch: list[Alert] = []
        picked: set[str] = set()
        wait = self.min_interval
        for alert in self._queue.values():
            org = alert.org_id
            if org in picked:
                continue
            free_in = self._sent_at.get(org, -math.inf) + self.min_interval - now
            if free_in > 0:
                wait = min(wait, free_in)
                continue
            picked.add(org)
            batch.append(alert)
            if len(batch) == LEDGER_BATCH:
                break
        for alert in batch:
            del self._queue[alert.delivery_key]
            if self._waiting.get(alert.alert_id) == alert.delivery_key:
                del self._waiting[alert.alert_id]
        return batch, wait

    def _done(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    # -- the background thread

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._deliver_batch(batch)
            except Exception as exc:  # a bug must not end the thread
                log.exception("webhook: a batch of alert states failed unexpectedly")
                self._note_error(f"{type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    if self._stopping.is_set():
                        self._stats.abandoned += self._in_flight
                    else:
                        self._stats.failed += self._in_flight
                    self._in_flight = 0
                    self._cond.notify_all()

    def _deliver_batch(self, batch: list[Alert]) -> None:
        known = self._ledger_lookup([a.delivery_key for a in batch])
        if known is None:  # stopping
            return
        for alert in batch:
            if alert.delivery_key in known:
                self._remember(alert)
        for alert in batch:
            if self._stopping.is_set():
                return
            latest = self._latest.get(alert.alert_id, -1)
            if alert.delivery_key in known or alert.version == latest:
                with self._cond:
                    self._stats.skipped_duplicates += 1
            elif alert.version < latest:
                with self._cond:
                    self._stats.skipped_stale += 1
            elif not self._deliver_safely(alert):
                return  # stopping: this one and the rest are abandoned
            self._done()

    def _deliver_safely(self, alert: Alert) -> bool:
        try:
            return self._deliver(alert)
        except Exception as exc:  # a bug (in a post function, say) costs one state only
            log.exception("webhook: delivering %s failed unexpectedly", alert.delivery_key)
            self._give_up(alert, f"{type(exc).__name__}: {exc}", 1)
            return True

    def _ledger_lookup(self, keys: list[str]) -> set[str] | None:
        # Sending without knowing what was delivered would repeat deliveries after a
        # restart, so an unreachable ledger is waited for.
        attempt = 0
        while not self._stopping.is_set():
            try:
                return set(self.ledger.delivered(keys))
            except Exception as exc:
                with self._cond:
                    self._stats.ledger_errors += 1
                delay = self._delay(attempt)
                self._note_error(f"delivery ledger: {type(exc).__name__}: {exc}")
                log.error("webhook: cannot read the delivery ledger (%s); retrying in %gs",
                          exc, delay)
                attempt += 1
                self._sleep(delay)
        return None

    def _deliver(self, alert: Alert) -> bool:
        """POST one state until it is delivered or given up (True), or the notifier stops."""
        body = json.dumps(slack_body(alert, self.dashboard_url), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "dorpspomp",
            "Idempotency-Key": alert.delivery_key,
            "X-Dorpspomp-Alert-Id": alert.alert_id,
            "X-Dorpspomp-Alert-Version": str(alert.version),
        }
        for attempt in range(self.max_attempts):
            if attempt:
                with self._cond:
                    self._stats.retries += 1
            try:
                response = self._post(self.url, body, headers, self.timeout)
            except (OSError, HTTPException) as exc:  # refused, reset, DNS, timeout
                problem, delay = f"{type(exc).__name__}: {exc}", self._delay(attempt)
            else:
                status = response.status
                self._messaged(alert)
                if 200 <= status < 300:
                    self._delivered(alert)
                    return True
                start = response.body[:ERROR_BODY_BYTES].decode("utf-8", "replace")
                problem = f"HTTP {status}: {start!r}"
                if 300 <= status < 400:
                    location = response_header(response, "Location")
                    problem += (f" (redirect to {redacted(location) if location else '?'};"
                                " set DORPSPOMP_ALERT_WEBHOOK to the final URL)")
                if status == 429:
                    after = _retry_after(response_header(response, "Retry-After"))
                    delay = self._delay(attempt) if after is None else after
                elif status >= 500 or status == 408:
                    delay = self._delay(attempt)
                else:
                    self._give_up(alert, problem, attempt + 1)
                    return True
            self._note_error(problem)
            if attempt + 1 == self.max_attempts:
                break
            log.warning("webhook %s: %s for %s; retry %d of %d in %gs", self.target, problem,
                        alert.delivery_key, attempt + 1, self.max_attempts - 1, delay)
            self._sleep(delay)
            if self._stopping.is_set():
                return False
        self._give_up(alert, problem, self.max_attempts)
        return True

    def _messaged(self, alert: Alert) -> None:
        """The receiver answered a message about the alert's client: its interval starts."""
        if self.min_interval:
            with self._cond:
                self._sent_at[alert.org_id] = self._clock()

    def _delivered(self, alert: Alert) -> None:
        self._remember(alert)
        with self._cond:
            self._stats.delivered += 1
        try:
            self.ledger.record([alert.delivery_key])
        except Exception as exc:
            # Delivered all the same; only a restart before the ledger catches up
            # could send it again, and then with the same Idempotency-Key.
            with self._cond:
                self._stats.ledger_errors += 1
            self._note_error(f"delivery ledger: {type(exc).__name__}: {exc}")
            log.error("webhook: delivered %s but could not record it in the ledger: %s",
                      alert.delivery_key, exc)

    def _give_up(self, alert: Alert, problem: str, attempts: int) -> None:
        with self._cond:
            self._stats.failed += 1
        self._note_error(problem)
        log.error("webhook %s: gave up on %s after %d attempt(s): %s", self.target,
                  alert.delivery_key, attempts, problem)

    def _remember(self, alert: Alert) -> None:
        if alert.version > self._latest.get(alert.alert_id, -1):
            self._latest[alert.alert_id] = alert.version
        self._latest.move_to_end(alert.alert_id)
        if len(self._latest) > REMEMBERED_ALERTS:
            self._latest.popitem(last=False)

    def _note_error(self, problem: str) -> None:
        with self._cond:
            self._stats.last_error = problem[:500]

    def _delay(self, attempt: int) -> float:
        return self.backoff[min(attempt, len(self.backoff) - 1)]


def in_version_order(alerts: Sequence[Alert]) -> list[Alert]:
    """`alerts` with each alert's states sorted by version, in the places that alert had."""
    places: dict[str, list[int]] = {}
    for i, alert in enumerate(alerts):
        places.setdefault(alert.alert_id, []).append(i)
    ordered = list(alerts)
    for where in places.values():
        if len(where) > 1:
            states = sorted((alerts[i] for i in where), key=lambda a: a.version)
            for i, state in zip(where, states, strict=True):
                ordered[i] = state
    return ordered


def response_header(response: WebhookResponse, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in response.headers.items() if k.lower() == name), None)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def redacted(url: str) -> str:
    """The URL without credentials and path: webhook URLs carry their secret in the path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    return f"{parts.scheme}://{host}{port}/…"


def _checked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except (ValueError, TypeError):
        raise SettingsError("DORPSPOMP_ALERT_WEBHOOK is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise SettingsError(
            f"DORPSPOMP_ALERT_WEBHOOK must be an http:// or https:// URL, not "
            f"{parts.scheme + '://' if parts.scheme else 'a URL without a scheme'}"
        )
    if not parts.hostname:
        raise SettingsError(f"DORPSPOMP_ALERT_WEBHOOK={redacted(url)} names no host")
    return url
