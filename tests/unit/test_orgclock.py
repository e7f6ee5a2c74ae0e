"""The organisation clock: offsets and local time against zoneinfo, business time against a
count by the minute, and the vectorised forms against the scalar ones."""

from __future__ import annotations

import itertools
import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.orgclock import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    US,
    BusinessClock,
    ZoneClock,
    business_clock,
    hour_of_day,
    local_clock,
    local_day,
    micros,
    weekday,
    year_offsets,
    zone,
    zone_clock,
)

H = 3600
OFFICE = tuple([((9 * H, 17 * H),)] * 5 + [(), ()])  # mon-fri 09:00-17:00
# Hours that touch the small hours, where clocks change: a night shift, an opening in
# the skipped/repeated hour, and a Saturday morning.
NIGHTS = (((0, 2 * H + 1800), (22 * H, 24 * H)), ((0, 3 * H),), (), (), (),
          ((2 * H, 2 * H + 1800), (9 * H, 12 * H)), ((1 * H, 5 * H),))
ZONES = ("Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/Sao_Paulo")


def us(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       tz: str = "UTC") -> int:
    """UTC µs of a wall-clock reading in `tz` (the first of two, on a repeated hour)."""
    return micros(datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)))


# -- zone offsets ---------------------------------------------------------------------------


def test_amsterdam_springs_forward_and_falls_back_at_one_utc() -> None:
    ams = zone_clock("Europe/Amsterdam")
    spring, autumn = us(2026, 3, 29, 1), us(2026, 10, 25, 1)
    assert ams.offset(spring - 1) == 1 * HOUR_US
    assert ams.offset(spring) == 2 * HOUR_US
    assert ams.offset(autumn - 1) == 2 * HOUR_US
    assert ams.offset(autumn) == 1 * HOUR_US
    # The wall clock skips 02:00-03:00 in spring and reads 02:00-03:00 twice in autumn.
    assert hour_of_day(ams.local(spring - 1)) == 1 and hour_of_day(ams.local(spring)) == 3
    assert hour_of_day(ams.local(autumn - 1)) == 2 and hour_of_day(ams.local(autumn)) == 2


def test_new_york_changes_at_its_own_two_oclock() -> None:
    ny = zone_clock("America/New_York")
    spring, autumn = us(2026, 3, 8, 7), us(2026, 11, 1, 6)
    assert (ny.offset(spring - 1), ny.offset(spring)) == (-5 * HOUR_US, -4 * HOUR_US)
    assert (ny.offset(autumn - 1), ny.offset(autumn)) == (-4 * HOUR_US, -5 * HOUR_US)
    # Sunday 2026-03-08 02:00 local is skipped: 01:59:59 EST is followed by 03:00 EDT.
    assert local_clock("America/New_York", spring) == (3, 6, -240)
    assert local_clock("America/New_York", spring - US) == (1, 6, -300)


def test_half_hour_and_utc_zones() -> None:
    kolkata = zone_clock("Asia/Kolkata")
    t = us(2026, 1, 1, 20, 45)  # 2026-01-02 02:15 in Kolkata, a Friday
    assert kolkata.offset(t) == 5 * HOUR_US + 30 * MINUTE_US
    assert local_clock("Asia/Kolkata", t) == (2, 4, 330)
    assert local_day(kolkata.local(t)) == local_day(t) + 1
    utc = zone_clock("UTC")
    assert utc.offset(t) == 0 and utc.local(t) == t
    assert (utc.offsets(np.array([t, -t, 0])) == 0).all()
    assert list(utc.spans(t, t + 2 * DAY_US)) == [(t, t + 2 * DAY_US, 0)]


def test_lord_howe_moves_its_clock_half_an_hour() -> None:
    howe = zone_clock("Australia/Lord_Howe")
    # 2026-04-05 02:00 LHDT (+11:00) becomes 01:30 LHST (+10:30): 2026-04-04 15:00 UTC.
    change = us(2026, 4, 4, 15)
    assert howe.offset(change - 1) == 11 * HOUR_US
    assert howe.offset(change) == 10 * HOUR_US + 30 * MINUTE_US


def test_spans_cross_years_and_split_at_each_change() -> None:
    ams = zone_clock("Europe/Amsterdam")
    start, end = us(2025, 12, 1), us(2027, 2, 1)
    spans = list(ams.spans(start, end))
    assert [(a, b) for a, b, _ in spans] == [
        (start, us(2026, 3, 29, 1)), (us(2026, 3, 29, 1), us(2026, 10, 25, 1)),
        (us(2026, 10, 25, 1), end)]
    assert [o // HOUR_US for _, _, o in spans] == [1, 2, 1]
    # For ever: the pieces go on into the years after, as the caller walks them, without a
    # gap, and the offset changes where Amsterdam's clock does.
    endless = ams.spans(start, None)
    pieces: list[tuple[int, int, int]] = []
    while not pieces or pieces[-1][1] < us(2029, 1, 1):
        pieces.append(next(endless))
    assert all(b == a2 for (_, b, _), (a2, _, _) in itertools.pairwise(pieces))
    changes = [a2 for (_, _, o), (a2, _, o2) in itertools.pairwise(pieces) if o != o2]
    assert changes == [us(2026, 3, 29, 1), us(2026, 10, 25, 1), us(2027, 3, 28, 1),
                       us(2027, 10, 31, 1), us(2028, 3, 26, 1), us(2028, 10, 29, 1)]


def test_year_offsets_are_looked_up_once_per_zone_and_year() -> None:
    year_offsets.cache_clear()
    clock = ZoneClock("America/Sao_Paulo")  # a table of its own; Brazil dropped DST in 2019
    clock.offsets(np.array([us(2010, 6, 1), us(2030, 6, 1)]))
    clock.offset(us(1990, 1, 1))  # grows the table backwards
    clock.offset(us(2031, 1, 1))  # and forwards, without reading the years it holds again
    assert year_offsets.cache_info().misses == 2031 - 1990 + 1
    assert clock.offset(us(1995, 1, 1)) == -2 * HOUR_US  # summer time then
    _, offsets = year_offsets("America/Sao_Paulo", 2018)
    assert [o // HOUR_US for o in offsets] == [-2, -3, -2]  # summer time ends, starts again
    assert year_offsets("America/Sao_Paulo", 2020)[1] == (-3 * HOUR_US,)


def test_unknown_zones_are_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"'Europe/Zutphen' is not an IANA time zone \(e\.g\."):
        zone_clock("Europe/Zutphen")
    with pytest.raises(ValueError, match="not an IANA time zone"):
        zone("")


instants = st.integers(us(1950, 1, 1), us(2100, 1, 1))


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(ZONES), t=instants)
def test_local_time_agrees_with_zoneinfo(key: str, t: int) -> None:
    expected = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t)).astimezone(
        ZoneInfo(key))
    clock = zone_clock(key)
    offset = expected.utcoffset()
    assert offset is not None
    assert clock.offset(t) == offset // timedelta(microseconds=1)
    wall = clock.local(t)
    assert (hour_of_day(wall), weekday(wall)) == (expected.hour, expected.weekday())
    assert local_day(wall) == expected.date().toordinal() - datetime(1970, 1, 1).toordinal()
    assert clock.datetime(t) == expected and clock.datetime(t).tzinfo == ZoneInfo(key)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(ZONES), ts=st.lists(instants, min_size=1, max_size=50))
def test_vectorised_offsets_and_wall_fields_are_the_scalar_ones(key: str, ts: list[int]) -> None:
    clock = zone_clock(key)
    arr = np.array(ts, np.int64)
    assert clock.offsets(arr).tolist() == [clock.offset(t) for t in ts]
    walls = clock.locals(arr)
    assert walls.tolist() == [clock.local(t) for t in ts]
    assert np.asarray(hour_of_day(walls)).tolist() == [hour_of_day(w) for w in walls.tolist()]
    assert np.asarray(weekday(walls)).tolist() == [weekday(w) for w in walls.tolist()]


# -- business time --------------------------------------------------------------------------


def minute_count(week: tuple[tuple[tuple[int, int], ...], ...], key: str, a: int, b: int) -> int:
    """Open µs of [a, b) counted minute by minute with zoneinfo (a, b on whole minutes)."""
    tz = ZoneInfo(key)
    total = 0
    for m in range(a // MINUTE_US, b // MINUTE_US):
        local = datetime.fromtimestamp(m * 60, tz)
        second = local.hour * 3600 + local.minute * 60
        if any(o <= second < c for o, c in week[local.weekday()]):
            total += MINUTE_US
    return total


def test_an_office_week_in_amsterdam_is_forty_hours_also_across_the_weekend() -> None:
    office = business_clock(OFFICE, "Europe/Amsterdam")
    friday_four = us(2026, 3, 6, 16, tz="Europe/Amsterdam")
    monday_ten = us(2026, 3, 9, 10, tz="Europe/Amsterdam")
    assert office.business_us(friday_four, monday_ten) == 2 * HOUR_US  # the weekend is closed
    assert office.add_business_us(friday_four, 2 * HOUR_US) == monday_ten
    assert office.add_business_us(friday_four, HOUR_US) == us(2026, 3, 6, 17, tz="Europe/Amsterdam")
    assert not office.is_open(us(2026, 3, 7, 12, tz="Europe/Amsterdam"))  # Saturday noon
    assert office.is_open(monday_ten)
    # The week of the spring change still has five office days of eight hours.
    monday = us(2026, 3, 23, tz="Europe/Amsterdam")
    assert office.business_us(monday, monday + 14 * DAY_US) == 80 * HOUR_US


def test_a_night_shift_over_the_clock_changes_counts_the_real_hours() -> None:
    """Sunday 01:00-05:00 on the spring-forward Sunday lasts 3 real hours, on the fall-back
    Sunday 5; the minute count by zoneinfo agrees."""
    nights = business_clock(NIGHTS, "Europe/Amsterdam")
    for day, hours in ((29, 3), (25, 5)):
        month = 3 if day == 29 else 10
        a, b = us(2026, month, day - 1, 12), us(2026, month, day, 12)
        sunday = nights.business_us(a, b) - nights.business_us(
            a, us(2026, month, day - 1, 23, tz="Europe/Amsterdam"))
        assert sunday == hours * HOUR_US
        assert nights.business_us(a, b) == minute_count(NIGHTS, "Europe/Amsterdam", a, b)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(ZONES), week=st.sampled_from([OFFICE, NIGHTS]),
       start=st.integers(us(2025, 1, 1), us(2027, 12, 1)).map(lambda t: t - t % MINUTE_US),
       minutes=st.integers(0, 9 * 24 * 60))
def test_business_time_matches_a_count_by_the_minute(key: str, week: tuple[tuple[tuple[
        int, int], ...], ...], start: int, minutes: int) -> None:
    clock = business_clock(week, key)
    end = start + minutes * MINUTE_US
    counted = minute_count(week, key, start, end)
    assert clock.business_us(start, end) == counted
    if counted:
        # The deadline is the end of the last open minute: open just before it.
        deadline = clock.add_business_us(start, counted)
        assert deadline <= end and clock.business_us(start, deadline) == counted
        assert clock.is_open(deadline - 1)


def test_spans_of_years_and_far_deadlines_are_exact() -> None:
    office = business_clock(OFFICE, "America/New_York")
    # 2001-01-01 was a Monday; 30 years are 1565 weeks and 2 days (Mon, Tue) of office time.
    a, b = us(2001, 1, 1, tz="America/New_York"), us(2031, 1, 1, tz="America/New_York")
    assert office.business_us(a, b) == (1565 * 5 + 2) * 8 * HOUR_US
    assert office.add_business_us(a, (1565 * 5 + 2) * 8 * HOUR_US) == us(
        2030, 12, 31, 17, tz="America/New_York")
    # A deadline a year after the last instant asked about: the table grows to reach it.
    fresh = BusinessClock(OFFICE, "Asia/Kolkata")
    start = us(2040, 12, 28, 9, tz="Asia/Kolkata")  # a Friday
    deadline = fresh.add_business_us(start, 52 * 40 * HOUR_US)
    assert fresh.business_us(start, deadline) == 52 * 40 * HOUR_US
    assert datetime.fromtimestamp(deadline / US, ZoneInfo("Asia/Kolkata")).year == 2041


def test_round_the_clock_and_closed_weeks() -> None:
    always = business_clock((((0, 86_400),),) * 7, "Europe/Amsterdam")
    a, b = us(2026, 3, 28), us(2026, 3, 30)
    assert always.business_us(a, b) == b - a  # real time, whatever the wall clock does
    assert always.add_business_us(a, 5) == a + 5 and always.is_open(a)
    never = business_clock(((),) * 7, "UTC")
    assert never.business_us(a, b) == 0 and not never.is_open(a)
    assert never.add_business_us(a, 0) == a
    with pytest.raises(ValueError, match="closed all week"):
        never.add_business_us(a, 1)
    with pytest.raises(ValueError, match="negative"):
        always.add_business_us(a, -1)
    assert never.business_us_many(np.array([a]), np.array([b])).tolist() == [0]
    assert always.add_business_us_many(np.array([a, b]), 7).tolist() == [a + 7, b + 7]


@settings(max_examples=40, deadline=None)
@given(key=st.sampled_from(ZONES), week=st.sampled_from([OFFICE, NIGHTS]),
       starts=st.lists(st.integers(us(1990, 1, 1), us(2060, 1, 1)), min_size=1, max_size=40),
       amount=st.integers(0, 30 * DAY_US), lengths=st.integers(0, 60 * DAY_US))
def test_vectorised_business_time_is_the_scalar_one(key: str, week: tuple[tuple[tuple[
        int, int], ...], ...], starts: list[int], amount: int, lengths: int) -> None:
    clock = BusinessClock(week, key)  # a fresh one: its table grows inside the calls
    arr = np.array(starts, np.int64)
    ends = arr + np.arange(len(starts), dtype=np.int64) * (lengths // max(len(starts), 1))
    assert clock.business_us_many(arr, ends).tolist() == [
        clock.business_us(a, b) for a, b in zip(starts, ends.tolist(), strict=True)]
    assert clock.add_business_us_many(arr, amount).tolist() == [
        clock.add_business_us(a, amount) for a in starts]
    assert clock.is_open_many(arr).tolist() == [clock.is_open(a) for a in starts]


def test_open_intervals_are_where_the_clock_is_open() -> None:
    nights = business_clock(NIGHTS, "Europe/Amsterdam")
    lo, hi = us(2026, 3, 20), us(2026, 4, 10)
    starts, ends = nights.open_intervals(lo, hi)
    assert (starts < ends).all() and (ends[:-1] < starts[1:]).all()  # sorted, none touching
    assert int((ends - starts).sum()) == nights.business_us(lo, hi)
    minutes = np.arange(lo, hi, MINUTE_US, dtype=np.int64)
    inside = (np.searchsorted(starts, minutes, "right") - 1).clip(0)
    within = (minutes >= starts[inside]) & (minutes < ends[inside])
    assert within.tolist() == nights.is_open_many(minutes).tolist()
    # Monday 22:00-24:00 and Tuesday 00:00-03:00 are one opening.
    monday_ten = us(2026, 3, 23, 22, tz="Europe/Amsterdam")
    i = int(np.searchsorted(starts, monday_ten))
    assert (starts[i], ends[i]) == (monday_ten, us(2026, 3, 24, 3, tz="Europe/Amsterdam"))


def test_clocks_are_shared_and_survive_pickling() -> None:
    office = business_clock(OFFICE, "Europe/Amsterdam")
    assert business_clock(OFFICE, "Europe/Amsterdam") is office
    assert pickle.loads(pickle.dumps(office)) is office
    assert pickle.loads(pickle.dumps(office.zone)) is zone_clock("Europe/Amsterdam")


def test_a_bad_week_is_refused() -> None:
    with pytest.raises(ValueError, match="7 days"):
        BusinessClock(OFFICE[:5], "UTC")
    with pytest.raises(ValueError, match="bad interval"):
        BusinessClock((((5, 3),),) + ((),) * 6, "UTC")
