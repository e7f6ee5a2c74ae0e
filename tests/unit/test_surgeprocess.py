"""The surge detector in a process of its own gives what it gives in the worker's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pipelines.ingest.batch import IngestBatch, WriteResult
from pipelines.ingest.decoder import decode_messages
from pipelines.processing.processors import StreamProcessors
from pipelines.processing.surgeprocess import DetectorProcess
from pipelines.roster import load_roster
from pipelines.simulate import simulate_to_file
from pipelines.textmodel.classify import load_classifier


def batches(tmp_path: Path) -> tuple[list[IngestBatch], Path]:
    out = tmp_path / "world.jsonl"
    simulate_to_file(out, seed=5, orgs=12, days=5, scale=2.0)
    roster_path = out.with_suffix(".roster.yaml")
    roster = load_roster(roster_path)
    lines = out.read_bytes().splitlines()
    messages = [(i % 3, i // 3, line) for i, line in enumerate(lines)]
    classifier = load_classifier()
    # no Kafka timestamps: taken as received now (the horizon is set wide for that)
    stamps = [None] * len(messages)
    size = 4000
    return [decode_messages("events", messages[a:a + size], stamps[a:a + size], roster,
                            classifier, timedelta(days=3650))
            for a in range(0, len(messages), size)], roster_path


def run(processors: StreamProcessors, batches: list[IngestBatch]) -> tuple[list, list]:
    alerts, rows = [], []
    for batch in batches:
        derived = processors.process(batch, WriteResult(batch.mentions, batch.posts, 0, 0))
        alerts += [(a.alert_id, a.version, a.status, a.observed, a.details_json())
                   for a in derived.alerts]
        rows.append(derived.rows)
    return alerts, rows


def test_the_detectors_process_gives_the_same_alerts_and_rows(tmp_path: Path) -> None:
    decoded, roster_path = batches(tmp_path)
    roster = load_roster(roster_path)
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
