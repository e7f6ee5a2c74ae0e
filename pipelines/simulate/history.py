"""Weeks of simulated history as fast as the broker takes them, then the same world live.

`dorpspomp up --simulate` opens on a world that has lived: a dashboard needs weeks of an
organisation's past for its usual rates (surge baselines need three days, the same hour
of the week two weeks), its SLA figures, its past surges and its voices. So the
simulation starts `days` back and sends what is due — at first four weeks of it, all at
once, in batches per partition (`pipelines.ingest.kafkabatch.send_keyed`, as `dorpspomp
replay` does) — then goes on sending each event when the clock reaches its
`created_at`: one loop, "send what is due, sleep until the next", whose first turns are
the history. Simulated time never runs ahead of the clock (the worker would hold such
events back, see `pipelines.ingest.decode`).

Two complaint surges are planned on top of the random ones (`demo_surges`): one that
began a few minutes before the start, so the first look at the dashboard shows a surge
open, and one a few minutes into live time, to watch one open. One more organisation's
desk has stopped answering for a while (`demo_backlog`), so the first look also shows a
real queue past the SLA; it is worked off half an hour into live time.

What was sent is written down in a small state file (`HistoryState`), acknowledged
chunks only, so a restart on the same home does not send the history again: it goes on
from where the broker last acknowledged (a new stream from there, with its own event
ids), sending the gap since then as history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from pipelines.simulate.clock import _MS_DAY, _from_ms, _stamp
from pipelines.simulate.live import SimulationReport, surges_path_for
from pipelines.simulate.world import (
    PlannedBacklog,
    PlannedSurge,
    Surge,
    World,
    _peak_complaints_per_minute,
    world,
)

CHUNK = 20_000            # events per chunk while catching up (one batch per partition)
IN_FLIGHT = 8             # chunks handed to the producer and not yet acknowledged
LIVE_TICK = 0.5           # seconds: live events go out in batches this far apart at most
TOPIC_WAIT = 120.0        # seconds to wait for the events topic to exist


@dataclass
class HistoryState:
    """What a history-then-live run has sent, as the broker acknowledged it."""

    seed: int
    orgs: int
    scale: float
    days: float
    started_ms: int               # the first event's time of the first run on this home
    acknowledged_ms: int          # every event up to here is in Kafka
    events: int                   # acknowledged events of all runs on this home
    target_ms: int = 0            # this run catches up to here (the wall clock at its start)
    catching_up: bool = True      # still sending history, as fast as the broker takes it
    expected: int = 0             # about how many events this run's history holds
    run_events: int = 0           # acknowledged events of this run
    history_seconds: float = 0.0  # how long this run's history took to send
    history_events: int = 0       # how many events this run's history held (once sent)

    def write(self, path: Path) -> None:
        """Atomically, so a reader never sees half a file."""
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def read(cls, path: Path) -> HistoryState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def state_path_for(roster_out: Path) -> Path:
    """x.roster.yaml -> x.history.json."""
    name = roster_out.name
    stem = name[: -len(".roster.yaml")] if name.endswith(".roster.yaml") else roster_out.stem
    return roster_out.with_name(stem + ".history.json")


def demo_surges(w: World, now_ms: int, scale: float) -> tuple[PlannedSurge, ...]:
    """Two surges at the busiest organisations that answer (of two kinds): one that began
    three minutes before `now_ms` and lasts 45 minutes, one from four minutes after it for
    30 minutes. Their rate is ten times the organisation's usual peak of complaints and at
    least six a minute, well past the detector's rate, share and volume tests."""
    answering = sorted((o for o in w.orgs if o.responsiveness > 0),
                       key=lambda o: (-o.mentions_per_day, o.no))
    if not answering:
        return ()
    first = answering[0]
    second = next((o for o in answering if o.kind != first.kind), None)
    planned = [PlannedSurge(first.id, now_ms - 3 * 60_000, 45.0,
                            max(6.0, 10 * _peak_complaints_per_minute(first, scale)))]
    if second is not None:
        planned.append(PlannedSurge(second.id, now_ms + 4 * 60_000, 30.0,
                                    max(6.0, 10 * _peak_complaints_per_minute(second, scale))))
    return tuple(planned)


BACKLOG_PAST_SLA = 3 * 3600    # business seconds the oldest held mention is past its SLA
BACKLOG_AFTER = 30 * 60_000     # the desk is back this long after the start (ms)


def demo_backlog(w: World, now_ms: int, busy: Sequence[str] = ()) -> PlannedBacklog | None:
    """A desk that stopped answering: the busiest organisation that answers promptly and has
    no planned surge (`busy`) holds every answer back from the moment its SLA plus
    `BACKLOG_PAST_SLA` of its business hours before `now_ms`, until `BACKLOG_AFTER` into
    live time. So at the first look its oldest waiting mention is about three business
    hours past the SLA with a queue behind it, and a little later the queue is worked off."""
    roster = w.roster()
    calm = sorted((o for o in w.orgs if o.responsiveness > 0 and "slow to answer" not in o.traits
                   and o.id not in busy), key=lambda o: (-o.mentions_per_day, o.no))
    if not calm:
        return None
    org = calm[0]
    hours = roster.org(org.id).business_hours
    held = roster.org(org.id).first_response_sla + BACKLOG_PAST_SLA
    now = _from_ms(now_ms)
    low, high = now_ms - 28 * _MS_DAY, now_ms     # business seconds since `low` >= held
    while high - low > 1000:
        middle = (low + high) // 2
        if hours.business_seconds(_from_ms(middle), now) >= held:
            low = middle
        else:
            high = middle
    return PlannedBacklog(org.id, low, now_ms + BACKLOG_AFTER)


def plan_run(w: World, previous: HistoryState | None, *, days: float, scale: float,
             now_ms: int) -> HistoryState:
    """Where this run starts: `days` before now, or — on a home that already holds this
    world's history — right after what the broker acknowledged last time (never more than
    `days` back)."""
    earliest = now_ms - int(days * _MS_DAY)
    if (previous is not None and previous.seed == w.seed and previous.orgs == len(w.orgs)
            and previous.acknowledged_ms >= earliest):
        start = min(previous.acknowledged_ms + 1, now_ms)
        return HistoryState(seed=w.seed, orgs=len(w.orgs), scale=scale, days=days,
                            started_ms=previous.started_ms, acknowledged_ms=start - 1,
                            events=previous.events, target_ms=now_ms,
                            expected=_expected(w, scale, start, now_ms))
    return HistoryState(seed=w.seed, orgs=len(w.orgs), scale=scale, days=days,
                        started_ms=earliest, acknowledged_ms=earliest - 1, events=0,
                        target_ms=now_ms, expected=_expected(w, scale, earliest, now_ms))


def _expected(w: World, scale: float, start_ms: int, end_ms: int) -> int:
    return round(w.expected_events_per_day(scale) * max(0, end_ms - start_ms) / _MS_DAY)


@dataclass
class _Chunk:
    last_ms: int
    count: int
    deliveries: list[asyncio.Future[Any]]


class _Sender:
    """Sends what is due and keeps `state` to what the broker acknowledged."""

    def __init__(self, producer: Any, topic: str, state: HistoryState,
                 state_path: Path) -> None:
        self.producer, self.topic = producer, topic
        self.state, self.state_path = state, state_path
        self.in_flight: deque[_Chunk] = deque()
        self.written_at = 0.0

    async def send(self, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]],
                   last_ms: int) -> None:
        from pipelines.ingest.kafkabatch import send_keyed

        deliveries = await send_keyed(self.producer, self.topic, records)
        self.in_flight.append(_Chunk(last_ms, len(records), deliveries))
        while self.in_flight and (len(self.in_flight) > IN_FLIGHT
                                  or all(d.done() for d in self.in_flight[0].deliveries)):
            await self.settle()

    async def settle(self) -> None:
        chunk = self.in_flight.popleft()
        for outcome in await asyncio.gather(*chunk.deliveries, return_exceptions=True):
            if isinstance(outcome, BaseException):
                from pipelines.commands.replay import BrokerUnavailable

                raise BrokerUnavailable(f"Kafka refused simulated events: {outcome}")
        self.state.acknowledged_ms = chunk.last_ms
        self.state.events += chunk.count
        self.state.run_events += chunk.count
        now = time.monotonic()
        if now - self.written_at >= (0.5 if self.state.catching_up else 5.0):
            self.state.write(self.state_path)
            self.written_at = now

    async def drain(self) -> None:
        while self.in_flight:
            await self.settle()
        self.state.write(self.state_path)


def history_then_live(bootstrap: str, topic: str, *, seed: int = 7, orgs: int = 60,
                      days: float = 28.0, scale: float = 1.0, roster_out: Path,
                      duration: float | None = None, progress: bool = True,
                      stream: IO[str] = sys.stderr) -> SimulationReport:
    """Send `days` of history up to now as fast as the broker takes it, then go on live
    until Ctrl-C/SIGTERM (or `duration` real seconds). The roster goes to `roster_out`,
    the surges to `surges_path_for(roster_out)`, the state to `state_path_for(roster_out)`.
    """
    if days <= 0:
        raise ValueError("--history must be a positive number of days")
    if scale <= 0:
        raise ValueError("the scale must be positive")
    w = world(seed, orgs)
    roster_out.parent.mkdir(parents=True, exist_ok=True)
    roster_out.write_text(w.roster_yaml(), encoding="utf-8")
    state_path = state_path_for(roster_out)
    now_ms = int(time.time() * 1000)
    state = plan_run(w, HistoryState.read(state_path), days=days, scale=scale, now_ms=now_ms)
    state.write(state_path)
    start_ms = state.acknowledged_ms + 1
    report = SimulationReport(simulated_start=_from_ms(start_ms), scale=scale,
                              files=[roster_out, surges_path_for(roster_out), state_path])
    keys = {org.no: org.id.encode() for org in w.orgs}
    started = time.monotonic()
    if progress:
        stream.write(f"simulated history from {_stamp(start_ms)[:16]} to now: about "
                     f"{state.expected:,} events\n")
    surges_mode = "ab" if state.events else "wb"
    with surges_path_for(roster_out).open(surges_mode) as surges_file:
        def on_surge(surge: Surge) -> None:
            report.surges.append(surge)
            surges_file.write(surge.to_json() + b"\n")
            surges_file.flush()

        surges = demo_surges(w, now_ms, scale)
        backlog = demo_backlog(w, now_ms, [p.org_id for p in surges])
        events = w.stream(_from_ms(start_ms), scale=scale, on_surge=on_surge,
                          planned=surges, backlogs=() if backlog is None else (backlog,))
        interrupted = asyncio.run(_run(bootstrap, topic, events, state, state_path, report,
                                       keys, duration, progress, stream, started))
    report.interrupted = interrupted
    report.seconds = time.monotonic() - started
    report.simulated_end = _from_ms(state.acknowledged_ms)
    return report


async def _run(bootstrap: str, topic: str, events: Iterator[tuple[int, int, int, bytes]],
               state: HistoryState, state_path: Path, report: SimulationReport,
               keys: dict[int, bytes], duration: float | None, progress: bool,
               stream: IO[str], started: float) -> bool:
    """The loop: send what is due (all of the history at first), sleep until the next.
    True when stopped by Ctrl-C or SIGTERM."""
    from pipelines.commands.replay import BrokerUnavailable, _batch_producer

    producer = _batch_producer(bootstrap, 1_000_000, 60.0)
    try:
        await producer.start()
        # `dorpspomp up` starts the simulation beside the worker, which creates the topic
        # when it is not there yet: wait for it as long as a worker takes to start.
        waited = time.monotonic() + TOPIC_WAIT
        while True:
            try:
                await asyncio.wait_for(producer.partitions_for(topic), 10)
                break
            except Exception:
                if time.monotonic() >= waited:
                    raise
    except Exception as exc:
        with contextlib.suppress(Exception):
            await producer.stop()
        raise BrokerUnavailable(f"no broker with the topic {topic} at {bootstrap} after "
                                f"{TOPIC_WAIT:.0f} s ({exc!r}); start it with `dorpspomp up`, "
                                "whose worker creates the topic") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    sender = _Sender(producer, topic, state, state_path)
    deadline = started + duration if duration is not None else None
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    last_ms = state.acknowledged_ms
    next_show = 0.0
    try:
        for t_ms, no, _, line in events:
            while True:
                now = time.monotonic()
                if stop.is_set() or (deadline is not None and now >= deadline):
                    if records:
                        await sender.send(records, last_ms)
                    return stop.is_set()
                wait = t_ms / 1000.0 - time.time()
                if wait <= 0:
                    break
                # Nothing more is due: send what is, then sleep until the next one.
                if records:
                    await sender.send(records, last_ms)
                    records = []
                if state.catching_up:
                    await sender.drain()
                    state.catching_up = False
                    state.history_seconds = now - started
                    state.history_events = state.run_events
                    state.write(state_path)
                    if progress:
                        stream.write(f"\nhistory sent: {state.run_events:,} events in "
                                     f"{state.history_seconds:.1f} s; live from now on\n")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(wait, LIVE_TICK))
            records.append((keys[no], line, []))
            report.count(line)
            last_ms = t_ms
            if len(records) >= CHUNK:
                await sender.send(records, last_ms)
                records = []
            if progress and time.monotonic() >= next_show:
                next_show = time.monotonic() + 1.0
                stream.write(f"\rsimulated {_stamp(t_ms)[:16]} · sent {report.events:,} · "
                             f"acknowledged {state.run_events:,} · {len(report.surges)} surges  ")
                stream.flush()
        return False
    finally:
        try:
            await asyncio.wait_for(sender.drain(), 30)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
            if progress:
                stream.write("\n")


def describe_progress(state: HistoryState | None, stored: int | None, lag: int | None,
                      rate: float | None) -> tuple[str, bool]:
    """One line for `dorpspomp up` while the history loads, and whether it is in: every
    event of the history sent and stored by the worker (`stored`: the worker's count of
    events written since it started; `lag`: its consumer lag; `rate`: events stored a
    second, lately)."""
    if state is None:
        return "history: starting the simulation …", False
    total = state.history_events if not state.catching_up else max(state.expected,
                                                                     state.run_events)
    if not state.catching_up and ((stored is not None and stored >= state.history_events)
                                  or lag == 0):
        before = state.events - state.run_events
        if before > 0:   # a restart: only what it missed
            return (f"history loaded: {state.history_events:,} events missed since the last "
                    f"run ({before:,} sent before), sent in {state.history_seconds:.0f} s", True)
        return (f"history loaded: {state.history_events:,} events up to now, sent in "
                f"{state.history_seconds:.0f} s", True)
    sent_to = _stamp(max(state.acknowledged_ms, 0))[:16].replace("T", " ")
    stored_text = f"{stored:,}" if stored is not None else "?"
    line = (f"history: {stored_text} of {'' if not state.catching_up else 'about '}"
            f"{total:,} events stored (sent up to {sent_to} UTC)")
    if rate and stored is not None and rate > 0:
        left = max(0, total - stored) / rate
        line += f", {rate:,.0f}/s, about {left:.0f} s to go"
    return line, False
