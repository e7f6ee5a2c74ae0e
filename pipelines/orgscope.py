"""A client login's SQL sees only its organisations: enforced by ClickHouse, not by Python.

Two mechanisms, one per kind of warehouse:

- **Embedded (chDB)**: row policies need a ClickHouse server (chDB refuses
  `CREATE USER` and `CREATE ROW POLICY`: its user has no access management).
  So the worker runs a client's statement with the query setting
  `additional_table_filters`, one filter for *every* table and view of the
  warehouse database, read from the live catalog at each query: tables and views
  with an `org_id` column get `org_id IN (<the login's orgs>)`, the shared event
  clock (`watermarks`, which `mention_responses` needs to tell pending from
  unanswered) is left whole, every other table (`dead_letters`,
  `ingest_offsets`, …) reads empty. The setting comes before `readonly = 1` in
  the statement's SETTINGS clause, so the statement cannot change it.
  Measured on chDB 4.4 (ClickHouse 26.9): the filter holds for plain and
  database-qualified names, FINAL, views (also nested), subqueries, CTEs, JOINs
  of every kind, `IN table` and `IN (SELECT …)`, scalar subqueries, UNION /
  INTERSECT / EXCEPT in any position, and the `view()` and `viewIfPermitted()`
  table functions. It does not hold for `merge()` and `mergeTreeIndex()`
  (they read the tables unfiltered) nor for metadata (`system.parts`,
  `system.tables.total_rows`, `information_schema.tables.table_rows`,
  `EXPLAIN ESTIMATE`, the `_part_offset` virtual columns); the guard refuses
  those table functions for everyone, and `check_scoped` below refuses the
  metadata routes for client logins.
- **Server**: each client login gets its own ClickHouse user with a row policy
  per table (`row_policy_statements`), applied with `dorpspomp users
  sync-server`; the dashboard connects as that user. The read-only agency user
  gets a permissive policy, because once a table has a row policy ClickHouse
  hides its rows from every user that no policy names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from pipelines.logins import Login, UserBook
from pipelines.sqlguard import ForbiddenQuery, check_read_only, read_only_settings, tokenize

__all__ = [
    "CLIENT_PROFILE",
    "SHARED_TABLES",
    "check_scoped",
    "client_user",
    "row_policy_statements",
    "scoped_statement",
    "table_filters",
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


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def table_filters(
    catalog: Mapping[str, bool], database: str, org_ids: Collection[str]
) -> dict[str, str]:
    """`additional_table_filters` for a client: every table of `catalog` (name → has an
    org_id column) by its plain and its database-qualified name."""
    if not org_ids:
        raise ValueError("a client scope needs at least one organisation")
    visible = "org_id IN (" + ", ".join(_literal(o) for o in sorted(org_ids)) + ")"
    filters: dict[str, str] = {}
    for name, has_org in sorted(catalog.items()):
        rule = visible if has_org else ("1" if name in SHARED_TABLES else "0")
        filters[name] = rule
        filters[f"{database}.{name}"] = rule
    return filters


def scoped_statement(
    sql: str, filters: Mapping[str, str], *, time_limit_s: float, max_rows: int
) -> str:
    """The checked statement with the client's filters, then the read-only limits.

    `additional_table_filters` precedes `readonly = 1` (the last setting), so the
    statement runs with it and nothing in it can change it.
    """
    statement = check_scoped(sql)
    mapping = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in filters.items()) + "}"
    limits = ", ".join(
        f"{k} = {_literal(v) if isinstance(v, str) else repr(v)}"
        for k, v in read_only_settings(time_limit_s, max_rows).items()
    )
    return f"{statement}\nSETTINGS additional_table_filters = {mapping}, {limits}"


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
