"""The dashboard's data-access layer: the queries of `dashboard.queries`, run and shaped.

Pages ask `DashboardData` questions in domain terms ("the clients overview at
this watermark", "this client's response times in this range") and get polars
frames back. It takes any *reader*, an object with
`query(sql, parameters) -> pyarrow.Table`: the real `WarehouseReader` in the
app, a reader over a real warehouse in integration tests, a fake one in unit
tests. Every query runs with server-side typed parameters, and every one that
reads client data with the access filter of a `Scope`.

A reader that fails (worker down, warehouse missing, query refused) becomes a
`DataUnavailable` whose message a page can show as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import polars as pl
import pyarrow as pa

from dashboard import queries
from dashboard.figures import (
    RESPONSE_BIN_MORE,
    RESPONSE_BINS,
    Window,
    build_overview,
    local_midnight,
    zero_filled,
)
from dashboard.queries import Query
from dashboard.triage import SILENCE_LOOKBACK
from pipelines.roster import Org, Roster
from pipelines.serving.logins import Login
from pipelines.serving.orgscope import check_scoped
from pipelines.serving.readapi import WarehouseReader, client_settings, running_worker
from pipelines.serving.sqlguard import ForbiddenQuery, check_read_only
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseError

__all__ = [
    "Clock",
    "DashboardData",
    "DashboardReader",
    "DataUnavailable",
    "QueryFailed",
    "Reader",
    "Scope",
    "dashboard_reader",
    "sql_time",
]


class Reader(Protocol):
    """Anything that answers read-only SQL with typed parameters as an Arrow table; with
    `max_rows`, the first rows (`pipelines.warehouse.cut_at` says whether there were more)."""

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *,
              max_rows: int | None = None) -> pa.Table: ...


class DataUnavailable(RuntimeError):
    """The warehouse could not answer; the message says why and what to do."""


class QueryFailed(RuntimeError):
    """A person's ad-hoc SQL failed in the warehouse (a mistake in it, a limit, or no worker)."""


@dataclass(frozen=True)
class Scope:
    """Which organisations a viewer may see: `None` is everyone (the agency itself).

    A client login's scope travels twice: as the `VISIBLE` parameters of every
    dashboard query, and to the reader, whose engine filters every table to
    these organisations (so ad-hoc SQL is limited too, `pipelines.serving.orgscope`).
    """

    org_ids: frozenset[str] | None = None

    def sees(self, org_id: str) -> bool:
        return self.org_ids is None or org_id in self.org_ids

    def parameters(self) -> dict[str, Any]:
        if self.org_ids is None:
            return {"restrict": 0, "org_ids": []}
        return {"restrict": 1, "org_ids": sorted(self.org_ids)}


@dataclass(frozen=True)
class Clock:
    """The event-time watermark ("now" for every figure) and how much data there is."""

    now: datetime | None
    mentions: int
    posts: int

    @property
    def empty(self) -> bool:
        return self.now is None


def sql_time(t: datetime) -> str:
    """A DateTime64(3, 'UTC') parameter value: UTC, millisecond text ClickHouse parses."""
    if t.tzinfo is None:
        raise ValueError(f"{t!r} has no time zone")
    utc = t.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


class DashboardData:
    """Runs the dashboard's queries for one viewer and shapes the answers for the pages."""

    def __init__(
        self,
        reader: Reader,
        roster: Roster | None = None,
        scope: Scope | None = None,
        *,
        lateness_seconds: int = 86400,
        schema_reader: Reader | None = None,
    ) -> None:
        self.reader = reader
        self.schema_reader = schema_reader if schema_reader is not None else reader
        self.roster = roster if roster is not None else Roster.empty()
        self.scope = scope if scope is not None else Scope()
        self.lateness_seconds = lateness_seconds

    # -- running one query ---------------------------------------------------------

    def run(self, query: Query, **values: Any) -> pl.DataFrame:
        """`query` with `values` for its parameters (plus the scope's filter) as a frame."""
        parameters = self.parameters(query, **values)
        try:
            table = self.reader.query(query.sql, parameters)
        except ForbiddenQuery as exc:  # a bug in a constant, but say so plainly
            raise DataUnavailable(f"the warehouse refused the {query.name} query: {exc}") from exc
        except WarehouseError as exc:
            raise DataUnavailable(str(exc)) from exc
        except OSError as exc:
            raise DataUnavailable(f"the warehouse could not be reached: {exc}") from exc
        frame = _frame(table)
        if self.scope.org_ids is not None and "org_id" in frame.columns:
            # The query's filter and the engine's already did this; a third time costs little.
            frame = frame.filter(pl.col("org_id").is_in(sorted(self.scope.org_ids)))
        return frame

    def parameters(self, query: Query, **values: Any) -> dict[str, Any]:
        """Exactly the parameters `query` takes, in the form the reader sends them."""
        if query.filtered:
            values = {**self.scope.parameters(), **values}
        wanted = set(query.parameters)
        missing, unknown = wanted - set(values), set(values) - wanted
        if missing or unknown:
            raise TypeError(
                f"{query.name}: missing parameters {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return {name: _parameter(value) for name, value in values.items()}

    # -- the clock -------------------------------------------------------------------

    def clock(self) -> Clock:
        row = self.run(queries.WATERMARK).row(0, named=True)
        mentions, posts = int(row["mentions"]), int(row["posts"])
        now = row["watermark"] if mentions + posts > 0 else None
        return Clock(now=now, mentions=mentions, posts=posts)

    # -- organisations ---------------------------------------------------------------

    def orgs(self) -> list[str]:
        """Every organisation the viewer may see: the roster's and those with mentions."""
        seen = self.run(queries.KNOWN_ORGS)
        found = set(seen["org_id"].to_list()) if seen.height else set()
        return sorted(found | set(self.known_orgs()), key=lambda o: self.org_name(o).lower())

    def org(self, org_id: str) -> Org:
        return self.roster.org(org_id)

    def org_name(self, org_id: str) -> str:
        return self.roster.org(org_id).name or org_id

    def day_starts(self, now: datetime) -> dict[str, Any]:
        """Parameters giving each organisation's local midnight before `now`.

        The roster's organisations are listed; every other one has the defaults' time zone.
        """
        orgs = sorted(self.roster.orgs)
        starts = [local_midnight(now, self.roster.org(o).timezone) for o in orgs]
        default = local_midnight(now, self.roster.defaults.timezone)
        return {"day_orgs": orgs, "day_starts": starts, "default_day_start": default}

    def longest_answer_window(self) -> int:
        windows = [o.answer_window for o in self.roster.orgs.values()]
        return max([self.roster.defaults.answer_window, *windows])

    def open_history(self) -> timedelta:
        """How far back a mention can still be pending or get its first response: the
        longest answer window plus the lateness the worker allows."""
        return timedelta(seconds=self.longest_answer_window() + self.lateness_seconds)

    def known_orgs(self) -> list[str]:
        """The roster's organisations the viewer may see."""
        return sorted(o for o in self.roster.orgs if self.scope.sees(o))

    @property
    def agency_timezone(self) -> str:
        """The zone of the pages about every client: the roster's default zone."""
        return self.roster.defaults.timezone

    # -- all clients -----------------------------------------------------------------

    def clients_overview(self, clock: Clock) -> pl.DataFrame:
        """One row per organisation (roster or seen in the data) with its live figures."""
        assert clock.now is not None
        now = clock.now
        days = self.day_starts(now)
        volume = self.run(queries.CLIENTS_VOLUME, now=now, **days)
        since_today = min([*days["day_starts"], days["default_day_start"]])
        reach = self.run(queries.CLIENTS_REACH, now=now, since=since_today, **days)
        responses = self.run(queries.CLIENTS_RESPONSES, now=now, since=now - self.open_history(),
                             **days)
        alerts = self.run(queries.CLIENTS_ALERTS)
        surges = self.run(queries.CLIENTS_SURGES, now=now)
        silence = self.run(queries.CLIENTS_SILENCE, now=now, since=now - SILENCE_LOOKBACK)
        return build_overview(
            now=now,
            roster=self.roster,
            known=self.known_orgs(),
            volume=volume,
            reach=reach,
            responses=responses,
            alerts=alerts,
            surges=surges,
            silence=silence,
        )

    def clients_waiting(self, now: datetime, *, per_client: int = 3,
                        limit: int = 20) -> pl.DataFrame:
        """The mentions that wait longest for a first response across every visible
        client, at most `per_client` of each, oldest first."""
        return self.run(queries.CLIENTS_WAITING, since=now - self.open_history(),
                        per_client=per_client, limit=limit)

    # -- one client ------------------------------------------------------------------

    def _range(self, org_id: str, window: Window) -> dict[str, Any]:
        return {"org_id": org_id, "start": window.start, "end": window.end}

    def client_span(self, org_id: str) -> tuple[datetime, datetime] | None:
        """The first and newest mention of an organisation, None when it has none."""
        row = self.run(queries.CLIENT_SPAN, org_id=org_id).row(0, named=True)
        if not row["mentions"]:
            return None
        return row["first_at"], row["last_at"]

    def client_activity(self, org_id: str, window: Window) -> pl.DataFrame:
        """Mentions, complaints, shares and reach per bucket, zero-filled over the range."""
        found = self.run(
            queries.CLIENT_ACTIVITY, bucket_seconds=window.bucket_seconds,
            **self._range(org_id, window),
        )
        return zero_filled(found, window, ("mentions", "complaints", "shares",
                                            "potential_reach"))

    def client_alerts(self, org_id: str, window: Window, limit: int = 5000) -> pl.DataFrame:
        """The alerts open at some time in the range, newest first, at most `limit`."""
        return self.run(queries.CLIENT_ALERTS, limit=limit, **self._range(org_id, window))

    def client_response_summary(self, org_id: str, window: Window) -> dict[str, Any]:
        frame = self.run(queries.CLIENT_RESPONSE_SUMMARY, **self._range(org_id, window))
        row: dict[str, Any] = frame.row(0, named=True) if frame.height else {}
        decided = int(row.get("within_sla") or 0) + int(row.get("breached") or 0)
        row["within_sla_share"] = (row.get("within_sla") or 0) / decided if decided else None
        return row

    def client_response_histogram(self, org_id: str, window: Window) -> pl.DataFrame:
        """answered per (clock, bin label), every bin present for both clocks."""
        found = self.run(
            queries.CLIENT_RESPONSE_HISTOGRAM, bounds=[b for b, _ in RESPONSE_BINS],
            **self._range(org_id, window),
        )
        labels = [label for _, label in RESPONSE_BINS] + [RESPONSE_BIN_MORE]
        counts = {(r["clock"], int(r["bin"])): int(r["answered"]) for r in found.iter_rows(
            named=True)}
        rows = []
        for clock_name, clock_label in (("calendar", "calendar time"),
                                        ("business", "business hours")):
            for i, label in enumerate(labels):
                bin_index = i + 1 if i < len(RESPONSE_BINS) else 0
                rows.append({"clock": clock_label, "bin": label, "order": i,
                             "answered": counts.get((clock_name, bin_index), 0)})
        return pl.DataFrame(rows, schema={"clock": pl.String, "bin": pl.String,
                                          "order": pl.Int64, "answered": pl.Int64})

    def client_response_heatmap(self, org_id: str, window: Window) -> pl.DataFrame:
        return self.run(
            queries.CLIENT_RESPONSE_HEATMAP, timezone=self.org(org_id).timezone,
            **self._range(org_id, window),
        )

    def client_responders(self, org_id: str, window: Window) -> pl.DataFrame:
        return self.run(queries.CLIENT_RESPONDERS, **self._range(org_id, window))

    def client_open_queue(
        self, org_id: str, now: datetime, *, include_unanswered_since: datetime | None = None,
        limit: int = 200,
    ) -> pl.DataFrame:
        """Mentions waiting for a first response (pending), oldest first.

        With `include_unanswered_since`, also those whose answer window passed without
        one, posted since then.
        """
        since = now - self.open_history()
        statuses = ["pending"]
        if include_unanswered_since is not None:
            since = min(since, include_unanswered_since)
            statuses.append("unanswered")
        return self.run(
            queries.CLIENT_OPEN_QUEUE, org_id=org_id, since=since, statuses=statuses, limit=limit,
        )

    def client_influencers(self, org_id: str, window: Window, limit: int = 20) -> pl.DataFrame:
        """The most influential voices of the mentions posted in the range."""
        return self.run(queries.CLIENT_INFLUENCERS, limit=limit, **self._range(org_id, window))

    def sector_peers(self, org_id: str) -> list[str]:
        """The visible organisations of `org_id`'s sector in the roster (itself included)."""
        sector = self.org(org_id).sector
        if not sector:
            return [org_id]
        peers = {o.id for o in self.roster.orgs.values() if o.sector == sector}
        return sorted(p for p in peers | {org_id} if self.scope.sees(p))

    def sector_voice(self, peers: list[str], window: Window) -> pl.DataFrame:
        return self.run(
            queries.SECTOR_VOICE, peer_org_ids=peers, start=window.start, end=window.end,
            bucket_seconds=window.bucket_seconds,
        )

    # -- alerts --------------------------------------------------------------------

    def alerts_summary(self, start: datetime, end: datetime) -> dict[str, Any]:
        row: dict[str, Any] = self.run(
            queries.ALERTS_SUMMARY, start=start, end=end).row(0, named=True)
        return row

    def alerts(
        self, start: datetime, end: datetime, *, statuses: list[str] | None = None,
        kinds: list[str] | None = None, org_ids: list[str] | None = None, limit: int = 1000,
    ) -> pl.DataFrame:
        """Open alerts and those opened in [start, end), filtered; no kinds or orgs: all."""
        return self.run(
            queries.ALERTS_LIST, start=start, end=end,
            statuses=statuses if statuses is not None else ["open", "resolved"],
            kinds=kinds or [], clients=org_ids or [], limit=limit,
        )

    def alert_samples(self, alert_ids: list[str]) -> pl.DataFrame:
        if not alert_ids:
            return pl.DataFrame()
        return self.run(queries.ALERT_SAMPLES, alert_ids=alert_ids)

    # -- SQL page --------------------------------------------------------------------

    def ad_hoc(self, sql: str, max_rows: int | None = None) -> pa.Table:
        """A person's own read-only SQL, through the same guard and limits as `dorpspomp sql`;
        with `max_rows`, its first rows (`cut_at` of the result says whether it was cut).

        Refusals raise `ForbiddenQuery` (checked here first, so they are refused even
        when the warehouse is down), everything else that goes wrong `QueryFailed`.
        A client login's statement is limited to its organisations by the reader's
        engine (every table filtered); here it only meets the client's extra refusals
        early (`check_scoped`: metadata that sizes other clients' rows).
        """
        if self.scope.org_ids is not None:
            check_scoped(sql)
        else:
            check_read_only(sql)
        try:
            if max_rows is None:
                return self.reader.query(sql, None)
            return self.reader.query(sql, None, max_rows=max_rows)
        except WarehouseError as exc:
            raise QueryFailed(str(exc)) from exc
        except OSError as exc:
            raise QueryFailed(f"the warehouse could not be reached: {exc}") from exc

    def browsable_tables(self) -> tuple[str, ...]:
        """The tables a viewer may query: a client's reads of `dead_letters` come back empty
        (rejected input belongs to no organisation), so it is not offered to them."""
        if self.scope.org_ids is None:
            return queries.BROWSABLE_TABLES
        return tuple(t for t in queries.BROWSABLE_TABLES if t != "dead_letters")

    def public_columns(self) -> pl.DataFrame:
        parameters = self.parameters(queries.PUBLIC_COLUMNS, tables=list(self.browsable_tables()))
        try:
            table = self.schema_reader.query(queries.PUBLIC_COLUMNS.sql, parameters)
        except (ForbiddenQuery, WarehouseError, OSError) as exc:
            raise DataUnavailable(str(exc)) from exc
        return _frame(table)


def _parameter(value: Any) -> Any:
    if isinstance(value, datetime):
        return sql_time(value)
    if isinstance(value, (list, tuple)):
        return [_parameter(v) for v in value]
    return value


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


# -- the app's reader ----------------------------------------------------------------


@dataclass
class DashboardReader:
    """`WarehouseReader` as the dashboard uses it: it never opens chDB itself.

    In embedded mode the worker owns the chDB directory; a dashboard that
    opened it while the worker was down would keep the worker from starting.
    So without a running worker it says so instead. With `org_ids` (a client
    login) the engine limits every statement to those organisations.
    """

    settings: Settings
    org_ids: frozenset[str] | None = None
    refusal: str | None = None  # why this login cannot read at all (server set-up missing)
    token: str | None = None  # embedded: the worker's sign-in token of the login
    _reader: WarehouseReader = field(init=False)

    def __post_init__(self) -> None:
        self._reader = WarehouseReader(self.settings, self.org_ids, token=self.token)

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *,
              max_rows: int | None = None) -> pa.Table:
        if self.refusal is not None:
            raise WarehouseError(self.refusal)
        if self.settings.embedded and running_worker(self.settings) is None:
            raise WarehouseError(
                f"the stream worker is not running (no live worker announced in "
                f"{self.settings.worker_file}), and in embedded mode only the worker can "
                "open the warehouse; start it with `dorpspomp up`"
            )
        return self._reader.query(sql, parameters, max_rows=max_rows)


def dashboard_reader(settings: Settings, scope: Scope | None = None,
                     login: Login | None = None, token: str | None = None) -> Reader:
    """The reader for a viewer: unscoped for the agency, limited in the engine for a client.

    Embedded, a signed-in login reads with the token the worker issued for it, and the
    worker takes the scope from the login (a dashboard without logins reads with the
    worker's key). In server mode a client reads as its own ClickHouse user (row
    policies), made by `dorpspomp users sync-server`; without that user it cannot read.
    """
    if settings.embedded and token is not None:
        return DashboardReader(settings, scope.org_ids if scope else None, token=token)
    if scope is None or scope.org_ids is None:
        return DashboardReader(settings)
    if settings.embedded:
        return DashboardReader(settings, scope.org_ids, refusal=(
            "this session has no sign-in token from the worker; sign out and in again"))
    if login is None or not login.clickhouse_password:
        who = f"the login {login.name!r}" if login is not None else "this client view"
        return DashboardReader(settings, scope.org_ids, refusal=(
            f"{who} has no ClickHouse user of its own yet; in server mode a client reads as "
            "its own user with row policies: run `dorpspomp users sync-server`"))
    return DashboardReader(client_settings(settings, login), scope.org_ids)
