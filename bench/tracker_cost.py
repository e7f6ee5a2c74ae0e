"""What the response tracker costs per event, on a file of events (e.g. a simulated world).

    dorpspomp simulate --out /tmp/w.jsonl --days 3
    python bench/tracker_cost.py /tmp/w.jsonl --roster /tmp/w.roster.yaml

Decodes the file as the worker would (partition from the organisation, as `dorpspomp
replay` keys it; Kafka timestamps at the events' own time, as a live stream has them),
then hands the tracker batches of `--batch` events with the partitions' clocks, the way
`pipelines.processing.processors` does (`--per-partition`: each batch one partition's
events, as a live worker's fetches bring them), and times only the tracker's calls, in CPU time of
this process (other processes on a shared machine then cost it little). By default the
batches are Arrow tables in the warehouse's layout
(`pipelines.ingest.sink.mentions_table` / `posts_table`, made before the clock starts, as the
worker's decoder hands them over) and the call is
`process_tables`; `--objects` times `process` on the decoded objects instead (the adapter:
tables made inside the call, rows turned back into `ResponseRow`s). Prints µs per event
(mentions and posts) and the rows and alert states it returned; the best of `--repeat` runs
is the figure. `--dump FILE` writes what the first run returned, call by call (rows sorted,
alert states in order), so two versions of the tracker can be compared with `cmp`.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
from aiokafka.partitioner import murmur2

from pipelines.ingest.decode import Mention, Post, Source, decode
from pipelines.ingest.sink import mentions_table, posts_table
from pipelines.processing.alerts import Alert
from pipelines.processing.responses import ResponseTracker
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


Batch = tuple[Any, Any, dict[int, datetime]]


def batches(events: list[Mention | Post], batch: int, tables: bool,
            per_partition: bool = False) -> list[Batch]:
    """The calls' arguments: mentions, posts (lists or tables) and each partition's clock.
    `per_partition`: each call holds the next `batch` events of one partition, partitions in
    turn, as the live worker hands them over (a fetch from the broker is one partition's
    records), so a call spans `partitions` times the event time."""
    out: list[Batch] = []
    clocks: dict[int, datetime] = {}
    now = datetime.now(UTC)
    if per_partition:
        own: dict[int, list[Mention | Post]] = {}
        for event in events:
            own.setdefault(event.source.partition, []).append(event)
        longest = max(map(len, own.values()), default=0)
        chunks = [mine[start:start + batch] for start in range(0, longest, batch)
                  for _, mine in sorted(own.items()) if start < len(mine)]
    else:
        chunks = [events[start:start + batch] for start in range(0, len(events), batch)]
    for chunk in chunks:
        for event in chunk:
            p = event.source.partition
            at = event.clock_at
            if p not in clocks or at > clocks[p]:
                clocks[p] = at
        mentions = [e for e in chunk if isinstance(e, Mention)]
        posts = [e for e in chunk if isinstance(e, Post)]
        if tables:
            out.append((mentions_table(mentions, now), posts_table(posts, now), dict(clocks)))
        else:
            out.append((mentions, posts, dict(clocks)))
    return out


def run(calls: list[Batch], roster: Roster, tables: bool,
        dump: TextIO | None = None) -> tuple[float, int, int]:
    tracker = ResponseTracker(roster)
    call: Callable[..., Any] = tracker.process_tables if tables else tracker.process
    rows = alerts = 0
    spent = 0.0
    for number, (mentions, posts, clocks) in enumerate(calls):
        began = time.process_time()
        out = call(mentions, posts, clocks)
        spent += time.process_time() - began
        rows += len(out.rows)
        alerts += len(out.alerts)
        if dump is not None:
            write(dump, number, out.rows, out.alerts)
    return spent, rows, alerts


def write(dump: TextIO, number: int, rows: Any, alerts: list[Alert]) -> None:
    """One call's rows (in no particular order from the tracker: sorted here) and alert
    states (in order), one line each."""
    listed = rows.to_pylist() if isinstance(rows, pa.Table) else [asdict(r) for r in rows]
    for row in sorted(listed, key=lambda r: (r["mention_id"], repr(sorted(r.items())))):
        dump.write(f"{number} row {sorted(row.items())!r}\n")
    for alert in alerts:
        dump.write(f"{number} alert {alert!r}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--roster", type=Path)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-partition", action="store_true",
                        help="each call one partition's events, as the live worker's")
    parser.add_argument("--objects", action="store_true",
                        help="time process() on decoded objects, not process_tables()")
    parser.add_argument("--dump", type=Path,
                        help="write the first run's rows and alert states to this file")
    args = parser.parse_args()
    roster = load_roster(args.roster)
    events = load(args.events, roster, args.partitions)
    tables = not args.objects
    calls = batches(events, args.batch, tables, args.per_partition)
    count = len(events)
    if tables:
        del events  # as in the worker, the events live only as columns
    best = None
    for repeat in range(args.repeat):
        gc.collect()
        if repeat == 0 and args.dump is not None:
            with args.dump.open("w") as dump:
                spent, rows, alerts = run(calls, roster, tables, dump)
        else:
            spent, rows, alerts = run(calls, roster, tables)
        best = spent if best is None else min(best, spent)
        print(f"{count:,} events: {spent:.2f} s CPU, "
              f"{spent / count * 1e6:.1f} µs/event, "
              f"{rows:,} rows, {alerts:,} alert states")
    assert best is not None
    print(f"best: {best / count * 1e6:.1f} µs/event")


if __name__ == "__main__":
    main()
