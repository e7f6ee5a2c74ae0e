"""Migrations against the real embedded ClickHouse: forward, idempotent, complete."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from schemas.migrations import all_migrations
from schemas.tables import ALERTS_STATE, CONTRACT_COLUMNS

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


def test_a_warehouse_from_before_migration_0003_upgrades_through_every_later_one(
        tmp_path: Path) -> None:
    """Each migration reads the tables as the ones before it left them: 0003 copies the
    alert states before 0006 adds their `details`, and every alert is still there after."""
    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        warehouse.migrate()
        db = warehouse.database
        # The warehouse as migration 0002 left it: no copies sorted by time, no details.
        for statement in (
            f"DROP VIEW {db}.alerts", f"DROP VIEW {db}.alerts_by_time_feed",
            f"DROP TABLE {db}.alerts_by_time", f"DROP VIEW {db}.mention_responses",
            f"DROP VIEW {db}.mention_responses_by_time_feed",
            f"DROP TABLE {db}.mention_responses_by_time",
            f"ALTER TABLE {db}.alerts_state DROP COLUMN details",
        ):
            warehouse.client.command(statement)
        later = [m.name for m in all_migrations() if m.name >= "0003"]
        warehouse.client.command(f"DELETE FROM {db}.schema_migrations WHERE migration >= '0003'")
        old_columns = [c for c in ALERTS_STATE.names if c != "details"]
        warehouse.client.command(
            f"INSERT INTO {db}.alerts_state ({', '.join(old_columns)}) VALUES ('sla:old', "
            "'gemeente-zutphen', 'sla_breach', 'open', '2026-03-13 13:05:00', NULL, 1, 1, 0, "
            "'one late', [], '2026-03-13 13:05:00', 1, 0)")

        assert warehouse.migrate() == later
        rows = warehouse.client.query(
            f"SELECT alert_id, details FROM {db}.alerts").result_rows
        assert rows == [("sla:old", "")]
        warehouse.client.query(f"SELECT * FROM {db}.mention_responses LIMIT 1")
    finally:
        warehouse.close()


def test_tables_written_per_batch_merge_twenty_parts_at_a_time_also_after_an_upgrade(
        tmp_path: Path) -> None:
    """Migration 0009: every table a batch writes gets `merge_selector_base = 20`, in a new
    warehouse and in one from before it; its rows stay as they were."""
    fewer_merges = importlib.import_module("schemas.migrations.0009_fewer_merges")

    def bases(warehouse: Warehouse) -> dict[str, str]:
        rows = warehouse.client.query(
            "SELECT name, engine_full FROM system.tables WHERE database = 'dorpspomp'"
        ).result_rows
        return {name: ("20" if "merge_selector_base = 20" in engine else "default")
                for name, engine in rows if name in fewer_merges.TABLES}

    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        warehouse.migrate()
        assert bases(warehouse) == dict.fromkeys(fewer_merges.TABLES, "20")
        db = warehouse.database
        warehouse.record_offsets("g", "events", {0: 12, 1: 7})
        for table in fewer_merges.TABLES:
            warehouse.client.command(f"ALTER TABLE {db}.{table} RESET SETTING merge_selector_base")
        warehouse.client.command(f"DELETE FROM {db}.schema_migrations WHERE migration >= '0009'")
        assert bases(warehouse) == dict.fromkeys(fewer_merges.TABLES, "default")

        assert warehouse.migrate() == [m.name for m in all_migrations() if m.name >= "0009"]
        assert bases(warehouse) == dict.fromkeys(fewer_merges.TABLES, "20")
        assert warehouse.written_offsets("g", "events") == {0: 12, 1: 7}
    finally:
        warehouse.close()
