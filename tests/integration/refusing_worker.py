"""`dorpspomp worker` whose warehouse refuses every insert while a file exists.

For the health tests: the same worker, broker and embedded warehouse as `dorpspomp
worker`, except that `Warehouse.insert_arrow` raises while `$DORPSPOMP_HOME/refuse-inserts`
exists (the way tests/integration/test_partial_failure.py makes a write fail, but in
the worker process). Run as `python -m tests.integration.refusing_worker`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa

from pipelines import warehouse
from pipelines.commands.cli import main

REFUSE = Path(os.environ["DORPSPOMP_HOME"]) / "refuse-inserts"
MESSAGE = "Code: 243. DB::Exception: the test refuses inserts into {table}"

_insert_arrow = warehouse.Warehouse.insert_arrow


def insert_arrow(self: warehouse.Warehouse, table: str, data: pa.Table) -> None:
    if data.num_rows and REFUSE.exists():
        raise warehouse.WarehouseError(MESSAGE.format(table=table))
    _insert_arrow(self, table, data)


warehouse.Warehouse.insert_arrow = insert_arrow  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["worker"]))
