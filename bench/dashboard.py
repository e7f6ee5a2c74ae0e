"""Dashboard speed on a big warehouse: grow it, then time every query and every page.

`grow` turns the warehouse the pipeline wrote (a few weeks of a simulated world) into
years of history: it copies the original rows of the tables behind the public ones, each
copy shifted back in time by a whole number of the data's spans (whole weeks, so weekdays
and hours stay) and with its ids suffixed (`event_id~3`, and every reference to an id the
same way, so a copied reply answers its copied mention), until `mentions` holds the asked
number of rows. The newest data and the watermark stay as they were, so the dashboard's
"now" does not move; per organisation, the mix of mentions, complaints, answers and
alerts stays the mix the simulator made. The copies are made inside ClickHouse
(`INSERT … SELECT`), in a process of its own, while no worker owns the warehouse:

    python -m bench.dashboard grow --warehouse DSN --mentions N

Then the copied months of the tables read with FINAL are merged (`OPTIMIZE … FINAL` per
partition), as a warehouse that has run for years has long merged its old months; the
partitions that hold the pipeline's own rows are left as the worker wrote them.

`time_queries` runs every statement of `dashboard.queries.ALL_QUERIES` through the
`DashboardData` calls the pages make, with the pages' default parameters (the biggest
client, the default ranges, "now" = the watermark), through whatever reader the
`DashboardData` holds: in the benchmark the worker's read-only `/query` endpoint, as in
the dashboard. `time_pages` renders each page with Streamlit's AppTest (first render of
a new browser session) through the same reader.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench.stats import summary
from dashboard import queries
from dashboard.data import DashboardData, dashboard_reader
from dashboard.figures import window_until
from dashboard.session import READER_KEY, ROSTER_KEY, SCOPE_KEY
from pipelines.roster import Roster, load_roster
from pipelines.settings import Settings
from schemas.tables import ALERTS_STATE, MENTION_RESPONSES_STATE, MENTIONS, POSTS, Table

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = ("clients", "client", "alerts", "sql")

# The pages' defaults (dashboard/pages/client.py and alerts.py).
CLIENT_RANGE = timedelta(days=7)
CLIENT_ALERT_LIMIT = 5000
ALERTS_RANGE = timedelta(days=30)
LISTED_ALERTS = 1000
SAMPLED_ALERTS = 20


@dataclass(frozen=True)
class Grown:
    """A table `grow` copies: the columns that hold ids (suffixed per copy) and the time
    column that tells the pipeline's own rows from the copies (all copies are older)."""

    table: Table
    ids: tuple[str, ...]
    time: str


GROWN: tuple[Grown, ...] = (
    Grown(MENTIONS, ("event_id", "in_reply_to", "shared_from"), "created_at"),
    Grown(POSTS, ("event_id", "in_reply_to"), "created_at"),
    Grown(MENTION_RESPONSES_STATE, ("mention_id", "first_response_id"), "created_at"),
    Grown(ALERTS_STATE, ("alert_id", "sample_event_ids"), "updated_at"),
)
# The tables the public views read with FINAL (migration 0003), filled from the grown ones
# by materialized views, so not copied themselves; name -> a time column.
FINAL_READ = {"mention_responses_by_time": "created_at", "alerts_by_time": "updated_at"}
WEEK = 7 * 86_400


def copy_span(first: int, last: int) -> int:
    """Seconds each copy moves back: the data's span (unix seconds `first`..`last`, both
    included) rounded up to whole weeks, so a copy keeps weekdays and hours and never
    overlaps the rows it was copied from."""
    return max(1, math.ceil((last - first + 1) / WEEK)) * WEEK


def copies_needed(have: int, want: int) -> int:
    """How many copies of `have` mentions make at least `want` in all (0 when there are)."""
    if have <= 0:
        raise ValueError("nothing to copy")
    return max(0, math.ceil(want / have) - 1)


def copy_select(grown: Grown, database: str, since: str, shift_seconds: int, copy: int) -> str:
    """The INSERT … SELECT adding copy number `copy` of the rows at or after `since` (the
    pipeline's own), `copy × shift_seconds` older, with ids suffixed `~copy`."""
    suffix = f"'~{copy}'"
    shift = copy * shift_seconds
    table = grown.table
    exprs = []
    for column in table.columns:
        name = f"`{column.name}`"
        if column.name in grown.ids and column.type.startswith("Array"):
            expr = f"arrayMap(x -> concat(x, {suffix}), {name})"
        elif column.name in grown.ids:
            expr = f"if(empty(ifNull({name}, '')), {name}, concat({name}, {suffix}))"
        elif "DateTime64" in column.type:
            expr = f"{name} - toIntervalSecond({shift})"
        else:
            expr = name
        exprs.append(expr)  # no aliases: an alias would shadow the column in WHERE
    return (f"INSERT INTO `{database}`.`{table.name}` ({', '.join(table.names)}) "
            f"SELECT {', '.join(exprs)} FROM `{database}`.`{table.name}` "
            f"WHERE `{grown.time}` >= toDateTime64('{since}', 3, 'UTC')")


def grow(dsn: str, mentions: int, database: str = "dorpspomp", *,
         optimize: bool = True) -> dict[str, Any]:
    """Copy the warehouse's rows back in time until `mentions` holds at least `mentions`
    rows; then (with `optimize`) merge the copied months. Returns what it did."""
    from tqdm import tqdm

    from pipelines.warehouse import Warehouse

    settings = Settings.from_env({}, warehouse=dsn, database=database)
    warehouse = Warehouse(settings)
    try:
        client = warehouse.client
        db = settings.database_name

        def row(sql: str) -> tuple[Any, ...]:
            return tuple(client.query(sql).result_rows[0])

        have = int(row(f"SELECT count() FROM `{db}`.mentions")[0])
        if have == 0:
            raise SystemExit("grow: the warehouse holds no mentions to copy")
        copies = copies_needed(have, mentions)
        # Each table's own first instant marks its original rows; the span covers them all.
        bounds = {g.table.name: row(
            f"SELECT toUnixTimestamp(min(`{g.time}`)), toUnixTimestamp(max(`{g.time}`)), "
            f"toString(min(`{g.time}`)), count() FROM `{db}`.`{g.table.name}`")
            for g in GROWN}
        first = min(int(b[0]) for b in bounds.values() if b[3])
        last = max(int(b[1]) for b in bounds.values() if b[3])
        span = copy_span(first, last)
        started = time.perf_counter()
        with tqdm(total=copies * have, desc="grow the warehouse", unit="mention",
                  unit_scale=True, file=sys.stderr) as bar:
            for copy in range(1, copies + 1):
                for g in GROWN:
                    if bounds[g.table.name][3]:
                        client.command(copy_select(g, db, bounds[g.table.name][2], span, copy))
                bar.update(have)
        copied_seconds = time.perf_counter() - started
        merged = merge_copies(client, db, first) if optimize and copies else 0
        counts = {g.table.name: int(row(f"SELECT count() FROM `{db}`.`{g.table.name}`")[0])
                  for g in GROWN}
        return {"copies": copies, "shift_days": span // 86_400, "rows": counts,
                "merged_partitions": merged, "copy_seconds": round(copied_seconds, 1),
                "seconds": round(time.perf_counter() - started, 1)}
    finally:
        warehouse.close()


def merge_copies(client: Any, db: str, first: int) -> int:
    """Merge each partition of the tables the public views read with FINAL that holds only
    copies into one part, as years of background merges would have (FINAL reads of merged
    months need no merging); partitions with the pipeline's own rows stay as written.
    `mentions` and `posts` are read without FINAL and stay as inserted. Returns how many
    partitions were merged."""
    from tqdm import tqdm

    present = {name for (name,) in client.query(
        f"SELECT name FROM system.tables WHERE database = '{db}'").result_rows}
    tables = {t: c for t, c in FINAL_READ.items() if t in present}
    if not tables:  # a warehouse from before the *_by_time tables: the views read the states
        tables = {MENTION_RESPONSES_STATE.name: "created_at", ALERTS_STATE.name: "updated_at"}
    todo = []
    for table, column in tables.items():
        newest = client.query(
            f"SELECT _partition_id, toUnixTimestamp(max(`{column}`)) "
            f"FROM `{db}`.`{table}` GROUP BY _partition_id ORDER BY _partition_id"
        ).result_rows
        for partition_id, last in newest:
            if partition_id == "all" or int(last) < first:
                todo.append((table, str(partition_id)))
    for table, partition_id in tqdm(todo, desc="merge the copied months", unit="partition",
                                    file=sys.stderr):
        client.command(f"OPTIMIZE TABLE `{db}`.`{table}` PARTITION ID '{partition_id}' FINAL")
    return len(todo)


# -- timing the queries --------------------------------------------------------------


@dataclass
class TimingReader:
    """A reader that records how long each named statement took and how many rows it gave."""

    inner: Any
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(
        default_factory=lambda: {q.sql: q.name for q in queries.ALL_QUERIES})

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *,
              max_rows: int | None = None) -> pa.Table:
        started = time.perf_counter()
        result = self.inner.query(sql, parameters, max_rows=max_rows)
        name = self.names.get(sql, "ad hoc")
        self.timings[name].append((time.perf_counter() - started) * 1000)
        self.rows.setdefault(name, result.num_rows)  # the first: the page's own call
        return result

    def clear(self) -> None:
        self.timings.clear()
        self.rows.clear()


def dashboard_data(settings: Settings) -> DashboardData:
    """The data layer as a dashboard session builds it (dashboard/session.py): the app's
    reader (through the worker in embedded mode), the roster, the worker's lateness."""
    roster = load_roster(settings.roster) if settings.roster else Roster.empty()
    return DashboardData(dashboard_reader(settings), roster, lateness_seconds=settings.lateness)


def _timed(data: DashboardData) -> tuple[DashboardData, TimingReader]:
    if isinstance(data.reader, TimingReader):
        return data, data.reader
    timer = TimingReader(data.reader)
    return DashboardData(timer, data.roster, data.scope,
                         lateness_seconds=data.lateness_seconds), timer


def biggest_client(data: DashboardData) -> str:
    """The organisation with the most mentions (the heaviest One client page)."""
    table = data.reader.query(
        "SELECT org_id FROM mentions GROUP BY org_id ORDER BY count() DESC, org_id LIMIT 1")
    if table.num_rows == 0:
        raise RuntimeError("the warehouse holds no mentions")
    return str(table.column("org_id")[0].as_py())


def page_calls(data: DashboardData, org_id: str, now: datetime) -> list[Callable[[], Any]]:
    """The `DashboardData` calls the pages make on their first render, with the pages'
    default parameters; together they run every statement of `ALL_QUERIES` once."""
    window = window_until(now, CLIENT_RANGE)
    alerts_start, alerts_end = now - ALERTS_RANGE, now + timedelta(milliseconds=1)

    def alert_samples() -> Any:
        listed = data.alerts(alerts_start, alerts_end, limit=SAMPLED_ALERTS)
        ids = list(listed["alert_id"]) if listed.height else ["none"]
        return data.alert_samples(ids)

    return [
        data.clock,
        data.orgs,
        lambda: data.clients_overview(data.clock()),
        lambda: data.client_span(org_id),
        lambda: data.client_activity(org_id, window),
        lambda: data.client_alerts(org_id, window, limit=CLIENT_ALERT_LIMIT),
        lambda: data.client_response_summary(org_id, window),
        lambda: data.client_response_histogram(org_id, window),
        lambda: data.client_response_heatmap(org_id, window),
        lambda: data.client_responders(org_id, window),
        lambda: data.client_open_queue(org_id, now),
        lambda: data.client_influencers(org_id, window),
        lambda: data.clients_waiting(now),
        lambda: data.sector_voice(data.sector_peers(org_id), window),
        lambda: data.alerts_summary(alerts_start, alerts_end),
        lambda: data.alerts(alerts_start, alerts_end, limit=LISTED_ALERTS),
        alert_samples,
        data.public_columns,
    ]


def time_queries(data: DashboardData, runs: int) -> dict[str, Any]:
    """p50/p95/max (ms) and row count of every statement in `ALL_QUERIES`, run `runs`
    times after one warm-up through `data`'s reader, with the pages' parameters (the
    One client page's for the biggest client).

    Some calls run a statement twice (the overview reads the clock again, the samples
    need the alert list first): those statements get more than `runs` samples."""
    timed, timer = _timed(data)
    now = timed.clock().now
    if now is None:
        raise RuntimeError("the warehouse is empty: nothing to time")
    org_id = biggest_client(timed)
    calls = page_calls(timed, org_id, now)
    for call in calls:  # warm-up
        call()
    timer.clear()
    for _ in range(runs):
        for call in calls:
            call()
    report: dict[str, Any] = {}
    for q in queries.ALL_QUERIES:
        samples = timer.timings.get(q.name, [])
        if len(samples) < runs:
            raise RuntimeError(f"{q.name} ran {len(samples)} times, not {runs}: "
                               "page_calls no longer covers every dashboard query")
        s = summary(samples, digits=1)
        report[q.name] = {"runs": s["n"], "p50_ms": s["p50"], "p95_ms": s["p95"],
                          "max_ms": s["max"], "rows": timer.rows.get(q.name)}
    return report


# -- timing the pages ----------------------------------------------------------------


def _render(page: str, data: DashboardData, org_id: str | None) -> tuple[float, list[str]]:
    """One first render of `page` in a fresh session: (seconds, what went wrong on it)."""
    from streamlit.testing.v1 import AppTest

    # AppTest runs pages outside a server; Streamlit says so on every cached call.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[READER_KEY] = data.reader
    at.session_state[ROSTER_KEY] = data.roster
    at.session_state[SCOPE_KEY] = data.scope
    if page == "client" and org_id is not None:
        at.query_params["org"] = org_id
    started = time.perf_counter()
    at.run()
    if page != "clients":  # the app opens on All clients; time only the page asked for
        started = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()
    seconds = time.perf_counter() - started
    problems = [f"exception: {e.value}" for e in at.exception]
    problems += [f"error: {e.value}" for e in at.error]
    problems += [f"warning: {e.value}" for e in at.warning]
    return seconds, problems


def time_pages(data: DashboardData, runs: int, org_id: str | None = None) -> dict[str, Any]:
    """Each page's first render (seconds), `runs` times after one warm-up render, through
    `data`'s reader, roster and scope; the One client page for `org_id` (default: the
    biggest client). `problems` lists every exception, error or warning a render showed:
    a page that only says "cannot be read" renders fast and counts for nothing."""
    inner = data.reader.inner if isinstance(data.reader, TimingReader) else data.reader
    plain = DashboardData(inner, data.roster, data.scope, lateness_seconds=data.lateness_seconds)
    org_id = org_id or biggest_client(plain)
    out: dict[str, Any] = {}
    for page in PAGES:
        _render(page, plain, org_id)  # warm-up: imports, Streamlit's caches, the worker
        seconds: list[float] = []
        problems: list[str] = []
        for _ in range(runs):
            took, said = _render(page, plain, org_id)
            seconds.append(took)
            problems += said
        out[page] = {"runs": runs, "p50_seconds": summary(seconds)["p50"],
                     "max_seconds": round(max(seconds), 3), "ok": not problems,
                     "problems": sorted(set(problems))}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grow", help="copy the warehouse's rows back in time")
    p.add_argument("--warehouse", required=True, help="DSN, e.g. chdb:///path/warehouse")
    p.add_argument("--mentions", type=int, required=True)
    p.add_argument("--database", default="dorpspomp")
    p.add_argument("--no-optimize", action="store_true",
                   help="leave the copies unmerged (as inserted)")
    args = parser.parse_args(argv)
    print(json.dumps(grow(args.warehouse, args.mentions, args.database,
                          optimize=not args.no_optimize)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
