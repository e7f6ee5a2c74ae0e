"""A skip index on where each event was read (`source_partition`, `source_offset`), so that a
restart finds the events stored after its recorded offsets without reading every row.

A restart hands the processors every event at or after each partition's recorded offset
(`pipelines.ingest.restore`): a write cut short may have stored some. `mentions` and
`posts` are sorted by (org_id, created_at), which says nothing about offsets, so that
condition read the offsets of every stored event (0.4 s of CPU per table on a 10 M-mention
warehouse). With each granule's smallest and largest partition and offset at hand, the
engine skips every granule whose events all come before the recorded offsets, which is all
but the newest.

The index is built for the parts written from now on; `MATERIALIZE INDEX` builds it for the
parts already there in the background (until it has, those parts are read as before).
"""

from schemas.tables import MENTIONS, POSTS

STATEMENTS = tuple(
    statement
    for table in (MENTIONS.name, POSTS.name)
    for statement in (
        f"ALTER TABLE {{db}}.{table} ADD INDEX IF NOT EXISTS source_position "
        "(source_partition, source_offset) TYPE minmax GRANULARITY 1",
        f"ALTER TABLE {{db}}.{table} MATERIALIZE INDEX IF EXISTS source_position",
    )
)
