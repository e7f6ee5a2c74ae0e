"""The dashboard's figures without I/O: time ranges, the overview's ordering, durations.

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

from pipelines.roster import Roster


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
    "attention": pl.Float64,
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
) -> pl.DataFrame:
    """Join the per-source figures into one row per organisation, most urgent first."""
    by_org: dict[str, dict[str, Any]] = {o: {} for o in known}
    for frame in (volume, reach, responses, alerts):
        if frame.height == 0:
            continue
        for row in frame.iter_rows(named=True):
            by_org.setdefault(row["org_id"], {}).update(row)
    rows = []
    for org_id, found in by_org.items():
        org = roster.org(org_id)
        row = overview_row(org_id, found, now)
        row["name"] = org.name or org_id
        row["sector"] = org.sector or ""
        score, reasons = attention(row, sla_seconds=org.first_response_sla)
        row["attention"] = score
        row["why"] = ", ".join(reasons)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=dict(OVERVIEW_SCHEMA))
    return frame.sort(
        [pl.col("attention"), pl.col("name").str.to_lowercase()], descending=[True, False]
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


def attention(row: Mapping[str, Any], *, sla_seconds: int) -> tuple[float, list[str]]:
    """How urgently an organisation needs someone to look, and the reasons, in words.

    The order of the weights is the order of the advice: an open complaint surge
    first, then mentions waiting past their SLA, then an unusual volume, then
    the age of the oldest open mention, then missed SLAs today.
    """
    score = 0.0
    reasons: list[str] = []
    surges = int(row.get("open_surges") or 0)
    if surges:
        score += 1000 + 100 * surges
        reasons.append("complaint surge" if surges == 1 else f"{surges} complaint surges")
    past_sla = int(row.get("open_past_sla") or 0)
    if past_sla:
        score += 100 + min(past_sla, 99)
        reasons.append(f"{past_sla} open past SLA")
    last_hour = int(row.get("mentions_last_hour") or 0)
    usual = row.get("usual_last_hour")
    if last_hour >= 5 and usual is not None and last_hour >= 2 * max(usual, 1.0):
        ratio = last_hour / max(usual, 1.0)
        score += 50 + min(ratio, 49)
        reasons.append(f"{ratio:.1f}× the usual volume")
    oldest = row.get("oldest_open_seconds")
    if oldest is not None and sla_seconds > 0:
        score += min(oldest / sla_seconds, 40)
        if oldest > sla_seconds:
            reasons.append(f"oldest open {format_seconds(oldest)}")
    share = row.get("within_sla_share")
    if share is not None and share < 0.8:
        score += 10 * (1 - share)
        reasons.append(f"{share:.0%} within SLA today")
    other_alerts = int(row.get("open_alerts") or 0) - surges
    if other_alerts and not past_sla:
        score += min(other_alerts, 9)
        reasons.append(f"{other_alerts} open alerts")
    return score, reasons


def format_seconds(seconds: float | None) -> str:
    """A duration the way people say it: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if seconds is None or seconds != seconds:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m:02d} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


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
