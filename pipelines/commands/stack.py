"""`dorpspomp up`: the whole local stack in the foreground.

Starts the Kafka broker (infra/broker.py), the stream worker and — once the
dashboard package has an app — the dashboard, each as a child process with its
log under DORPSPOMP_HOME/logs. Ctrl-C (or SIGTERM) stops them in reverse order
and waits until each one is gone: nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipelines.serving.readapi import RunningWorker, running_worker, worker_health
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BROKER_SCRIPT = REPO / "infra" / "broker.py"
DASHBOARD_APP = REPO / "dashboard" / "app.py"


class StackError(RuntimeError):
    """The stack could not start; the message says what to do."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def broker_cmd(settings: Settings, command: str, *extra: str) -> list[str]:
    if not BROKER_SCRIPT.is_file():
        raise StackError(
            f"{BROKER_SCRIPT} is missing; `dorpspomp up` runs from a checkout of dorpspomp "
            "(pip install -e .). With Docker, use docker-compose instead."
        )
    return [sys.executable, str(BROKER_SCRIPT), command, "--home", str(settings.home), *extra]


def local_broker_port(settings: Settings) -> int | None:
    """The port of DORPSPOMP_KAFKA when it names this machine, else None."""
    first = settings.kafka.split(",")[0].strip()
    parsed = urlparse(f"//{first}")
    if parsed.hostname in ("localhost", "127.0.0.1", "::1") and parsed.port:
        return parsed.port
    return None


def start_broker(settings: Settings) -> bool:
    """Start the local broker; False when one of ours was already running."""
    port = local_broker_port(settings)
    if port is None or kafka_answers(settings.kafka):
        return False
    topics = (
        f"{settings.events_topic}:{settings.topic_partitions},"
        f"{settings.alerts_topic}:{max(1, settings.topic_partitions // 2)}"
    )
    result = subprocess.run(
        broker_cmd(settings, "start", "--port", str(port), "--topics", topics),
        check=False,
    )
    if result.returncode == 3:
        return False
    if result.returncode != 0:
        raise StackError("the Kafka broker did not start (see the messages above)")
    return True


def kafka_answers(bootstrap: str) -> bool:
    """True when a Kafka broker (ours or the user's own) already listens there."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        KafkaConsumer(bootstrap_servers=bootstrap.split(","), request_timeout_ms=3000,
                      bootstrap_timeout_ms=3000).close()
        return True
    except (KafkaError, ValueError, OSError):
        return False


def stop_broker(settings: Settings) -> None:
    subprocess.run(broker_cmd(settings, "stop"), check=False)


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def dashboard_address(settings: Settings, requested: str | None = None, *,
                      no_login: bool = False) -> str:
    """Where the dashboard listens: anywhere asked for with a users file (logins), this
    machine only without one, unless `no_login` says a container publishes it safely."""
    if settings.dashboard_users is not None:
        return requested or settings.dashboard_address
    if requested is None or requested in LOOPBACK or no_login:
        return requested or "127.0.0.1"
    raise StackError(
        f"without a users file the dashboard has no logins and listens on 127.0.0.1 only, "
        f"not on {requested}: create one with `dorpspomp users add NAME --agency` and set "
        "DORPSPOMP_DASHBOARD_USERS (or add --no-login inside a container whose port is "
        "published on the host's 127.0.0.1)"
    )


def dashboard_cmd(settings: Settings, address: str | None = None) -> list[str]:
    """The dashboard's command line; `address` None: `dashboard_address(settings)`."""
    if address is None:
        address = dashboard_address(settings)
    return [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.port", str(settings.dashboard_port), "--server.headless", "true",
        "--server.address", address, "--browser.gatherUsageStats", "false",
        # Agencies' staff and clients are viewers: no Deploy, Rerun or Clear cache.
        "--client.toolbarMode", "viewer",
    ]


def spawn(name: str, args: list[str], settings: Settings) -> Child:
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    handle = log.open("ab")
    env = dict(os.environ, DORPSPOMP_HOME=str(settings.home), DORPSPOMP_KAFKA=settings.kafka,
               DORPSPOMP_WAREHOUSE=settings.warehouse)
    if settings.roster is not None:
        env["DORPSPOMP_ROSTER"] = str(settings.roster)
    if settings.dashboard_users is not None:
        env["DORPSPOMP_DASHBOARD_USERS"] = str(settings.dashboard_users)
    process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    return Child(name, process, log)


def wait_for_worker(settings: Settings, child: Child, timeout: float = 120) -> RunningWorker:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise StackError(f"the worker exited (code {child.process.returncode}); "
                             f"its log: {child.log}\n{tail(child.log)}")
        worker = running_worker(settings)
        if worker is not None and worker.pid == child.process.pid and worker_health(worker):
            return worker
        time.sleep(0.5)
    raise StackError(f"the worker did not become ready within {timeout:.0f} s; see {child.log}")


def stop_child(child: Child, timeout: float = 30) -> None:
    terminate(child.process, timeout)


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class HistoryWatch:
    """Says every few seconds how far the simulated history is (sent, stored, ETA), and
    once when all of it is stored: the dashboard is then a lived-in one."""

    def __init__(self, state: Path, worker: RunningWorker, echo: Any,
                 dashboard: str | None = None) -> None:
        self.state, self.worker, self.echo, self.dashboard = state, worker, echo, dashboard
        self.began = time.monotonic()
        self.next = self.began + 2.0
        self.seen: deque[tuple[float, int]] = deque(maxlen=6)

    def look(self) -> bool:
        """True once the history is in (then it has said so)."""
        from pipelines.simulate.history import HistoryState, describe_progress

        now = time.monotonic()
        if now < self.next:
            return False
        self.next = now + 3.0
        health = worker_health(self.worker) or {}
        stored = health.get("events")
        lag = (health.get("consumer_lag") or {}).get("total")
        rate = None
        if isinstance(stored, int):
            self.seen.append((now, stored))
            if len(self.seen) >= 2 and self.seen[-1][0] > self.seen[0][0]:
                rate = (self.seen[-1][1] - self.seen[0][1]) / (self.seen[-1][0] - self.seen[0][0])
        line, done = describe_progress(HistoryState.read(self.state),
                                       stored if isinstance(stored, int) else None,
                                       lag if isinstance(lag, int) else None, rate)
        if done:
            line += f"; {now - self.began:.0f} s after the worker was ready"
            if self.dashboard is not None:
                line += f" — open {self.dashboard}"
        self.echo(line)
        return done


def up(settings: Settings, *, dashboard: bool = True, simulation: list[str] | None = None,
       history: Path | None = None, say: object = print) -> int:
    """Run broker, worker and dashboard until Ctrl-C; returns an exit code. With `history`
    (the simulation's state file, `pipelines.simulate.history`), say how the simulated
    history loads until the worker has stored all of it."""
    echo = say if callable(say) else print
    existing = running_worker(settings)
    if existing is not None:
        raise StackError(
            f"a dorpspomp worker is already running (pid {existing.pid}) for {settings.home}; "
            "stop it first, or use that stack"
        )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started_broker = False
    children: list[Child] = []
    try:
        started_broker = start_broker(settings)
        if not started_broker and local_broker_port(settings) is not None:
            echo(f"using the broker already running at {settings.kafka}")

        def simulate() -> None:
            assert simulation is not None
            sim = spawn("simulate", [sys.executable, "-m", "pipelines.commands.cli", *simulation],
                        settings)
            children.append(sim)
            echo(f"simulated organisations are talking (log: {sim.log}; "
                 f"roster: {settings.roster})")

        if simulation is not None and history is not None:
            # The history waits in Kafka while the worker starts: its sending overlaps
            # the worker's start-up instead of following it.
            simulate()
        worker = spawn("worker", [sys.executable, "-m", "pipelines.commands.cli", "worker"],
                       settings)
        children.append(worker)
        echo(f"worker starting (log: {worker.log}) …")
        ready = wait_for_worker(settings, worker)
        echo(f"worker ready at {ready.url} (pid {ready.pid})")
        board_url: str | None = None
        if dashboard and DASHBOARD_APP.is_file():
            address = dashboard_address(settings)
            board = spawn("dashboard", dashboard_cmd(settings, address), settings)
            children.append(board)
            shown = "127.0.0.1" if address in ("0.0.0.0", "::") else address
            board_url = f"http://{shown}:{settings.dashboard_port}"
            echo(f"dashboard at {board_url} (log: {board.log})")
            if settings.dashboard_users is None:
                echo("  no users file (DORPSPOMP_DASHBOARD_USERS): no logins, so the dashboard "
                     "listens on 127.0.0.1 only")
            else:
                echo(f"  logins from {settings.dashboard_users}, listening on {address}")
        if simulation is not None and history is None:
            simulate()
        echo("dorpspomp is up — replay events with `dorpspomp replay FILE.jsonl`; "
             "Ctrl-C stops everything")
        reported: set[str] = set()
        loading = (HistoryWatch(history, ready, echo, board_url) if history is not None
                   else None)
        while not stopping:
            if loading is not None and loading.look():
                loading = None
            for child in children:
                if child.process.poll() is None or child.name in reported:
                    continue
                if child.name == "worker":
                    echo(f"the worker exited (code {child.process.returncode}); stopping. "
                         f"Last lines of {child.log}:\n{tail(child.log)}")
                    return 1
                # The dashboard or the simulation: the pipeline itself goes on.
                reported.add(child.name)
                echo(f"{child.name} exited (code {child.process.returncode}); broker and "
                     f"worker keep running. Last lines of {child.log}:\n{tail(child.log)}")
            time.sleep(0.5)
        echo("stopping …")
        return 0
    finally:
        for child in reversed(children):
            stop_child(child)
        if started_broker:
            stop_broker(settings)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
