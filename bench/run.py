"""`dorpspomp bench`: every figure of the benchmark in one run, side by side.

Phases, in this order, each on its own topic and worker home under the run's work
folder, with one Kafka broker of the run's own:

1. the simulated world: `events` events of `orgs` organisations, with their ground truth,
   written to a file and sent into the topic by `dorpspomp replay` (its events/s);
2. limits: a bare aiokafka consumer and a bare faust agent read the pre-loaded topic;
3. pipeline throughput: a worker starts on the pre-loaded topic and writes it all; a
   bare clickhouse-connect Arrow insert writes the same rows again;
4. live: the world goes on at `live_rate` events/s for `live_seconds` (freshness,
   surge-alert latency), then detection quality over everything the worker saw; then a
   short burst at `burst_rate` events/s for `burst_seconds` (freshness at that rate);
5. memory: a fresh worker reads `pending` mentions nobody answers, while the warehouse of
   phases 3-4 is grown to `dashboard_mentions` mentions and phase 6 runs in a process of its
   own (none of the three figures is a time);
6. surges: complaint-surge detection on an independent world (`bench.evalsurges`,
   no services: the worker's pure steps), started with phase 5 and waited for before
   phase 7 times anything;
7. dashboard: the worker starts on the grown warehouse (a replay of the answer window: the
   grow wrote beside the stream), every dashboard query and every page is timed through its
   read-only endpoint; it restarts (a clean stop, so the processors' state file is loaded),
   then a worker of a new consumer group starts on it (both start-up times are targets).

The figures go to a JSON file (default `bench/results.json`, `--quick`:
`bench/results-quick.json`) and a table on the terminal compares them with the targets.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import evalsurges, live, memory, throughput
from bench.load import replay_file
from bench.services import ROOT, BenchError, Broker, WorkerProcess, bench_settings
from bench.surges import OpenedAlert, score
from pipelines.ingest import statefile
from pipelines.processing.escalation import SurgeDetector
from pipelines.serving.readapi import WarehouseReader
from pipelines.simulate import Surge, World, world
from pipelines.warehouse import as_utc

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
# The faust probe's rate settles within a few batches; more events only cost minutes.
FAUST_PROBE_EVENTS = 200_000


@dataclass(frozen=True)
class Plan:
    """How big each phase is."""

    events: int
    orgs: int
    live_rate: float
    live_seconds: float
    pending: int
    dashboard_mentions: int
    query_runs: int
    page_runs: int
    batch_size: int = 20_000
    # the second, short live run (freshness at the throughput target's rate)
    burst_rate: float = 50_000
    burst_seconds: float = 8

    @classmethod
    def full(cls) -> Plan:
        return cls(events=1_000_000, orgs=60, live_rate=5000, live_seconds=60,
                   pending=1_000_000, dashboard_mentions=10_000_000, query_runs=10, page_runs=10)

    @classmethod
    def quick(cls) -> Plan:
        return cls(events=50_000, orgs=10, live_rate=1000, live_seconds=8, pending=30_000,
                   dashboard_mentions=300_000, query_runs=2, page_runs=2,
                   burst_rate=10_000, burst_seconds=2)


# (figure, target, how to read it from the results, True when the target holds)
TARGETS: list[tuple[str, str, Callable[[dict[str, Any]], Any], Callable[[Any], bool]]] = [
    ("pipeline events/s", "≥ 50 000",
     lambda r: r["throughput"]["pipeline"]["events_per_second"], lambda v: v >= 50_000),
    ("replay from a file (events/s)", "≥ 100 000",
     lambda r: r["preload"]["events_per_second"], lambda v: v >= 100_000),
    ("pipeline / bare consumer", "≥ 50 %",
     lambda r: r["throughput"]["pipeline_vs_bare_consumer"], lambda v: v >= 0.5),
    ("freshness p95, org_activity_1m (s)", "≤ 1",
     lambda r: r["live"]["org_activity_1m"].get("p95"), lambda v: v <= 1),
    ("freshness p95, mention_responses (s)", "≤ 1",
     lambda r: r["live"]["mention_responses"].get("p95"), lambda v: v <= 1),
    ("surge alert latency p95 (s)", "≤ 5",
     lambda r: r["live"]["surge_alert_latency"].get("p95"), lambda v: v <= 5),
    ("burst: rate sent (events/s)", "≥ 50 000",
     lambda r: r["live_burst"]["events_per_second"], lambda v: v >= 50_000),
    ("burst: freshness p95, org_activity_1m (s)", "≤ 2",
     lambda r: r["live_burst"]["org_activity_1m"].get("p95"), lambda v: v <= 2),
    ("burst: freshness p95, mention_responses (s)", "≤ 2",
     lambda r: r["live_burst"]["mention_responses"].get("p95"), lambda v: v <= 2),
    ("surge recall", "≥ 95 %", lambda r: r["detection"]["recall"], lambda v: v >= 0.95),
    ("false alerts / org / week", "≤ 1",
     lambda r: r["detection"]["false_alerts_per_org_week"], lambda v: v <= 1),
    ("peak RSS with the pending flood (MiB)", "≤ 1024",
     lambda r: r["memory"]["peak_rss_mib"], lambda v: v <= 1024),
    ("worker restart on the grown warehouse (s)", "≤ 5",
     lambda r: r["dashboard"]["worker_restart_seconds"], lambda v: v <= 5),
    ("new consumer group on it (s)", "≤ 10",
     lambda r: r["dashboard"]["new_group_start_seconds"], lambda v: v <= 10),
    ("slowest dashboard query p95 (ms)", "≤ 300",
     lambda r: r["dashboard"]["slowest_query_p95_ms"], lambda v: v <= 300),
    ("slowest page first render (s)", "≤ 2",
     lambda r: r["dashboard"]["slowest_page_seconds"], lambda v: v <= 2),
    *evalsurges.TARGETS,
]


class PhaseClock:
    """Wall-clock seconds per phase of a run, for results.json."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def start(self, name: str) -> None:
        self.stop()
        self.current = (name, time.perf_counter())

    def stop(self) -> dict[str, float]:
        if self.current is not None:
            name, began = self.current
            self.seconds[name] = round(time.perf_counter() - began, 1)
            self.current = None
        return self.seconds


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Simulated:
    world: World
    roster: Path
    lines: list[bytes]
    surges: list[Surge]
    start: datetime
    end: datetime


def simulate(plan: Plan, seed: int, workdir: Path) -> Simulated:
    """The pre-loaded part of the world, in memory, with its roster written for the workers."""
    w = world(seed, plan.orgs)
    days = plan.events / w.expected_events_per_day()
    end = START + timedelta(days=days)
    surges: list[Surge] = []
    lines = [line for _, _, _, line in w.stream(START, end=end, on_surge=surges.append)]
    roster = workdir / "roster.yaml"
    roster.write_text(w.roster_yaml(), encoding="utf-8")
    return Simulated(w, roster, lines, surges, START, end)


def run(plan: Plan, *, seed: int, workdir: Path, out: Path, quick: bool,
        keep: bool = False, texts: Path | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {
        "command": "dorpspomp bench" + (" --quick" if quick else ""),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": asdict(plan),
        "seed": seed,
    }
    began = time.perf_counter()
    broker = Broker(workdir / "kafka")
    pre_topic, pending_topic = "bench.events", "bench.pending"
    say(f"bench: work folder {workdir}")
    workers: list[WorkerProcess] = []
    grow: subprocess.Popen[str] | None = None
    surge_eval: SurgeEval | None = None
    phases = PhaseClock()
    try:
        phases.start("world")
        say(f"[1/7] simulating {plan.events:,} events of {plan.orgs} organisations …")
        # The broker (a JVM, another process) starts while the world is simulated.
        with ThreadPoolExecutor(1, thread_name_prefix="broker-start") as starter:
            started = starter.submit(broker.start, {
                pre_topic: 6, f"{pre_topic}.alerts": 3,
                pending_topic: 6, f"{pending_topic}.alerts": 3})
            sim = simulate(plan, seed, workdir)
            started.result()
        results["world"] = {
            "events": len(sim.lines), "organisations": plan.orgs,
            "simulated_days": round((sim.end - sim.start).total_seconds() / 86400, 2),
            "surges": len(sim.surges)}
        say(f"      … sent with `dorpspomp replay` from a file of {len(sim.lines):,} lines")
        results["preload"] = replay_file(broker.bootstrap, pre_topic, sim.lines, sim.roster,
                                         workdir / "world.jsonl")
        total = sum(broker.end_offsets(pre_topic).values())

        phases.start("limits")
        say("[2/7] limits: bare aiokafka consumer, bare faust agent …")
        tp: dict[str, Any] = {"events": total}
        tp["bare_consumer"] = throughput.bare_consumer(broker, pre_topic)
        tp["faust_agent"] = throughput.bare_faust_agent(
            broker, pre_topic, min(total, FAUST_PROBE_EVENTS), plan.batch_size, workdir)

        phases.start("pipeline")
        say(f"[3/7] pipeline: a worker reads the {total:,} pre-loaded events …")
        settings = bench_settings(workdir / "pipeline", broker.bootstrap, pre_topic, sim.roster,
                                  batch_size=plan.batch_size)
        worker = WorkerProcess(settings)
        workers.append(worker)
        tp["pipeline"] = throughput.pipeline(worker, total)
        tp["pipeline_vs_bare_consumer"] = round(
            tp["pipeline"]["events_per_second"] / tp["bare_consumer"]["events_per_second"], 4)
        tp["pipeline_vs_faust_agent"] = round(
            tp["pipeline"]["events_per_second"] / tp["faust_agent"]["events_per_second"], 4)
        say("      … and a bare Arrow insert of the rows it wrote")
        bare = bench_settings(workdir / "bare-insert", broker.bootstrap, pre_topic, sim.roster,
                              batch_size=plan.batch_size)
        source = WarehouseReader(settings)
        try:
            tp["bare_insert"] = throughput.bare_insert(bare, source)
        finally:
            source.close()
        results["throughput"] = tp

        phases.start("live")
        say(f"[4/7] live: {plan.live_rate:,.0f} events/s for {plan.live_seconds:.0f} s, then "
            f"{plan.burst_rate:,.0f} events/s for {plan.burst_seconds:.0f} s …")
        planned = live.plan(sim.world, sim.end, plan.live_rate, plan.live_seconds)
        results["live"] = live.run_live(broker, worker, planned)
        live_end = sim.end + timedelta(seconds=planned.due[-1] * planned.speedup) \
            if planned.due else sim.end
        results["detection"] = detection(worker, sim, planned.surges, live_end)
        # The burst goes on from there, after detection was judged on the steady stream
        # (at the burst's rate the worker may fall behind: `caught_up_after_seconds`).
        del planned
        burst = live.plan(sim.world, live_end, plan.burst_rate, plan.burst_seconds)
        results["live_burst"] = live.run_live(broker, worker, burst)
        del burst
        worker.stop()

        # The memory phase's worker reads its flood while the pipeline's (stopped) warehouse
        # is grown for the dashboard phase: neither figure is a time, so they may share
        # the machine.
        phases.start("memory")
        say(f"[5/7] memory: a fresh worker reads {plan.pending:,} mentions nobody answers "
            f"(meanwhile the warehouse grows to {plan.dashboard_mentions:,} mentions, and "
            "phase 6 starts in a process of its own) …")
        grow = start_grow(worker, plan)
        surge_eval = SurgeEval(workdir, quick=quick, texts=texts)
        pending = WorkerProcess(bench_settings(workdir / "pending", broker.bootstrap,
                                               pending_topic, sim.roster,
                                               batch_size=plan.batch_size), name="pending")
        workers.append(pending)
        results["memory"] = memory.pending_memory(broker, pending, sim.world, plan.pending)
        pending.stop()
        shutil.rmtree(pending.settings.home / "warehouse", ignore_errors=True)

        # Nothing else may use the machine while the dashboard phase times its queries
        # and starts: the surge evaluation ends first (its time here is only the wait).
        phases.start("surges")
        say("[6/7] surges: detection on an independent world, through decode, the classifier "
            "and the detector (waiting for it) …")
        results["surge_eval"] = surge_eval.result(say)
        say(evalsurges.summary(results["surge_eval"]))

        phases.start("dashboard")
        say("[7/7] dashboard: every query and page, through the worker's endpoint …")
        results["dashboard"] = dashboard_phase(worker, plan, grow)
        worker.stop()
    except BaseException as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if grow is not None and grow.poll() is None:
            grow.kill()
            grow.wait()
        if surge_eval is not None:
            surge_eval.stop()
        for w in workers:
            w.stop()
        broker.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        # Written even when a phase failed: the figures so far, and the error.
        results["seconds"] = round(time.perf_counter() - began, 1)
        results["phase_seconds"] = phases.stop()
        results["targets"] = judged(results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return results


def detection(worker: WorkerProcess, sim: Simulated, live_surges: list[Surge],
              end: datetime) -> dict[str, Any]:
    """Surge alerts in the warehouse against the ground truth of everything sent."""
    reader = WarehouseReader(worker.settings)
    try:
        rows = reader.query(
            "SELECT org_id, opened_at FROM alerts WHERE kind = 'complaint_surge'"
        ).to_pylist()
    finally:
        reader.close()
    alerts = [OpenedAlert(r["org_id"], as_utc(r["opened_at"])) for r in rows]
    detector = SurgeDetector(sim.world.roster())
    warmup = timedelta(seconds=max(detector.settings(o.id).warmup for o in sim.world.orgs))
    return score([*sim.surges, *live_surges], alerts, organisations=len(sim.world.orgs),
                 start=sim.start, end=end, eligible_from=sim.start + warmup)


def start_grow(worker: WorkerProcess, plan: Plan) -> subprocess.Popen[str]:
    """Grow the pipeline's warehouse in a process of its own (chDB has one owner per
    folder; the worker must be stopped). The copies are written beside the stream, so the
    processors' state the stopped worker kept (`pipelines.ingest.statefile`) does not hold
    them: it goes, and the next start replays."""
    (worker.settings.home / statefile.FILE_NAME).unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "bench.dashboard", "grow",
         "--warehouse", worker.settings.warehouse, "--mentions", str(plan.dashboard_mentions)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class SurgeEval:
    """Phase 6 in a process of its own (`python -m bench.evalsurges`), so that it runs
    beside phase 5: it uses no service, and none of its figures is a time."""

    def __init__(self, workdir: Path, *, quick: bool, texts: Path | None) -> None:
        self.out = workdir / "surge-eval.json"
        command = [sys.executable, "-m", "bench.evalsurges", "--out", str(self.out)]
        if quick:
            command.append("--quick")
        if texts is not None:
            command += ["--texts", str(texts)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)

    def result(self, say: Callable[[str], None]) -> dict[str, Any]:
        """Its figures, once it has ended; its notes (which texts it used) go to `say`."""
        _, err = self.process.communicate()
        if self.process.returncode != 0:
            raise BenchError(f"the surge evaluation (python -m bench.evalsurges) failed:\n"
                             f"{err[-3000:]}")
        for line in err.splitlines():
            say(line)
        figures: dict[str, Any] = json.loads(self.out.read_text(encoding="utf-8"))
        return figures

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def dashboard_phase(worker: WorkerProcess, plan: Plan,
                    grow: subprocess.Popen[str]) -> dict[str, Any]:
    """Once grown, restart the worker on the warehouse and time the dashboard's queries
    and pages through its read-only endpoint."""
    from bench import dashboard

    out, err = grow.communicate()
    if grow.returncode != 0:
        raise BenchError(f"growing the warehouse failed:\n{err[-3000:]}")
    report: dict[str, Any] = {"grow": json.loads(out.strip().splitlines()[-1])}
    # The first start after the grow replays the answer window (no state file: `start_grow`)
    worker.start()
    report["start_after_grow_seconds"] = round(worker.ready - worker.started, 2)
    report["start_after_grow_steps"] = restore_steps(worker)
    data = dashboard.dashboard_data(worker.settings)
    report["pages"] = dashboard.time_pages(data, runs=plan.page_runs)
    report["queries"] = dashboard.time_queries(data, runs=plan.query_runs)
    report["slowest_query_p95_ms"] = max(q["p95_ms"] for q in report["queries"].values())
    report["slowest_page_seconds"] = max(p["max_seconds"] for p in report["pages"].values())
    # A restart: the clean stop keeps the processors' state, the start loads it.
    worker.stop()
    worker.start()
    report["worker_restart_seconds"] = round(worker.ready - worker.started, 2)
    report["worker_restart_steps"] = restore_steps(worker)
    # A consumer group new to the grown warehouse: it must not replay the history.
    worker.stop()
    settings = worker.settings
    fresh = WorkerProcess(replace(settings, consumer_group=f"{settings.consumer_group}-new"),
                          name="new-group")
    try:
        fresh.start()
        report["new_group_start_seconds"] = round(fresh.ready - fresh.started, 2)
        report["new_group_start_steps"] = restore_steps(fresh)
    finally:
        fresh.stop()
    return report


def restore_steps(worker: WorkerProcess) -> str | None:
    """The seconds of each step of the worker's last restore, from its log (the processors
    write them there: `StreamProcessors.restore`)."""
    marker = "restore steps: "
    lines = [line for line in worker.log.read_text(errors="replace").splitlines()
             if marker in line]
    return lines[-1].split(marker, 1)[1] if lines else None


def judged(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, target, read, holds in TARGETS:
        try:
            value = read(results)
        except (KeyError, TypeError):
            value = None
        out.append({"figure": name, "target": target, "measured": value,
                    "met": None if value is None else bool(holds(value))})
    return out


def table(results: dict[str, Any]) -> str:
    rows = [("figure", "target", "measured", "")]
    for t in results["targets"]:
        value = t["measured"]
        shown = "–" if value is None else (f"{value:.1%}" if isinstance(value, float)
                                            and value <= 1 and "%" in t["target"]
                                            else f"{value:,}")
        mark = {True: "met", False: "MISSED", None: "no figure"}[t["met"]]
        rows.append((t["figure"], t["target"], shown, mark))
    tp = results.get("throughput", {})
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if tp:
        lines.append("")
        lines.append(
            f"limits: bare aiokafka consumer {tp['bare_consumer']['events_per_second']:,} ev/s, "
            f"bare faust agent {tp['faust_agent']['events_per_second']:,} ev/s, "
            f"bare Arrow insert {tp['bare_insert']['rows_per_second']:,} rows/s")
    lines.append(f"whole run: {run_time(results)}; figures in {results.get('out', '')}")
    return "\n".join(lines)


def run_time(results: dict[str, Any]) -> str:
    """"812 s (world 45, limits 38, …)": the whole run and its phases."""
    phases = results.get("phase_seconds") or {}
    parts = ", ".join(f"{name} {seconds:.0f}" for name, seconds in phases.items())
    return f"{results['seconds']:.0f} s" + (f" ({parts})" if parts else "")


README_BEGIN = ("<!-- bench:begin (rendered from bench/results.json by "
                "`python -m bench.run --readme`) -->")
README_END = "<!-- bench:end -->"


def markdown(results: dict[str, Any]) -> str:
    """The README's table of the latest figures against the targets."""
    when = results["started_at"][:10]
    m = results["machine"]
    lines = [
        README_BEGIN,
        f"Measured {when} with `{results['command']}` on {m['cores']} cores / "
        f"{m['memory_gib']} GiB, Python {m['python']}; whole run {run_time(results)}.",
        "",
        "| figure | target | measured | |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        value = t["measured"]
        if value is None:
            shown = "–"
        elif "%" in t["target"] and isinstance(value, float) and value <= 1:
            shown = f"{value:.1%}"
        else:
            shown = f"{value:,}"
        mark = {True: "met", False: "**missed**", None: "no figure"}[t["met"]]
        lines.append(f"| {t['figure']} | {t['target']} | {shown} | {mark} |")
    tp = results.get("throughput")
    if tp:
        lines += [
            "",
            f"Limits on the same {tp['events']:,} events: bare aiokafka consumer "
            f"{tp['bare_consumer']['events_per_second']:,} events/s, bare faust agent "
            f"{tp['faust_agent']['events_per_second']:,} events/s, bare Arrow insert "
            f"{tp['bare_insert']['rows_per_second']:,} rows/s.",
        ]
    mem = results.get("memory")
    if mem and mem.get("helper_processes_peak_rss_mib") is not None:
        lines += ["", f"Beside the worker's peak RSS, its decode and surge-detector processes "
                      f"peaked at {mem['helper_processes_peak_rss_mib']:,} MiB together."]
    surges = results.get("surge_eval")
    if surges:
        lines += ["", evalsurges.markdown(surges)]
    lines.append(README_END)
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    try:
        memory_kib = next(int(line.split()[1]) for line in
                          Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        memory_kib = 0
    return {"cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": os.getloadavg()}


def main(quick: bool = False, out: Path | None = None, seed: int = 7,
         workdir: Path | None = None, keep: bool = False, texts: Path | None = None) -> int:
    plan = Plan.quick() if quick else Plan.full()
    out = out or ROOT / "bench" / ("results-quick.json" if quick else "results.json")
    # Ctrl-C or a kill must still stop the run's broker and workers (they run in
    # sessions of their own) and write the figures so far: both end in `finally`.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    base = workdir or Path(tempfile.mkdtemp(prefix="dorpspomp-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        results = run(plan, seed=seed, workdir=base, out=out, quick=quick, keep=keep,
                      texts=evalsurges.texts_dir(texts))
    except BenchError as exc:
        say(f"bench: {exc}")
        return 1
    results["out"] = str(out)
    print(table(results))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")



if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        print(markdown(json.loads((ROOT / "bench" / "results.json").read_text())))
    else:
        sys.exit("usage: python -m bench.run --readme  (the benchmark itself: "
                 "dorpspomp bench)")
