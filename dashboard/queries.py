"""Every SQL statement the dashboard runs, one named constant each.

The pages never write SQL of their own: they call `dashboard.data`, which
runs these constants with server-side typed parameters (`{name:Type}`), so no
value a person types ever becomes SQL text. Keeping them here, whole, lets the
benchmark time each one and lets a reader check what a number on screen means.

Conventions shared by all of them:

- `{restrict:UInt8}` and `{org_ids:Array(String)}` are the access filter:
  with `restrict = 0` every organisation is visible, with `restrict = 1` only
  those in `org_ids` (an empty list then shows nothing). Every query that reads
  client data carries it (see `VISIBLE`), so a client login can later be
  limited to its own organisations without touching the SQL.
- `{now:DateTime64(3, 'UTC')}` is the event-time watermark (`WATERMARK`), not
  the wall clock: replayed history looks live.
- Time ranges are half-open, `[start, end)`.
- Time-ranged questions read `mentions` and `mention_responses`, whose sort
  keys and monthly partitions the `created_at` range can use. The
  `org_activity_1m` view computes `minute` from `created_at`, and a filter on
  `minute` does not reach the sort key, so the reach figures below compute the
  view's `potential_reach` (the followers of each minute's distinct authors)
  from `mentions` directly, with the same definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.saturating import saturating_sum
from schemas.tables import QUERYABLE_TABLES

__all__ = [
    "ALERTS_LIST",
    "ALERTS_SUMMARY",
    "ALERT_SAMPLES",
    "ALL_QUERIES",
    "BROWSABLE_TABLES",
    "CLIENTS_ALERTS",
    "CLIENTS_REACH",
    "CLIENTS_RESPONSES",
    "CLIENTS_SILENCE",
    "CLIENTS_SURGES",
    "CLIENTS_VOLUME",
    "CLIENTS_WAITING",
    "CLIENT_ACTIVITY",
    "CLIENT_ALERTS",
    "CLIENT_INFLUENCERS",
    "CLIENT_OPEN_QUEUE",
    "CLIENT_RESPONDERS",
    "CLIENT_RESPONSE_HEATMAP",
    "CLIENT_RESPONSE_HISTOGRAM",
    "CLIENT_RESPONSE_SUMMARY",
    "CLIENT_SPAN",
    "EXAMPLES",
    "KNOWN_ORGS",
    "PUBLIC_COLUMNS",
    "SECTOR_VOICE",
    "VISIBLE",
    "WATERMARK",
    "Example",
    "Query",
    "placeholders",
]

# The public tables and views a person may query (README "The warehouse").
BROWSABLE_TABLES = QUERYABLE_TABLES

# The access filter; `org_id` is the column of the table it is written after.
VISIBLE = "({restrict:UInt8} = 0 OR org_id IN {org_ids:Array(String)})"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")


@dataclass(frozen=True)
class Query:
    """One statement the dashboard runs: its name, what it answers, and the SQL."""

    name: str
    answers: str
    sql: str

    @property
    def parameters(self) -> dict[str, str]:
        """The server-side parameters the statement takes, name -> ClickHouse type."""
        return placeholders(self.sql)

    @property
    def filtered(self) -> bool:
        """True when the statement carries the access filter."""
        return VISIBLE in self.sql


def placeholders(sql: str) -> dict[str, str]:
    """`{name:Type}` parameters of a statement; a name used with two types is an error."""
    found: dict[str, str] = {}
    for name, kind in _PLACEHOLDER.findall(sql):
        if found.setdefault(name, kind) != kind:
            raise ValueError(f"parameter {name} is used as {found[name]} and as {kind}")
    return found


# -- the clock -------------------------------------------------------------------

WATERMARK = Query(
    "watermark",
    "the event-time watermark (newest created_at of mentions and posts) and the row counts",
    f"""SELECT
    greatest(
        (SELECT max(created_at) FROM mentions WHERE {VISIBLE}),
        (SELECT max(created_at) FROM posts WHERE {VISIBLE})
    ) AS watermark,
    (SELECT count() FROM mentions WHERE {VISIBLE}) AS mentions,
    (SELECT count() FROM posts WHERE {VISIBLE}) AS posts""",
)

KNOWN_ORGS = Query(
    "known_orgs",
    "the organisations that have mentions",
    f"""SELECT DISTINCT org_id FROM mentions WHERE {VISIBLE} ORDER BY org_id""",
)

# The organisation's own calendar day: `day_orgs[i]` starts its day at `day_starts[i]`
# (local midnight, in UTC); every other organisation at `default_day_start`. `transform`
# looks the organisation up in a hash table, once per row.
_DAY_START = """transform(org_id, {day_orgs:Array(String)},
              {day_starts:Array(DateTime64(3, 'UTC'))},
              {default_day_start:DateTime64(3, 'UTC')})"""

# -- all clients -------------------------------------------------------------------

CLIENTS_VOLUME = Query(
    "clients_volume",
    "per organisation: mentions in the last hour, in the same hour of each of the previous "
    "seven days, how many of those days have data, and today's mentions and complaints",
    f"""SELECT
    org_id,
    countIf(age_ms < 3600000) AS mentions_last_hour,
    countIf(age_ms >= 86400000 AND age_ms % 86400000 < 3600000) AS same_hour_previous_days,
    toUInt32(least(7, intDiv(max(age_ms), 86400000))) AS previous_days,
    countIf(created_at >= day_start) AS mentions_today,
    countIf(created_at >= day_start AND ifNull(complaint, false)) AS complaints_today
FROM
(
    SELECT
        org_id,
        created_at,
        complaint,
        toUnixTimestamp64Milli({{now:DateTime64(3, 'UTC')}})
            - toUnixTimestamp64Milli(created_at) AS age_ms,
        {_DAY_START} AS day_start
    FROM mentions
    WHERE created_at > {{now:DateTime64(3, 'UTC')}} - INTERVAL 169 HOUR
      AND created_at <= {{now:DateTime64(3, 'UTC')}}
      AND {VISIBLE}
)
GROUP BY org_id""",
)

CLIENTS_REACH = Query(
    "clients_reach",
    "per organisation: today's potential reach (org_activity_1m's definition, summed over "
    "the minutes since the organisation's local midnight)",
    f"""SELECT org_id, {saturating_sum("followers")} AS reach_today
FROM
(
    SELECT org_id, toStartOfMinute(created_at) AS minute, author_id,
           max(author_followers) AS followers
    FROM mentions
    WHERE created_at >= {{since:DateTime64(3, 'UTC')}}
      AND created_at <= {{now:DateTime64(3, 'UTC')}}
      AND created_at >= {_DAY_START}
      AND {VISIBLE}
    GROUP BY org_id, minute, author_id
)
GROUP BY org_id""",
)

CLIENTS_RESPONSES = Query(
    "clients_responses",
    "per organisation: open (pending) mentions and the oldest one, those past their SLA and "
    "when the first of them ran out, and today's first responses: how many, their median "
    "time, and how many SLAs were met or missed today",
    f"""SELECT
    org_id,
    countIf(status = 'pending') AS open_mentions,
    if(open_mentions = 0, NULL, minIf(created_at, status = 'pending')) AS oldest_open_at,
    countIf(status = 'pending' AND sla_breached) AS open_past_sla,
    if(open_past_sla = 0, NULL, minIf(sla_breach_at, status = 'pending' AND sla_breached))
        AS oldest_past_sla_at,
    countIf(responded_today) AS answered_today,
    quantileExactIf(0.5)(response_seconds, responded_today) AS median_response_today,
    quantileExactIf(0.5)(business_response_seconds, responded_today)
        AS median_business_response_today,
    countIf(responded_today AND NOT sla_breached) AS within_sla_today,
    countIf(responded_today OR (status != 'answered' AND sla_breach_at >= day_start
                               AND sla_breach_at <= {{now:DateTime64(3, 'UTC')}}))
        AS sla_due_today
FROM
(
    SELECT
        org_id, created_at, status, response_seconds, business_response_seconds,
        sla_breached, sla_breach_at,
        {_DAY_START} AS day_start,
        status = 'answered' AND first_response_at >= day_start AS responded_today
    FROM mention_responses
    WHERE created_at >= {{since:DateTime64(3, 'UTC')}} AND {VISIBLE}
)
GROUP BY org_id""",
)

CLIENTS_ALERTS = Query(
    "clients_alerts",
    "per organisation: open alerts, open complaint surges, the highest open severity, and "
    "open `silent_org` alerts with the newest one's summary",
    f"""SELECT
    org_id,
    count() AS open_alerts,
    countIf(kind = 'complaint_surge') AS open_surges,
    max(severity) AS open_severity,
    countIf(kind = 'silent_org') AS open_silences,
    argMaxIf(summary, opened_at, kind = 'silent_org') AS silence_summary
FROM alerts
WHERE status = 'open' AND {VISIBLE}
GROUP BY org_id""",
)

# The open complaint surges per organisation, read twice below.
_OPEN_SURGES = f"""SELECT
        org_id,
        count() AS open_surges,
        max(severity) AS surge_severity,
        argMax(opened_at, severity) AS surge_opened_at,
        argMax(summary, severity) AS surge_summary,
        least(min(opened_at), {{now:DateTime64(3, 'UTC')}} - INTERVAL 1 HOUR) AS since
    FROM alerts
    WHERE status = 'open' AND kind = 'complaint_surge' AND {VISIBLE}
    GROUP BY org_id"""

CLIENTS_SURGES = Query(
    "clients_surges",
    "per organisation with an open complaint surge: how many, the worst one's severity, "
    "opening and summary, and the reach of the complaining voices (the followers of the "
    "distinct authors of its complaints since the surge opened, at least the last hour and "
    "at most the last day)",
    f"""WITH
open_surges AS
(
    {_OPEN_SURGES}
),
voices AS
(
    SELECT c.org_id AS org_id, c.author_id AS author_id, max(c.author_followers) AS followers
    FROM
    (
        SELECT org_id, author_id, author_followers, created_at
        FROM mentions
        WHERE created_at >= {{now:DateTime64(3, 'UTC')}} - INTERVAL 1 DAY
          AND created_at <= {{now:DateTime64(3, 'UTC')}}
          AND ifNull(complaint, false) AND {VISIBLE}
    ) AS c
    INNER JOIN open_surges AS s ON s.org_id = c.org_id
    WHERE c.created_at >= s.since
    GROUP BY org_id, author_id
)
SELECT
    s.org_id AS org_id,
    s.open_surges AS open_surges,
    s.surge_severity AS surge_severity,
    s.surge_opened_at AS surge_opened_at,
    s.surge_summary AS surge_summary,
    r.surge_reach AS surge_reach
FROM open_surges AS s
LEFT JOIN
(
    SELECT org_id, {saturating_sum("followers")} AS surge_reach FROM voices GROUP BY org_id
) AS r ON r.org_id = s.org_id""",
)

CLIENTS_SILENCE = Query(
    "clients_silence",
    "per organisation: its last post since `since` and the actionable mentions after it "
    "(all of them since `since` when it did not post): how many and the newest",
    # An organisation without a post since `since` meets no row on the right: the join's
    # default time (1970) is then before every mention, and `last_post_at` comes back NULL.
    f"""SELECT
    m.org_id AS org_id,
    count() AS mentions_since_post,
    max(m.created_at) AS last_mention_at,
    nullIf(max(ifNull(p.last_post_at, toDateTime64(0, 3, 'UTC'))), toDateTime64(0, 3, 'UTC'))
        AS last_post_at
FROM
(
    SELECT org_id, created_at
    FROM mentions
    WHERE created_at > {{since:DateTime64(3, 'UTC')}}
      AND created_at <= {{now:DateTime64(3, 'UTC')}}
      AND kind != 'share' AND {VISIBLE}
) AS m
LEFT JOIN
(
    SELECT org_id, max(created_at) AS last_post_at
    FROM posts
    WHERE created_at > {{since:DateTime64(3, 'UTC')}}
      AND created_at <= {{now:DateTime64(3, 'UTC')}}
      AND {VISIBLE}
    GROUP BY org_id
) AS p ON p.org_id = m.org_id
WHERE m.created_at > ifNull(p.last_post_at, toDateTime64(0, 3, 'UTC'))
GROUP BY org_id""",
)

CLIENTS_WAITING = Query(
    "clients_waiting",
    "the mentions of every organisation that wait longest for a first response (pending), "
    "at most `per_client` of each, oldest first, with their text",
    f"""WITH waiting AS
(
    SELECT org_id, mention_id, created_at, platform, kind, author_handle, complaint,
           sla_breached, sla_breach_at
    FROM mention_responses
    WHERE created_at >= {{since:DateTime64(3, 'UTC')}} AND status = 'pending' AND {VISIBLE}
    ORDER BY created_at, mention_id
    LIMIT {{per_client:UInt32}} BY org_id
)
SELECT
    w.org_id AS org_id, w.mention_id AS mention_id, w.created_at AS created_at,
    w.platform AS platform, w.kind AS kind, w.author_handle AS author_handle,
    m.author_followers AS author_followers, w.complaint AS complaint,
    w.sla_breached AS sla_breached, w.sla_breach_at AS sla_breach_at, m.text AS text
FROM
(
    SELECT * FROM waiting ORDER BY created_at, mention_id LIMIT {{limit:UInt32}}
) AS w
LEFT JOIN
(
    SELECT org_id, event_id, text, author_followers
    FROM mentions
    WHERE created_at >= {{since:DateTime64(3, 'UTC')}} AND {VISIBLE}
      AND event_id IN (SELECT mention_id FROM waiting)
) AS m ON m.org_id = w.org_id AND m.event_id = w.mention_id
ORDER BY created_at, mention_id""",
)

# -- one client --------------------------------------------------------------------

CLIENT_SPAN = Query(
    "client_span",
    "one organisation's first and newest mention and how many there are",
    f"""SELECT min(created_at) AS first_at, max(created_at) AS last_at, count() AS mentions
FROM mentions
WHERE org_id = {{org_id:String}} AND {VISIBLE}""",
)

_ONE_CLIENT_IN_RANGE = f"""org_id = {{org_id:String}} AND {VISIBLE}
      AND created_at >= {{start:DateTime64(3, 'UTC')}}
      AND created_at < {{end:DateTime64(3, 'UTC')}}"""

CLIENT_ACTIVITY = Query(
    "client_activity",
    "one organisation per time bucket: mentions, complaints, shares and potential reach",
    f"""SELECT
    toDateTime64(toStartOfInterval(minute, toIntervalSecond({{bucket_seconds:UInt32}})), 3, 'UTC')
        AS bucket,
    sum(n) AS mentions,
    sum(c) AS complaints,
    sum(s) AS shares,
    {saturating_sum("followers")} AS potential_reach
FROM
(
    SELECT toStartOfMinute(created_at) AS minute, author_id, count() AS n,
           countIf(ifNull(complaint, false)) AS c, countIf(kind = 'share') AS s,
           max(author_followers) AS followers
    FROM mentions
    WHERE {_ONE_CLIENT_IN_RANGE}
    GROUP BY minute, author_id
)
GROUP BY bucket
ORDER BY bucket""",
)

CLIENT_ALERTS = Query(
    "client_alerts",
    "one organisation's alerts that were open at some point in the range, newest first",
    f"""SELECT alert_id, kind, status, opened_at, resolved_at, severity, observed, expected,
       summary, length(sample_event_ids) AS samples, details
FROM alerts
WHERE org_id = {{org_id:String}} AND {VISIBLE}
  AND opened_at < {{end:DateTime64(3, 'UTC')}}
  AND (resolved_at IS NULL OR resolved_at >= {{start:DateTime64(3, 'UTC')}})
ORDER BY opened_at DESC, alert_id
LIMIT {{limit:UInt32}}""",
)

CLIENT_RESPONSE_SUMMARY = Query(
    "client_response_summary",
    "one organisation's actionable mentions posted in the range: how many were answered, "
    "first-response medians and 90th percentiles (calendar and business time), SLA outcome",
    f"""SELECT
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
    max(sla_seconds) AS sla
FROM mention_responses
WHERE {_ONE_CLIENT_IN_RANGE}""",
)

CLIENT_RESPONSE_HISTOGRAM = Query(
    "client_response_histogram",
    "one organisation's first-response times in the range, binned, in calendar and in "
    "business time (bin i counts times below bounds[i] and not below bounds[i-1]; 0 is beyond)",
    f"""SELECT
    clock_time.1 AS clock,
    arrayFirstIndex(b -> clock_time.2 < b, {{bounds:Array(Float64)}}) AS bin,
    count() AS answered
FROM mention_responses
ARRAY JOIN [('calendar', ifNull(response_seconds, 0)),
            ('business', ifNull(business_response_seconds, 0))] AS clock_time
WHERE {_ONE_CLIENT_IN_RANGE} AND status = 'answered'
GROUP BY clock, bin
ORDER BY clock, bin""",
)

CLIENT_RESPONSE_HEATMAP = Query(
    "client_response_heatmap",
    "one organisation's median first response by the local weekday (1 = Monday) and hour "
    "at which the mention was posted",
    f"""SELECT
    toDayOfWeek(created_at, 0, {{timezone:String}}) AS weekday,
    toHour(created_at, {{timezone:String}}) AS hour,
    count() AS answered,
    quantileExact(0.5)(response_seconds) AS median_response_seconds,
    quantileExact(0.5)(business_response_seconds) AS median_business_seconds
FROM mention_responses
WHERE {_ONE_CLIENT_IN_RANGE} AND status = 'answered'
GROUP BY weekday, hour
ORDER BY weekday, hour""",
)

CLIENT_RESPONDERS = Query(
    "client_responders",
    "who gave one organisation's first responses in the range: the official account(s) or "
    "named employees, with their median time and SLA record",
    f"""SELECT
    ifNull(responder_role, 'unknown') AS role,
    ifNull(responder_handle, '') AS handle,
    count() AS answers,
    quantileExact(0.5)(response_seconds) AS median_response_seconds,
    quantileExact(0.5)(business_response_seconds) AS median_business_seconds,
    countIf(NOT sla_breached) AS within_sla
FROM mention_responses
WHERE {_ONE_CLIENT_IN_RANGE} AND status = 'answered'
GROUP BY role, handle
ORDER BY answers DESC, handle
LIMIT 200""",
)

CLIENT_OPEN_QUEUE = Query(
    "client_open_queue",
    "one organisation's mentions still waiting for a first response, oldest first, with text",
    f"""SELECT
    r.mention_id AS mention_id, r.created_at AS created_at, r.status AS status,
    r.platform AS platform, r.kind AS kind, r.author_handle AS author_handle,
    m.author_followers AS author_followers, r.complaint AS complaint,
    r.sla_breached AS sla_breached, r.sla_breach_at AS sla_breach_at, m.text AS text
FROM
(
    SELECT mention_id, created_at, status, platform, kind, author_handle, complaint,
           sla_breached, sla_breach_at
    FROM mention_responses
    WHERE org_id = {{org_id:String}} AND {VISIBLE}
      AND created_at >= {{since:DateTime64(3, 'UTC')}}
      AND status IN {{statuses:Array(String)}}
    ORDER BY created_at, mention_id
    LIMIT {{limit:UInt32}}
) AS r
LEFT JOIN
(
    SELECT event_id, text, author_followers
    FROM mentions
    WHERE org_id = {{org_id:String}} AND {VISIBLE}
      AND created_at >= {{since:DateTime64(3, 'UTC')}}
) AS m ON m.event_id = r.mention_id
ORDER BY created_at, mention_id""",
)

CLIENT_INFLUENCERS = Query(
    "client_influencers",
    "the voices that matter most for one organisation in the range: the influencers view's "
    "figures and influence, counted over the mentions posted in the range (and the shares "
    "of them posted in the range)",
    f"""WITH
in_range AS
(
    SELECT author_id, author_handle, author_followers, author_verified, event_id, kind,
           shared_from, complaint, created_at
    FROM mentions
    WHERE {_ONE_CLIENT_IN_RANGE}
),
shared AS
(
    SELECT assumeNotNull(shared_from) AS event_id, count() AS n,
           {saturating_sum("author_followers")} AS reach
    FROM in_range
    WHERE kind = 'share' AND shared_from IS NOT NULL
    GROUP BY event_id
),
shared_by_author AS
(
    SELECT m.author_id AS author_id, sum(s.n) AS times_shared,
           {saturating_sum("s.reach")} AS share_reach
    FROM in_range AS m
    INNER JOIN shared AS s ON m.event_id = s.event_id
    GROUP BY author_id
),
authors AS
(
    SELECT author_id, argMax(author_handle, created_at) AS author_handle,
           max(author_followers) AS followers, max(author_verified) AS verified,
           count() AS mentions, countIf(complaint) AS complaints, max(created_at) AS last_seen
    FROM in_range
    GROUP BY author_id
)
SELECT
    a.author_handle AS author_handle,
    a.followers AS followers,
    a.verified AS verified,
    a.mentions AS mentions,
    a.complaints AS complaints,
    b.times_shared AS times_shared,
    b.share_reach AS share_reach,
    round(log10(1 + toFloat64(a.followers) + toFloat64(b.share_reach))
          * log2(2 + toFloat64(a.mentions) + toFloat64(b.times_shared)), 3) AS influence,
    a.last_seen AS last_seen
FROM authors AS a
LEFT JOIN shared_by_author AS b ON a.author_id = b.author_id
ORDER BY influence DESC, author_handle
LIMIT {{limit:UInt32}}""",
)

SECTOR_VOICE = Query(
    "sector_voice",
    "mentions, complaints, average sentiment and potential reach of the organisations of "
    "one sector per time bucket: share of voice",
    f"""SELECT
    org_id,
    toDateTime64(toStartOfInterval(minute, toIntervalSecond({{bucket_seconds:UInt32}})), 3, 'UTC')
        AS bucket,
    sum(n) AS mentions,
    sum(c) AS complaints,
    sum(scored_sum) AS sentiment_sum,
    sum(scored) AS sentiment_n,
    {saturating_sum("followers")} AS potential_reach
FROM
(
    SELECT org_id, toStartOfMinute(created_at) AS minute, author_id, count() AS n,
           countIf(ifNull(complaint, false)) AS c,
           sum(ifNull(sentiment, 0)) AS scored_sum, count(sentiment) AS scored,
           max(author_followers) AS followers
    FROM mentions
    WHERE org_id IN {{peer_org_ids:Array(String)}} AND {VISIBLE}
      AND created_at >= {{start:DateTime64(3, 'UTC')}}
      AND created_at < {{end:DateTime64(3, 'UTC')}}
    GROUP BY org_id, minute, author_id
)
GROUP BY org_id, bucket
ORDER BY bucket, org_id""",
)

# -- alerts --------------------------------------------------------------------------

ALERTS_SUMMARY = Query(
    "alerts_summary",
    "alerts across organisations: how many are open (and surges), resolved ones opened in "
    "the range, organisations with open alerts, and the kinds there are",
    # Counted per organisation (grouping by one LowCardinality column stays fast on
    # millions of alerts), then summed; the kinds from a DISTINCT of their own.
    f"""SELECT
    sum(n_open) AS open,
    sum(n_open_surges) AS open_surges,
    sum(n_resolved) AS resolved,
    countIf(n_open > 0) AS orgs_with_open,
    (SELECT arraySort(groupArray(kind)) FROM (SELECT DISTINCT kind FROM alerts WHERE {VISIBLE}))
        AS kinds
FROM
(
    SELECT
        org_id,
        countIf(status = 'open') AS n_open,
        countIf(status = 'open' AND kind = 'complaint_surge') AS n_open_surges,
        countIf(status = 'resolved' AND opened_at >= {{start:DateTime64(3, 'UTC')}}
                AND opened_at < {{end:DateTime64(3, 'UTC')}}) AS n_resolved
    FROM alerts
    WHERE {VISIBLE}
    GROUP BY org_id
)""",
)

# The filters of the alert list, used twice below.
_LISTED_ALERTS = f"""{VISIBLE}
      AND (status = 'open' OR (opened_at >= {{start:DateTime64(3, 'UTC')}}
                               AND opened_at < {{end:DateTime64(3, 'UTC')}}))
      AND status IN {{statuses:Array(String)}}
      AND (empty({{kinds:Array(String)}}) OR kind IN {{kinds:Array(String)}})
      AND (empty({{clients:Array(String)}}) OR org_id IN {{clients:Array(String)}})"""

_ALERT_ORDER = "opened_at DESC, alert_id"

ALERTS_LIST = Query(
    "alerts_list",
    "alerts across organisations with the chosen statuses, kinds and organisations (none "
    "chosen: all): every open one, and the resolved ones opened in the range; newest "
    "first; `matching` counts them all before the limit",
    # Millions of alerts may match: they are counted and ordered on their narrow
    # columns, and only the listed ones are read whole (by their sort key).
    f"""WITH matching_alerts AS
(
    SELECT org_id, alert_id, status, kind, opened_at
    FROM alerts
    WHERE {_LISTED_ALERTS}
)
SELECT alert_id, org_id, kind, status, opened_at, resolved_at, severity, observed,
       expected, summary, sample_event_ids, details,
       (SELECT count() FROM matching_alerts) AS matching
FROM alerts
WHERE (org_id, alert_id) IN (
        SELECT org_id, alert_id FROM matching_alerts
        ORDER BY {_ALERT_ORDER}
        LIMIT {{limit:UInt32}}
    )
  AND {_LISTED_ALERTS}
ORDER BY {_ALERT_ORDER}
LIMIT {{limit:UInt32}}""",
)

ALERT_SAMPLES = Query(
    "alert_samples",
    "the sample mentions of the given alerts (alerts.sample_event_ids joined to mentions)",
    f"""SELECT
    a.alert_id AS alert_id, m.event_id AS event_id, m.created_at AS created_at,
    m.platform AS platform, m.kind AS kind, m.author_handle AS author_handle,
    m.author_followers AS author_followers, m.complaint AS complaint,
    m.sentiment AS sentiment, m.text AS text
FROM
(
    SELECT alert_id, org_id, arrayJoin(sample_event_ids) AS event_id
    FROM alerts
    WHERE alert_id IN {{alert_ids:Array(String)}} AND {VISIBLE}
) AS a
INNER JOIN
(
    SELECT org_id, event_id, created_at, platform, kind, author_handle, author_followers,
           complaint, sentiment, text
    FROM mentions
    WHERE {VISIBLE}
      AND event_id IN (
          SELECT arrayJoin(sample_event_ids) FROM alerts
          WHERE alert_id IN {{alert_ids:Array(String)}} AND {VISIBLE}
      )
) AS m ON m.org_id = a.org_id AND m.event_id = a.event_id
ORDER BY alert_id, created_at, event_id""",
)

# -- SQL page ------------------------------------------------------------------------

PUBLIC_COLUMNS = Query(
    "public_columns",
    "the columns of the public tables and views, for the schema browser (no client data)",
    """SELECT table, name, type, comment
FROM system.columns
WHERE database = currentDatabase() AND table IN {tables:Array(String)}
ORDER BY table, position""",
)

ALL_QUERIES: tuple[Query, ...] = (
    WATERMARK,
    KNOWN_ORGS,
    CLIENTS_VOLUME,
    CLIENTS_REACH,
    CLIENTS_RESPONSES,
    CLIENTS_ALERTS,
    CLIENTS_SURGES,
    CLIENTS_SILENCE,
    CLIENTS_WAITING,
    CLIENT_SPAN,
    CLIENT_ACTIVITY,
    CLIENT_ALERTS,
    CLIENT_RESPONSE_SUMMARY,
    CLIENT_RESPONSE_HISTOGRAM,
    CLIENT_RESPONSE_HEATMAP,
    CLIENT_RESPONDERS,
    CLIENT_OPEN_QUEUE,
    CLIENT_INFLUENCERS,
    SECTOR_VOICE,
    ALERTS_SUMMARY,
    ALERTS_LIST,
    ALERT_SAMPLES,
    PUBLIC_COLUMNS,
)


@dataclass(frozen=True)
class Example:
    """A ready-made query for the SQL page: plain SQL a person can read and change."""

    title: str
    sql: str


EXAMPLES: tuple[Example, ...] = (
    Example(
        "Mentions and complaints per client, last 7 days",
        """WITH (SELECT max(created_at) FROM mentions) AS now
SELECT org_id, count() AS mentions, countIf(complaint) AS complaints,
       round(100 * complaints / mentions, 1) AS complaint_pct
FROM mentions
WHERE created_at > now - INTERVAL 7 DAY
GROUP BY org_id
ORDER BY mentions DESC""",
    ),
    Example(
        "Hourly activity of all clients, last 2 days",
        """WITH (SELECT max(minute) FROM org_activity_1m) AS now
SELECT toStartOfHour(minute) AS hour, sum(mentions) AS mentions,
       sum(complaints) AS complaints, sum(replies) AS replies
FROM org_activity_1m
WHERE minute > now - INTERVAL 2 DAY
GROUP BY hour
ORDER BY hour""",
    ),
    Example(
        "First response per client: median and SLA",
        """SELECT org_id,
       countIf(status = 'answered') AS answered,
       round(quantileExactIf(0.5)(response_seconds, status = 'answered') / 60, 1)
           AS median_minutes,
       round(quantileExactIf(0.5)(business_response_seconds, status = 'answered') / 60, 1)
           AS median_business_minutes,
       round(100 * countIf(status = 'answered' AND NOT sla_breached)
             / nullIf(countIf(status = 'answered' OR sla_breached), 0), 1) AS within_sla_pct
FROM mention_responses
GROUP BY org_id
ORDER BY org_id""",
    ),
    Example(
        "Slowest answered mentions",
        """SELECT org_id, mention_id, created_at, responder_handle, responder_role,
       round(response_seconds / 3600, 1) AS hours,
       round(business_response_seconds / 3600, 1) AS business_hours
FROM mention_responses
WHERE status = 'answered'
ORDER BY response_seconds DESC
LIMIT 50""",
    ),
    Example(
        "Open alerts, most severe first",
        """SELECT org_id, kind, opened_at, severity, observed, expected, summary
FROM alerts
WHERE status = 'open'
ORDER BY severity DESC, opened_at
LIMIT 100""",
    ),
    Example(
        "Most influential voices per client",
        """SELECT org_id, author_handle, followers, mentions, times_shared, influence
FROM influencers
ORDER BY influence DESC
LIMIT 1 BY org_id""",
    ),
    Example(
        "Rejected input by reason",
        """SELECT error_code, count() AS rejected, max(received_at) AS last_seen,
       any(error) AS example
FROM dead_letters
GROUP BY error_code
ORDER BY rejected DESC""",
    ),
)
