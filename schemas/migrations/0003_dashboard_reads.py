"""Faster dashboard reads on years of data: responses sorted by time, influencers in two steps.

`mention_responses` read by time: a copy of the response states sorted by created_at.

`mention_responses_state` is sorted by (org_id, mention_id) and partitioned by the month
of `created_at`. Since ClickHouse 26.3 a FINAL read of a table whose partition column is
not in its sorting key skips partition pruning (`defer_partition_pruning_after_final`),
and `created_at` was not in the sorting key either, so every question on the view, even
"the last eight days", read the whole history (seconds on ten million mentions).

`mention_responses_by_time` holds the same rows sorted by (org_id, created_at,
mention_id). A mention's `created_at` never changes between its states, so that key
replaces states exactly as (org_id, mention_id) did; with the partition column in the
sorting key, FINAL prunes months again and a range of one client reads that range only.
A materialized view copies every insert into the state table, so the worker keeps
writing `mention_responses_state` as before; the table is created from what the state
table already holds. The `mention_responses` view (columns and meaning unchanged) reads
the new table.

`alerts` read by time, likewise: `alerts_state` is one unpartitioned table sorted by
(org_id, alert_id), so while the worker writes new states, FINAL merges every alert ever
opened on every read. `alerts_by_time` holds the same states partitioned by the month of
`opened_at` and sorted by (org_id, opened_at, alert_id). An alert's `opened_at` never
changes between its states (its id is derived from the mention, or from the surge's first
minute), so that key replaces states exactly as before; FINAL then merges only the months
that received new states, and months with one part not at all. A bloom filter keeps
look-ups by `alert_id` alone (an alert's sample mentions) cheap.

`influencers` gives the same rows as before, computed in two smaller steps: each author's
own mentions grouped by author, and the shares of their mentions grouped by author, then
joined per author (instead of joining every mention to the shares before grouping).
"""

from schemas.tables import (
    ALERTS_STATE,
    MENTION_RESPONSES_STATE,
    MENTION_RESPONSES_VIEW,
    WATERMARKS,
    Table,
)

# The columns the two state tables had when this migration was written. A warehouse from
# before it is upgraded one migration after the other, so the copies below must read only
# these: a column added later (`alerts_state.details`, migration 0006) is not there yet.
_RESPONSE_STATE_AT_0003 = (
    "org_id", "mention_id", "platform", "created_at", "first_response_id", "first_response_at",
    "responder_handle", "responder_role", "response_seconds", "business_response_seconds",
    "sla_seconds", "sla_breached", "author_id", "author_handle", "kind", "complaint",
    "answer_deadline", "sla_breach_at", "version",
)
_ALERT_STATE_AT_0003 = (
    "alert_id", "org_id", "kind", "status", "opened_at", "resolved_at", "severity", "observed",
    "expected", "summary", "sample_event_ids", "updated_at", "version", "is_deleted",
)

BY_TIME = "mention_responses_by_time"
_COLUMNS = ", ".join(f"`{c}`" for c in _RESPONSE_STATE_AT_0003)
ALERTS_BY_TIME = "alerts_by_time"
_ALERT_STATE_COLUMNS = ", ".join(f"`{c}`" for c in _ALERT_STATE_AT_0003)
_ALERT_COLUMNS = ", ".join(c for c in _ALERT_STATE_AT_0003 if c != "is_deleted")


def _ddl_at_0003(columns: tuple[str, ...], table: Table) -> str:
    """The table's definitions of the columns it had then."""
    return ",\n".join(f"    {c.ddl()}" for c in table.columns if c.name in columns)


STATEMENTS = (
    # Created with the rows the state table holds now; IF NOT EXISTS: only once.
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{BY_TIME} (
{_ddl_at_0003(_RESPONSE_STATE_AT_0003, MENTION_RESPONSES_STATE)}
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, created_at, mention_id)
AS SELECT {_COLUMNS} FROM {{db}}.{MENTION_RESPONSES_STATE.name}""",
    f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{BY_TIME}_feed TO {{db}}.{BY_TIME}
AS SELECT {_COLUMNS} FROM {{db}}.{MENTION_RESPONSES_STATE.name}""",
    "DROP VIEW IF EXISTS {db}.mention_responses",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.mention_responses AS
WITH (SELECT max(value) FROM {{db}}.{WATERMARKS.name} WHERE name = 'events') AS watermark
SELECT
    org_id, mention_id, platform, created_at,
    multiIf(first_response_id IS NOT NULL, 'answered',
            watermark >= answer_deadline, 'unanswered', 'pending') AS status,
    first_response_id, first_response_at, responder_handle, responder_role, response_seconds,
    business_response_seconds, sla_seconds,
    if(first_response_id IS NOT NULL, sla_breached,
       ifNull(watermark >= sla_breach_at, false)) AS sla_breached,
    {", ".join(MENTION_RESPONSES_VIEW[13:])}
FROM {{db}}.{BY_TIME} FINAL""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{ALERTS_BY_TIME} (
{_ddl_at_0003(_ALERT_STATE_AT_0003, ALERTS_STATE)},
    INDEX alert_id_bloom alert_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (org_id, opened_at, alert_id)
AS SELECT {_ALERT_STATE_COLUMNS} FROM {{db}}.{ALERTS_STATE.name}""",
    f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{ALERTS_BY_TIME}_feed
TO {{db}}.{ALERTS_BY_TIME}
AS SELECT {_ALERT_STATE_COLUMNS} FROM {{db}}.{ALERTS_STATE.name}""",
    "DROP VIEW IF EXISTS {db}.alerts",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.alerts AS
SELECT {_ALERT_COLUMNS}
FROM {{db}}.{ALERTS_BY_TIME} FINAL
WHERE is_deleted = 0""",
    "DROP VIEW IF EXISTS {db}.influencers",
    """CREATE VIEW IF NOT EXISTS {db}.influencers AS
WITH shared AS
(
    SELECT org_id, assumeNotNull(shared_from) AS event_id, count() AS n,
           sum(author_followers) AS reach
    FROM {db}.mentions
    WHERE kind = 'share' AND shared_from IS NOT NULL
    GROUP BY org_id, event_id
),
shared_by_author AS
(
    SELECT m.org_id AS org_id, m.author_id AS author_id, sum(s.n) AS times_shared,
           sum(s.reach) AS share_reach
    FROM {db}.mentions AS m
    INNER JOIN shared AS s ON m.org_id = s.org_id AND m.event_id = s.event_id
    GROUP BY org_id, author_id
),
authors AS
(
    SELECT org_id, author_id, argMax(author_handle, created_at) AS author_handle,
           max(author_followers) AS followers, max(author_verified) AS verified,
           count() AS mentions, countIf(complaint) AS complaints,
           min(created_at) AS first_seen, max(created_at) AS last_seen
    FROM {db}.mentions
    GROUP BY org_id, author_id
)
SELECT
    a.org_id AS org_id,
    a.author_id AS author_id,
    a.author_handle AS author_handle,
    a.followers AS followers,
    a.verified AS verified,
    a.mentions AS mentions,
    a.complaints AS complaints,
    b.times_shared AS times_shared,
    b.share_reach AS share_reach,
    a.first_seen AS first_seen,
    a.last_seen AS last_seen,
    round(log10(1 + a.followers + b.share_reach)
          * log2(2 + a.mentions + b.times_shared), 3) AS influence
FROM authors AS a
LEFT JOIN shared_by_author AS b ON a.org_id = b.org_id AND a.author_id = b.author_id""",
)
