"""Complaint surges: an organisation suddenly gets far more complaints than it usually does.

A PR desk wants to hear about a storm while it starts, not about the Monday-morning
peak it sees every week. So each organisation is measured against its own history at
the same time of week: per minute (event time) the detector counts complaints and the
summed followers of the distinct complaining authors, and compares the last minutes
with what that organisation usually gets then.

The usual rate (complaints per minute) for a local hour of the organisation's own clock:

- with at least 2 earlier weeks holding that hour-of-week: their mean (a Monday 09:00
  is compared with earlier Mondays 09:00, up to 4 weeks back);
- otherwise the same hour of day on earlier days (up to 10 of the same kind, weekdays
  and weekend days apart when there are at least 2 of that kind, else up to 7 days of
  any kind); with exactly one earlier week, the higher of that and the hour-of-week;
- shrunk as if 3 more complaints had come at a prior rate (the hour-of-week towards the
  hour-of-day rate, that one towards the organisation's overall rate), which matters
  only while there are few complaints to go by, and never below a floor (`min_rate`,
  3 per hour by default), so that two complaints at a quiet organisation are no storm.

A minute's expected count is the higher of the rates of the hours within ±30 min of it,
so that a usual peak that starts a little before the hour is not a surprise. Minutes
that belong to a surge are left out of the history, so a storm does not raise the bar
for the next one (for at most `MAX_EXCLUDED`, so that a lasting new level is learnt).

The rule, checked once per organisation-minute on every trailing span of 1 up to
`window` minutes (a sharp surge shows in a minute or two, a slower one in the window):

    complaints in the whole window          >= min_complaints   (volume), and for a span:
    observed                                >= ratio × expected  (size), and
    P(X >= observed), X ~ Poisson(expected) <= p_value           (not chance)

Slow surges: at an organisation so quiet that the volume rule is what hides a surge
(ratio × the usual count of a window < min_complaints), the rule is also checked on the
trailing spans longer than the window up to `slow_window`, with the volume counted over
the span: a complaint every two minutes for half an hour where one a day is usual
never puts 8 in a 10-minute window. Busier organisations are left to the window, where
the ratio, not the volume, is what a slow rise fails.

The Poisson tail is bounded from above by pmf(k)·(k+1)/(k+1-λ) (k > λ), so the test is
never looser than stated. The alert opens at the end of the first minute where the rule
holds (after `warmup` of history, and not within `cooldown` after the previous one was
resolved) and reports the longest span that satisfies it; it is updated when the count
(×1.5 or ÷1.5) or the severity (±1) changed since the last state sent, and resolved once
the last `resolve_after` minutes are calm: below `resolve_ratio` × expected, or below
half the minimum volume (hysteresis). The resolved state reports the peak.

Defaults (`SurgeSettings`; per organisation from the roster's `surge:` mapping, over the
roster defaults' one): window 10m, slow_window 1h, min_complaints 8, ratio 3, p_value
1e-5, cooldown 1h, warmup 3d, resolve_ratio 1.5, resolve_after 5m, min_rate 3 (per hour).

Severity, 0-10 with one decimal (`severity`), grows with the excess and with the reach
of the complaining authors:

    min(6, 2·log2(observed / expected)) + min(4, 4/7·log10(1 + reach))

where reach is the sum, over the span's minutes, of the followers of each minute's
distinct complaining authors: a 3× surge of nobodies is about 3, a 5× one with 100 000
followers behind it about 7.5, and 8× with 10 million followers is 10.

Event time only: a minute is evaluated once the clock of its organisation's partition
(the highest `created_at` read from it, each counted at most a minute past the time Kafka
received it: `pipelines.decode.clock_time`) has passed the minute's end plus `lateness`.
The clock advances with every mention in the order of its partition, and with the
`clocks` passed at the end of a batch; so the alerts are a function of each partition's
event order, not of batch boundaries or of how partitions interleave. (Exactly so when
the clocks are those of the mentions; a clock moved on by events the detector does not
see, such as posts, can only make a straggling mention late for its own minute.) A
complaint that arrives after its minute was judged still counts for later minutes and
for the history.

Pure and deterministic: no I/O, no wall clock. Cost: O(1) per mention; per organisation
and minute with complaints in the window O(window), O(slow_window) when the slow check
runs; quiet stretches are skipped in bulk, whatever their length: a clock that jumps a
year (or 174) costs no more than one that jumps two months (`_add_minutes`).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.alerts import Alert
from pipelines.decode import Mention
from pipelines.roster import Org, Roster, format_duration, parse_duration

KIND = "complaint_surge"

DEFAULT_LATENESS = timedelta(seconds=5)
"""How far past a minute's end a partition's clock must be before the minute is judged."""

MAX_EXCLUDED = 6 * 3600
"""Seconds into an alert during which its minutes stay out of the history."""

SAMPLE_SIZE = 10
_WEEK_HOURS = 168
_WEEKS_BACK = 4
_RING_HOURS = _WEEKS_BACK * _WEEK_HOURS + 48  # per-hour history kept per organisation
_TAIL_MINUTES = (2 * _RING_HOURS + 48) * 60  # of a span of minutes seen, what the ring can hold
_SAME_KIND_DAYS = 10
_ANY_DAYS = 7
_DAYS_BACK = 28
_MIN_SAMPLE_MINUTES = 30  # an hour of history counts once this many of its minutes were seen
_EDGE = 30  # minutes: within this of an hour's edge the neighbouring hour's rate counts too
_PRIOR_COMPLAINTS = 3.0  # weight of the prior in a shrunk estimate, in complaints
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurgeSettings:
    """How one organisation's surges are detected; the roster's `surge:` mapping sets them.

    Durations are seconds (the roster writes them as 10m, 1h, 3d); `min_rate` is
    complaints per hour. Example: `surge: {window: 10m, min_complaints: 8, ratio: 3,
    cooldown: 1h, warmup: 3d}`; `surge: false` turns detection off for the organisation.
    """

    enabled: bool = True
    window: int = 600
    slow_window: int = 3600
    min_complaints: int = 8
    ratio: float = 3.0
    p_value: float = 1e-5
    cooldown: int = 3600
    warmup: int = 3 * 86_400
    resolve_ratio: float = 1.5
    resolve_after: int = 300
    min_rate: float = 3.0

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def for_org(cls, org: Org, base: SurgeSettings | None = None) -> SurgeSettings:
        """The organisation's settings: its roster `surge:` entry over `base` (the defaults).

        Raises ValueError naming the organisation for an unknown key or a bad value.
        """
        base = base if base is not None else cls()
        who = f"org {org.id}" if org.id else "roster defaults"
        spec = org.extra.get("surge")
        if spec is None or spec is True:
            return base
        if spec is False:
            return _replace(base, {"enabled": False}, who)
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"{who}: surge must be a mapping such as {{window: 10m, min_complaints: 8, "
                f"ratio: 3}}, or false; got {spec!r}"
            )
        changes: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in spec.items():
            name = str(key)
            parse = _PARSERS.get(name)
            if parse is None:
                problems.append(
                    f"{who}: surge.{name} is not a surge setting; known: {', '.join(_PARSERS)}"
                )
                continue
            try:
                changes[name] = parse(value)
            except ValueError as e:
                problems.append(f"{who}: surge.{name}: {e}")
        if problems:
            raise ValueError("\n".join(problems))
        return _replace(base, changes, who)

    def to_spec(self) -> dict[str, Any]:
        """The roster's spelling of these settings."""
        return {
            "enabled": self.enabled, "window": format_duration(self.window),
            "slow_window": format_duration(self.slow_window),
            "min_complaints": self.min_complaints, "ratio": self.ratio,
            "p_value": self.p_value, "cooldown": format_duration(self.cooldown),
            "warmup": format_duration(self.warmup), "resolve_ratio": self.resolve_ratio,
            "resolve_after": format_duration(self.resolve_after), "min_rate": self.min_rate,
        }


def _replace(base: SurgeSettings, changes: Mapping[str, Any], who: str) -> SurgeSettings:
    values = {name: getattr(base, name) for name in _PARSERS}
    values.update(changes)
    try:
        return SurgeSettings(**values)
    except ValueError as e:
        raise ValueError(f"{who}: surge: {e}") from None


def _problems(s: SurgeSettings) -> list[str]:
    problems = []
    if s.window % 60 or not 60 <= s.window <= 3600:
        problems.append(f"window {s.window}s must be whole minutes from 1m to 1h")
    if s.slow_window % 60 or not s.window <= s.slow_window <= 3 * 3600:
        problems.append(f"slow_window {s.slow_window}s must be whole minutes from the window "
                        f"({s.window // 60}m) to 3h")
    if s.resolve_after % 60 or not 60 <= s.resolve_after <= 3600:
        problems.append(f"resolve_after {s.resolve_after}s must be whole minutes from 1m to 1h")
    if s.min_complaints < 1:
        problems.append(f"min_complaints {s.min_complaints} must be at least 1")
    if not 1.0 <= s.ratio <= 1000.0:
        problems.append(f"ratio {s.ratio} must be between 1 and 1000")
    if not 1.0 <= s.resolve_ratio <= s.ratio:
        problems.append(f"resolve_ratio {s.resolve_ratio} must be between 1 and ratio ({s.ratio})")
    if not 0.0 < s.p_value <= 0.1:
        problems.append(f"p_value {s.p_value} must be above 0 and at most 0.1")
    if s.cooldown < 0 or s.warmup < 0:
        problems.append("cooldown and warmup cannot be negative")
    if not 0.0 <= s.min_rate <= 1e6:
        problems.append(f"min_rate {s.min_rate} (complaints per hour) must be 0 or more")
    return problems


def _number(value: Any) -> float:
    number = value
    if isinstance(value, str):  # YAML reads 1e-5 (no dot) as a string
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(
            number):
        raise ValueError(f"{value!r} is not a number")
    return float(number)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _duration(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return parse_duration(value)


_PARSERS: dict[str, Any] = {
    "enabled": _flag, "window": _duration, "slow_window": _duration,
    "min_complaints": _whole, "ratio": _number,
    "p_value": _number, "cooldown": _duration, "warmup": _duration,
    "resolve_ratio": _number, "resolve_after": _duration, "min_rate": _number,
}


# -- the arithmetic ------------------------------------------------------------------------


def log_poisson_tail(k: int, lam: float) -> float:
    """An upper bound of ln P(X >= k) for X ~ Poisson(lam): 0 (certain) when k <= lam."""
    if k <= 0:
        return 0.0
    if lam <= 0.0:
        return -math.inf
    if k <= lam:
        return 0.0
    log_pmf = k * math.log(lam) - lam - math.lgamma(k + 1)
    return min(0.0, log_pmf + math.log((k + 1) / (k + 1 - lam)))


def severity(observed: float, expected: float, reach: int) -> float:
    """0-10: up to 6 for the excess (6 at 8×), up to 4 for the reach (4 at 10 million)."""
    excess = 2.0 * math.log2(observed / expected) if expected > 0 and observed > expected else 0.0
    audience = 4.0 / 7.0 * math.log10(1 + max(0, reach))
    return round(min(6.0, excess) + min(4.0, audience), 1)


# -- per organisation ------------------------------------------------------------------------


class _Minute:
    """The complaints of one organisation-minute that is still in the window."""

    __slots__ = ("authors", "complaints", "ids", "reach", "top")

    def __init__(self) -> None:
        self.complaints = 0
        self.reach = 0
        self.authors: dict[str, int] = {}
        self.ids: set[str] = set()
        self.top: list[tuple[int, float, str]] = []  # (-followers, created_at, event_id)


@dataclass
class _Surge:
    alert_id: str
    opened_minute: int
    span_start: int
    version: int
    last_observed: int
    last_severity: float
    peak: tuple[float, int, float, int, int, tuple[str, ...]]
    # peak = (severity, observed, expected, span minutes, span start, samples)


class _OrgState:
    """One organisation's counts, history and surge state."""

    def __init__(self, org: Org, settings: SurgeSettings) -> None:
        self.org_id = org.id
        self.name = org.name or org.id
        self.s = settings
        self.zone: ZoneInfo | None = None if org.timezone in ("UTC", "Etc/UTC") else ZoneInfo(
            org.timezone)
        self.window = settings.window // 60
        self.calm_span = settings.resolve_after // 60
        self.span = max(self.window, self.calm_span)
        self.slow = settings.slow_window // 60
        # Committed minutes still inside the slow window: (minute, complaints, reach).
        self.past: deque[tuple[int, int, int]] = deque()
        self.log_p = math.log(settings.p_value)
        self.floor = settings.min_rate / 60.0
        self.partition: int | None = None
        self.first_minute = -1  # -1: nothing seen yet
        self.cursor = 0  # the first minute not judged yet
        self.committed = 0  # minutes before this one are in the history
        self.recent: dict[int, _Minute] = {}
        # Per local hour (hours since 1970-01-01 on the organisation's clock) in a ring:
        # which hour a slot holds, its complaints, and how many of its minutes were seen.
        self.hist_hour = array("i", [-1]) * _RING_HOURS
        self.hist_count = array("f", [0.0]) * _RING_HOURS
        self.hist_minutes = array("H", [0]) * _RING_HOURS
        self.total_count = 0.0
        self.total_minutes = 0
        self.estimates: dict[int, float] = {}  # local hour -> usual rate
        self.minute_rates: dict[int, float] = {}  # UTC minute -> usual rate
        self.offsets: dict[int, int] = {}
        self.excluded: list[list[int]] = []  # [first, last] minutes kept out of the history
        self.surge: _Surge | None = None
        self.resolved_minute: int | None = None

    # clock -------------------------------------------------------------------------------

    def start(self, minute: int) -> None:
        self.first_minute = self.cursor = self.committed = minute

    def offset(self, minute: int) -> int:
        """The organisation's UTC offset in minutes at a UTC minute (constant per UTC hour)."""
        if self.zone is None:
            return 0
        hour = minute // 60
        off = self.offsets.get(hour)
        if off is None:
            if len(self.offsets) > 64:
                self.offsets.clear()
            delta = datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
            off = self.offsets[hour] = int(delta.total_seconds()) // 60 if delta else 0
        return off

    def local(self, minute: int) -> datetime:
        return datetime.fromtimestamp(minute * 60, self.zone or UTC)

    # counting ----------------------------------------------------------------------------

    def add_complaint(self, minute: int, mention: Mention, ts: float) -> None:
        if minute < self.committed:
            self.add_to_history(minute, 1.0)
            return
        bucket = self.recent.get(minute)
        if bucket is None:
            bucket = self.recent[minute] = _Minute()
        event_id = mention.event_id
        if event_id in bucket.ids:
            return  # a second copy of the same event
        bucket.ids.add(event_id)
        bucket.complaints += 1
        followers = mention.author_followers
        before = bucket.authors.get(mention.author_id)
        if before is None:
            bucket.authors[mention.author_id] = followers
            bucket.reach += followers
        elif followers > before:
            bucket.authors[mention.author_id] = followers
            bucket.reach += followers - before
        top = bucket.top
        top.append((-followers, ts, event_id))
        if len(top) > 4 * SAMPLE_SIZE:
            top.sort()
            del top[SAMPLE_SIZE:]

    def add_counts(self, minute: int, complaints: int, reach: int) -> None:
        """A minute from the warehouse's history (no event ids or authors)."""
        if complaints <= 0:
            return
        if minute < self.committed:
            self.add_to_history(minute, float(complaints))
            return
        bucket = self.recent.get(minute)
        if bucket is None:
            bucket = self.recent[minute] = _Minute()
        bucket.complaints += complaints
        bucket.reach += max(0, reach)

    # history -----------------------------------------------------------------------------

    def _slot(self, hour: int) -> int:
        slot = hour % _RING_HOURS
        held = self.hist_hour[slot]
        if held == hour:
            return slot
        if held > hour:
            return -1  # older than the ring
        if held >= 0:
            self.total_count -= self.hist_count[slot]
            self.total_minutes -= self.hist_minutes[slot]
        self.hist_hour[slot] = hour
        self.hist_count[slot] = 0.0
        self.hist_minutes[slot] = 0
        return slot

    def _is_excluded(self, minute: int) -> bool:
        return any(first <= minute <= last for first, last in self.excluded)

    def add_to_history(self, minute: int, complaints: float) -> None:
        if self._is_excluded(minute):
            return
        slot = self._slot((minute + self.offset(minute)) // 60)
        if slot >= 0:
            self.hist_count[slot] += complaints
            self.total_count += complaints

    def _add_minutes(self, first: int, end: int) -> None:
        """Count the minutes [first, end) as seen, per local hour.

        Bounded by the ring, not by the calendar: each slot keeps the latest hour that maps
        to it, so of a longer span only the last `_TAIL_MINUTES` can leave a trace (two
        rings, so that every slot is reached even past a spring-forward hour that has no
        minutes, plus room for the zone's offset); what came before would be overwritten.
        The counts are whole numbers, so the totals come out the same as well.
        """
        first = max(first, end - _TAIL_MINUTES)
        while first < end:
            utc_end = min(end, (first // 60 + 1) * 60)
            off = self.offset(first)
            local, local_end = first + off, utc_end + off
            while local < local_end:
                hour = local // 60
                stop = min(local_end, (hour + 1) * 60)
                slot = self._slot(hour)
                if slot >= 0:
                    self.hist_minutes[slot] += stop - local
                    self.total_minutes += stop - local
                local = stop
            first = utc_end

    def commit(self, upto: int) -> None:
        """Move the minutes before `upto` (out of every window by now) into the history."""
        if upto <= self.committed:
            return
        done = [minute for minute in self.recent if minute < upto]
        done.sort()
        keep = upto - self.slow
        for minute in done:
            bucket = self.recent.pop(minute)
            self.add_to_history(minute, float(bucket.complaints))
            if minute >= keep and self.slow > self.span:
                self.past.append((minute, bucket.complaints, bucket.reach))
        past = self.past
        while past and past[0][0] < keep:
            past.popleft()
        start = self.committed
        for first, last in sorted(self.excluded):
            if last < start or first >= upto:
                continue
            self._add_minutes(start, max(start, first))
            start = max(start, last + 1)
        self._add_minutes(start, max(start, upto))
        self.committed = upto
        if self.excluded:
            self.excluded = [r for r in self.excluded if r[1] >= upto]

    def exclude(self, first: int, last: int) -> None:
        for span in self.excluded:
            if first <= span[1] + 1 and last >= span[0] - 1:
                span[0], span[1] = min(span[0], first), max(span[1], last)
                return
        self.excluded.append([first, last])

    # the usual rate ----------------------------------------------------------------------

    def _hour(self, hour: int) -> tuple[float, int]:
        slot = hour % _RING_HOURS
        if hour < 0 or self.hist_hour[slot] != hour:
            return 0.0, 0
        return self.hist_count[slot], self.hist_minutes[slot]

    def _shrunk(self, count: float, minutes: int, prior: float) -> float:
        """The rate seen, pulled towards `prior` as if `_PRIOR_COMPLAINTS` more were seen."""
        return (count + _PRIOR_COMPLAINTS) / (minutes + _PRIOR_COMPLAINTS / prior)

    def hour_rate(self, hour: int) -> float:
        """The usual complaints per minute in a local hour (hours since 1970-01-01 local)."""
        cached = self.estimates.get(hour)
        if cached is not None:
            return cached
        floor = max(self.floor, 1e-6)
        overall = max(self.total_count / self.total_minutes if self.total_minutes else 0, floor)
        weekend = (hour // 24 + 3) % 7 >= 5
        same: list[tuple[float, int]] = []
        any_day: list[tuple[float, int]] = []
        for k in range(1, _DAYS_BACK + 1):
            count, minutes = self._hour(hour - 24 * k)
            if minutes < _MIN_SAMPLE_MINUTES:
                continue
            if k <= _ANY_DAYS:
                any_day.append((count, minutes))
            same_kind = (((hour - 24 * k) // 24 + 3) % 7 >= 5) == weekend
            if same_kind and len(same) < _SAME_KIND_DAYS:
                same.append((count, minutes))
        days = same if len(same) >= 2 else any_day
        rate = self._shrunk(sum(c for c, _ in days), sum(m for _, m in days), overall)
        weeks = [self._hour(hour - k * _WEEK_HOURS) for k in range(1, _WEEKS_BACK + 1)]
        weeks = [w for w in weeks if w[1] >= _MIN_SAMPLE_MINUTES]
        if weeks:
            week_rate = self._shrunk(sum(c for c, _ in weeks), sum(m for _, m in weeks),
                                     max(rate, floor))
            rate = week_rate if len(weeks) >= 2 else max(rate, week_rate)
        rate = max(rate, self.floor)
        if len(self.estimates) > 16:
            self.estimates = {h: r for h, r in self.estimates.items() if h >= hour - 2}
        self.estimates[hour] = rate
        return rate

    def expected(self, minute: int) -> float:
        """The usual complaints in a (UTC) minute."""
        cached = self.minute_rates.get(minute)
        if cached is None:
            local = minute + self.offset(minute)
            cached = max(self.hour_rate((local - _EDGE) // 60),
                         self.hour_rate((local + _EDGE) // 60))
            keep = max(self.span, self.slow)
            if len(self.minute_rates) >= 4 * keep:
                self.minute_rates = {m: r for m, r in self.minute_rates.items()
                                     if m > minute - 2 * keep}
            self.minute_rates[minute] = cached
        return cached


# -- the detector ----------------------------------------------------------------------------


class SurgeDetector:
    """Watches every organisation's complaints and emits `complaint_surge` alert states.

    Feed it the labelled mentions of each batch with the partitions' clocks (`process`);
    on start-up, `load_history` gives it the per-minute counts the warehouse holds.
    """

    def __init__(self, roster: Roster, *, lateness: timedelta = DEFAULT_LATENESS) -> None:
        self._roster = roster
        self._lateness = lateness.total_seconds()
        if self._lateness < 0:
            raise ValueError("lateness cannot be negative")
        problems: list[str] = []
        try:
            self._base = SurgeSettings.for_org(roster.defaults)
        except ValueError as e:
            problems.append(str(e))
            self._base = SurgeSettings()
        self._settings: dict[str, SurgeSettings] = {}
        for org_id, org in roster.orgs.items():
            try:
                self._settings[org_id] = SurgeSettings.for_org(org, self._base)
            except ValueError as e:
                problems.append(str(e))
        if problems:
            raise ValueError("\n".join(problems))
        self._orgs: dict[str, _OrgState] = {}
        self._by_partition: dict[int, dict[str, _OrgState]] = {}
        self._clock: dict[int, float] = {}
        self._due: dict[int, int] = {}
        self._history_end = -math.inf  # seconds: mentions before it are in the loaded history
        self._out: list[Alert] | None = None

    @property
    def tracked_orgs(self) -> int:
        return len(self._orgs)

    def settings(self, org_id: str) -> SurgeSettings:
        return self._settings.get(org_id, self._base)

    # input -------------------------------------------------------------------------------

    def process(self, mentions: Sequence[Mention], clocks: Mapping[int, datetime]) -> list[Alert]:
        """Count the mentions (in their partitions' order), judge every minute that is due.

        `clocks` maps a partition to the event time up to which it has been read.
        """
        out: list[Alert] = []
        self._out = out
        orgs = self._orgs
        history_end = self._history_end
        for mention in mentions:
            state = orgs.get(mention.org_id)
            if state is None:
                state = self._track(mention.org_id)
            partition = mention.source.partition
            if state.partition != partition:
                self._move(state, partition)
            ts = mention.created_at.timestamp()
            minute = int(ts // 60)
            if state.first_minute < 0:
                state.start(minute)
            if mention.complaint and ts >= history_end:
                state.add_complaint(minute, mention, ts)
            at = mention.clock_at  # created_at, at most a minute past its Kafka timestamp
            tick = ts if at is mention.created_at else at.timestamp()
            clock = self._clock.get(partition)
            if clock is None or tick > clock:
                self._tick(partition, tick)
        for partition in sorted(clocks):
            ts = _seconds(clocks[partition], "clock")
            clock = self._clock.get(partition)
            if clock is None or ts > clock:
                self._tick(partition, ts)
        self._out = None
        return out

    def load_history(self, rows: Iterable[tuple[str, datetime, int, int]], *,
                     through: datetime | None = None) -> None:
        """Start from the warehouse: (org_id, minute, complaints, complaint_reach), oldest first.

        The minutes are judged as if they had been processed (the same baseline, surge
        and cooldown state) but no alert is emitted. The history is taken as complete up
        to `through` (default: the end of the latest minute given); mentions before it are
        not counted again. An organisation's minutes after that are judged once one of
        its mentions has shown which partition it is on.
        """
        self._out = None
        last = -1
        for org_id, at, complaints, reach in rows:
            state = self._orgs.get(org_id) or self._track(org_id)
            minute = int(_seconds(at, "history minute") // 60)
            if state.first_minute < 0:
                state.start(minute)
            if minute > state.cursor:
                self._advance(state, minute)
            state.add_counts(minute, complaints, reach)
            last = max(last, minute)
        if through is not None:
            history_end = _seconds(through, "through")
        elif last >= 0:
            history_end = (last + 1) * 60.0
        else:
            return
        end = math.floor(history_end / 60)  # the minutes before this one are complete
        for state in self._orgs.values():
            if state.first_minute >= 0 and state.cursor < end:
                self._advance(state, end)
        self._history_end = max(self._history_end, history_end)

    # bookkeeping -------------------------------------------------------------------------

    def _track(self, org_id: str) -> _OrgState:
        org = self._roster.org(org_id)
        state = self._orgs[org_id] = _OrgState(org, self.settings(org_id))
        return state

    def _move(self, state: _OrgState, partition: int) -> None:
        if state.partition is not None:
            self._by_partition[state.partition].pop(state.org_id, None)
        state.partition = partition
        self._by_partition.setdefault(partition, {})[state.org_id] = state

    def _tick(self, partition: int, ts: float) -> None:
        self._clock[partition] = ts
        due = math.floor((ts - self._lateness) / 60)  # minutes before this one are due
        if due > self._due.get(partition, -(2**62)):
            self._due[partition] = due
            for state in self._by_partition.get(partition, {}).values():
                if state.first_minute >= 0 and state.cursor < due:
                    self._advance(state, due)

    def _advance(self, state: _OrgState, target: int) -> None:
        """Judge the organisation's minutes before `target`, skipping quiet stretches."""
        while state.cursor < target:
            if state.surge is None:
                upcoming = min(state.recent, default=target)
                if upcoming > state.cursor:
                    state.cursor = min(upcoming, target)
                    state.commit(state.cursor - state.span + 1)
                    continue
            self._judge(state, state.cursor)
            state.cursor += 1
            state.commit(state.cursor - state.span + 1)

    # the rule ----------------------------------------------------------------------------

    def _judge(self, state: _OrgState, minute: int) -> None:
        s = state.s
        span = state.span
        window = state.window
        observed = [0] * (span + 1)
        reach = [0] * (span + 1)
        o = r = 0
        recent = state.recent
        for length in range(1, span + 1):
            bucket = recent.get(minute - length + 1)
            if bucket is not None:
                o += bucket.complaints
                r += bucket.reach
            observed[length], reach[length] = o, r
        surge = state.surge
        if surge is None and (not s.enabled or observed[window] < s.min_complaints):
            if s.enabled and state.slow > span:
                self._judge_slow(state, minute, observed[span], reach[span])
            return  # too few to matter: the usual rate is not even needed
        expected = [0.0] * (span + 1)
        e = 0.0
        for length in range(1, span + 1):
            e += state.expected(minute - length + 1)
            expected[length] = e
        trigger = 0
        if s.enabled and observed[window] >= s.min_complaints:
            for length in range(window, 0, -1):
                k, lam = observed[length], expected[length]
                if k >= s.ratio * lam and log_poisson_tail(k, lam) <= state.log_p:
                    trigger = length
                    break
        if surge is None:
            if trigger:
                self._start(state, minute, trigger, observed[trigger], expected[trigger],
                            reach[trigger])
            return
        if (minute - surge.opened_minute) * 60 < MAX_EXCLUDED:
            state.exclude(minute - window + 1, minute)
        calm = state.calm_span
        k, lam = observed[calm], expected[calm]
        if k < s.resolve_ratio * lam or 2 * k * window < s.min_complaints * calm:
            self._resolve(state, surge, minute)
            return
        length = min(minute - surge.span_start + 1, window)
        k, lam = observed[length], expected[length]
        level = severity(k, lam, reach[length])
        peak = surge.peak
        if (level, k) > (peak[0], peak[1]):
            surge.peak = (level, k, lam, length, minute - length + 1,
                          self._samples(state, minute - length + 1, minute))
        moved = (abs(level - surge.last_severity) >= 1.0
                 or k >= 1.5 * surge.last_observed or 1.5 * k <= surge.last_observed)
        if moved:
            surge.version += 1
            surge.last_observed, surge.last_severity = k, level
            self._emit(state, surge, "open", minute, level, k, lam, length, reach[length],
                       self._samples(state, minute - length + 1, minute))

    def _judge_slow(self, state: _OrgState, minute: int, recent_k: int,
                    recent_reach: int) -> None:
        """The rule over spans longer than the window, up to `slow_window`, at an
        organisation so quiet that `min_complaints` in the window is what hides a surge:
        complaints at a few a minute for half an hour where one an hour is usual."""
        s = state.s
        slow, span = state.slow, state.span
        past = state.past
        first = minute - slow + 1
        while past and past[0][0] < first:
            past.popleft()
        total = recent_k + sum(c for _, c, _ in past)
        if total < s.min_complaints:
            return
        if s.ratio * state.expected(minute) * state.window >= s.min_complaints:
            return  # busy enough that the window's own rule decides
        counts = [0] * (slow + 1)
        reaches = [0] * (slow + 1)
        for m, c, r in past:
            counts[minute - m + 1] += c
            reaches[minute - m + 1] += r
        recent = state.recent
        for length in range(1, span + 1):
            bucket = recent.get(minute - length + 1)
            if bucket is not None:
                counts[length] += bucket.complaints
                reaches[length] += bucket.reach
        k = r = 0
        e = 0.0
        best: tuple[int, int, float, int] | None = None
        for length in range(1, slow + 1):
            k += counts[length]
            r += reaches[length]
            e += state.expected(minute - length + 1)
            if (length > state.window and k >= s.min_complaints and k >= s.ratio * e
                    and log_poisson_tail(k, e) <= state.log_p):
                best = (length, k, e, r)  # the longest span that holds
        if best is not None:
            self._start(state, minute, *best)

    def _start(self, state: _OrgState, minute: int, length: int, k: int, lam: float,
               reach: int) -> None:
        """Open an alert for a span where the rule holds, unless still in the warm-up
        or the cooldown; either way its minutes stay out of the history."""
        s = state.s
        if (minute + 1 - state.first_minute) * 60 < s.warmup:
            return
        state.exclude(minute - state.window + 1, minute)
        cooling = (state.resolved_minute is not None
                   and (minute - state.resolved_minute) * 60 < s.cooldown)
        if not cooling:
            self._open(state, minute, length, k, lam, reach)

    def _open(self, state: _OrgState, minute: int, length: int, k: int, lam: float,
              reach: int) -> None:
        opened = datetime.fromtimestamp(minute * 60, UTC)
        level = severity(k, lam, reach)
        start = minute - length + 1
        samples = self._samples(state, start, minute)
        surge = state.surge = _Surge(
            alert_id=f"{KIND}:{state.org_id}:{opened:%Y%m%dT%H%M}", opened_minute=minute,
            span_start=start, version=1, last_observed=k, last_severity=level,
            peak=(level, k, lam, length, start, samples),
        )
        self._emit(state, surge, "open", minute, level, k, lam, length, reach, samples)

    def _resolve(self, state: _OrgState, surge: _Surge, minute: int) -> None:
        surge.version += 1
        level, k, lam, length, start, samples = surge.peak
        self._emit(state, surge, "resolved", minute, level, k, lam, length, None, samples,
                   peak_start=start)
        state.surge = None
        state.resolved_minute = minute

    def _samples(self, state: _OrgState, first: int, last: int) -> tuple[str, ...]:
        picks: list[tuple[int, float, str]] = []
        for m in range(first, last + 1):
            bucket = state.recent.get(m)
            if bucket is not None:
                picks.extend(bucket.top)
        picks.sort()
        return tuple(event_id for _, _, event_id in picks[:SAMPLE_SIZE])

    def _emit(self, state: _OrgState, surge: _Surge, status: str, minute: int, level: float,
              observed: int, expected: float, length: int, reach: int | None,
              samples: tuple[str, ...], *, peak_start: int | None = None) -> None:
        if self._out is None:
            return  # replaying the history: the state moves on, nothing is sent
        end = datetime.fromtimestamp((minute + 1) * 60, UTC)
        start = peak_start if peak_start is not None else minute - length + 1
        when = state.local(start)
        usual = f"the usual {expected:.1f} for a {_WEEKDAY_NAMES[when.weekday()]} {when:%H:%M}"
        times = observed / expected if expected > 0 else math.inf
        if status == "resolved":
            lasted = minute + 1 - surge.span_start
            summary = (f"{state.name}: complaint surge over after {lasted} min; peak "
                       f"{observed} complaints in {length} min, {times:.1f}× {usual}")
        else:
            summary = (f"{state.name}: {observed} complaints in {length} min, "
                       f"{times:.1f}× {usual}")
        details: dict[str, Any] = {"window_minutes": length,
                                   "window_start": _iso_minute(start)}
        if reach is not None:
            details["reach"] = reach
            details["log_p"] = round(log_poisson_tail(observed, expected), 2)
        self._out.append(Alert(
            alert_id=surge.alert_id, org_id=state.org_id, kind=KIND, status=status,
            opened_at=datetime.fromtimestamp((surge.opened_minute + 1) * 60, UTC),
            resolved_at=end if status == "resolved" else None,
            severity=level, observed=float(observed), expected=round(expected, 2),
            summary=summary, sample_event_ids=samples, updated_at=end,
            version=surge.version, details=details,
        ))


def _seconds(t: datetime, what: str) -> float:
    if t.tzinfo is None:
        raise ValueError(f"{what} {t.isoformat()} has no time zone; pass an aware (UTC) datetime")
    return t.timestamp()


def _iso_minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")
