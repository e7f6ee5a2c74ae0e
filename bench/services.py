"""The real services a benchmark run measures: its own Kafka broker and worker processes.

Everything lives under the run's work folder, on free ports, so a benchmark never
touches the user's `dorpspomp up` stack and leaves nothing running behind it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from pipelines.commands.stack import BROKER_SCRIPT, tail, terminate
from pipelines.ingest import kafkaadmin
from pipelines.serving.readapi import running_worker
from pipelines.settings import Settings

ROOT = BROKER_SCRIPT.resolve().parents[1]


class BenchError(RuntimeError):
    """A phase could not run; the message says what to look at."""


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 that are free right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Broker:
    """A single-node KRaft broker of infra/broker.py under `home`."""

    home: Path
    port: int = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, topics: dict[str, int]) -> None:
        self.port, controller = free_ports(2)
        spec = ",".join(f"{name}:{n}" for name, n in topics.items())
        result = subprocess.run(
            [sys.executable, str(BROKER_SCRIPT), "start", "--home", str(self.home),
             "--port", str(self.port), "--controller-port", str(controller), "--topics", spec],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"the benchmark's Kafka broker did not start:\n{result.stdout}"
                             f"{result.stderr}")

    def pid(self) -> int | None:
        """The broker's process id (`infra/broker.py` keeps it under its home), None when
        it is not running."""
        try:
            return int((self.home / "kafka" / "broker.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def end_offsets(self, topic: str) -> dict[int, int]:
        return kafkaadmin.end_offsets(self.bootstrap, topic)

    def stop(self) -> None:
        subprocess.run([sys.executable, str(BROKER_SCRIPT), "stop", "--home", str(self.home)],
                       capture_output=True, check=False)


@dataclass
class WorkerProcess:
    """`dorpspomp worker` as a child process with its own settings."""

    settings: Settings
    name: str = "worker"
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready: float = 0.0
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.settings.home / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.worker_port}"

    def start(self, timeout: float = 300) -> None:
        """Start it and wait until it answers /health (start-up restores the processors)."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DORPSPOMP_")}
        env.update(self.settings.environment(), PYTHONUNBUFFERED="1")
        self.started = time.perf_counter()
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipelines.commands.cli", "worker"], env=env, cwd=ROOT,
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the {self.name} exited with {self.process.returncode}; "
                                 f"its log {self.log}:\n{tail(self.log, 30)}")
            announced = running_worker(self.settings)
            if announced is not None and announced.pid == self.process.pid \
                    and self.health() is not None:
                self.ready = time.perf_counter()
                return
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"the {self.name} was not ready within {timeout:.0f} s; see {self.log}")

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                report: dict[str, Any] = orjson.loads(response.read())
        except (OSError, ValueError):
            return None
        return report if report.get("status") == "ok" else None

    def peak_rss_bytes(self) -> int:
        """The process's high-water mark of resident memory (VmHWM), from /proc."""
        assert self.process is not None
        return _peak_rss(self.process.pid)

    def helpers_peak_rss_bytes(self) -> int:
        """The summed VmHWM of the worker's own child processes (its decode process and the
        surge detector's), while they run."""
        assert self.process is not None
        total = 0
        for pid in children(self.process.pid):
            try:
                total += _peak_rss(pid)
            except (OSError, BenchError):  # gone meanwhile
                continue
        return total

    def stop(self, timeout: float = 60) -> None:
        if self.process is not None:
            terminate(self.process, timeout)


def bench_settings(home: Path, bootstrap: str, topic: str, roster: Path | None,
                   **overrides: Any) -> Settings:
    """Settings of one benchmark worker: its own home, topic, group and web port."""
    base = Settings.from_env({}, home=home, roster=roster)
    return replace(
        base, kafka=bootstrap, events_topic=topic, alerts_topic=f"{topic}.alerts",
        consumer_group=f"bench-{topic}", worker_port=free_ports(1)[0],
        query_max_rows=20_000_000, **overrides,
    )


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise BenchError("no VmHWM in /proc: peak memory needs Linux")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc), the multiprocessing resource
    tracker included."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found
