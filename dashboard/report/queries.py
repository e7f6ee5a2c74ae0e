"""Every SQL statement of the weekly client report, one named constant each.

They read only the public tables and views (`mentions`, `mention_responses`,
`org_activity_1m`, `alerts`, `influencers`), with server-side typed parameters
and the dashboard's access filter (`dashboard.queries.VISIBLE`), and run through
`DashboardData.run` like the dashboard's own statements.

Parameters shared by all of them:

- `{org_id:String}`: the client the report is for.
- `{start:DateTime64(3, 'UTC')}`, `{end:…}`: the report's week, local Monday
  00:00 to the next local Monday 00:00 of the client, in UTC (`report.week`).
- `{previous_start:…}`: the start of the week before, which ends at `start`:
  the statements that feed a week-over-week change read both weeks at once and
  split them by `created_at >= start`.
- `{timezone:String}`: the client's time zone, for local days.

Every range is half-open, `[start, end)`. A week's bounds are local midnights,
and every time zone's offset is whole minutes, so `org_activity_1m`'s minutes
fall wholly inside or outside a week, and its counts equal those of `mentions`
over the same range.
"""

from __future__ import annotations

from dashboard.queries import VISIBLE, Query
from schemas.saturating import saturating_sum

__all__ = [
    "REPORT_ALERT_COUNTS",
    "REPORT_AUDIENCE",
    "REPORT_DAYS",
    "REPORT_QUERIES",
    "REPORT_RESPONSES",
    "REPORT_SURGES",
    "REPORT_SURGE_SAMPLES",
    "REPORT_VOICES",
]


def _two_weeks(column: str) -> str:
    """One client's rows whose `column` falls in the week before or in the week."""
    return f"""org_id = {{org_id:String}} AND {VISIBLE}
      AND {column} >= {{previous_start:DateTime64(3, 'UTC')}}
      AND {column} < {{end:DateTime64(3, 'UTC')}}"""


_THIS_WEEK = f"""org_id = {{org_id:String}} AND {VISIBLE}
      AND created_at >= {{start:DateTime64(3, 'UTC')}}
      AND created_at < {{end:DateTime64(3, 'UTC')}}"""

REPORT_DAYS = Query(
    "report_days",
    "one client per local day of the week and the week before (org_activity_1m summed): "
    "mentions, complaints, shares, its own posts and replies, potential reach",
    # The view's columns are renamed first: an alias may not hide the column it sums.
    f"""SELECT
    day,
    sum(n_mentions) AS mentions,
    sum(n_complaints) AS complaints,
    sum(n_shares) AS shares,
    sum(n_posts) AS posts,
    sum(n_replies) AS replies,
    {saturating_sum("reach")} AS potential_reach
FROM
(
    SELECT toDate(minute, {{timezone:String}}) AS day, mentions AS n_mentions,
           complaints AS n_complaints, shares AS n_shares, posts AS n_posts,
           replies AS n_replies, potential_reach AS reach
    FROM org_activity_1m
    WHERE {_two_weeks("minute")}
)
GROUP BY day
ORDER BY day""",
)

REPORT_AUDIENCE = Query(
    "report_audience",
    "one client's distinct authors and average sentiment of mentions, in the week and in "
    "the week before",
    f"""SELECT
    uniqExactIf(author_id, created_at >= {{start:DateTime64(3, 'UTC')}}) AS authors,
    uniqExactIf(author_id, created_at < {{start:DateTime64(3, 'UTC')}}) AS previous_authors,
    avgOrNullIf(sentiment, created_at >= {{start:DateTime64(3, 'UTC')}}) AS average_sentiment,
    avgOrNullIf(sentiment, created_at < {{start:DateTime64(3, 'UTC')}})
        AS previous_average_sentiment
FROM mentions
WHERE {_two_weeks("created_at")}""",
)

REPORT_RESPONSES = Query(
    "report_responses",
    "one client's actionable mentions posted in the week and in the week before (one row "
    "each, `this_week` 1 or 0), as they stand now: answered, pending, unanswered, first "
    "response medians and 90th percentiles in calendar and business time, the SLA's "
    "outcome, and who answered",
    f"""SELECT
    toUInt8(created_at >= {{start:DateTime64(3, 'UTC')}}) AS this_week,
    count() AS actionable,
    countIf(status = 'answered') AS answered,
    countIf(status = 'pending') AS pending,
    countIf(status = 'unanswered') AS unanswered,
    quantileExactIf(0.5)(response_seconds, status = 'answered') AS median_response_seconds,
    quantileExactIf(0.9)(response_seconds, status = 'answered') AS p90_response_seconds,
    quantileExactIf(0.5)(business_response_seconds, status = 'answered')
        AS median_business_seconds,
    quantileExactIf(0.9)(business_response_seconds, status = 'answered')
        AS p90_business_seconds,
    countIf(status = 'answered' AND NOT sla_breached) AS within_sla,
    countIf(sla_breached) AS breached,
    countIf(status = 'answered' AND responder_role = 'official') AS by_official,
    countIf(status = 'answered' AND responder_role = 'employee') AS by_employee
FROM mention_responses
WHERE {_two_weeks("created_at")}
GROUP BY this_week
ORDER BY this_week""",
)

REPORT_SURGES = Query(
    "report_surges",
    "one client's complaint surges that opened in the week, oldest first, as they stand now",
    f"""SELECT alert_id, status, opened_at, resolved_at, severity, observed, expected,
       summary, sample_event_ids
FROM alerts
WHERE org_id = {{org_id:String}} AND {VISIBLE}
  AND kind = 'complaint_surge'
  AND opened_at >= {{start:DateTime64(3, 'UTC')}}
  AND opened_at < {{end:DateTime64(3, 'UTC')}}
ORDER BY opened_at, alert_id
LIMIT {{limit:UInt32}}""",
)

REPORT_ALERT_COUNTS = Query(
    "report_alert_counts",
    "one client's alerts by kind that opened in the week and in the week before",
    f"""SELECT
    kind,
    countIf(opened_at >= {{start:DateTime64(3, 'UTC')}}) AS opened,
    countIf(opened_at < {{start:DateTime64(3, 'UTC')}}) AS previous_opened
FROM alerts
WHERE {_two_weeks("opened_at")}
GROUP BY kind
ORDER BY kind""",
)

REPORT_SURGE_SAMPLES = Query(
    "report_surge_samples",
    "the sample mentions of some of one client's alerts (alerts.sample_event_ids joined to "
    "mentions), oldest first",
    f"""SELECT
    a.alert_id AS alert_id, m.event_id AS event_id, m.created_at AS created_at,
    m.platform AS platform, m.kind AS kind, m.author_handle AS author_handle,
    m.author_followers AS author_followers, m.complaint AS complaint,
    m.sentiment AS sentiment, m.text AS text
FROM
(
    SELECT alert_id, arrayJoin(sample_event_ids) AS event_id
    FROM alerts
    WHERE org_id = {{org_id:String}} AND {VISIBLE} AND alert_id IN {{alert_ids:Array(String)}}
) AS a
INNER JOIN
(
    SELECT event_id, created_at, platform, kind, author_handle, author_followers,
           complaint, sentiment, text
    FROM mentions
    WHERE org_id = {{org_id:String}} AND {VISIBLE}
      AND event_id IN (
          SELECT arrayJoin(sample_event_ids) FROM alerts
          WHERE org_id = {{org_id:String}} AND {VISIBLE}
            AND alert_id IN {{alert_ids:Array(String)}}
      )
) AS m ON m.event_id = a.event_id
ORDER BY alert_id, created_at, event_id""",
)

REPORT_VOICES = Query(
    "report_voices",
    "the authors who mentioned one client in the week, most influential first (the "
    "influencers view, all time), with their mentions and complaints of the week",
    f"""SELECT
    i.author_handle AS author_handle, i.followers AS followers, i.verified AS verified,
    i.influence AS influence, i.mentions AS mentions_all_time, i.times_shared AS times_shared,
    w.mentions AS mentions, w.complaints AS complaints
FROM
(
    SELECT author_id, count() AS mentions, countIf(ifNull(complaint, false)) AS complaints
    FROM mentions
    WHERE {_THIS_WEEK}
    GROUP BY author_id
) AS w
INNER JOIN
(
    SELECT author_id, author_handle, followers, verified, influence, mentions, times_shared
    FROM influencers
    WHERE org_id = {{org_id:String}} AND {VISIBLE}
      AND author_id IN (SELECT author_id FROM mentions WHERE {_THIS_WEEK})
) AS i ON i.author_id = w.author_id
ORDER BY influence DESC, author_handle
LIMIT {{limit:UInt32}}""",
)

REPORT_QUERIES: tuple[Query, ...] = (
    REPORT_DAYS,
    REPORT_AUDIENCE,
    REPORT_RESPONSES,
    REPORT_SURGES,
    REPORT_ALERT_COUNTS,
    REPORT_SURGE_SAMPLES,
    REPORT_VOICES,
)
