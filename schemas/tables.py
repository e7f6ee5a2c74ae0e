"""The warehouse's column lists, written once.

Migrations render their CREATE statements from these lists, the sink inserts in
this column order, and a test compares them with the public tables of
docs/contract.md §3. Public columns come first; columns after them are dorpspomp's
own additions (allowed by the contract: tables may gain columns, never lose them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TIME = "DateTime64(3, 'UTC')"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""
    default: str = ""  # a DEFAULT expression, e.g. for rows written before the column existed

    def ddl(self) -> str:
        quoted = self.comment.replace("\\", "\\\\").replace("'", "\\'")
        comment = f" COMMENT '{quoted}'" if self.comment else ""
        default = f" DEFAULT {self.default}" if self.default else ""
        return f"`{self.name}` {self.type}{default}{comment}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column_ddl(self) -> str:
        return ",\n".join(f"    {c.ddl()}" for c in self.columns)


def _table(name: str, columns: Sequence[tuple[str, ...]]) -> Table:
    return Table(name, tuple(Column(*c) for c in columns))


SOURCE_COLUMNS = (
    ("ingested_at", TIME, "when the worker wrote the row"),
    ("source_partition", "UInt32", "Kafka partition the event came from"),
    ("source_offset", "UInt64", "Kafka offset the event came from"),
    # Rows written before the column existed read it as their created_at (migration 0005).
    ("kafka_timestamp", TIME, "the Kafka message timestamp (the worker's clock for a message "
     "without one): the horizon and the event clocks are measured against it", "created_at"),
)

MENTIONS = _table("mentions", (
    ("org_id", "LowCardinality(String)"),
    ("event_id", "String"),
    ("platform", "LowCardinality(String)"),
    ("created_at", TIME),
    ("author_id", "String"),
    ("author_handle", "String"),
    ("author_followers", "UInt64"),
    ("kind", "LowCardinality(String)"),
    ("text", "String"),
    ("lang", "LowCardinality(Nullable(String))"),
    ("in_reply_to", "Nullable(String)"),
    ("shared_from", "Nullable(String)"),
    ("sentiment", "Nullable(Float32)", "upstream score, else the pipeline's own"),
    ("complaint", "Nullable(Bool)", "upstream label, else the pipeline's own"),
    ("author_verified", "Bool"),
    ("labels_source", "LowCardinality(String)",
     "upstream, model, or mixed: who set sentiment and complaint"),
    *SOURCE_COLUMNS,
))

POSTS = _table("posts", (
    ("org_id", "LowCardinality(String)"),
    ("event_id", "String"),
    ("platform", "LowCardinality(String)"),
    ("created_at", TIME),
    ("account_id", "String"),
    ("account_handle", "String"),
    ("account_role", "LowCardinality(String)", "official or employee; the roster wins"),
    ("account_followers", "UInt64"),
    ("kind", "LowCardinality(String)"),
    ("in_reply_to", "Nullable(String)"),
    ("text", "String"),
    ("org_source", "LowCardinality(String)", "event (org_id given) or roster (from the account)"),
    *SOURCE_COLUMNS,
))

DEAD_LETTERS = _table("dead_letters", (
    ("received_at", TIME),
    ("source", "String", "where it came from: kafka topic[partition]@offset"),
    ("error", "String", "what is wrong and what to do about it"),
    ("payload", "String", "the raw bytes as received"),
    ("error_code", "LowCardinality(String)", "machine-readable reason, e.g. bad_json"),
    ("topic", "LowCardinality(String)"),
    ("partition", "UInt32"),
    ("offset", "UInt64"),
))

# The state the response tracker writes; the `mention_responses` view adds the
# watermark-dependent columns (status, and sla_breached for open mentions).
MENTION_RESPONSES_STATE = _table("mention_responses_state", (
    ("org_id", "LowCardinality(String)"),
    ("mention_id", "String"),
    ("platform", "LowCardinality(String)"),
    ("created_at", TIME),
    ("first_response_id", "Nullable(String)"),
    ("first_response_at", f"Nullable({TIME})"),
    ("responder_handle", "Nullable(String)"),
    ("responder_role", "LowCardinality(Nullable(String))", "official or employee"),
    ("response_seconds", "Nullable(Float64)", "calendar seconds to the first response"),
    ("business_response_seconds", "Nullable(Float64)",
     "seconds to the first response inside the org's business hours"),
    ("sla_seconds", "Float64", "the org's first_response_sla"),
    ("sla_breached", "Bool", "for answered mentions; the view decides for open ones"),
    ("author_id", "String"),
    ("author_handle", "String"),
    ("kind", "LowCardinality(String)"),
    ("complaint", "Bool"),
    ("answer_deadline", TIME, "created_at + answer_window: unanswered after it"),
    ("sla_breach_at", TIME, "first instant at which business time exceeds the SLA"),
    ("version", "UInt64", "0 unanswered; answered: higher for an earlier response"),
))

# Column order of the `mention_responses` view: the contract's first.
MENTION_RESPONSES_VIEW = (
    "org_id", "mention_id", "platform", "created_at", "status", "first_response_id",
    "first_response_at", "responder_handle", "responder_role", "response_seconds",
    "business_response_seconds", "sla_seconds", "sla_breached", "author_id", "author_handle",
    "kind", "complaint", "answer_deadline", "sla_breach_at",
)

ALERTS_STATE = _table("alerts_state", (
    ("alert_id", "String"),
    ("org_id", "LowCardinality(String)"),
    ("kind", "LowCardinality(String)", "complaint_surge, sla_breach, ..."),
    ("status", "LowCardinality(String)", "open or resolved"),
    ("opened_at", TIME),
    ("resolved_at", f"Nullable({TIME})"),
    ("severity", "Float64", "0-10"),
    ("observed", "Float64"),
    ("expected", "Float64"),
    ("summary", "String"),
    ("sample_event_ids", "Array(String)"),
    ("updated_at", TIME, "event time of this state"),
    ("version", "UInt64", "state version; the highest wins"),
    ("is_deleted", "UInt8", "1: late data showed the alert was wrong; hidden by the view"),
    # Rows written before the column existed read it as '' (migration 0006).
    ("details", "String", "what the alert is about, as a JSON object (complaint_surge: terms, "
     "top_authors, posts, share; each kind its own facts)"),
))

WATERMARKS = _table("watermarks", (
    ("name", "String", "events: the highest event time read"),
    ("value", TIME),
))

ALERT_DELIVERIES = _table("alert_deliveries", (
    ("delivery_key", "String", "alert_id#version"),
    ("delivered_at", TIME),
))

INGEST_OFFSETS = _table("ingest_offsets", (
    ("consumer_group", "String"),
    ("topic", "String"),
    ("partition", "UInt32"),
    ("next_offset", "UInt64", "first offset not yet written to the warehouse"),
    ("written_at", TIME),
    ("clock_at", f"Nullable({TIME})",
     "the partition's event clock at next_offset: the newest clock time of the events before "
     "it; NULL when not known (rows written before migration 0007)"),
))

SCHEMA_MIGRATIONS = _table("schema_migrations", (
    ("migration", "String"),
    ("applied_at", TIME),
))

# The public tables of CONTRACT.md §3, with the columns the contract promises.
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "mentions": ("org_id", "event_id", "platform", "created_at", "author_id", "author_handle",
                 "author_followers", "kind", "text", "lang", "in_reply_to", "shared_from",
                 "sentiment", "complaint"),
    "posts": ("org_id", "event_id", "platform", "created_at", "account_id", "account_handle",
              "account_role", "account_followers", "kind", "in_reply_to", "text"),
    "mention_responses": ("org_id", "mention_id", "platform", "created_at", "status",
                          "first_response_id", "first_response_at", "responder_handle",
                          "responder_role", "response_seconds", "business_response_seconds",
                          "sla_seconds", "sla_breached"),
    "org_activity_1m": ("org_id", "minute", "mentions", "complaints", "shares", "posts",
                        "replies", "unique_authors", "potential_reach"),
    "alerts": ("alert_id", "org_id", "kind", "status", "opened_at", "resolved_at", "severity",
               "observed", "expected", "summary", "sample_event_ids"),
    "dead_letters": ("received_at", "source", "error", "payload"),
}

PUBLIC_TABLES = tuple(CONTRACT_COLUMNS)

# The public views (docs/contract.md §3) computed from the tables at query time, with the
# columns they promise; migrations 0002-0004 define them.
PUBLIC_VIEWS: dict[str, tuple[str, ...]] = {
    "influencers": ("org_id", "author_id", "author_handle", "followers", "verified", "mentions",
                    "complaints", "times_shared", "share_reach", "first_seen", "last_seen",
                    "influence"),
    "post_reach": ("org_id", "event_id", "created_at", "account_handle", "account_role",
                   "account_followers", "shares", "sharers", "potential_reach"),
}

# Everything a person may query by name: the public tables, then the public views.
QUERYABLE_TABLES = (*PUBLIC_TABLES, *PUBLIC_VIEWS)
