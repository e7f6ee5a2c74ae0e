"""The dashboard's figures without I/O: time ranges, the overview and its order, buckets.

Everything here is a pure function of its arguments, so the definitions behind
the numbers on the pages (what "usual" is, why a client is on top, how a range
is bucketed) are tested without Streamlit or a warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from dashboard.display import format_seconds
from dashboard.triage import urgency
from pipelines.roster import Roster

# format_seconds lives in dashboard.display; it is imported from here too.
__all__ = [
    "BUCKET_SIZES",
    "OVERVIEW_SCHEMA",
    "RESPONSE_BINS",
    "RESPONSE_BIN_MORE",
    "Window",
    "bucket_for",
    "build_overview",
    "format_seconds",
    "local_midnight",
    "overview_row",
    "window_between",
    "window_until",
    "zero_filled",
]


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end) with the bucket size its charts use."""

    start: datetime
    end: datetime
    bucket_seconds: int

    def buckets(self) -> pl.Series:
        """Every bucket start in the range, aligned as ClickHouse's toStartOfInterval does."""
        first = _floor(self.start, self.bucket_seconds)
        step = timedelta(seconds=self.bucket_seconds)
        count = max(1, math.ceil((self.end - first) / step))
        values = [first + i * step for i in range(count)]
        return pl.Series("bucket", values, dtype=pl.Datetime("ms", "UTC"))


# Bucket sizes a chart may use, smallest first.
BUCKET_SIZES = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


def bucket_for(span_seconds: float, most: int = 200) -> int:
    """The smallest bucket size that shows `span_seconds` in at most `most` buckets."""
    for size in BUCKET_SIZES:
        if span_seconds / size <= most:
            return size
    return BUCKET_SIZES[-1]


def window_between(start: datetime, end: datetime) -> Window:
    """The range [start, end) with a bucket size that suits its length."""
    if end <= start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    return Window(start, end, bucket_for((end - start).total_seconds()))


def window_until(now: datetime, span: timedelta) -> Window:
    """The `span` up to and including the instant `now` (the watermark)."""
    end = now + timedelta(milliseconds=1)
    return window_between(end - span, end)


def _floor(t: datetime, seconds: int) -> datetime:
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


# Upper bounds (seconds) of the first-response histogram's bins; the last bin is "more".
RESPONSE_BINS: tuple[tuple[float, str], ...] = (
    (5 * 60, "< 5 min"),
    (15 * 60, "5–15 min"),
    (30 * 60, "15–30 min"),
    (3600, "30–60 min"),
    (2 * 3600, "1–2 h"),
    (4 * 3600, "2–4 h"),
    (8 * 3600, "4–8 h"),
    (24 * 3600, "8–24 h"),
    (3 * 86400, "1–3 days"),
)
RESPONSE_BIN_MORE = "> 3 days"


def local_midnight(now: datetime, timezone: str) -> datetime:
    """The start of `now`'s calendar day in `timezone`, as a UTC instant."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return midnight.astimezone(UTC)


OVERVIEW_SCHEMA: Mapping[str, Any] = {
    "org_id": pl.String,
    "name": pl.String,
    "sector": pl.String,
    "mentions_last_hour": pl.Int64,
    "usual_last_hour": pl.Float64,
    "mentions_today": pl.Int64,
    "complaint_share": pl.Float64,
    "open_mentions": pl.Int64,
    "oldest_open_seconds": pl.Float64,
    "open_past_sla": pl.Int64,
    "median_response_today": pl.Float64,
    "within_sla_share": pl.Float64,
    "reach_today": pl.UInt64,  # a sum of followers: up to 2^64-1
    "open_alerts": pl.Int64,
    "open_surges": pl.Int64,
    "urgency": pl.Float64,
    "surge_points": pl.Float64,
    "queue_points": pl.Float64,
    "silence_points": pl.Float64,
    "why": pl.String,
}


def build_overview(
    *,
    now: datetime,
    roster: Roster,
    known: list[str],
    volume: pl.DataFrame,
    reach: pl.DataFrame,
    responses: pl.DataFrame,
    alerts: pl.DataFrame,
    surges: pl.DataFrame | None = None,
    silence: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Join the per-source figures into one row per organisation, most urgent first
    (`dashboard.triage`; equal urgency by name)."""
    by_org: dict[str, dict[str, Any]] = {o: {} for o in known}
    for frame in (volume, reach, responses, alerts, surges, silence):
        if frame is None or frame.height == 0:
            continue
        for row in frame.iter_rows(named=True):
            by_org.setdefault(row["org_id"], {}).update(row)
    rows = []
    for org_id, found in by_org.items():
        org = roster.org(org_id)
        row = overview_row(org_id, found, now)
        row["name"] = org.name or org_id
        row["sector"] = org.sector or ""
        need = urgency(found, org, now)
        row["urgency"] = need.score
        row["surge_points"] = need.surge
        row["queue_points"] = need.queue
        row["silence_points"] = need.silence
        row["why"] = " · ".join(need.reasons)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=dict(OVERVIEW_SCHEMA))
    return frame.sort(
        [pl.col("urgency"), pl.col("name").str.to_lowercase()], descending=[True, False]
    )


def overview_row(org_id: str, found: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    def count(name: str) -> int:
        return int(found.get(name) or 0)

    previous_days = count("previous_days")
    usual = count("same_hour_previous_days") / previous_days if previous_days else None
    mentions_today = count("mentions_today")
    oldest = found.get("oldest_open_at")
    due = count("sla_due_today")
    median = found.get("median_response_today")
    return {
        "org_id": org_id,
        "mentions_last_hour": count("mentions_last_hour"),
        "usual_last_hour": usual,
        "mentions_today": mentions_today,
        "complaint_share": count("complaints_today") / mentions_today if mentions_today else None,
        "open_mentions": count("open_mentions"),
        "oldest_open_seconds": (now - oldest).total_seconds() if oldest is not None else None,
        "open_past_sla": count("open_past_sla"),
        "median_response_today": None if median is None or median != median else float(median),
        "within_sla_share": count("within_sla_today") / due if due else None,
        "reach_today": count("reach_today"),
        "open_alerts": count("open_alerts"),
        "open_surges": count("open_surges"),
    }


def zero_filled(found: pl.DataFrame, window: Window, columns: tuple[str, ...]) -> pl.DataFrame:
    """`found` with a zero row for every bucket of the window it lacks (none is dropped).
    The counts are UInt64, as the warehouse gives them: a reach may be up to 2^64-1."""
    buckets = window.buckets().to_frame()
    if found.height == 0:
        return buckets.with_columns([pl.lit(0, dtype=pl.UInt64).alias(c) for c in columns])
    found = found.with_columns(pl.col("bucket").cast(pl.Datetime("ms", "UTC")),
                               *[pl.col(c).cast(pl.UInt64) for c in columns])
    missing = buckets.join(found, on="bucket", how="anti")
    filled = missing.with_columns([pl.lit(0, dtype=pl.UInt64).alias(c) for c in columns])
    return pl.concat([found.select("bucket", *columns), filled]).sort("bucket")
