"""Every mention and post keeps its Kafka timestamp, so that a restart rebuilds the event
clocks exactly as they were.

An event may move its partition's event-time clock only up to a minute past the time
Kafka received it (`pipelines.ingest.decode.clock_time`): one event dated ahead of its arrival
cannot throw every organisation's SLA timers and the watermark forward. After a restart
the processors rebuild their clocks from the warehouse, so the warehouse needs that time
too. `kafka_timestamp` sits with the other source columns (`ingested_at`,
`source_partition`, `source_offset`); rows written before this migration read it as their
`created_at` (the column's DEFAULT): events that were not ahead of their arrival, which is
what the clocks took them for when they were read.
"""

from schemas.tables import MENTIONS, POSTS

STATEMENTS = tuple(
    f"ALTER TABLE {{db}}.{table.name} ADD COLUMN IF NOT EXISTS "
    f"{next(c for c in table.columns if c.name == 'kafka_timestamp').ddl()} AFTER source_offset"
    for table in (MENTIONS, POSTS)
)
