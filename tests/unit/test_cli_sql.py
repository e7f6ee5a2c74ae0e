"""`dorpspomp sql`'s output and the CLI's help: what a person reads on the terminal.

Times print as ISO 8601 in UTC whatever the engine's Arrow type (seconds from
`toStartOfHour`, milliseconds from the DateTime64 columns, a zone of its own or
none); every command and option explains itself in `-h`; engine errors never show
the SETTINGS clause dorpspomp adds.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipelines.commands.cli import build_parser, render
from pipelines.serving.sqlguard import ForbiddenQuery
from pipelines.warehouse import CUT_AT, _clean_error, cut_at

HOUR = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SECONDS = int(HOUR.timestamp())  # what the engine's Arrow output gave: 1796378400


def times_table() -> pa.Table:
    """What a query of times gives once DateTime columns are timestamps again."""
    return pa.table({
        "hour": pa.array([SECONDS], pa.timestamp("s", "UTC")),
        "created_at": pa.array([SECONDS * 1000 + 123], pa.timestamp("ms", "UTC")),
        "local": pa.array([SECONDS], pa.timestamp("s", "Europe/Amsterdam")),
        "naive": pa.array([SECONDS * 1000], pa.timestamp("ms")),
        "hours": pa.array([[SECONDS, SECONDS + 3600]], pa.list_(pa.timestamp("s", "UTC"))),
        "n": pa.array([3], pa.uint64()),
    })


EXPECTED = {
    "hour": "2026-12-04T10:00:00Z",
    "created_at": "2026-12-04T10:00:00.123Z",
    "local": "2026-12-04T10:00:00Z",  # the same instant, printed in UTC
    "naive": "2026-12-04T10:00:00.000Z",
    "hours": ["2026-12-04T10:00:00Z", "2026-12-04T11:00:00Z"],
    "n": 3,
}


def test_json_prints_times_as_iso_8601_in_utc() -> None:
    assert json.loads(render(times_table(), "json")) == [EXPECTED]


def test_csv_prints_times_as_iso_8601_in_utc() -> None:
    rows = list(csv.DictReader(io.StringIO(render(times_table(), "csv"))))
    assert rows == [{**{k: v for k, v in EXPECTED.items() if k not in ("hours", "n")},
                     "hours": json.dumps(EXPECTED["hours"], separators=(",", ":")),
                     "n": "3"}]


def test_the_table_prints_times_as_iso_8601_in_utc() -> None:
    lines = render(times_table(), "table").splitlines()
    assert lines[0].split() == list(EXPECTED)
    cells = lines[2].split()
    assert cells[:4] == [EXPECTED[k] for k in ("hour", "created_at", "local", "naive")]
    assert str(SECONDS) not in render(times_table(), "table")
    assert lines[-1] == "(1 row)"


def test_a_cut_result_says_where_it_was_cut() -> None:
    whole = pa.table({"n": [1, 2]})
    assert cut_at(whole) is None
    cut = whole.replace_schema_metadata({CUT_AT: b"2"})
    assert cut_at(cut) == 2
    assert render(cut, "json") == render(whole, "json")  # the rows themselves are unchanged


# -- help ---------------------------------------------------------------------------


def _walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """Every command without a description and every argument without help, by its path."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not listed.get(name):
                    missing.append(f"{path} {name} (no line in the list of commands)")
                if not (sub.description or "").strip():
                    missing.append(f"{path} {name} (no description in -h)")
                missing += _walk(sub, f"{path} {name}")
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help() -> None:
    assert _walk(build_parser(), "dorpspomp") == []


def test_the_walk_finds_what_has_no_help() -> None:
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run").add_argument("file")
    assert _walk(parser, "x") == ["x --quiet", "x run (no line in the list of commands)",
                                  "x run (no description in -h)", "x run file"]


@pytest.mark.parametrize("command", ["sql", "status", "replay", "worker", "broker", "users"])
def test_a_commands_help_opens_with_what_it_does(command: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "-h"])
    usage, _, rest = capsys.readouterr().out.partition("\n\n")
    assert usage.startswith("usage: dorpspomp " + command)
    assert rest.strip()[0].isupper() and not rest.startswith(("positional", "options"))


def test_max_rows_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "-3", "lots"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["sql", "SELECT 1", "--max-rows", bad])
        assert "is not a positive whole number" in capsys.readouterr().err


# -- errors ---------------------------------------------------------------------------

# Engine errors as chDB 4.4 gave them for statements dorpspomp sent (measured).
ENGINE_ERRORS = [
    "Code: 47. DB::Exception: Unknown expression identifier `nope`. In scope SELECT nope FROM "
    "mentions SETTINGS max_execution_time = 30, timeout_overflow_mode = 'throw', "
    "max_result_rows = 1000000, max_result_bytes = 268435456, result_overflow_mode = 'throw', "
    "max_memory_usage = 1073741824, readonly = 1. (UNKNOWN_IDENTIFIER)",
    "Code: 43. DB::Exception: Illegal types String and UInt8 of arguments of function plus: "
    "In scope SELECT 'a' + 1 SETTINGS log_comment = 'dorpspomp-scope:a,b', max_threads = 1, "
    "max_execution_time = 30, timeout_overflow_mode = 'throw', max_result_rows = 1000000, "
    "max_result_bytes = 268435456, result_overflow_mode = 'throw', max_memory_usage = "
    "1073741824, readonly = 1. (ILLEGAL_TYPE_OF_ARGUMENT)",
    "Code: 62. DB::Exception: Syntax error: failed at position 11 (SETTINGS) (line 2, col 1): "
    "SETTINGS max_execution_time = 30, timeout_overflow_mode = 'throw', max_result_rows = "
    "1000000, max_result_bytes = 1073741824, result_overflow_mode = 'throw', max... Unmatched "
    "parentheses: '(' at position 8 (line 1, col 8) is never closed. (SYNTAX_ERROR)",
]


@pytest.mark.parametrize("engine", ENGINE_ERRORS)
def test_engine_errors_lose_the_settings_clause_dorpspomp_added(engine: str) -> None:
    shown = _clean_error(engine, statement_length=9)
    for word in ("readonly", "log_comment", "max_execution_time", "max_result_rows"):
        assert word not in shown, shown
    assert shown.endswith(")") and shown.startswith("Code: ")


def test_a_refusal_names_every_table_and_view_a_person_may_query() -> None:
    with pytest.raises(ForbiddenQuery) as refused:
        from pipelines.serving.sqlguard import check_read_only

        check_read_only("DROP TABLE mentions")
    from schemas.tables import PUBLIC_TABLES, PUBLIC_VIEWS

    for name in (*PUBLIC_TABLES, *PUBLIC_VIEWS):
        assert name in str(refused.value)
    assert "influencers" in str(refused.value) and "post_reach" in str(refused.value)
