"""The edges of the simulation: a file (`simulate_to_file`), or Kafka paced in simulated
time (`simulate_live`)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pipelines.simulate.clock import _MS_HOUR, _from_ms, _stamp, _to_ms
from pipelines.simulate.world import Surge, scale_for_events_per_day, world

# -- the edges: a file, or Kafka ------------------------------------------------------------------


@dataclass
class SimulationReport:
    """What a simulation produced: counts, ground truth and timing."""

    events: int = 0
    mentions: int = 0
    posts: int = 0
    size_bytes: int = 0
    surges: list[Surge] = field(default_factory=list)
    seconds: float = 0.0
    simulated_start: datetime | None = None
    simulated_end: datetime | None = None
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    scale: float = 1.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def count(self, line: bytes) -> None:
        self.events += 1
        self.size_bytes += len(line) + 1
        if line.startswith(b'{"type":"post"'):
            self.posts += 1
        else:
            self.mentions += 1

    def summary(self) -> str:
        span = ""
        if self.simulated_start is not None and self.simulated_end is not None:
            span = (f" covering {_stamp(_to_ms(self.simulated_start))} to "
                    f"{_stamp(_to_ms(self.simulated_end))}")
        head = "stopped: " if self.interrupted else ""
        text = (f"{head}{self.events:,} events ({self.mentions:,} mentions, {self.posts:,} posts, "
                f"{len(self.surges)} complaint surges){span} in {self.seconds:.1f} s "
                f"({self.events_per_second:,.0f} events/s)")
        if self.files:
            text += "; wrote " + ", ".join(str(p) for p in self.files)
        return text


def surges_path_for(path: Path) -> Path:
    """x.jsonl -> x.surges.jsonl; x.roster.yaml -> x.surges.jsonl."""
    name = path.name
    if name.endswith(".roster.yaml"):
        return path.with_name(name[: -len(".roster.yaml")] + ".surges.jsonl")
    return path.with_suffix(".surges.jsonl")


def simulate_to_file(out: Path, *, seed: int, orgs: int = 60, days: float = 7.0,
                     start: datetime = datetime(2026, 3, 2, tzinfo=UTC), scale: float = 1.0,
                     progress: bool = False, stream: IO[str] = sys.stderr) -> SimulationReport:
    """Write `days` of simulated events to `out` (.jsonl), the roster to
    `out.with_suffix(".roster.yaml")` and the injected surges to
    `out.with_suffix(".surges.jsonl")`. The same arguments write the same bytes."""
    if days <= 0:
        raise ValueError("--days must be positive")
    if scale <= 0:
        raise ValueError("the scale must be positive")
    start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    end = start + timedelta(days=days)
    w = world(seed, orgs)
    roster_path = out.with_suffix(".roster.yaml")
    surges_path = out.with_suffix(".surges.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = SimulationReport(simulated_start=start, simulated_end=end, scale=scale)
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=round(days * 24, 1), unit="sim-h", file=stream, mininterval=0.5,
                   desc=f"simulate {out.name}", bar_format="{l_bar}{bar}| {n:.1f}/{total} "
                   "simulated hours [{elapsed}<{remaining}{postfix}]")
    start_ms = _to_ms(start)
    shown = 0.0
    buffer: list[bytes] = []
    with out.open("wb") as f:
        for t_ms, _, _, line in w.stream(start, end=end, scale=scale,
                                         on_surge=report.surges.append):
            buffer.append(line)
            if len(buffer) >= 8192:
                f.write(b"\n".join(buffer) + b"\n")
                for written in buffer:
                    report.count(written)
                buffer.clear()
                if bar is not None:
                    hours = (t_ms - start_ms) / _MS_HOUR
                    bar.update(hours - shown)
                    bar.set_postfix_str(f"{report.events:,} events", refresh=False)
                    shown = hours
        if buffer:
            f.write(b"\n".join(buffer) + b"\n")
            for written in buffer:
                report.count(written)
    if bar is not None:
        bar.update(days * 24 - shown)
        bar.set_postfix_str(f"{report.events:,} events")
        bar.close()
    roster_path.write_text(w.roster_yaml(), encoding="utf-8")
    surges = sorted(report.surges, key=lambda s: (s.start_ms, s.org_id))
    report.surges = surges
    surges_path.write_bytes(b"".join(s.to_json() + b"\n" for s in surges))
    report.seconds = time.perf_counter() - started
    report.files = [out, roster_path, surges_path]
    return report


def simulate_live(bootstrap: str, topic: str, *, seed: int, orgs: int = 60,
                  start: datetime | None = None, rate: float | None = None,
                  speedup: float = 1.0, roster_out: Path, duration: float | None = None,
                  progress: bool = True, stream: IO[str] = sys.stderr) -> SimulationReport:
    """Send the simulated stream to `topic`, paced by simulated time, until Ctrl-C
    (or `duration` real seconds).

    Simulated time starts at `start` and runs `speedup` times as fast as the wall clock:
    an event is sent when the sped-up clock reaches its `created_at`, but never before the
    wall clock does. The worker refuses events dated more than a day ahead of their
    arrival and its clocks never run ahead of it (`pipelines.ingest.decode`), so simulated time
    stays in the past or the present: `start` may not be in the future, and by default it
    is `speedup - 1` days back (now, unsped), so that a sped-up run reaches the present
    after a real day and then goes on in real time, at 1/`speedup` of the rate. `rate` sets
    the volume: on average that many events a real second (the day's rhythm and the surges
    make it swing around that); without it the volume is the realistic one. Keys are the
    organisation (`replay.message_key`). The roster goes to `roster_out`, each surge, as it
    begins, to `surges_path_for(roster_out)`. Ctrl-C or SIGTERM (how `dorpspomp up` stops
    its children) stops it cleanly: what was sent is flushed, and the report says so.
    """
    from pipelines.commands.replay import BrokerUnavailable, make_producer, message_key

    if speedup <= 0:
        raise ValueError("--speedup must be positive")
    if rate is not None and rate <= 0:
        raise ValueError("--rate must be a positive number of events per second")
    w = world(seed, orgs)
    scale = 1.0 if rate is None else scale_for_events_per_day(w, rate / speedup * 86_400)
    present = datetime.now(UTC).replace(microsecond=0)
    if start is None:
        start = present - timedelta(days=max(0.0, speedup - 1.0))
    elif start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start > present:
        from pipelines.settings import SettingsError

        raise SettingsError(
            f"--start {start.isoformat()} is in the future; simulated time may not run ahead "
            "of the clock (the worker would refuse or hold back such events): start in the "
            "past, or leave --start out")
    roster_out.parent.mkdir(parents=True, exist_ok=True)
    roster_out.write_text(w.roster_yaml(), encoding="utf-8")
    roster = w.roster()
    surges_path = surges_path_for(roster_out)
    report = SimulationReport(simulated_start=start, scale=scale,
                              files=[roster_out, surges_path])
    producer = make_producer(bootstrap)
    failures: list[BaseException] = []
    start_ms = _to_ms(start)
    real_start = time.monotonic()
    wall_offset = time.time() - real_start  # wall clock = monotonic + this
    deadline = real_start + duration if duration is not None else None
    next_progress = real_start + 0.5
    last_t = start_ms
    behind = 0.0      # seconds the sending lags the simulated clock (the rate is too high)

    def show(now: float) -> None:
        elapsed = max(now - real_start, 1e-9)
        lag = f" · {behind:,.1f} s behind" if behind > 1 else ""
        stream.write(f"\rsimulated {_stamp(last_t)[:19]} · sent {report.events:,} "
                     f"({report.events / elapsed:,.0f}/s) · {len(report.surges)} surges{lag}  ")
        stream.flush()

    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    with surges_path.open("wb") as surges_file:
        def on_surge(surge: Surge) -> None:
            report.surges.append(surge)
            surges_file.write(surge.to_json() + b"\n")
            surges_file.flush()

        try:
            for t_ms, _, _, line in w.stream(start, scale=scale, on_surge=on_surge):
                due = max(real_start + (t_ms - start_ms) / 1000.0 / speedup,
                          t_ms / 1000.0 - wall_offset)  # never before its created_at
                while True:
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        raise _Done
                    if progress and now >= next_progress:
                        show(now)
                        next_progress = now + 0.5
                    wait = due - now
                    if wait <= 0:  # not a moment before: a tolerance here sent events early
                        behind = -wait
                        break
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    time.sleep(min(wait, 0.25))
                producer.send(topic, value=line, key=message_key(line, roster)).add_errback(
                    failures.append)
                report.count(line)
                last_t = t_ms
                if failures:
                    break
        except (_Done, KeyboardInterrupt) as stop:
            report.interrupted = isinstance(stop, KeyboardInterrupt)
        finally:
            try:
                producer.flush(timeout=60)
            finally:
                producer.close(timeout=10)
                if previous_sigterm is not None:
                    signal.signal(signal.SIGTERM, previous_sigterm)
            if progress:
                show(time.monotonic())
                stream.write("\n")
    if failures:
        raise BrokerUnavailable(f"Kafka refused an event: {failures[0]}")
    report.seconds = time.monotonic() - real_start
    report.simulated_end = _from_ms(last_t)
    return report


class _Done(Exception):
    """The live run's duration is up."""


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
