"""Time for the simulated world: milliseconds since the epoch, RFC 3339 stamps (cached,
because every event needs one), local clocks per time zone, and staffed hours on the UTC
axis. The zone offsets and the open intervals come from `pipelines.orgclock`, the clock the
roster and the pipeline use, so the world is open exactly when the pipeline thinks it is.
Pure functions of their arguments; no wall clock."""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from pipelines.orgclock import HOUR_US, WEEK_US, local_clock
from pipelines.roster import BusinessHours

_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_MASK64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fixed, well-spread hash of an integer (Python's hash() is salted)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


# -- time ----------------------------------------------------------------------------------


def _to_ms(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH) // timedelta(milliseconds=1)


def _from_ms(ms: float) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


_PREFIX_CACHE: dict[int, str] = {}
_WITHIN_MINUTE = tuple(f"{ms // 1000:02d}.{ms % 1000:03d}Z" for ms in range(60_000))


def _stamp(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-03-02T09:15:03.123Z."""
    minute, rest = divmod(ms, 60_000)
    prefix = _PREFIX_CACHE.get(minute)
    if prefix is None:
        if len(_PREFIX_CACHE) > 200_000:
            _PREFIX_CACHE.clear()
        prefix = (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
        _PREFIX_CACHE[minute] = prefix
    return prefix + _WITHIN_MINUTE[rest]


def _stamp_local(ms: int, offset_minutes: int) -> str:
    """The same instant on the local clock with its offset: 2026-03-02T10:15:03.123+01:00."""
    text = _stamp(ms + offset_minutes * 60_000)[:-1]
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=1 << 16)
def _local_clock(zone: str, utc_hour: int) -> tuple[int, int, int]:
    """(local hour, local weekday 0=Mon, UTC offset in minutes) at the start of a UTC hour."""
    return local_clock(zone, utc_hour * HOUR_US)


def _run_tag(seed: int, start_ms: int) -> str:
    """A short tag in every event id, so runs with another seed or start never collide."""
    value = _mix((seed & _MASK64) ^ _mix(start_ms & _MASK64)) % (36 ** 5)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(5):
        value, d = divmod(value, 36)
        out += digits[d]
    return out


_STRETCH_WEEKS = 4
_STRETCH_US = _STRETCH_WEEKS * WEEK_US
_STRETCH_MS = _STRETCH_US // 1000
_STRETCHES_KEPT = 256
_ADVANCE_DAYS = 60  # `advance` looks this many local days ahead, then gives up


class _Staffed:
    """A weekly schedule's open intervals on the UTC axis, in milliseconds, a few weeks at a
    time, for quick questions: is someone on duty at t, and when have `ms` milliseconds of
    duty passed since t. The intervals are the roster's (`BusinessClock.open_intervals`);
    the walk through them is in float milliseconds, as the generator's times are."""

    def __init__(self, hours: BusinessHours) -> None:
        self.clock = hours.clock
        self.always = self.clock.always
        self.never = self.clock.never
        self.stretches: dict[int, tuple[list[float], list[float]]] = {}

    def _stretch(self, index: int) -> tuple[list[float], list[float]]:
        """Open intervals (starts, ends) of weeks [index * 4, index * 4 + 4) since the epoch."""
        stretch = self.stretches.get(index)
        if stretch is None:
            if len(self.stretches) >= _STRETCHES_KEPT:
                self.stretches.clear()
            # Openings and UTC offsets fall on whole seconds: µs // 1000 is exact.
            starts, ends = self.clock.open_intervals(index * _STRETCH_US,
                                                     (index + 1) * _STRETCH_US)
            stretch = self.stretches[index] = ([float(a) for a in (starts // 1000).tolist()],
                                               [float(b) for b in (ends // 1000).tolist()])
        return stretch

    def is_open(self, t: float) -> bool:
        if self.always:
            return True
        return self.clock.is_open(math.floor(t) * 1000)  # openings are on whole ms

    def advance(self, t: float, ms: float) -> float:
        """The instant at which `ms` of open time have passed since `t`."""
        if self.always or self.never:
            return t + ms
        whole = math.floor(t)
        offset_ms = self.clock.zone.offset(whole * 1000) // 1000
        # Local midnight `_ADVANCE_DAYS` days on, roughly in UTC: no opening from there.
        give_up = ((whole + offset_ms) // _MS_DAY + _ADVANCE_DAYS) * _MS_DAY - offset_ms
        index = whole // _STRETCH_MS
        while True:
            starts, ends = self._stretch(index)
            for i in range(bisect_right(ends, t), len(starts)):
                a, b = starts[i], ends[i]
                if a >= give_up:
                    return t + ms
                begin = max(a, t)
                if ms <= b - begin:
                    return begin + ms
                ms -= b - begin
            index += 1
            if index * _STRETCH_MS >= give_up:
                return t + ms
