"""The weekly client report: what an agency sends a client every Monday, as data.

`collect_report` asks the warehouse (through `DashboardData`, so with the
viewer's scope and the dashboard's read path) for one client's week and the
week before, and `WeeklyReport` holds the answers: volume per local day,
response figures in calendar and business time with the SLA's outcome, the
complaint surges that opened in the week with their sample mentions, and the
authors of the week ranked by influence. Every format (the dashboard page, the
HTML and the PDF file) renders this one object, through `report.lines`, so they
cannot disagree.

Definitions are the README's ("What the numbers mean"): a response figure
belongs to the week its mention was posted in, and shows the mention's state
as of the warehouse's event-time watermark (`as_of`); "within SLA" is the
share of mentions whose SLA is decided (answered, or open past it) that were
answered within it, in the client's business hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from dashboard.data import DashboardData
from dashboard.report import queries
from dashboard.report.week import IsoWeek
from schemas.saturating import UINT64_MAX

__all__ = [
    "Change",
    "Day",
    "Responses",
    "SampleMention",
    "Surge",
    "UnknownOrg",
    "Voice",
    "Volume",
    "WeeklyReport",
    "collect_report",
]

# Most surges a report lists, sample mentions per surge, and voices.
SURGE_LIMIT = 50
VOICE_LIMIT = 10


class UnknownOrg(LookupError):
    """No such client in the roster or the warehouse (or not one the viewer may see)."""


@dataclass(frozen=True)
class Change:
    """A figure this week against the week before."""

    current: float | None
    previous: float | None

    @property
    def difference(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """The difference as a share of last week's figure; None when that was 0 or unknown."""
        if self.difference is None or not self.previous:
            return None
        return self.difference / abs(self.previous)


@dataclass(frozen=True)
class Day:
    """One local day of a client's activity (org_activity_1m summed over the day)."""

    day: date
    mentions: int = 0
    complaints: int = 0
    shares: int = 0
    posts: int = 0
    replies: int = 0
    potential_reach: int = 0


@dataclass(frozen=True)
class Volume:
    """A week's activity: the days summed, and its distinct authors and average sentiment."""

    mentions: int
    complaints: int
    shares: int
    posts: int
    replies: int
    potential_reach: int
    authors: int
    sentiment: float | None

    @property
    def complaint_share(self) -> float | None:
        return self.complaints / self.mentions if self.mentions else None

    @classmethod
    def of(cls, days: tuple[Day, ...], authors: int, sentiment: float | None) -> Volume:
        return cls(
            mentions=sum(d.mentions for d in days),
            complaints=sum(d.complaints for d in days),
            shares=sum(d.shares for d in days),
            posts=sum(d.posts for d in days),
            replies=sum(d.replies for d in days),
            # A sum of followers stops at the top, as the warehouse's does (README).
            potential_reach=min(sum(d.potential_reach for d in days), UINT64_MAX),
            authors=authors,
            sentiment=sentiment,
        )


@dataclass(frozen=True)
class Responses:
    """First responses to the actionable mentions posted in a week, as they stand now."""

    actionable: int = 0
    answered: int = 0
    pending: int = 0
    unanswered: int = 0
    median_response_seconds: float | None = None
    p90_response_seconds: float | None = None
    median_business_seconds: float | None = None
    p90_business_seconds: float | None = None
    within_sla: int = 0
    breached: int = 0
    by_official: int = 0
    by_employee: int = 0

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.actionable if self.actionable else None

    @property
    def sla_decided(self) -> int:
        """Mentions whose SLA is decided: answered within it, or breached (answered late or
        still open past it)."""
        return self.within_sla + self.breached

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.sla_decided if self.sla_decided else None


@dataclass(frozen=True)
class SampleMention:
    """A mention an alert keeps as an example of what the surge was about."""

    event_id: str
    created_at: datetime
    platform: str
    kind: str
    author_handle: str
    author_followers: int
    complaint: bool | None
    sentiment: float | None
    text: str


@dataclass(frozen=True)
class Surge:
    """A complaint surge that opened in the week (the `alerts` row, latest state)."""

    alert_id: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    severity: float
    observed: float
    expected: float
    summary: str
    samples: tuple[SampleMention, ...]

    def lasted_seconds(self, as_of: datetime | None) -> float | None:
        """From opening to resolution, or to `as_of` while still open."""
        until = self.resolved_at or as_of
        return (until - self.opened_at).total_seconds() if until is not None else None


@dataclass(frozen=True)
class Voice:
    """An author who mentioned the client in the week, with the influencers view's figures."""

    author_handle: str
    followers: int
    verified: bool
    influence: float
    mentions_all_time: int
    times_shared: int
    mentions: int
    complaints: int


@dataclass(frozen=True)
class WeeklyReport:
    """One client's week and the week before, as the report shows them."""

    org_id: str
    org_name: str
    sector: str | None
    timezone: str
    sla_seconds: int
    week: IsoWeek
    start: datetime
    end: datetime
    as_of: datetime | None  # the warehouse's event-time watermark when the report was made
    days: tuple[Day, ...]
    previous_days: tuple[Day, ...]
    volume: Volume
    previous_volume: Volume
    responses: Responses
    previous_responses: Responses
    surges: tuple[Surge, ...]
    alerts_opened: Mapping[str, tuple[int, int]]  # kind -> (this week, week before)
    voices: tuple[Voice, ...]

    @property
    def has_data(self) -> bool:
        """Whether the client had any mention, post or alert in the week."""
        return bool(self.volume.mentions or self.volume.posts or self.responses.actionable
                    or self.surges or any(n for n, _ in self.alerts_opened.values()))

    @property
    def state(self) -> str:
        """`complete`, `in progress` (the watermark is inside the week) or `not started`."""
        if self.as_of is None or self.as_of < self.start:
            return "not started"
        return "in progress" if self.as_of < self.end else "complete"

    @property
    def surge_count(self) -> Change:
        now, before = self.alerts_opened.get("complaint_surge", (0, 0))
        return Change(now, before)


# -- asking the warehouse ------------------------------------------------------------


def collect_report(data: DashboardData, org_id: str, week: IsoWeek, *,
                   as_of: datetime | None = None) -> WeeklyReport:
    """The report of `org_id` for `week` in the client's own time zone.

    `as_of` is the watermark (read from the warehouse when not given). Raises
    `UnknownOrg` for a client that is neither in the roster nor in the warehouse,
    or that the viewer may not see; `DataUnavailable` when the warehouse cannot answer.
    """
    known = data.orgs()
    if not data.scope.sees(org_id) or org_id not in known:
        raise UnknownOrg(unknown_org_message(org_id, known))
    if as_of is None:
        as_of = data.clock().now
    org = data.org(org_id)
    start, end = week.span(org.timezone)
    previous_start, _ = week.previous().span(org.timezone)
    both = {"org_id": org_id, "previous_start": previous_start, "start": start, "end": end}

    days = data.run(queries.REPORT_DAYS, timezone=org.timezone, org_id=org_id,
                    previous_start=previous_start, end=end)
    audience = data.run(queries.REPORT_AUDIENCE, **both)
    responses = data.run(queries.REPORT_RESPONSES, **both)
    alert_counts = data.run(queries.REPORT_ALERT_COUNTS, **both)
    surges = data.run(queries.REPORT_SURGES, org_id=org_id, start=start, end=end,
                      limit=SURGE_LIMIT)
    samples = (data.run(queries.REPORT_SURGE_SAMPLES, org_id=org_id,
                        alert_ids=surges["alert_id"].to_list())
               if surges.height else pl.DataFrame())
    voices = data.run(queries.REPORT_VOICES, org_id=org_id, start=start, end=end,
                      limit=VOICE_LIMIT)

    this_days = week_days(days, week)
    before_days = week_days(days, week.previous())
    found = audience.row(0, named=True) if audience.height else {}
    by_week = {int(r["this_week"]): r for r in responses.iter_rows(named=True)}
    return WeeklyReport(
        org_id=org_id,
        org_name=data.org_name(org_id),
        sector=org.sector,
        timezone=org.timezone,
        sla_seconds=org.first_response_sla,
        week=week,
        start=start,
        end=end,
        as_of=as_of,
        days=this_days,
        previous_days=before_days,
        volume=Volume.of(this_days, int(found.get("authors") or 0),
                         _number(found.get("average_sentiment"))),
        previous_volume=Volume.of(before_days, int(found.get("previous_authors") or 0),
                                  _number(found.get("previous_average_sentiment"))),
        responses=response_figures(by_week.get(1, {})),
        previous_responses=response_figures(by_week.get(0, {})),
        surges=surge_list(surges, samples),
        alerts_opened={r["kind"]: (int(r["opened"]), int(r["previous_opened"]))
                       for r in alert_counts.iter_rows(named=True)},
        voices=tuple(Voice(
            author_handle=r["author_handle"], followers=int(r["followers"]),
            verified=bool(r["verified"]), influence=float(r["influence"]),
            mentions_all_time=int(r["mentions_all_time"]),
            times_shared=int(r["times_shared"] or 0), mentions=int(r["mentions"]),
            complaints=int(r["complaints"]),
        ) for r in voices.iter_rows(named=True)),
    )


# -- shaping the answers (pure) ------------------------------------------------------


def unknown_org_message(org_id: str, known: list[str], shown: int = 12) -> str:
    """What to say about a client id that is not there, with the ids that are."""
    if not known:
        return (f"no client {org_id!r}: the roster lists no organisations and the warehouse "
                "holds no mentions yet")
    listed = ", ".join(sorted(known)[:shown])
    more = f" and {len(known) - shown} more" if len(known) > shown else ""
    return (f"no client {org_id!r} in the roster or the warehouse; known clients: "
            f"{listed}{more} (ids as in the roster's `id` and the tables' org_id)")


def week_days(found: pl.DataFrame, week: IsoWeek) -> tuple[Day, ...]:
    """Monday to Sunday of `week`, with zeros for the days without activity."""
    by_day: dict[date, dict[str, Any]] = {r["day"]: r for r in found.iter_rows(named=True)}
    days = []
    for day in week.days:
        row = by_day.get(day)
        if row is None:
            days.append(Day(day))
            continue
        days.append(Day(day, **{name: int(row[name] or 0) for name in (
            "mentions", "complaints", "shares", "posts", "replies", "potential_reach")}))
    return tuple(days)


def response_figures(row: Mapping[str, Any]) -> Responses:
    """A `report_responses` row as `Responses` (an empty row: a week without mentions)."""
    if not row:
        return Responses()
    counts = {name: int(row[name] or 0) for name in (
        "actionable", "answered", "pending", "unanswered", "within_sla", "breached",
        "by_official", "by_employee")}
    def time(name: str) -> float | None:  # a quantile over no answer is no time
        return _number(row[name]) if counts["answered"] else None

    return Responses(
        **counts,
        median_response_seconds=time("median_response_seconds"),
        p90_response_seconds=time("p90_response_seconds"),
        median_business_seconds=time("median_business_seconds"),
        p90_business_seconds=time("p90_business_seconds"),
    )


def surge_list(surges: pl.DataFrame, samples: pl.DataFrame) -> tuple[Surge, ...]:
    """The surges with their sample mentions, in the order the query gave them."""
    by_alert: dict[str, list[SampleMention]] = {}
    for r in samples.iter_rows(named=True):
        by_alert.setdefault(r["alert_id"], []).append(SampleMention(
            event_id=r["event_id"], created_at=r["created_at"], platform=r["platform"],
            kind=r["kind"], author_handle=r["author_handle"] or "",
            author_followers=int(r["author_followers"] or 0), complaint=r["complaint"],
            sentiment=_number(r["sentiment"]), text=r["text"] or "",
        ))
    return tuple(Surge(
        alert_id=r["alert_id"], status=r["status"], opened_at=r["opened_at"],
        resolved_at=r["resolved_at"], severity=float(r["severity"]),
        observed=float(r["observed"]), expected=float(r["expected"]),
        summary=r["summary"] or "", samples=tuple(by_alert.get(r["alert_id"], ())),
    ) for r in surges.iter_rows(named=True))


def _number(value: Any) -> float | None:
    """A float, or None for a missing value (NULL, or the NaN of a quantile over nothing)."""
    if value is None:
        return None
    number = float(value)
    return None if number != number else number
