"""`dorpspomp simulate` live mode against the real Kafka broker.

The simulation runs for a few seconds into a fresh topic with four partitions; then the
topic is read back the way the worker reads it: every message decodes with the roster the
simulation wrote, its key is its organisation, and an organisation's events share one
partition. Another stops a running simulation with Ctrl-C (SIGINT), as a user does, and
with SIGTERM, as `dorpspomp up` does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest import kafkaadmin
from pipelines.ingest.decode import Mention, Post, Source, decode
from pipelines.roster import load_roster
from pipelines.simulate import simulate_live

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)      # a Tuesday morning


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    kafkaadmin.ensure_topics(bootstrap, {topic: partitions})


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{topic}.reader",
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def test_live_stream_arrives_keyed_by_organisation_and_decodes(
        kafka_broker: Any, fresh_topic_name: str, tmp_path: Path) -> None:
    create_topic(kafka_broker.bootstrap, fresh_topic_name, 4)
    roster_out = tmp_path / "live.roster.yaml"

    report = simulate_live(kafka_broker.bootstrap, fresh_topic_name, seed=3, orgs=60,
                           start=START, rate=500, speedup=60, roster_out=roster_out,
                           duration=4.0, progress=False)

    assert not report.interrupted
    assert 3.5 < report.seconds < 30
    assert report.events / 4.0 > 150              # about 500/s, more on a weekday morning
    records = consume_all(kafka_broker.bootstrap, fresh_topic_name, report.events)
    assert len(records) == report.events

    roster = load_roster(roster_out)
    partitions: dict[str, set[int]] = defaultdict(set)
    last_created = START
    kinds = set()
    for record in records:
        event = decode(record.value, Source(record.topic, record.partition, record.offset),
                       roster)
        assert isinstance(event, Mention | Post), f"{event}: {record.value!r}"
        assert record.key == event.org_id.encode()
        partitions[event.org_id].add(record.partition)
        last_created = max(last_created, event.created_at)
        kinds.add(type(event).__name__)
    assert kinds == {"Mention", "Post"}
    assert len(partitions) >= 30
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) == 4
    # Simulated time ran about 60 times as fast as the wall clock.
    simulated = (last_created - START).total_seconds()
    assert 0.5 * 60 * 4.0 < simulated <= 60 * 4.0 + 1


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_simulation_with_a_summary(
        kafka_broker: Any, fresh_topic_name: str, tmp_path: Path, stop: signal.Signals) -> None:
    """Ctrl-C, or SIGTERM as `dorpspomp up` sends its children: flushed, then a summary."""
    create_topic(kafka_broker.bootstrap, fresh_topic_name, 2)
    code = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC;"
        "from pipelines.simulate import simulate_live;"
        "report = simulate_live(sys.argv[1], sys.argv[2], seed=5, orgs=60,"
        " start=datetime(2026, 3, 3, 9, 0, tzinfo=UTC), rate=300, speedup=60,"
        " roster_out=Path(sys.argv[3]), duration=None, progress=True);"
        "print(report.summary())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, kafka_broker.bootstrap, fresh_topic_name,
         str(tmp_path / "run.roster.yaml")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(6)
        assert process.poll() is None, process.communicate()
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout.startswith("stopped: "), stdout
    sent = int(stdout.split()[1].replace(",", ""))
    assert sent > 100
    assert "simulated 2026-03-03" in stderr          # the progress line
    records = consume_all(kafka_broker.bootstrap, fresh_topic_name, sent)
    assert len(records) == sent                      # everything counted was flushed
