"""The tables the stream processors fill, and the per-minute activity view.

`mention_responses` and `alerts` keep every state change in a
ReplacingMergeTree (`*_state`, highest `version` wins) and show only the latest
through a view with FINAL, so a plain SELECT is always correct.
`org_activity_1m` is computed from `mentions` and `posts` on read: it is exact
by construction and as fresh as the rows it counts.
"""

from schemas.tables import ALERTS, MENTION_RESPONSES

STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS {{db}}.mention_responses_state (
{MENTION_RESPONSES.column_ddl()}
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, mention_id)""",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.mention_responses AS
SELECT {", ".join(MENTION_RESPONSES.names)}
FROM {{db}}.mention_responses_state FINAL""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.alerts_state (
{ALERTS.column_ddl()}
) ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, alert_id)""",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.alerts AS
SELECT {", ".join(ALERTS.names)}
FROM {{db}}.alerts_state FINAL""",
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
)
