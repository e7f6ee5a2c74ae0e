"""A batch whose write fails part-way is retried without losing derived rows.

Runs the ingest processor in this process against a real embedded warehouse and
makes the warehouse refuse one insert in the middle of a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.ingest.worker import IngestProcessor
from pipelines.roster import load_roster
from pipelines.settings import Settings
from pipelines.textmodel.classify import load_classifier
from pipelines.warehouse import Warehouse
from tests import eventgen
from tests.integration.harness import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def processor(tmp_path: Path) -> Iterator[IngestProcessor]:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path),
                                  "DORPSPOMP_ROSTER": str(ROOT / "examples/roster.yaml")})
    warehouse = Warehouse(settings)
    warehouse.migrate()
    yield IngestProcessor(settings, warehouse, load_roster(settings.roster), load_classifier())
    warehouse.close()


def responses(processor: IngestProcessor) -> list[tuple]:
    return processor.warehouse.client.query(
        "SELECT mention_id, first_response_id, version FROM dorpspomp.mention_responses_state "
        "FINAL ORDER BY mention_id").result_rows


def test_a_failed_insert_mid_batch_is_retried_and_derived_rows_are_complete(
    processor: IngestProcessor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = eventgen.conversations(400, seed=5)
    messages = [(0, offset, line) for offset, line in enumerate(lines)]
    half = len(messages) // 2

    processor.process("events", messages[:half])
    original = processor.sink.write_derived
    calls = {"n": 0}

    def fail_once(derived: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("warehouse went away")
        original(derived)  # type: ignore[arg-type]

    monkeypatch.setattr(processor.sink, "write_derived", fail_once)
    with pytest.raises(ConnectionError):
        processor.process("events", messages[half:])  # events written, derived rows not
    processor.process("events", messages[half:])  # the worker's retry
    monkeypatch.setattr(processor.sink, "write_derived", original)
    retried = responses(processor)

    # The same events in one clean pass, in a fresh warehouse of their own.
    processor.warehouse.client.command("DROP DATABASE dorpspomp SYNC")
    processor.warehouse.migrate()
    clean = IngestProcessor(processor.settings, processor.warehouse, processor.roster,
                            processor.classifier)
    clean.process("events", messages[:half])
    clean.process("events", messages[half:])
    assert retried == responses(clean)
    assert len(retried) > 200
