"""The worker's read endpoints: `/login` and `/query`, fair and bounded.

In embedded mode the worker owns the warehouse, so every reader's SQL runs here
(`pipelines.serving.readapi` sends it). Each request shows who it is for
(`pipelines.serving.access`): the operator's key, or a token that `/login` issued after
checking a login's password (through the machine's login throttle). The scope of
a client login comes from the users file, never from the request.

Reads cannot crowd out each other or the ingest path:

- two pools of reader threads, `DORPSPOMP_QUERY_SLOTS` each: one for the agency
  and the operator, one for client logins, so a client's slow queries never
  queue an agency query; a client login may have `DORPSPOMP_CLIENT_QUERY_SLOTS`
  queries running at once, more are refused at once (HTTP 429) with a message;
- every query runs with the time, row, result-byte and memory limits of the
  settings (a request may ask for fewer rows or bytes, never more), and client
  queries on one engine thread, so two of them leave a core to the rest;
- a reader thread whose query failed drops its engine connection
  (`Warehouse.reset_connection`): the next query, whoever sends it, starts clean.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipelines.serving.access import Caller, Unauthorized, issue_token, read_key, verify
from pipelines.serving.logins import UserBook, UsersFileError, load_users
from pipelines.serving.sqlguard import ForbiddenQuery
from pipelines.serving.throttle import LoginThrottle, ThrottleError
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse, WarehouseError

log = logging.getLogger("dorpspomp.queries")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
WRONG = "Wrong name or password."
CLIENT_ENGINE_THREADS = 1

# (kind, seconds, outcome) for whoever counts queries (pipelines.ingest.metrics)
QueryObserver = Callable[[str, float, str], None]


class Answer:
    """What an endpoint answers: JSON with a status, or Arrow bytes."""

    def __init__(self, status: int, json: dict[str, Any] | None = None,
                 arrow: bytes | None = None) -> None:
        self.status = status
        self.json = json
        self.arrow = arrow

    @classmethod
    def error(cls, status: int, message: str, kind: str) -> Answer:
        return cls(status, {"error": message, "kind": kind})


class UsersFile:
    """The dashboard's users file, read again whenever it changes; None without one."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._book: UserBook | None = None
        self._lock = threading.Lock()

    def book(self) -> UserBook | None:
        if self.path is None:
            return None
        info = self.path.stat()
        stamp = (info.st_mtime, info.st_size)
        with self._lock:
            if stamp != self._seen:
                self._book, self._seen = load_users(self.path), stamp
            return self._book


class QueryService:
    """`/login` and `/query` of one worker process."""

    def __init__(self, settings: Settings, warehouse: Warehouse,
                 observe: QueryObserver | None = None) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.key = read_key(settings.worker_key_file, create=True)
        self.users = UsersFile(settings.dashboard_users)
        self.throttle = LoginThrottle.for_settings(settings)
        self.observe = observe or (lambda kind, seconds, outcome: None)
        self._pools = {
            "agency": ThreadPoolExecutor(settings.query_slots, "reader-agency"),
            "client": ThreadPoolExecutor(settings.query_slots, "reader-client"),
        }
        self._running: Counter[str] = Counter()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    # -- /login --------------------------------------------------------------------

    def login(self, body: Any, peer: str) -> Answer:
        """Check a name and password (through the throttle); answer a token for the login."""
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not isinstance(body.get("password"), str):
            return Answer.error(400, 'expected a JSON body {"name": ..., "password": ...}',
                                "request")
        try:
            book = self.users.book()
        except (OSError, UsersFileError) as exc:
            return Answer.error(503, f"nobody can sign in: the users file cannot be read: {exc}",
                                "users")
        if book is None:
            return Answer.error(404, "this worker has no users file "
                                "(DORPSPOMP_DASHBOARD_USERS), so there are no logins", "users")
        name, password = body["name"], body["password"]
        address = body.get("address") if isinstance(body.get("address"), str) else None
        address = address or peer
        try:
            refusal = self.throttle.check(name, address)
            if refusal is not None:
                log.info("sign-in for %r from %s refused: locked", name.strip(), address)
                return Answer(429, {"error": refusal.message, "kind": "locked",
                                    "retry_after": round(refusal.retry_after)})
            login = book.authenticate(name, password)
            if login is None:
                self.throttle.failed(name, address)
                log.info("failed sign-in for %r from %s", name.strip(), address)
                return Answer.error(401, WRONG, "login")
            self.throttle.succeeded(name, address)
        except ThrottleError as exc:
            return Answer.error(503, f"nobody can sign in: {exc}", "throttle")
        log.info("%r signed in from %s", login.name, address)
        token = issue_token(self.key, login, hours=self.settings.login_token_hours)
        return Answer(200, {"token": token, "login": login.name,
                            "org_ids": sorted(login.org_ids) if login.org_ids else None})

    # -- /query --------------------------------------------------------------------

    def caller(self, authorization: str | None) -> Caller:
        presented = None
        if authorization and authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        try:
            book = self.users.book()
        except (OSError, UsersFileError):
            book = None  # tokens then fail; the operator's key still works
        return verify(self.key, presented, book)

    async def query(self, body: Any, authorization: str | None) -> Answer:
        try:
            caller = self.caller(authorization)
        except Unauthorized as exc:
            return Answer.error(401, str(exc), "unauthorized")
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            return Answer.error(400, 'expected a JSON body {"sql": "SELECT ...", '
                                '"parameters": {...}, "max_rows": N, "max_bytes": N}', "request")
        if body.get("scope") is not None:
            # Only the operator, who may read everything, may narrow a request to some
            # organisations (to see what a client sees); a login's scope is its own.
            if caller.kind != "operator":
                return Answer.error(403, "a sign-in token's request cannot name a scope: it "
                                    "comes from the token's login", "forbidden")
            try:
                caller = Caller("operator", None, request_scope(body["scope"]))
            except ValueError as exc:
                return Answer.error(400, str(exc), "request")
        parameters = body.get("parameters") or None
        if parameters is not None and not isinstance(parameters, dict):
            return Answer.error(400, "parameters must be a JSON object", "request")
        pool = "client" if caller.scoped else "agency"
        slot = caller.name or caller.kind
        if caller.scoped:
            if self._running[slot] >= self.settings.client_query_slots:
                self.observe(caller.kind, 0.0, "refused")
                return Answer.error(
                    429, f"you have {self._running[slot]} queries running; wait until one "
                    "ends (or it reaches its time limit) before starting another", "busy")
            self._running[slot] += 1
        started = time.monotonic()
        outcome = "error"
        try:
            table = await asyncio.get_running_loop().run_in_executor(
                self._pools[pool], self._run, caller, body["sql"], parameters,
                body.get("max_rows"), body.get("max_bytes"))
            outcome = "ok"
            return Answer(200, arrow=arrow_stream_bytes(table))
        except ForbiddenQuery as exc:
            outcome = "refused"
            return Answer.error(403, str(exc), "forbidden")
        except WarehouseError as exc:
            return Answer.error(400, str(exc), "query")
        finally:
            if caller.scoped:
                self._running[slot] -= 1
                if self._running[slot] <= 0:
                    del self._running[slot]
            self.observe(caller.kind, time.monotonic() - started, outcome)

    def _run(self, caller: Caller, sql: str, parameters: dict[str, Any] | None,
             max_rows: Any, max_bytes: Any) -> pa.Table:
        return self.warehouse.read_only_query(
            sql, parameters, max_rows=max_rows, max_bytes=max_bytes,
            org_ids=sorted(caller.org_ids) if caller.org_ids is not None else None,
            max_threads=CLIENT_ENGINE_THREADS if caller.scoped else None,
        )


def request_scope(scope: Any) -> frozenset[str]:
    """The organisations an operator's request narrows itself to; ValueError when malformed."""
    org_ids = scope.get("org_ids") if isinstance(scope, dict) else None
    if (not isinstance(org_ids, list) or not org_ids
            or not all(isinstance(o, str) and o and "," not in o for o in org_ids)):
        raise ValueError("scope.org_ids must be a non-empty list of organisation ids")
    return frozenset(org_ids)


def arrow_stream_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def register(app: Any, service: QueryService) -> None:
    """Add `/login` and `/query` to a faust app's web server."""
    import faust.web

    def respond(view: faust.web.View, answer: Answer) -> faust.web.Response:
        if answer.arrow is not None:
            return view.bytes(answer.arrow, content_type=ARROW_STREAM)
        return view.json(answer.json, status=answer.status)

    async def read_json(request: faust.web.Request) -> Any:
        try:
            return orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None

    @app.page("/login")
    class LoginView(faust.web.View):
        """POST {"name", "password", "address"?} → {"token", "login", "org_ids"}."""

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            body = await read_json(request)
            peer = getattr(request, "remote", None) or "unknown"
            loop = asyncio.get_running_loop()
            # scrypt takes tens of milliseconds: off the event loop
            answer = await loop.run_in_executor(None, service.login, body, str(peer))
            return respond(self, answer)

    @app.page("/query")
    class QueryView(faust.web.View):
        """POST {"sql", "parameters"?, "max_rows"?, "max_bytes"?} with
        `Authorization: Bearer <key or token>` → Arrow IPC stream, or JSON {"error"}."""

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            body = await read_json(request)
            answer = await service.query(body, request.headers.get("Authorization"))
            return respond(self, answer)
