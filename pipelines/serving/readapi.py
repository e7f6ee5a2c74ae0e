"""Read-only access to the warehouse for everyone but the worker.

In embedded mode the worker owns the chDB directory (one process per
directory), so readers go through the worker's `/query` endpoint, which
answers in Arrow; when no worker runs they open the warehouse themselves. In
server mode they go straight to ClickHouse, with the reader DSN when one is set.
Either way the same guard (`pipelines.serving.sqlguard`) and limits apply.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
import pyarrow as pa

from pipelines.serving.access import read_key
from pipelines.serving.logins import Login
from pipelines.serving.orgscope import check_scoped, client_user
from pipelines.serving.sqlguard import ForbiddenQuery, check_read_only
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse, WarehouseError


class NotSignedIn(WarehouseError):
    """The worker did not take the request's key or sign-in token."""


class ReaderBusy(WarehouseError):
    """The login has as many queries running as it may; one has to end first."""


def operator_key(settings: Settings) -> str:
    """The worker's key, which lets this process read as the operator (every client)."""
    try:
        return read_key(settings.worker_key_file)
    except OSError as exc:
        raise WarehouseError(
            f"cannot read the worker's key {settings.worker_key_file} ({exc.strerror or exc}); "
            "run this as the user who runs `dorpspomp up`, with the same DORPSPOMP_HOME"
        ) from None


@dataclass(frozen=True)
class SignIn:
    """A login the worker checked: its token, and what it sees (None: every client)."""

    token: str
    login: str
    org_ids: frozenset[str] | None


def sign_in(settings: Settings, name: str, password: str, address: str) -> SignIn:
    """Ask the running worker to check a name and password; NotSignedIn with the reason
    to show (wrong password, locked, no users file) when it says no."""
    worker = running_worker(settings)
    if worker is None:
        raise WarehouseError(
            "nobody can sign in while the stream worker is not running (in embedded mode it "
            "checks sign-ins and answers every query); start it with `dorpspomp up`")
    request = urllib.request.Request(
        f"{worker.url}/login", method="POST", headers={"Content-Type": "application/json"},
        data=orjson.dumps({"name": name, "password": password, "address": address}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            error = str(exc)
        raise NotSignedIn(error) from None
    except OSError as exc:
        raise WarehouseError(f"the worker (pid {worker.pid}) did not answer on {worker.url}: "
                             f"{exc}") from None
    org_ids = answer.get("org_ids")
    return SignIn(str(answer["token"]), str(answer["login"]),
                  frozenset(org_ids) if org_ids is not None else None)


@dataclass(frozen=True)
class RunningWorker:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def running_worker(settings: Settings) -> RunningWorker | None:
    """The worker announced in DORPSPOMP_HOME/worker.json, if its process lives."""
    try:
        info = json.loads(settings.worker_file.read_text())
        pid, port = int(info["pid"]), int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return RunningWorker(pid, port)


def worker_health(worker: RunningWorker, timeout: float = 3.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{worker.url}/health", timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (OSError, ValueError):
        return None


def client_settings(settings: Settings, login: Login) -> Settings:
    """Server mode: `settings` with the reader DSN naming the client login's own ClickHouse
    user (made by `dorpspomp users sync-server`) on the same server and database."""
    if settings.embedded or not login.clickhouse_password or login.org_ids is None:
        raise ValueError("client_settings is for a client login with a ClickHouse user")
    base = urlsplit(settings.warehouse_reader or settings.warehouse)
    host = base.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{quote(client_user(login), safe='')}:{quote(login.clickhouse_password, safe='')}"
              f"@{host}" + (f":{base.port}" if base.port else ""))
    dsn = urlunsplit((base.scheme, netloc, base.path, base.query, base.fragment))
    return replace(settings, warehouse_reader=dsn)


class WarehouseReader:
    """Runs read-only SQL wherever the warehouse can be reached from this process.

    With `org_ids` (a client login's organisations) every statement is limited to
    them by the engine: the worker's `/query` gets the scope and sets the filters
    (embedded), or — in server mode — `settings` must name that client's own
    ClickHouse user as the reader (`pipelines.serving.orgscope`, `client_settings`).
    """

    def __init__(self, settings: Settings, org_ids: frozenset[str] | None = None, *,
                 token: str | None = None) -> None:
        self.settings = settings
        self.org_ids = org_ids
        self.token = token
        self._direct: Warehouse | None = None

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, *, max_rows: int | None = None
    ) -> pa.Table:
        # refuse early, with the same message everywhere
        if self.org_ids is None:
            check_read_only(sql)
        else:
            check_scoped(sql)
        if self.settings.embedded:
            worker = running_worker(self.settings)
            if worker is not None:
                return self._via_worker(worker, sql, parameters, max_rows)
        return self._warehouse().read_only_query(
            sql, parameters, max_rows=max_rows,
            org_ids=sorted(self.org_ids) if self.org_ids is not None else None,
        )

    def via(self) -> str:
        """Where queries go, for `dorpspomp status`."""
        if self.settings.embedded:
            worker = running_worker(self.settings)
            if worker is not None:
                return f"worker pid {worker.pid} at {worker.url}/query"
            return f"embedded warehouse {self.settings.warehouse_path}"
        return "ClickHouse server"

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = None

    def _warehouse(self) -> Warehouse:
        if self._direct is None:
            self._direct = Warehouse(self.settings, reader=True)
        return self._direct

    def _via_worker(
        self,
        worker: RunningWorker,
        sql: str,
        parameters: dict[str, Any] | None,
        max_rows: int | None,
    ) -> pa.Table:
        request_body: dict[str, Any] = {"sql": sql, "parameters": parameters or {},
                                        "max_rows": max_rows}
        if self.token is None and self.org_ids is not None:
            # the operator narrowing its own view; a login's token carries its scope
            request_body["scope"] = {"org_ids": sorted(self.org_ids)}
        body = orjson.dumps(request_body)
        request = urllib.request.Request(
            f"{worker.url}/query", data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token or operator_key(self.settings)}"},
        )
        timeout = self.settings.query_timeout + 15
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return pa.ipc.open_stream(response.read()).read_all()
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read()).get("error", str(exc))
            except ValueError:
                error = str(exc)
            if exc.code == 403:
                raise ForbiddenQuery(error) from None
            if exc.code == 401:
                raise NotSignedIn(error) from None
            if exc.code == 429:
                raise ReaderBusy(error) from None
            raise WarehouseError(error) from None
        except OSError as exc:
            raise WarehouseError(
                f"the worker (pid {worker.pid}) did not answer on {worker.url}: {exc}; "
                "is it still starting? `dorpspomp status` shows its state"
            ) from None
