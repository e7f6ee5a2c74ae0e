"""Bench phase: complaint-surge detection graded on a world it was not tuned on.

`pipelines.evalworld` builds the world (its own rhythms, real labelled posts as texts,
storms of five shapes and bursts of praise and questions); this phase sends every event
through the worker's own pure steps in (partition, offset) order, as the worker would
read them from a topic of `PARTITIONS` partitions keyed by organisation: `decode`, the
classifier's batch call (`label_mentions` with `load_classifier()`), and the surge
detector with each partition's clock (as `StreamProcessors.advance_clocks` moves it).
No broker and no warehouse: the detector's results are a function of that order alone
(`tests/integration/test_surge.py` holds the same path through the real stack), and the
phase takes seconds instead of the minutes a replay would. Its figures go to
`surge_eval` in the results and to the targets below.

Self-contained on purpose (the benchmark may move out of `pipelines/`): it needs only the
world, the pipeline's pure steps and a folder of labelled texts (`--texts DIR`, or
`DORPSPOMP_EVAL_TEXTS`; without them the team-written fallback, said in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.evalworld import score as grading
from pipelines.evalworld.texts import describe, load_pools
from pipelines.evalworld.world import Plan, World, build
from pipelines.ingest.decode import Mention, Source, decode
from pipelines.ingest.enrich import label_mentions
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import SurgeDetector
from pipelines.roster import Roster, parse_roster
from pipelines.textmodel.classify import TextClassifier, load_classifier

PARTITIONS = 6
BATCH = 5000
TOPIC = "evalworld.events"
TEXTS_ENV = "DORPSPOMP_EVAL_TEXTS"
SEED = 11

# (figure, target, how to read it from the results, True when the target holds)
TARGETS: list[tuple[str, str, Callable[[dict[str, Any]], Any], Callable[[Any], bool]]] = [
    ("independent world: surge recall", "≥ 95 %",
     lambda r: r["surge_eval"]["recall"], lambda v: v >= 0.95),
    ("independent world: lowest recall of a shape", "≥ 90 %",
     lambda r: r["surge_eval"]["lowest_shape_recall"], lambda v: v >= 0.9),
    ("independent world: median detection delay (min)", "≤ 5",
     lambda r: r["surge_eval"]["median_delay_minutes"], lambda v: v <= 5),
    ("independent world: false alerts / org / week", "≤ 0.5",
     lambda r: r["surge_eval"]["false_alerts_per_org_week"], lambda v: v <= 0.5),
    ("independent world: praise bursts alerted, per 16", "≤ 1",
     lambda r: round(16 * r["surge_eval"]["praise_bursts_alerted"]
                     / r["surge_eval"]["shapes"]["praise"]["episodes"], 2), lambda v: v <= 1),
]


def partition_of(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % PARTITIONS


def detect(events: Iterable[tuple[str, int, bytes]], roster: Roster,
           classifier: TextClassifier, *, batch: int = BATCH
           ) -> tuple[list[Alert], SurgeDetector, dict[str, float]]:
    """Run (partition key, created_at in ms, JSON line) events, in time order, through
    decode, the classifier and the surge detector; return every alert state."""
    detector = SurgeDetector(roster)
    offsets = [0] * PARTITIONS
    clocks: dict[int, datetime] = {}
    alerts: list[Alert] = []
    seconds = {"decode": 0.0, "classify": 0.0, "detect": 0.0}
    mentions = 0
    for chunk in _chunks(events, batch):
        began = time.perf_counter()
        decoded: list[Mention] = []
        for key, created_ms, line in chunk:
            partition = partition_of(key)
            received = datetime.fromtimestamp(created_ms / 1000 + 1, UTC)
            item = decode(line, Source(TOPIC, partition, offsets[partition], received), roster)
            offsets[partition] += 1
            if isinstance(item, Mention):
                decoded.append(item)
        decoded.sort(key=lambda m: (m.source.partition, m.source.offset))
        labelled = time.perf_counter()
        label_mentions(decoded, classifier)
        detecting = time.perf_counter()
        for m in decoded:
            at = m.clock_at
            if m.source.partition not in clocks or at > clocks[m.source.partition]:
                clocks[m.source.partition] = at
        alerts += detector.process(decoded, dict(clocks))
        done = time.perf_counter()
        seconds["decode"] += labelled - began
        seconds["classify"] += detecting - labelled
        seconds["detect"] += done - detecting
        mentions += len(decoded)
    seconds["mentions"] = mentions
    return alerts, detector, seconds


def _chunks(events: Iterable[tuple[str, int, bytes]], size: int
            ) -> Iterator[list[tuple[str, int, bytes]]]:
    chunk: list[tuple[str, int, bytes]] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def world_events(world: World) -> Iterator[tuple[str, int, bytes]]:
    created = world.columns["created_ms"]
    for i, (org, line) in enumerate(world.lines()):
        yield world.orgs[org].id, int(created[i]), line


def run(*, quick: bool, texts: Path | None, seed: int = SEED,
        say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Build the world, detect, grade: the phase's figures."""
    began = time.perf_counter()
    pools = load_pools(texts)
    say("      " + describe(pools))
    plan = Plan.quick() if quick else Plan.full()
    world = build(seed, plan, pools)
    built = time.perf_counter()
    roster = parse_roster(world.roster())
    alerts, detector, seconds = detect(world_events(world), roster, load_classifier())
    opened = [grading.Opened(a.org_id, a.opened_at,
                             tuple(t["term"] for t in a.details.get("terms", ())), a.summary)
              for a in alerts if a.version == 1]
    warmup = max(detector.settings(o.id).warmup for o in world.orgs)
    results = grading.score(world.episodes, opened, organisations=[o.id for o in world.orgs],
                            eligible_from=world.start + timedelta(seconds=warmup),
                            end=world.end)
    shown = [a for a in alerts if a.version == 1 and a.details.get("terms")][:3]
    results.update({
        "world": {"seed": seed, "days": plan.days, "organisations": len(world.orgs),
                  "events": world.events, "quiet": plan.quiet, "medium": plan.medium,
                  "busy": plan.busy, "episodes": plan.episodes,
                  "start": world.start.isoformat(), "end": world.end.isoformat()},
        "texts": {"source": pools.source, "where": pools.where, "note": pools.note,
                  "pools": pools.sizes()},
        "alert_states": len(alerts),
        "examples": [a.summary for a in shown],
        "seconds": {"world": round(built - began, 1),
                    **{k: round(v, 1) for k, v in seconds.items() if k != "mentions"},
                    "total": round(time.perf_counter() - began, 1)},
        "detector_work": vars(detector.work),
        "command": "dorpspomp bench" + (" --quick" if quick else "")
                   + (f" --texts {texts}" if texts else ""),
    })
    return results


def tune_on_simulate(*, days: float, orgs: int = 60, seed: int = 7) -> dict[str, Any]:
    """The same path on `dorpspomp simulate`'s world, graded with its own ground truth
    (`bench.surges.score`) plus detection delays: the world the detector's
    defaults are tuned on. Posts are left out (the detector reads mentions only)."""
    from bench.surges import OpenedAlert
    from bench.surges import score as simulated_score
    from pipelines.simulate import Surge as SimulatedSurge
    from pipelines.simulate import world as simulated_world

    start = datetime(2026, 3, 2, tzinfo=UTC)
    w = simulated_world(seed, orgs)
    end = start + timedelta(days=days)
    truth: list[SimulatedSurge] = []
    keys = [o.id for o in w.orgs]
    events = ((keys[org], ms, line) for ms, org, _, line in
              w.stream(start, end=end, on_surge=truth.append) if line.startswith(
                  b'{"type":"mention"'))
    roster = w.roster()
    alerts, detector, seconds = detect(events, roster, load_classifier())
    opened = [a for a in alerts if a.version == 1]
    warmup = timedelta(seconds=max(detector.settings(o.id).warmup for o in w.orgs))
    graded = simulated_score(truth, [OpenedAlert(a.org_id, a.opened_at) for a in opened],
                             organisations=len(w.orgs), start=start, end=end,
                             eligible_from=start + warmup)
    delays = []
    for surge in truth:
        if surge.start < start + warmup:
            continue
        hits = [a.opened_at for a in opened if a.org_id == surge.org_id
                and surge.start <= a.opened_at <= surge.end + timedelta(minutes=10)]
        if hits:
            delays.append((min(hits) - surge.start).total_seconds() / 60)
    graded["delay_minutes"] = grading.percentiles(delays)
    graded["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    return graded


def summary(r: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    delays = r["delay_minutes"]
    shapes = ", ".join(f"{k} {v['alerted']}/{v['episodes']}" for k, v in r["shapes"].items())
    return (f"      recall {r['detected']}/{r['storms']} ({shapes}); delay p50 "
            f"{delays.get('p50')} min, p90 {delays.get('p90')}; false alerts "
            f"{r['false_alerts']} in {r['organisation_weeks']} org-weeks; praise bursts "
            f"alerted {r['praise_bursts']}; texts: {r['texts']['source']}")


def markdown(r: dict[str, Any]) -> str:
    """The README's lines under the table: the phase's figures per shape."""
    w = r["world"]
    rows = [
        f"Surge detection on the independent world (`{r['command']}`; {w['organisations']} "
        f"organisations, {w['days']} days, {w['events']:,} mentions; texts: "
        f"{r['texts']['source']}):",
        "",
        "| shape | found | delay p50 (min) | delay p90 (min) |",
        "|---|---|---|---|",
    ]
    for shape, v in r["shapes"].items():
        delays = v.get("delay_minutes", {})
        found = f"{v['alerted']} of {v['episodes']}"
        if "recall" not in v:
            rows.append(f"| {shape} burst (must stay quiet) | alerted {found} | | |")
        else:
            rows.append(f"| {shape} | {found} | {delays.get('p50', '–')} | "
                        f"{delays.get('p90', '–')} |")
    rows += ["", f"False alerts: {r['false_alerts']} in {r['organisation_weeks']} "
                 f"organisation-weeks; alerts while a new level lasted, after the first: "
                 f"{r['level_realerts']}; the storm's hashtag among the alert's terms: "
                 f"{r['explained']['hashtag_among_terms']} of "
                 f"{r['explained']['storms_with_hashtag']}."]
    return "\n".join(rows)


def texts_dir(option: Path | None) -> Path | None:
    """`--texts DIR`, else `DORPSPOMP_EVAL_TEXTS`, else none (the fallback texts)."""
    if option is not None:
        return option
    env = os.environ.get(TEXTS_ENV)
    return Path(env) if env else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.evalsurges",
        description="Only the benchmark's surge phase: the independent evaluation world "
                    "through decode, the classifier and the surge detector.")
    parser.add_argument("--quick", action="store_true", help="the small world CI runs")
    parser.add_argument("--texts", type=Path, default=None,
                        help=f"folder of the labelled sets (default ${TEXTS_ENV}; without "
                             "it the team-written fallback)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--simulate-days", type=float, default=None, metavar="DAYS",
                        help="instead: DAYS of `dorpspomp simulate`'s world (seed 7, 60 "
                             "organisations), the world the defaults were tuned on")
    args = parser.parse_args(argv)
    if args.simulate_days:
        tuned = tune_on_simulate(days=args.simulate_days)
        missed = tuned.pop("missed")
        print(json.dumps(tuned, indent=2, default=str))
        print(f"missed: {json.dumps(missed, default=str)}")
        return 0
    results = run(quick=args.quick, texts=texts_dir(args.texts), seed=args.seed,
                  say=lambda s: print(s, file=sys.stderr))
    print(summary(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
