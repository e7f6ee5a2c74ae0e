"""What `dorpspomp sql` and the SQL page give back: times as times, cut results, clean errors.

The README's sample events go through a real broker and worker into the embedded
warehouse; each query then goes the way a person's does (the CLI through the
worker's /query, the SQL page in Streamlit's AppTest with the real reader, the
CLI on the warehouse itself when no worker runs). Expected values come from SQL
that formats times as text in the engine (`toString`), independently of the
Arrow path under test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.serving.readapi import WarehouseReader
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseError, cut_at
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "examples" / "sample-events.jsonl"
APP = ROOT / "dashboard" / "app.py"
# The sample's mentions fall in one hour: ten-minute buckets give a few rows of DateTime,
# the type toStartOfHour(created_at) has too.
BUCKETS = ("SELECT toStartOfTenMinutes(created_at) AS bucket, count() AS mentions "
           "FROM mentions GROUP BY bucket ORDER BY bucket")
# The same buckets as the engine writes them in text (UTC: created_at is DateTime64(3, 'UTC')).
BUCKETS_TEXT = ("SELECT toString(toStartOfTenMinutes(created_at)) AS bucket, count() AS "
                "mentions FROM mentions GROUP BY bucket ORDER BY bucket")
# Words of the SETTINGS clause dorpspomp adds to every statement: never shown to a person.
OURS = ("readonly", "log_comment", "max_execution_time", "max_result_rows", "max_memory_usage")
FAILING = [
    "SELECT nope FROM mentions",  # unknown identifier, quoted "In scope …"
    "SELECT 'a' + 1",  # a type error, quoted "In scope …"
    "SELECT toUInt64(text) FROM mentions",  # a failed cast (its value: agency only)
    "SELECT toDateTime('x')",
    "SELECT * FROM nosuchtable",
    "SELECT 1 FROM mentions WHERE",  # syntax: at the end of the statement
    "SELECT (1",  # syntax: unmatched parenthesis
    "SELECT 1 1 1",  # syntax: inside the statement
    "SELECT org_id\nFROM mentions\nWHERE org_id = 'a' 'b'\nORDER BY 1",  # several lines
    "SELECT count() FROM numbers(100000000000)",  # the time limit
    "SELECT number FROM numbers(2000000)",  # the row limit
]
SYNTAX = {FAILING[i] for i in (5, 6, 7, 8)}
ROW_LIMIT = FAILING[-1]


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack.fresh("r", tmp_path_factory.mktemp("sqlresults") / "home",
                    kafka_broker.bootstrap, extra_env={"DORPSPOMP_QUERY_TIMEOUT": "3"})
    s.start_worker()
    try:
        s.cli("replay", str(SAMPLE), "--quiet")
        s.wait_caught_up()
        yield s
    finally:
        s.stop_worker()


@pytest.fixture
def settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The stack's settings in this process's environment, as `dorpspomp up` gives the
    dashboard."""
    for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
        monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("DORPSPOMP_"):
            monkeypatch.setenv(name, value)
    return Settings.from_env()


def iso(engine_text: str) -> str:
    """'2026-03-02 08:00:00' (the engine's text of a UTC time) as ISO 8601 in UTC."""
    return engine_text.replace(" ", "T") + "Z"


def expected_buckets(stack: Stack) -> list[dict[str, Any]]:
    return [{"bucket": iso(r["bucket"]), "mentions": r["mentions"]}
            for r in stack.sql(BUCKETS_TEXT)]


# -- times ------------------------------------------------------------------------------


def test_start_of_hour_is_a_time_in_json_csv_and_table(stack: Stack) -> None:
    hourly = ("SELECT toStartOfHour(created_at) AS hour, count() AS mentions FROM mentions "
              "GROUP BY hour")
    assert json.loads(stack.cli("sql", hourly, "--format", "json").stdout) \
        == [{"hour": "2026-03-02T08:00:00Z", "mentions": 351}]
    expected = expected_buckets(stack)
    assert sum(r["mentions"] for r in expected) == 351 and len(expected) > 3
    assert json.loads(stack.cli("sql", BUCKETS, "--format", "json").stdout) == expected
    rows = list(csv.DictReader(io.StringIO(stack.cli("sql", BUCKETS, "--format", "csv").stdout)))
    assert rows == [{"bucket": r["bucket"], "mentions": str(r["mentions"])} for r in expected]
    table = stack.cli("sql", BUCKETS).stdout.splitlines()
    assert [line.split() for line in table[2:-1]] == [[r["bucket"], str(r["mentions"])]
                                                      for r in expected]
    assert re.fullmatch(r"2026-03-02T08:\d0:00Z", expected[0]["bucket"])


def test_every_kind_of_time_expression_prints_in_utc(stack: Stack) -> None:
    query = ("SELECT created_at, toDateTime(created_at) AS seconds, "
             "toStartOfDay(created_at, 'Europe/Amsterdam') AS amsterdam_day, "
             "toDate(created_at) AS day, [toStartOfMinute(created_at)] AS minutes, "
             "toString(created_at) AS t_ms, toString(toDateTime(created_at)) AS t_s, "
             "toString(toTimeZone(toStartOfDay(created_at, 'Europe/Amsterdam'), 'UTC')) AS t_day, "
             "toString(toStartOfMinute(created_at)) AS t_min "
             "FROM mentions ORDER BY created_at, event_id LIMIT 3")
    for row in json.loads(stack.cli("sql", query, "--format", "json").stdout):
        assert row["created_at"] == iso(row["t_ms"])
        assert row["seconds"] == iso(row["t_s"])
        assert row["amsterdam_day"] == iso(row["t_day"])  # the instant, in UTC
        assert row["amsterdam_day"].endswith(("T23:00:00Z", "T22:00:00Z"))
        assert row["day"] == row["t_ms"][:10]
        assert row["minutes"] == [iso(row["t_min"])]


def test_a_time_that_loses_its_zone_is_a_time_on_the_sql_page_and_its_chart(
    stack: Stack, settings: Settings
) -> None:
    expected = expected_buckets(stack)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/sql.py").run()
    at.text_area(key="sql.text").set_value(BUCKETS)
    at.button(key="sql.run").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    shown = at.dataframe[-1].value
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in shown["bucket"]] \
        == [r["bucket"] for r in expected]
    assert at.selectbox(key="sql.chart_x").value == "bucket"
    (chart,) = at.get("vega_lite_chart")
    x = json.loads(chart.proto.spec)["layer"][0]["encoding"]["x"]
    assert x["type"] == "temporal" and x["field"] == "bucket"
    (dataset,) = chart.proto.datasets
    drawn = pa.ipc.open_stream(dataset.data.data).read_all()
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in drawn.column("bucket").to_pylist()] \
        == [r["bucket"] for r in expected]


# -- --max-rows --------------------------------------------------------------------------


def test_max_rows_returns_the_first_rows_and_says_the_result_was_cut(stack: Stack) -> None:
    query = "SELECT event_id, created_at FROM mentions ORDER BY created_at, event_id"
    everything = stack.sql(query)
    result = stack.cli("sql", query, "--max-rows", "2", "--format", "json")
    assert json.loads(result.stdout) == everything[:2]
    assert "cut at 2 rows" in result.stderr and "--max-rows" in result.stderr
    # a statement that is not a SELECT is cut too
    tables = stack.cli("sql", "SHOW TABLES", "--max-rows", "3")
    assert "(3 rows)" in tables.stdout and "cut at 3 rows" in tables.stderr
    # as many rows as asked for is a whole result
    exact = stack.cli("sql", "SELECT number FROM numbers(2)", "--max-rows", "2")
    assert "(2 rows)" in exact.stdout and exact.stderr == ""
    assert json.loads(stack.cli("sql", "SELECT count() AS n FROM mentions", "--max-rows", "1",
                                "--format", "json").stdout) == [{"n": 351}]


def test_max_rows_stops_a_big_result_early_instead_of_refusing_it(stack: Stack) -> None:
    result = stack.cli("sql", "SELECT number FROM numbers(100000000)", "--max-rows", "5",
                       "--format", "csv")
    assert result.stdout == "number\n0\n1\n2\n3\n4\n"
    assert "cut at 5 rows" in result.stderr
    refused = stack.cli("sql", "SELECT number FROM numbers(2000000)", check=False)
    assert refused.returncode == 2 and "TOO_MANY_ROWS_OR_BYTES" in refused.stderr
    assert "--max-rows" in refused.stderr  # and what to do about it


def test_the_sql_page_cuts_at_most_rows_and_says_so(stack: Stack, settings: Settings) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/sql.py").run()
    at.text_area(key="sql.text").set_value("SELECT event_id FROM mentions ORDER BY event_id")
    at.number_input(key="sql.max_rows").set_value(4)
    at.button(key="sql.run").click().run()
    assert not at.exception and not at.error
    assert len(at.dataframe[-1].value) == 4
    assert any("cut at 4 rows" in c.value for c in at.caption), [c.value for c in at.caption]


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", FAILING)
def test_no_error_a_person_sees_shows_the_settings_dorpspomp_adds(
    stack: Stack, settings: Settings, query: str
) -> None:
    shown = []
    result = stack.cli("sql", query, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    shown.append(result.stderr)
    # the same statement for a client (the operator narrowed to one organisation)
    client = WarehouseReader(settings, frozenset({"gemeente-zutphen"}))
    try:
        with pytest.raises(WarehouseError) as failed:
            client.query(query)
        shown.append(str(failed.value))
    finally:
        client.close()
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/sql.py").run()
    at.text_area(key="sql.text").set_value(query)
    at.button(key="sql.run").click().run()
    if query == ROW_LIMIT:  # the page asks for its Most rows: cut, not refused
        assert any("cut at 10,000 rows" in c.value for c in at.caption)
    else:
        shown.append(at.error[0].value)
    for text in shown:
        assert not [word for word in OURS if word in text], text
        assert text.strip()
    if query in SYNTAX:
        assert all("SYNTAX_ERROR" in text for text in shown), shown


def test_a_syntax_error_counts_positions_in_the_statement_as_written(stack: Stack) -> None:
    result = stack.cli("sql", "SELECT 1 1 1", check=False)
    assert "failed at position 10" in result.stderr and "(SYNTAX_ERROR)" in result.stderr


def test_a_clients_scalar_subquery_in_a_query_of_times_reads_only_its_rows(
    stack: Stack, settings: Settings
) -> None:
    # The agency's run fails on another client's text; the client's, with its times
    # restored from the engine's description of the statement, never reaches that row.
    other = stack.scalar("SELECT org_id FROM mentions WHERE org_id != 'gemeente-zutphen' "
                         "AND text != '' LIMIT 1")
    query = (f"SELECT now() AS at, (SELECT toUInt64(text) FROM mentions WHERE org_id = "
             f"'{other}' AND text != '' LIMIT 1) AS n")
    assert stack.cli("sql", query, check=False).returncode == 2
    client = WarehouseReader(settings, frozenset({"gemeente-zutphen"}))
    try:
        table = client.query(query)
    finally:
        client.close()
    assert str(table.schema.field("at").type) == "timestamp[s, tz=UTC]"
    assert table.column("n").to_pylist() == [None]
    assert cut_at(table) is None


def test_without_a_worker_sql_gives_times_and_cuts_too(tmp_path: Path) -> None:
    offline = Stack(home=tmp_path / "home", bootstrap="127.0.0.1:1", topic="t", group="g")
    offline.cli("migrate")
    result = offline.cli(
        "sql", "SELECT toStartOfHour(toDateTime64('2026-03-06 16:45:12.345', 3, 'UTC')) AS h "
        "FROM numbers(3)", "--max-rows", "2", "--format", "json")
    assert json.loads(result.stdout) == [{"h": "2026-03-06T16:00:00Z"}] * 2
    assert "cut at 2 rows" in result.stderr
