"""The engine's own belt holds with the guard out of the way, and the guard covers its gaps.

One real embedded warehouse (chDB, ClickHouse 26.9) for the whole module: chDB
hosts one data directory per process, so the module opens it once and closes
every client at the end (then another module may open its own).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.binding import finalize_query
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.serving.sqlguard import (
    ALLOWED_SYSTEM_TABLES,
    ALLOWED_TABLE_FUNCTIONS,
    READ_ONLY_SETTINGS,
    REFUSED_FUNCTIONS,
    ForbiddenQuery,
    check_ast,
    check_read_only,
    read_only_settings,
    read_only_statement,
)

pytestmark = pytest.mark.integration

DATABASE = "dorpspomp"
READONLY = 164  # ClickHouse error codes
TIMEOUT_EXCEEDED = 159
TOO_MANY_ROWS_OR_BYTES = 396


class Warehouse:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.clients: list[Client] = []
        self.client = self.open()
        self.secret_token = f"sqlguard-secret-{uuid.uuid4().hex}"
        self.secret = path.parent / "secret.txt"
        self.secret.write_text(self.secret_token + "\n")

    def open(self) -> Client:
        """Another session on the same engine (sessions keep their own SET values)."""
        client = clickhouse_connect.get_client(dsn=f"chdb://{self.path}")
        if self.clients:
            client.database = DATABASE
        self.clients.append(client)
        return client


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    w = Warehouse(tmp_path_factory.mktemp("sqlguard") / "warehouse")
    # A table shaped like the public one; the guard does not depend on the migrations.
    w.client.command(f"CREATE DATABASE {DATABASE}")
    w.client.database = DATABASE
    w.client.command(
        "CREATE TABLE mentions (org_id LowCardinality(String), event_id String, "
        "created_at DateTime64(3, 'UTC'), text String) "
        "ENGINE = MergeTree PARTITION BY toYYYYMM(created_at) ORDER BY (org_id, created_at)"
    )
    w.client.command(
        "INSERT INTO mentions VALUES "
        "('gemeente-zutphen', 'm1', now64(3), 'de pomp is kapot'), "
        "('gemeente-zutphen', 'm2', now64(3), 'dank je')"
    )
    try:
        yield w
    finally:
        for client in w.clients:
            client.close()


def error_of(run: Any) -> str:
    with pytest.raises(Exception) as caught:  # the engine raises its own types
        run()
    assert not isinstance(caught.value, ForbiddenQuery)
    return str(caught.value)


def session_readonly(client: Client) -> int:
    return int(client.query("SELECT getSetting('readonly')").result_rows[0][0])


# -- the belt: settings the engine applies ----------------------------------------------

def test_every_read_only_setting_exists_in_the_engine(warehouse: Warehouse) -> None:
    names = warehouse.client.query(
        "SELECT name FROM system.settings WHERE name IN {names:Array(String)}",
        parameters={"names": list(READ_ONLY_SETTINGS)},
    ).result_rows
    assert {name for (name,) in names} == set(READ_ONLY_SETTINGS)


@pytest.mark.parametrize(("sql", "named"), [
    ("INSERT INTO mentions (org_id, event_id) VALUES ('x', 'evil')", "INSERT"),
    ("CREATE TABLE evil (x Int8) ENGINE = Memory", "CREATE"),
    ("DROP TABLE mentions", "DROP"),
    ("ALTER TABLE mentions DELETE WHERE 1", "ALTER"),
    ("TRUNCATE TABLE mentions", "TRUNCATE"),
    ("SET readonly = 0", "SET"),
    ("SET max_execution_time = 0", "SET"),
])
def test_the_engine_refuses_changes_under_the_read_only_settings(
    warehouse: Warehouse, sql: str, named: str
) -> None:
    with pytest.raises(ForbiddenQuery, match=named):
        check_read_only(sql)
    # The guard out of the way: a session of its own, since the chDB backend applies
    # settings of commands with SET, and readonly=1 then stays on that session.
    session = warehouse.open()
    message = error_of(lambda: session.command(sql, settings=dict(READ_ONLY_SETTINGS)))
    assert f"Code: {READONLY}" in message and "readonly" in message.lower(), message
    assert session_readonly(session) == 1
    counts = warehouse.client.query("SELECT count() FROM mentions").result_rows
    assert counts == [(2,)]
    assert warehouse.client.query("EXISTS TABLE evil").result_rows == [(0,)]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "SELECT count() FROM (SELECT * FROM file('/etc/hostname', 'LineAsString'))",
    "SELECT 'x' UNION ALL SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "SELECT * FROM (SELECT * FROM file('/etc/hostname', 'LineAsString') SETTINGS readonly = 0)",
])
def test_the_engine_refuses_files_urls_and_setting_changes_in_a_select(
    warehouse: Warehouse, sql: str
) -> None:
    with pytest.raises(ForbiddenQuery):
        check_read_only(sql)
    # client.query sends per-call settings as a trailing SETTINGS clause
    message = error_of(lambda: warehouse.client.query(sql, settings=read_only_settings()))
    assert f"Code: {READONLY}" in message, message
    assert session_readonly(warehouse.client) == 0


def test_a_settings_clause_in_a_subquery_changes_nothing(warehouse: Warehouse) -> None:
    def run(sql: str) -> Any:
        with pytest.raises(ForbiddenQuery, match="SETTINGS clause"):
            check_read_only(sql)
        return warehouse.client.query(
            sql, settings=read_only_settings(time_limit_s=1, max_rows=100)
        ).result_rows

    # ClickHouse 26.9 ignores it without a word: readonly and the limits stay
    assert run("SELECT * FROM (SELECT getSetting('readonly') SETTINGS readonly = 0)") == [(1,)]
    message = error_of(lambda: run(
        "SELECT * FROM (SELECT number FROM numbers(1000) SETTINGS max_result_rows = 0)"
    ))
    assert f"Code: {TOO_MANY_ROWS_OR_BYTES}" in message, message
    message = error_of(lambda: run(
        "SELECT * FROM (SELECT count() FROM numbers(1e12) SETTINGS max_execution_time = 0)"
    ))
    assert f"Code: {TIMEOUT_EXCEEDED}" in message, message


def test_a_plain_select_is_answered(warehouse: Warehouse) -> None:
    sql = "SELECT org_id, count() AS n FROM mentions GROUP BY org_id"
    rows = warehouse.client.query(
        check_read_only(sql), settings=read_only_settings()
    ).result_rows
    assert rows == [("gemeente-zutphen", 2)]


def test_the_time_limit_stops_a_slow_query(warehouse: Warehouse) -> None:
    started = time.monotonic()
    message = error_of(lambda: warehouse.client.query(
        read_only_statement("SELECT count() FROM numbers(1e12)", time_limit_s=1)
    ))
    assert f"Code: {TIMEOUT_EXCEEDED}" in message, message
    assert time.monotonic() - started < 10


def test_the_row_limit_stops_a_large_result(warehouse: Warehouse) -> None:
    sql = "SELECT number FROM numbers(100000)"
    message = error_of(lambda: warehouse.client.query(
        sql, settings=read_only_settings(max_rows=1000)
    ))
    assert f"Code: {TOO_MANY_ROWS_OR_BYTES}" in message, message
    rows = warehouse.client.query(
        "SELECT number FROM numbers(1000)", settings=read_only_settings(max_rows=1000)
    ).result_rows
    assert len(rows) == 1000


# -- read_only_statement: the limits travel with the statement --------------------------

@pytest.mark.parametrize("sql", [
    "SELECT org_id, text FROM mentions ORDER BY event_id",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "WITH recent AS (SELECT * FROM mentions) SELECT count() FROM recent",
    "SHOW TABLES",
    "SHOW COLUMNS FROM mentions",
    "SHOW CREATE TABLE mentions",
    "DESCRIBE TABLE mentions",
    "EXISTS TABLE mentions",
    "EXPLAIN SELECT count() FROM mentions",
    "SELECT name FROM system.tables WHERE database = currentDatabase()",
    "SELECT number FROM numbers(3) -- trailing comment",
])
def test_read_only_statements_run_through_the_arrow_path(warehouse: Warehouse, sql: str) -> None:
    for max_rows in (1000, 10):  # different limits on one session: nothing sticks
        table = warehouse.client.query_arrow(read_only_statement(sql, max_rows=max_rows))
        assert table.num_rows > 0
    assert session_readonly(warehouse.client) == 0


def test_per_call_settings_stick_to_a_chdb_session(warehouse: Warehouse) -> None:
    """Why read_only_statement exists: query_arrow(settings=...) SETs them on the session."""
    session = warehouse.open()
    session.query_arrow("SELECT 1", settings=read_only_settings(max_rows=1000))
    assert session_readonly(session) == 1  # the restoring SET was refused
    message = error_of(lambda: session.query_arrow(
        "SELECT 1", settings=read_only_settings(max_rows=10)
    ))
    assert "Cannot modify 'max_result_rows' setting in readonly mode" in message


@pytest.mark.parametrize("table", sorted(ALLOWED_SYSTEM_TABLES))
def test_the_allowed_system_tables_exist_and_answer(warehouse: Warehouse, table: str) -> None:
    sql = read_only_statement(f"SELECT * FROM system.{table} LIMIT 1")
    warehouse.client.query_arrow(sql)


# -- the guard covers what readonly=1 lets through ----------------------------------------

def test_readonly_still_runs_the_scalar_file_function(warehouse: Warehouse) -> None:
    sql = f"SELECT file('{warehouse.secret}') AS leaked"
    rows = warehouse.client.query(sql, settings=read_only_settings()).result_rows
    assert warehouse.secret_token in rows[0][0]
    with pytest.raises(ForbiddenQuery, match=r"the function file\(\) reads files"):
        check_read_only(sql)


def test_readonly_still_writes_into_outfile(warehouse: Warehouse, tmp_path: Path) -> None:
    target = tmp_path / "written-by-a-read-only-query.txt"
    sql = f"SELECT 'x' INTO OUTFILE '{target}'"
    warehouse.client.query(sql, settings=read_only_settings())
    assert target.exists()
    with pytest.raises(ForbiddenQuery, match="INTO OUTFILE"):
        check_read_only(sql)


def test_the_default_database_maps_names_to_files(warehouse: Warehouse) -> None:
    sql = f"SELECT * FROM default.`{warehouse.secret}`"
    warehouse.open().query(sql)  # once read by anyone, the file table stays in the catalogue
    rows = warehouse.client.query(sql, settings=read_only_settings()).result_rows
    assert warehouse.secret_token in str(rows)
    with pytest.raises(ForbiddenQuery):
        check_read_only(sql)
    with pytest.raises(ForbiddenQuery, match="the database `default`"):
        check_read_only(f"SELECT * FROM default.{warehouse.secret.name.split('.')[0]}")


def test_client_side_parameters_must_be_bound_before_the_check(warehouse: Warehouse) -> None:
    """`%(name)s` placeholders are filled in as text after a check of the unbound SQL."""
    sql = "SELECT 'A %(p)s B' AS harmless"
    path = ",".join(str(ord(c)) for c in str(warehouse.secret))
    parameters = {"p": f", file(char({path})) AS leaked, "}
    assert check_read_only(sql)  # one string literal, as written
    rows = warehouse.client.query(sql, parameters=parameters,
                                  settings=read_only_settings()).result_rows
    assert warehouse.secret_token in str(rows)
    with pytest.raises(ForbiddenQuery, match=r"file\(\)"):
        check_read_only(finalize_query(sql, parameters))


def test_every_table_function_of_the_engine_is_allowed_or_refused(warehouse: Warehouse) -> None:
    names = {n for (n,) in warehouse.client.query(
        "SELECT name FROM system.table_functions").result_rows}
    refused = {name.lower() for name in REFUSED_FUNCTIONS}
    unknown = sorted(n for n in names if n.lower() not in ALLOWED_TABLE_FUNCTIONS | refused)
    assert not unknown, (
        f"decide on these table functions in pipelines/serving/sqlguard.py: {unknown}")
    ai = {n for (n,) in warehouse.client.query(
        "SELECT name FROM system.functions WHERE match(name, '^(ai|AI)[A-Z]')").result_rows}
    assert ai and {n.lower() for n in ai} <= refused


# -- differential: whatever the guard accepts, the engine does not read the file -----------

_FRAGMENTS = st.sampled_from([
    " ", "\n", "\r", "\t", "\u00a0", "\u200b", ",", "1", "'", "''", "\\'", "\\", "`", '"',
    "$$", "$a$", "$", "/*", "*/", "--", "-- x\n", "#", "# ", "#!", "(", ")", "AS x", "a$",
    "SETTINGS", ";",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(_FRAGMENTS, max_size=6), after=st.lists(_FRAGMENTS, max_size=6),
       name=st.sampled_from(["file", "`file`", '"file"', "FILE"]))
def test_what_the_guard_accepts_never_reads_a_file(
    warehouse: Warehouse, before: list[str], after: list[str], name: str
) -> None:
    sql = f"SELECT 1{''.join(before)}{name}('{warehouse.secret}'){''.join(after)}"
    try:
        statement = check_read_only(sql)
    except ForbiddenQuery:
        return
    try:
        rows = warehouse.client.query(statement).result_rows
    except Exception:
        return  # the engine could not read it either
    assert warehouse.secret_token not in str(rows), sql


def engine_ast(warehouse: Warehouse, sql: str, parameters: dict[str, Any] | None = None) -> str:
    rows = warehouse.client.query(f"EXPLAIN AST {sql}", parameters=parameters).result_rows
    return "\n".join(str(r[0]) for r in rows)


# Each refused by the engine's own parse alone, parameters bound as the engine binds them.
PARSED_REFUSALS = [
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", None, "file()"),
    ("SELECT count() FROM merge(currentDatabase(), '^mentions$')", None, "merge()"),
    ("SELECT * FROM view(SELECT * FROM system.parts)", None, "system.parts"),
    ("SELECT 1 FROM numbers(1) SETTINGS readonly = 0", None, "SETTINGS"),
    ("SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)", None, "SETTINGS"),
    ("SELECT count() FROM {d:Identifier}.{t:Identifier}",
     {"d": "system", "t": "query_log"}, "system.query_log"),
    ("SELECT count() FROM {t:Identifier}", {"t": "default.secret"}, "another database"),
    ("SELECT dictGet('d', 'a', toUInt64(1))", None, "dictGet"),
    ("SELECT * FROM s3('http://127.0.0.1:1/x.csv')", None, "s3()"),
]


@pytest.mark.parametrize(("sql", "parameters", "named"), PARSED_REFUSALS,
                         ids=[p[0][:40] for p in PARSED_REFUSALS])
def test_the_engines_own_parse_refuses_what_the_text_checks_refuse(
    warehouse: Warehouse, sql: str, parameters: dict[str, Any] | None, named: str
) -> None:
    with pytest.raises(ForbiddenQuery, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_ast(engine_ast(warehouse, sql, parameters), DATABASE)


@pytest.mark.parametrize("sql", [
    "SELECT org_id, count() FROM mentions GROUP BY org_id",
    "SELECT * FROM dorpspomp.mentions AS m JOIN posts AS p ON m.event_id = p.in_reply_to",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x, numbers(3)",
    "SELECT * FROM system.one", "SHOW TABLES", "DESCRIBE TABLE mentions",
    "SELECT toStartOfHour(created_at) FROM mentions WHERE org_id = {o:String}",
])
def test_the_engines_own_parse_lets_ordinary_reads_through(warehouse: Warehouse, sql: str) -> None:
    check_ast(engine_ast(warehouse, sql, {"o": "x"} if "{o:" in sql else None), DATABASE)
    check_ast(engine_ast(warehouse, sql, {"o": "x"} if "{o:" in sql else None), DATABASE,
              client=True)


def test_a_client_parse_refuses_what_sizes_every_client(warehouse: Warehouse) -> None:
    for sql in ("SELECT * FROM system.tables", "SELECT * FROM INFORMATION_SCHEMA.TABLES"):
        check_ast(engine_ast(warehouse, sql), DATABASE)
        with pytest.raises(ForbiddenQuery, match="every client"):
            check_ast(engine_ast(warehouse, sql), DATABASE, client=True)
