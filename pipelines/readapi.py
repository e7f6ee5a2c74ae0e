"""Read-only access to the warehouse for everyone but the worker.

In embedded mode the worker owns the chDB directory (one process per
directory), so readers go through the worker's `/query` endpoint, which
answers in Arrow; when no worker runs they open the warehouse themselves. In
server mode they go straight to ClickHouse, with the reader DSN when one is set.
Either way the same guard (`pipelines.sqlguard`) and limits apply.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from pipelines.settings import Settings
from pipelines.sqlguard import ForbiddenQuery, check_read_only
from pipelines.warehouse import Warehouse, WarehouseError


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


class WarehouseReader:
    """Runs read-only SQL wherever the warehouse can be reached from this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._direct: Warehouse | None = None

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, *, max_rows: int | None = None
    ) -> pa.Table:
        check_read_only(sql)  # refuse early, with the same message everywhere
        if self.settings.embedded:
            worker = running_worker(self.settings)
            if worker is not None:
                return self._via_worker(worker, sql, parameters, max_rows)
        return self._warehouse().read_only_query(sql, parameters, max_rows=max_rows)

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
        body = orjson.dumps({"sql": sql, "parameters": parameters or {}, "max_rows": max_rows})
        request = urllib.request.Request(
            f"{worker.url}/query", data=body, method="POST",
            headers={"Content-Type": "application/json"},
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
            raise WarehouseError(error) from None
        except OSError as exc:
            raise WarehouseError(
                f"the worker (pid {worker.pid}) did not answer on {worker.url}: {exc}; "
                "is it still starting? `dorpspomp status` shows its state"
            ) from None
