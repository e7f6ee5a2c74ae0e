"""infra/broker.py against a real Kafka broker, the way users and `dorpspomp up` drive it.

The first tests use the session broker. The start/stop/run tests start brokers
of their own, under their own homes and ports, so stopping them cannot touch
the session broker the rest of the suite relies on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.integration

BROKER_SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "broker.py"


def broker_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BROKER_SCRIPT), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def process_running(pid: int) -> bool:
    """True while `pid` runs; an exited process that is still a zombie counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def brokers_of(home: Path) -> list[int]:
    """Pids of every live JVM started with this home's server.properties."""
    marker = str(home.resolve() / "kafka" / "server.properties").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in args and process_running(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{topic}.reader",
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)  # stops after consumer_timeout_ms without records
    finally:
        consumer.close()
    return records


def test_a_message_goes_through_the_session_broker(kafka_broker: Any,
                                                   fresh_topic_name: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    try:
        sent = producer.send(fresh_topic_name, key=b"gemeente-zutphen",
                             value=b'{"type": "mention"}').get(timeout=30)
    finally:
        producer.close()

    records = consume_all(kafka_broker.bootstrap, fresh_topic_name, expected=1)
    assert [(r.key, r.value) for r in records] == [(b"gemeente-zutphen", b'{"type": "mention"}')]
    assert records[0].offset == sent.offset


def test_an_event_over_one_mib_is_accepted(kafka_broker: Any, fresh_topic_name: str) -> None:
    """The pipeline, not the broker, rejects oversized events (into dead_letters)."""
    from kafka import KafkaProducer

    payload = b'{"type": "mention", "text": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all",
                             max_request_size=8 * 1024 * 1024)
    try:
        producer.send(fresh_topic_name, value=payload).get(timeout=30)
    finally:
        producer.close()

    records = consume_all(kafka_broker.bootstrap, fresh_topic_name, expected=1)
    assert [len(r.value) for r in records] == [len(payload)]


def test_the_session_broker_has_the_requested_topics(kafka_broker: Any,
                                                     broker_api: ModuleType) -> None:
    status = broker_api.broker_status(kafka_broker.home)
    assert status.running and status.pid == kafka_broker.pid
    assert status.topics is not None
    assert status.topics["dorpspomp.events"] == 6
    assert status.topics["dorpspomp.alerts"] == 3


def test_missing_topics_are_created_and_existing_ones_kept(kafka_broker: Any,
                                                          broker_api: ModuleType,
                                                          fresh_topic_name: str) -> None:
    wanted = {f"{fresh_topic_name}.a": 4, f"{fresh_topic_name}.b": 2, "dorpspomp.events": 1}
    partitions, created = broker_api.ensure_topics(kafka_broker.bootstrap, wanted)

    assert partitions == {f"{fresh_topic_name}.a": 4, f"{fresh_topic_name}.b": 2,
                          "dorpspomp.events": 6}
    assert created == [f"{fresh_topic_name}.a", f"{fresh_topic_name}.b"]
    listed = broker_api.list_topics(kafka_broker.bootstrap)
    assert listed[f"{fresh_topic_name}.a"] == 4 and listed[f"{fresh_topic_name}.b"] == 2


def test_start_status_second_start_and_stop_from_the_command_line(
    tmp_path: Path, free_port_pair: tuple[int, int]
) -> None:
    home = tmp_path / "home"
    port, controller_port = free_port_pair
    common = ["--home", str(home)]
    try:
        started = broker_cli("start", *common, "--port", str(port),
                             "--controller-port", str(controller_port),
                             "--topics", "dorpspomp.events:6,dorpspomp.alerts:3", "--timeout", "90")
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"ready on 127.0.0.1:{port}" in started.stdout
        pid = int((home / "kafka" / "broker.pid").read_text())
        assert process_running(pid)

        status = broker_cli("status", *common, "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True and report["pid"] == pid
        assert report["bootstrap"] == f"127.0.0.1:{port}"
        assert report["topics"] == {"dorpspomp.events": 6, "dorpspomp.alerts": 3}

        again = broker_cli("start", *common, "--port", str(port),
                           "--controller-port", str(controller_port))
        assert again.returncode == 3, again.stdout + again.stderr
        assert f"a broker is already running (pid {pid}) on 127.0.0.1:{port}" in again.stderr
        assert "infra/broker.py stop --home" in again.stderr
        assert process_running(pid), "a second start must leave the first broker alone"

        stopped = broker_cli("stop", *common)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert f"broker stopped (pid {pid})" in stopped.stdout
        assert not process_running(pid)
        assert brokers_of(home) == []
        assert not (home / "kafka" / "broker.pid").exists()

        after = broker_cli("status", *common, "--json")
        assert after.returncode == 1
        assert json.loads(after.stdout)["running"] is False
        assert broker_cli("stop", *common).stdout.strip() == "no broker running"
    finally:
        broker_cli("stop", *common)


def test_start_refuses_a_port_held_by_another_program(tmp_path: Path,
                                                      free_port_pair: tuple[int, int]) -> None:
    port, controller_port = free_port_pair
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = broker_cli("start", "--home", str(tmp_path / "home"), "--port", str(port),
                            "--controller-port", str(controller_port))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert brokers_of(tmp_path / "home") == []


def test_run_keeps_the_broker_in_the_foreground_until_sigterm(
    tmp_path: Path, free_port_pair: tuple[int, int]
) -> None:
    from kafka import KafkaProducer

    home = tmp_path / "home"
    port, controller_port = free_port_pair
    topic = f"run.{uuid.uuid4().hex[:8]}"
    runner = subprocess.Popen(
        [sys.executable, str(BROKER_SCRIPT), "run", "--home", str(home), "--port", str(port),
         "--controller-port", str(controller_port), "--topics", f"{topic}:2", "--timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert runner.stdout is not None
        first = runner.stdout.readline()
        while first.startswith("fetch"):  # the jars are fetched on a first run
            first = runner.stdout.readline()
        assert f"ready on 127.0.0.1:{port}" in first and "in the foreground" in first, first
        pid = int((home / "kafka" / "broker.pid").read_text())

        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}")
        try:
            producer.send(topic, b"still here").get(timeout=30)
        finally:
            producer.close()

        runner.send_signal(signal.SIGTERM)
        rest, _ = runner.communicate(timeout=60)
        assert runner.returncode == 0, rest
        assert f"broker stopped (pid {pid})" in rest
        assert not process_running(pid)
        assert brokers_of(home) == []
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in brokers_of(home):
            os.kill(pid, signal.SIGKILL)
