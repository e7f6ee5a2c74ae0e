"""Business-hours arithmetic: the clock behind business_response_seconds and SLA deadlines.

Expected values are worked out by hand in the comments; daylight-saving dates are those of
2026 (Europe: last Sundays of March and October; the US: second Sunday of March and first
Sunday of November).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines.roster import DAYS, BusinessHours

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
H = 3600

OFFICE = {day: "09:00-17:00" for day in DAYS[:5]}
ZUTPHEN = {"mon": "08:30-17:00", "tue": "08:30-17:00", "wed": "08:30-17:00",
           "thu": "08:30-17:00", "fri": "08:30-12:30"}
ROUND_THE_CLOCK = {day: "00:00-24:00" for day in DAYS}


def hours(spec: Mapping[str, Any], timezone: str = "Europe/Amsterdam") -> BusinessHours:
    return BusinessHours.parse(spec, timezone)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
          second: int = 0, microsecond: int = 0) -> datetime:
    """A wall-clock time in `zone`, as the UTC instant the pipeline passes in."""
    return datetime(year, month, day, hour, minute, second, microsecond,
                    tzinfo=zone).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- hand-worked cases -------------------------------------------------------------


def test_friday_afternoon_to_monday_morning() -> None:
    # Fri 2026-03-06 16:45 CET -> Mon 2026-03-09 09:15 CET, open 09:00-17:00 on weekdays:
    # Fri 16:45-17:00 = 15 min, weekend closed, Mon 09:00-09:15 = 15 min: 900 + 900 = 1800 s.
    office = hours(OFFICE)
    start, end = local(AMS, 2026, 3, 6, 16, 45), local(AMS, 2026, 3, 9, 9, 15)
    assert (start, end) == (utc(2026, 3, 6, 15, 45), utc(2026, 3, 9, 8, 15))
    assert office.business_seconds(start, end) == 1800


def test_zutphen_closes_at_half_past_twelve_on_friday() -> None:
    zutphen = hours(ZUTPHEN)
    # Fri 12:00 -> Mon 09:00: Fri 12:00-12:30 = 30 min + Mon 08:30-09:00 = 30 min = 3600 s.
    assert zutphen.business_seconds(local(AMS, 2026, 3, 6, 12, 0),
                                    local(AMS, 2026, 3, 9, 9, 0)) == 3600
    # Fri 13:00 -> Fri 16:00: the town hall is closed all Friday afternoon = 0 s.
    assert zutphen.business_seconds(local(AMS, 2026, 3, 6, 13, 0),
                                    local(AMS, 2026, 3, 6, 16, 0)) == 0
    # Thu 16:00 -> Fri 09:00: Thu 16:00-17:00 = 1 h + Fri 08:30-09:00 = 30 min = 5400 s.
    assert zutphen.business_seconds(local(AMS, 2026, 3, 5, 16, 0),
                                    local(AMS, 2026, 3, 6, 9, 0)) == 5400
    # A whole week Mon 00:00 -> Mon 00:00: 4 x 8.5 h + 4 h = 38 h.
    assert zutphen.business_seconds(local(AMS, 2026, 3, 2), local(AMS, 2026, 3, 9)) == 38 * H
    assert zutphen.weekly_seconds == 38 * H


def test_zutphen_sla_deadline_runs_over_the_weekend() -> None:
    zutphen = hours(ZUTPHEN)
    # Mention Fri 12:15 with a 30 min SLA: 15 min left on Friday (12:15-12:30), the other
    # 15 min on Monday from 08:30, so the deadline is Mon 08:45 CET = 07:45 UTC.
    deadline = zutphen.add_business_seconds(local(AMS, 2026, 3, 6, 12, 15), 30 * 60)
    assert deadline == local(AMS, 2026, 3, 9, 8, 45) == utc(2026, 3, 9, 7, 45)


def test_spring_forward_weekend_with_round_the_clock_hours_counts_real_seconds() -> None:
    # Sun 2026-03-29 02:00 CET jumps to 03:00 CEST. Fri 00:00 UTC -> Tue 00:00 UTC is
    # 4 x 24 h = 96 real hours, whatever the wall clock does.
    start, end = utc(2026, 3, 27), utc(2026, 3, 31)
    assert hours(ROUND_THE_CLOCK).business_seconds(start, end) == 96 * H
    # The same with Wednesday closed, so the week is not simply "always open".
    almost = hours({day: "00:00-24:00" for day in DAYS if day != "wed"})
    assert almost.business_seconds(start, end) == 96 * H
    # The Sunday itself, local midnight to local midnight, is 23 real hours.
    assert almost.business_seconds(local(AMS, 2026, 3, 29), local(AMS, 2026, 3, 30)) == 23 * H


def test_fall_back_weekend_with_round_the_clock_hours_counts_real_seconds() -> None:
    # Sun 2026-10-25 03:00 CEST falls back to 02:00 CET: Fri 00:00 UTC -> Tue 00:00 UTC is
    # still 96 real hours; the Sunday, midnight to midnight, has 25.
    almost = hours({day: "00:00-24:00" for day in DAYS if day != "wed"})
    assert almost.business_seconds(utc(2026, 10, 23), utc(2026, 10, 27)) == 96 * H
    assert almost.business_seconds(local(AMS, 2026, 10, 25), local(AMS, 2026, 10, 26)) == 25 * H


def test_hours_spanning_the_skipped_and_the_repeated_hour() -> None:
    night = hours({"sun": "00:00-06:00"})
    # Spring forward, Sun 2026-03-29: 00:00 CET = Sat 23:00 UTC, 06:00 CEST = 04:00 UTC:
    # 00:00-02:00 (2 h) + 03:00-06:00 (3 h) = 5 real hours.
    assert night.business_seconds(utc(2026, 3, 28), utc(2026, 3, 30)) == 5 * H
    # Fall back, Sun 2026-10-25: 00:00 CEST = Sat 22:00 UTC, 06:00 CET = 05:00 UTC: 7 h,
    # because 02:00-03:00 happens twice.
    assert night.business_seconds(utc(2026, 10, 24), utc(2026, 10, 26)) == 7 * H
    # Hours wholly inside the skipped hour never happen at all.
    skipped = hours({"sun": "02:15-02:45"})
    assert skipped.business_seconds(utc(2026, 3, 28), utc(2026, 3, 30)) == 0
    # ... and hours inside the repeated hour happen twice: 2 x 30 min.
    assert skipped.business_seconds(utc(2026, 10, 24), utc(2026, 10, 26)) == H


def test_office_day_after_the_clock_change_is_still_eight_hours() -> None:
    office = hours(OFFICE)
    # Mon 2026-03-30 (CEST, UTC+2): 09:00-17:00 = 07:00-15:00 UTC = 8 h.
    assert office.business_seconds(utc(2026, 3, 30), utc(2026, 3, 31)) == 8 * H
    # Mon 2026-10-26 (CET, UTC+1): 09:00-17:00 = 08:00-16:00 UTC = 8 h.
    assert office.business_seconds(utc(2026, 10, 26), utc(2026, 10, 27)) == 8 * H
    # The spring-forward Sunday would have 8 real hours as well, had it been open.
    sunday = hours({"sun": "09:00-17:00"})
    assert sunday.business_seconds(utc(2026, 3, 29), utc(2026, 3, 30)) == 8 * H
    # Mon 23 Mar 00:00 -> Mon 30 Mar 00:00 local spans the change: 5 x 8 h = 40 h.
    assert office.business_seconds(local(AMS, 2026, 3, 23), local(AMS, 2026, 3, 30)) == 40 * H
    # 07:00 UTC is 08:00 before the change (closed) and 09:00 after it (open).
    assert not office.is_open(utc(2026, 3, 27, 7, 30))
    assert office.is_open(utc(2026, 3, 30, 7, 30))


def test_new_york_daylight_saving() -> None:
    office = hours(OFFICE, "America/New_York")
    # US clocks go forward Sun 2026-03-08. Fri 16:00 EST (21:00 UTC) -> Mon 10:00 EDT
    # (14:00 UTC): Fri 16:00-17:00 = 1 h + Mon 09:00-10:00 = 1 h = 7200 s, out of 65 real h.
    start, end = utc(2026, 3, 6, 21), utc(2026, 3, 9, 14)
    assert (start, end) == (local(NYC, 2026, 3, 6, 16), local(NYC, 2026, 3, 9, 10))
    assert office.business_seconds(start, end) == 2 * H
    # Between the US and the European change New York is UTC-4: 13:00 UTC is 09:00 there.
    assert office.is_open(utc(2026, 3, 9, 13, 0))
    assert not office.is_open(utc(2026, 3, 6, 13, 30))  # 08:30 EST, before the change
    assert office.is_open(utc(2026, 3, 6, 14, 0))  # 09:00 EST
    # Sundays of the changes, midnight to midnight: 23 h in March, 25 h in November.
    sundays = hours({"sun": "00:00-24:00"}, "America/New_York")
    assert sundays.business_seconds(local(NYC, 2026, 3, 8), local(NYC, 2026, 3, 9)) == 23 * H
    assert sundays.business_seconds(local(NYC, 2026, 11, 1), local(NYC, 2026, 11, 2)) == 25 * H
    # A deadline across the change: Fri 16:30 EST + 1 h = 30 min Fri + 30 min Mon
    # = Mon 09:30 EDT = 13:30 UTC.
    assert office.add_business_seconds(local(NYC, 2026, 3, 6, 16, 30), H) == utc(2026, 3, 9, 13, 30)


def test_empty_and_backward_spans_count_nothing() -> None:
    office = hours(OFFICE)
    t = local(AMS, 2026, 3, 9, 10)
    assert office.business_seconds(t, t) == 0
    assert office.business_seconds(t, t - timedelta(hours=5)) == 0


def test_start_inside_or_outside_hours() -> None:
    office = hours(OFFICE)
    # Inside: Mon 10:00 -> Mon 11:00 = 3600 s.
    assert office.business_seconds(local(AMS, 2026, 3, 9, 10), local(AMS, 2026, 3, 9, 11)) == H
    # Outside: Sat 10:00 -> Mon 10:00 = Mon 09:00-10:00 = 3600 s.
    assert office.business_seconds(local(AMS, 2026, 3, 7, 10), local(AMS, 2026, 3, 9, 10)) == H
    # Before opening to after closing the same day: 8 h.
    assert office.business_seconds(local(AMS, 2026, 3, 9, 7), local(AMS, 2026, 3, 9, 19)) == 8 * H
    # Microseconds count too: Mon 16:59:59.5 -> 17:00:30 = 0.5 s.
    assert office.business_seconds(local(AMS, 2026, 3, 9, 16, 59, 59, 500_000),
                                   local(AMS, 2026, 3, 9, 17, 0, 30)) == 0.5


def test_split_hours_and_midnight() -> None:
    lunch = hours({"tue": "08:30-12:00,13:00-17:00", "wed": ["09:00-10:00", "22:00-24:00"],
                   "thu": "00:00-01:00"})
    # Tue 2026-03-10: 3.5 h + 4 h = 7.5 h.
    assert lunch.business_seconds(local(AMS, 2026, 3, 10), local(AMS, 2026, 3, 11)) == 7.5 * H
    # Wed 21:00 -> Thu 02:00 crosses midnight: 22:00-24:00 + 00:00-01:00 = 3 h.
    assert lunch.business_seconds(local(AMS, 2026, 3, 11, 21),
                                  local(AMS, 2026, 3, 12, 2)) == 3 * H
    assert lunch.is_open(local(AMS, 2026, 3, 11, 23, 59))
    assert lunch.is_open(local(AMS, 2026, 3, 12, 0, 0))
    assert not lunch.is_open(local(AMS, 2026, 3, 10, 12, 0))  # closing time is closed
    assert lunch.is_open(local(AMS, 2026, 3, 10, 8, 30))  # opening time is open


def test_sixty_days() -> None:
    office = hours(OFFICE)
    # Mon 2026-01-05 -> Fri 2026-03-06 (local midnights, no clock change in between):
    # 60 days = 8 weeks + Mon..Thu = 8 x 40 h + 4 x 8 h = 352 h.
    start = local(AMS, 2026, 1, 5)
    assert office.business_seconds(start, start + timedelta(days=60)) == 352 * H
    # Mon 2026-03-02 -> Fri 2026-05-01 crosses the spring change; still 352 h of office time.
    # (The start is local midnight in CET and the end 60 x 24 h later is 01:00 CEST, a time
    # no office hours touch.)
    start = local(AMS, 2026, 3, 2)
    assert office.business_seconds(start, start + timedelta(days=60)) == 352 * H
    # The deadline 352 h of office time after the first start is Thu 2026-03-05 17:00.
    assert office.add_business_seconds(local(AMS, 2026, 1, 5), 352 * H) == \
        local(AMS, 2026, 3, 5, 17)


def test_long_spans_are_fast() -> None:
    office = hours(OFFICE)
    start, end = utc(2001, 1, 1), utc(2031, 1, 1)
    office.business_seconds(start, end)  # fills the per-year offset cache
    began = time.perf_counter()
    for _ in range(100):
        office.business_seconds(start, end)
    assert time.perf_counter() - began < 1.0
    # 30 years of office hours, local midnight to local midnight: 2001-01-01 was a Monday;
    # 30 x 365 + 7 leap days = 10957 days = 1565 weeks + 2 days (Mon 30 and Tue 31 Dec 2030)
    # -> (1565 x 5 + 2) x 8 h.
    assert office.business_seconds(local(AMS, 2001, 1, 1), local(AMS, 2031, 1, 1)) == \
        (1565 * 5 + 2) * 8 * H


def test_add_business_seconds_edges() -> None:
    office = hours(OFFICE)
    monday_nine = local(AMS, 2026, 3, 9, 9)
    assert office.add_business_seconds(monday_nine, 0) == monday_nine
    # Exactly a day's opening lands on closing time, not on the next morning.
    assert office.add_business_seconds(monday_nine, 8 * H) == local(AMS, 2026, 3, 9, 17)
    # One second more is the next morning's first second.
    assert office.add_business_seconds(monday_nine, 8 * H + 1) == \
        local(AMS, 2026, 3, 10, 9, 0, 1)
    # From a closed time, counting starts at the next opening: Fri 16:45 + 1 h = Mon 09:45.
    assert office.add_business_seconds(local(AMS, 2026, 3, 6, 16, 45), H) == \
        local(AMS, 2026, 3, 9, 9, 45)
    with pytest.raises(ValueError, match="negative"):
        office.add_business_seconds(monday_nine, -1)
    with pytest.raises(ValueError, match="closed all week"):
        BusinessHours.never().add_business_seconds(monday_nine, 1)
    assert BusinessHours.never().add_business_seconds(monday_nine, 0) == monday_nine


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        hours(OFFICE).business_seconds(datetime(2026, 3, 9), datetime(2026, 3, 10))
    with pytest.raises(ValueError, match="no time zone"):
        hours(OFFICE).is_open(datetime(2026, 3, 9))


def test_parse_and_spec_round_trip() -> None:
    parsed = hours({"Monday": "13:00-17:00, 08:30-12:00", "tue": "09:00-12:00,12:00-17:00",
                    "wed": "closed", "thu": [], "sat": "9:00-13:00"})
    assert parsed.to_spec() == {"mon": "08:30-12:00,13:00-17:00", "tue": "09:00-17:00",
                                "sat": "09:00-13:00"}
    assert hours(parsed.to_spec()) == parsed
    assert BusinessHours.always().to_spec() == {day: "00:00-24:00" for day in DAYS}


@pytest.mark.parametrize(("spec", "message"), [
    ({"fri": "08:30-1230"}, "fri '08:30-1230' is not HH:MM-HH:MM"),
    ({"mon": "25:00-26:00"}, "mon '25:00-26:00': 25:00 is not a time of day"),
    ({"mon": "09:60-17:00"}, "09:60 is not a time of day"),
    ({"mon": "24:00-24:00"}, "24:00 is not a time of day"),
    ({"mon": "17:00-09:00"}, "mon '17:00-09:00' closes before it opens"),
    ({"mon": "09:00-09:00"}, "closes before it opens"),
    ({"mo": "09:00-17:00"}, "unknown day 'mo'; use mon, tue, wed, thu, fri, sat, sun"),
    ({"mon": "09:00-12:00", "monday": "13:00-17:00"}, "mon is given twice"),
    ({"mon": 540}, "mon 540 is not HH:MM-HH:MM; write the hours as a quoted string"),
    ("09:00-17:00", "must be a mapping of days to hours"),
])
def test_bad_hours_are_refused_with_the_day_and_value(spec: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        BusinessHours.parse(spec)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="'Europe/Amsterdm' is not an IANA time zone"):
        BusinessHours.parse(OFFICE, "Europe/Amsterdm")


# -- properties ------------------------------------------------------------------------

ZONES = ("UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kathmandu", "America/Santiago", "Pacific/Chatham")
# Clock changes of 2026 in those zones (UTC, to the hour), so that spans often cross one.
CHANGES = (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 3, 8, 7), utc(2026, 11, 1, 6),
           utc(2026, 4, 4, 15), utc(2026, 10, 3, 15), utc(2026, 4, 5, 3), utc(2026, 9, 6, 4),
           utc(2026, 4, 4, 14), utc(2026, 9, 26, 14))
instants = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                 timezones=st.just(UTC)),
    st.builds(lambda change, shift: change + timedelta(seconds=shift),
              st.sampled_from(CHANGES), st.floats(-3 * 86400, 86400).map(lambda s: round(s, 6))),
)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def weeks(draw: st.DrawFn) -> BusinessHours:
    """Random weekly hours: per day 0-3 ranges on a one-minute grid, in a zone with quirks."""
    spec = {}
    for day in DAYS:
        cuts = sorted(draw(st.lists(st.integers(0, 1440), max_size=6, unique=True)))
        ranges = [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
        if ranges:
            spec[day] = ",".join(ranges)
    return BusinessHours.parse(spec, draw(st.sampled_from(ZONES)))


@settings(deadline=None)
@given(weeks(), instants, instants, instants)
def test_business_seconds_is_additive(hours: BusinessHours, a: datetime, b: datetime,
                                      c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    whole = hours.business_seconds(a, c)
    assert whole == pytest.approx(hours.business_seconds(a, b) + hours.business_seconds(b, c),
                                  abs=1e-6)


@settings(deadline=None)
@given(weeks(), instants, instants)
def test_business_seconds_is_bounded_by_the_calendar(hours: BusinessHours, a: datetime,
                                                     b: datetime) -> None:
    assert 0 <= hours.business_seconds(a, b) <= max(0.0, (b - a).total_seconds())


@settings(deadline=None)
@given(st.sampled_from(ZONES), instants, instants)
def test_round_the_clock_is_the_calendar(zone: str, a: datetime, b: datetime) -> None:
    assert BusinessHours.always(zone).business_seconds(a, b) == \
        max(0.0, (b - a).total_seconds())


@settings(deadline=None)
@given(st.sampled_from(ZONES), instants, instants)
def test_a_closed_week_has_no_business_time(zone: str, a: datetime, b: datetime) -> None:
    assert BusinessHours.never(zone).business_seconds(a, b) == 0
    assert BusinessHours.parse({}, zone).business_seconds(a, b) == 0


@settings(deadline=None, max_examples=60)
@given(weeks(), instants, st.integers(0, 3 * 24 * 60))
def test_matches_a_minute_by_minute_count(hours: BusinessHours, a: datetime,
                                          minutes: int) -> None:
    # An independent count: every zone here has offsets in whole minutes and hours on a
    # one-minute grid, so each UTC minute is wholly open or wholly closed; ask datetime
    # itself what the local wall clock reads.
    start = a.replace(second=0, microsecond=0)
    zone = ZoneInfo(hours.timezone)
    expected = 0
    for n in range(minutes):
        wall = (start + timedelta(minutes=n)).astimezone(zone)
        second_of_day = wall.hour * 3600 + wall.minute * 60
        if any(o <= second_of_day < c for o, c in hours.week[wall.weekday()]):
            expected += 60
    assert hours.business_seconds(start, start + timedelta(minutes=minutes)) == expected


@settings(deadline=None)
@given(weeks(), instants, st.floats(0, 60 * 24 * 3600, allow_nan=False))
def test_add_business_seconds_inverts_business_seconds(hours: BusinessHours, start: datetime,
                                                       seconds: float) -> None:
    assume(hours.weekly_seconds > 0)
    deadline = hours.add_business_seconds(start, seconds)
    assert deadline >= start
    assert hours.business_seconds(start, deadline) == pytest.approx(seconds, abs=1e-3)
    if seconds >= 1e-6:  # and it is the earliest such instant
        earlier = deadline - timedelta(microseconds=1)
        assert hours.business_seconds(start, earlier) < seconds


@settings(deadline=None)
@given(weeks(), instants)
def test_is_open_agrees_with_business_seconds(hours: BusinessHours, t: datetime) -> None:
    one_us = hours.business_seconds(t, t + timedelta(microseconds=1))
    assert one_us == (1e-6 if hours.is_open(t) else 0)
