"""The tables the ingest step writes: mentions, posts, dead letters, offsets.

The worker itself guarantees one row per event_id (it checks the warehouse
before it writes), so these are plain MergeTree tables that a user can SELECT
from directly. Sorting by (org_id, created_at) serves the per-client, per-period
questions the dashboard asks; the bloom filter serves the worker's event_id look-ups.
"""

from schemas.tables import DEAD_LETTERS, INGEST_OFFSETS, MENTIONS, POSTS, SCHEMA_MIGRATIONS

STATEMENTS = (
    "CREATE DATABASE IF NOT EXISTS {db}",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{SCHEMA_MIGRATIONS.name} (
{SCHEMA_MIGRATIONS.column_ddl()}
) ENGINE = ReplacingMergeTree ORDER BY migration""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{MENTIONS.name} (
{MENTIONS.column_ddl()},
    INDEX event_id_bloom event_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, created_at, event_id)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{POSTS.name} (
{POSTS.column_ddl()},
    INDEX event_id_bloom event_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX in_reply_to_bloom in_reply_to TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, created_at, event_id)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{DEAD_LETTERS.name} (
{DEAD_LETTERS.column_ddl()}
) ENGINE = MergeTree
ORDER BY (topic, partition, offset)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{INGEST_OFFSETS.name} (
{INGEST_OFFSETS.column_ddl()}
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (consumer_group, topic, partition)""",
)
