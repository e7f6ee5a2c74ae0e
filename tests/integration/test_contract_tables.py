"""The public tables of docs/contract.md §3 are what a migrated warehouse has.

A fresh embedded warehouse (chDB, its own DORPSPOMP_HOME), every migration
applied as the worker applies them, and `DESCRIBE TABLE` of each documented
table or view: its first columns are the documented ones, in the documented
order, and every time among them is DateTime64(3, 'UTC').
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from tests.contractdoc import public_columns

pytestmark = pytest.mark.integration

DOCUMENTED = public_columns()


@pytest.fixture(scope="module")
def described(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, list[tuple[str, str]]]]:
    home: Path = tmp_path_factory.mktemp("contract") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DORPSPOMP_")}
    settings = Settings.from_env({**env, "DORPSPOMP_HOME": str(home)})
    warehouse = Warehouse(settings)
    try:
        warehouse.migrate()
        yield {table: [(str(r[0]), str(r[1])) for r in warehouse.client.query(
            f"DESCRIBE TABLE {warehouse.table(table)}").result_rows] for table in DOCUMENTED}
    finally:
        warehouse.close()


def test_the_contract_documents_eight_tables_and_views() -> None:
    assert sorted(DOCUMENTED) == ["alerts", "dead_letters", "influencers", "mention_responses",
                                  "mentions", "org_activity_1m", "post_reach", "posts"]


@pytest.mark.parametrize("table", sorted(DOCUMENTED))
def test_a_public_table_begins_with_the_documented_columns(
    described: dict[str, list[tuple[str, str]]], table: str
) -> None:
    columns = [name for name, _ in described[table]]
    assert tuple(columns[:len(DOCUMENTED[table])]) == DOCUMENTED[table], columns


@pytest.mark.parametrize("table", sorted(DOCUMENTED))
def test_the_times_of_a_public_table_are_utc_milliseconds(
    described: dict[str, list[tuple[str, str]]], table: str
) -> None:
    times = {name: kind for name, kind in described[table] if "DateTime" in kind}
    assert times, f"{table} has no time column"
    assert all(re.fullmatch(r"DateTime64\(3, 'UTC'\)|Nullable\(DateTime64\(3, 'UTC'\)\)", kind)
               for kind in times.values()), times
