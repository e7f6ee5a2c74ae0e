"""ISO weeks as a client lives them: Monday 00:00 to the next Monday 00:00 on its own clock.

An agency reports to a client by the week the client's staff know, so a week's
bounds are local midnights in the roster's `timezone` of that client, turned
into the UTC instants the warehouse stores. A week across a daylight-saving
change is then 167 or 169 hours long, as it was for the people in it. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["IsoWeek", "WeekError"]

# DateTime64's range in ClickHouse.
FIRST_YEAR, LAST_YEAR = 1900, 2298
_WEEK = re.compile(r"\s*(?P<year>[0-9]{4})-?[Ww](?P<week>[0-9]{1,2})\s*")


class WeekError(ValueError):
    """A week that cannot be read or does not exist; the message says how to write one."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week: weeks start on Monday, and week 1 holds the year's first Thursday."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise WeekError(f"{self.year} is outside the warehouse's time range; weeks of "
                            f"{FIRST_YEAR} to {LAST_YEAR} can be reported")
        last = weeks_in(self.year)
        if not 1 <= self.week <= last:
            raise WeekError(f"{self.year} has no week {self.week}: its ISO weeks are "
                            f"W01 to W{last:02d}")

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """A week written as `2026-W10` (also `2026W10`, `2026-w10`)."""
        found = _WEEK.fullmatch(text)
        if found is None:
            raise WeekError(f"{text!r} is not an ISO week; write the year, W and the week "
                            "number, e.g. 2026-W10")
        return cls(int(found["year"]), int(found["week"]))

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def containing(cls, instant: datetime, timezone: str) -> IsoWeek:
        """The week whose local days in `timezone` include `instant`."""
        return cls.of(instant.astimezone(ZoneInfo(timezone)).date())

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def days(self) -> tuple[date, ...]:
        """Monday to Sunday."""
        return tuple(self.monday + timedelta(days=i) for i in range(7))

    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.monday - timedelta(days=7))

    def following(self) -> IsoWeek:
        return IsoWeek.of(self.monday + timedelta(days=7))

    def span(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local Monday 00:00 to the next local Monday 00:00."""
        return _local_midnight(self.monday, timezone), _local_midnight(
            self.monday + timedelta(days=7), timezone)


def weeks_in(year: int) -> int:
    """52 or 53: 28 December always falls in a year's last ISO week."""
    return date(year, 12, 28).isocalendar()[1]


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)
