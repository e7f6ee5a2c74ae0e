"""Fewer background merges: each table the worker writes per batch merges its parts twenty at a
time, not five.

Every batch adds a part to each table it writes (`mentions`, `posts`, the two state tables
and their copies sorted by time, `ingest_offsets`, `watermarks`; `dead_letters` when a
batch has any), and the engine merges those parts again and again in the background. The
simple merge selector merges a run of parts once their sizes add up to `merge_selector_base`
times the largest of them (5 MiB is added to each size first, so small parts merge about
`merge_selector_base` at a time), so with the default of 5 a row is rewritten about once per
fivefold growth of its part; with 20, once per twentyfold.
Measured on the rows the worker wrote for 1 M simulated events (the batches replayed into
a fresh embedded warehouse, CPU of the whole process, load 10-15): the engine's merge
threads 3.7-3.9 -> 1.9-2.2 us an event in batches of 20 000 events, 19-21 -> 6-7 us an
event in live batches of 1 250 every 0.25 s.

What it costs: more parts between merges (35-60 against 25-40 over these tables after
1-2 M events), so a read that merges parts (`FINAL`, behind `mention_responses` and
`alerts`) has more of them to merge: a whole-table count of `mention_responses` by status
took 213-226 ms of CPU against 169-178 ms after 2 M events. The engine itself bounds the
parts (ClickHouse's `SimpleMergeSelector`): it lowers the base towards 1 as a partition's
parts go from 10 to 50 and as parts age (small ones from 10 s to an hour), so older data ends
up merged as before.

Nothing a query returns changes (merges only change how rows are stored; the
ReplacingMergeTree tables are read with FINAL or argMax). `MODIFY SETTING` changes a table's
settings only, so it is safe to run again; a warehouse from before this migration gets it
like a new one.
"""

from schemas.tables import (
    ALERTS_STATE,
    DEAD_LETTERS,
    INGEST_OFFSETS,
    MENTION_RESPONSES_STATE,
    MENTIONS,
    POSTS,
    WATERMARKS,
)

MERGE_SELECTOR_BASE = 20

# The tables a batch writes, with the copies sorted by time that migration 0003 feeds from
# the two state tables.
TABLES = (
    MENTIONS.name, POSTS.name, DEAD_LETTERS.name, MENTION_RESPONSES_STATE.name,
    "mention_responses_by_time", ALERTS_STATE.name, "alerts_by_time", INGEST_OFFSETS.name,
    WATERMARKS.name,
)

STATEMENTS = tuple(
    f"ALTER TABLE {{db}}.{table} MODIFY SETTING merge_selector_base = {MERGE_SELECTOR_BASE}"
    for table in TABLES
)
