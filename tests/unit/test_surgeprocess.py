"""The surge detector in a process of its own gives what it gives in the worker's."""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest.batch import IngestBatch, WriteResult
from pipelines.processing.processors import StreamProcessors
from pipelines.processing.surgeprocess import DetectorProcess
from tests.decodedworld import decoded_world


def run(processors: StreamProcessors, batches: list[IngestBatch]) -> tuple[list, list]:
    alerts, rows = [], []
    for batch in batches:
        derived = processors.process(batch, WriteResult(batch.mentions, batch.posts, 0, 0))
        alerts += [(a.alert_id, a.version, a.status, a.observed, a.details_json())
                   for a in derived.alerts]
        rows.append(derived.rows)
    return alerts, rows


def test_the_detectors_process_gives_the_same_alerts_and_rows(tmp_path: Path) -> None:
    decoded, roster = decoded_world(tmp_path)
    here = run(StreamProcessors(roster, 86400), decoded)
    beside = StreamProcessors(roster, 86400, surge_process=True)
    assert isinstance(beside.detector, DetectorProcess)
    try:
        there = run(beside, decoded)
        assert beside.detector.tracked_orgs == 12
    finally:
        beside.detector.close()
    surges = [a for a in here[0] if a[0].startswith("complaint_surge")]
    assert surges, "the world should hold a surge the detector finds"
    assert there[0] == here[0]
    assert all(a.equals(b) for a, b in zip(there[1], here[1], strict=True))
