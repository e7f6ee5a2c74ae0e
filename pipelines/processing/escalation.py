"""Complaint surges: an organisation suddenly gets far more complaints than it usually does,
more than the volume of everything else it is hearing can explain.

A PR desk wants to hear about a storm while it starts, not about the Monday-morning peak
it sees every week, and not about a viral campaign of praise in which the classifier
misreads a few per cent as complaints (ten times the praise with 4 % misread is a lot of
"complaints"). So each organisation is measured against its own history at the same time
of week, in complaints *and* in its other mentions: per minute (event time) the detector
counts complaints, other mentions and the summed followers of the distinct complaining
authors.

The usual rates (complaints, and other mentions, per minute) for a local hour of the
organisation's own clock:

- with at least 2 earlier weeks holding that hour-of-week: their mean (a Monday 09:00
  is compared with earlier Mondays 09:00, up to 4 weeks back);
- otherwise the same hour of day on earlier days (up to 10 of the same kind, weekdays
  and weekend days apart when there are at least 2 of that kind, else up to 7 days of
  any kind); with exactly one earlier week, the higher of that and the hour-of-week;
- shrunk as if 3 more had come at a prior rate (the hour-of-week towards the hour-of-day
  rate, that one towards the organisation's rate over the week before yesterday), which
  matters only while there is little to go by;
- never below the mean of the same hour on the last two days of the same kind within
  four days (a lasting new level is the usual after two days, not after four weeks).

The usual complaint count never goes below a floor (`min_rate`, 3 per hour by
default), so that two complaints at a quiet organisation are no storm. A minute's usual
rates are the higher of those of the hours within ±30 min of it, so that a usual peak
that starts a little before the hour is not a surprise. They use only history at least
a day old, so they do not depend on when they are computed. Minutes that belong to a
surge are left out of the history, so a storm does not raise the bar for the next one:
for at most `MAX_EXCLUDED` (6 h) of an alert, and of any week, so that a lasting new
level is learnt however many alerts it opens.

The rule, on trailing spans of 1 minute up to `slow_window` (3 h) from a fixed ladder
(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, … 180 minutes, plus `window` and
`slow_window` themselves). With k the complaints of the span, E their usual count and O
the other mentions of the span, M their usual count:

    volume:  complaints in the span, or in `window` for a shorter span  >= min_complaints
    rate:    k >= ratio × E (spans up to `window`; longer ones: slow_ratio × E)
    share:   k >= share_ratio × S,  S = E + q × max(0, O − M),
             q = E₀/M held between `misread` and 1
    tail:    P(X >= k) <= p_value × n / window  (n: the span's minutes; at most 0.1),
             X with mean S₀ = E + min(misread, E₀/M) × max(0, O − M) and a usual
             level that itself varies by `dispersion` (a negative binomial)

S is what the span's volume explains: the usual count, plus, for every other mention
above their usual number, the complaints that the usual complaints-per-other-mention
would bring (E₀ is E before the floor). q is at least `misread` (0.15): a burst of praise
or questions brings the complaints the classifier misreads in it (measured on held-out
labelled posts: 5 % of positive tweets, 10-12 % of neutral ones and of other posts to
brands), even at an organisation that usually hears few complaints; and at most one, so
that an organisation whose mentions are nearly all complaints is judged on its rate
alone. A storm raises k and its share of the mentions (the complaints the classifier
misses, a quarter of them, count as other mentions), and leaves S near E. The tail is
taken against S₀, what the volume surely explains: the extra other mentions at the
organisation's own complaints per other mention but at most `misread` each (a storm
brings other mentions too — people asking whether it is down for them — so they must
not explain it away; the share test asks the rest), and with the usual level itself
uncertain: the hour's level varies from day to day by about `dispersion` of it, so X is
a Poisson whose mean is gamma-distributed around S₀ (a negative binomial, variance
S₀ + (dispersion·S₀)²). On short spans that is the Poisson (fast alerts on sharp
storms); on long ones the level's own variation dominates, which is what the old fixed
ratios (3× and 2×) stood in for. The alert reports S as its `expected`.

The tail level is a false-alarm budget split evenly over the span lengths: a span of n
minutes has about 10 080 / n independent chances a week, so giving it p_value × n /
window makes each length spend the same share of a week's false alarms; short spans are
held to a stricter level (a 1-minute fluke at a busy organisation is common), long ones
to a looser one (a lasting level or a slow ramp is found before the history absorbs it).
Both tails are bounded from above (`log_poisson_tail`, `log_tail`: pmf(k) over one less the
ratio of consecutive terms), so the test is never looser than stated.

The alert opens at the end of the first minute where a span holds (after `warmup` of
history, and not within `cooldown` after the previous one was resolved) and reports the
span with the most complaints beyond S; it is updated when the count since the surge
began (×1.5 or ÷1.5) or the severity (±1) changed since the last state sent, and
resolved once a calm span is calm: below `resolve_ratio` × E, or below half the minimum
volume (hysteresis). The calm span is twice the span the alert opened
on, at least `resolve_after` and at most an hour, so that a long, moderate surge does
not close and open again on every dip. A surge open for three hours or more that
resolves above its usual count (the history is learning a lasting new level) leaves that
level behind: for a day the usual counts of new spans are raised by the calm span's
complaints over its usual count, so a lasting level is alerted once, not again each time
the history has half learnt it. A new surge is made of what came after the
previous one: no span reaches back past its end (nor past the last surge the cooldown
held back, nor into the warm-up). The resolved state reports the peak.

What a surge is about, in the alert's `summary` and `details`: the terms and hashtags
that set the span's complaints apart from the organisation's usual ones
(`pipelines.processing.surge_explain`), its most-followed complaining authors, and sample posts.
Both sets of texts are samples that do not depend on the order of arrival: per minute,
the `TEXT_SAMPLE` complaints with the lowest CRC-32 of their event id; per day, the
`USUAL_SAMPLE` lowest; the usual texts are those of the `USUAL_DAYS` days before the
span. `pipelines.processing.processors.restore` rebuilds the same samples from the warehouse.

Defaults (`SurgeSettings`; per organisation from the roster's `surge:` mapping, over the
roster defaults' one): window 10m, slow_window 3h (up to 6h), min_complaints 8, ratio 2,
slow_ratio 1.5, share_ratio 1.3, misread 0.15, dispersion 0.1, p_value 1e-4, cooldown 1h,
warmup 3d, resolve_ratio 1.3, resolve_after 5m, min_rate 3 (per hour). Tuned on
`bench.tuneworld` (written from the issue's shapes alone) and checked on `dorpspomp
simulate`'s world (`python -m bench.evalsurges --simulate-days 21`), graded on the
independent one (`pipelines.evalworld`).

Severity, 0-10 with one decimal (`severity`), grows with the excess and with the reach
of the complaining authors:

    min(6, 2·log2(observed / expected)) + min(4, 4/7·log10(1 + reach))

where reach is the sum, over the span's minutes, of the followers of each minute's
distinct complaining authors: a 3× surge of nobodies is about 3, a 5× one with 100 000
followers behind it about 7.5, and 8× with 10 million followers is 10.

Event time only: a minute is judged once the clock of its organisation's partition
(the highest `created_at` read from it, each counted at most a minute past the time Kafka
received it: `pipelines.ingest.decode.clock_time`) has passed the minute's end plus `lateness`.
The clock advances with every mention in the order of its partition (the mention counts
first, then moves the clock), and with the `clocks` passed at the end of a batch; so the
alerts are a function of each partition's event order, not of batch boundaries or of how
partitions interleave. A complaint that arrives after its minute was judged still counts
for later minutes and for the history.

Cost. Pure and deterministic: no I/O, no wall clock. A batch comes as columns
(`SurgeDetector.process_table`): each partition's clock before and after every row, and
the rows where it passes a minute that is then due (the only points that judge), are
computed on the columns; an organisation's rows between two such points of its partition
are counted together, the other mentions as counts per minute, only complaints one by one
(their authors and texts feed the samples). A minute is only looked at when it has
mentions, or while a surge is open or the bound below is up; a minute that cannot
trigger costs O(1): a running bound (a CUSUM of complaints less
0.8 × min(ratio, slow_ratio) × the usual count) is at least k − 0.8·r·E of every trailing
span, and the spans are only tested when it reaches the least that a span passing the
rate test would give (`_gate`, per half-hour block). Spans are read from running sums
(one bisection in the span's minutes that had mentions, the usual counts per half-hour
block), so a tested minute costs O(ladder), not O(slow_window). The history takes the
minutes that left the spans in bulk (`_COMMIT_EVERY`).

A batch that moves a partition's clock by half an hour or more (catching up, replaying)
first decides for all its organisations and minutes at once, with numpy, which minutes
could open a surge at all (`SurgeDetector._look_ahead`: the gate `_may_hold`, the same
one the history load uses, on each span's complaints by the batch's end and the usual
counts the minute will be judged with); the other minutes are passed in bulk (`_pass`:
their counts join the running sums, nothing is judged) and the partition's ticks leave
the organisation alone until a minute that could is due, which is then judged as above
on the counts it has at that point; an organisation with no such minute in the batch
(and no surge open) is read by nothing until the batch's end, so its rows are counted in
one pass, in their order, before the ticks. The alerts are the same as one minute at a
time: a minute passed in bulk is one where no span can hold. Within one tick, the alerts
are emitted in the order of the organisations' ids. A calm organisation is not
walked by its partition's ticks at all until its next mention, which first skips the
minutes it missed in bulk, whatever their length: a clock that jumps a year (or 174)
costs no more than one that jumps two months (`_add_minutes`). `SurgeDetector.work`
counts what was done.

A restart's history comes as columns too (`SurgeDetector.load_history_table`): per
organisation, the history per local hour and day, the usual rates, the gates and the
running bound are computed with numpy over all its minutes, and the state is laid down
directly where no span could hold; only from a minute where, on its counts, a span could
pass the volume, rate, share and tail tests do the steps above take the rows, until no
surge is open. The rates read only history at least a day old, so they are computed
ahead, and again after a surge kept minutes out of the history. The same history,
surges, minutes kept out and samples, so the same alerts, as `load_history`'s
minute-by-minute replay (the bound may end lower: over quiet stretches it is computed,
not bounded from above).
"""

from __future__ import annotations

import heapq
import math
import zlib
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.ingest.columnar import clock_at
from pipelines.ingest.decode import Mention
from pipelines.ingest.sink import mentions_table
from pipelines.orgclock import HOUR_US, MINUTE_US, ZoneClock, zone_clock
from pipelines.processing.alerts import Alert
from pipelines.processing.surge_explain import distinctive_terms
from pipelines.roster import Org, Roster, format_duration, parse_duration
from schemas.saturating import UINT64_MAX

KIND = "complaint_surge"

DEFAULT_LATENESS = timedelta(seconds=5)
"""How far past a minute's end a partition's clock must be before the minute is judged."""

MAX_EXCLUDED = 6 * 3600
"""Seconds into an alert during which its minutes stay out of the history; also the most
of any week's minutes an organisation keeps out of its history."""

SAMPLE_SIZE = 10
"""Sample posts per alert (`sample_event_ids`): the most-followed complaining authors'."""

TEXT_SAMPLE = 25
"""Complaints per minute whose texts are kept to say what a surge is about."""

USUAL_SAMPLE = 60
"""Complaints per day whose texts are kept as the organisation's usual ones."""

USUAL_DAYS = 7
"""Days before a surge whose sampled complaints are its usual ones."""

SURGE_TEXTS = 300
USUAL_TEXTS = 400
"""At most this many of the span's (and of the usual) sampled texts are read, the lowest
keys first, so that an alert costs the same whatever the storm's size."""

TEXT_DAYS_KEPT = USUAL_DAYS + 3
"""Days of usual texts kept (a mention may be dated up to a day ahead of the clock)."""

SPANS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 105, 120, 150, 180,
         240, 300, 360)
"""The trailing spans (minutes) the rule is tested on, with `window` and `slow_window`."""

TERMS_SHOWN = 5
AUTHORS_SHOWN = 5
POSTS_SHOWN = 3
POST_CHARS = 280

_GATE_SHARE = 0.8  # the running bound subtracts this share of the lowest ratio × usual
_GATE_EPSILON = 1e-9  # rounding room: the bound is a sum of floats
_LONGEST_CALM = 60  # minutes: a surge resolves after at most this long a calm span
_LEVEL_MINUTES = 1440  # how long the level a resolved surge left behind counts as usual
_LEVEL_AFTER = 180  # minutes: a surge open this long that resolves above usual left a level
_BUDGET_MINUTES = MAX_EXCLUDED // 60
_BUDGET_WEEK = 7 * 1440
_COMMIT_EVERY = 30  # minutes: the history takes the minutes that left the spans in bulk
_GRID_BASE = 1e-4  # usual counts per minute are rounded down to this grid for the gate
_GRID_STEP = 1.02
_WEEK_HOURS = 168
_WEEKS_BACK = 4
_RING_HOURS = _WEEKS_BACK * _WEEK_HOURS + 48  # per-hour history kept per organisation
_TAIL_MINUTES = (2 * _RING_HOURS + 48) * 60  # of a span of minutes seen, what the ring can hold
_DAY_RING = 40  # local days of totals kept (the prior reads 7 of them)
_SAME_KIND_DAYS = 10
_RECENT_DAYS = 4  # the last two days of the same kind within this many are a floor
_ANY_DAYS = 7
_DAYS_BACK = 28
_MIN_SAMPLE_MINUTES = 30  # an hour of history counts once this many of its minutes were seen
_EDGE = 30  # minutes: within this of an hour's edge the neighbouring hour's rate counts too
_PRIOR_COUNT = 3.0  # weight of the prior in a shrunk estimate, in complaints (or mentions)
_TINY_RATE = 1e-6  # per minute: a rate never estimated below this (no division by zero)
_TABLE_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # `ingested_at` of `process`'s table (unread)
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
    slow_window: int = 3 * 3600
    min_complaints: int = 8
    ratio: float = 2.0
    slow_ratio: float = 1.5
    share_ratio: float = 1.3
    misread: float = 0.15
    p_value: float = 5e-5
    dispersion: float = 0.1
    cooldown: int = 3600
    warmup: int = 3 * 86_400
    resolve_ratio: float = 1.3
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
            "slow_ratio": self.slow_ratio, "share_ratio": self.share_ratio,
            "misread": self.misread, "dispersion": self.dispersion,
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
    if s.slow_window % 60 or not s.window <= s.slow_window <= 6 * 3600:
        problems.append(f"slow_window {s.slow_window}s must be whole minutes from the window "
                        f"({s.window // 60}m) to 6h")
    if s.resolve_after % 60 or not 60 <= s.resolve_after <= 3600:
        problems.append(f"resolve_after {s.resolve_after}s must be whole minutes from 1m to 1h")
    if s.min_complaints < 1:
        problems.append(f"min_complaints {s.min_complaints} must be at least 1")
    if not 1.0 <= s.ratio <= 1000.0:
        problems.append(f"ratio {s.ratio} must be between 1 and 1000")
    if not 1.0 <= s.slow_ratio <= s.ratio:
        problems.append(f"slow_ratio {s.slow_ratio} must be between 1 and ratio ({s.ratio})")
    if not 1.0 <= s.share_ratio <= 1000.0:
        problems.append(f"share_ratio {s.share_ratio} must be between 1 and 1000")
    if not 0.0 <= s.misread <= 1.0:
        problems.append(f"misread {s.misread} must be between 0 and 1 (complaints per other "
                        f"mention)")
    if not 1.0 <= s.resolve_ratio <= s.ratio:
        problems.append(f"resolve_ratio {s.resolve_ratio} must be between 1 and ratio ({s.ratio})")
    elif s.resolve_ratio > s.slow_ratio:
        problems.append(f"resolve_ratio {s.resolve_ratio} must not exceed slow_ratio "
                        f"({s.slow_ratio}): a slow surge would resolve as it opens")
    if not 0.0 <= s.dispersion <= 1.0:
        problems.append(f"dispersion {s.dispersion} must be between 0 (Poisson) and 1 (how much "
                        f"the usual level of an hour varies, as a share of it)")
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
    "min_complaints": _whole, "ratio": _number, "slow_ratio": _number,
    "share_ratio": _number, "misread": _number, "dispersion": _number, "p_value": _number,
    "cooldown": _duration, "warmup": _duration,
    "resolve_ratio": _number, "resolve_after": _duration, "min_rate": _number,
}


# -- the arithmetic ------------------------------------------------------------------------


def _settled_tail(k: int, lam: float) -> float | None:
    """ln P(X >= k) where k and the mean lam settle it alone, whatever the distribution:
    certain (0) for k <= 0 or k <= lam, impossible (-inf) for a mean of 0; else None."""
    if k <= 0:
        return 0.0
    if lam <= 0.0:
        return -math.inf
    if k <= lam:
        return 0.0
    return None


def log_poisson_tail(k: int, lam: float) -> float:
    """An upper bound of ln P(X >= k) for X ~ Poisson(lam): 0 (certain) when k <= lam."""
    settled = _settled_tail(k, lam)
    if settled is not None:
        return settled
    log_pmf = k * math.log(lam) - lam - math.lgamma(k + 1)
    return min(0.0, log_pmf + math.log((k + 1) / (k + 1 - lam)))


def log_tail(k: int, lam: float, shape: float) -> float:
    """An upper bound of ln P(X >= k) for X with mean `lam` whose rate itself varies: a
    Poisson whose mean is gamma-distributed with `shape` (a negative binomial, variance
    lam + lam²/shape); `shape` inf is the Poisson. 0 (certain) when k <= lam.

    The terms beyond k shrink at least as fast as the ratio (k+shape)/(k+1)·q of the first
    two (q = lam/(lam+shape); the ratio falls with k for shape >= 1), so the tail is at
    most pmf(k)/(1 - that ratio)."""
    if math.isinf(shape):
        return log_poisson_tail(k, lam)
    settled = _settled_tail(k, lam)
    if settled is not None:
        return settled
    q = lam / (lam + shape)
    ratio = (k + shape) / (k + 1) * q
    if ratio >= 1.0:
        return 0.0
    log_pmf = (math.lgamma(k + shape) - math.lgamma(shape) - math.lgamma(k + 1)
               + shape * math.log1p(-q) + k * math.log(q))
    return min(0.0, log_pmf - math.log1p(-ratio))


def severity(observed: float, expected: float, reach: int) -> float:
    """0-10: up to 6 for the excess (6 at 8×), up to 4 for the reach (4 at 10 million)."""
    excess = 2.0 * math.log2(observed / expected) if expected > 0 and observed > expected else 0.0
    audience = 4.0 / 7.0 * math.log10(1 + max(0, reach))
    return round(min(6.0, excess) + min(4.0, audience), 1)


def _least_count(usual: float, log_p: float, shape: float = math.inf, hint: int = 0) -> int:
    """The least count k with P(X >= k | usual) <= p: what the tail test needs at `usual`.

    `hint`: a count where it may be (the least count at a lower usual count, when they are
    computed in a row): if the count below it fails, the search starts there."""
    low = max(1, math.floor(usual) + 1)  # above usual the bound falls as k grows
    if hint > low and log_tail(hint - 1, usual, shape) > log_p:
        low = hint  # every count below fails too: the bound falls as k grows
    if log_tail(low, usual, shape) <= log_p:
        return low
    step = 1
    while log_tail(low + step, usual, shape) > log_p:
        low += step
        step *= 2
    high = low + step  # the bound holds at high, not at low
    while high - low > 1:
        middle = (low + high) // 2
        if log_tail(middle, usual, shape) > log_p:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=8192)
def _gate(step: int, lowest_ratio: float, log_p: float, shape: float = math.inf) -> float:
    """How high the running bound must be for a span to hold when the usual count of its
    last minute is at least `_GRID_BASE · _GRID_STEP^step` (0 for step -1).

    The least, over every usual count E' of the span from there on, of max((r - ρ)·E',
    c(E') - ρ·E') (ρ = 0.8·r, c the least count the tail test lets through, which never
    falls as E' grows): taken on intervals of the grid, each bounded from below by its
    left end in the first term and by c there minus ρ × its right end in the second, so
    the gate is never higher than the rule allows. Cached: a few hundred grid steps."""
    rho = _GATE_SHARE * lowest_ratio
    low = 0.0 if step < 0 else _GRID_BASE * _GRID_STEP ** step
    best = math.inf
    least = 0
    while (lowest_ratio - rho) * low < best:
        high = _GRID_BASE if low == 0.0 else low * _GRID_STEP
        least = _least_count(low, log_p, shape, least)  # grows with the usual count
        value = max((lowest_ratio - rho) * low, least - rho * high)
        best = min(best, value)
        low = high
    return best - _GATE_EPSILON


def text_key(event_id: str) -> int:
    """The sampling key of a complaint: CRC-32 of its event id (ClickHouse's `CRC32`)."""
    return zlib.crc32(event_id.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class ComplaintText:
    """A stored complaint as a restart reads it back: what the samples keep of it."""

    org_id: str
    event_id: str
    created_at: datetime
    author_id: str
    author_handle: str
    author_followers: int
    text: str
    complaint: bool = True


Sampled = Mention | ComplaintText


@dataclass
class SurgeWork:
    """What the detector did, counted (the cost of a minute is a count, not a time)."""

    minutes_stepped: int = 0  # organisation-minutes looked at one by one (O(1) each)
    minutes_skipped: int = 0  # organisation-minutes passed in bulk (quiet stretches)
    minutes_passed: int = 0  # of those, minutes with mentions (a batch's look-ahead)
    minutes_tested: int = 0  # organisation-minutes whose spans were tested (O(ladder))
    span_tests: int = 0  # spans tested


@dataclass(frozen=True)
class _Span:
    """One trailing span ending at a judged minute, with what the rule reads of it."""

    length: int
    complaints: int
    others: int
    reach: int
    usual: float  # E: the usual complaints (with the floor)
    usual_raw: float  # E₀: the same without the floor
    usual_others: float  # M
    explained: float  # S: what the usual rate and this volume explain

    @property
    def share(self) -> float:
        total = self.complaints + self.others
        return self.complaints / total if total else 0.0

    @property
    def usual_share(self) -> float:
        total = self.usual_raw + self.usual_others
        return self.usual_raw / total if total > 0 else 0.0


def _explained(complaints_usual: float, raw: float, others: int, others_usual: float,
               misread: float) -> float:
    """S: the usual complaints, plus what the other mentions above their usual number
    bring at the usual complaints-per-other-mention (at least `misread`, at most one)."""
    per_extra = raw / others_usual if others_usual > 0 else 1.0
    per_extra = min(1.0, max(misread, per_extra))
    return complaints_usual + per_extra * max(0.0, others - others_usual)


def _least_explained(complaints_usual: float, raw: float, others: int, others_usual: float,
                     misread: float) -> float:
    """S₀: the usual complaints, plus the other mentions above their usual number at the
    usual complaints per other mention, but at most `misread` each."""
    per_extra = raw / others_usual if others_usual > 0 else 1.0
    return complaints_usual + min(misread, per_extra) * max(0.0, others - others_usual)


# -- per organisation ------------------------------------------------------------------------


class _Minute:
    """The mentions of one organisation-minute that is still inside the slow window."""

    __slots__ = ("authors", "complaints", "others", "reach", "texts", "top")

    def __init__(self) -> None:
        self.complaints = 0
        self.others = 0
        self.reach = 0
        # A minute of other mentions only has no authors or samples: until its first
        # complaint (`sampling`) these are shared empty containers, never written.
        self.authors: dict[str, int] = _NO_AUTHORS
        # (-followers, created_at, event_id, author_id, handle, text), the best SAMPLE_SIZE
        self.top: list[tuple[int, float, str, str, str, str]] = _NO_TOP
        # max-heap of (-text_key, event_id, text): the TEXT_SAMPLE lowest keys
        self.texts: list[tuple[int, str, str]] = _NO_TEXTS

    def sampling(self) -> _Minute:
        """The minute, with containers of its own for authors and samples."""
        if self.top is _NO_TOP:
            self.authors, self.top, self.texts = {}, [], []
        return self


@dataclass(frozen=True, slots=True)
class _BatchRows:
    """A batch's rows as `_OrgState.add_rows` reads them, in groups (an organisation's rows
    between two ticks of its partition): the group's other mentions as counts per minute
    (`other_from[g]` to `other_from[g + 1]`), its complaints one by one (`complaint_from`),
    as Python values."""

    other_minutes: list[int]
    other_counts: list[int]
    other_from: list[int]
    minutes: list[int]  # of the complaints, from here on
    ts: list[float]
    event_ids: list[str]
    author_ids: list[str]
    handles: list[str]
    followers: list[int]
    texts: list[str]
    keys: list[int]
    complaint_from: list[int]


_NO_AUTHORS: dict[str, int] = {}
_NO_TOP: list[tuple[int, float, str, str, str, str]] = []
_NO_TEXTS: list[tuple[int, str, str]] = []


@dataclass
class _Surge:
    alert_id: str
    opened_minute: int
    span_start: int
    version: int
    last_observed: int
    last_severity: float
    peak: tuple[float, int, int]  # (severity, observed, minute) of the strongest state
    peak_span: _Span = field(repr=False)
    about: dict[str, Any] | None = field(default=None, repr=False)  # of the last state
    calm: int = 5  # minutes that must be calm to resolve it: twice the span it opened on


class _OrgState:
    """One organisation's recent minutes, running sums, history and surge state."""

    def __init__(self, org: Org, settings: SurgeSettings) -> None:
        self.org_id = org.id
        self.name = org.name or org.id
        self.s = settings
        clock = zone_clock(org.timezone)
        self.clock: ZoneClock | None = None if clock.fixed == 0 else clock  # None: UTC
        self.window = settings.window // 60
        self.calm_span = settings.resolve_after // 60
        self.slow = max(settings.slow_window // 60, self.window, self.calm_span)
        self.spans = tuple(sorted({*(n for n in SPANS if n <= self.slow), self.window,
                                   self.slow}))
        self.ratios = tuple(settings.ratio if n <= self.window else settings.slow_ratio
                            for n in self.spans)
        # every span needs k >= its ratio × E and k >= share_ratio × S >= share_ratio × E
        self.lowest_ratio = max(min(settings.ratio, settings.slow_ratio), settings.share_ratio)
        self.gate_rate = _GATE_SHARE * self.lowest_ratio
        # Each span length spends the same share of the week's false alarms: a span of n
        # minutes has about 10 080 / n independent chances a week, so its tail level is
        # p_value × n / window (at most 0.1). The gate reads the loosest.
        self.log_ps = tuple(math.log(min(0.1, settings.p_value * n / self.window))
                            for n in self.spans)
        self.log_p = max(self.log_ps)
        self.shape = 1.0 / settings.dispersion ** 2 if settings.dispersion > 0 else math.inf
        self.lowest_gate = _gate(-1, self.lowest_ratio, self.log_p, self.shape)  # the least
        self.floor = settings.min_rate / 60.0
        self.partition: int | None = None
        self.first_minute = -1  # -1: nothing seen yet
        self.cursor = 0  # the first minute not judged yet
        self.committed = 0  # minutes before this one are in the history
        self.minutes: dict[int, _Minute] = {}  # minutes >= committed that had mentions
        self.pending: list[int] = []  # heap: minutes >= cursor in `minutes`
        # Running sums over the judged minutes in [committed, cursor) that had mentions:
        # the minute, and complaints / other mentions / reach up to and including it.
        self.sum_minute: list[int] = []
        self.sum_complaints: list[int] = []
        self.sum_others: list[int] = []
        self.sum_reach: list[int] = []
        self.head = 0  # entries before this one have left the slow window
        self.base = (0, 0, 0)  # the sums before the first entry kept
        self.bound = 0.0  # >= the excess of every trailing span (the gate)
        # Per local hour (hours since 1970-01-01 on the organisation's clock) in a ring:
        # which hour a slot holds, its complaints, its other mentions, and how many of its
        # minutes were seen; per local day the same totals for the prior.
        self.hist_hour = array("i", [-1]) * _RING_HOURS
        self.hist_count = array("f", [0.0]) * _RING_HOURS
        self.hist_others = array("f", [0.0]) * _RING_HOURS
        self.hist_minutes = array("H", [0]) * _RING_HOURS
        self.day_id = array("i", [-1]) * _DAY_RING
        self.day_count = array("d", [0.0]) * _DAY_RING
        self.day_others = array("d", [0.0]) * _DAY_RING
        self.day_minutes = array("i", [0]) * _DAY_RING
        self.hour_rates: dict[int, tuple[float, float]] = {}
        self.block_rates: dict[int, tuple[float, float, float]] = {}
        self.block_gates: dict[int, float] = {}
        self.block_first = self.block_end = 0  # the UTC minutes [first, end) of the last
        self.block_usual = self.block_gate = 0.0  # block `usual_at` read, and what it read
        self.offsets: dict[int, int] = {}
        self.excluded: list[list[int]] = []  # [first, last] minutes kept out of the history
        self.exclusions: deque[tuple[int, int]] = deque()  # what the budget has spent
        self.usual_texts: dict[int, list[tuple[int, str, int, str]]] = {}  # UTC day -> heap
        self.surge: _Surge | None = None
        self.resolved_minute: int | None = None
        # The level a resolved surge left behind (its calm span's complaints over their usual
        # count, at least 1), which the usual counts are raised to until `level_until`: a
        # lasting new level is alerted once, not again each time the history half-learns it.
        self.level = 1.0
        self.level_until = 0
        self.idle = True  # not walked by the partition's ticks until its next mention
        # A span never reaches back to this minute: the end of the warm-up, of the last
        # surge, or the last minute whose surge the cooldown held back, so that one storm
        # is not alerted again once the cooldown is over.
        self.barrier = 0
        self.warm_until = 0  # no span is tested before this minute
        # The batch's look-ahead (`SurgeDetector._look_ahead`): of the minutes before
        # `ahead_end`, only those in `ahead` can open a surge; `ahead_next` is the first of
        # them not judged yet (`ahead_end` if none; -1: no look-ahead), `ahead_bound` the
        # running bound from the batch's counts from minute `ahead_base` on.
        self.ahead: list[int] = []
        self.ahead_at = 0
        self.ahead_next = self.ahead_end = -1
        self.ahead_base = 0
        self.ahead_bound: np.ndarray | None = None

    # clock -------------------------------------------------------------------------------

    def start(self, minute: int) -> None:
        self.first_minute = self.cursor = self.committed = minute
        self.warm_until = minute + math.ceil(self.s.warmup / 60) - 1
        self.barrier = self.warm_until - 1

    def offset(self, minute: int) -> int:
        """The organisation's UTC offset in minutes at a UTC minute (constant per UTC hour)."""
        if self.clock is None:
            return 0
        hour = minute // 60
        off = self.offsets.get(hour)
        if off is None:
            if len(self.offsets) > 64:
                self.offsets.clear()
            off = self.offsets[hour] = self.clock.offset(hour * HOUR_US) // MINUTE_US
        return off

    def local(self, minute: int) -> datetime:
        if self.clock is None:
            return datetime.fromtimestamp(minute * 60, UTC)
        return self.clock.datetime(minute * MINUTE_US)

    # counting ----------------------------------------------------------------------------

    def _bucket(self, minute: int) -> _Minute:
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = _Minute()
            if minute >= self.cursor:
                heapq.heappush(self.pending, minute)
        return bucket

    def add_others(self, minute: int, count: int) -> None:
        """`count` mentions of one minute that are no complaints."""
        if minute < self.committed:
            self.add_to_history(minute, 0.0, float(count))
            return
        bucket = self.minutes.get(minute) or self._bucket(minute)
        bucket.others += count
        if minute < self.cursor:
            self._late(minute, 0, count, 0)

    def add_complaint(self, minute: int, ts: float, event_id: str, author_id: str,
                      handle: str, followers: int, text: str, key: int) -> None:
        """A complaint: counted, its author's reach, and its text (`key`: its `text_key`)
        in the samples."""
        if text:
            self.sample_usual(minute, event_id, text, key)
        if minute < self.committed:
            self.add_to_history(minute, 1.0, 0.0)
            return
        bucket = self.minutes.get(minute) or self._bucket(minute)
        if bucket.top is _NO_TOP:
            bucket.sampling()
        bucket.complaints += 1
        authors = bucket.authors
        before = authors.get(author_id)
        added = 0
        if before is None:
            authors[author_id] = followers
            added = followers
        elif followers > before:
            authors[author_id] = followers
            added = followers - before
        if added:
            reach = bucket.reach + added
            if reach > UINT64_MAX:
                reach = UINT64_MAX
            added, bucket.reach = reach - bucket.reach, reach
        self._sample(bucket, ts, event_id, author_id, handle, followers, text, key)
        if minute < self.cursor:
            self._late(minute, 1, 0, added)
            self.bound += 1.0

    def add_rows(self, rows: _BatchRows, first: int, end: int) -> None:
        """The groups [first, end) of a batch's rows (`SurgeDetector._count`), in their
        order: each one's other mentions per minute, then its complaints one by one.

        `add_others` and `add_complaint` for each, with their common case written out
        here (a minute not judged yet, a day whose sample exists): a batch's mentions go
        through it one at a time, most groups hold one or two, and the calls were most of
        the cost."""
        buckets, pending, cursor = self.minutes, self.pending, self.cursor  # unmoved by
        # counting: `committed` <= `cursor`, so a minute from `cursor` on is neither
        other_from, complaint_from = rows.other_from, rows.complaint_from
        for group in range(first, end):
            start, stop = other_from[group], other_from[group + 1]
            if start < stop:
                minutes, counts = rows.other_minutes, rows.other_counts
                for i in range(start, stop):
                    minute = minutes[i]
                    if minute < cursor:
                        self.add_others(minute, counts[i])
                        continue
                    bucket = buckets.get(minute)
                    if bucket is None:
                        bucket = buckets[minute] = _Minute()
                        heapq.heappush(pending, minute)
                    bucket.others += counts[i]
            start, stop = complaint_from[group], complaint_from[group + 1]
            if start < stop:
                self._add_complaints(rows, start, stop)

    def _add_complaints(self, rows: _BatchRows, start: int, stop: int) -> None:
        """`add_complaint` of the batch's complaints [start, stop)."""
        buckets, pending, cursor = self.minutes, self.pending, self.cursor
        minutes, ts, event_ids = rows.minutes, rows.ts, rows.event_ids
        authors, handles, followers = rows.author_ids, rows.handles, rows.followers
        texts, keys = rows.texts, rows.keys
        for c in range(start, stop):
            minute = minutes[c]
            if minute < cursor:
                self.add_complaint(minute, ts[c], event_ids[c], authors[c], handles[c],
                                   followers[c], texts[c], keys[c])
                continue
            event_id, text, key = event_ids[c], texts[c], keys[c]
            if text:
                self.sample_usual(minute, event_id, text, key)
            bucket = buckets.get(minute)
            if bucket is None:
                bucket = buckets[minute] = _Minute()
                heapq.heappush(pending, minute)
            if bucket.top is _NO_TOP:  # `sampling`
                bucket.authors, bucket.top, bucket.texts = {}, [], []
            bucket.complaints += 1
            author_id, follower_count = authors[c], followers[c]
            known = bucket.authors
            before = known.get(author_id)
            if before is None or follower_count > before:
                known[author_id] = follower_count
                reach = bucket.reach + (follower_count if before is None
                                        else follower_count - before)
                bucket.reach = reach if reach <= UINT64_MAX else UINT64_MAX
            self._sample(bucket, ts[c], event_id, author_id, handles[c], follower_count,
                         text, key)

    def add_sample(self, minute: int, mention: Sampled, ts: float) -> None:
        """A complaint the history already counted: only its text, author and sample."""
        key = text_key(mention.event_id)
        if mention.text:
            self.sample_usual(minute, mention.event_id, mention.text, key)
        if minute < self.committed:
            return
        bucket = self.minutes.get(minute)
        if bucket is None:
            return  # the history holds no complaint in that minute
        bucket.sampling()
        followers = mention.author_followers
        if followers > bucket.authors.get(mention.author_id, -1):
            bucket.authors[mention.author_id] = followers
        self._sample(bucket, ts, mention.event_id, mention.author_id, mention.author_handle,
                     followers, mention.text or "", key)

    @staticmethod
    def _sample(bucket: _Minute, ts: float, event_id: str, author_id: str, handle: str,
                followers: int, text: str, key: int) -> None:
        top = bucket.top
        top.append((-followers, ts, event_id, author_id, handle, text))
        if len(top) > 4 * SAMPLE_SIZE:
            top.sort()
            del top[SAMPLE_SIZE:]
        if text:
            texts = bucket.texts
            if len(texts) < TEXT_SAMPLE:
                heapq.heappush(texts, (-key, event_id, text))
            elif -key >= texts[0][0]:
                entry = (-key, event_id, text)
                if entry > texts[0]:
                    heapq.heapreplace(texts, entry)

    def sample_usual(self, minute: int, event_id: str, text: str, key: int) -> None:
        day = minute // 1440
        heap = self.usual_texts.get(day)
        if heap is None:
            newest = max(self.usual_texts, default=day)
            if day < newest - TEXT_DAYS_KEPT:
                return
            heap = self.usual_texts[day] = []
            if day > newest:
                for old in [d for d in self.usual_texts if d < day - TEXT_DAYS_KEPT]:
                    del self.usual_texts[old]
        if len(heap) < USUAL_SAMPLE:
            heapq.heappush(heap, (-key, event_id, minute, text))
        elif -key >= heap[0][0]:  # else it is no candidate: no entry made to say so
            entry = (-key, event_id, minute, text)
            if entry > heap[0]:
                heapq.heapreplace(heap, entry)

    def add_counts(self, minute: int, complaints: int, others: int, reach: int) -> None:
        """A minute from the warehouse's history (no texts or authors)."""
        if complaints <= 0 and others <= 0:
            return
        complaints, others = max(0, complaints), max(0, others)
        if minute < self.committed:
            self.add_to_history(minute, float(complaints), float(others))
            return
        bucket = self._bucket(minute)
        bucket.complaints += complaints
        bucket.others += others
        reach = min(UINT64_MAX, bucket.reach + max(0, reach))
        added, bucket.reach = reach - bucket.reach, reach
        if minute < self.cursor:
            self._late(minute, complaints, others, added)
            self.bound += complaints

    # running sums ------------------------------------------------------------------------

    def _append(self, minute: int, bucket: _Minute) -> None:
        c, o, r = self.totals_before(minute + 1)
        self.sum_minute.append(minute)
        self.sum_complaints.append(c + bucket.complaints)
        self.sum_others.append(o + bucket.others)
        self.sum_reach.append(r + bucket.reach)

    def _late(self, minute: int, complaints: int, others: int, reach: int) -> None:
        """A minute already judged got more: every sum from it on grows."""
        minutes = self.sum_minute
        i = bisect_left(minutes, minute, self.head)
        if i == len(minutes) or minutes[i] != minute:
            c, o, r = self.totals_before(minute)
            minutes.insert(i, minute)
            self.sum_complaints.insert(i, c)
            self.sum_others.insert(i, o)
            self.sum_reach.insert(i, r)
        for j in range(i, len(minutes)):
            self.sum_complaints[j] += complaints
            self.sum_others[j] += others
            self.sum_reach[j] += reach

    def totals_before(self, boundary: int) -> tuple[int, int, int]:
        """Complaints, other mentions and reach of the judged minutes before `boundary`
        (from the first one kept; only differences mean anything)."""
        i = bisect_left(self.sum_minute, boundary, self.head) - 1
        if i < self.head:
            return self.base
        return self.sum_complaints[i], self.sum_others[i], self.sum_reach[i]

    def _trim(self, upto: int) -> None:
        minutes = self.sum_minute
        i = bisect_left(minutes, upto, self.head)
        if i > self.head:
            self.base = (self.sum_complaints[i - 1], self.sum_others[i - 1],
                         self.sum_reach[i - 1])
            self.head = i
            if i > 256 and i * 2 > len(minutes):
                for values in (minutes, self.sum_complaints, self.sum_others, self.sum_reach):
                    del values[:i]
                self.head = 0

    # history -----------------------------------------------------------------------------

    def _slot(self, hour: int) -> int:
        slot = hour % _RING_HOURS
        held = self.hist_hour[slot]
        if held == hour:
            return slot
        if held > hour:
            return -1  # older than the ring
        self.hist_hour[slot] = hour
        self.hist_count[slot] = 0.0
        self.hist_others[slot] = 0.0
        self.hist_minutes[slot] = 0
        return slot

    def _day(self, day: int) -> int:
        slot = day % _DAY_RING
        held = self.day_id[slot]
        if held == day:
            return slot
        if held > day:
            return -1
        self.day_id[slot] = day
        self.day_count[slot] = self.day_others[slot] = 0.0
        self.day_minutes[slot] = 0
        return slot

    def _is_excluded(self, minute: int) -> bool:
        return bool(self.excluded) and any(first <= minute <= last
                                           for first, last in self.excluded)

    def add_to_history(self, minute: int, complaints: float, others: float) -> None:
        if self._is_excluded(minute):
            return
        self._add_local_hour((minute + self.offset(minute)) // 60, complaints, others)

    def _add_hour(self, utc_hour: int, complaints: int, others: int) -> None:
        """`add_to_history` of minutes of one UTC hour, all in the local hour of its first
        minute, none kept out, as one sum."""
        self._add_local_hour((utc_hour * 60 + self.offset(utc_hour * 60)) // 60,
                             complaints, others)

    def _add_local_hour(self, hour: int, complaints: float, others: float) -> None:
        """Counts of a local hour into its slot of the usual hours and into its day."""
        slot = self._slot(hour)
        if slot >= 0:
            self.hist_count[slot] += complaints
            self.hist_others[slot] += others
        day = self._day(hour // 24)
        if day >= 0:
            self.day_count[day] += complaints
            self.day_others[day] += others

    def _add_minutes(self, first: int, end: int) -> None:
        """Count the minutes [first, end) as seen, per local hour and day.

        Bounded by the ring, not by the calendar: each slot keeps the latest hour that maps
        to it, so of a longer span only the last `_TAIL_MINUTES` can leave a trace (two
        rings, so that every slot is reached even past a spring-forward hour that has no
        minutes, plus room for the zone's offset); what came before would be overwritten.
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
                day = self._day(hour // 24)
                if day >= 0:
                    self.day_minutes[day] += stop - local
                local = stop
            first = utc_end

    def commit(self, upto: int) -> None:
        """Move the minutes before `upto` (out of every span by now) into the history."""
        if upto <= self.committed:
            return
        if len(self.minutes) <= upto - self.committed:
            done = sorted(m for m in self.minutes if m < upto)
        else:
            done = [m for m in range(self.committed, upto) if m in self.minutes]
        minutes = self.minutes
        if self.excluded:
            for minute in done:
                bucket = minutes.pop(minute)
                self.add_to_history(minute, float(bucket.complaints), float(bucket.others))
        else:  # add_to_history's steps, summed and looked up once per UTC hour (whole
            # counts: the sums are exact, in whatever order they are added)
            utc_hour = split = -1
            complaints = others = 0
            for minute in done:
                bucket = minutes.pop(minute)
                if minute // 60 != utc_hour:
                    if complaints or others:
                        self._add_hour(utc_hour, complaints, others)
                    complaints = others = 0
                    utc_hour = minute // 60
                    off = self.offset(minute)
                    split = ((utc_hour * 60 + off) // 60 + 1) * 60 - off  # where the local
                    # hour of this UTC hour's first minute ends (a zone offset that is not
                    # whole hours splits it)
                if minute >= split:
                    self.add_to_history(minute, float(bucket.complaints), float(bucket.others))
                    continue
                complaints += bucket.complaints
                others += bucket.others
            if complaints or others:
                self._add_hour(utc_hour, complaints, others)
        start = self.committed
        for first, last in sorted(self.excluded):
            if last < start or first >= upto:
                continue
            self._add_minutes(start, max(start, first))
            start = max(start, last + 1)
        self._add_minutes(start, max(start, upto))
        self.committed = upto
        self._trim(upto)
        if self.excluded:
            self.excluded = [r for r in self.excluded if r[1] >= upto]

    def exclude(self, first: int, last: int) -> None:
        """Keep the minutes [first, last] out of the history, within the budget: at most
        `MAX_EXCLUDED` of any week's minutes, so that a lasting new level is learnt however
        many alerts it opens."""
        log = self.exclusions
        while log and log[0][1] < last - _BUDGET_WEEK:
            log.popleft()
        used = sum(b - a + 1 for a, b in log)
        newest = log[-1][1] if log else first - 1
        first = max(first, newest + 1)  # what the budget already counted
        last = min(last, first - 1 + _BUDGET_MINUTES - used)
        if last < first:
            return
        log.append((first, last))
        for span in self.excluded:
            if first <= span[1] + 1 and last >= span[0] - 1:
                span[0], span[1] = min(span[0], first), max(span[1], last)
                return
        self.excluded.append([first, last])

    # the usual rates ---------------------------------------------------------------------

    def _hours_seen(self, first: int, step: int, count: int) -> list[
            tuple[int, tuple[float, float, int]]]:
        """Of the `count` local hours first, first + step, ... (k = 1, 2, ...), those the
        ring holds with at least `_MIN_SAMPLE_MINUTES` minutes seen: (k, (complaints, other
        mentions, minutes seen)). One call for a run of hours: `hour_rate` reads 32 for each
        new hour."""
        held, minutes = self.hist_hour, self.hist_minutes
        out = []
        for k in range(1, count + 1):
            hour = first + (k - 1) * step
            slot = hour % _RING_HOURS
            if hour >= 0 and held[slot] == hour and minutes[slot] >= _MIN_SAMPLE_MINUTES:
                out.append((k, (self.hist_count[slot], self.hist_others[slot], minutes[slot])))
        return out

    def _prior(self, hour: int) -> tuple[float, float]:
        """Complaints and other mentions per minute over the week before yesterday."""
        day = hour // 24
        count = others = 0.0
        minutes = 0
        for d in range(day - 8, day - 1):
            slot = d % _DAY_RING
            if d >= 0 and self.day_id[slot] == d:
                count += self.day_count[slot]
                others += self.day_others[slot]
                minutes += self.day_minutes[slot]
        if not minutes:
            return max(self.floor, _TINY_RATE), _TINY_RATE
        return max(count / minutes, _TINY_RATE), max(others / minutes, _TINY_RATE)

    @staticmethod
    def _shrunk(count: float, minutes: int, prior: float) -> float:
        """The rate seen, pulled towards `prior` as if `_PRIOR_COUNT` more were seen."""
        return (count + _PRIOR_COUNT) / (minutes + _PRIOR_COUNT / prior)

    def hour_rate(self, hour: int) -> tuple[float, float]:
        """The usual complaints and other mentions per minute in a local hour (hours since
        1970-01-01 local), before the floor. Reads only hours at least a day old."""
        cached = self.hour_rates.get(hour)
        if cached is not None:
            return cached
        prior_c, prior_o = self._prior(hour)
        weekend = (hour // 24 + 3) % 7 >= 5
        same: list[tuple[float, float, int]] = []
        any_day: list[tuple[float, float, int]] = []
        recent: list[tuple[float, float, int]] = []
        held, seen_minutes = self.hist_hour, self.hist_minutes
        # `_hours_seen(hour - 24, -24, _DAYS_BACK)`, written out (every new hour reads it)
        for k in range(1, _DAYS_BACK + 1):
            if k > _ANY_DAYS and len(same) == _SAME_KIND_DAYS:
                break  # nothing further back is read
            earlier = hour - 24 * k
            slot = earlier % _RING_HOURS
            if earlier < 0 or held[slot] != earlier or seen_minutes[slot] < _MIN_SAMPLE_MINUTES:
                continue
            seen = (self.hist_count[slot], self.hist_others[slot], seen_minutes[slot])
            if k <= _ANY_DAYS:
                any_day.append(seen)
            if ((earlier // 24 + 3) % 7 >= 5) == weekend and len(same) < _SAME_KIND_DAYS:
                same.append(seen)
                if k <= _RECENT_DAYS and len(recent) < 2:
                    recent.append(seen)
        count, others, minutes = _totals(same if len(same) >= 2 else any_day)
        rate_c = self._shrunk(count, minutes, prior_c)
        rate_o = self._shrunk(others, minutes, prior_o)
        weeks = [seen for _, seen in self._hours_seen(hour - _WEEK_HOURS, -_WEEK_HOURS,
                                                       _WEEKS_BACK)]
        if weeks:
            count, others, minutes = _totals(weeks)
            week_c = self._shrunk(count, minutes, rate_c)
            week_o = self._shrunk(others, minutes, rate_o)
            if len(weeks) >= 2:
                rate_c, rate_o = week_c, week_o
            else:
                rate_c, rate_o = max(rate_c, week_c), max(rate_o, week_o)
        if recent:  # the last two days of the kind (those seen) are a floor
            count, others, minutes = _totals(recent)
            rate_c = max(rate_c, count / minutes)
            rate_o = max(rate_o, others / minutes)
        if len(self.hour_rates) > 96:  # a look-ahead reads up to a day of hours
            self.hour_rates = {h: r for h, r in self.hour_rates.items() if h >= hour - 40}
        self.hour_rates[hour] = (rate_c, rate_o)
        return rate_c, rate_o

    def rates(self, block: int) -> tuple[float, float, float]:
        """(E, E₀, M) per minute in a local half-hour block: the higher of the usual rates
        of the hours within ±30 min, complaints with the floor (E) and without (E₀)."""
        cached = self.block_rates.get(block)
        if cached is not None:
            return cached
        start = block * 30
        c1, o1 = self.hour_rate((start - _EDGE) // 60)
        c2, o2 = self.hour_rate((start + _EDGE) // 60)
        raw = max(c1, c2)
        rates = (max(raw, self.floor), raw, max(o1, o2))
        if len(self.block_rates) > 160:  # a look-ahead reads up to a day of blocks
            self.block_rates = {b: r for b, r in self.block_rates.items() if b >= block - 80}
        self.block_rates[block] = rates
        return rates

    def usual_at(self, minute: int) -> tuple[float, float]:
        """E of one (UTC) minute, and the gate: how high the bound must be for a span
        ending with that minute to hold.

        A span that holds has k >= r·E_span and P(X >= k | E_span) <= p_value, with
        E_span >= E of its last minute; the bound is at least k - 0.8·r_min·E_span. So the
        bound is at least the least, over every E' >= E, of max(0.2·r_min·E',
        c(E') - 0.8·r_min·E') where c(E') is the least count that passes the tail test at
        E' (`_gate`)."""
        off = self.offset(minute)
        block = (minute + off) // 30
        usual = self.rates(block)[0]
        gate = self.block_gates.get(block)
        if gate is None:
            step = math.floor(math.log(usual / _GRID_BASE) / math.log(_GRID_STEP)) \
                if usual >= _GRID_BASE else -1
            gate = _gate(step, self.lowest_ratio, self.log_p, self.shape)
            if len(self.block_gates) > 48:
                self.block_gates = {b: g for b, g in self.block_gates.items() if b >= block - 16}
            self.block_gates[block] = gate
        # The UTC minutes with the same block (and offset) read the same, until asked again.
        self.block_first = max(block * 30 - off, minute // 60 * 60)
        self.block_end = min((block + 1) * 30 - off, (minute // 60 + 1) * 60)
        self.block_usual, self.block_gate = usual, gate
        return usual, gate

    def segments(self, first: int, end: int) -> list[tuple[int, int, tuple[float, float, float]]]:
        """The UTC minutes [first, end) cut where the usual rates may change."""
        out = []
        while first < end:
            off = self.offset(first) if self.clock is not None else 0
            block = (first + off) // 30
            stop = (block + 1) * 30 - off
            hour_end = (first // 60 + 1) * 60
            if hour_end < stop:
                stop = hour_end
            if end < stop:
                stop = end
            out.append((first, stop, self.block_rates.get(block) or self.rates(block)))
            first = stop
        return out

    def span(self, minute: int, length: int) -> _Span:
        """The trailing span of `length` minutes that ends with `minute`."""
        (k,), (o,), (r,), (e,), (e0,), (m,) = self.sums_ending(minute, (length,))
        return _Span(length, k, o, r, e, e0, m, _explained(e, e0, o, m, self.s.misread))

    def sums_ending(self, minute: int, lengths: Sequence[int]) -> tuple[
            list[int], list[int], list[int], list[float], list[float], list[float]]:
        """Of the trailing spans ending with `minute` (`lengths` ascending): complaints,
        other mentions, reach, E, E₀ and M. One pass back over the half-hour blocks, one
        bisection per span for the counts (`totals_before`, written out: a tested minute
        reads some twenty spans)."""
        end = minute + 1
        sum_minute, head = self.sum_minute, self.head
        sum_c, sum_o, sum_r = self.sum_complaints, self.sum_others, self.sum_reach
        at = bisect_left(sum_minute, end, head) - 1
        if at < head:
            c_end, o_end, r_end = self.base
        else:
            c_end, o_end, r_end = sum_c[at], sum_o[at], sum_r[at]
        segments = self.segments(end - lengths[-1], end)
        i = len(segments) - 1
        pos = end
        e = e0 = m = 0.0
        ks: list[int] = []
        os: list[int] = []
        rs: list[int] = []
        es: list[float] = []
        e0s: list[float] = []
        ms: list[float] = []
        base_c, base_o, base_r = self.base
        for length in lengths:
            low = end - length
            while pos > low:
                seg_start, _, (rate, raw, others) = segments[i]
                take = seg_start if seg_start > low else low
                n = pos - take
                e += n * rate
                e0 += n * raw
                m += n * others
                pos = take
                if pos == seg_start:
                    i -= 1
            at = bisect_left(sum_minute, low, head, at + 1) - 1  # the spans grow: no later
            if at < head:
                ks.append(c_end - base_c)
                os.append(o_end - base_o)
                rs.append(r_end - base_r)
            else:
                ks.append(c_end - sum_c[at])
                os.append(o_end - sum_o[at])
                rs.append(r_end - sum_r[at])
            es.append(e)
            e0s.append(e0)
            ms.append(m)
        return ks, os, rs, es, e0s, ms


# -- the detector ----------------------------------------------------------------------------


class SurgeDetector:
    """Watches every organisation's complaints and emits `complaint_surge` alert states.

    Feed it each batch's labelled mentions as a table with the partitions' clocks
    (`process_table`; `process` for mention objects); on start-up, `load_history` gives it
    the per-minute counts the warehouse holds.
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
        self._ahead_states: list[_OrgState] = []  # with a look-ahead for the batch
        # Per partition, within a batch: up to which due minute its ticks would read none of
        # the organisations they walk (each has no surge open and a look-ahead that passes
        # them until then), so a tick there only moves the clock.
        self._unread: dict[int, float] = {}
        self._out: list[Alert] | None = None
        self.work = SurgeWork()

    @property
    def tracked_orgs(self) -> int:
        return len(self._orgs)

    def settings(self, org_id: str) -> SurgeSettings:
        return self._settings.get(org_id, self._base)

    def texts_needed(self, through: datetime) -> tuple[datetime, datetime]:
        """Which stored complaints a restart at `through` must give `load_history` for the
        samples to be what they were: (a, b) — from `a`, each day's `USUAL_SAMPLE` with
        the lowest `text_key` (ties: the higher event id), and from `b` every one (the
        minutes that spans and the explanation of an open surge may still read)."""
        longest = max([self._base.slow_window, *(s.slow_window for s in self._settings.values())])
        day = datetime.fromtimestamp(math.floor(through.timestamp() / 86_400) * 86_400, UTC)
        return day - timedelta(days=TEXT_DAYS_KEPT), through - timedelta(seconds=2 * longest)

    # input -------------------------------------------------------------------------------

    def process(self, mentions: Sequence[Mention], clocks: Mapping[int, datetime]) -> list[Alert]:
        """`process_table` for mention objects (restore, tests, the benchmarks)."""
        return self.process_table(mentions_table(mentions, _TABLE_TIME), clocks)

    def process_table(self, mentions: pa.Table, clocks: Mapping[int, datetime]) -> list[Alert]:
        """Count a batch's new mentions, judge every minute that is due; the alert states.

        `mentions` is in the warehouse's layout (`pipelines.ingest.sink.mentions_table`: org_id,
        event_id, created_at, author_id, author_handle, author_followers, text, complaint,
        source_partition, kafka_timestamp are read), rows in each partition's order.
        `clocks` maps a partition to the event time up to which it has been read.

        Each row moves its partition's clock (`pipelines.ingest.columnar.clock_at`) after it is
        counted; the clocks, and the points where one passes a minute that lets minutes be
        judged, are computed on the columns, and an organisation's rows between two such
        points of its partition are counted together: the same sequence of counts and
        judgements as one row at a time, so batch boundaries change nothing.

        Which is used here too: a batch that moves a partition's clock by more than
        `_STRETCH` (a worker's call of one partition's 20 000 events can span days of event
        time) is counted in stretches of rows, each as its own batch with the clocks its
        rows leave, so that each stretch's look-ahead reaches its end (`_look_ahead` reaches
        at most `_AHEAD_MOST` past the minutes already in the history).
        """
        out: list[Alert] = []
        self._out = out
        self._unread = {}
        try:
            ends = {p: _seconds(at, "clock") for p, at in clocks.items()}
            if mentions.num_rows:
                *stretches, last = self._stretches(mentions)
                for start, stop, reached in stretches:
                    self._count(mentions.slice(start, stop - start), reached)
                    self._settle()  # the end of a batch whose clocks are where its rows
                    self._unread = {}  # left them: no more ticks
                self._count(mentions.slice(last[0], last[1] - last[0]), ends)
            for partition in sorted(ends):
                ts = ends[partition]
                clock = self._clock.get(partition)
                if clock is None or ts > clock:
                    self._tick(partition, ts)
            self._settle()
        finally:
            self._out = None
            for state in self._ahead_states:
                state.ahead, state.ahead_bound = [], None
                state.ahead_next = state.ahead_end = -1
            self._ahead_states = []
        return out

    def _stretches(self, table: pa.Table) -> list[tuple[int, int, dict[int, float]]]:
        """The batch's rows cut where a partition's clock has moved `_STRETCH` since its
        first row in the batch, then again each `_STRETCH` on: (first row, end, each
        partition's clock after the stretch's rows). One stretch for most batches."""
        tick = clock_at(table).cast(pa.int64()).to_numpy() / 1000.0
        partition = table["source_partition"].cast(pa.int64()).to_numpy()
        cuts: list[int] = []
        for p in np.unique(partition).tolist():
            rows = np.flatnonzero(partition == p)
            running = np.maximum.accumulate(tick[rows])
            stretch = (running - running[0]) // (_STRETCH * 60)
            cuts += rows[1:][stretch[1:] > stretch[:-1]].tolist()
        bounds = [0, *sorted(set(cuts)), table.num_rows]
        out = []
        for start, stop in pairwise(bounds):
            part, at = partition[start:stop], tick[start:stop]
            reached = {p: float(at[part == p].max()) for p in np.unique(part).tolist()}
            out.append((start, stop, reached))
        return out

    def _count(self, table: pa.Table, clocks: Mapping[int, float]) -> None:
        n = table.num_rows
        created = table["created_at"].cast(pa.int64()).to_numpy()
        minutes = created // 60_000
        ts = created / 1000.0  # what datetime.timestamp() gives for a millisecond time
        tick = clock_at(table).cast(pa.int64()).to_numpy() / 1000.0
        partition = table["source_partition"].cast(pa.int64()).to_numpy()
        complaint = table["complaint"].fill_null(False).to_numpy(zero_copy_only=False)
        orgs = table["org_id"].combine_chunks().dictionary_encode()
        codes = orgs.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        names = orgs.dictionary.to_pylist()

        # Each partition's clock after each row (a running max), and the rows that move its
        # clock past a minute that is then due: the ticks, the only points that judge.
        fires = np.zeros(n, dtype=bool)
        epoch = np.zeros(n, dtype=np.int64)  # ticks of the row's partition before it
        final: dict[int, float] = {}
        for p in np.unique(partition).tolist():
            rows = np.flatnonzero(partition == p)
            running = np.maximum.accumulate(tick[rows])
            start = self._clock.get(p)
            if start is not None:
                running = np.maximum(running, start)
            due = np.floor((running - self._lateness) / 60.0)
            before = np.empty_like(due)
            before[0] = self._due.get(p, -(2**62))
            before[1:] = due[:-1]
            fired = due > before
            fires[rows] = fired
            epoch[rows] = np.cumsum(fired) - fired
            final[p] = float(running[-1])

        # An organisation's rows between two ticks of its partition (and on one partition)
        # form a group, counted at its first row: nothing reads the organisation's state
        # in between.
        order = np.argsort(codes, kind="stable")
        same = np.zeros(n, dtype=bool)
        same[1:] = ((codes[order][1:] == codes[order][:-1])
                    & (partition[order][1:] == partition[order][:-1])
                    & (epoch[order][1:] == epoch[order][:-1]))
        starts = np.flatnonzero(~same)
        ends = np.append(starts[1:], n)
        heads = order[starts]
        group_of = np.full(n, -1, dtype=np.int64)
        group_of[heads] = np.arange(len(heads))
        # What each group adds: its other mentions as counts per minute, its complaints one
        # by one (for the samples); mentions the loaded history holds add nothing.
        counted = ts >= self._history_end
        group = np.repeat(np.arange(len(starts)), ends - starts)  # of the rows in `order`
        others = order[~complaint[order] & counted[order]]
        other_group = group[~complaint[order] & counted[order]]
        by_minute = np.lexsort((minutes[others], other_group))
        keys_2d = np.stack((other_group[by_minute], minutes[others][by_minute]))
        first = np.ones(len(by_minute), dtype=bool)
        first[1:] = np.any(keys_2d[:, 1:] != keys_2d[:, :-1], axis=0)
        at = np.flatnonzero(first)
        other_counts = np.diff(np.append(at, len(by_minute)))
        other_minutes = keys_2d[1, at]
        other_from = np.searchsorted(keys_2d[0, at], np.arange(len(starts) + 1))
        mine = complaint[order] & counted[order]
        complaint_rows = order[mine]
        complaint_from = np.searchsorted(group[mine], np.arange(len(starts) + 1))

        # Python values only where they are read: texts and authors of complaints alone.
        picked = table.select(["event_id", "author_id", "author_handle", "author_followers",
                               "text"]).take(pa.array(complaint_rows))
        event_ids = picked["event_id"].to_pylist()
        grouped = _BatchRows(
            other_minutes=other_minutes.tolist(), other_counts=other_counts.tolist(),
            other_from=other_from.tolist(), minutes=minutes[complaint_rows].tolist(),
            ts=ts[complaint_rows].tolist(), event_ids=event_ids,
            author_ids=picked["author_id"].to_pylist(),
            handles=picked["author_handle"].fill_null("").to_pylist(),
            followers=picked["author_followers"].to_pylist(),
            texts=picked["text"].fill_null("").to_pylist(),
            keys=[text_key(event_id) for event_id in event_ids],
            complaint_from=complaint_from.tolist())

        quiet = self._look_ahead(names, codes, partition, minutes, complaint & counted,
                                 counted, final, clocks)
        # An organisation none of whose minutes due in this batch can open a surge is read
        # by nothing until the batch's end: its rows are counted here, in their order.
        skip = np.zeros(len(names), dtype=bool)
        if quiet:
            skip[quiet] = True
            group_code = codes[heads]  # the groups of an organisation are consecutive
            bounds = np.searchsorted(group_code, np.array(quiet), side="left").tolist()
            ends_at = np.searchsorted(group_code, np.array(quiet), side="right").tolist()
            for code, g0, g1 in zip(quiet, bounds, ends_at, strict=True):
                self._orgs[names[code]].add_rows(grouped, g0, g1)

        minutes_l, tick_l = minutes.tolist(), tick.tolist()
        partition_l, codes_l, fires_l = partition.tolist(), codes.tolist(), fires.tolist()
        group_l, skip_l = group_of.tolist(), skip.tolist()
        states: list[_OrgState | None] = [None] * len(names)
        # The rows that read or move state: ticks, and the first rows of the groups left.
        for row in np.flatnonzero(fires | ((group_of >= 0) & ~skip[codes])).tolist():
            g = group_l[row]
            if g >= 0 and not skip_l[codes_l[row]]:
                code = codes_l[row]
                state = states[code]
                if state is None:
                    state = states[code] = self._orgs.get(names[code]) or self._track(names[code])
                p = partition_l[row]
                if state.partition != p:
                    self._move(state, p)
                if state.idle:
                    self._wake(state)
                if state.first_minute < 0:
                    state.start(minutes_l[row])
                state.add_rows(grouped, g, g + 1)
            if fires_l[row]:
                self._tick(partition_l[row], tick_l[row])
        for p, clock in final.items():
            if clock > self._clock.get(p, -math.inf):
                self._clock[p] = clock

    def _look_ahead(self, names: list[str], codes: np.ndarray, partition: np.ndarray,
                    minutes: np.ndarray, complaints: np.ndarray, counted: np.ndarray,
                    final: Mapping[int, float], clocks: Mapping[int, float]) -> list[int]:
        """Decide for every organisation of the batch, on all its minutes at once, which of
        the minutes its partition's clock makes due by the batch's end could open a surge;
        the others are passed in bulk (`_pass`), and the ticks leave the organisation alone
        until one that could is due.

        A minute could open a surge only if a span ending with it passes the volume, rate,
        share and tail tests (`_may_hold`) on the complaints its minutes have by the end of
        the batch (at least what they have when it is judged, and every test only gets
        easier with more complaints). The usual counts are the ones the minutes will be
        judged with: they read history at least a day old, complete before the batch (only
        for an organisation none of whose rows falls before its committed minutes, and for
        at most `_AHEAD_MOST` minutes past them). The running bound from the same counts
        is above every span's excess, so it stands in for the one the minutes would have
        left. Organisations that are new, move partition, or get such late rows are judged
        one minute at a time as before, and so are the minutes past `_AHEAD_MOST`.

        Returns the organisations (codes of `names`) where no minute due by the batch's end
        could open a surge and none is open: nothing reads their state until then.
        """
        lateness = self._lateness
        due_end: dict[int, int] = {}
        for p in {*final, *clocks}:
            clock = max(final.get(p, -math.inf), clocks.get(p, -math.inf),
                        self._clock.get(p, -math.inf))
            due_end[p] = max(math.floor((clock - lateness) / 60), self._due.get(p, -(2**62)))
        if all(due - self._due.get(p, due) < _AHEAD_LEAST for p, due in due_end.items()):
            return []  # a batch of seconds (live): the minutes are judged one by one
        n_orgs = len(names)
        low_p = np.full(n_orgs, np.iinfo(np.int64).max, dtype=np.int64)
        high_p = np.full(n_orgs, -1, dtype=np.int64)
        earliest = np.full(n_orgs, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(low_p, codes, partition)
        np.maximum.at(high_p, codes, partition)
        at = np.flatnonzero(counted)
        np.minimum.at(earliest, codes[at], minutes[at])
        low_l, high_l, earliest_l = low_p.tolist(), high_p.tolist(), earliest.tolist()
        chosen: list[tuple[int, _OrgState, int, int]] = []  # (code, state, lo, hi)
        for code, name in enumerate(names):
            state = self._orgs.get(name)
            p = low_l[code]
            if (state is None or state.first_minute < 0 or p != high_l[code]
                    or state.partition != p or earliest_l[code] < state.committed):
                continue
            if state.idle:
                self._wake(state)
            hi = min(due_end.get(p, -(2**62)), state.committed + _AHEAD_MOST)
            if hi < state.cursor + _AHEAD_LEAST:
                continue
            chosen.append((code, state, state.cursor - state.slow, hi))
        if not chosen:
            return []
        # One row of minutes per organisation, laid end to end: [lo, hi) each.
        lengths = np.array([hi - lo for _, _, lo, hi in chosen], dtype=np.int64)
        base = np.zeros(len(chosen) + 1, dtype=np.int64)
        np.cumsum(lengths, out=base[1:])
        total = int(base[-1])
        count = np.zeros(total, dtype=np.int64)
        usual = np.empty(total)
        slot = np.full(n_orgs, -1, dtype=np.int64)
        first = np.zeros(n_orgs, dtype=np.int64)
        for i, (code, state, lo, hi) in enumerate(chosen):
            slot[code] = i
            first[code] = lo
            start = int(base[i])
            known = [(minute, bucket.complaints) for minute, bucket in state.minutes.items()
                     if lo <= minute < hi and bucket.complaints]
            if known:  # one entry per minute: no index repeats
                known_minutes, known_counts = zip(*known, strict=True)
                count[start - lo + np.array(known_minutes)] += known_counts
            usual[start:start + hi - lo] = _usual_minutes(state, lo, hi)
        rows = np.flatnonzero(complaints)
        row_slot = slot[codes[rows]]
        rows, row_slot = rows[row_slot >= 0], row_slot[row_slot >= 0]
        offset = minutes[rows] - first[codes[rows]]
        inside = (offset >= 0) & (offset < lengths[row_slot])
        np.add.at(count, base[row_slot[inside]] + offset[inside], 1)
        # Complaints before the minutes the batch judges raise the bound they start from.
        cursors = np.array([state.cursor for _, state, _, _ in chosen], dtype=np.int64)
        late = np.bincount(row_slot[minutes[rows] < cursors[row_slot]], minlength=len(chosen))
        counted_sum = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(count, out=counted_sum[1:])
        expected_sum = np.zeros(total + 1)
        np.cumsum(usual, out=expected_sum[1:])
        late_l = late.tolist()
        by_settings: dict[SurgeSettings, list[int]] = {}
        for i, (_, state, lo, hi) in enumerate(chosen):
            start = int(base[i]) + state.cursor - lo
            stop = int(base[i + 1])
            sums = np.cumsum(count[start:stop] - state.gate_rate * usual[start:stop])
            state.ahead_bound = sums - np.minimum(np.minimum.accumulate(sums),
                                                  -(state.bound + late_l[i]))
            state.ahead_base, state.ahead_end = state.cursor, hi
            state.ahead, state.ahead_at = [], 0
            if state.s.enabled:
                by_settings.setdefault(state.s, []).append(i)
            self._ahead_states.append(state)
        for group in by_settings.values():
            judged = [np.arange(int(base[i]) + chosen[i][1].cursor - chosen[i][2],
                                int(base[i + 1])) for i in group]
            index = np.concatenate(judged)
            owner = np.repeat(np.array(group), [len(j) for j in judged])
            minute = index - base[owner] + np.array([lo for _, _, lo, _ in chosen])[owner]
            attrs = np.array([(s.slow, s.barrier, s.first_minute, s.warm_until)
                              for _, s, _, _ in (chosen[i] for i in group)], dtype=np.int64)
            where = np.searchsorted(np.array(group), owner)
            slow, barrier, first_minute, warm = (attrs[where, j] for j in range(4))
            longest = np.maximum(np.minimum(np.minimum(slow, minute - barrier),
                                            minute + 1 - first_minute), 0)
            ends = index + 1
            rep = chosen[group[0]][1]
            least = rep.s.min_complaints
            maybe = ((minute >= warm) & (longest > 0)
                     & (counted_sum[ends] - counted_sum[ends - longest] >= least))
            picked = np.flatnonzero(maybe)
            if not len(picked):
                continue
            held = _may_hold(rep, counted_sum, expected_sum, ends[picked], longest[picked])
            for i, m in zip(owner[picked[held]].tolist(), minute[picked[held]].tolist(),
                            strict=True):
                chosen[i][1].ahead.append(m)
        quiet = []
        self._unread.clear()  # the look-ahead's minutes change what the ticks read
        for code, state, _, hi in chosen:
            state.ahead_next = state.ahead[0] if state.ahead else state.ahead_end
            if (not state.ahead and state.surge is None and state.partition is not None
                    and hi == due_end[state.partition]):
                quiet.append(code)
        return quiet

    def _settle(self) -> None:
        """The end of a batch: organisations with a look-ahead are brought to their
        partition's clock (nothing left there could open a surge) and go back to being
        walked by the ticks, or to idling if calm."""
        for state in self._ahead_states:
            due = self._due.get(state.partition) if state.partition is not None else None
            if due is not None and state.cursor < due:
                self._advance(state, due)
            state.ahead, state.ahead_bound = [], None
            state.ahead_next = state.ahead_end = -1
            pending = state.pending
            while pending and pending[0] < state.cursor:
                heapq.heappop(pending)
            if not pending and state.surge is None and state.bound < state.lowest_gate:
                state.idle = True
                active = self._by_partition.get(state.partition)  # type: ignore[arg-type]
                if active is not None:
                    active.pop(state.org_id, None)
        self._ahead_states = []

    def load_history(self, rows: Iterable[tuple[Any, ...]], *, through: datetime | None = None,
                     complaints: Iterable[Sampled] = ()) -> None:
        """Start from the warehouse: rows of (org_id, minute, complaints, complaint_reach,
        mentions), oldest first (`mentions` counts every mention of the minute; left out,
        the minute had complaints only), and the complaints whose texts the samples need
        (`texts_needed`; only their texts, authors and ids are read, they are not counted
        again).

        The minutes are judged as if they had been processed (the same baseline, surge
        and cooldown state) but no alert is emitted. The history is taken as complete up
        to `through` (default: the end of the latest minute given); mentions before it are
        not counted again. An organisation's minutes after that are judged once one of
        its mentions has shown which partition it is on.
        """
        self._out = None
        limit = _seconds(through, "through") if through is not None else math.inf
        texts = sorted(((m.created_at.timestamp(), m) for m in complaints
                        if m.complaint and m.created_at.timestamp() < limit),
                       key=lambda pair: pair[0])
        j = 0
        last = -1
        for row in rows:
            org_id, at, count, reach = row[0], row[1], int(row[2]), int(row[3])
            others = int(row[4]) - count if len(row) > 4 else 0
            state = self._orgs.get(org_id) or self._track(org_id)
            minute = int(_seconds(at, "history minute") // 60)
            # The texts of the minutes before this one, as they would have come.
            while j < len(texts) and texts[j][0] < minute * 60:
                self._sample(*texts[j])
                j += 1
            if state.first_minute < 0:
                state.start(minute)
            if minute > state.cursor:
                self._advance(state, minute)
            state.add_counts(minute, count, others, reach)
            last = max(last, minute)
        for pair in texts[j:]:
            self._sample(*pair)
        if through is not None:
            history_end = limit
        elif last >= 0:
            history_end = (last + 1) * 60.0
        else:
            return
        end = math.floor(history_end / 60)  # the minutes before this one are complete
        for state in self._orgs.values():
            if state.first_minute >= 0 and state.cursor < end:
                self._advance(state, end)
        self._history_end = max(self._history_end, history_end)

    def load_history_table(self, table: pa.Table, *, through: datetime | None = None,
                           complaints: Iterable[Sampled] = ()) -> None:
        """`load_history` for the warehouse's answer as columns (org_id, minute, complaints,
        reach, mentions; `pipelines.ingest.restore.complaint_history`), in bulk: the same
        state afterwards, so the same alerts, at a small part of the cost.

        Per organisation the minutes are laid out as arrays; the history per local hour and
        day, the usual rates, the gate and the running bound come from numpy, and only the
        minutes where the bound lets a span hold (and what follows while a surge is open)
        are judged one by one, by the same code as a stream's. A minute's usual rates read
        only history at least a day old, which is complete by then, so they can be
        computed ahead; a surge found on the way keeps its minutes out of the history, and
        the rates after it are computed again. For a detector that already tracks
        organisations, this is `load_history` on the table's rows.
        """
        if self._orgs:
            self.load_history(_history_rows(table), through=through, complaints=complaints)
            return
        self._out = None
        limit = _seconds(through, "through") if through is not None else math.inf
        stamped = ((m.created_at.timestamp(), m) for m in complaints if m.complaint)
        texts = sorted((pair for pair in stamped if pair[0] < limit), key=lambda pair: pair[0])
        n = table.num_rows
        if n:
            minute = table["minute"].cast(pa.timestamp("ms", "UTC")).cast(pa.int64()).to_numpy()
            minute = minute // 60_000
            order = np.argsort(minute, kind="stable")  # oldest first, as `load_history` reads
            minute = minute[order]
            count = table["complaints"].cast(pa.int64()).to_numpy()[order]
            reach = table["reach"].cast(pa.uint64()).to_numpy()[order]  # saturated at 2^64-1
            if "mentions" in table.column_names:
                others = table["mentions"].cast(pa.int64()).to_numpy()[order] - count
            else:
                others = np.zeros(n, dtype=np.int64)
            orgs = table["org_id"].take(pa.array(order)).combine_chunks().dictionary_encode()
            codes = orgs.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            names = orgs.dictionary.to_pylist()
        if through is not None:
            history_end = limit
        elif n:
            history_end = (int(minute[-1]) + 1) * 60.0
        else:
            return
        end = math.floor(history_end / 60)  # the minutes before this one are complete
        if n:
            # A text is read (as `load_history` reads it) once the first row after its
            # minute comes: only if its organisation is tracked by then.
            by_org = np.argsort(codes, kind="stable")
            starts = np.searchsorted(codes[by_org], np.arange(len(names) + 1))
            first_row = np.full(len(names), n, dtype=np.int64)
            present = starts[1:] > starts[:-1]
            first_row[present] = by_org[starts[:-1][present]]
            code_of = {name: i for i, name in enumerate(names)}
            row_seconds = (minute * 60).astype(np.float64)
            triggers = np.searchsorted(row_seconds, np.array([ts for ts, _ in texts],
                                                             dtype=np.float64), side="right")
            reading = first_row.tolist()
            per_org: list[list[tuple[float, Sampled]]] = [[] for _ in names]
            for pair, trigger in zip(texts, triggers.tolist(), strict=True):
                code = code_of.get(pair[1].org_id)
                if code is not None and reading[code] <= trigger:
                    per_org[code].append(pair)
            for code in np.argsort(first_row, kind="stable").tolist():  # in order of arrival
                name = names[code]
                rows = by_org[starts[code]:starts[code + 1]]
                state = self._track(name)
                _HistoryLoad(self, state, minute[rows], count[rows], others[rows],
                             reach[rows].tolist(), per_org[code], end).run()
        self._history_end = max(self._history_end, history_end)

    def _sample(self, ts: float, mention: Sampled) -> None:
        state = self._orgs.get(mention.org_id)
        if state is not None:
            state.add_sample(int(ts // 60), mention, ts)

    # bookkeeping -------------------------------------------------------------------------

    def _track(self, org_id: str) -> _OrgState:
        org = self._roster.org(org_id)
        state = self._orgs[org_id] = _OrgState(org, self.settings(org_id))
        return state

    def _move(self, state: _OrgState, partition: int) -> None:
        if state.partition is not None:
            if state.idle:
                self._wake(state)  # up to its old partition's clock first
            self._by_partition[state.partition].pop(state.org_id, None)
        state.partition = partition
        state.idle = True  # woken, on its new partition, by the mention that moved it

    def _wake(self, state: _OrgState) -> None:
        """An idle organisation gets a mention: bring it to its partition's clock first
        (every minute it missed was empty and calm, so this is the bulk skip the ticks
        would have made), then let the ticks move it again."""
        if state.partition is None:
            return
        due = self._due.get(state.partition)
        if due is not None and state.first_minute >= 0 and state.cursor < due:
            self._advance(state, due)
        state.idle = False
        self._by_partition.setdefault(state.partition, {})[state.org_id] = state
        unread = self._unread.get(state.partition)
        if unread is not None:
            self._unread[state.partition] = min(unread, _unread_until(state))

    def _tick(self, partition: int, ts: float) -> None:
        """Judge what is due on the partition. Only organisations that can still change
        are walked (something pending, a surge open, the bound up); the others idle until
        their next mention, so a tick costs nothing per calm organisation."""
        self._clock[partition] = ts
        due = math.floor((ts - self._lateness) / 60)  # minutes before this one are due
        if due > self._due.get(partition, -(2**62)):
            self._due[partition] = due
            active = self._by_partition.get(partition)
            if not active:
                return
            if due <= self._unread.get(partition, -1):
                return  # every organisation walked here would be passed over, as below
            calm = []
            out = self._out
            emitted = len(out) if out is not None else 0
            unread = math.inf
            for state in active.values():
                if due <= state.ahead_next and state.surge is None:
                    unread = min(unread, state.ahead_next)
                    continue  # nothing due can open a surge: the look-ahead passes it later
                if state.first_minute >= 0 and state.cursor < due:
                    self._advance(state, due)
                pending = state.pending
                while pending and pending[0] < state.cursor:
                    heapq.heappop(pending)
                if not pending and state.surge is None and state.bound < state.lowest_gate:
                    calm.append(state)
                else:
                    unread = min(unread, _unread_until(state))
            self._unread[partition] = unread
            for state in calm:
                state.idle = True
                del active[state.org_id]
            if out is not None and len(out) > emitted + 1:
                # in the order of the organisations, not of their arrival in `active`
                out[emitted:] = sorted(out[emitted:], key=lambda alert: alert.org_id)

    def _advance(self, state: _OrgState, target: int) -> None:
        """Judge the organisation's minutes before `target`: one by one where a minute had
        mentions, a surge is open or the bound says a span could hold; the rest in bulk.

        A minute judged one by one joins the running sums and moves the bound in a few
        operations here (`_judge` tests its spans only when the bound is up)."""
        work = self.work
        pending = state.pending
        buckets = state.minutes
        sum_minute = state.sum_minute
        gate_rate = state.gate_rate
        lowest_gate = state.lowest_gate
        slow = state.slow
        cursor = state.cursor
        while cursor < target:
            while pending and pending[0] < cursor:
                heapq.heappop(pending)
            if cursor < state.ahead_end and state.surge is None:
                ahead = state.ahead
                i = state.ahead_at
                while i < len(ahead) and ahead[i] < cursor:
                    i += 1
                state.ahead_at = i
                upcoming = state.ahead_next = ahead[i] if i < len(ahead) else state.ahead_end
                if upcoming > target:
                    upcoming = target
                if upcoming > cursor:
                    self._pass(state, upcoming)
                    cursor = state.cursor
                    continue
            if state.surge is None and state.bound < lowest_gate:
                upcoming = min(pending[0], target) if pending else target
                if upcoming > cursor:
                    gap = upcoming - cursor
                    work.minutes_skipped += gap
                    state.bound = max(0.0, state.bound - gate_rate * state.floor * gap)
                    cursor = state.cursor = upcoming
                    if cursor - slow >= state.committed + _COMMIT_EVERY:
                        state.commit(cursor - slow)
                    continue
            # The end of one minute: its counts join the running sums, the bound moves.
            minute = cursor
            work.minutes_stepped += 1
            bucket = buckets.get(minute)
            complaints = 0
            if bucket is not None:
                complaints = bucket.complaints
                if len(sum_minute) > state.head:
                    c, o, r = (state.sum_complaints[-1], state.sum_others[-1],
                               state.sum_reach[-1])
                else:
                    c, o, r = state.base
                sum_minute.append(minute)
                state.sum_complaints.append(c + complaints)
                state.sum_others.append(o + bucket.others)
                state.sum_reach.append(r + bucket.reach)
            if state.block_first <= minute < state.block_end:
                usual, gate = state.block_usual, state.block_gate
            else:
                usual, gate = state.usual_at(minute)
            bound = state.bound + complaints - gate_rate * usual
            state.bound = bound = bound if bound > 0.0 else 0.0
            if state.surge is not None or bound >= gate:
                self._judge(state, minute, gate)
            cursor = state.cursor = minute + 1
            if cursor - slow >= state.committed + _COMMIT_EVERY:
                state.commit(cursor - slow)

    def _pass(self, state: _OrgState, stop: int) -> None:
        """The minutes from the cursor to `stop`, none of which can open a surge (the
        look-ahead said so; no surge is open): their counts join the running sums in one go
        and the bound is the look-ahead's, with no minute judged."""
        pending = state.pending
        buckets = state.minutes
        sum_minute = state.sum_minute
        if len(sum_minute) > state.head:
            c, o, r = state.sum_complaints[-1], state.sum_others[-1], state.sum_reach[-1]
        else:
            c, o, r = state.base
        passed = 0
        while pending and pending[0] < stop:
            minute = heapq.heappop(pending)
            bucket = buckets.get(minute)
            if bucket is None:
                continue
            c += bucket.complaints
            o += bucket.others
            r += bucket.reach
            passed += 1
            sum_minute.append(minute)
            state.sum_complaints.append(c)
            state.sum_others.append(o)
            state.sum_reach.append(r)
        self.work.minutes_skipped += stop - state.cursor
        self.work.minutes_passed += passed
        assert state.ahead_bound is not None
        state.bound = float(state.ahead_bound[stop - 1 - state.ahead_base]) + _BULK_ROOM
        state.cursor = stop
        if stop - state.slow >= state.committed + _COMMIT_EVERY:
            state.commit(stop - state.slow)

    # the rule ----------------------------------------------------------------------------

    def _judge(self, state: _OrgState, minute: int, gate: float) -> None:
        """A judged minute (its counts in the running sums, the bound moved): follow an
        open surge, or test the spans when the bound says one could hold."""
        s = state.s
        if state.surge is not None:
            self._follow(state, state.surge, minute)
            return
        if not s.enabled or state.bound < gate or minute < state.warm_until:
            return  # no span can hold; or still learning (no alert, nothing kept out)
        # A new surge is made of what came after the last one (and after the warm-up).
        longest = min(state.slow, minute - state.barrier, minute + 1 - state.first_minute)
        if longest <= 0:
            return
        c_end = state.totals_before(minute + 1)[0]
        if c_end - state.totals_before(minute + 1 - longest)[0] < s.min_complaints:
            return  # too few in the longest span for any span to hold
        self.work.minutes_tested += 1
        lengths = [n for n in state.spans if n <= longest]
        self.work.span_tests += len(lengths)
        ks, others, _, expected, raw, usual_others = state.sums_ending(minute, lengths)
        if minute < state.level_until:  # the level the last surge left behind is the usual
            expected = [e * state.level for e in expected]
            raw = [e * state.level for e in raw]
        in_window = 0
        for length, k in zip(lengths, ks, strict=True):
            if length <= state.window:
                in_window = k
        log_ps, share_ratio, least, misread = state.log_ps, s.share_ratio, s.min_complaints, \
            s.misread
        shape = state.shape
        best = -1
        best_excess = 0.0
        for i, ratio in enumerate(state.ratios[:len(lengths)]):
            k, e = ks[i], expected[i]
            if (k if lengths[i] >= state.window else in_window) < least or k < ratio * e:
                continue
            explained = _explained(e, raw[i], others[i], usual_others[i], misread)
            if k < share_ratio * explained:
                continue
            # the tail against what the volume surely explains: the extra other mentions
            # at the usual complaints per other mention, but at most `misread` each (a
            # storm brings other mentions too; the share test asks the rest)
            if log_tail(k, _least_explained(e, raw[i], others[i], usual_others[i], misread),
                        shape) > log_ps[i]:
                continue
            if best < 0 or k - explained > best_excess:
                best, best_excess = i, k - explained
        if best >= 0:
            self._start(state, minute, state.span(minute, lengths[best]))

    def _follow(self, state: _OrgState, surge: _Surge, minute: int) -> None:
        """An open surge: keep its minutes out of the history, resolve it once calm,
        send a new state when it grew or shrank."""
        s = state.s
        if (minute - surge.opened_minute) * 60 < MAX_EXCLUDED:
            state.exclude(minute, minute)
        calm = state.span(minute, surge.calm)
        k = calm.complaints
        if k < s.resolve_ratio * calm.usual or 2 * k * state.window < s.min_complaints * \
                surge.calm:
            self._resolve(state, surge, minute)
            if minute - surge.span_start >= _LEVEL_AFTER and k > calm.usual > 0:
                state.level, state.level_until = k / calm.usual, minute + _LEVEL_MINUTES
            return
        span = state.span(minute, min(minute - surge.span_start + 1, state.slow))
        level = severity(span.complaints, span.explained, span.reach)
        if (level, span.complaints) > surge.peak[:2]:
            surge.peak = (level, span.complaints, minute)
            surge.peak_span = span
        moved = (abs(level - surge.last_severity) >= 1.0
                 or span.complaints >= 1.5 * surge.last_observed
                 or 1.5 * span.complaints <= surge.last_observed)
        if moved:
            surge.version += 1
            surge.last_observed, surge.last_severity = span.complaints, level
            self._emit(state, surge, "open", minute, level, span)

    def _start(self, state: _OrgState, minute: int, span: _Span) -> None:
        """Open an alert for a span where the rule holds, unless still in the warm-up
        (still learning: the minutes join the history) or the cooldown (they stay out)."""
        s = state.s
        state.exclude(minute - span.length + 1, minute)
        if state.resolved_minute is not None and (minute - state.resolved_minute) * 60 < \
                s.cooldown:
            state.barrier = minute
            return
        opened = datetime.fromtimestamp(minute * 60, UTC)
        level = severity(span.complaints, span.explained, span.reach)
        surge = state.surge = _Surge(
            alert_id=f"{KIND}:{state.org_id}:{opened:%Y%m%dT%H%M}", opened_minute=minute,
            span_start=minute - span.length + 1, version=1, last_observed=span.complaints,
            last_severity=level, peak=(level, span.complaints, minute), peak_span=span,
            calm=min(max(state.calm_span, 2 * span.length), _LONGEST_CALM),
        )
        self._emit(state, surge, "open", minute, level, span)

    def _resolve(self, state: _OrgState, surge: _Surge, minute: int) -> None:
        surge.version += 1
        level, _, peak_minute = surge.peak
        self._emit(state, surge, "resolved", minute, level, surge.peak_span,
                   peak_minute=peak_minute)
        state.surge = None
        state.resolved_minute = state.barrier = minute

    # what the alert says -----------------------------------------------------------------

    def _emit(self, state: _OrgState, surge: _Surge, status: str, minute: int, level: float,
              span: _Span, *, peak_minute: int | None = None) -> None:
        """Send a state. What the surge is about is read at every open state (also while
        replaying the history, so that a restart resumes with it); the resolved state
        repeats the last one's, since the peak's minutes may have left the slow window."""
        last = peak_minute if peak_minute is not None else minute
        start = last - span.length + 1
        if status == "resolved" and surge.about is not None:
            about = surge.about
        else:
            about = surge.about = self._about(state, start, last)
        if self._out is None:
            return  # replaying the history: the state moves on, nothing is sent
        about = dict(about)
        end = datetime.fromtimestamp((minute + 1) * 60, UTC)
        when = state.local(start)
        k, expected = span.complaints, span.explained
        usual = f"the usual {expected:.1f} for a {_WEEKDAY_NAMES[when.weekday()]} {when:%H:%M}"
        times = k / expected if expected > 0 else math.inf
        sample_ids = about.pop("sample_ids")
        if status == "resolved":
            lasted = minute + 1 - surge.span_start
            summary = (f"{state.name}: complaint surge over after {lasted} min; peak "
                       f"{k} complaints in {span.length} min, {times:.1f}× {usual}")
        else:
            summary = f"{state.name}: {k} complaints in {span.length} min, {times:.1f}× {usual}"
        summary += (f"; {span.share:.0%} of its mentions (usually {span.usual_share:.0%})")
        if about["terms"]:
            summary += "; about " + ", ".join(t["term"] for t in about["terms"][:3])
        if about["top_authors"]:
            loudest = about["top_authors"][0]
            summary += f"; loudest @{loudest['handle']} ({loudest['followers']:,} followers)"
        details: dict[str, Any] = {
            "window_minutes": span.length, "window_start": _iso_minute(start),
            "reach": span.reach, "log_p": round(log_tail(k, expected, state.shape), 2),
            "other_mentions": span.others, "usual_complaints": round(span.usual, 2),
            "usual_other_mentions": round(span.usual_others, 2),
            "share": round(span.share, 3), "usual_share": round(span.usual_share, 3),
            **about,
        }
        self._out.append(Alert(
            alert_id=surge.alert_id, org_id=state.org_id, kind=KIND, status=status,
            opened_at=datetime.fromtimestamp((surge.opened_minute + 1) * 60, UTC),
            resolved_at=end if status == "resolved" else None,
            severity=level, observed=float(k), expected=round(expected, 2),
            summary=summary, sample_event_ids=sample_ids, updated_at=end,
            version=surge.version, details=details,
        ))

    def _about(self, state: _OrgState, first: int, last: int) -> dict[str, Any]:
        """The span's distinctive terms, most-followed authors and sample posts."""
        top: list[tuple[int, float, str, str, str, str]] = []
        sampled: list[tuple[int, str, str]] = []
        for minute in range(first, last + 1):
            bucket = state.minutes.get(minute)
            if bucket is not None:
                top.extend(bucket.top)
                sampled.extend(bucket.texts)
        top.sort()
        sampled.sort(reverse=True)  # the lowest keys first: a sample of the whole span
        texts = [text for _, _, text in sampled[:SURGE_TEXTS]]
        usual_sampled: list[tuple[int, str, int, str]] = []
        day = first // 1440
        for d in range(day - USUAL_DAYS, day + 1):
            usual_sampled.extend(e for e in state.usual_texts.get(d, ()) if e[2] < first)
        usual_sampled.sort(reverse=True)
        usual = [text for _, _, _, text in usual_sampled[:USUAL_TEXTS]]
        terms = distinctive_terms(texts, usual, TERMS_SHOWN)
        authors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for followers, _, _, author_id, handle, _ in top:
            if author_id not in seen:
                seen.add(author_id)
                authors.append({"author_id": author_id, "handle": handle or author_id,
                                "followers": -followers})
            if len(authors) == AUTHORS_SHOWN:
                break
        posts = [{"event_id": event_id, "author": handle or author_id, "followers": -followers,
                  "text": text[:POST_CHARS]}
                 for followers, _, event_id, author_id, handle, text in top[:POSTS_SHOWN]]
        return {"terms": [t.to_json() for t in terms], "sampled_complaints": len(texts),
                "sampled_usual": len(usual), "top_authors": authors, "posts": posts,
                "sample_ids": tuple(entry[2] for entry in top[:SAMPLE_SIZE])}


def _totals(seen: Sequence[tuple[float, float, int]]) -> tuple[float, float, int]:
    """Complaints, other mentions and minutes of hours seen (`_OrgState._hours_seen`), each
    summed in their order."""
    if not seen:
        return 0, 0, 0
    count, others, minutes = zip(*seen, strict=True)
    return sum(count), sum(others), sum(minutes)


def _unread_until(state: _OrgState) -> float:
    """Up to which due minute a tick passes the organisation over (`SurgeDetector._tick`)."""
    return state.ahead_next if state.surge is None else -math.inf


def _seconds(t: datetime, what: str) -> float:
    if t.tzinfo is None:
        raise ValueError(f"{what} {t.isoformat()} has no time zone; pass an aware (UTC) datetime")
    return t.timestamp()


def _iso_minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


# -- the history in bulk ---------------------------------------------------------------------

_BULK_STRETCH = 4096  # minutes of the running bound computed at once while loading
_BULK_MOST = 400 * 1440  # minutes: an organisation's history longer than this is walked
_BULK_ROOM = 1e-6  # the bound from cumulative sums is not rounded as the walk's is
_AHEAD_LEAST = 30  # minutes a look-ahead must reach to pay for its arrays
_STRETCH = 12 * 60  # minutes of a partition's clock counted as one batch (`process_table`):
# its look-ahead starts from minutes committed up to the slow window (at most 6 h) and
# `_COMMIT_EVERY` behind the clock and reaches `_AHEAD_MOST` past them
_AHEAD_MOST = 20 * 60  # minutes past the committed ones a look-ahead may reach: the usual
# counts of a minute read history at least 22.5 h old (21.5 h across a clock change), which
# must be committed already


def _history_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table[name].to_pylist() for name in
               ("org_id", "minute", "complaints", "reach", "mentions")
               if name in table.column_names]
    return list(zip(*columns, strict=True))


def _may_hold(state: _OrgState, counted: np.ndarray, expected: np.ndarray, ends: np.ndarray,
              longest: np.ndarray, *, first: bool = False) -> np.ndarray:
    """The gate on columns, for the history load and a stream's batch alike: of the minutes
    whose complaints end before `ends` in the cumulative complaints `counted` (and usual
    complaints `expected`), each with the `longest` span it may be tested on, the positions
    of those with a span that passes the volume, rate, share and tail tests as far as its
    complaints and usual counts alone tell: what `_judge` tests, short of the other
    mentions (S is at least E), with E from cumulative sums, so with a little room. No
    minute elsewhere can open a surge. With `first`, only the first such position."""
    s = state.s
    window = np.minimum(state.window, longest)
    in_window = counted[ends] - counted[ends - window]  # at least `_judge`'s
    ks, es, passes = [], [], []
    for length, ratio in zip(state.spans, state.ratios, strict=True):
        inside = length <= longest
        starts = np.where(inside, ends - length, ends)
        k = counted[ends] - counted[starts]
        e = expected[ends] - expected[starts]
        volume = k if length >= state.window else in_window
        passes.append(inside & (volume >= s.min_complaints)
                      & (k >= max(ratio, s.share_ratio) * e * (1 - _BULK_ROOM)))
        ks.append(k)
        es.append(e)
    span_at, minute_at = np.nonzero(np.array(passes))
    tails = _log_tails(np.array(ks)[span_at, minute_at],
                       np.array(es)[span_at, minute_at] * (1 + _BULK_ROOM), state.shape)
    log_ps = np.array(state.log_ps) + _BULK_ROOM
    held = np.unique(minute_at[tails <= log_ps[span_at]])
    return held[:1] if first else held


def _log_tails(k: np.ndarray, lam: np.ndarray, shape: float) -> np.ndarray:
    """`log_tail` of each (k, lam) pair at once, for the gate (`_may_hold`): the same
    arithmetic, with numpy's logarithms, which may differ from `math`'s in the last bit,
    well inside the gate's room (`_BULK_ROOM`). The log-gamma terms, at whole counts, are
    looked up per distinct count."""
    k = k.astype(np.int64)
    lam = lam.astype(np.float64)
    out = np.zeros(len(k))
    todo = (k > 0) & (lam > 0.0) & (k > lam)  # the rest is settled (`_settled_tail`)
    out[(k > 0) & (lam <= 0.0)] = -math.inf
    if not todo.any():
        return out
    k, lam = k[todo], lam[todo]
    counts, at = np.unique(k, return_inverse=True)
    log_fact = np.array([math.lgamma(c + 1) for c in counts.tolist()])[at]
    kf = k.astype(np.float64)
    if math.isinf(shape):
        log_pmf = kf * np.log(lam) - lam - log_fact
        tail = log_pmf + np.log((kf + 1) / (kf + 1 - lam))
    else:
        q = lam / (lam + shape)
        ratio = (kf + shape) / (kf + 1) * q
        log_gamma = np.array([math.lgamma(c + shape) for c in counts.tolist()])[at]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_pmf = (log_gamma - math.lgamma(shape) - log_fact
                       + shape * np.log1p(-q) + kf * np.log(q))
            tail = np.where(ratio >= 1.0, 0.0, log_pmf - np.log1p(-ratio))
    out[todo] = np.minimum(0.0, tail)
    return out


def _usual_minutes(state: _OrgState, first: int, end: int) -> np.ndarray:
    """E (with the floor) of each UTC minute in [first, end), as `sums_ending` reads it."""
    segments = state.segments(first, end)
    return np.repeat(np.array([rates[0] for _, _, rates in segments]),
                     [stop - start for start, stop, _ in segments])


class _HistoryLoad:
    """One organisation's history loaded in bulk (`SurgeDetector.load_history_table`).

    The minutes from its first to `end` are arrays. Where no span can hold (the running
    bound, computed with cumulative sums, stays below the gate), the minutes leave the
    state they would have left one by one: the history of those committed per local hour
    and day, the minutes still in the slow window with their running sums, the bound. At
    a minute the bound does not rule out, that state is laid down and the stream's own
    steps (`SurgeDetector._advance`) take the rows from there until the organisation is
    calm again; the minutes a surge kept out of the history are then left out of the
    arrays and the rates after them computed again."""

    def __init__(self, detector: SurgeDetector, state: _OrgState, minutes: np.ndarray,
                 complaints: np.ndarray, others: np.ndarray, reach: list[int],
                 texts: list[tuple[float, Sampled]], end: int) -> None:
        self.detector, self.state, self.end = detector, state, end
        self.rows = minutes
        self.complaints = np.maximum(complaints, 0)
        self.others = np.maximum(others, 0)
        self.reach = reach
        self.texts = texts
        self.text_seconds = [ts for ts, _ in texts]
        self.sampled = 0  # texts before this one have been sampled
        self.rows_l = minutes.tolist()
        self.complaints_l = self.complaints.tolist()
        self.others_l = self.others.tolist()
        self.has_l = ((self.complaints > 0) | (self.others > 0)).tolist()

    def run(self) -> None:
        state, rows, end = self.state, self.rows, self.end
        state.start(int(rows[0]))
        first = state.first_minute
        if (end + 1 - first > _BULK_MOST or int(rows[-1]) > end
                or bool(np.any(np.diff(rows) <= 0))):
            self._walk(0, exit_calm=False)  # not worth arrays (or not laid out for them)
            return
        self.first = first
        length = end + 1 - first
        at = rows - first
        self.count = np.zeros(length, dtype=np.int64)
        self.count[at] = self.complaints
        self.other = np.zeros(length, dtype=np.int64)
        self.other[at] = self.others
        self.counted = np.zeros(length + 1, dtype=np.int64)
        np.cumsum(self.count, out=self.counted[1:])
        # Local minutes, hours and half-hour blocks of the UTC minutes from the first.
        utc_first, utc_last = first // 60, end // 60
        hours = np.arange(utc_first, utc_last + 1, dtype=np.int64)
        clock = state.clock
        offsets = (np.zeros(len(hours), dtype=np.int64) if clock is None
                   else clock.offsets(hours * HOUR_US) // MINUTE_US)
        minute = np.arange(first, end + 1, dtype=np.int64)
        local = minute + offsets[minute // 60 - utc_first]
        self.hour = local // 60
        self.block = local // 30
        self.base_hour = int(self.hour.min()) - 24 * (_DAYS_BACK + 2)
        self.hours = int(self.hour.max()) + 2 - self.base_hour + 1
        self.base_day = self.base_hour // 24
        self.kept = np.ones(length, dtype=bool)  # not kept out of the history
        self.applied = -1  # the last minute of the exclusions applied to `kept`
        self._rates()
        cursor, bound, i = first, 0.0, 0
        while True:
            found = self._candidate(cursor, bound)
            if found is None:
                self._lay_down(end, self.bound_at_end, final=True)
                return
            minute_found, bound_before = found
            self._lay_down(minute_found, bound_before)
            i = int(np.searchsorted(rows, minute_found))
            i, done = self._walk(i, exit_calm=True)
            if done:
                return
            if state.exclusions and state.exclusions[-1][1] > self.applied:
                for a, b in state.exclusions:
                    if b > self.applied:
                        self.kept[max(a, self.applied + 1) - first:b + 1 - first] = False
                self.applied = state.exclusions[-1][1]
                self._rates(state.cursor - first)
            cursor, bound = state.cursor, state.bound

    # the usual rates -------------------------------------------------------------------

    def _rates(self, since: int = 0) -> None:
        """The usual complaints (E) per minute from the `since`-th on (and a day before:
        spans reach back) and its gate, from the history per local hour and day as
        `_OrgState.hour_rate` reads it (the same arithmetic, so the same numbers)."""
        state = self.state
        since = max(0, since - 1440)
        where = self.hour - self.base_hour
        kept = self.kept
        self.h_count = np.bincount(where, np.where(kept, self.count, 0), self.hours)
        self.h_others = np.bincount(where, np.where(kept, self.other, 0), self.hours)
        self.h_minutes = np.bincount(where[kept], minlength=self.hours)
        day_of = np.arange(self.hours) + self.base_hour
        day_at = day_of // 24 - self.base_day
        days = int(day_at[-1]) + 1
        d_count = np.bincount(day_at, self.h_count, days)
        d_minutes = np.bincount(day_at, self.h_minutes, days).astype(np.int64)
        low = int(self.hour[since:].min()) - 1
        hours = np.arange(low, int(self.hour.max()) + 2, dtype=np.int64)
        # the prior: the week before yesterday
        day = hours // 24 - self.base_day
        p_count = np.zeros(len(hours))
        p_minutes = np.zeros(len(hours), dtype=np.int64)
        for back in range(8, 1, -1):
            p_count += d_count[day - back]
            p_minutes += d_minutes[day - back]
        some = p_minutes > 0
        safe = np.where(some, p_minutes, 1)
        prior_c = np.where(some, np.maximum(p_count / safe, _TINY_RATE),
                           max(state.floor, _TINY_RATE))
        weekend = (hours // 24 + 3) % 7 >= 5
        at = hours - self.base_hour
        zero = np.zeros(len(hours))
        nil = np.zeros(len(hours), dtype=np.int64)
        same = [zero.copy(), nil.copy(), nil.copy()]  # complaints, minutes, hours taken
        anyd = [zero.copy(), nil.copy(), nil.copy()]
        recent = [zero.copy(), nil.copy(), nil.copy()]
        for k in range(1, _DAYS_BACK + 1):
            c, m = self.h_count[at - 24 * k], self.h_minutes[at - 24 * k]
            seen = m >= _MIN_SAMPLE_MINUTES
            takes = []
            if k <= _ANY_DAYS:
                takes.append((anyd, seen))
            kind = (((hours - 24 * k) // 24 + 3) % 7 >= 5) == weekend
            joins = seen & kind & (same[2] < _SAME_KIND_DAYS)
            if k <= _RECENT_DAYS:
                takes.append((recent, joins & (recent[2] < 2)))
            takes.append((same, joins))
            for sums, take in takes:
                sums[0] += np.where(take, c, 0.0)
                sums[1] += np.where(take, m, 0)
                sums[2] += take
        use_same = same[2] >= 2
        d_c = np.where(use_same, same[0], anyd[0])
        d_m = np.where(use_same, same[1], anyd[1])
        rate_c = (d_c + _PRIOR_COUNT) / (d_m + _PRIOR_COUNT / prior_c)
        w_c, w_m, w_n = zero.copy(), nil.copy(), nil.copy()
        for k in range(1, _WEEKS_BACK + 1):
            c, m = self.h_count[at - _WEEK_HOURS * k], self.h_minutes[at - _WEEK_HOURS * k]
            seen = m >= _MIN_SAMPLE_MINUTES
            w_c += np.where(seen, c, 0.0)
            w_m += np.where(seen, m, 0)
            w_n += seen
        week_c = (w_c + _PRIOR_COUNT) / (w_m + _PRIOR_COUNT / rate_c)
        rate_c = np.where(w_n >= 2, week_c, np.where(w_n == 1, np.maximum(rate_c, week_c),
                                                     rate_c))
        some = recent[2] > 0
        safe = np.where(some, recent[1], 1)
        rate_c = np.where(some, np.maximum(rate_c, recent[0] / safe), rate_c)
        # E of each local half-hour block: the higher rate of the hours within ±30 min,
        # with the floor; and its gate, as `usual_at` finds them
        first_block = int(self.block[since:].min())
        start = np.arange(first_block, int(self.block.max()) + 1, dtype=np.int64) * 30
        raw = np.maximum(rate_c[(start - _EDGE) // 60 - low], rate_c[(start + _EDGE) // 60 - low])
        usual = np.maximum(raw, state.floor)
        gates = self._gates(usual)
        at_block = self.block[since:] - first_block
        if not since:
            self.usual = np.zeros(len(self.block))
            self.gate = np.zeros(len(self.block))
            self.expected = np.zeros(len(self.block) + 1)
        self.usual[since:], self.gate[since:] = usual[at_block], gates[at_block]
        np.cumsum(self.usual[since:], out=self.expected[since + 1:])
        self.expected[since + 1:] += self.expected[since]

    def _gates(self, usual: np.ndarray) -> np.ndarray:
        """`usual_at`'s gate of each usual count: its grid step as `math` finds it (numpy's
        logarithm, checked with `math` where the step is near a whole number)."""
        state = self.state
        step = math.log(_GRID_STEP)
        up = usual >= _GRID_BASE
        exact = np.log(np.where(up, usual, _GRID_BASE) / _GRID_BASE) / step
        steps = np.where(up, np.floor(exact), -1).astype(np.int64)
        near = np.flatnonzero(up & (np.abs(exact - np.round(exact)) < 1e-6))
        for i in near.tolist():
            steps[i] = math.floor(math.log(float(usual[i]) / _GRID_BASE) / step)
        kinds, index = np.unique(steps, return_inverse=True)
        gates = np.array([_gate(int(k), state.lowest_ratio, state.log_p, state.shape)
                          for k in kinds.tolist()])
        return gates[index.ravel()]

    # finding what the walk must judge ---------------------------------------------------

    def _candidate(self, cursor: int, bound: float) -> tuple[int, float] | None:
        """The first minute from `cursor` whose spans the bound does not rule out, with the
        bound before it; None (and `bound_at_end`) if there is none before `end`."""
        state, first, end = self.state, self.first, self.end
        s = state.s
        rate = state.gate_rate
        pos = cursor
        stretch = 64  # the next minute to judge is often near: look there first
        while pos < end:
            stop = min(end, pos + stretch)
            stretch = min(2 * stretch, _BULK_STRETCH)
            a, b = pos - first, stop - first
            sums = np.cumsum(self.count[a:b] - rate * self.usual[a:b])
            running = sums - np.minimum(np.minimum.accumulate(sums), -bound)
            if s.enabled:
                minute = np.arange(pos, stop, dtype=np.int64)
                longest = np.minimum(np.minimum(state.slow, minute - state.barrier),
                                     minute + 1 - first)
                longest = np.maximum(longest, 0)
                ends = np.arange(a + 1, b + 1)
                k = self.counted[ends] - self.counted[ends - longest]
                judged = ((running >= self.gate[a:b] - _BULK_ROOM) & (minute >= state.warm_until)
                          & (longest > 0) & (k >= s.min_complaints))
                hit = np.flatnonzero(judged)
                if len(hit):
                    held = self._may_hold(hit + a, longest[hit])
                    if held >= 0:
                        t = int(hit[held])
                        return pos + t, float(running[t - 1]) if t else bound
            bound = float(running[-1])
            pos = stop
        self.bound_at_end = bound
        return None

    def _may_hold(self, at: np.ndarray, longest: np.ndarray) -> int:
        """The first of the minutes at these indices where a span may hold, or -1."""
        held = _may_hold(self.state, self.counted, self.expected, at + 1, longest, first=True)
        return int(held[0]) if len(held) else -1

    # laying the state down, and the walk -------------------------------------------------

    def _lay_down(self, cursor: int, bound: float, *, final: bool = False) -> None:
        """The state the walk would have reached with the minutes before `cursor` judged
        (none of them opening anything) and the rows before it counted."""
        state, first, rows = self.state, self.first, self.rows
        committed = max(state.committed, cursor - state.slow, first)
        self._fill_history(committed)
        texts = self.texts
        upto = bisect_left(self.text_seconds, cursor * 60)
        for j in range(self.sampled, upto):
            mention = texts[j][1]
            if mention.text:
                state.sample_usual(int(texts[j][0] // 60), mention.event_id, mention.text,
                                   text_key(mention.event_id))
        self.sampled = max(self.sampled, upto)
        buckets: dict[int, _Minute] = {}
        sum_minute: list[int] = []
        sum_complaints: list[int] = []
        sum_others: list[int] = []
        sum_reach: list[int] = []
        c = o = r = 0
        low, high = int(np.searchsorted(rows, committed)), int(np.searchsorted(rows, cursor))
        for k in range(low, high):
            if not self.has_l[k]:
                continue
            minute = self.rows_l[k]
            bucket = buckets[minute] = _Minute()
            bucket.complaints = self.complaints_l[k]
            bucket.others = self.others_l[k]
            bucket.reach = min(UINT64_MAX, max(0, self.reach[k]))
            c, o, r = c + bucket.complaints, o + bucket.others, r + bucket.reach
            sum_minute.append(minute)
            sum_complaints.append(c)
            sum_others.append(o)
            sum_reach.append(r)
        for j in range(bisect_left(self.text_seconds, committed * 60), upto):
            ts, mention = texts[j]
            held = buckets.get(int(ts // 60))
            if held is None:
                continue
            held.sampling()
            followers = mention.author_followers
            if followers > held.authors.get(mention.author_id, -1):
                held.authors[mention.author_id] = followers
            state._sample(held, ts, mention.event_id, mention.author_id,
                          mention.author_handle, followers, mention.text or "",
                          text_key(mention.event_id))
        state.minutes, state.pending = buckets, []
        state.sum_minute, state.sum_complaints = sum_minute, sum_complaints
        state.sum_others, state.sum_reach = sum_others, sum_reach
        state.head, state.base = 0, (0, 0, 0)
        state.committed, state.cursor, state.bound = committed, cursor, bound
        state.excluded = [span for span in state.excluded if span[1] >= committed]
        state.hour_rates, state.block_rates, state.block_gates = {}, {}, {}
        state.block_first = state.block_end = 0
        if final:
            for k in range(high, len(self.rows_l)):  # the minute `through` falls in
                state.add_counts(self.rows_l[k], self.complaints_l[k], self.others_l[k],
                                 self.reach[k])
            for ts, mention in texts[self.sampled:]:
                state.add_sample(int(ts // 60), mention, ts)
            self.sampled = len(texts)

    def _fill_history(self, committed: int) -> None:
        """The per-hour ring and per-day totals of the minutes before `committed` (less the
        ones kept out), as `_OrgState.commit` leaves them."""
        state, first = self.state, self.first
        hist_hour = np.frombuffer(state.hist_hour, dtype=np.int32)
        hist_count = np.frombuffer(state.hist_count, dtype=np.float32)
        hist_others = np.frombuffer(state.hist_others, dtype=np.float32)
        hist_minutes = np.frombuffer(state.hist_minutes, dtype=np.uint16)
        day_id = np.frombuffer(state.day_id, dtype=np.int32)
        day_count = np.frombuffer(state.day_count, dtype=np.float64)
        day_others = np.frombuffer(state.day_others, dtype=np.float64)
        day_minutes = np.frombuffer(state.day_minutes, dtype=np.int32)
        hist_hour[:] = -1
        day_id[:] = -1
        for values in (hist_count, hist_others, hist_minutes, day_count, day_others,
                       day_minutes):
            values[:] = 0
        done = committed - first
        if done <= 0:
            return
        # Local hours before `edge` hold only minutes before `committed`; the few after it
        # are counted from the minutes just before `committed`.
        edge = int(self.hour[done]) - 1
        tail = slice(max(0, done - 300), done)
        top = int(self.hour[tail].max())
        low_day = max((int(self.hour[0]) - 1) // 24, top // 24 - (_DAY_RING - 1))
        low = max(int(self.hour[0]) - 1, top - (_RING_HOURS - 1))
        start = min(low, low_day * 24)
        hours = np.arange(start, top + 1, dtype=np.int64)
        before = np.clip(hours - self.base_hour, 0, self.hours - 1)
        early = hours < edge
        count = np.where(early, self.h_count[before], 0.0)
        others = np.where(early, self.h_others[before], 0.0)
        minutes = np.where(early, self.h_minutes[before], 0)
        hour, kept = self.hour[tail], self.kept[tail]
        late = kept & (hour >= edge)
        at = hour[late] - start
        count += np.bincount(at, self.count[tail][late], len(hours))
        others += np.bincount(at, self.other[tail][late], len(hours))
        minutes += np.bincount(at, minlength=len(hours))
        ring = hours >= low
        slots = hours[ring] % _RING_HOURS
        hist_hour[slots] = hours[ring]
        hist_count[slots] = count[ring]
        hist_others[slots] = others[ring]
        hist_minutes[slots] = minutes[ring]
        day = hours // 24 - low_day
        inside = day >= 0
        days = top // 24 - low_day + 1
        ids = np.arange(low_day, low_day + days)
        slots = ids % _DAY_RING
        day_id[slots] = ids
        day_count[slots] = np.bincount(day[inside], count[inside], days)
        day_others[slots] = np.bincount(day[inside], others[inside], days)
        day_minutes[slots] = np.bincount(day[inside], minutes[inside], days)

    def _walk(self, i: int, *, exit_calm: bool) -> tuple[int, bool]:
        """The rows from the `i`-th on, as `load_history` takes them, until the organisation
        is calm again (no surge open, the bound below every gate) if `exit_calm`, else to
        the end; (the next row, whether the end was reached)."""
        state, texts, detector = self.state, self.texts, self.detector
        rows = self.rows_l
        began = state.cursor
        while i < len(rows):
            minute = rows[i]
            while self.sampled < len(texts) and texts[self.sampled][0] < minute * 60:
                ts, mention = texts[self.sampled]
                state.add_sample(int(ts // 60), mention, ts)
                self.sampled += 1
            if minute > state.cursor:
                detector._advance(state, minute)
            state.add_counts(minute, self.complaints_l[i], self.others_l[i], self.reach[i])
            i += 1
            if exit_calm and state.surge is None and state.cursor > began:
                return i, False
        for ts, mention in texts[self.sampled:]:
            state.add_sample(int(ts // 60), mention, ts)
        self.sampled = len(texts)
        if state.cursor < self.end:
            detector._advance(state, self.end)
        return i, True
