"""The worker's judgement of its own health (`pipelines.ingest.health.assess`) and how
`dorpspomp status` shows it; no broker, no warehouse."""

from __future__ import annotations

import time

import pytest

from pipelines.commands.status import format_status
from pipelines.ingest.batch import WriteResult
from pipelines.ingest.columnar import MENTIONS_SCHEMA, POSTS_SCHEMA
from pipelines.ingest.health import (
    BROKER_SILENCE_SECONDS,
    STALL_SECONDS,
    BrokerProbe,
    BrokerView,
    WorkerStats,
    assess,
    consumer_lag,
    health_report,
)
from pipelines.settings import Settings

BOOTSTRAP = "127.0.0.1:9092"


def nothing_new(repeated: int) -> WriteResult:
    """A write that stored no event: `repeated` dead letters and as many duplicates."""
    return WriteResult(MENTIONS_SCHEMA.empty_table(), POSTS_SCHEMA.empty_table(), repeated,
                       repeated)


def answered(ends: dict[int, int], beginnings: dict[int, int] | None = None,
             silence: float = 1.0) -> BrokerView:
    return BrokerView(answered=True, silence=silence, error=None, end_offsets=ends,
                      beginning_offsets=beginnings or dict.fromkeys(ends, 0))


def silent(seconds: float, ends: dict[int, int] | None = None) -> BrokerView:
    return BrokerView(answered=False, silence=seconds,
                      error="KafkaTimeoutError: Failed to get offsets by timestamps in 4000 ms",
                      end_offsets=ends or {}, beginning_offsets=dict.fromkeys(ends or {}, 0))


def written(stats: WorkerStats, partition: int, offsets: range) -> None:
    stats.write_started(len(offsets))
    stats.batch_written(len(offsets), {partition: offsets[-1] + 1},
                        nothing_new(0), taken_at=time.monotonic() - 0.2)


def test_a_working_worker_is_ok() -> None:
    stats = WorkerStats(recorded_offsets={0: 10})
    written(stats, 0, range(10, 20))
    health = assess(stats, answered({0: 25, 1: 0}), {0, 1}, BOOTSTRAP)
    assert (health.status, health.reasons) == ("ok", [])
    assert health.lag == {0: 5, 1: 0}


def test_a_silent_broker_degrades_after_the_grace_and_recovers_with_its_answer() -> None:
    stats = WorkerStats()
    assert assess(stats, silent(BROKER_SILENCE_SECONDS - 1), set(), BOOTSTRAP).status == "ok"
    health = assess(stats, silent(BROKER_SILENCE_SECONDS + 5), set(), BOOTSTRAP)
    assert health.status == "degraded"
    [reason] = health.reasons
    assert "Kafka broker at 127.0.0.1:9092 has not answered for 20 s" in reason
    assert "KafkaTimeoutError" in reason and "dorpspomp broker status" in reason
    assert assess(stats, answered({}), set(), BOOTSTRAP).status == "ok"


def test_a_failed_write_degrades_until_a_batch_is_written() -> None:
    stats = WorkerStats()
    stats.write_started(500)
    stats.write_failed(ConnectionError("Code: 210. Connection refused"))
    stats.write_failed(ConnectionError("Code: 243. DB::Exception: Cannot reserve 1.00 MiB\n"
                                       "stack trace follows"))
    health = assess(stats, answered({0: 500}), {0}, BOOTSTRAP)
    assert health.status == "degraded"
    [reason] = health.reasons
    assert reason.startswith("the last 2 writes of a batch to the warehouse failed")
    assert "Cannot reserve 1.00 MiB; the batch is retried" in reason
    assert "stack trace" not in reason
    assert stats.metrics.write_failures.value() == 2
    written(stats, 0, range(500))
    assert assess(stats, answered({0: 500}), {0}, BOOTSTRAP).status == "ok"
    assert stats.last_error is not None  # still shown by `dorpspomp status`


def test_waiting_events_and_no_progress_for_a_minute_is_a_stall() -> None:
    stats = WorkerStats(recorded_offsets={0: 100})
    now = stats.progress_at + STALL_SECONDS + 1
    # nothing waits: idle is fine
    assert assess(stats, answered({0: 100}), {0}, BOOTSTRAP, now=now).status == "ok"
    # events wait, but not for long enough
    assert assess(stats, answered({0: 130}), {0}, BOOTSTRAP,
                  now=stats.progress_at + 5).status == "ok"
    # events wait on a partition of another worker: not ours to judge
    assert assess(stats, answered({0: 100, 1: 50}), {0}, BOOTSTRAP, now=now).status == "ok"
    health = assess(stats, answered({0: 130}), {0}, BOOTSTRAP, now=now)
    assert health.reasons == [
        "no batch was written for 61 s while 30 events wait in Kafka on this worker's "
        "partitions: the consumer has stopped taking events — see the worker log, and "
        "restart the worker if it stays so"]
    stats.write_started(30)
    stats.writing_since = now - 61
    [reason] = assess(stats, answered({0: 130}), {0}, BOOTSTRAP, now=now).reasons
    assert reason.startswith("a write of 30 events to the warehouse has been running for 61 s")


def test_a_broker_outage_is_reported_as_such_not_as_a_stall() -> None:
    stats = WorkerStats(recorded_offsets={0: 100})
    now = stats.progress_at + STALL_SECONDS + 30
    health = assess(stats, silent(40, ends={0: 130}), {0}, BOOTSTRAP, now=now)
    assert len(health.reasons) == 1 and "has not answered" in health.reasons[0]


def test_lag_counts_from_the_first_offset_retention_kept() -> None:
    view = answered({0: 1000, 1: 70, 2: 9}, beginnings={0: 900, 1: 0, 2: 0})
    # partition 0 never written by us and its first 900 messages deleted; 2 not assigned
    assert consumer_lag(view, {1: 60}, {0, 1}) == {0: 100, 1: 10}
    assert consumer_lag(silent(3), {1: 60}, {0, 1}) is None


def test_the_health_report_keeps_its_fields_and_adds_status_reasons_and_lag(
        tmp_path: object) -> None:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)})
    stats = WorkerStats(recorded_offsets={0: 3})
    stats.write_started(2)
    stats.batch_written(2, {0: 5}, nothing_new(1), taken_at=time.monotonic())
    stats.alerts_published(3)
    view = answered({0: 9})
    report = health_report(settings, stats, assess(stats, view, {0}, BOOTSTRAP), view)
    assert report["status"] == "ok" and report["reasons"] == []
    assert (report["events"], report["batches"], report["dead_letters_written"],
            report["duplicates_dropped"], report["alert_states"]) == (2, 1, 1, 1, 3)
    assert report["consumer_lag"] == {"total": 4, "per_partition": {"0": 4}}
    assert report["last_batch_at"] is not None and report["write_failures"] == 0


def test_the_probe_waits_for_no_one_and_says_when_the_broker_never_answered() -> None:
    clock = [100.0]
    probe = BrokerProbe(BOOTSTRAP, "t.events", clock=lambda: clock[0])
    clock[0] += 30
    view = probe.view()
    assert not view.answered and view.silence == 30 and view.end_offsets == {}
    assert assess(WorkerStats(), view, set(), BOOTSTRAP).reasons[0].endswith(
        "(no answer yet); no events are read until it is back — check it with "
        "`dorpspomp broker status` or `dorpspomp status`")


@pytest.mark.parametrize("worker, expected", [
    ({"status": "ok"}, ["health     ok"]),
    ({"status": "degraded", "reasons": ["the Kafka broker at x has not answered for 31 s",
                                        "the last write of a batch failed"]},
     ["health     DEGRADED", "           - the Kafka broker at x has not answered for 31 s",
      "           - the last write of a batch failed"]),
])
def test_status_shows_the_workers_judgement(worker: dict[str, object],
                                            expected: list[str]) -> None:
    report = {
        "broker": {"reachable": True, "bootstrap": BOOTSTRAP, "topics": {}},
        "worker": {"running": True, "pid": 7, "url": "http://127.0.0.1:6066", "events": 5,
                   "batches": 1, **worker},
        "warehouse": {"via": "worker", "rows": {"mentions": 5}},
    }
    lines = format_status(report).splitlines()
    at = lines.index(next(line for line in lines if line.startswith("worker")))
    assert lines[at + 1: at + 1 + len(expected)] == expected
