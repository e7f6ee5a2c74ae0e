"""Drive a real worker process against the real broker, as a user would.

The worker runs as `python -m pipelines.commands.cli worker` with its own home,
topic, consumer group and web port; commands run as `python -m pipelines.commands.cli
…` in subprocesses with the same environment, so every test goes through the
public commands and the public tables.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.ingest import kafkaadmin

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    home: Path
    bootstrap: str
    topic: str
    group: str
    roster: Path | None = ROOT / "examples" / "roster.yaml"
    extra_env: dict[str, str] = field(default_factory=dict)
    worker: subprocess.Popen[bytes] | None = None
    port: int = field(default_factory=free_port)
    worker_starts: int = 0
    # what runs as the worker: `dorpspomp worker`, or a test's variant of it
    worker_command: tuple[str, ...] = ("-m", "pipelines.commands.cli", "worker")

    @classmethod
    def fresh(cls, prefix: str, home: Path, bootstrap: str, **options: Any) -> Stack:
        """A stack with a topic and a consumer group of its own: `prefix` + a random id."""
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        return cls(home=home, bootstrap=bootstrap, topic=f"{name}.events",
                   group=f"{name}-worker", **options)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DORPSPOMP_")}
        env.update({
            "DORPSPOMP_HOME": str(self.home),
            "DORPSPOMP_KAFKA": self.bootstrap,
            "DORPSPOMP_EVENTS_TOPIC": self.topic,
            "DORPSPOMP_ALERTS_TOPIC": f"{self.topic}.alerts",
            "DORPSPOMP_GROUP": self.group,
            "DORPSPOMP_WORKER_PORT": str(self.port),
            "DORPSPOMP_TOPIC_PARTITIONS": "4",
            "DORPSPOMP_SESSION_TIMEOUT": "6",
            "DORPSPOMP_BATCH_SIZE": "2000",
            "DORPSPOMP_BATCH_SECONDS": "0.3",
            "PYTHONUNBUFFERED": "1",
        })
        if self.roster is not None:
            env["DORPSPOMP_ROSTER"] = str(self.roster)
        env.update(self.extra_env)
        return env

    @property
    def log(self) -> Path:
        return self.home / f"worker-{self.worker_starts}.log"

    def start_worker(self, timeout: float = 90) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.worker_starts += 1
        handle = self.log.open("wb")
        self.worker = subprocess.Popen(
            [sys.executable, *self.worker_command], env=self.env, cwd=ROOT,
            stdout=handle, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise AssertionError(f"worker exited with {self.worker.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-4000:])
            if self._healthy():
                return
            time.sleep(0.3)
        raise AssertionError("worker not ready:\n" + self.log.read_text(errors="replace")[-4000:])

    def _healthy(self) -> bool:
        try:
            info = json.loads((self.home / "worker.json").read_text())
            if self.worker is None or info["pid"] != self.worker.pid:
                return False
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return bool(json.loads(r.read())["status"] == "ok")
        except (OSError, ValueError, KeyError):
            return False

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(30)

    def stop_worker(self, timeout: float = 60) -> int:
        if self.worker is None or self.worker.poll() is not None:
            return self.worker.returncode if self.worker else 0
        self.worker.send_signal(signal.SIGTERM)
        try:
            return self.worker.wait(timeout)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait()
            raise AssertionError("the worker did not stop within "
                                 f"{timeout} s after SIGTERM") from None

    def cli(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.commands.cli", *args], env=self.env, cwd=ROOT,
            capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"dorpspomp {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def sql(self, query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(self.cli("sql", query, "--format", "json").stdout)
        return rows

    def scalar(self, query: str) -> Any:
        rows = self.sql(query)
        return next(iter(rows[0].values()))

    def end_offsets(self) -> dict[int, int]:
        return kafkaadmin.end_offsets(self.bootstrap, self.topic)

    def written_offsets(self) -> dict[int, int]:
        rows = self.sql(
            "SELECT partition, max(next_offset) AS o FROM ingest_offsets "
            f"WHERE consumer_group = '{self.group}' AND topic = '{self.topic}' GROUP BY partition")
        return {int(r["partition"]): int(r["o"]) for r in rows}

    def wait_caught_up(self, timeout: float = 180) -> None:
        """Until every message in the topic is reflected in the warehouse."""
        deadline = time.monotonic() + timeout
        ends = self.end_offsets()
        written: dict[int, int] = {}
        while time.monotonic() < deadline:
            written = self.written_offsets()
            if all(written.get(p, 0) >= end for p, end in ends.items() if end > 0):
                return
            time.sleep(0.5)
        raise AssertionError(f"worker did not catch up: end {ends}, written {written}\n"
                             + self.log.read_text(errors="replace")[-3000:])
