"""Migration 0006 gives the alerts their `details`: a warehouse written before it keeps its
alerts (they read ''), and every state written after shows its facts in `alerts`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.ingest.sink import alerts_table
from pipelines.processing.alerts import Alert
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from schemas.tables import ALERTS_STATE

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 13, 13, 5, tzinfo=UTC)


def alert(alert_id: str, details: dict[str, object]) -> Alert:
    return Alert(alert_id=alert_id, org_id="gemeente-zutphen", kind="complaint_surge",
                 status="open", opened_at=AT, resolved_at=None, severity=5.0, observed=40.0,
                 expected=8.0, summary="Gemeente Zutphen: 40 complaints in 10 min",
                 sample_event_ids=("a",), updated_at=AT, version=1, details=details)


def test_a_warehouse_from_before_the_column_keeps_its_alerts_and_gains_details(
        tmp_path: Path) -> None:
    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        warehouse.migrate()
        db = warehouse.database
        # The warehouse as migration 0005 left it: no details column, feed and view without.
        old_columns = [c for c in ALERTS_STATE.names if c != "details"]
        for statement in (
            f"DROP VIEW {db}.alerts", f"DROP VIEW {db}.alerts_by_time_feed",
            f"ALTER TABLE {db}.alerts_state DROP COLUMN details",
            f"ALTER TABLE {db}.alerts_by_time DROP COLUMN details",
            f"CREATE MATERIALIZED VIEW {db}.alerts_by_time_feed TO {db}.alerts_by_time AS "
            f"SELECT {', '.join(old_columns)} FROM {db}.alerts_state",
        ):
            warehouse.client.command(statement)
        warehouse.client.command(f"DELETE FROM {db}.schema_migrations "
                                 "WHERE migration = '0006_alert_details'")
        old = alerts_table([alert("complaint_surge:old", {})]).drop(["details"])
        warehouse.insert_arrow("alerts_state", old)

        assert warehouse.migrate() == ["0006_alert_details"]
        about = {"terms": [{"term": "#storing", "complaints": 14}], "share": 0.8}
        warehouse.insert_arrow("alerts_state", alerts_table([alert("complaint_surge:new",
                                                                    about)]))
        rows = warehouse.client.query(
            f"SELECT alert_id, details, JSONExtractString(details, 'terms', 1, 'term') AS term "
            f"FROM {db}.alerts ORDER BY alert_id").result_rows
        assert [(r[0], r[2]) for r in rows] == [("complaint_surge:new", "#storing"),
                                               ("complaint_surge:old", "")]
        assert json.loads(rows[0][1]) == about and rows[1][1] == ""
    finally:
        warehouse.close()
