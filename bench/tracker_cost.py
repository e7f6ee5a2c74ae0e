"""What the response tracker costs per event, on a file of events (e.g. a simulated world).

    dorpspomp simulate --out /tmp/w.jsonl --days 3
    python bench/tracker_cost.py /tmp/w.jsonl --roster /tmp/w.roster.yaml

Decodes the file as the worker would (partition from the organisation, as `dorpspomp
replay` keys it; Kafka timestamps at the events' own time, as a live stream has them),
then hands the tracker batches of `--batch` events with the partitions' clocks, the way
`pipelines.processors` does, and times only the tracker's `process` calls, in CPU time of
this process (other processes on a shared machine then cost it little). Prints µs per event
(mentions and posts) and the rows and alert states it returned; the best of `--repeat` runs
is the figure.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import datetime
from pathlib import Path

from aiokafka.partitioner import murmur2

from pipelines.decode import Mention, Post, Source, decode
from pipelines.responses import ResponseTracker
from pipelines.roster import Roster, load_roster


def load(path: Path, roster: Roster, partitions: int) -> list[Mention | Post]:
    events: list[Mention | Post] = []
    offsets = [0] * partitions
    for line in path.read_bytes().splitlines():
        event = decode(line, Source("bench", 0, 0), roster)
        if not isinstance(event, Mention | Post):
            continue
        partition = (murmur2(event.org_id.encode()) & 0x7FFFFFFF) % partitions
        event.source = Source("bench", partition, offsets[partition], event.created_at)
        offsets[partition] += 1
        events.append(event)
    return events


def run(events: list[Mention | Post], roster: Roster, batch: int) -> tuple[float, int, int]:
    tracker = ResponseTracker(roster)
    clocks: dict[int, datetime] = {}
    rows = alerts = 0
    spent = 0.0
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        for event in chunk:
            p = event.source.partition
            at = event.clock_at
            if p not in clocks or at > clocks[p]:
                clocks[p] = at
        mentions = [e for e in chunk if isinstance(e, Mention)]
        posts = [e for e in chunk if isinstance(e, Post)]
        began = time.process_time()
        out = tracker.process(mentions, posts, clocks)
        spent += time.process_time() - began
        rows += len(out.rows)
        alerts += len(out.alerts)
    return spent, rows, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--roster", type=Path)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    roster = load_roster(args.roster)
    events = load(args.events, roster, args.partitions)
    best = None
    for _ in range(args.repeat):
        gc.collect()
        spent, rows, alerts = run(events, roster, args.batch)
        best = spent if best is None else min(best, spent)
        print(f"{len(events):,} events: {spent:.2f} s CPU, "
              f"{spent / len(events) * 1e6:.1f} µs/event, "
              f"{rows:,} rows, {alerts:,} alert states")
    assert best is not None
    print(f"best: {best / len(events) * 1e6:.1f} µs/event")


if __name__ == "__main__":
    main()
