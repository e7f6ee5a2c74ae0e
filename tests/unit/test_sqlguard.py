"""The read-only guard refuses what could write, leak or escape, and says why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.serving.sqlguard import (
    ALLOWED_SYSTEM_TABLES,
    READ_ONLY_SETTINGS,
    REFUSED_FUNCTIONS,
    ForbiddenQuery,
    check_read_only,
    read_only_settings,
    read_only_statement,
    settings_clause,
    tokenize,
)


def refusal(sql: str) -> str:
    with pytest.raises(ForbiddenQuery) as caught:
        check_read_only(sql)
    message = str(caught.value)
    assert message.startswith("refused: ")
    assert "ad-hoc SQL only reads the warehouse tables (mentions, posts" in message
    return message


# -- statements --------------------------------------------------------------------

REFUSED_STATEMENTS = [
    ("INSERT INTO mentions (org_id) VALUES ('x')", "INSERT"),
    ("ALTER TABLE mentions DELETE WHERE 1", "ALTER"),
    ("DROP TABLE mentions", "DROP"),
    ("CREATE TABLE t (x Int8) ENGINE = Memory", "CREATE"),
    ("TRUNCATE TABLE mentions", "TRUNCATE"),
    ("RENAME TABLE mentions TO m2", "RENAME"),
    ("DELETE FROM mentions WHERE 1", "DELETE"),
    ("UPDATE mentions SET text = '' WHERE 1", "UPDATE"),
    ("OPTIMIZE TABLE mentions FINAL", "OPTIMIZE"),
    ("ATTACH TABLE mentions", "ATTACH"),
    ("DETACH TABLE mentions", "DETACH"),
    ("GRANT SELECT ON *.* TO reader", "GRANT"),
    ("REVOKE SELECT ON *.* FROM reader", "REVOKE"),
    ("KILL QUERY WHERE 1", "KILL"),
    ("SYSTEM DROP DNS CACHE", "SYSTEM"),
    ("USE system", "USE"),
    ("SET readonly = 0", "SET"),
    ("BACKUP TABLE mentions TO Disk('backups', 'b.zip')", "BACKUP"),
    ("RESTORE TABLE mentions FROM Disk('backups', 'b.zip')", "RESTORE"),
    ("EXCHANGE TABLES mentions AND posts", "EXCHANGE"),
    ("UNDROP TABLE mentions", "UNDROP"),
    ("MOVE USER reader TO disk_storage", "MOVE"),
    ("CHECK TABLE mentions", "CHECK"),
    ("insert into mentions select * from mentions", "INSERT"),
    ("  /* hello */ -- there\n  drop table mentions", "DROP"),
]


@pytest.mark.parametrize(("sql", "named"), REFUSED_STATEMENTS)
def test_statements_that_are_not_reads_are_refused_by_name(sql: str, named: str) -> None:
    assert f"refused: {named} " in refusal(sql)


@pytest.mark.parametrize("sql", [
    "SELECT 1; DROP TABLE mentions",
    "SELECT 1; SELECT 2",
    "SELECT 1 ; ; SELECT 2",
    "SELECT 1 /* ; */ ; -- end\n DROP TABLE mentions",
])
def test_more_than_one_statement_is_refused(sql: str) -> None:
    assert "more than one statement" in refusal(sql)


@pytest.mark.parametrize("sql", ["", "   ", ";", "-- nothing\n", "/* nothing */ ;"])
def test_an_empty_query_is_refused(sql: str) -> None:
    assert "empty" in refusal(sql)


@pytest.mark.parametrize(("sql", "named"), [
    ("FROM mentions SELECT count()", "`FROM`"),
    ("VALUES (1)", "`VALUES`"),
    ("(SHOW TABLES)", "SHOW"),
    ("EXPLAIN INSERT INTO mentions SELECT * FROM mentions", "INSERT"),
    ("EXPLAIN AST ALTER TABLE mentions DELETE WHERE 1", "ALTER"),
    ("EXPLAIN TABLE OVERRIDE mysql('h:3306', 'db', 't', 'u', 'p')", "TABLE"),
    ("EXPLAIN", "EXPLAIN"),
    ("WITH 1 AS x", "WITH without a SELECT"),
    ("SHOW PROCESSLIST", "PROCESSLIST"),
    ("SHOW USERS", "USERS"),
    ("SHOW GRANTS", "GRANTS"),
    ("SHOW ROW POLICIES", "ROW"),
    ("SHOW SETTINGS PROFILES", "SETTINGS"),
    ("SHOW CREATE USER default", "USER"),
    ("SHOW CREATE ROW POLICY p ON mentions", "ROW"),
    ("SHOW CREATE DICTIONARY d", "DICTIONARY"),
    ("SHOW DICTIONARIES", "DICTIONARIES"),
    ("SHOW MERGES", "MERGES"),
    ("EXISTS DICTIONARY d", "DICTIONARY"),
])
def test_only_read_statements_of_a_select_are_offered(sql: str, named: str) -> None:
    assert named in refusal(sql)


# -- clauses -------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1 SETTINGS max_threads = 1",
    "select 1 settings allow_experimental_eval_table_function",
    "SELECT * FROM (SELECT 1 SETTINGS readonly = 0)",
    "SELECT 1 SETTINGS `readonly` = 0",
    "EXPLAIN SELECT 1 SETTINGS readonly = 0",
    "SELECT 1 /* x */ SeTtInGs\n readonly=0",
])
def test_settings_clauses_are_refused(sql: str) -> None:
    assert "SETTINGS clause" in refusal(sql)


@pytest.mark.parametrize("sql", [
    "SELECT 1 FORMAT JSON",
    "SELECT 1 format CSVWithNames",
    "SELECT 1 FORMAT `Arrow`",
    "SELECT 1 FORMAT TabSeparated -- and a comment",
])
def test_format_clauses_are_refused(sql: str) -> None:
    assert "FORMAT clause" in refusal(sql)


@pytest.mark.parametrize("sql", [
    "SELECT 1 INTO OUTFILE '/tmp/x.csv'",
    "SELECT * FROM mentions INTO /* hm */ OUTFILE 'x' TRUNCATE",
    "select 1 into outfile 'a' append",
])
def test_into_outfile_is_refused(sql: str) -> None:
    assert "INTO OUTFILE writes a file" in refusal(sql)


# -- table functions and functions ---------------------------------------------------

TABLE_FUNCTION_CALLS = [
    ("file", "file('/etc/hostname', 'LineAsString')"),
    ("url", "url('http://127.0.0.1:9/', 'LineAsString')"),
    ("urlCluster", "urlCluster('default', 'http://127.0.0.1:9/')"),
    ("s3", "s3('http://127.0.0.1:9/b/k.csv')"),
    ("s3Cluster", "s3Cluster('default', 'http://127.0.0.1:9/b/k.csv')"),
    ("gcs", "gcs('http://127.0.0.1:9/b/k.csv')"),
    ("azureBlobStorage", "azureBlobStorage('DefaultEndpointsProtocol=x', 'c', 'b')"),
    ("hdfs", "hdfs('hdfs://127.0.0.1:9/x', 'CSV')"),
    ("remote", "remote('127.0.0.1:9', system.one)"),
    ("remoteSecure", "remoteSecure('127.0.0.1:9', 'db', 't')"),
    ("cluster", "cluster('default', currentDatabase(), 'mentions')"),
    ("clusterAllReplicas", "clusterAllReplicas('default', currentDatabase(), 'mentions')"),
    ("executable", "executable('id', 'LineAsString', 'x String')"),
    ("input", "input('x String')"),
    ("mysql", "mysql('127.0.0.1:9', 'db', 't', 'u', 'p')"),
    ("postgresql", "postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')"),
    ("mongodb", "mongodb('127.0.0.1:9', 'db', 'c', 'u', 'p', 'x String')"),
    ("redis", "redis('127.0.0.1:9', 'k', 'k String, v String')"),
    ("sqlite", "sqlite('/tmp/x.db', 't')"),
    ("jdbc", "jdbc('jdbc:mysql://127.0.0.1:9/?user=u', 'db', 't')"),
    ("odbc", "odbc('DSN=x', 'db', 't')"),
    ("hudi", "hudi('http://127.0.0.1:9/h/')"),
    ("deltaLake", "deltaLake('http://127.0.0.1:9/d/')"),
    ("iceberg", "iceberg('http://127.0.0.1:9/i/')"),
    ("icebergS3", "icebergS3('http://127.0.0.1:9/i/')"),
    ("icebergLocal", "icebergLocal('/tmp/i')"),
    ("paimon", "paimon('http://127.0.0.1:9/p/')"),
    ("paimonS3", "paimonS3('http://127.0.0.1:9/p/')"),
    ("fileCluster", "fileCluster('default', '/etc/hostname')"),
    ("filesystem", "filesystem('/etc')"),
    ("dictionary", "dictionary('d')"),
    ("merge", "merge(currentDatabase(), '^mentions$')"),
    ("loop", "loop(system, users)"),
    ("mergeTreeIndex", "mergeTreeIndex(currentDatabase(), mentions)"),
    ("python", "python(settings)"),
    ("eval", "eval('SELECT 1')"),
    ("prometheusQuery", "prometheusQuery(db, ts, 'up')"),
]


@pytest.mark.parametrize(("name", "call"), TABLE_FUNCTION_CALLS)
def test_table_functions_that_reach_past_the_warehouse_are_refused(name: str, call: str) -> None:
    message = refusal(f"SELECT * FROM {call}")
    assert f"the table function {name}()" in message
    assert REFUSED_FUNCTIONS[name] in message


@pytest.mark.parametrize(("name", "call"), TABLE_FUNCTION_CALLS)
def test_they_are_refused_inside_subqueries_ctes_and_joins_too(name: str, call: str) -> None:
    for sql in (
        f"SELECT count() FROM (SELECT * FROM {call})",
        f"WITH x AS (SELECT * FROM {call}) SELECT * FROM x",
        f"SELECT * FROM mentions AS m JOIN {call} AS f ON 1",
        f"SELECT * FROM mentions, {call}",
        f"SELECT 1 WHERE 1 IN (SELECT * FROM {call})",
        f"SELECT * FROM view(SELECT * FROM {call})",
        f"SELECT 1 UNION ALL SELECT * FROM {call}",
        f"DESCRIBE {call}",
        f"EXPLAIN SELECT * FROM {call}",
    ):
        assert f"{name}()" in refusal(sql), sql


@pytest.mark.parametrize("sql", [
    "SELECT file('/etc/hostname')",  # the scalar file() reads files even with readonly=1
    "SELECT length(FILE ('/etc/hostname'))",
    "SELECT arrayMap(x -> file(x), ['/etc/hostname'])",
    "SELECT `file`('/etc/hostname')",
    'SELECT "file"(\'/etc/hostname\')',
    "SELECT 1file('/x'), file('/etc/hostname')",
])
def test_the_scalar_file_function_is_refused(sql: str) -> None:
    assert "the function file() reads files on the server" in refusal(sql)


@pytest.mark.parametrize(("sql", "named"), [
    ("SELECT dictGet('d', 'v', 1)", "dictGet()"),
    ("SELECT dictGetStringOrDefault('d', 'v', 1, '')", "dictGetStringOrDefault()"),
    ("SELECT dictHas('d', 1)", "dictHas()"),
    ("SELECT aiGenerate('write a poem')", "aiGenerate()"),
    ("SELECT AIClassify(text, ['a', 'b']) FROM mentions", "aiClassify()"),
])
def test_functions_that_reach_out_are_refused(sql: str, named: str) -> None:
    assert named in refusal(sql)


# -- system tables and other databases -------------------------------------------------

@pytest.mark.parametrize(("sql", "why"), [
    ("SELECT * FROM system.users", "access configuration"),
    ("SELECT * FROM system.grants", "access configuration"),
    ("SELECT * FROM system.row_policies", "access configuration"),
    ("SELECT query FROM system.processes", "other users' queries"),
    ("SELECT query FROM system.query_log", "other users' queries"),
    ("SELECT * FROM `system`.`processes`", "other users' queries"),
    ('SELECT * FROM "system" . /* x */ "query_log"', "other users' queries"),
    ("SELECT * FROM SYSTEM.USERS", "access configuration"),
    ("SELECT * FROM system.parts", "not among the system tables"),
    ("SELECT * FROM system.disks", "not among the system tables"),
    ("SELECT * FROM system.server_settings", "not among the system tables"),
    ("SELECT 1 WHERE 'x' IN (SELECT name FROM system.users)", "access configuration"),
    ("SHOW COLUMNS FROM system.processes", "other users' queries"),
    ("SHOW CREATE TABLE system.users", "access configuration"),
    ("DESCRIBE TABLE system.users", "access configuration"),
])
def test_system_tables_outside_the_allow_list_are_refused(sql: str, why: str) -> None:
    message = refusal(sql)
    assert "the system table system." in message and why in message


@pytest.mark.parametrize("table", sorted(ALLOWED_SYSTEM_TABLES))
def test_the_allowed_system_tables_are_readable(table: str) -> None:
    assert check_read_only(f"SELECT * FROM system.{table} LIMIT 1")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM '/etc/hostname'",
    "SELECT * FROM `/etc/hostname`",
    'SELECT * FROM "/etc/hostname"',
    "SELECT * FROM `.env`",
    "SELECT * FROM $$/etc/hostname$$",
    "SELECT * FROM mentions, 'probe.csv'",
    "SELECT * FROM mentions JOIN `http://127.0.0.1:9/x.csv` USING (org_id)",
    "SELECT 'x' IN `/etc/hostname`",
    "DESCRIBE TABLE '/etc/hostname'",
    "DESC `/etc/hostname`",
    "EXISTS TABLE `/etc/hostname`",
    "SHOW CREATE TABLE `/etc/hostname`",
    "SELECT * FROM dorpspomp.`../../etc/hostname`",
])
def test_file_paths_where_a_table_belongs_are_refused(sql: str) -> None:
    message = refusal(sql)
    assert "where a table belongs" in message or "looks like a path or URL" in message


@pytest.mark.parametrize("sql", [
    "SELECT * FROM default.probefile",
    "SELECT * FROM `default`.`probefile`",
    "SELECT 1 WHERE 'x' IN default.hostname",
    "EXISTS TABLE default.hostname",
])
def test_the_default_database_is_refused(sql: str) -> None:
    assert "the database `default`" in refusal(sql)


# -- reading the text right ---------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "SELECT 'abc",
    "SELECT 'abc\\'",
    "SELECT `abc",
    'SELECT "abc',
    "SELECT 1 /* open",
    "SELECT 1 /* /* nested */ still open",
    "SELECT $$ abc",
    "SELECT $t$ abc $u$",
])
def test_unterminated_strings_names_and_comments_are_refused(sql: str) -> None:
    assert "never closed" in refusal(sql)


@pytest.mark.parametrize("sql", ["SELECT 1,\x00 2", "SELECT\x01 1", "SELECT 1\x7f"])
def test_control_characters_outside_strings_are_refused(sql: str) -> None:
    assert "control character" in refusal(sql)


@pytest.mark.parametrize("sql", [
    # each hides nothing from ClickHouse: the file() call is code there, so here too
    "SELECT 1 /* /* */ */, file('/etc/hostname')",
    "SELECT 1 /*/ */, file('/etc/hostname')",
    "SELECT 'a\\'', file('/etc/hostname') -- '",
    "SELECT 'a''', file('/etc/hostname') -- '",
    "SELECT $$ ' $$, file('/etc/hostname') -- '",
    "SELECT $t$ x $t$, file('/etc/hostname')",
    "SELECT 1 AS a$$, file('/etc/hostname') -- $$",
    "SELECT 1 AS `a```, file('/etc/hostname') -- `",
    "SELECT 1 #x\n, file('/etc/hostname')",
    "SELECT 1 -- x\r, 2\n, file('/etc/hostname')",
    "SELECT 1,\u00a0file\u200b('/etc/hostname')",
    "SELECT 1,\u3000file\ufeff\n(/**/'/etc/hostname')",
])
def test_quotes_comments_and_odd_spaces_do_not_hide_a_call(sql: str) -> None:
    assert "file()" in refusal(sql)


@pytest.mark.parametrize("sql", [
    "SELECT 1 AS `a\\``, 2",
    'SELECT 1 AS "a\\"b"',
])
def test_backslashes_in_quoted_names_are_refused(sql: str) -> None:
    assert "backslash inside the quoted name" in refusal(sql)


def test_the_tokenizer_follows_clickhouse_lexing() -> None:
    kinds = [(t.kind, t.text) for t in tokenize(
        "SELECT 'it''s', `a``b`, $x$ $$ $x$, 1e3, 0x1F, 1file, a$b"
        " #c\n# d\n-- e\r f\n#!g\n/* /* h */ */ 2"
    )]
    assert kinds == [
        ("word", "SELECT"), ("string", "'it''s'"), ("punct", ","), ("quoted", "`a``b`"),
        ("punct", ","), ("string", "$x$ $$ $x$"), ("punct", ","), ("number", "1e3"),
        ("punct", ","), ("number", "0x1F"), ("punct", ","), ("word", "1file"), ("punct", ","),
        ("word", "a$b"), ("punct", "#"), ("word", "c"), ("number", "2"),
    ]
    assert tokenize("`a``b`")[0].name == "a`b"


# -- what stays allowed ------------------------------------------------------------------

ACCEPTED = [
    "SELECT 1",
    "select count() from mentions",
    "SELECT 1;",
    "SELECT 1 ; ;",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SELECT number FROM numbers(10)",
    "SELECT count() FROM numbers_mt(1000000)",
    "SELECT * FROM generateRandom('a UInt8', 1) LIMIT 3",
    "SELECT * FROM values('x UInt8', 1, 2)",
    "SELECT * FROM view(SELECT org_id FROM mentions)",
    "SELECT format('{} {}', org_id, platform) FROM mentions",
    "SELECT name AS format FROM system.formats",
    "SELECT 1 AS settings",
    "SELECT name, value FROM system.settings WHERE changed",
    "SELECT * FROM mentions WHERE text ILIKE '%file(%' OR text = 'url(''x'')'",
    "SELECT 'SELECT * FROM file(''/etc/passwd''); DROP TABLE mentions -- SETTINGS readonly=0'",
    "SELECT $$ file('/etc/passwd') INTO OUTFILE $$ AS heredoc",
    "SELECT 1 -- file('/etc/passwd'); DROP TABLE mentions",
    "SELECT 1 /* file('/etc/passwd') ; SETTINGS readonly = 0 */",
    "SELECT `file`, \"url\" FROM (SELECT 1 AS `file`, 2 AS \"url\")",
    "SELECT count() AS `mentions per day (nl)` FROM mentions",
    """
    -- response times per organisation, last week
    WITH recent AS (
        SELECT org_id, response_seconds
        FROM mention_responses
        WHERE created_at >= now() - INTERVAL 7 DAY AND status = 'answered'
    )
    SELECT r.org_id, quantile(0.9)(r.response_seconds) AS p90, count() AS n
    FROM recent AS r
    LEFT JOIN (SELECT org_id, count() AS posts FROM posts GROUP BY org_id) AS p
        ON p.org_id = r.org_id
    WHERE r.org_id IN ('gemeente-zutphen', 'x') AND r.org_id NOT IN (SELECT 'y')
    GROUP BY r.org_id
    ORDER BY p90 DESC
    LIMIT 10
    """,
    "WITH (SELECT max(created_at) FROM mentions) AS latest SELECT latest",
    "SELECT trim(BOTH ' ' FROM text), extract(DAY FROM created_at) FROM mentions",
    "SELECT substring(text FROM 1 FOR 5) FROM mentions",
    "SELECT 1 IS DISTINCT FROM 2",
    "SELECT arr FROM (SELECT [1, 2] AS arr) ARRAY JOIN arr",
    "SELECT count() OVER (PARTITION BY org_id ORDER BY created_at) FROM mentions",
    "SELECT * FROM mentions FINAL SAMPLE 1 / 10",
    "SELECT * FROM mentions AS m, posts AS p WHERE p.in_reply_to = m.event_id",
    "SELECT * FROM dorpspomp.mentions",
    "SELECT name FROM system.tables WHERE database = currentDatabase()",
    "SELECT * FROM information_schema.columns",
    "SELECT * FROM (VALUES (1), (2))",
    "SELECT org_id FROM mentions WHERE org_id = {org:String}",
    "SHOW TABLES",
    "SHOW FULL TABLES FROM system LIKE 'c%'",
    "SHOW DATABASES",
    "SHOW COLUMNS FROM mentions",
    "SHOW CREATE TABLE mentions",
    "SHOW CREATE mentions",
    "SHOW SETTINGS LIKE 'max_%'",
    "SHOW CHANGED SETTINGS",
    "DESCRIBE TABLE mentions",
    "DESC (SELECT 1)",
    "DESCRIBE numbers(3)",
    "EXISTS TABLE mentions",
    "EXISTS mentions",
    "EXPLAIN SELECT 1",
    "EXPLAIN PLAN header = 1, actions = 1 SELECT * FROM mentions",
    "EXPLAIN QUERY TREE WITH 1 AS x SELECT x",
    "EXPLAIN ESTIMATE (SELECT count() FROM mentions)",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_read_statements_are_accepted(sql: str) -> None:
    assert check_read_only(sql)


def test_the_statement_comes_back_without_its_ends() -> None:
    sql = "\n  -- lead\n SELECT 1 /* keep */ + 2 ; ; -- trail\n/* and this */ "
    assert check_read_only(sql) == "SELECT 1 /* keep */ + 2"


# -- the engine's belt -------------------------------------------------------------------

def test_the_read_only_settings_set_readonly_last_with_every_limit() -> None:
    assert list(READ_ONLY_SETTINGS)[-1] == "readonly" and READ_ONLY_SETTINGS["readonly"] == 1
    assert READ_ONLY_SETTINGS["max_execution_time"] == 30
    assert READ_ONLY_SETTINGS["max_result_rows"] == 1_000_000
    assert READ_ONLY_SETTINGS["result_overflow_mode"] == "throw"
    assert {"max_result_bytes", "max_memory_usage"} <= set(READ_ONLY_SETTINGS)
    assert read_only_settings() == dict(READ_ONLY_SETTINGS)
    custom = read_only_settings(time_limit_s=2.5, max_rows=10)
    assert custom["max_execution_time"] == 2.5 and custom["max_result_rows"] == 10
    with pytest.raises(TypeError):
        READ_ONLY_SETTINGS["readonly"] = 0  # type: ignore[index]


@pytest.mark.parametrize(("time_limit_s", "max_rows"), [(0, 10), (-1, 10), (1, 0), (1, -5)])
def test_a_zero_limit_would_mean_none_and_is_refused(time_limit_s: float, max_rows: int) -> None:
    with pytest.raises(ValueError):
        read_only_settings(time_limit_s, max_rows)


def test_read_only_statement_attaches_the_limits_as_its_settings_clause() -> None:
    statement = read_only_statement("SELECT 1; -- done", time_limit_s=5, max_rows=7)
    assert statement == (
        "SELECT 1\nSETTINGS max_execution_time = 5, timeout_overflow_mode = 'throw', "
        "max_result_rows = 7, max_result_bytes = 1073741824, result_overflow_mode = 'throw', "
        "max_memory_usage = 2147483648, readonly = 1"
    )
    with pytest.raises(ForbiddenQuery):
        read_only_statement("SELECT * FROM file('/etc/hostname')")
    assert settings_clause({"a": "it's"}) == "SETTINGS a = 'it\\'s'"
    with pytest.raises(ValueError):
        settings_clause({"a = 1, readonly": 0})


def test_a_relayed_refusal_keeps_its_message() -> None:
    original = ForbiddenQuery("the table function file() reads files on the server")
    assert str(ForbiddenQuery(str(original))) == str(original)


# -- properties ----------------------------------------------------------------------------

_SPACES = st.sampled_from([
    " ", "\t", "\n", "\r\n", "\v", "\f", "\u00a0", "\u2003", "\u200b", "\ufeff",
    "-- c\n", "--\n", "# c\n", "#!c\n", "/**/", "/* c */", "/* /* nested */ */", "/*\n*/",
])
_NAMES = st.sampled_from(["file", "`file`", '"file"']).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
    )
)
_CONTEXTS = st.sampled_from([
    "SELECT * FROM {call}",
    "SELECT {call}",
    "select count() from (select * from {call})",
    "WITH t AS (SELECT * FROM {call}) SELECT * FROM t",
    "SELECT * FROM mentions WHERE text = 'file(' AND org_id IN (SELECT * FROM {call})",
    "DESCRIBE {call}",
    "EXPLAIN SELECT * FROM {call}",
    "SELECT 1 UNION ALL SELECT * FROM {call} -- trailing",
])


@given(
    context=_CONTEXTS,
    name=_NAMES,
    before=st.lists(_SPACES, max_size=3),
    between=st.lists(_SPACES, max_size=4),
    inside=st.lists(_SPACES, max_size=2),
)
def test_file_is_refused_however_it_is_spelled(
    context: str, name: str, before: list[str], between: list[str], inside: list[str]
) -> None:
    call = "".join(before) + name + "".join(between) + "(" + "".join(inside) + "'/etc/passwd')"
    message = refusal(context.format(call=call))
    assert "file()" in message


@given(text=st.text())
def test_no_string_literal_contents_cause_a_refusal(text: str) -> None:
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert check_read_only(f"SELECT {quoted}") == f"SELECT {quoted}"
    doubled = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    assert check_read_only(f"SELECT {doubled} AS x") == f"SELECT {doubled} AS x"


@given(text=st.text().filter(lambda t: "$$" not in t and not t.endswith("$")))
def test_no_heredoc_contents_cause_a_refusal(text: str) -> None:
    assert check_read_only(f"SELECT $${text}$$")
