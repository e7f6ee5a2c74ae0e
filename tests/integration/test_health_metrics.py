"""The worker's /metrics and /health against a real broker and a real worker process.

- /metrics parses as Prometheus text and counts the events of a replay exactly;
- stopping the broker makes /health say "degraded" with a reason within a bounded
  time (and `dorpspomp status` show it), and "ok" again once the broker is back;
  the worker then takes new events again;
- a warehouse that refuses inserts makes /health "degraded" with the error, and
  "ok" again with exact counts once the inserts go through.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pipelines.ingest import metrics as m
from tests import eventgen
from tests.integration.conftest import OwnBroker
from tests.integration.harness import ROOT, Stack
from tests.promtext import Family, check_histogram, parse, value

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "examples" / "sample-events.jsonl"
T = TypeVar("T")


def expected_sample() -> dict[str, int]:
    words = (ROOT / "examples" / "sample-events.expected").read_text().split()
    numbers = dict(zip(words[::2], map(int, words[1::2]), strict=True))
    lines = [line for line in SAMPLE.read_bytes().split(b"\n") if line.strip()]
    numbers["events"] = len(lines)
    return numbers


def health(stack: Stack) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/health", timeout=10) as r:
        assert r.status == 200
        report: dict[str, Any] = json.loads(r.read())
        return report


def scrape(stack: Stack) -> dict[str, Family]:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(r.read().decode())


def wait_for(stack: Stack, what: str, probe: Callable[[], T | None],
             timeout: float) -> tuple[T, float]:
    """`probe()`'s first truthy result and the seconds it took; fails after `timeout`."""
    started = time.monotonic()
    while True:
        result = probe()
        if result:
            return result, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}\n"
                                 + stack.log.read_text(errors="replace")[-3000:])
        time.sleep(0.5)


def consumed(stack: Stack) -> int:
    return int(value(scrape(stack)[m.EVENTS_CONSUMED]))


def caught_up(families: dict[str, Family]) -> dict[str, Family] | None:
    lag = families[m.CONSUMER_LAG].samples
    return families if lag and all(v == 0 for _, _, v in lag) else None


def test_metrics_count_a_replay_and_health_follows_the_broker(
        own_broker: OwnBroker, tmp_path: Path) -> None:
    expected = expected_sample()
    stack = Stack.fresh("health", tmp_path / "home", own_broker.bootstrap)
    stack.start_worker()
    try:
        families = scrape(stack)
        assert value(families[m.EVENTS_CONSUMED]) == 0
        assert value(families[m.QUERIES], kind="client", outcome="ok") == 0

        stack.cli("replay", str(SAMPLE), "--quiet")
        wait_for(stack, f"{expected['events']} events counted on /metrics",
                 lambda: consumed(stack) == expected["events"], timeout=120)
        # the lag comes from the broker probe, refreshed every few seconds
        families, _ = wait_for(stack, "consumer lag 0 on every partition",
                               lambda: caught_up(scrape(stack)), timeout=30)
        assert value(families[m.MENTIONS_WRITTEN]) == expected["mentions"]
        assert value(families[m.POSTS_WRITTEN]) == expected["posts"]
        assert value(families[m.DEAD_LETTERS_WRITTEN]) == expected["dead_letters"]
        assert value(families[m.DUPLICATES_DROPPED]) == (
            expected["events"] - expected["mentions"] - expected["posts"]
            - expected["dead_letters"])
        assert value(families[m.WRITE_FAILURES]) == 0
        batches = value(families[m.BATCHES_WRITTEN])
        latency = check_histogram(families[m.BATCH_SECONDS])[()]
        assert batches >= 1 and latency["_count"] == batches and latency["_sum"] > 0
        assert {ls["partition"] for _, ls, _ in families[m.CONSUMER_LAG].samples} == {
            "0", "1", "2", "3"}
        assert value(families[m.BROKER_UP]) == 1 and value(families[m.HEALTH_DEGRADED]) == 0
        assert value(families[m.QUERIES], kind="operator", outcome="ok") == 0
        # the same numbers as the public tables, through the worker's /query (counted)
        assert stack.scalar("SELECT count() AS n FROM mentions") == expected["mentions"]
        families = scrape(stack)
        assert value(families[m.QUERIES], kind="operator", outcome="ok") == 1
        durations = check_histogram(families[m.QUERY_SECONDS])
        assert durations[(("kind", "operator"), ("outcome", "ok"))]["_count"] == 1
        report = health(stack)
        assert (report["status"], report["reasons"]) == ("ok", [])
        assert report["events"] == expected["events"]
        assert report["consumer_lag"]["total"] == 0

        own_broker.stop()
        report, took = wait_for(stack, "/health degraded after the broker stopped", lambda: (
            r if (r := health(stack))["status"] == "degraded" else None), timeout=60)
        print(f"degraded {took:.1f} s after the broker stopped")
        assert any(f"the Kafka broker at {own_broker.bootstrap} has not answered" in reason
                   for reason in report["reasons"]), report["reasons"]
        families = scrape(stack)
        assert value(families[m.BROKER_UP]) == 0 and value(families[m.HEALTH_DEGRADED]) == 1
        status = stack.cli("status", check=False).stdout
        assert "health     DEGRADED" in status, status
        assert f"- the Kafka broker at {own_broker.bootstrap} has not answered" in status

        own_broker.start()
        report, took = wait_for(stack, "/health ok after the broker came back", lambda: (
            r if (r := health(stack))["status"] == "ok" else None), timeout=60)
        print(f"ok {took:.1f} s after the broker was back")
        assert report["reasons"] == []

        # and the worker reads again
        more = eventgen.build(60, seed=11, bad_per_kind=0)
        extra = tmp_path / "more.jsonl"
        extra.write_bytes(b"\n".join(more.lines) + b"\n")
        stack.cli("replay", str(extra), "--quiet")
        sent = sum(1 for line in more.lines if line.strip())
        wait_for(stack, "the events sent after the outage counted", lambda: (
            consumed(stack) == expected["events"] + sent), timeout=120)
        assert value(scrape(stack)[m.MENTIONS_WRITTEN]) == (
            expected["mentions"] + len(more.mentions))
    finally:
        stack.stop_worker()


def test_refused_inserts_make_health_degraded_until_they_succeed(
        kafka_broker: Any, tmp_path: Path) -> None:
    expected = expected_sample()
    stack = Stack.fresh("refuse", tmp_path / "home", kafka_broker.bootstrap,
                        worker_command=("-m", "tests.integration.refusing_worker"))
    stack.start_worker()
    refuse = stack.home / "refuse-inserts"
    try:
        refuse.touch()
        stack.cli("replay", str(SAMPLE), "--quiet")
        report, _ = wait_for(stack, "/health degraded while inserts are refused", lambda: (
            r if (r := health(stack))["status"] == "degraded" else None), timeout=60)
        [reason] = report["reasons"]
        assert "of a batch to the warehouse failed" in reason
        assert "the test refuses inserts into mentions" in reason
        assert report["events"] == 0 and report["write_failures"] >= 1
        families = scrape(stack)
        assert value(families[m.WRITE_FAILURES]) >= 1
        assert value(families[m.HEALTH_DEGRADED]) == 1
        status = stack.cli("status", check=False).stdout
        assert "health     DEGRADED" in status
        assert "the test refuses inserts into mentions" in status

        refuse.unlink()
        report, _ = wait_for(stack, "/health ok with every event written", lambda: (
            r if (r := health(stack))["status"] == "ok"
            and r["events"] == expected["events"] else None), timeout=60)
        assert report["mentions_written"] == expected["mentions"]
        assert report["reasons"] == []
    finally:
        stack.stop_worker()
