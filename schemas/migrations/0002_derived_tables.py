"""The tables the stream processors fill, and the views users query.

`mention_responses` and `alerts` keep every state change in a
ReplacingMergeTree (`*_state`, highest `version` wins) and show only the latest
through a view with FINAL, so a plain SELECT is always correct.
`org_activity_1m`, `influencers` and `post_reach` are computed from `mentions`
and `posts` on read: exact by construction and as fresh as the rows they count.
"""

from schemas.tables import (
    ALERT_DELIVERIES,
    ALERTS_STATE,
    MENTION_RESPONSES_STATE,
    MENTION_RESPONSES_VIEW,
    WATERMARKS,
)

_ALERT_COLUMNS = ", ".join(c for c in ALERTS_STATE.names if c != "is_deleted")

STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{MENTION_RESPONSES_STATE.name} (
{MENTION_RESPONSES_STATE.column_ddl()}
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, mention_id)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{WATERMARKS.name} (
{WATERMARKS.column_ddl()}
) ENGINE = ReplacingMergeTree(value)
ORDER BY name""",
    # status and, for open mentions, sla_breached depend on the event-time
    # watermark, so they are decided here, at read time, from stored facts.
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
FROM {{db}}.{MENTION_RESPONSES_STATE.name} FINAL""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{ALERTS_STATE.name} (
{ALERTS_STATE.column_ddl()}
) ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, alert_id)""",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.alerts AS
SELECT {_ALERT_COLUMNS}
FROM {{db}}.{ALERTS_STATE.name} FINAL
WHERE is_deleted = 0""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{ALERT_DELIVERIES.name} (
{ALERT_DELIVERIES.column_ddl()}
) ENGINE = ReplacingMergeTree
ORDER BY delivery_key""",
    """CREATE VIEW IF NOT EXISTS {db}.org_activity_1m AS
SELECT
    org_id,
    minute,
    sum(n_mentions) AS mentions,
    sum(n_complaints) AS complaints,
    sum(n_shares) AS shares,
    sum(n_posts) AS posts,
    sum(n_replies) AS replies,
    sum(n_authors) AS unique_authors,
    sum(reach) AS potential_reach
FROM
(
    SELECT
        org_id,
        minute,
        sum(n) AS n_mentions,
        sum(c) AS n_complaints,
        sum(s) AS n_shares,
        toUInt64(0) AS n_posts,
        toUInt64(0) AS n_replies,
        count() AS n_authors,
        sum(followers) AS reach
    FROM
    (
        SELECT
            org_id,
            toDateTime64(toStartOfMinute(created_at), 3, 'UTC') AS minute,
            author_id,
            count() AS n,
            countIf(complaint) AS c,
            countIf(kind = 'share') AS s,
            max(author_followers) AS followers
        FROM {db}.mentions
        GROUP BY org_id, minute, author_id
    )
    GROUP BY org_id, minute
    UNION ALL
    SELECT
        org_id,
        toDateTime64(toStartOfMinute(created_at), 3, 'UTC') AS minute,
        toUInt64(0),
        toUInt64(0),
        toUInt64(0),
        count(),
        countIf(kind = 'reply' OR in_reply_to IS NOT NULL),
        toUInt64(0),
        toUInt64(0)
    FROM {db}.posts
    GROUP BY org_id, minute
)
GROUP BY org_id, minute""",
    """CREATE VIEW IF NOT EXISTS {db}.influencers AS
WITH shares AS
(
    SELECT org_id, assumeNotNull(shared_from) AS event_id, count() AS n,
           sum(author_followers) AS reach
    FROM {db}.mentions
    WHERE kind = 'share' AND shared_from IS NOT NULL
    GROUP BY org_id, event_id
)
SELECT
    m.org_id AS org_id,
    m.author_id AS author_id,
    argMax(m.author_handle, m.created_at) AS author_handle,
    max(m.author_followers) AS followers,
    max(m.author_verified) AS verified,
    count() AS mentions,
    countIf(m.complaint) AS complaints,
    sum(s.n) AS times_shared,
    sum(s.reach) AS share_reach,
    min(m.created_at) AS first_seen,
    max(m.created_at) AS last_seen,
    round(log10(1 + max(m.author_followers) + sum(s.reach))
          * log2(2 + count() + sum(s.n)), 3) AS influence
FROM {db}.mentions AS m
LEFT JOIN shares AS s ON m.org_id = s.org_id AND m.event_id = s.event_id
GROUP BY m.org_id, m.author_id""",
    """CREATE VIEW IF NOT EXISTS {db}.post_reach AS
WITH shares AS
(
    SELECT assumeNotNull(shared_from) AS event_id, count() AS n, sum(author_followers) AS reach,
           uniqExact(author_id) AS sharers
    FROM {db}.mentions
    WHERE kind = 'share' AND shared_from IS NOT NULL
    GROUP BY event_id
)
SELECT
    p.org_id AS org_id,
    p.event_id AS event_id,
    p.created_at AS created_at,
    p.account_handle AS account_handle,
    p.account_role AS account_role,
    p.account_followers AS account_followers,
    s.n AS shares,
    s.sharers AS sharers,
    p.account_followers + s.reach AS potential_reach
FROM {db}.posts AS p
LEFT JOIN shares AS s ON p.event_id = s.event_id""",
)
