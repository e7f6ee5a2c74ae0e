"""The one door to ClickHouse: clients, migrations, read-only queries.

Everything goes through clickhouse-connect with the DSN from
DORPSPOMP_WAREHOUSE, so the embedded warehouse (chDB, `chdb://PATH`) and a
ClickHouse server (`http(s)://...`) share one code path. chDB allows one
process per data directory: in embedded mode the worker owns it and serves
reads to everyone else (see `pipelines.serving.readapi`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import clickhouse_connect
import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.binding import bind_query
from clickhouse_connect.driver.client import Client

from pipelines.arrowtimes import holds_seconds, restore_times
from pipelines.ingest.seenids import DIGEST_SQL
from pipelines.serving.orgscope import (
    check_scoped,
    client_error,
    engine_access_config,
    missing_policies,
    scoped_statement,
)
from pipelines.serving.sqlguard import (
    ForbiddenQuery,
    check_ast,
    check_read_only,
    read_only_statement,
)
from pipelines.settings import Settings
from schemas.migrations import Migration, all_migrations

log = logging.getLogger(__name__)

__all__ = [
    "CUT_AT",
    "ForbiddenQuery",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "connect",
    "cut_at",
]

# Schema metadata of a read-only result that was cut at the request's max_rows: the count.
CUT_AT = b"dorpspomp.cut_at"

_MS_UTC = pa.timestamp("ms", tz="UTC")

INSERT_SETTINGS: dict[str, dict[str, Any]] = {
    # The response states go in as they are: the engine does not first replace the states of
    # a mention within the insert (its ReplacingMergeTree does that in the merges after, and
    # every reader takes the latest state: FINAL in the `mention_responses` view, argMax).
    # The worker's batches replayed: 3.4-3.5 against 4.2-4.4 ms of CPU per 1 000 states, with
    # the materialized view that copies them into `mention_responses_by_time` (the copy
    # inherits the setting).
    "mention_responses_state": {"optimize_on_insert": 0},
}
"""Settings of the inserts into a table, by table name."""


class WarehouseError(RuntimeError):
    """The warehouse could not be reached or refused a statement."""


class ResultTooLarge(WarehouseError):
    """A read-only query's result passed the byte limit; it was not read further."""


class WarehouseBusy(WarehouseError):
    """Another process owns the embedded warehouse (chDB's one-process rule)."""


def connect(settings: Settings, *, reader: bool = False) -> Client:
    """A clickhouse-connect client for the warehouse of `settings`.

    `reader=True` picks DORPSPOMP_WAREHOUSE_READER when it is set (server mode).
    """
    dsn = settings.warehouse_reader if reader and settings.warehouse_reader else settings.warehouse
    # Readers start in the dorpspomp database, so that `FROM mentions` works and
    # never in chDB's `default` database, whose engine maps table names to files.
    # The writer starts in `default`, because its migrations create the database.
    database = settings.database_name if reader else "default"
    try:
        if settings.embedded:
            path = settings.warehouse_path
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            # The engine's config carries the row policies that scope client logins
            # (pipelines.serving.orgscope); chDB reads it when the engine starts in this process.
            config = engine_access_config(settings.engine_config_dir, settings.database_name)
            return clickhouse_connect.get_client(
                dsn=f"chdb://{path}", database=database,
                chdb_options={"config-file": str(config)},
            )
        return clickhouse_connect.get_client(dsn=dsn, database=database, connect_timeout=5)
    except Exception as exc:
        text = str(exc)
        if reader and "UNKNOWN_DATABASE" in text:
            raise WarehouseError(
                f"the warehouse has no database {database!r} yet — start the worker "
                "(`dorpspomp up`) or run `dorpspomp migrate`"
            ) from exc
        if "lock" in text.lower() and settings.embedded:
            raise WarehouseBusy(
                f"the embedded warehouse at {settings.warehouse_path} is in use by another "
                "process (chDB allows one process per directory); with `dorpspomp up` running, "
                "`dorpspomp sql` goes through the worker — is the worker's web port "
                f"{settings.worker_port} reachable?"
            ) from exc
        raise WarehouseError(f"cannot open the warehouse {_redact(dsn)}: {text}") from exc


class Warehouse:
    """Typed access to the dorpspomp database for one process.

    Holds one client per thread (clickhouse-connect clients are not meant to be
    shared between threads; chDB clients in one process share the engine).
    """

    def __init__(self, settings: Settings, *, reader: bool = False) -> None:
        self.settings = settings
        self.database = settings.database_name
        self._reader = reader
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._checked_tables: dict[str, bool] | None = None

    @property
    def client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = connect(self.settings, reader=self._reader)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                try:
                    client.close()
                except Exception:  # pragma: no cover - closing is best effort
                    log.debug("closing a warehouse client failed", exc_info=True)
            self._clients.clear()
        self._local = threading.local()

    def table(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    # -- migrations -----------------------------------------------------------

    def applied_migrations(self) -> set[str]:
        exists = self.client.query(
            "SELECT count() FROM system.tables WHERE database = {db:String} "
            "AND name = 'schema_migrations'",
            parameters={"db": self.database},
        ).result_rows[0][0]
        if not exists:
            return set()
        rows = self.client.query(f"SELECT migration FROM {self.table('schema_migrations')}")
        return {r[0] for r in rows.result_rows}

    def migrate(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        """Apply the migrations not yet applied, oldest first; return their names."""
        done = self.applied_migrations()
        applied = []
        for migration in migrations if migrations is not None else all_migrations():
            if migration.name in done:
                continue
            for statement in migration.render(self.database):
                self.client.command(statement)
            self.client.insert(
                self.table("schema_migrations"),
                [[migration.name, datetime.now(UTC)]],
                column_names=["migration", "applied_at"],
            )
            applied.append(migration.name)
            log.info("applied migration %s", migration.name)
        return applied

    def pending_migrations(self) -> list[str]:
        done = self.applied_migrations()
        return [m.name for m in all_migrations() if m.name not in done]

    # -- writing --------------------------------------------------------------

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """Insert `data` unless it is empty (an empty table costs nothing), with the table's
        own insert settings (`INSERT_SETTINGS`)."""
        if data.num_rows:
            self.client.insert_arrow(self.table(table), data,
                                     settings=INSERT_SETTINGS.get(table))

    def existing_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Which of these event ids are already stored, as a mention or as a post."""
        ids = list(set(event_ids))
        if not ids:
            return set()
        result = self.client.query(
            f"SELECT event_id FROM {self.table('mentions')} "
            "WHERE event_id IN {ids:Array(String)} "
            f"UNION ALL SELECT event_id FROM {self.table('posts')} "
            "WHERE event_id IN {ids:Array(String)}",
            parameters={"ids": ids},
        )
        return {r[0] for r in result.result_rows}

    def stored_id_digests(self) -> np.ndarray:
        """The digest (`pipelines.ingest.seenids.DIGEST_SQL`) of every stored mention and post
        id."""
        parts = []
        for table in ("mentions", "posts"):
            result = self.client.query_arrow(
                f"SELECT {DIGEST_SQL} AS d FROM {self.table(table)}")
            parts.append(result.column("d").to_numpy())
        return np.concatenate(parts).astype(np.uint64) if parts else np.empty(0, np.uint64)

    def existing_dead_letters(
        self, topic: str, offsets: dict[int, list[int]]
    ) -> set[tuple[int, int]]:
        """Which (partition, offset) pairs of `topic` already have a dead letter."""
        found: set[tuple[int, int]] = set()
        for partition, offs in offsets.items():
            if not offs:
                continue
            result = self.client.query(
                f"SELECT partition, offset FROM {self.table('dead_letters')} "
                "WHERE topic = {topic:String} AND partition = {p:UInt32} "
                "AND offset BETWEEN {lo:UInt64} AND {hi:UInt64}",
                parameters={"topic": topic, "p": partition, "lo": min(offs), "hi": max(offs)},
            )
            found.update((int(p), int(o)) for p, o in result.result_rows)
        return found

    def written_offsets(self, group: str | None, topic: str) -> dict[int, int]:
        """The next offset to read per partition, as recorded after each write by `group`
        (None: by any group, the furthest of them)."""
        result = self.client.query(
            f"SELECT partition, max(next_offset) FROM {self.table('ingest_offsets')} "
            "WHERE (consumer_group = {g:String} OR {any:Bool}) AND topic = {t:String} "
            "GROUP BY partition",
            parameters={"g": group or "", "any": group is None, "t": topic},
        )
        return {int(p): int(o) for p, o in result.result_rows}

    def written_positions(self, group: str | None,
                          topic: str) -> dict[int, tuple[int, datetime | None]]:
        """Per partition, the next offset to read as recorded after each write by `group`
        (None: by any group, the furthest of them), and the partition's event clock recorded
        with it (None when unknown: a row from before migration 0007, or a writer without
        processors)."""
        result = self.client.query(
            "SELECT partition, max(next_offset), argMax(tuple(clock_at), next_offset).1 "
            f"FROM {self.table('ingest_offsets')} "
            "WHERE (consumer_group = {g:String} OR {any:Bool}) AND topic = {t:String} "
            "GROUP BY partition",
            parameters={"g": group or "", "any": group is None, "t": topic},
        )
        return {int(p): (int(o), as_utc(c) if c is not None else None)
                for p, o, c in result.result_rows}

    def resume_offsets(self, group: str, topic: str) -> dict[int, int]:
        """Where `group` goes on reading `topic`: its own recorded offsets, or, for a group
        new to this warehouse, the furthest any group recorded (what they wrote is stored and
        has been through their processors; reading it again would only find duplicates)."""
        return self.written_offsets(group, topic) or self.written_offsets(None, topic)

    def resume_positions(self, group: str,
                         topic: str) -> dict[int, tuple[int, datetime | None]]:
        """`resume_offsets` with each partition's recorded event clock (`written_positions`)."""
        return self.written_positions(group, topic) or self.written_positions(None, topic)

    def copy_missing_alert_states(self, since: datetime | None) -> int:
        """Copy into `alerts_by_time` (what the `alerts` view reads) the states in
        `alerts_state` updated at or after `since` (None: all) that it lacks; returns how
        many.

        Why: an insert into a table with a materialized view is not atomic. ClickHouse
        stores the insert's part in the table, then pushes the rows through the view (a
        chDB process killed in between, tried by hand with a view that sleeps, kept the
        table's rows and none of the view's), so a worker killed at that moment leaves the
        alert states of its last write in `alerts_state` only. A restart goes on from
        `alerts_state` and never writes those states again: without this copy the `alerts`
        view would show an older state of those alerts, or none, for good
        (`tests/integration/test_determinism.py` failed so: three alerts whose whole lives
        were in the killed write). `mention_responses_state` heals by itself: a restart
        writes the response rows of every event after the recorded offsets again."""
        alerts_state, by_time = self.table("alerts_state"), self.table("alerts_by_time")
        columns = ", ".join(f"`{name}`" for name, in self.client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} "
            "AND table = 'alerts_by_time' ORDER BY position",
            parameters={"db": self.database}).result_rows)
        recent = "updated_at >= {since:DateTime64(3)}" if since is not None else "1"
        missing = (f"FROM {alerts_state} WHERE {recent} AND (alert_id, version) NOT IN "
                   f"(SELECT alert_id, version FROM {by_time} WHERE {recent})")
        parameters = {"since": since} if since is not None else {}
        count = int(self.client.query(f"SELECT count() {missing}",
                                      parameters=parameters).result_rows[0][0])
        if count:
            self.client.command(f"INSERT INTO {by_time} ({columns}) SELECT {columns} {missing}",
                                parameters=parameters)
        return count

    def record_offsets(self, group: str, topic: str, next_offsets: dict[int, int],
                       clocks: Mapping[int, datetime] | None = None) -> None:
        """Record where `group` goes on reading, with each partition's event clock there
        (`clocks`, the newest clock time of the partition's events before its offset; a
        partition missing from it is recorded without)."""
        if not next_offsets:
            return
        clocks = clocks or {}
        partitions = sorted(next_offsets)
        # As Arrow, like every other insert: a row insert (`client.insert`) first asks the
        # engine for the table's column types (one DESCRIBE query per batch).
        self.insert_arrow("ingest_offsets", pa.table({
            "consumer_group": pa.array([group] * len(partitions), pa.string()),
            "topic": pa.array([topic] * len(partitions), pa.string()),
            "partition": pa.array(partitions, pa.uint32()),
            "next_offset": pa.array([next_offsets[p] for p in partitions], pa.uint64()),
            "written_at": pa.array([datetime.now(UTC)] * len(partitions), _MS_UTC),
            "clock_at": pa.array([clocks.get(p) for p in partitions], _MS_UTC),
        }))

    # -- reading --------------------------------------------------------------

    def read_only_query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        *,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        time_limit: float | None = None,
        org_ids: Collection[str] | None = None,
        max_threads: int | None = None,
    ) -> pa.Table:
        """Run user SQL that may only read; refuse anything else with a clear message.

        `org_ids` (a client login's organisations) limits every table to those
        organisations inside the engine: embedded, through the row policies of
        `pipelines.serving.orgscope` keyed on the statement's scope setting; on a server, the
        statement runs only as that client's own ClickHouse user, whose row policies
        filter it. Engine errors for a client never quote row values.

        `max_rows` and `max_bytes` can only lower the configured limits. A `max_rows` below
        the configured limit cuts the result there (`cut_at` tells), where the configured
        limit refuses a larger result: a SELECT is wrapped as `SELECT * FROM (…) LIMIT
        max_rows + 1` (exact, and the engine stops early; measured, `result_overflow_mode =
        'break'` returns whole blocks: 5 851 to 65 409 rows for a limit of 3), other
        statements are cut here. `DateTime` columns, which the engine's Arrow output writes
        as uint32 seconds, come back as timestamps (`pipelines.arrowtimes`). Client-side
        `%(name)s` parameters are bound first and the bound text is checked, so a
        parameter value cannot smuggle in a table function; server-side `{name:Type}`
        parameters stay typed values, and those that would stand for a name
        (`Identifier`) are refused. The limits travel in the statement's own
        SETTINGS clause (per-call settings would stick to a chDB session once
        readonly=1 is set), except for a server's read-only user, whose profile
        carries them and who may not send any.

        After any failure this thread's connection is closed and the next query opens
        a new one: a failed Arrow stream must not poison the next caller's answer.
        """
        check_parameter_types(sql, parameters)
        final, server_params = bind_query(sql, parameters) if parameters else (sql, {})
        if isinstance(final, bytes):
            raise ForbiddenQuery("refused: binary parameters are not supported in ad-hoc SQL")
        rows = _lowered(max_rows, self.settings.query_max_rows, "max_rows")
        cut = rows if rows < self.settings.query_max_rows else None
        size = _lowered(max_bytes, self.settings.query_max_bytes, "max_bytes")
        seconds = time_limit or self.settings.query_timeout
        memory = self.settings.query_max_memory

        def bounded(sql: str) -> str:
            """`sql` checked, with the scope and limits it runs under."""
            if org_ids is not None and not (self._reader and self.settings.warehouse_reader):
                return scoped_statement(
                    sql, org_ids, time_limit_s=seconds, max_rows=self.settings.query_max_rows,
                    max_bytes=size, max_memory=memory, max_threads=max_threads,
                )
            if org_ids is not None:
                return check_scoped(sql)  # the client's own user: its row policies filter
            if self._reader and self.settings.warehouse_reader:
                return check_read_only(sql)
            return read_only_statement(sql, time_limit_s=seconds,
                                       max_rows=self.settings.query_max_rows,
                                       max_bytes=size, max_memory=memory)

        statement = bounded(final)
        if org_ids is not None and self.settings.embedded and not (
                self._reader and self.settings.warehouse_reader):
            self.check_policies()
        typed = {k: v for k, v in (parameters or {}).items() if f"param_{k}" in server_params}
        ast = self._check_parse(final, typed or None, client=org_ids is not None)
        select = ast is not None and ast.startswith("SelectWithUnionQuery")
        if cut is not None and select:
            statement = bounded(f"SELECT * FROM (\n{check_read_only(final)}\n)\nLIMIT {cut + 1}")
        try:
            table = self._arrow_within(statement, typed or None, size)
        except ResultTooLarge:
            self.reset_connection()
            raise
        except Exception as exc:
            self.reset_connection()
            raw = str(exc)
            text = self._syntax_error(final) if "(SYNTAX_ERROR)" in raw else None
            text = text or _clean_error(raw, len(final))
            message = client_error(text) if org_ids is not None else text
            raise WarehouseError(message + _hint(text, self.settings)) from exc
        if select and holds_seconds(table.schema):
            table = self._with_times(table, statement, typed or None)
        if cut is not None and table.num_rows > cut:
            table = table.slice(0, cut).replace_schema_metadata(
                {**(table.schema.metadata or {}), CUT_AT: str(cut).encode()})
        return table

    def _check_parse(self, sql: str, parameters: dict[str, Any] | None, *,
                     client: bool) -> str | None:
        """The text checks, backed by the engine's own parse of the statement with its
        parameters bound (`sqlguard.check_ast`); the parse, or None when the engine cannot
        parse the statement (it is left to fail when it runs, with the engine's message)."""
        try:
            rows = self.client.query(f"EXPLAIN AST {sql}", parameters=parameters).result_rows
        except Exception:
            self.reset_connection()
            return None
        ast = "\n".join(str(row[0]) for row in rows)
        check_ast(ast, self.database, client=client)
        return ast

    def _syntax_error(self, sql: str) -> str | None:
        """The engine's syntax error for the person's statement alone. Run with the SETTINGS
        clause dorpspomp adds, the error quotes that clause and counts positions in the
        whole text; `formatQuery` parses the statement as it was written (nothing runs)."""
        try:
            self.client.query("SELECT formatQuery({statement:String})",
                              parameters={"statement": sql})
        except Exception as exc:
            self.reset_connection()
            text = str(exc).strip()
            for marker in (" (version ", "Stack trace"):
                text = text.split(marker)[0]
            # a statement over several lines is quoted over several lines: keep them all
            return re.sub(r":\s*In scope SELECT formatQuery\(.*(?=\s\(SYNTAX_ERROR\)$)", ".",
                          text.strip(), flags=re.DOTALL)
        return None

    def _with_times(self, table: pa.Table, statement: str,
                    parameters: dict[str, Any] | None) -> pa.Table:
        """`table` with its `DateTime` columns as timestamps, from the engine's DESCRIBE of the
        statement. The DESCRIBE carries the statement's own SETTINGS clause, so a scalar
        subquery that the analysis runs reads under the same scope and limits (measured:
        without it, a client's scalar subquery read other clients' rows). When it fails, the
        table stays as it is."""
        try:
            described = self.client.query(f"DESCRIBE TABLE (\n{statement}\n)",
                                          parameters=parameters).result_rows
        except Exception:
            self.reset_connection()
            log.debug("cannot describe a read-only result; its times stay numbers",
                      exc_info=True)
            return table
        return restore_times(table, [str(row[1]) for row in described])

    def _arrow_within(self, statement: str, parameters: dict[str, Any] | None,
                      max_bytes: int) -> pa.Table:
        """The statement's result as Arrow, read block by block and given up as soon as it
        passes `max_bytes` (the engine's own max_result_bytes does not hold in chDB's Arrow
        output: measured, a 1 GB result came back whole)."""
        with self.client.raw_stream(statement, parameters=parameters, fmt="ArrowStream") as raw:
            reader = pa.ipc.open_stream(raw)
            batches, total = [], 0
            for batch in reader:
                total += batch.nbytes
                if total > max_bytes:
                    raise ResultTooLarge(
                        f"the result is larger than {max_bytes / 2**20:,.0f} MiB "
                        "(DORPSPOMP_QUERY_MAX_BYTES); ask for fewer rows or columns, "
                        "or aggregate")
                batches.append(batch)
            return pa.Table.from_batches(batches, reader.schema)

    def reset_connection(self) -> None:
        """Close this thread's client; the next call opens a fresh one."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            return
        self._local.client = None
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
        try:
            client.close()
        except Exception:  # pragma: no cover - closing is best effort
            log.debug("closing a failed reader client failed", exc_info=True)

    def check_policies(self) -> None:
        """Refuse scoped reads unless every table of the database has the row policy a client
        scope needs (embedded mode): fail closed when the engine was started without
        dorpspomp's access config or a table was added behind its back."""
        live = self.catalog()
        if live == self._checked_tables:
            return
        try:
            result = self.client.query(
                "SELECT table, select_filter FROM system.row_policies "
                "WHERE database = {db:String}", parameters={"db": self.database})
        except Exception as exc:
            self.reset_connection()
            raise WarehouseError(
                "client logins cannot read: the warehouse's row policies cannot be checked "
                f"({_clean_error(str(exc))}); restart the worker") from exc
        policies = {str(t): str(f or "") for t, f in result.result_rows}
        wrong = missing_policies(live, policies)
        if wrong:
            raise WarehouseError(
                "client logins cannot read: the warehouse's tables "
                f"{', '.join(wrong)} have no row policy for client scopes (the engine was "
                "started without dorpspomp's access config, or the tables were made by hand); "
                "restart the worker (`dorpspomp up`), which writes the config and loads it")
        self._checked_tables = live

    def catalog(self) -> dict[str, bool]:
        """Every table and view of the database, name → whether it has an org_id column."""
        result = self.client.query(
            "SELECT t.name, countIf(c.name = 'org_id') > 0 FROM system.tables AS t "
            "LEFT JOIN system.columns AS c ON c.database = t.database AND c.table = t.name "
            "WHERE t.database = {db:String} GROUP BY t.name",
            parameters={"db": self.database},
        )
        return {str(name): bool(has_org) for name, has_org in result.result_rows}


    def row_counts(self, tables: Iterable[str]) -> dict[str, int]:
        counts = {}
        for name in tables:
            try:
                counts[name] = int(
                    self.client.query(f"SELECT count() FROM {self.table(name)}").result_rows[0][0]
                )
            except Exception:
                counts[name] = -1
        return counts


def cut_at(table: pa.Table) -> int | None:
    """The row count at which a read-only result was cut (the request's `max_rows`, with
    more rows behind it), or None when the result is whole."""
    value = (table.schema.metadata or {}).get(CUT_AT)
    return int(value) if value else None


def _lowered(asked: Any, configured: int, name: str) -> int:
    """A per-request limit, which may only lower the configured one."""
    if asked is None:
        return configured
    if isinstance(asked, bool) or not isinstance(asked, int) or asked <= 0:
        raise ForbiddenQuery(f"refused: {name} must be a positive whole number, not {asked!r}")
    return min(asked, configured)


_TYPED_PARAMETER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z][A-Za-z0-9_]*)")


def check_parameter_types(sql: str, parameters: dict[str, Any] | None) -> None:
    """Typed query parameters are values, never names: `{t:Identifier}` would put a table
    or database name into the statement past the checks of its text."""
    for match in _TYPED_PARAMETER.finditer(sql):
        if match.group(2).lower() == "identifier":
            raise ForbiddenQuery(
                f"refused: the parameter {{{match.group(1)}:Identifier}} would name a table, "
                "database or column past the checks of the statement's text; write the name "
                "in the statement itself")
    for name, value in (parameters or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ForbiddenQuery(f"refused: {name!r} is not a parameter name")
        if isinstance(value, (bytes, bytearray)):
            raise ForbiddenQuery("refused: binary parameters are not supported in ad-hoc SQL")


def as_utc(t: datetime) -> datetime:
    """A time read back from the warehouse, in UTC: values of expressions that lose the
    column's zone (toStartOfMinute, …) come back naive, and they are UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


_ERROR_KIND = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
# The SETTINGS clause dorpspomp adds to a statement (pipelines.serving.sqlguard,
# pipelines.serving.orgscope), as the engine quotes it back ("In scope SELECT … SETTINGS
# max_execution_time = 30, …").
# A syntax error's quote of it may end cut short, in "...".
_OUR_SETTINGS = re.compile(
    r"\s*SETTINGS (?:log_comment|max_threads|max_execution_time) = .*?(?:readonly = 1|\.\.\.)",
    re.DOTALL)


def _hint(error: str, settings: Settings) -> str:
    """What to do about an engine error that a limit of the settings caused."""
    kind = _ERROR_KIND.search(error)
    name = kind.group(1) if kind else ""
    if name == "TOO_MANY_ROWS_OR_BYTES":
        return (f"; a read returns at most {settings.query_max_rows:,} rows "
                "(DORPSPOMP_QUERY_MAX_ROWS): add a LIMIT or aggregate, or ask for the first "
                "rows only (`dorpspomp sql --max-rows N`, \"Most rows\" on the SQL page)")
    if name == "TIMEOUT_EXCEEDED":
        return (f"; a read may take {settings.query_timeout:g} s (DORPSPOMP_QUERY_TIMEOUT): "
                "narrow the time range or the organisations, or aggregate in fewer steps")
    if name == "MEMORY_LIMIT_EXCEEDED":
        return (f"; a read may use {settings.query_max_memory / 2**20:,.0f} MiB "
                "(DORPSPOMP_QUERY_MAX_MEMORY): group by fewer keys, narrow the time range, "
                "or select fewer columns")
    return ""


_SYNTAX = re.compile(
    r"failed at position (?P<pos>\d+)(?: \([^)]*\))? \(line \d+, col \d+\):(?P<echo>.*?)"
    r"(?:(?:\.\.\.|\.)\s+(?P<rest>(?:Expected|Unmatched) .*)|$)", re.DOTALL)


def _clean_error(text: str, statement_length: int | None = None) -> str:
    """ClickHouse errors carry a stack trace and version trailer; keep the sentence.

    A syntax error quotes the statement from where parsing failed; when that is past
    the end of the user's statement, the quote is dorpspomp's own SETTINGS clause,
    so it is left out. Other errors quote the statement "In scope …" with that clause,
    which is left out too: it is not what the person wrote."""
    first = text.strip().splitlines()[0] if text.strip() else text
    for marker in (" (version ", "Stack trace"):
        if marker in first:
            first = first.split(marker)[0]
    syntax = _SYNTAX.search(first)
    if syntax and statement_length is not None and int(syntax["pos"]) > statement_length:
        first = (first[:syntax.start()] + "failed at the end of the statement"
                 + (f". {syntax['rest']}" if syntax["rest"] else ""))
    return _OUR_SETTINGS.sub("", first).strip()


def _redact(dsn: str) -> str:
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return dsn
