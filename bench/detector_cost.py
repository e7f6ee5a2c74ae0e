"""What the surge detector costs per mention, on a file of events (e.g. a simulated world).

    dorpspomp simulate --out /tmp/w.jsonl --orgs 60 --days 7
    python bench/detector_cost.py /tmp/w.jsonl --roster /tmp/w.roster.yaml

Decodes the file as the worker would (partition from the organisation, as `dorpspomp
replay` keys it; Kafka timestamps at the events' own time, as a live stream has them),
labels the mentions with the shipped classifier, then hands the detector batches of
`--batch` events as Arrow tables in the warehouse's layout
(`pipelines.ingest.sink.mentions_table`, made before the clock starts, as the worker's decoder
hands them over) with the partitions' clocks, the way `pipelines.processing.processors` does,
and times only `SurgeDetector.process_table`, in CPU time of this process (other processes
on a shared machine then cost it little), with the garbage collector set as in the
detector's process (`pipelines.processing.surgeprocess.collect_rarely`: what was loaded
before the clock starts is frozen out of its scans).
Prints µs per mention, the alert states and what the detector did (`SurgeDetector.work`);
the best of `--repeat` runs is the figure. `--alerts FILE` writes the alert states (JSON
lines), so that two versions of the detector can be compared on the same world.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from bench.tracker_cost import load as load_events
from pipelines.ingest.decode import Mention
from pipelines.ingest.enrich import label_mentions
from pipelines.ingest.sink import mentions_table
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import SurgeDetector
from pipelines.processing.surgeprocess import collect_rarely
from pipelines.roster import Roster, load_roster
from pipelines.textmodel.classify import load_classifier

Batch = tuple[pa.Table, dict[int, datetime]]


def load(path: Path, roster: Roster, partitions: int) -> list[Mention]:
    """The file's mentions as the worker decodes them (`bench.tracker_cost.load`: partitions
    as a replay keys them), labelled with the shipped classifier."""
    mentions = [e for e in load_events(path, roster, partitions) if isinstance(e, Mention)]
    label_mentions(mentions, load_classifier())
    return mentions


def batches(mentions: list[Mention], batch: int, one_partition: bool = False) -> list[Batch]:
    """The calls' arguments: the batch's mentions in (partition, offset) order, and each
    partition's clock. With `one_partition`, each call holds the next `batch` mentions of
    one partition, the partitions in turn, as a worker's calls can while it catches up (a
    poll of 20 000 events from one partition: days of event time)."""
    out: list[Batch] = []
    clocks: dict[int, datetime] = {}
    now = datetime.now(UTC)
    chunks: list[list[Mention]] = []
    if one_partition:
        per: dict[int, list[Mention]] = {}
        for m in mentions:
            per.setdefault(m.source.partition, []).append(m)
        for start in range(0, max(map(len, per.values()), default=0), batch):
            chunks += [rows[start:start + batch] for _, rows in sorted(per.items())
                       if rows[start:start + batch]]
    else:
        chunks = [mentions[start:start + batch] for start in range(0, len(mentions), batch)]
    for chunk in chunks:
        chunk = sorted(chunk, key=lambda m: (m.source.partition, m.source.offset))
        for m in chunk:
            p = m.source.partition
            if p not in clocks or m.clock_at > clocks[p]:
                clocks[p] = m.clock_at
        out.append((mentions_table(chunk, now), dict(clocks)))
    return out


def run(calls: list[Batch], roster: Roster) -> tuple[float, list[Alert], SurgeDetector]:
    detector = SurgeDetector(roster)
    alerts: list[Alert] = []
    spent = 0.0
    for table, clocks in calls:
        began = time.process_time()
        out = detector.process_table(table, clocks)
        spent += time.process_time() - began
        alerts += out
    return spent, alerts, detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--roster", type=Path)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--one-partition", action="store_true",
                        help="each call one partition's next --batch mentions, in turn")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--alerts", type=Path, help="write the alert states here (JSON lines)")
    args = parser.parse_args()
    roster = load_roster(args.roster)
    mentions = load(args.events, roster, args.partitions)
    count = len(mentions)
    calls = batches(mentions, args.batch, args.one_partition)
    del mentions
    collect_rarely()  # as in the detector's own process: the loaded events and the
    # classifier, which are not the detector's, frozen out of the collector's scans
    best = None
    alerts: list[Alert] = []
    for _ in range(args.repeat):
        spent, alerts, detector = run(calls, roster)
        best = spent if best is None else min(best, spent)
        print(f"{count:,} mentions: {spent:.2f} s CPU, {spent / count * 1e6:.2f} µs/mention, "
              f"{len(alerts):,} alert states; {detector.work}")
    assert best is not None
    print(f"best: {best / count * 1e6:.2f} µs/mention")
    if args.alerts:
        with args.alerts.open("w") as f:
            for alert in alerts:
                f.write(json.dumps(asdict(alert), default=str, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
