"""Each offset the worker records carries its partition's event clock, so that a restart
reads where every partition's clock stood from `ingest_offsets` instead of scanning every
stored event for it.

A restart rebuilds the stream processors from the warehouse; it needs, per partition, the
event clock at the recorded offset (the newest `clock_at` of the events before it,
`pipelines.ingest.decode.clock_time`). Finding it by scanning `mentions` and `posts` grows
with the history (about 2 s for each of two scans of a 10 M-mention warehouse); the worker knows the
value when it records the offset. `clock_at` is added after every other column of
`ingest_offsets`; rows written before this migration read it as NULL, and for a partition
whose newest row has no clock the restart scans as before (once: the next batch records it).
"""

from schemas.tables import INGEST_OFFSETS

_CLOCK = next(c for c in INGEST_OFFSETS.columns if c.name == "clock_at")

STATEMENTS = (
    f"ALTER TABLE {{db}}.{INGEST_OFFSETS.name} ADD COLUMN IF NOT EXISTS {_CLOCK.ddl()}",
)
