"""Time for the simulated world: milliseconds since the epoch, RFC 3339 stamps (cached,
because every event needs one), local clocks per time zone, and staffed hours laid out on
the UTC axis. Pure functions of their arguments; no wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

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
    """(local hour, local weekday 0=Mon, UTC offset in minutes) during one UTC hour."""
    local = (_EPOCH + timedelta(hours=utc_hour)).astimezone(ZoneInfo(zone))
    offset = local.utcoffset()
    assert offset is not None
    return local.hour, local.weekday(), int(offset.total_seconds() // 60)


def _run_tag(seed: int, start_ms: int) -> str:
    """A short tag in every event id, so runs with another seed or start never collide."""
    value = _mix((seed & _MASK64) ^ _mix(start_ms & _MASK64)) % (36 ** 5)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(5):
        value, d = divmod(value, 36)
        out += digits[d]
    return out


class _Staffed:
    """A weekly schedule laid out on the UTC axis one local day at a time, for quick questions:
    is someone on duty at t, and when have `ms` milliseconds of duty passed since t."""

    def __init__(self, hours: BusinessHours) -> None:
        self.week = hours.week
        self.zone = hours.timezone
        self.always = hours.weekly_seconds == 7 * 86_400
        self.never = hours.weekly_seconds == 0
        self.days: dict[int, tuple[tuple[float, float], ...]] = {}

    def _offset(self, ms: float) -> int:
        return _local_clock(self.zone, int(ms // _MS_HOUR))[2] * 60_000

    def _utc(self, wall: int) -> float:
        guess = wall - self._offset(wall)
        return float(wall - self._offset(guess))

    def _day(self, local_day: int) -> tuple[tuple[float, float], ...]:
        intervals = self.days.get(local_day)
        if intervals is None:
            if len(self.days) > 4096:
                self.days.clear()
            base = local_day * _MS_DAY
            weekday = (local_day + 3) % 7          # 1970-01-01 was a Thursday
            intervals = tuple((self._utc(base + o * 1000), self._utc(base + c * 1000))
                              for o, c in self.week[weekday])
            self.days[local_day] = intervals
        return intervals

    def _local_day(self, t: float) -> int:
        return int((t + self._offset(t)) // _MS_DAY)

    def is_open(self, t: float) -> bool:
        if self.always:
            return True
        return any(a <= t < b for a, b in self._day(self._local_day(t)))

    def advance(self, t: float, ms: float) -> float:
        """The instant at which `ms` of open time have passed since `t`."""
        if self.always or self.never:
            return t + ms
        day = self._local_day(t)
        for _ in range(60):
            for a, b in self._day(day):
                if b <= t:
                    continue
                begin = max(a, t)
                if ms <= b - begin:
                    return begin + ms
                ms -= b - begin
            day += 1
        return t + ms

