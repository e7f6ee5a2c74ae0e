"""Every metric the worker exposes on `/metrics`, and the little registry that renders them.

All metric names live here and nowhere else (Arroyo keeps its names in one
`metric_defs.py` for the same reason: an operator's dashboards and alert rules
depend on them, so a rename must be a visible, deliberate change). The registry
is ours, not prometheus_client: three instrument kinds (counter, gauge,
histogram), a lock, and the Prometheus text exposition format version 0.0.4
(`# HELP`, `# TYPE`, escaped label values, histogram `_bucket{le=…}`, `_sum`,
`_count`) are all the worker needs, and a dependency would bring a process-wide
default registry we do not want.

The worker holds one `WorkerMetrics` (`pipelines.ingest.health.WorkerStats.metrics`;
in `pipelines.ingest.worker.create_app` it is the local name `metrics`, also
`app.dorpspomp_metrics`) and serves `metrics.render()` on `GET /metrics`.

The query path reports each read-only query with one call, after it finished
or was turned away::

    started = time.perf_counter()
    ...  # check and run the query
    metrics.observe_query(kind, time.perf_counter() - started, outcome)

- `kind`: who asked — `"operator"` (no login: `dorpspomp sql`, `dorpspomp
  status`, the dashboard without a users file), `"agency"` or `"client"` (the
  dashboard's login kinds). `QUERY_KINDS` lists them.
- `outcome`: `"ok"` (a result was sent), `"refused"` (the guard, a scope or a
  limit turned it away: HTTP 4xx with a message for the user), `"error"` (the
  engine failed or timed out). `QUERY_OUTCOMES` lists them.
- `seconds`: wall time from receiving the request to the answer, refusals
  included. Any other kind or outcome raises ValueError: label values are a
  closed set, so that a typo cannot grow new series unnoticed.

It is safe to call from any thread (the worker's reader threads included).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.processing.notify import NotifierStats

# The web server adds "; charset=utf-8".
CONTENT_TYPE = "text/plain; version=0.0.4"

# -- names ----------------------------------------------------------------------------------
# The one home of every metric name the worker exposes (README, "/health and /metrics").

EVENTS_CONSUMED = "dorpspomp_events_consumed_total"
BATCHES_WRITTEN = "dorpspomp_batches_written_total"
MENTIONS_WRITTEN = "dorpspomp_mentions_written_total"
POSTS_WRITTEN = "dorpspomp_posts_written_total"
DEAD_LETTERS_WRITTEN = "dorpspomp_dead_letters_written_total"
DUPLICATES_DROPPED = "dorpspomp_duplicates_dropped_total"
BATCH_SECONDS = "dorpspomp_batch_seconds"
WRITE_FAILURES = "dorpspomp_write_failures_total"
ALERT_STATES_PUBLISHED = "dorpspomp_alert_states_published_total"
CONSUMER_LAG = "dorpspomp_consumer_lag"
BROKER_UP = "dorpspomp_broker_up"
BROKER_SILENCE_SECONDS = "dorpspomp_broker_silence_seconds"
HEALTH_DEGRADED = "dorpspomp_health_degraded"
WORKER_START_TIME = "dorpspomp_worker_start_time_seconds"
WEBHOOK_DELIVERED = "dorpspomp_webhook_deliveries_total"
WEBHOOK_FAILED = "dorpspomp_webhook_failures_total"
WEBHOOK_RETRIES = "dorpspomp_webhook_retries_total"
WEBHOOK_DROPPED = "dorpspomp_webhook_dropped_total"
WEBHOOK_PENDING = "dorpspomp_webhook_pending"
QUERIES = "dorpspomp_queries_total"
QUERY_SECONDS = "dorpspomp_query_seconds"

QUERY_KINDS = ("operator", "agency", "client")
QUERY_OUTCOMES = ("ok", "refused", "error")

# From a batch taken off the stream to its offsets recorded: a few hundred ms for a
# small batch, seconds for 20 000 events, minutes only when writes are retried.
BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Read-only queries: the dashboard's take milliseconds to about a second; the limit
# (DORPSPOMP_QUERY_TIMEOUT) is 30 s by default.
QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


# -- the registry ---------------------------------------------------------------------------


class Metric:
    """One metric family: a name, a help text, label names, and a value per label set."""

    kind = "untyped"

    def __init__(self, registry: Registry, name: str, help: str,
                 labels: Sequence[str] = ()) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid Prometheus metric name")
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"{label!r} is not a valid Prometheus label name")
        if len(set(labels)) != len(labels):
            raise ValueError(f"{name}: a label name appears twice in {list(labels)}")
        self.name = name
        self.help = help
        self.labels = tuple(labels)
        self._lock = registry.lock
        registry.register(self)

    def _key(self, labels: Mapping[str, Any]) -> tuple[str, ...]:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes the labels {list(self.labels)}, "
                             f"not {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.labels)

    def samples(self) -> Iterable[tuple[str, tuple[tuple[str, str], ...], float]]:
        """(sample name, ((label, value), …), value) in exposition order; under the lock."""
        raise NotImplementedError


class Counter(Metric):
    """A total that only grows (events written, failures, queries)."""

    kind = "counter"

    def __init__(self, registry: Registry, name: str, help: str,
                 labels: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        super().__init__(registry, name, help, labels)
        self._values: dict[tuple[str, ...], float] = {} if labels else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        if amount < 0:
            raise ValueError(f"{self.name} only grows; got {amount}")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set_total(self, total: float, **labels: Any) -> None:
        """For a total kept elsewhere (the webhook notifier counts its own deliveries)."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(total)

    def value(self, **labels: Any) -> float:
        key = self._key(labels)
        with self._lock:
            return self._values.get(key, 0.0)

    def samples(self) -> Iterable[tuple[str, tuple[tuple[str, str], ...], float]]:
        for key, value in self._values.items():
            yield self.name, tuple(zip(self.labels, key, strict=True)), value


class Gauge(Metric):
    """A value that goes up and down (lag, pending deliveries, 0/1 states)."""

    kind = "gauge"

    def __init__(self, registry: Registry, name: str, help: str,
                 labels: Sequence[str] = ()) -> None:
        super().__init__(registry, name, help, labels)
        self._values: dict[tuple[str, ...], float] = {} if labels else {(): 0.0}

    def set(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def replace(self, values: Iterable[tuple[Mapping[str, Any], float]]) -> None:
        """All series at once: label sets that are not in `values` disappear (a partition
        that moved to another worker is no longer this worker's lag)."""
        fresh = {self._key(labels): float(value) for labels, value in values}
        with self._lock:
            self._values = fresh

    def value(self, **labels: Any) -> float | None:
        key = self._key(labels)
        with self._lock:
            return self._values.get(key)

    def samples(self) -> Iterable[tuple[str, tuple[tuple[str, str], ...], float]]:
        for key, value in self._values.items():
            yield self.name, tuple(zip(self.labels, key, strict=True)), value


class Histogram(Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, registry: Registry, name: str, help: str,
                 buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        if "le" in labels:
            raise ValueError(f"{name}: a histogram cannot have a label named le")
        bounds = [float(b) for b in buckets]
        if not bounds or bounds != sorted(set(bounds)) or any(math.isnan(b) for b in bounds):
            raise ValueError(f"{name}: buckets must be distinct numbers in increasing order")
        if bounds[-1] != math.inf:
            bounds.append(math.inf)
        super().__init__(registry, name, help, labels)
        self.bounds = tuple(bounds)
        # per label set: [count per bucket (not cumulative)..., sum]
        self._values: dict[tuple[str, ...], list[float]] = (
            {} if labels else {(): [0.0] * (len(bounds) + 1)})

    def observe(self, value: float, **labels: Any) -> None:
        if math.isnan(value):
            raise ValueError(f"{self.name}: cannot observe NaN")
        key = self._key(labels)
        index = next(i for i, bound in enumerate(self.bounds) if value <= bound)
        with self._lock:
            counts = self._values.get(key)
            if counts is None:
                counts = self._values[key] = [0.0] * (len(self.bounds) + 1)
            counts[index] += 1
            counts[-1] += value

    def prepare(self, **labels: Any) -> None:
        """Create a label set's series at zero, so it is exposed before its first observation."""
        key = self._key(labels)
        with self._lock:
            self._values.setdefault(key, [0.0] * (len(self.bounds) + 1))

    def count(self, **labels: Any) -> int:
        key = self._key(labels)
        with self._lock:
            counts = self._values.get(key)
            return int(sum(counts[:-1])) if counts else 0

    def samples(self) -> Iterable[tuple[str, tuple[tuple[str, str], ...], float]]:
        for key, counts in self._values.items():
            base = tuple(zip(self.labels, key, strict=True))
            cumulative = 0.0
            for bound, n in zip(self.bounds, counts, strict=False):
                cumulative += n
                yield f"{self.name}_bucket", (*base, ("le", format_value(bound))), cumulative
            yield f"{self.name}_sum", base, counts[-1]
            yield f"{self.name}_count", base, cumulative


class Registry:
    """The metrics of one process part, rendered together."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}

    def register(self, metric: Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"a metric named {metric.name} is already registered")
        self._metrics[metric.name] = metric

    def render(self) -> str:
        """The Prometheus text exposition format, version 0.0.4."""
        lines: list[str] = []
        with self.lock:
            for metric in self._metrics.values():
                lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
                lines.append(f"# TYPE {metric.name} {metric.kind}")
                for name, labels, value in metric.samples():
                    lines.append(f"{name}{format_labels(labels)} {format_value(value)}")
        return "\n".join(lines) + "\n"


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Sequence[tuple[str, str]]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels) + "}"


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


# -- the worker's metrics -------------------------------------------------------------------


class WorkerMetrics:
    """The stream worker's metrics, one instance per worker app."""

    def __init__(self, start_time: float | None = None) -> None:
        r = self.registry = Registry()
        self.events_consumed = Counter(
            r, EVENTS_CONSUMED,
            "Kafka messages of the events topic in batches this worker wrote and whose "
            "offsets it recorded (bad messages included)")
        self.batches_written = Counter(
            r, BATCHES_WRITTEN, "Batches written to the warehouse with their offsets recorded")
        self.mentions_written = Counter(
            r, MENTIONS_WRITTEN, "New mentions inserted into the warehouse")
        self.posts_written = Counter(r, POSTS_WRITTEN, "New posts inserted into the warehouse")
        self.dead_letters_written = Counter(
            r, DEAD_LETTERS_WRITTEN,
            "Rejected messages stored in dead_letters (a re-read one is not counted again)")
        self.duplicates_dropped = Counter(
            r, DUPLICATES_DROPPED,
            "Events dropped because their event_id was already stored or earlier in the batch")
        self.batch_seconds = Histogram(
            r, BATCH_SECONDS,
            "Seconds from taking a batch off the stream to its offsets recorded in the "
            "warehouse (retries included)", BATCH_BUCKETS)
        self.write_failures = Counter(
            r, WRITE_FAILURES, "Attempts to write a batch that failed (each is retried)")
        self.alert_states_published = Counter(
            r, ALERT_STATES_PUBLISHED,
            "Alert states sent to the alerts topic (and the webhook, when one is set)")
        self.consumer_lag = Gauge(
            r, CONSUMER_LAG,
            "Events in Kafka not yet in the warehouse, per partition assigned to this worker: "
            "end offset minus the next offset recorded (refreshed every few seconds)",
            labels=("topic", "partition"))
        self.broker_up = Gauge(
            r, BROKER_UP, "1 when the broker answered the last offsets request, else 0")
        self.broker_silence = Gauge(
            r, BROKER_SILENCE_SECONDS, "Seconds since the broker last answered")
        self.health_degraded = Gauge(
            r, HEALTH_DEGRADED, "1 when /health says degraded (see its reasons), else 0")
        self.start_time = Gauge(
            r, WORKER_START_TIME, "Unix time at which the worker started")
        self.queries = Counter(
            r, QUERIES, "Read-only queries answered or refused, by login kind and outcome",
            labels=("kind", "outcome"))
        self.query_seconds = Histogram(
            r, QUERY_SECONDS,
            "Seconds from receiving a read-only query to its answer, by login kind and outcome",
            QUERY_BUCKETS, labels=("kind", "outcome"))
        self.webhook_delivered: Counter | None = None
        self.webhook_failed: Counter | None = None
        self.webhook_retries: Counter | None = None
        self.webhook_dropped: Counter | None = None
        self.webhook_pending: Gauge | None = None
        for kind in QUERY_KINDS:
            for outcome in QUERY_OUTCOMES:
                self.queries.inc(0, kind=kind, outcome=outcome)
                self.query_seconds.prepare(kind=kind, outcome=outcome)
        if start_time is not None:
            self.start_time.set(start_time)

    def batch_written(self, *, events: int, mentions: int, posts: int, dead_letters: int,
                      duplicates: int, seconds: float) -> None:
        self.events_consumed.inc(events)
        self.batches_written.inc()
        self.mentions_written.inc(mentions)
        self.posts_written.inc(posts)
        self.dead_letters_written.inc(dead_letters)
        self.duplicates_dropped.inc(duplicates)
        self.batch_seconds.observe(seconds)

    def observe_query(self, kind: str, seconds: float, outcome: str) -> None:
        """One read-only query: who asked (`QUERY_KINDS`), how long, how it ended
        (`QUERY_OUTCOMES`). See the module's text."""
        if kind not in QUERY_KINDS:
            raise ValueError(f"query kind {kind!r} is not one of {', '.join(QUERY_KINDS)}")
        if outcome not in QUERY_OUTCOMES:
            raise ValueError(
                f"query outcome {outcome!r} is not one of {', '.join(QUERY_OUTCOMES)}")
        self.queries.inc(kind=kind, outcome=outcome)
        self.query_seconds.observe(max(0.0, seconds), kind=kind, outcome=outcome)

    def set_consumer_lag(self, topic: str, lag: Mapping[int, int]) -> None:
        self.consumer_lag.replace(
            ({"topic": topic, "partition": p}, n) for p, n in sorted(lag.items()))

    def set_broker(self, up: bool, silence_seconds: float) -> None:
        self.broker_up.set(1 if up else 0)
        self.broker_silence.set(round(silence_seconds, 3))

    def set_webhook(self, counts: NotifierStats) -> None:
        """The notifier's totals; its metrics appear only in a worker that has a webhook."""
        if self.webhook_delivered is None:
            r = self.registry
            self.webhook_delivered = Counter(
                r, WEBHOOK_DELIVERED, "Alert states the webhook accepted (2xx)")
            self.webhook_failed = Counter(
                r, WEBHOOK_FAILED,
                "Alert states given up: a 4xx answer, or every attempt failed")
            self.webhook_retries = Counter(
                r, WEBHOOK_RETRIES, "Webhook POSTs retried after an outage or throttling")
            self.webhook_dropped = Counter(
                r, WEBHOOK_DROPPED, "Alert states dropped from a full webhook queue")
            self.webhook_pending = Gauge(
                r, WEBHOOK_PENDING, "Alert states queued for the webhook or being posted")
        assert self.webhook_failed is not None and self.webhook_retries is not None
        assert self.webhook_dropped is not None and self.webhook_pending is not None
        self.webhook_delivered.set_total(counts.delivered)
        self.webhook_failed.set_total(counts.failed)
        self.webhook_retries.set_total(counts.retries)
        self.webhook_dropped.set_total(counts.dropped)
        self.webhook_pending.set(counts.pending)

    def render(self) -> str:
        return self.registry.render()
