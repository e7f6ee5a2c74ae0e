"""The organisation clock: UTC offsets of a time zone, local time, and business hours as a
clock of open time — written once, for the roster, the response tracker, the surge
detector, the simulator and the dashboard.

Instants are integers: microseconds since 1970-01-01 UTC ("UTC µs"). A *wall* instant is
UTC µs plus the UTC offset in force: the organisation's clock reading as µs since
1970-01-01 00:00 local. Everything here has a scalar form (Python ints) and a vectorised
form (numpy int64 arrays, names ending in `s` or `_many`) that give the same numbers.

Zones (`ZoneClock`, one per IANA key from `zone_clock`). zoneinfo does not expose its
transitions, so `year_offsets` finds them per UTC year (sampling once a day, bisecting to
the second) and caches them per zone-year; a `ZoneClock` keeps the years asked for so far
as one sorted table of constant-offset segments, so an offset is a bisection (scalar) or
a `searchsorted` (arrays), and a span of years costs one step per offset change.

Business hours (`BusinessClock`, one per weekly pattern and zone from `business_clock`).
An instant is open when the wall clock reads a time inside that local day's hours (the
roster's rule, CONTRACT.md §2): on a spring-forward day an opening that spans the skipped
hour counts one hour less, on a fall-back day one that spans the repeated hour one more.
On the wall axis the open time from a fixed Monday is a monotone ramp R (closed form per
week); within a segment of constant offset o, open time between two UTC instants is
R(b + o) - R(a + o). Subtracting at each offset change what the jump of the wall clock
adds to R gives one continuous, non-decreasing clock of open time, `open_time(us)`:
business time between two instants is a difference of two readings, and the instant a
duration of business time runs out is its inverse — both exact to the microsecond, both a
couple of bisections, scalar or vectorised, whatever the span.

What replaces what (the four implementations this module unites):

- `pipelines.roster`: `_zone` -> `zone`; `_offset_us(zone, us)` -> `zone_clock(key).offset(us)`;
  `_year_offsets` -> `year_offsets`; `_constant_offset_spans` -> `ZoneClock.spans`;
  `BusinessHours.is_open / business_seconds / add_business_seconds` -> delegate to
  `BusinessHours.clock` (a `BusinessClock`), their public signatures unchanged.
- `pipelines.processing.responses`: `_offset_pieces(tz, lo, hi)` -> `zone_clock(tz).spans(lo, hi)`;
  `_Calendar(hours)` -> `hours.clock` (or `business_clock(hours.week, hours.timezone)`):
  `_Calendar.deadline(start, us)` -> `BusinessClock.add_business_us(start_us, us)`,
  `_Calendar.seconds_between(a, b)` -> `BusinessClock.business_us(a_us, b_us) / 1e6`,
  `_Calendar.always / never` -> the same attributes (adding to a `never` clock raises,
  so the tracker keeps its NEVER for those); `_Span` and `_Terms.breach_times`'
  per-week loop -> `BusinessClock.add_business_us_many(created_us, sla_us + 1000)` (one
  call for any spread of instants); `_Span.starts / ends` -> `BusinessClock.open_intervals`.
  `_Terms.zone` -> `zone_clock(tz).zone` (or `ZoneClock.datetime(us)` for display).
- `pipelines.processing.escalation`: `_OrgState.offset(minute)` and the bulk judge's
  `_offset(hour)` -> `zone_clock(tz).offset(us) // MINUTE_US`, or for a whole range at once
  `zone_clock(tz).offsets(hours * HOUR_US) // MINUTE_US` (exact per instant; theirs is
  sampled at the start of each UTC hour, the same for every zone whose offset changes on
  a whole UTC hour); `_OrgState.local(minute)` -> `zone_clock(tz).datetime(minute * MINUTE_US)`;
  local hour / day of a wall instant -> `hour_of_day`, `local_day`, `weekday`.
- `pipelines.simulate.clock`: `_local_clock` and `_Staffed`'s `_offset / _utc / _day /
  _local_day` -> `ZoneClock.offset`, `local_clock`, `BusinessClock.is_open` and
  `BusinessClock.open_intervals`.

Pure: no I/O, no wall clock. The caches only grow with the zone-years asked for.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

__all__ = [
    "DAY_US", "HOUR_US", "MINUTE_US", "US", "WEEK_US", "BusinessClock", "Interval", "Week",
    "ZoneClock", "business_clock", "hour_of_day", "instant", "local_clock", "local_day",
    "merge_intervals", "micros", "weekday", "year_offsets", "zone", "zone_clock",
]

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
WEEK_US = 7 * DAY_US
_DAY_S = 86_400
_ONE_US = timedelta(microseconds=1)
# 1970-01-01, the epoch, was a Thursday: shift by three days so that week-relative
# positions start on a Monday, matching datetime.weekday() and roster.DAYS.
_MONDAY_SHIFT_US = 3 * DAY_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_YEAR, _LAST_YEAR = 1, 9998  # years whose whole span datetime can represent

Interval = tuple[int, int]  # seconds after local midnight, [open, close)
Week = tuple[tuple[Interval, ...], ...]  # 7 days, Monday first, each sorted and merged


# -- instants ---------------------------------------------------------------------------------


def micros(t: datetime, what: str = "t") -> int:
    """An aware datetime as UTC µs; a naive one is refused (its zone would be a guess)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} {t.isoformat()} has no time zone; pass an aware (UTC) datetime")
    return (t - _EPOCH) // _ONE_US


def instant(us: int) -> datetime:
    """UTC µs as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def _year_of(us: int) -> int:
    return min(max((_EPOCH + timedelta(microseconds=us)).year, _FIRST_YEAR), _LAST_YEAR)


def _year_start_us(year: int) -> int:
    return (datetime(year, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US


# The wall-clock calendar: these take wall µs (UTC µs + offset) as an int or an int64 array.


@overload
def local_day(wall: int) -> int: ...
@overload
def local_day(wall: np.ndarray) -> np.ndarray: ...
def local_day(wall: int | np.ndarray) -> int | np.ndarray:
    """Days since 1970-01-01 on the local clock."""
    return wall // DAY_US


@overload
def weekday(wall: int) -> int: ...
@overload
def weekday(wall: np.ndarray) -> np.ndarray: ...
def weekday(wall: int | np.ndarray) -> int | np.ndarray:
    """The local weekday, 0 = Monday .. 6 = Sunday (as datetime.weekday())."""
    return (wall // DAY_US + 3) % 7


@overload
def hour_of_day(wall: int) -> int: ...
@overload
def hour_of_day(wall: np.ndarray) -> np.ndarray: ...
def hour_of_day(wall: int | np.ndarray) -> int | np.ndarray:
    """The hour the local clock reads, 0..23."""
    return wall % DAY_US // HOUR_US


# -- zones --------------------------------------------------------------------------------------


def zone(key: str) -> ZoneInfo:
    """The IANA zone `key`; a ValueError that says what a zone name looks like if it is none."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"{key!r} is not an IANA time zone (e.g. Europe/Amsterdam, America/New_York, UTC)"
        ) from None


@lru_cache(maxsize=4096)
def year_offsets(key: str, year: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where the zone's UTC offset changes within one UTC year, and the offset from there on.

    Returns (segment starts in UTC µs, offset in µs of each segment); the first segment
    starts at the beginning of the year. The offset is sampled once a day and each change
    pinned to the second by bisection (tz data changes offsets on whole seconds). Two changes
    less than a day apart that cancel out would go unseen; tz data has none in the range a
    social-media monitor deals with.
    """
    tz = zone(key)
    first, last = _year_start_us(year) // US, _year_start_us(year + 1) // US - 1

    def offset(second: int) -> int:
        value = (_EPOCH + timedelta(seconds=second)).astimezone(tz).utcoffset()
        assert value is not None
        return value // _ONE_US

    starts, offsets = [first * US], [offset(first)]
    before, before_offset = first, offsets[0]
    for after in [*range(first + _DAY_S, last, _DAY_S), last]:
        after_offset = offset(after)
        lo, lo_offset = before, before_offset
        while lo_offset != after_offset:
            hi = after  # offset(lo) == lo_offset != offset(hi): a change in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == lo_offset:
                    lo = mid
                else:
                    hi = mid
            lo, lo_offset = hi, offset(hi)
            starts.append(hi * US)
            offsets.append(lo_offset)
        before, before_offset = after, after_offset
    return tuple(starts), tuple(offsets)


@dataclass(frozen=True, slots=True)
class _Segments:
    """The UTC years [first_year, last_year] of a zone as constant-offset segments:
    segment i covers [starts[i], starts[i + 1]) (the last one up to `end`)."""

    first_year: int
    last_year: int
    start: int
    end: int
    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    starts_np: np.ndarray
    offsets_np: np.ndarray


def _segments(key: str, first_year: int, last_year: int,
              known: _Segments | None = None) -> _Segments:
    """The segments of the years [first_year, last_year]; the years `known` holds (which
    must lie within them) are taken from it, not looked up again."""
    starts: list[int] = []
    offsets: list[int] = []

    def add(pairs: Iterator[tuple[int, int]]) -> None:
        for s, o in pairs:
            if not offsets or offsets[-1] != o:  # a new year alone is no change
                starts.append(s)
                offsets.append(o)

    def years(first: int, last: int) -> Iterator[tuple[int, int]]:
        for year in range(first, last + 1):
            yield from zip(*year_offsets(key, year), strict=True)

    if known is None:
        add(years(first_year, last_year))
    else:
        add(years(first_year, known.first_year - 1))
        add(zip(known.starts, known.offsets, strict=True))
        add(years(known.last_year + 1, last_year))
    return _Segments(first_year, last_year, _year_start_us(first_year),
                     _year_start_us(last_year + 1), tuple(starts), tuple(offsets),
                     np.array(starts, np.int64), np.array(offsets, np.int64))


class ZoneClock:
    """One IANA zone's UTC offsets and local time, for any instants; get it from
    `zone_clock(key)` so that every user of a zone shares one table.

    The table holds the UTC years asked for so far (and those between); asking outside it
    extends it by whole years. A table is never changed once made, only replaced, so
    readers on other threads see either the old one or the new one.
    """

    __slots__ = ("_lock", "_table", "fixed", "key", "zone")

    def __init__(self, key: str) -> None:
        self.key = key
        self.zone = zone(key)
        # UTC itself needs no table (the surge detector judges most organisations in it).
        self.fixed: int | None = 0 if key in ("UTC", "Etc/UTC") else None
        self._table: _Segments | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return zone_clock, (self.key,)  # pickled (a roster is) as its key; shared again

    def table(self, lo: int, hi: int) -> _Segments:
        """The segments covering the UTC instants [lo, hi] (both in µs)."""
        table = self._table
        if table is not None and table.start <= lo and hi < table.end:
            return table
        with self._lock:
            table = self._table
            first, last = _year_of(lo), _year_of(hi)
            if table is not None:
                if table.start <= lo and hi < table.end:
                    return table
                first, last = min(first, table.first_year), max(last, table.last_year)
            table = self._table = _segments(self.key, first, last, table)
            return table

    def offset(self, us: int) -> int:
        """The UTC offset in µs in force at UTC µs `us`."""
        if self.fixed is not None:
            return self.fixed
        table = self._table
        if table is None or not table.start <= us < table.end:
            table = self.table(us, us)
        return table.offsets[bisect_right(table.starts, us) - 1]

    def offsets(self, us: np.ndarray) -> np.ndarray:
        """`offset` of every instant of an int64 array, in one `searchsorted`."""
        us = np.asarray(us, np.int64)
        if self.fixed is not None:
            return np.full(us.shape, self.fixed, np.int64)
        if us.size == 0:
            return np.zeros(us.shape, np.int64)
        table = self.table(int(us.min()), int(us.max()))
        return table.offsets_np[np.searchsorted(table.starts_np, us, "right") - 1]

    def local(self, us: int) -> int:
        """The wall instant (local clock as µs since 1970-01-01 00:00 local) at UTC µs `us`."""
        return us + self.offset(us)

    def locals(self, us: np.ndarray) -> np.ndarray:
        """`local` of every instant of an int64 array."""
        us = np.asarray(us, np.int64)
        return us + self.offsets(us)

    def datetime(self, us: int) -> datetime:
        """UTC µs as an aware datetime in this zone (for messages and display)."""
        return instant(us).astimezone(self.zone)

    def spans(self, start: int, end: int | None) -> Iterator[tuple[int, int, int]]:
        """(from, to, offset) pieces of [start, end) in UTC µs within which the offset is
        constant; with `end` None they go on for ever (the caller stops)."""
        if self.fixed is not None:  # one piece per year, as the others
            cur = start
            while end is None or cur < end:
                to = cur + 366 * DAY_US if end is None else min(cur + 366 * DAY_US, end)
                yield cur, to, self.fixed
                cur = to
            return
        cur = start
        while end is None or cur < end:
            table = self.table(cur, cur if end is None else max(cur, end - 1))
            i = bisect_right(table.starts, cur) - 1
            while (end is None or cur < end) and cur < table.end:
                to = table.starts[i + 1] if i + 1 < len(table.starts) else table.end
                if end is not None:
                    to = min(to, end)
                yield cur, to, table.offsets[i]
                cur, i = to, i + 1


@lru_cache(maxsize=1024)
def zone_clock(key: str) -> ZoneClock:
    """The shared `ZoneClock` of an IANA zone (ValueError for a name that is no zone)."""
    return ZoneClock(key)


def local_clock(key: str, us: int) -> tuple[int, int, int]:
    """(local hour 0..23, local weekday 0 = Monday, UTC offset in whole minutes) at UTC µs."""
    offset = zone_clock(key).offset(us)
    wall = us + offset
    return wall % DAY_US // HOUR_US, (wall // DAY_US + 3) % 7, offset // MINUTE_US


# -- business hours -----------------------------------------------------------------------------


def merge_intervals(intervals: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """[open, close) intervals sorted, with overlapping and touching ones joined."""
    merged: list[tuple[int, int]] = []
    for opens, closes in sorted(intervals):
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class _Ledger:
    """A `BusinessClock` over one zone table: per segment its start, offset, the open time
    the wall clock's jumps added to the ramp up to it (`jumps`), and `open_time` at its start.
    """

    segments: _Segments
    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    jumps: tuple[int, ...]
    opened: tuple[int, ...]
    opened_end: int  # open_time at the table's end
    jumps_np: np.ndarray
    opened_np: np.ndarray


class BusinessClock:
    """Business hours as a clock of open time: a weekly wall-clock pattern in an IANA zone.

    `week[i]` holds the open intervals of weekday i (0 = Monday) in seconds after local
    midnight. Get one from `business_clock(week, timezone)` so that organisations with the
    same hours share one (and its tables). `open_time(us)` reads the clock: open µs since
    an origin, continuous and non-decreasing in UTC; differences of readings are business
    time, exact to the microsecond. Readings from different calls may have different
    origins (the table grows); the public questions below never mix them.
    """

    __slots__ = ("_ledger", "_lock", "always", "before", "before_np", "closes", "closes_np",
                 "never", "opens", "opens_np", "through", "through_np", "timezone",
                 "week", "weekly_us", "zone")

    def __init__(self, week: Week, timezone: str = "UTC") -> None:
        if len(week) != 7:
            raise ValueError(f"business hours need 7 days (mon..sun), got {len(week)}")
        weekly: list[tuple[int, int]] = []
        for day, intervals in enumerate(week):
            for opens, closes in intervals:
                if not 0 <= opens < closes <= _DAY_S:
                    raise ValueError(f"day {day}: bad interval ({opens}, {closes}) seconds")
                weekly.append((day * DAY_US + opens * US, day * DAY_US + closes * US))
        merged = merge_intervals(weekly)  # joins e.g. mon ..-24:00 with tue 00:00-..
        self.opens = tuple(o for o, _ in merged)
        self.closes = tuple(c for _, c in merged)
        before, through, total = [], [], 0
        for o, c in merged:
            before.append(total)
            total += c - o
            through.append(total)
        self.before, self.through = tuple(before), tuple(through)
        self.weekly_us = total
        self.opens_np, self.closes_np, self.before_np, self.through_np = (
            np.array(v, np.int64) for v in (self.opens, self.closes, self.before, self.through))
        self.always = total == WEEK_US
        self.never = total == 0
        self.week = week
        self.timezone = timezone
        self.zone = zone_clock(timezone)
        self._ledger: _Ledger | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[object, tuple[Week, str]]:
        return business_clock, (self.week, self.timezone)  # pickled as its pattern

    # the weekly pattern on the wall axis --------------------------------------------------

    def _ramp(self, wall: int) -> int:
        """Open µs of the pattern from a fixed Monday 00:00 up to `wall` (monotone)."""
        weeks, within = divmod(wall + _MONDAY_SHIFT_US, WEEK_US)
        i = bisect_right(self.opens, within) - 1
        if i < 0:
            return weeks * self.weekly_us
        return weeks * self.weekly_us + self.before[i] + min(within, self.closes[i]) - self.opens[i]

    def _ramps(self, wall: np.ndarray) -> np.ndarray:
        weeks, within = np.divmod(wall + _MONDAY_SHIFT_US, WEEK_US)
        i = np.searchsorted(self.opens_np, within, "right") - 1
        at = np.maximum(i, 0)
        part = self.before_np[at] + np.minimum(within, self.closes_np[at]) - self.opens_np[at]
        return weeks * self.weekly_us + np.where(i < 0, 0, part)

    def _wall_when(self, amount: int) -> int:
        """The earliest wall instant at which `_ramp` reaches `amount` (weekly_us > 0)."""
        weeks, rest = divmod(amount, self.weekly_us)
        if rest == 0:  # the end of the last opening of the week before, not the next Monday
            weeks, rest = weeks - 1, self.weekly_us
        i = bisect_left(self.through, rest)
        return weeks * WEEK_US + self.opens[i] + rest - self.before[i] - _MONDAY_SHIFT_US

    def _walls_when(self, amount: np.ndarray) -> np.ndarray:
        weeks, rest = np.divmod(amount, self.weekly_us)
        edge = rest == 0
        weeks -= edge
        rest = np.where(edge, self.weekly_us, rest)
        i = np.searchsorted(self.through_np, rest, "left")
        return weeks * WEEK_US + self.opens_np[i] + rest - self.before_np[i] - _MONDAY_SHIFT_US

    # the clock of open time ---------------------------------------------------------------

    def _ledger_for(self, lo: int, hi: int) -> _Ledger:
        segments = self.zone.table(lo, hi)
        ledger = self._ledger
        if ledger is not None and ledger.segments is segments:
            return ledger
        with self._lock:
            ledger = self._ledger
            if ledger is not None and ledger.segments is segments:
                return ledger
            starts, offsets = segments.starts_np, segments.offsets_np
            before = np.concatenate([offsets[:1], offsets[:-1]])
            # At a change from offset a to b at T the wall clock jumps from T + a to T + b;
            # what the ramp gains (or loses) over that jump is no business time.
            jumps = np.cumsum(self._ramps(starts + offsets) - self._ramps(starts + before))
            opened = self._ramps(starts + offsets) - jumps
            opened_end = self._ramp(segments.end + segments.offsets[-1]) - int(jumps[-1])
            ledger = self._ledger = _Ledger(
                segments, segments.starts, segments.offsets, tuple(jumps.tolist()),
                tuple(opened.tolist()), opened_end, jumps, opened)
            return ledger

    def open_time(self, us: int) -> int:
        """The clock of open time at UTC µs `us` (see the class; for differences only)."""
        ledger = self._ledger
        if ledger is None or not ledger.segments.start <= us < ledger.segments.end:
            ledger = self._ledger_for(us, us)
        k = bisect_right(ledger.starts, us) - 1
        return self._ramp(us + ledger.offsets[k]) - ledger.jumps[k]

    def is_open(self, us: int) -> bool:
        """Whether the wall clock at UTC µs `us` reads a time inside the hours."""
        if self.always or self.never:
            return self.always
        within = (us + self.zone.offset(us) + _MONDAY_SHIFT_US) % WEEK_US
        i = bisect_right(self.opens, within) - 1
        return i >= 0 and within < self.closes[i]

    def is_open_many(self, us: np.ndarray) -> np.ndarray:
        """`is_open` of every instant of an int64 array (a bool array)."""
        us = np.asarray(us, np.int64)
        if self.always or self.never:
            return np.full(us.shape, self.always, bool)
        within = (self.zone.locals(us) + _MONDAY_SHIFT_US) % WEEK_US
        i = np.searchsorted(self.opens_np, within, "right") - 1
        return (i >= 0) & (within < self.closes_np[np.maximum(i, 0)])

    def business_us(self, start: int, end: int) -> int:
        """Open µs of the real interval [start, end) in UTC µs; 0 when end <= start."""
        if end <= start or self.never:
            return 0
        if self.always:
            return end - start
        ledger = self._ledger
        if ledger is None or not (ledger.segments.start <= start
                                  and end < ledger.segments.end):
            ledger = self._ledger_for(start, end)
        starts, offsets, jumps, ramp = ledger.starts, ledger.offsets, ledger.jumps, self._ramp
        k = bisect_right(starts, start) - 1
        j = k if k + 1 == len(starts) or end < starts[k + 1] else bisect_right(starts, end) - 1
        return (ramp(end + offsets[j]) - jumps[j]) - (ramp(start + offsets[k]) - jumps[k])

    def business_us_many(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """`business_us` of every pair of two int64 arrays (or an array and an int)."""
        start = np.asarray(start, np.int64)
        end = np.asarray(end, np.int64)
        start, end = np.broadcast_arrays(start, end)
        if self.never or start.size == 0:
            return np.zeros(start.shape, np.int64)
        if self.always:
            return np.maximum(end - start, 0)
        ledger = self._ledger_for(int(min(start.min(), end.min())),
                                  int(max(start.max(), end.max())))
        return np.maximum(self._open_times(ledger, end) - self._open_times(ledger, start), 0)

    def _open_times(self, ledger: _Ledger, us: np.ndarray) -> np.ndarray:
        k = np.searchsorted(ledger.segments.starts_np, us, "right") - 1
        return self._ramps(us + ledger.segments.offsets_np[k]) - ledger.jumps_np[k]

    def add_business_us(self, start: int, amount: int) -> int:
        """The earliest UTC µs at which `amount` open µs have passed since `start`.

        `business_us(start, result) == amount`. The result is the moment the count reaches
        `amount`, so it can be a closing time: a count that must *exceed* it (an SLA
        breach) does so at the first open instant after. ValueError for a negative amount,
        or when the week has no open hours at all.
        """
        if amount <= 0:
            if amount < 0:
                raise ValueError(f"cannot add a negative amount of business time ({amount} µs)")
            return start
        if self.never:
            raise ValueError("these business hours are closed all week; no business time passes")
        if self.always:
            return start + amount
        hi = start
        while True:
            ledger = self._ledger
            if ledger is None or not (ledger.segments.start <= start < ledger.segments.end
                                      and hi < ledger.segments.end):
                ledger = self._ledger_for(start, hi)
            k = bisect_right(ledger.starts, start) - 1
            target = self._ramp(start + ledger.offsets[k]) - ledger.jumps[k] + amount
            if target <= ledger.opened_end or ledger.segments.last_year >= _LAST_YEAR:
                break  # (past the last year datetime knows, the last offset goes on)
            hi = ledger.segments.end + self._reach(target - ledger.opened_end)
        k = bisect_left(ledger.opened, target) - 1
        return self._wall_when(target + ledger.jumps[k]) - ledger.offsets[k]

    def add_business_us_many(self, start: np.ndarray, amount: np.ndarray | int) -> np.ndarray:
        """`add_business_us` of every start of an int64 array, with one amount or one each."""
        start = np.asarray(start, np.int64)
        amounts = np.broadcast_to(np.asarray(amount, np.int64), start.shape)
        if start.size == 0:
            return start.copy()
        if bool((amounts < 0).any()):
            raise ValueError("cannot add a negative amount of business time")
        if self.always:
            return start + amounts
        if self.never:
            if bool((amounts > 0).any()):
                raise ValueError(
                    "these business hours are closed all week; no business time passes")
            return start.copy()
        lo, hi = int(start.min()), int(start.max())
        while True:
            ledger = self._ledger_for(lo, hi)
            target = self._open_times(ledger, start) + amounts
            short = int(target.max()) - ledger.opened_end
            if short <= 0 or ledger.segments.last_year >= _LAST_YEAR:
                break
            hi = ledger.segments.end + self._reach(short)
        k = np.searchsorted(ledger.opened_np, target, "left") - 1
        out = self._walls_when(target + ledger.jumps_np[k]) - ledger.segments.offsets_np[k]
        return np.where(amounts == 0, start, out)

    def _reach(self, amount: int) -> int:
        """A span of real time that surely holds `amount` open µs more (plus a day per
        offset change's worth of slack)."""
        return (amount // self.weekly_us + 2) * WEEK_US

    def open_intervals(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The open intervals [starts[i], ends[i]) in UTC µs that meet [lo, hi), clipped to
        it, sorted and with touching ones joined."""
        starts: list[int] = []
        ends: list[int] = []
        if hi > lo and not self.never:
            for a, b, offset in self.zone.spans(lo, hi):
                # On the wall axis the pattern repeats every week; map each week's openings
                # back to UTC and clip them to [a, b).
                week = (a + offset + _MONDAY_SHIFT_US) // WEEK_US
                while True:
                    monday = week * WEEK_US - _MONDAY_SHIFT_US - offset  # UTC of wall Mon 00:00
                    if monday >= b:
                        break
                    for opens, closes in zip(self.opens, self.closes, strict=True):
                        s, e = max(monday + opens, a), min(monday + closes, b)
                        if s >= e:
                            continue
                        if ends and ends[-1] == s:
                            ends[-1] = e
                        else:
                            starts.append(s)
                            ends.append(e)
                    week += 1
        return np.array(starts, np.int64), np.array(ends, np.int64)


@lru_cache(maxsize=1024)
def business_clock(week: Week, timezone: str = "UTC") -> BusinessClock:
    """The shared `BusinessClock` of a weekly pattern in a zone."""
    return BusinessClock(week, timezone)
