"""Reach and influence that cannot wrap round: follower sums stop at UInt64's largest value.

`org_activity_1m.potential_reach`, `influencers.share_reach` and `post_reach.potential_reach`
added followers in UInt64, which wraps: two authors with 2^64-1 followers in one minute
gave a potential reach of 8, and `influencers.influence` took log10 of a sum that wrapped
to 0: -inf. The views are created again with the sums of `schemas.saturating` (taken in
UInt128, capped at 18446744073709551615, given back as UInt64) and `influence` computed in
Float64 from the start, so it is finite for every input. Column names, order and types are
those of migrations 0002 and 0003; every figure below the cap is exactly what it was.
"""

from schemas.saturating import saturating_add, saturating_sum

STATEMENTS = (
    "DROP VIEW IF EXISTS {db}.org_activity_1m",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.org_activity_1m AS
SELECT
    org_id,
    minute,
    sum(n_mentions) AS mentions,
    sum(n_complaints) AS complaints,
    sum(n_shares) AS shares,
    sum(n_posts) AS posts,
    sum(n_replies) AS replies,
    sum(n_authors) AS unique_authors,
    {saturating_sum("reach")} AS potential_reach
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
        {saturating_sum("followers")} AS reach
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
        FROM {{db}}.mentions
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
    FROM {{db}}.posts
    GROUP BY org_id, minute
)
GROUP BY org_id, minute""",
    "DROP VIEW IF EXISTS {db}.influencers",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.influencers AS
WITH shared AS
(
    SELECT org_id, assumeNotNull(shared_from) AS event_id, count() AS n,
           {saturating_sum("author_followers")} AS reach
    FROM {{db}}.mentions
    WHERE kind = 'share' AND shared_from IS NOT NULL
    GROUP BY org_id, event_id
),
shared_by_author AS
(
    SELECT m.org_id AS org_id, m.author_id AS author_id, sum(s.n) AS times_shared,
           {saturating_sum("s.reach")} AS share_reach
    FROM {{db}}.mentions AS m
    INNER JOIN shared AS s ON m.org_id = s.org_id AND m.event_id = s.event_id
    GROUP BY org_id, author_id
),
authors AS
(
    SELECT org_id, author_id, argMax(author_handle, created_at) AS author_handle,
           max(author_followers) AS followers, max(author_verified) AS verified,
           count() AS mentions, countIf(complaint) AS complaints,
           min(created_at) AS first_seen, max(created_at) AS last_seen
    FROM {{db}}.mentions
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
    round(log10(1 + toFloat64(a.followers) + toFloat64(b.share_reach))
          * log2(2 + toFloat64(a.mentions) + toFloat64(b.times_shared)), 3) AS influence
FROM authors AS a
LEFT JOIN shared_by_author AS b ON a.org_id = b.org_id AND a.author_id = b.author_id""",
    "DROP VIEW IF EXISTS {db}.post_reach",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.post_reach AS
WITH shares AS
(
    SELECT assumeNotNull(shared_from) AS event_id, count() AS n,
           {saturating_sum("author_followers")} AS reach, uniqExact(author_id) AS sharers
    FROM {{db}}.mentions
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
    {saturating_add("p.account_followers", "s.reach")} AS potential_reach
FROM {{db}}.posts AS p
LEFT JOIN shares AS s ON p.event_id = s.event_id""",
)
