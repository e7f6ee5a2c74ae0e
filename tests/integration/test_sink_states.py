"""Response states written by the sink, read back the way users read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.ingest.batch import Derived
from pipelines.ingest.sink import WarehouseSink
from pipelines.processing.responses import ROWS_SCHEMA
from pipelines.settings import Settings
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.integration

POSTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def state(mention_id: str, answered_after: timedelta | None) -> dict[str, object]:
    answered = POSTED + answered_after if answered_after is not None else None
    return {
        "org_id": "gemeente-zutphen", "mention_id": mention_id, "platform": "x",
        "created_at": POSTED, "first_response_id": "r-" + mention_id if answered else None,
        "first_response_at": answered, "responder_handle": "@zutphen" if answered else None,
        "responder_role": "official" if answered else None,
        "response_seconds": answered_after.total_seconds() if answered_after else None,
        "business_response_seconds": answered_after.total_seconds() if answered_after else None,
        "sla_seconds": 3600.0,
        "sla_breached": bool(answered_after and answered_after > timedelta(hours=1)),
        "author_id": "a1", "author_handle": "@inwoner", "kind": "mention", "complaint": True,
        "answer_deadline": POSTED + timedelta(days=2), "sla_breach_at": POSTED + timedelta(hours=1),
        "version": 0 if answered is None else 2**62 - int(answered.timestamp() * 1000),
    }


def test_states_of_one_mention_in_one_batch_read_as_its_latest(tmp_path: Path) -> None:
    """A batch that carries a mention's open state and its answer (and the answer again, as a
    retried write does) shows the answer once, in the view and in its copy by time."""
    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        warehouse.migrate()
        sink = WarehouseSink(warehouse, "g")
        rows = pa.Table.from_pylist(
            [state("m1", None), state("m2", None), state("m1", timedelta(minutes=20))],
            schema=ROWS_SCHEMA)
        sink.write_derived(Derived(rows=rows, alerts=[], watermark=POSTED + timedelta(hours=2)))
        sink.write_derived(Derived(rows=rows.slice(2), alerts=[], watermark=None))
        seen = warehouse.client.query(
            "SELECT mention_id, status, first_response_id, response_seconds, sla_breached "
            "FROM dorpspomp.mention_responses ORDER BY mention_id").result_rows
        assert seen == [("m1", "answered", "r-m1", 1200.0, False),
                        ("m2", "pending", None, None, True)]
        copies = warehouse.client.query(
            "SELECT mention_id, count() FROM dorpspomp.mention_responses_by_time FINAL "
            "GROUP BY mention_id ORDER BY mention_id").result_rows
        assert copies == [("m1", 1), ("m2", 1)]
    finally:
        warehouse.close()
