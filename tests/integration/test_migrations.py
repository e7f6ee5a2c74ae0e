"""Migrations against the real embedded ClickHouse: forward, idempotent, complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from schemas.migrations import all_migrations
from schemas.tables import CONTRACT_COLUMNS

pytestmark = pytest.mark.integration


def test_migrate_creates_every_public_table_and_runs_twice(tmp_path: Path) -> None:
    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        assert warehouse.migrate() == [m.name for m in all_migrations()]
        assert warehouse.migrate() == []
        # Running the statements themselves again is harmless too.
        for migration in all_migrations():
            for statement in migration.render(warehouse.database):
                warehouse.client.command(statement)
        rows = warehouse.client.query(
            "SELECT table, name, type FROM system.columns WHERE database = 'dorpspomp'"
        ).result_rows
        columns: dict[str, dict[str, str]] = {}
        for table, name, kind in rows:
            columns.setdefault(table, {})[name] = kind
        for table, expected in CONTRACT_COLUMNS.items():
            assert table in columns, f"{table} was not created"
            missing = set(expected) - set(columns[table])
            assert not missing, f"{table} lacks {missing}"
        time_columns = {("mentions", "created_at"), ("posts", "created_at"),
                        ("mention_responses", "first_response_at"), ("alerts", "opened_at"),
                        ("org_activity_1m", "minute"), ("dead_letters", "received_at")}
        for table, name in time_columns:
            assert "DateTime64(3, 'UTC')" in columns[table][name], (table, name)
        # A plain SELECT works on every public table (views included).
        for table in CONTRACT_COLUMNS:
            warehouse.client.query(f"SELECT * FROM dorpspomp.{table} LIMIT 1")
    finally:
        warehouse.close()
