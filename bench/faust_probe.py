"""A faust agent that takes batches the way the worker does and does nothing with them.

`python -m bench.faust_probe BOOTSTRAP TOPIC TOTAL BATCH RESULT` reads TOTAL
events from the start of TOPIC and writes to the file RESULT, as JSON, the seconds it took
from its first event: what faust-streaming's own per-message path costs on this machine,
the ceiling of any faust worker here, between the bare aiokafka consumer and the pipeline.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import cast

import faust
import orjson

from pipelines.ingest.leanfaust import lean_app


def main(argv: list[str]) -> None:
    bootstrap, topic, total, batch = argv[0], argv[1], int(argv[2]), int(argv[3])
    result = argv[4]
    app = lean_app(
        f"bench-faust-probe-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}",
        store="memory://", value_serializer="raw", key_serializer="raw",
        web_enabled=False, autodiscover=False, consumer_auto_offset_reset="earliest",
        datadir=os.environ.get("TMPDIR", "/tmp") + f"/faust-probe-{os.getpid()}",
        stream_buffer_maxsize=max(4096, batch), broker_max_poll_records=min(batch, 50_000),
        broker_commit_every=max(10_000, batch),
    )
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    seen = 0
    first = 0.0

    @app.agent(source)
    async def count(stream: faust.StreamT) -> None:
        nonlocal seen, first
        async for events in cast(faust.Stream, stream).take_events(batch, within=0.5):
            if not first:
                first = time.perf_counter()
            seen += len(events)
            if seen >= total:
                break
        seconds = time.perf_counter() - first
        Path(result).write_bytes(orjson.dumps({"events": seen, "seconds": seconds}))
        os._exit(0)

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
