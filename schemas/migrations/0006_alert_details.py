"""Alerts say what they are about: a `details` column holding each state's facts as JSON.

A complaint-surge alert carries the terms and hashtags that set its complaints apart, its
most-followed complaining authors, sample posts and the complaint share of its mentions
(`pipelines.processing.escalation`); every kind may put its own facts there (`Alert.details`). The
alerts topic and the webhook always had them; the warehouse now keeps them too, so the
dashboard and a saved query can show them: `JSONExtract(details, 'terms', ...)`.

`details` is added to `alerts_state` and to its copy by time `alerts_by_time` (migration
0003), after every other column; rows written before read it as an empty string. The
materialized view that copies each new state and the `alerts` view are created again with
the column; every other column, its name and its meaning are those of migration 0003.
"""

from schemas.tables import ALERTS_STATE

_DETAILS = next(c for c in ALERTS_STATE.columns if c.name == "details")
# `alerts_state`'s columns once this migration has run (a column added by a later migration
# is not there yet when an old warehouse is upgraded through this one).
_ALERT_STATE_AT_0006 = (
    "alert_id", "org_id", "kind", "status", "opened_at", "resolved_at", "severity", "observed",
    "expected", "summary", "sample_event_ids", "updated_at", "version", "is_deleted", "details",
)
_STATE_COLUMNS = ", ".join(f"`{c}`" for c in _ALERT_STATE_AT_0006)
_VIEW_COLUMNS = ", ".join(c for c in _ALERT_STATE_AT_0006 if c != "is_deleted")

STATEMENTS = (
    f"ALTER TABLE {{db}}.{ALERTS_STATE.name} ADD COLUMN IF NOT EXISTS {_DETAILS.ddl()}",
    f"ALTER TABLE {{db}}.alerts_by_time ADD COLUMN IF NOT EXISTS {_DETAILS.ddl()}",
    "DROP VIEW IF EXISTS {db}.alerts_by_time_feed",
    f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.alerts_by_time_feed
TO {{db}}.alerts_by_time
AS SELECT {_STATE_COLUMNS} FROM {{db}}.{ALERTS_STATE.name}""",
    "DROP VIEW IF EXISTS {db}.alerts",
    f"""CREATE VIEW IF NOT EXISTS {{db}}.alerts AS
SELECT {_VIEW_COLUMNS}
FROM {{db}}.alerts_by_time FINAL
WHERE is_deleted = 0""",
)
