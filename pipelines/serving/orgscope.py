"""A client login's SQL sees only its organisations: enforced by ClickHouse, not by Python.

Two mechanisms, one per kind of warehouse; both are row policies, which the
engine applies while it reads a table, before any expression of the query
(PREWHERE, WHERE, SELECT) sees a row:

- **Embedded (chDB)**: chDB cannot `CREATE ROW POLICY` (its user has no
  writable access storage), but it loads row policies from a users file named
  in the engine's config at start-up. `engine_access_config` writes that file:
  for every table the migrations create, a policy on chDB's one user whose
  filter reads the query's `log_comment` setting. A query whose `log_comment`
  is `dorpspomp-scope:a,b` sees the rows of organisations a and b only (tables
  without organisations: none, except the shared event clock); any other query
  (the worker's own, an operator's) sees everything. A client's statement gets
  that `log_comment` in its SETTINGS clause, before `readonly = 1`, so nothing in
  the statement can change it (the guard refuses SETTINGS, and readonly=1
  refuses a change again). `check_policies` refuses every scoped query when
  the engine runs without these policies or a table lacks one: fail closed.
  Why not `additional_table_filters` (the first design): ClickHouse applies
  that filter *after* the query's own PREWHERE, and moves WHERE conditions
  there, so `PREWHERE throwIf(org_id = 'other')` or a failing cast on
  another client's text leaked rows through the error message (issue 10;
  measured on chDB 4.4 / ClickHouse 26.9). Row policies run first; `merge()`
  and views are filtered too, `mergeTreeIndex()` is refused by the engine.
- **Server**: each client login gets its own ClickHouse user with a row policy
  per table (`row_policy_statements`), applied with `dorpspomp users
  sync-server`; the dashboard connects as that user. The read-only agency user
  gets a permissive policy, because once a table has a row policy ClickHouse
  hides its rows from every user that no policy names.

Metadata that counts or sizes every client's rows together (system.tables,
system.columns, information_schema, EXPLAIN, `_part…` columns) is refused to
client logins by `check_scoped`, and engine errors shown to a client never
quote row values (`client_error`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from pipelines.serving.logins import Login, UserBook
from pipelines.serving.sqlguard import (
    ForbiddenQuery,
    check_read_only,
    read_only_settings,
    settings_clause,
    tokenize,
)

__all__ = [
    "CLIENT_PROFILE",
    "SCOPE_MARK",
    "SHARED_TABLES",
    "check_scoped",
    "client_error",
    "client_user",
    "declared_tables",
    "engine_access_config",
    "missing_policies",
    "row_policy_statements",
    "scoped_statement",
]

# Tables without org_id that a client's reads need whole: the event-time watermark
# (the newest event time read, over all organisations) decides `pending` versus
# `unanswered` inside the `mention_responses` view.
SHARED_TABLES = frozenset({"watermarks"})

# System tables a client's SQL may not read: they count or size every client's
# rows together (total_rows, total_bytes, data_compressed_bytes, table_rows).
_CLIENT_REFUSED_SYSTEM = frozenset({"tables", "columns"})
_SIZES = ("counts and sizes the rows of every client together; SHOW TABLES and "
          "DESCRIBE TABLE show the tables and their columns")
# Virtual columns that place a row among all the rows of its part (every client's).
_POSITION_PREFIXES = ("_part", "_block")

CLIENT_PROFILE = "dorpspomp_client"

# -- embedded: row policies keyed on the query's log_comment ---------------------------

SCOPE_MARK = "dorpspomp-scope:"
_SCOPE = "getSetting('log_comment')"
_UNSCOPED = f"NOT startsWith({_SCOPE}, '{SCOPE_MARK}')"
# Organisation ids never hold a comma (CONTRACT: [a-z0-9][a-z0-9._-]{0,127}).
_ORG_RULE = (f"{_UNSCOPED} OR has(splitByChar(',', substring({_SCOPE}, "
             f"{len(SCOPE_MARK) + 1})), org_id)")
POLICY_RULES = {"org": _ORG_RULE, "shared": "1", "none": _UNSCOPED}

_CREATE = re.compile(
    r"CREATE (?P<what>TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS `[^`]+`\.(?P<name>\w+)"
    r"(?P<body>.*)", re.DOTALL,
)


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def declared_tables(database: str) -> dict[str, bool]:
    """Every table, view and materialized view the migrations create, name → whether it
    has an org_id column.

    Each gets a policy: a table's filters its rows wherever they are read; a view's and a
    materialized view's filter what is read through them (measured: selecting from a
    materialized view reads its target table without the target's policy).
    """
    from schemas.migrations import all_migrations

    tables: dict[str, bool] = {}
    for migration in all_migrations():
        for statement in migration.render(database):
            match = _CREATE.match(statement.strip())
            if match is None:
                continue
            body = match["body"]
            if match["what"] == "TABLE":
                columns = body.split(") ENGINE", 1)[0]
                tables[match["name"]] = "`org_id`" in columns
            else:  # a view's columns are its SELECT's: it shows org_id when it names it
                tables[match["name"]] = re.search(r"\borg_id\b", body) is not None
    return tables


def policy_kind(name: str, has_org: bool) -> str:
    return "org" if has_org else ("shared" if name in SHARED_TABLES else "none")


def engine_access_config(directory: Path, database: str) -> Path:
    """Write the embedded engine's config (its users file, with a row policy per table of
    `database`) into `directory` and return the config's path, for chDB's `config-file`.

    chDB reads it once, when the engine starts in this process; `check_policies` finds
    out at query time whether it did.
    """
    directory.mkdir(parents=True, exist_ok=True)
    policies = "".join(
        f"<{name}><filter>{escape(POLICY_RULES[policy_kind(name, has_org)])}</filter></{name}>"
        for name, has_org in sorted(declared_tables(database).items())
    )
    users = (
        "<clickhouse>\n"
        "  <!-- written by dorpspomp (pipelines/serving/orgscope.py) at every start: edits are lost"
        " -->\n"
        "  <profiles><default></default></profiles>\n"
        "  <quotas><default></default></quotas>\n"
        "  <users><default>\n"
        "    <password></password><networks><ip>::/0</ip></networks>\n"
        "    <profile>default</profile><quota>default</quota>\n"
        "    <access_management>1</access_management>\n"
        f"    <databases><{database}>{policies}</{database}></databases>\n"
        "  </default></users>\n"
        "</clickhouse>\n"
    )
    users_path = directory / "users.xml"
    config_path = directory / "config.xml"
    _write(users_path, users)
    _write(config_path, "<clickhouse>\n"
           f"  <users_config>{escape(str(users_path.resolve()))}</users_config>\n"
           "</clickhouse>\n")
    return config_path


def _write(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def missing_policies(
    tables: Mapping[str, bool], policies: Mapping[str, str]
) -> list[str]:
    """Tables of the live catalog (name → has org_id) whose row policy (name → filter) is
    not the one a client scope needs; empty when every table is covered."""
    wrong = []
    for name, has_org in sorted(tables.items()):
        want = POLICY_RULES[policy_kind(name, has_org)]
        if _squash(policies.get(name, "")) != _squash(want):
            wrong.append(name)
    return wrong


def _squash(rule: str) -> str:
    return re.sub(r"[\s()]", "", rule).lower()


def scoped_statement(
    sql: str, org_ids: Collection[str], *, time_limit_s: float, max_rows: int,
    max_bytes: int | None = None, max_memory: int | None = None, max_threads: int | None = None,
) -> str:
    """The checked statement with the client's scope, then the read-only limits.

    The scope (`log_comment`) precedes `readonly = 1` (the last setting), so the
    statement runs with it and nothing in it can change it.
    """
    if not org_ids:
        raise ValueError("a client scope needs at least one organisation")
    bad = [o for o in org_ids if "," in o or not o]
    if bad:
        raise ValueError(f"not organisation ids: {bad!r}")
    statement = check_scoped(sql)
    settings: dict[str, int | float | str] = {
        "log_comment": SCOPE_MARK + ",".join(sorted(set(org_ids)))}
    if max_threads:
        settings["max_threads"] = max_threads
    settings.update(read_only_settings(time_limit_s, max_rows, max_bytes=max_bytes,
                                       max_memory=max_memory))
    return f"{statement}\n{settings_clause(settings)}"


# Engine errors whose text names only the query's own text, types and names, never a
# row's value: a client login sees them whole. Every other error (a failed cast quotes
# the value, throwIf its message, …) is reported by its name only.
_SAFE_ERRORS = frozenset({
    "SYNTAX_ERROR", "UNKNOWN_IDENTIFIER", "UNKNOWN_TABLE", "UNKNOWN_FUNCTION",
    "UNKNOWN_DATABASE", "NUMBER_OF_ARGUMENTS_DOESNT_MATCH", "ILLEGAL_TYPE_OF_ARGUMENT",
    "TYPE_MISMATCH", "NO_COMMON_TYPE", "TIMEOUT_EXCEEDED", "TOO_MANY_ROWS_OR_BYTES",
    "MEMORY_LIMIT_EXCEEDED", "READONLY", "ACCESS_DENIED", "NOT_AN_AGGREGATE",
    "ILLEGAL_AGGREGATION", "AMBIGUOUS_IDENTIFIER", "AMBIGUOUS_COLUMN_NAME",
    "UNKNOWN_AGGREGATE_FUNCTION", "BAD_ARGUMENTS", "ILLEGAL_COLUMN", "QUERY_WAS_CANCELLED",
    "TOO_DEEP_SUBQUERIES", "TOO_DEEP_RECURSION", "TOO_BIG_AST", "TOO_DEEP_AST",
    "UNSUPPORTED_METHOD", "NOT_IMPLEMENTED", "UNKNOWN_SETTING", "TOO_MANY_COLUMNS",
    "TOO_MANY_QUERY_PLAN_OPTIMIZATIONS", "INVALID_JOIN_ON_EXPRESSION",
    "NO_SUCH_COLUMN_IN_TABLE", "THERE_IS_NO_COLUMN", "UNKNOWN_TYPE",
})
_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
_ERROR_CODE = re.compile(r"Code: (\d+)")


def client_error(text: str) -> str:
    """What a client login is told of an engine error: the whole sentence when that kind
    of error cannot quote a row, else its name and what to try."""
    name_match = _ERROR_NAME.search(text.strip())
    name = name_match.group(1) if name_match else None
    if name in _SAFE_ERRORS:
        return _without_settings(text)
    code = _ERROR_CODE.search(text)
    label = name or (f"code {code.group(1)}" if code else "an engine error")
    return (f"the query failed in the warehouse ({label}); for client logins the engine's "
            "own message is not shown, because it can quote values of rows. Check the "
            "functions and casts it applies to column values (e.g. toUInt64OrNull "
            "instead of toUInt64), or ask the agency to run it")


def _without_settings(text: str) -> str:
    """An engine error without the SETTINGS clause dorpspomp added to the statement."""
    return re.sub(r"\s*SETTINGS log_comment = .*?readonly = 1", "", text, flags=re.DOTALL)


def check_scoped(sql: str) -> str:
    """`check_read_only`, plus what a client login may not read even with its rows filtered.

    Refused: system.tables and system.columns, `information_schema`, EXPLAIN, and the
    virtual columns `_part…`/`_block…`: each tells something about the other clients'
    rows (how many, how large, where) without reading them.
    """
    statement = check_read_only(sql)
    tokens = tokenize(statement)
    if tokens and tokens[0].is_word("explain"):
        raise ForbiddenQuery(
            "refused: EXPLAIN shows how many parts, granules and rows of the whole table "
            "(every client's) a query reads; client logins run the query itself"
        )
    for i, token in enumerate(tokens):
        name = token.name
        if name is None:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        if name in ("information_schema",) and nxt is not None and nxt.text == ".":
            raise ForbiddenQuery(
                f"refused: information_schema {_SIZES} (at {_where(statement, token.start)})")
        if (name == "system" and nxt is not None and nxt.text == "." and after is not None
                and after.name in _CLIENT_REFUSED_SYSTEM):
            raise ForbiddenQuery(
                f"refused: system.{after.name} {_SIZES} (at {_where(statement, token.start)})")
        if name.startswith(_POSITION_PREFIXES):
            raise ForbiddenQuery(
                f"refused: the virtual column {token.text} places rows among every client's "
                f"rows (at {_where(statement, token.start)})")
    return statement


def _where(sql: str, offset: int) -> str:
    line = sql.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (sql.rfind(chr(10), 0, offset) + 1) + 1}"


# -- server mode: a ClickHouse user per client login ---------------------------------


def client_user(login: Login) -> str:
    """The ClickHouse user of a client login."""
    return "dorpspomp_client_" + login.name.replace(".", "_").replace("-", "_")


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def row_policy_statements(
    book: UserBook,
    database: str,
    catalog: Mapping[str, bool],
    *,
    agency_users: Iterable[str],
    time_limit_s: float = 30,
    max_rows: int = 1_000_000,
) -> list[str]:
    """DDL that gives every client login a ClickHouse user limited by row policies.

    Idempotent: run it again after `dorpspomp users add` (new passwords, new
    organisations) and it converges. `catalog` is the warehouse database's tables
    (name → has org_id); `agency_users` keep seeing every row.
    """
    agency = sorted(set(agency_users))
    db = _ident(database)
    profile = _literal(CLIENT_PROFILE)
    limits = ", ".join(
        f"{k} = {_literal(v) if isinstance(v, str) else repr(v)}"
        for k, v in read_only_settings(time_limit_s, max_rows).items()
    )
    statements = [f"CREATE SETTINGS PROFILE OR REPLACE {_ident(CLIENT_PROFILE)} SETTINGS {limits}"]
    clients = book.clients()
    for login in clients:
        if not login.clickhouse_password or login.org_ids is None:
            raise ValueError(f"the client login {login.name!r} has no ClickHouse password yet")
        user = _ident(client_user(login))
        statements += [
            f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY "
            f"{_literal(login.clickhouse_password)} SETTINGS PROFILE {profile}",
            f"ALTER USER {user} IDENTIFIED WITH sha256_password BY "
            f"{_literal(login.clickhouse_password)} SETTINGS PROFILE {profile}",
            f"REVOKE ALL ON *.* FROM {user}",
            f"GRANT SELECT ON {db}.* TO {user}",
        ]
    for table, has_org in sorted(catalog.items()):
        target = f"{db}.{_ident(table)}"
        everyone = ", ".join(_ident(u) for u in agency)
        if everyone:
            statements.append(
                f"CREATE ROW POLICY OR REPLACE {_ident('dorpspomp_agency')} ON {target} "
                f"FOR SELECT USING 1 TO {everyone}")
        for login in clients:
            assert login.org_ids is not None
            if has_org:
                rule = "org_id IN (" + ", ".join(_literal(o) for o in sorted(login.org_ids)) + ")"
            else:
                rule = "1" if table in SHARED_TABLES else "0"
            statements.append(
                f"CREATE ROW POLICY OR REPLACE {_ident('dorpspomp_' + client_user(login))} "
                f"ON {target} FOR SELECT USING {rule} TO {_ident(client_user(login))}")
    return statements


def removed_user_statements(
    users: Iterable[str], database: str, catalog: Iterable[str]
) -> list[str]:
    """DDL that drops the ClickHouse users of removed client logins and their policies."""
    statements = []
    for user in sorted(set(users)):
        for table in sorted(catalog):
            statements.append(f"DROP ROW POLICY IF EXISTS {_ident('dorpspomp_' + user)} "
                              f"ON {_ident(database)}.{_ident(table)}")
        statements.append(f"DROP USER IF EXISTS {_ident(user)}")
    return statements
