"""The `dorpspomp` command (docs/contract.md §4).

Each sub-command reads the settings once, does its work through the modules
that own it, and turns expected failures into one readable line on stderr and
exit code 2 (1 for a failed run). Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipelines.settings import Settings, SettingsError

# `make demo`: four weeks of history (two full weeks give surges their same-hour-of-the-week
# baseline) at a quarter of the default volume, about 330,000 events, which the worker
# takes in in about a minute on a busy 2-core machine (README, "Start it", measured).
DEMO_HISTORY_DAYS = 28.0
DEMO_SCALE = 0.25

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (SettingsError,)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
        code: int = args.run(settings, args)
        return code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _expected(exc):
            print(f"dorpspomp {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


def _expected(exc: BaseException) -> bool:
    from pipelines.commands.replay import BrokerUnavailable, ReplayError
    from pipelines.commands.stack import StackError
    from pipelines.serving.logins import UsersFileError
    from pipelines.serving.sqlguard import ForbiddenQuery
    from pipelines.warehouse import WarehouseError

    return isinstance(exc, (*EXPECTED_ERRORS, BrokerUnavailable, ReplayError, ForbiddenQuery,
                            StackError,
                            WarehouseError, FileNotFoundError, UsersFileError))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dorpspomp",
        description="Social-media monitoring for agencies: Kafka → faust → ClickHouse → Streamlit. "
        "Settings come from DORPSPOMP_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("up", help="run broker, worker and dashboard in the foreground")
    p.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    p.add_argument("--simulate", action="store_true",
                   help="also run `dorpspomp simulate` with its roster: first --history days "
                        "of simulated past up to now, as fast as the worker takes them, then "
                        "live, so the dashboard opens on a lived-in world")
    p.add_argument("--history", type=float, default=DEMO_HISTORY_DAYS, metavar="DAYS",
                   help=f"with --simulate: days of history to load first (default "
                        f"{DEMO_HISTORY_DAYS:g}; a restart on the same home sends only what "
                        "it missed); 0: no history, live sped up by --speedup instead")
    p.add_argument("--scale", type=float, default=DEMO_SCALE,
                   help=f"with --simulate: traffic volume factor (default {DEMO_SCALE:g}: "
                        "about 65,000 events a day of 60 organisations at 1)")
    p.add_argument("--orgs", type=int, default=60,
                   help="with --simulate: number of simulated organisations (default 60)")
    p.add_argument("--rate", type=float, default=200.0,
                   help="with --simulate --history 0: events per second (default 200)")
    p.add_argument("--speedup", type=float, default=60.0,
                   help="with --simulate --history 0: simulated seconds per real second "
                        "(default 60)")
    p.set_defaults(run=cmd_up)

    p = sub.add_parser("worker", help="run one stream worker (what `up` starts)")
    p.add_argument("--loglevel", default="info",
                   choices=("debug", "info", "warning", "error", "critical"),
                   help="how much the worker logs (default info)")
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser(
        "replay", help="send a .jsonl file of events into Kafka",
        description="Send each non-blank line of a .jsonl file to the events topic, in batches "
        "per partition, keyed by the event's organisation.",
        epilog="Exit status: 0 every line sent; 3 finished, but some lines were too long for "
        "one Kafka message (each has a reference record in dead_letters, and the summary "
        "names them); 2 stopped because the broker acknowledged nothing for --broker-wait "
        "seconds (the summary gives the line to pass to --from-line), or a bad argument; "
        "130 interrupted (the summary gives the line to resume from).")
    p.add_argument("file", type=Path, help="the .jsonl file: one JSON event per line")
    p.add_argument("--rate", type=float, default=None,
                   help="events per second (default: as fast as the broker takes them)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (warnings and the final summary still print)")
    p.add_argument("--from-line", type=_line_number, default=1, metavar="N",
                   help="start at line N of the file (counting from 1, blank lines too) and "
                   "skip the lines before it: what a stopped replay's summary says to pass")
    p.add_argument("--broker-wait", type=float, default=60.0, metavar="SECONDS",
                   help="how long to keep reconnecting when the broker stops acknowledging, "
                   "before stopping with exit status 2 and the line to resume from "
                   "(default 60)")
    p.set_defaults(run=cmd_replay)

    p = sub.add_parser("simulate", help="a synthetic world of organisations: to Kafka or a file")
    p.add_argument("--out", type=Path, default=None,
                   help="write a .jsonl file (plus .roster.yaml and .surges.jsonl beside it) "
                        "instead of sending to Kafka")
    p.add_argument("--seed", type=int, default=7,
                   help="the world's seed: the same seed gives the same world and events "
                   "(default 7)")
    p.add_argument("--orgs", type=int, default=60, help="number of organisations (≥ 50 gives "
                   "every kind)")
    p.add_argument("--days", type=float, default=7.0, help="simulated days (file mode)")
    p.add_argument("--start", type=_date, default=None,
                   help="simulated start, e.g. 2026-03-02 (file default 2026-03-02; live: "
                        "SPEEDUP-1 days ago, never in the future)")
    p.add_argument("--scale", type=float, default=1.0, help="traffic volume factor")
    p.add_argument("--rate", type=float, default=None,
                   help="live: average events per second (the daily rhythm goes above and below)")
    p.add_argument("--speedup", type=float, default=1.0,
                   help="live: simulated seconds per real second")
    p.add_argument("--duration", type=float, default=None, help="live: stop after N seconds")
    p.add_argument("--history", type=float, default=None, metavar="DAYS",
                   help="live: first send DAYS of history up to now as fast as the broker "
                        "takes them, then go on in real time (what `up --simulate` runs); "
                        "a second run on the same home goes on from where the first stopped")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=cmd_simulate)

    p = sub.add_parser(
        "sql", help="read-only SQL against the warehouse",
        description="Run one read statement against the warehouse: through the running "
        "worker's /query while `dorpspomp up` runs, on the embedded warehouse itself when no "
        "worker does, on the ClickHouse server in server mode. Writes, settings, files, URLs "
        "and other sources are refused with a message; the time, row, byte and memory limits "
        "of the DORPSPOMP_QUERY_* settings apply. Times print as ISO 8601 in UTC "
        "(2026-03-06T15:45:00.000Z), also those of expressions like toStartOfHour(created_at).",
        epilog="Exit status: 0 answered (also when --max-rows cut the result: stderr says so); "
        "2 refused, failed in the warehouse, or no warehouse to ask.")
    p.add_argument("query", help="one read statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, "
                   "EXISTS) on the public tables, e.g. \"SELECT count() FROM mentions\"")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (default), csv, or json: one JSON array of row objects")
    p.add_argument("--max-rows", type=_positive, default=None, metavar="N",
                   help="return the first N rows and say on stderr when there were more "
                   "(without it, a result over DORPSPOMP_QUERY_MAX_ROWS is refused)")
    p.add_argument("--login", metavar="NAME", default=None,
                   help="run as this dashboard login (asks its password; a client login sees "
                   "only its organisations), signed in at the running worker")
    p.add_argument("--password-stdin", action="store_true",
                   help="with --login: read the password from standard input")
    p.set_defaults(run=cmd_sql)

    p = sub.add_parser(
        "report", help="write one client's weekly report as an HTML or PDF file",
        description="Write what an agency sends a client on Monday: one ISO week of one client "
        "(Monday 00:00 to Monday 00:00 in the client's time zone, the roster's `timezone`) "
        "against the week before: volume per day, complaints, first responses in calendar "
        "and business hours with the SLA's outcome, the complaint surges with sample "
        "mentions, top voices and reach. Reads the public tables through the worker while "
        "`dorpspomp up` runs (the warehouse itself when no worker does), like `dorpspomp sql`.",
        epilog="Exit status: 0 the file is written (also for a week without data: the report "
        "says so); 2 an unknown client, a bad week or file name, or an unreadable warehouse.")
    p.add_argument("--org", required=True, metavar="ID",
                   help="the client's organisation id, as in the roster (`id`) and the tables' "
                   "org_id")
    p.add_argument("--week", type=_iso_week, default=None, metavar="YYYY-Www",
                   help="the ISO week, e.g. 2026-W10 (default: the last week that is over in "
                   "the warehouse's data, on the client's clock)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="the file to write; its extension picks the format: .html (one "
                   "self-contained file, charts as inline SVG) or .pdf")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser(
        "status", help="broker, worker, consumer lag, warehouse row counts",
        description="Whether the broker answers and its topics, the worker's health (ok, or "
        "DEGRADED with the reasons), the consumer lag (events in Kafka not yet in the "
        "warehouse) and the row counts of the public tables.",
        epilog="Exit status: 0 the broker answers; 1 it does not.")
    p.add_argument("--json", action="store_true",
                   help="print the report as one JSON object instead of text")
    p.set_defaults(run=cmd_status)

    p = sub.add_parser("migrate", help="apply pending warehouse migrations")
    p.set_defaults(run=cmd_migrate)

    p = sub.add_parser("dashboard", help="run only the Streamlit dashboard")
    p.add_argument("--address", default=None,
                   help="address to listen on (default: DORPSPOMP_DASHBOARD_ADDRESS with a "
                   "users file; without one, 127.0.0.1 only)")
    p.add_argument("--no-login", action="store_true",
                   help="allow --address without a users file (no logins!): only inside a "
                   "container whose port is published on the host's 127.0.0.1")
    p.set_defaults(run=cmd_dashboard)

    from pipelines.serving import users

    users.add_parser(sub)
    sub.choices["users"].set_defaults(run=cmd_users)

    p = sub.add_parser("broker", help="start or stop only the local Kafka broker")
    p.add_argument("action", choices=("start", "stop", "status"),
                   help="start the broker in the background (DORPSPOMP_HOME holds its data), "
                   "stop it, or say whether it runs")
    p.set_defaults(run=cmd_broker)

    p = sub.add_parser("bench", help="measure throughput, freshness, alerts, memory and "
                       "dashboard speed on this machine (README: Benchmark)")
    p.add_argument("--quick", action="store_true",
                   help="a small run of every phase (under 2 minutes; what CI runs)")
    p.add_argument("--out", type=Path, default=None,
                   help="where the figures go (default bench/results.json, "
                   "--quick: bench/results-quick.json)")
    p.add_argument("--seed", type=int, default=7, help="the simulated world's seed (default 7)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="folder for the run's broker, workers and warehouses "
                   "(default: a new temporary folder, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    p.add_argument("--texts", type=Path, default=None, metavar="DIR",
                   help="folder of the real labelled sets (pipelines/textmodel/README.md) "
                   "whose posts the surge phase's world speaks with (default "
                   "$DORPSPOMP_EVAL_TEXTS; without either, the team-written fallback)")
    p.set_defaults(run=cmd_bench)
    _describe_commands(sub)
    return parser


def _describe_commands(sub: argparse._SubParsersAction) -> None:
    """`dorpspomp COMMAND -h` opens with what the command does: its line in the list of
    commands, where it has no description of its own."""
    for listed in sub._choices_actions:
        parser = sub.choices[listed.dest]
        if not parser.description and listed.help:
            parser.description = listed.help[0].upper() + listed.help[1:] + "."
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe_commands(action)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.commands.stack import up

    simulation: list[str] | None = None
    if args.simulate:
        from dataclasses import replace

        from pipelines.simulate import world

        if args.history < 0 or args.scale <= 0 or args.orgs < 1:
            raise SettingsError("--history must be 0 or more days, --scale positive and "
                                "--orgs at least 1")
        roster = settings.home / "simulated.roster.yaml"
        settings.home.mkdir(parents=True, exist_ok=True)
        roster.write_text(world(7, args.orgs).roster_yaml())
        settings = replace(settings, roster=roster)
        simulation = ["simulate", "--orgs", str(args.orgs), "--quiet"]
        if args.history > 0:
            from pipelines.simulate.history import state_path_for

            simulation += ["--history", str(args.history), "--scale", str(args.scale)]
            return up(settings, dashboard=not args.no_dashboard, simulation=simulation,
                      history=state_path_for(roster))
        simulation += ["--rate", str(args.rate), "--speedup", str(args.speedup)]
    return up(settings, dashboard=not args.no_dashboard, simulation=simulation)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.ingest.worker import run_worker

    run_worker(settings, loglevel=args.loglevel)
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.commands.replay import replay
    from pipelines.roster import load_roster

    if args.rate is not None and args.rate <= 0:
        raise SettingsError("--rate must be a positive number of events per second")
    if args.broker_wait <= 0:
        raise SettingsError("--broker-wait must be a positive number of seconds")
    report = replay(
        args.file, bootstrap=settings.kafka, topic=settings.events_topic,
        roster=load_roster(settings.roster), rate=args.rate, from_line=args.from_line,
        broker_wait=args.broker_wait, progress=not args.quiet,
    )
    if report.stopped is None:
        print(report.summary())
    else:
        print(f"dorpspomp replay: {report.summary()}", file=sys.stderr)
    return report.exit_code


def _line_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a line number (1 is the first line)")
    return number


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines import simulate

    if args.out is not None:
        report = simulate.simulate_to_file(
            args.out, seed=args.seed, orgs=args.orgs, days=args.days,
            start=args.start or datetime(2026, 3, 2, tzinfo=UTC), scale=args.scale,
            progress=not args.quiet,
        )
    elif args.history is not None:
        from pipelines.simulate.history import history_then_live

        settings.home.mkdir(parents=True, exist_ok=True)
        report = history_then_live(
            settings.kafka, settings.events_topic, seed=args.seed, orgs=args.orgs,
            days=args.history, scale=args.scale,
            roster_out=settings.home / "simulated.roster.yaml", duration=args.duration,
            progress=not args.quiet)
    else:
        roster_out = settings.home / "simulated.roster.yaml"
        settings.home.mkdir(parents=True, exist_ok=True)
        report = simulate.simulate_live(
            settings.kafka, settings.events_topic, seed=args.seed, orgs=args.orgs,
            start=args.start, rate=args.rate, speedup=args.speedup, roster_out=roster_out,
            duration=args.duration, progress=not args.quiet,
        )
    print(report.summary())
    return 0


def cmd_sql(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.serving.readapi import WarehouseReader, sign_in
    from pipelines.warehouse import cut_at

    if args.login is None:
        reader = WarehouseReader(settings)
    else:
        if not settings.embedded:
            raise SettingsError(
                "--login signs in at the worker of the embedded warehouse; with a ClickHouse "
                "server, set DORPSPOMP_WAREHOUSE_READER to the client's own ClickHouse user")
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass(f"password of {args.login}: ")
        granted = sign_in(settings, args.login, password, "dorpspomp sql")
        reader = WarehouseReader(settings, granted.org_ids, token=granted.token)
    try:
        table = reader.query(args.query, max_rows=args.max_rows)
    finally:
        reader.close()
    sys.stdout.write(render(table, args.format))
    cut = cut_at(table)
    if cut is not None:
        print(f"dorpspomp sql: the result was cut at {cut:,} rows (--max-rows {cut}); the "
              "query has more: raise --max-rows, or narrow or aggregate the query",
              file=sys.stderr)
    return 0


def _iso_week(text: str) -> Any:
    from dashboard.report.week import IsoWeek, WeekError

    try:
        return IsoWeek.parse(text)
    except WeekError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.data import DashboardData, DataUnavailable
    from dashboard.report import ReportFormatError, format_of, render
    from dashboard.report.model import UnknownOrg, collect_report
    from dashboard.report.week import IsoWeek
    from pipelines.roster import load_roster
    from pipelines.serving.readapi import WarehouseReader

    out: Path = args.out
    try:
        suffix = format_of(out)
        if not out.parent.is_dir():
            raise ReportFormatError(f"the folder {out.parent} does not exist; create it or "
                                    "write the report elsewhere")
        reader = WarehouseReader(settings)
        try:
            data = DashboardData(reader, load_roster(settings.roster),
                                 lateness_seconds=settings.lateness)
            clock = data.clock()
            week = args.week
            if week is None:
                if clock.now is None:
                    raise DataUnavailable("the warehouse holds no events yet, so there is no "
                                          "last week; name one with --week")
                week = IsoWeek.containing(clock.now, data.org(args.org).timezone).previous()
            report = collect_report(data, args.org, week, as_of=clock.now)
        finally:
            reader.close()
    except (UnknownOrg, ReportFormatError, DataUnavailable) as exc:
        print(f"dorpspomp report: {exc}", file=sys.stderr)
        return 2
    try:
        out.write_bytes(render(report, suffix))
    except OSError as exc:
        print(f"dorpspomp report: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    volume = report.volume
    summary = (f"{volume.mentions:,} mentions, {volume.complaints:,} complaints, "
               f"{len(report.surges)} complaint surges" if report.has_data
               else "no mentions, posts or alerts in this week: the report says so")
    print(f"wrote {out}: {report.org_name}, week {report.week.label} ({report.state}); "
          f"{summary}")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.serving.readapi import running_worker
    from pipelines.warehouse import Warehouse

    worker = running_worker(settings)
    if settings.embedded and worker is not None:
        print(f"the worker (pid {worker.pid}) owns the embedded warehouse and applied "
              "every migration when it started; nothing to do")
        return 0
    warehouse = Warehouse(settings)
    try:
        applied = warehouse.migrate()
    finally:
        warehouse.close()
    print(f"applied {', '.join(applied)}" if applied else "the warehouse is up to date")
    return 0


def cmd_broker(settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    from pipelines.commands.stack import broker_cmd, local_broker_port, start_broker

    if args.action == "start":
        if local_broker_port(settings) is None:
            raise SettingsError(f"DORPSPOMP_KAFKA={settings.kafka} is not a local address")
        start_broker(settings)
        return 0
    return subprocess.run(broker_cmd(settings, args.action), check=False).returncode


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from bench.run import main as bench

    return bench(quick=args.quick, out=args.out, seed=args.seed, workdir=args.workdir,
                 keep=args.keep, texts=args.texts)


def cmd_dashboard(settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    from pipelines.commands.stack import DASHBOARD_APP, StackError, dashboard_address, dashboard_cmd

    if not DASHBOARD_APP.is_file():
        raise StackError(f"the dashboard is not part of this build ({DASHBOARD_APP} is missing)")
    address = dashboard_address(settings, args.address, no_login=args.no_login)
    if settings.dashboard_users is None:
        print(f"dorpspomp dashboard: no users file (DORPSPOMP_DASHBOARD_USERS), so no logins; "
              f"listening on {address}", file=sys.stderr)
    return subprocess.run(dashboard_cmd(settings, address), check=False).returncode


def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.serving import users

    return users.run(settings, args)


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.commands.status import collect_status, format_status

    report = collect_status(settings)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_status(report))
    return 0 if report["broker"]["reachable"] else 1


# -- output ------------------------------------------------------------------


# ISO 8601 precision per Arrow time unit: DateTime is whole seconds, DateTime64(3) milliseconds.
_TIMESPEC = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "microseconds"}


def _timespec(arrow: pa.DataType) -> str:
    """The precision to print the times of a column with (its first timestamp type)."""
    if pa.types.is_timestamp(arrow):
        return _TIMESPEC[arrow.unit]
    for i in range(arrow.num_fields):
        spec = _timespec(arrow.field(i).type)
        if spec != "milliseconds":
            return spec
    return "milliseconds"


def _plain(value: Any, timespec: str = "milliseconds") -> Any:
    """A value as JSON, CSV and the table print it: times as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        # a time without a zone is UTC: the engine's times are
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return utc.isoformat(timespec=timespec).replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v, timespec) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, timespec) for k, v in value.items()}
    return value


def render(table: pa.Table, fmt: str) -> str:
    """A result as `dorpspomp sql` prints it: an aligned table, CSV, or one JSON array.

    Times (DateTime, DateTime64, also in lists and tuples) are ISO 8601 in UTC with
    the column's precision, e.g. `2026-12-04T10:00:00Z` for toStartOfHour(created_at).
    """
    names = table.column_names
    specs = {name: _timespec(field.type) for name, field in zip(names, table.schema,
                                                                 strict=True)}
    rows = [{k: _plain(v, specs[k]) for k, v in row.items()} for row in table.to_pylist()]
    if fmt == "json":
        return orjson.dumps(rows).decode() + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if row[n] is None else _cell(row[n]) for n in names])
        return out.getvalue()
    cells = [[_cell(row[n]) for n in names] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


if __name__ == "__main__":
    sys.exit(main())
