"""A small simulated world decoded into ingest batches, as the worker's decode step gives
them: the input of tests that compare stream processors run in different ways (in the
worker's process or beside it, stopped and loaded again)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from pipelines.ingest.batch import IngestBatch, WriteResult
from pipelines.ingest.decoder import decode_messages
from pipelines.processing.processors import StreamProcessors
from pipelines.roster import Roster, load_roster
from pipelines.simulate import simulate_to_file
from pipelines.textmodel.classify import load_classifier


def decoded_world(tmp_path: Path) -> tuple[list[IngestBatch], Roster]:
    """Five days of twelve organisations (seed 5) in batches of 4 000 over three
    partitions, with the world's roster."""
    out = tmp_path / "world.jsonl"
    simulate_to_file(out, seed=5, orgs=12, days=5, scale=2.0)
    roster = load_roster(out.with_suffix(".roster.yaml"))
    lines = out.read_bytes().splitlines()
    messages = [(i % 3, i // 3, line) for i, line in enumerate(lines)]
    # no Kafka timestamps: taken as received now (the horizon is set wide for that)
    stamps = [None] * len(messages)
    classifier = load_classifier()
    size = 4000
    return [decode_messages("events", messages[a:a + size], stamps[a:a + size], roster,
                            classifier, timedelta(days=3650))
            for a in range(0, len(messages), size)], roster


Output = tuple[list[tuple[str, int, str, str]], list[dict[str, object]]]
"""The alert states (id, version, status, details) and response rows processors gave."""


def outputs(processors: StreamProcessors, batches: list[IngestBatch]) -> Output:
    """What `processors` make of `batches`, each taken as all new."""
    alerts, rows = [], []
    for batch in batches:
        derived = processors.process(batch, WriteResult(batch.mentions, batch.posts, 0, 0))
        alerts += [(a.alert_id, a.version, a.status, a.details_json()) for a in derived.alerts]
        assert isinstance(derived.rows, pa.Table)
        rows += derived.rows.to_pylist()
    return alerts, rows
