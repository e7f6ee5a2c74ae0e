"""The worker's /metrics text: parsed back by a strict reader of the Prometheus text
format 0.0.4 written here (no prometheus_client), so names, labels, escaping and
histogram buckets are checked as a scraper would read them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.ingest import metrics as m
from pipelines.ingest.metrics import Counter, Gauge, Histogram, Registry, WorkerMetrics
from pipelines.processing.notify import NotifierStats
from tests.promtext import check_histogram, parse, value

# -- the registry -------------------------------------------------------------------------


def test_counters_gauges_and_labels_render_and_parse_back() -> None:
    r = Registry()
    c = Counter(r, "x_things_total", "Things\nseen, with a back\\slash")
    g = Gauge(r, "x_level", "A level", labels=("where", "what"))
    c.inc()
    c.inc(2.5)
    g.set(-3, where='a "quoted"\nback\\slash', what="ü")
    g.set(7, where="plain", what="x")
    families = parse(r.render())
    assert families["x_things_total"].kind == "counter"
    assert families["x_things_total"].help == "Things\nseen, with a back\\slash"
    assert value(families["x_things_total"]) == 3.5
    assert families["x_level"].kind == "gauge"
    assert value(families["x_level"], where='a "quoted"\nback\\slash', what="ü") == -3
    assert value(families["x_level"], where="plain", what="x") == 7


def test_the_escaped_label_text_is_exactly_the_prometheus_one() -> None:
    r = Registry()
    Gauge(r, "x_g", "g", labels=("v",)).set(1, v='a\\b"c\nd')
    assert 'x_g{v="a\\\\b\\"c\\nd"} 1' in r.render().splitlines()


@given(st.text())
def test_any_label_value_survives_the_round_trip(text: str) -> None:
    r = Registry()
    Gauge(r, "x_g", "g", labels=("v",)).set(2, v=text)
    assert value(parse(r.render())["x_g"], v=text) == 2


def test_histogram_buckets_sum_and_count() -> None:
    r = Registry()
    h = Histogram(r, "x_seconds", "How long", buckets=(0.1, 1, 10), labels=("kind",))
    for v in (0.05, 0.1, 0.5, 3, 30, 30):
        h.observe(v, kind="a")
    h.prepare(kind="b")
    series = check_histogram(parse(r.render())["x_seconds"])
    a = series[(("kind", "a"),)]
    assert a["buckets"] == {0.1: 2, 1: 3, 10: 4, math.inf: 6}  # type: ignore[comparison-overlap]
    assert a["_count"] == 6 and a["_sum"] == pytest.approx(63.65)
    b = series[(("kind", "b"),)]
    assert b["_count"] == 0 and b["_sum"] == 0
    assert 'x_seconds_bucket{kind="a",le="+Inf"} 6' in r.render()


def test_values_are_written_as_prometheus_reads_them() -> None:
    assert [m.format_value(v) for v in (3, 3.0, 0.25, math.inf, -math.inf, 1e300)] == [
        "3", "3", "0.25", "+Inf", "-Inf", "1e+300"]
    assert m.format_value(math.nan) == "NaN"


def test_mistakes_in_definitions_are_refused() -> None:
    r = Registry()
    Counter(r, "x_total", "x")
    with pytest.raises(ValueError, match="already registered"):
        Counter(r, "x_total", "again")
    with pytest.raises(ValueError, match="_total"):
        Counter(r, "x_count", "a counter without _total")
    with pytest.raises(ValueError, match="metric name"):
        Gauge(r, "x-y", "dash")
    with pytest.raises(ValueError, match="label name"):
        Gauge(r, "x_y", "y", labels=("__reserved",))
    with pytest.raises(ValueError, match="le"):
        Histogram(r, "x_h", "h", buckets=(1,), labels=("le",))
    with pytest.raises(ValueError, match="increasing"):
        Histogram(r, "x_h2", "h", buckets=(2, 1))
    c = Counter(r, "y_total", "y", labels=("a",))
    with pytest.raises(ValueError, match="labels"):
        c.inc(b="1")
    with pytest.raises(ValueError, match="only grows"):
        c.inc(-1, a="1")


# -- the worker's metrics -----------------------------------------------------------------


def test_every_name_is_declared_once_and_rendered() -> None:
    names = [v for k, v in vars(m).items() if k.isupper() and isinstance(v, str)
             and v.startswith("dorpspomp_")]
    assert len(names) == len(set(names))
    metrics = WorkerMetrics(start_time=1_700_000_000)
    metrics.set_webhook(NotifierStats())
    assert set(parse(metrics.render())) == set(names)


def test_query_counts_and_durations_per_login_kind_and_outcome() -> None:
    metrics = WorkerMetrics()
    metrics.observe_query("client", 0.02, "ok")
    metrics.observe_query("client", 3.0, "ok")
    metrics.observe_query("agency", 0.4, "refused")
    families = parse(metrics.render())
    queries = families[m.QUERIES]
    # every kind × outcome is exposed, the ones never seen at 0
    assert {(ls["kind"], ls["outcome"]) for _, ls, _ in queries.samples} == {
        (k, o) for k in m.QUERY_KINDS for o in m.QUERY_OUTCOMES}
    assert value(queries, kind="client", outcome="ok") == 2
    assert value(queries, kind="agency", outcome="refused") == 1
    assert value(queries, kind="operator", outcome="error") == 0
    durations = check_histogram(families[m.QUERY_SECONDS])
    client_ok = durations[(("kind", "client"), ("outcome", "ok"))]
    assert client_ok["_count"] == 2 and client_ok["_sum"] == pytest.approx(3.02)
    assert client_ok["buckets"][0.025] == 1  # type: ignore[index]
    with pytest.raises(ValueError, match="operator, agency, client"):
        metrics.observe_query("admin", 0.1, "ok")
    with pytest.raises(ValueError, match="ok, refused, error"):
        metrics.observe_query("agency", 0.1, "timeout")


def test_batches_lag_and_webhook() -> None:
    metrics = WorkerMetrics()
    metrics.batch_written(events=10, mentions=6, posts=2, dead_letters=1, duplicates=1,
                          seconds=0.7)
    metrics.batch_written(events=5, mentions=5, posts=0, dead_letters=0, duplicates=0,
                          seconds=12)
    metrics.set_consumer_lag("t.events", {1: 40, 0: 2})
    families = parse(metrics.render())
    assert value(families[m.EVENTS_CONSUMED]) == 15
    assert value(families[m.MENTIONS_WRITTEN]) == 11
    assert value(families[m.DEAD_LETTERS_WRITTEN]) == 1
    assert value(families[m.BATCHES_WRITTEN]) == 2
    batch = check_histogram(families[m.BATCH_SECONDS])[()]
    assert batch["_count"] == 2 and batch["buckets"][1.0] == 1  # type: ignore[index]
    assert value(families[m.CONSUMER_LAG], topic="t.events", partition="1") == 40
    assert m.WEBHOOK_DELIVERED not in families  # no webhook, no webhook metrics
    # a partition that moved to another worker disappears
    metrics.set_consumer_lag("t.events", {0: 0})
    metrics.set_webhook(NotifierStats(delivered=4, failed=1, retries=3, pending=2))
    families = parse(metrics.render())
    assert [ls["partition"] for _, ls, _ in families[m.CONSUMER_LAG].samples] == ["0"]
    assert value(families[m.WEBHOOK_DELIVERED]) == 4
    assert value(families[m.WEBHOOK_FAILED]) == 1
    assert value(families[m.WEBHOOK_PENDING]) == 2
