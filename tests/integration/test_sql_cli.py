"""`dorpspomp sql` is read-only for real: each forbidden kind refused, SELECT answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

FORBIDDEN = [
    ("INSERT INTO mentions (org_id) VALUES ('x')", "INSERT"),
    ("ALTER TABLE mentions DELETE WHERE 1", "ALTER"),
    ("DROP TABLE mentions", "DROP"),
    ("CREATE TABLE t (x Int8) ENGINE = Memory", "CREATE"),
    ("SET readonly = 0", "SET"),
    ("SELECT 1 SETTINGS readonly = 0", "SETTINGS"),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "file"),
    ("SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')", "url"),
    ("SELECT * FROM s3('http://127.0.0.1:9/b/k.csv')", "s3"),
    ("SELECT * FROM remote('127.0.0.1:9', system.one)", "remote"),
    ("SELECT * FROM executable('id', 'LineAsString', 'x String')", "executable"),
    ("SELECT * FROM input('x String')", "input"),
    ("SELECT * FROM merge(currentDatabase(), '^mentions$')", "merge"),
    ("SELECT 1; DROP TABLE mentions", "statement"),
]


@pytest.fixture
def offline(tmp_path: Path) -> Stack:
    """No broker, no worker: `dorpspomp sql` opens the embedded warehouse itself."""
    s = Stack(home=tmp_path / "home", bootstrap="127.0.0.1:1", topic="t", group="g")
    s.cli("migrate")
    return s


@pytest.mark.parametrize(("query", "named"), FORBIDDEN)
def test_sql_refuses_with_a_clear_message(offline: Stack, query: str, named: str) -> None:
    result = offline.cli("sql", query, check=False)
    assert result.returncode == 2, result
    assert "refused" in result.stderr.lower() and named.lower() in result.stderr.lower(), \
        result.stderr
    assert "Traceback" not in result.stderr


def test_sql_answers_selects_in_every_format(offline: Stack) -> None:
    query = "SELECT number AS n, toString(number) AS s FROM numbers(3) ORDER BY n"
    table = offline.cli("sql", query).stdout
    assert table.splitlines()[0].split() == ["n", "s"] and "(3 rows)" in table
    assert offline.cli("sql", query, "--format", "csv").stdout == "n,s\n0,0\n1,1\n2,2\n"
    rows = json.loads(offline.cli("sql", query, "--format", "json").stdout)
    assert rows == [{"n": 0, "s": "0"}, {"n": 1, "s": "1"}, {"n": 2, "s": "2"}]
    assert json.loads(offline.cli("sql", "SELECT count() AS c FROM mentions", "--format",
                                  "json").stdout) == [{"c": 0}]


def test_sql_reports_query_errors_without_a_traceback(offline: Stack) -> None:
    result = offline.cli("sql", "SELECT nope FROM mentions", check=False)
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def running(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack.fresh("q", tmp_path / "home", kafka_broker.bootstrap)
    s.start_worker()
    yield s
    s.stop_worker()


def test_sql_goes_through_the_running_worker_with_the_same_refusals(running: Stack) -> None:
    # The worker owns the chDB directory: a direct open would fail with a lock error.
    assert running.scalar("SELECT count() AS c FROM posts") == 0
    for query, named in FORBIDDEN[:8]:
        result = running.cli("sql", query, check=False)
        assert result.returncode == 2 and named.lower() in result.stderr.lower(), result.stderr
    status = json.loads(running.cli("status", "--json").stdout)
    assert status["worker"]["running"] and status["broker"]["reachable"]
    assert status["warehouse"]["rows"]["mentions"] == 0
    assert "worker pid" in status["warehouse"]["via"]
