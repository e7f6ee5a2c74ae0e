"""A small simulated world decoded into ingest batches, as the worker's decode step gives
them: the input of tests that compare stream processors run in different ways (in the
worker's process or beside it, stopped and loaded again)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.decoder import decode_messages
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
