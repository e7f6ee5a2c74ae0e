"""Dashboard speed on a big warehouse: grow it, then time every query and every page.

`grow` turns the warehouse the pipeline wrote (a few weeks of a simulated world) into
years of history: it copies every row of the tables behind the public ones, each copy
shifted back in time by a whole number of the data's spans and with its ids suffixed
(`event_id~3`, and every reference to an id the same way), until `mentions` holds the
asked number of rows. The newest data and the watermark stay as they were, so the
dashboard's "now" does not move; per organisation, the mix of mentions, complaints,
answers and alerts stays the mix the simulator made. The copies are made inside
ClickHouse (`INSERT … SELECT`), in a process of its own: run it as
`python -m pipelines.bench.dashboard grow --warehouse DSN --mentions N` while no worker
owns the warehouse.

`time_pages` renders each page with Streamlit's AppTest (as a browser session would,
first render after opening the page) against the worker's read-only endpoint, through a
reader that times each statement; so the query figures are the page's own statements with
the page's own parameters. Statements no page runs on its first render (the samples of an
alert, for instance) are then run through `DashboardData` with the biggest client's values.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from dashboard import queries
from dashboard.data import DashboardData, dashboard_reader
from dashboard.session import READER_KEY, ROSTER_KEY
from pipelines.bench.stats import summary
from pipelines.roster import Roster, load_roster
from pipelines.settings import Settings
from schemas.tables import ALERTS_STATE, MENTION_RESPONSES_STATE, MENTIONS, POSTS, Table

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ("clients", "client", "alerts", "sql")

# The columns that hold an event or alert id, per table: each copy suffixes them alike,
# so a copied reply still answers its copied mention.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    MENTIONS.name: ("event_id", "in_reply_to", "shared_from"),
    POSTS.name: ("event_id", "in_reply_to"),
    MENTION_RESPONSES_STATE.name: ("mention_id", "first_response_id"),
    ALERTS_STATE.name: ("alert_id", "sample_event_ids"),
}
GROWN: tuple[Table, ...] = (MENTIONS, POSTS, MENTION_RESPONSES_STATE, ALERTS_STATE)


def copy_select(table: Table, database: str, shift_seconds: int, copy: int) -> str:
    """The INSERT … SELECT that adds copy number `copy` of `table`, `copy × shift` older."""
    suffix = f"'~{copy}'"
    ids = ID_COLUMNS[table.name]
    shift = copy * shift_seconds
    exprs = []
    for column in table.columns:
        name = f"`{column.name}`"
        if column.name in ids and column.type.startswith("Array"):
            expr = f"arrayMap(x -> concat(x, {suffix}), {name})"
        elif column.name in ids:
            expr = f"if(empty(ifNull({name}, '')), {name}, concat({name}, {suffix}))"
        elif "DateTime64" in column.type:
            expr = f"{name} - toIntervalSecond({shift})"
        else:
            expr = name
        exprs.append(expr)  # no aliases: an alias would shadow the column in WHERE
    return (f"INSERT INTO `{database}`.`{table.name}` ({', '.join(table.names)}) "
            f"SELECT {', '.join(exprs)} FROM `{database}`.`{table.name}` "
            f"WHERE NOT position(`{ids[0]}`, '~') > 0")


def grow(dsn: str, mentions: int, database: str = "dorpspomp") -> dict[str, Any]:
    """Copy the warehouse's rows back in time until `mentions` holds about `mentions` rows."""
    from tqdm import tqdm

    from pipelines.warehouse import Warehouse

    settings = Settings.from_env({}, warehouse=dsn, database=database)
    warehouse = Warehouse(settings)
    try:
        client = warehouse.client
        db = settings.database_name

        def scalar(sql: str) -> Any:
            return client.query(sql).result_rows[0][0]

        have = int(scalar(f"SELECT count() FROM `{db}`.mentions"))
        if have == 0:
            raise SystemExit("grow: the warehouse holds no mentions to copy")
        first, last = client.query(
            f"SELECT toUnixTimestamp(min(created_at)), toUnixTimestamp(max(created_at)) "
            f"FROM `{db}`.mentions").result_rows[0]
        # A whole number of weeks, so each copy keeps its weekdays and hours.
        span = math.ceil((int(last) - int(first) + 1) / (7 * 86_400)) * 7 * 86_400
        copies = max(0, math.ceil(mentions / have) - 1)
        started = time.perf_counter()
        with tqdm(total=copies, desc="grow the warehouse", unit="copy",
                  file=sys.stderr) as bar:
            for copy in range(1, copies + 1):
                for table in GROWN:
                    client.command(copy_select(table, db, span, copy))
                bar.update(1)
        counts = {t.name: int(scalar(f"SELECT count() FROM `{db}`.`{t.name}`")) for t in GROWN}
        return {"copies": copies, "shift_days": span // 86_400, "rows": counts,
                "seconds": round(time.perf_counter() - started, 1)}
    finally:
        warehouse.close()


@dataclass
class TimingReader:
    """The dashboard's reader, recording how long each named statement took."""

    inner: Any
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    names: dict[str, str] = field(
        default_factory=lambda: {q.sql: q.name for q in queries.ALL_QUERIES})

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        started = time.perf_counter()
        result = self.inner.query(sql, parameters)
        self.timings[self.names.get(sql, "ad hoc")].append(
            (time.perf_counter() - started) * 1000)
        return result


def dashboard_data(settings: Settings) -> DashboardData:
    """The data layer as a dashboard session builds it, reading through the worker."""
    roster = load_roster(settings.roster) if settings.roster else Roster.empty()
    return DashboardData(TimingReader(dashboard_reader(settings)), roster,
                         lateness_seconds=settings.lateness)


def _render(page: str, reader: Any, roster: Roster) -> tuple[float, list[str]]:
    from streamlit.testing.v1 import AppTest

    # AppTest runs pages outside a server; Streamlit says so on every cached call.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[READER_KEY] = reader
    at.session_state[ROSTER_KEY] = roster
    started = time.perf_counter()
    at.run()
    if page != "clients":
        started = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()
    seconds = time.perf_counter() - started
    problems = [str(e.value) for e in (*at.exception, *at.error, *at.warning)]
    return seconds, problems


def time_pages(data: DashboardData, runs: int) -> dict[str, Any]:
    """Each page's first render, `runs` times after a warm-up; the statements they ran
    are timed on the way (see `time_queries`)."""
    timer = data.reader
    assert isinstance(timer, TimingReader)
    out: dict[str, Any] = {}
    for page in PAGES:
        _render(page, timer.inner, data.roster)  # warm-up: imports, caches, the worker
        seconds: list[float] = []
        problems: list[str] = []
        for _ in range(runs):
            took, said = _render(page, timer, data.roster)
            seconds.append(took)
            problems += said
        out[page] = {"runs": runs, "p50_seconds": summary(seconds)["p50"],
                     "max_seconds": round(max(seconds), 3), "problems": sorted(set(problems))}
    return out


def time_queries(data: DashboardData, runs: int) -> dict[str, Any]:
    """p50/p95 (ms) of every statement in `dashboard.queries.ALL_QUERIES`: those the pages
    ran (after `time_pages`), and the rest run here with the biggest client's values."""
    timer = data.reader
    assert isinstance(timer, TimingReader)
    missing = [q for q in queries.ALL_QUERIES if not timer.timings.get(q.name)]
    if missing:
        now = data.clock().now
        assert now is not None
        for _ in range(runs):
            for q in missing:
                _run_alone(data, q, now)
    report: dict[str, Any] = {}
    for q in queries.ALL_QUERIES:
        samples = timer.timings.get(q.name, [])
        s = summary(samples, digits=1)
        report[q.name] = {"runs": s["n"], "p50_ms": s.get("p50"), "p95_ms": s.get("p95"),
                          "max_ms": s.get("max")}
    return report


def _run_alone(data: DashboardData, q: queries.Query, now: datetime) -> None:
    if q is queries.ALERT_SAMPLES:
        listed = data.alerts(now - timedelta(days=30), now, limit=5)
        data.alert_samples(list(listed["alert_id"]) if len(listed) else ["none"])
    elif q is queries.PUBLIC_COLUMNS:
        data.public_columns()
    else:
        raise RuntimeError(f"no page ran {q.name} on its first render and the benchmark "
                           "does not know how to run it alone; add it to _run_alone")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench.dashboard")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grow", help="copy the warehouse's rows back in time")
    p.add_argument("--warehouse", required=True, help="DSN, e.g. chdb:///path/warehouse")
    p.add_argument("--mentions", type=int, required=True)
    p.add_argument("--database", default="dorpspomp")
    args = parser.parse_args(argv)
    print(json.dumps(grow(args.warehouse, args.mentions, args.database)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
