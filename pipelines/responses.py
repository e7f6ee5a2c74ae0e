"""Pair each actionable mention with its organisation's first response, and run its SLA clock.

This is the pure step behind the `mention_responses` table and the `sla_breach` alerts: it
takes decoded mentions and posts plus each Kafka partition's event-time clock, and returns
the response rows and alert states that changed. No I/O and no wall clock, so the same
events always give the same rows and alerts, whatever the batch sizes, the replay speed or
the number of restarts (CONTRACT.md §1, "What counts as an answer").

What it does, and the choices it makes where the contract leaves room:

- Tracked are mentions whose kind is not `share`. A post answers mention M when its
  `in_reply_to` is M's event id and its `org_id` is M's (the roster has already resolved
  it from the account); a reply from another organisation's account never counts, an
  employee's does (`responder_role` = the post's `account_role`). The first response is the
  earliest such post by `created_at`, ties going to the smaller `event_id`. A reply whose
  mention is not known yet waits as an orphan and pairs when the mention arrives; a
  later-arriving reply with an earlier `created_at` replaces the first response.
- Order: within a call, mentions and posts are merged per partition in offset order
  (`Source.offset`), the order they were written in, so a caller may hand them in any
  order (the restart reads them back sorted by time). All events handed in must come from
  one topic; an organisation's mentions and posts share a partition (the key is org_id).
- Clocks: every partition has an event-time clock, the highest `created_at` among the
  events handed in on it. It moves after each event, and at the end of a call to at
  least the caller's `clocks[p]` (it never goes back). SLA timers fire and state expires
  by the clock of the mention's own partition, after each event: so the outcome depends on
  each partition's event order only, never on where one batch ends and the next begins.
  Pass every event read (shares and posts that reply to nothing too): they move the clock.
- Rows: one per mention and call, its latest state: when it first appears, and whenever its
  first response is set or improved. An open row has version 0; an answered one has
  version 2**62 - first_response_at in epoch ms, so an earlier response wins in the
  ReplacingMergeTree whatever order rows are written in. `pending` versus `unanswered`
  (and `sla_breached` of an open mention) depend on the watermark and are decided by the
  `mention_responses` view from `answer_deadline` and `sla_breach_at`; a mention is not
  written again when its window passes.
- SLA: `sla_breach_at` is the first instant at which more than `first_response_sla`
  business seconds have passed (`add_business_seconds(created_at, sla + 1 ms)`; times have
  millisecond precision, so "more than" is "at least 1 ms more"). When a mention's clock
  reaches it and the mention is still unanswered, alert `sla_breach:<mention_id>` opens
  (version 1), once. Its first response later resolves it (version 2); when that response
  turns out to lie before the breach (it arrived late), the alert was wrong and version 2 is
  `retracted`. When the response is known before the clock reaches the breach but came
  after it, the alert is born resolved (version 2, opened at `sla_breach_at`). If an even
  earlier response replaces the first one after that, the alert gets version 3 (4, ...)
  with the new response. Every state is a function of the mention and of the response it
  names, not of the clock: `observed` of an open alert is the business time elapsed at
  `opened_at` (just over the SLA; the live figure is in `mention_responses`), `observed`
  of a resolved one is `business_response_seconds`. Severity (0-10): 5 for a mention,
  7 for a complaint, plus log2 of how many times the SLA a late answer took (at most +3);
  0 for a retraction.
- Bounded state: a mention leaves once its clock passes created_at + answer_window +
  lateness; an orphan reply once its clock passes its created_at + lateness + the longest
  answer window in the roster. A reply that arrives after its mention left is ignored (the
  row keeps its last state); a mention that arrives after it would have left gets its row,
  paired with a waiting reply if there is one, but no state and no alert. A mention whose
  SLA would run out only after it leaves (an SLA longer than the window) gets no alert.
  Memory is returned an hour of event time later at most (expiry is kept in hourly buckets;
  the checks themselves are exact).
- Restart: the caller rebuilds the state by handing in the mentions and replies of the last
  answer window + lateness with the partitions' clocks. Rows and alert states re-emitted
  then are the same as the ones emitted before (same content, same version), because
  both are functions of the events; only replies ignored the first time for arriving after
  their mention left might now pair, if the events that had moved the clock past that point
  are not handed in again.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.alerts import Alert
from pipelines.decode import Mention, Post
from pipelines.roster import BusinessHours, Roster, format_duration

VERSION_ANSWERED = 2**62
"""An answered row's version is this minus first_response_at in epoch milliseconds."""
NEVER = datetime(2299, 12, 31, tzinfo=UTC)
"""sla_breach_at of a mention whose organisation is never open: its SLA cannot run out."""
ALERT_KIND = "sla_breach"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_ONE_US = timedelta(microseconds=1)
_ONE_MS = timedelta(milliseconds=1)
_BUCKET = timedelta(hours=1)
_DAY_US = 86_400 * _US
_WEEK_US = 7 * _DAY_US
# 1970-01-01 was a Thursday: three days on, week positions start on a Monday.
_MONDAY_SHIFT_US = 3 * _DAY_US
_SPAN_WEEKS = 3
_SPANS_KEPT = 16

_OFFSET_ORDER = attrgetter("source.offset")
_intern = sys.intern


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One state of one actionable mention, as stored in `mention_responses_state`."""

    org_id: str
    mention_id: str
    platform: str
    created_at: datetime
    first_response_id: str | None
    first_response_at: datetime | None
    responder_handle: str | None
    responder_role: str | None  # 'official' or 'employee'
    response_seconds: float | None  # calendar seconds, never below 0
    business_response_seconds: float | None  # within the org's business hours, own zone
    sla_seconds: float  # the org's first_response_sla
    sla_breached: bool  # answered: business_response_seconds > sla_seconds; open: False
    author_id: str
    author_handle: str
    kind: str
    complaint: bool
    answer_deadline: datetime  # created_at + answer_window; unanswered after it
    sla_breach_at: datetime  # first instant at which business time exceeds the SLA
    version: int  # 0 while open; answered: 2**62 - first_response_at in epoch ms


@dataclass
class TrackerOutput:
    """What one `ResponseTracker.process` call changed."""

    rows: list[ResponseRow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


# A reply as the tracker keeps it: a plain tuple, ordered the way first responses are
# (created_at, then event_id), small and cheap to compare.
# (created_at, event_id, account_handle, account_role, org_id, in_reply_to)
_Reply = tuple[datetime, str, str, str, str, str]
_AT, _ID, _HANDLE, _ROLE, _ORG, _TARGET = range(6)


class ResponseTracker:
    """Keeps every actionable mention of the recent past and the replies waiting for one.

    Feed it each batch's new mentions and posts with the partitions' clocks; it returns
    the rows and alert states that changed. See the module docstring for the semantics.
    """

    def __init__(self, roster: Roster, lateness_seconds: int = 86400) -> None:
        if lateness_seconds < 0:
            raise ValueError(f"lateness must be 0 or more seconds, got {lateness_seconds}")
        self._roster = roster
        self._lateness = lateness_seconds
        longest = max([roster.defaults.answer_window,
                       *(org.answer_window for org in roster.orgs.values())])
        self._orphan_keep = timedelta(seconds=longest + lateness_seconds)
        self._terms: dict[str, _Terms] = {}
        self._calendars: dict[tuple[Any, str], _Calendar] = {}
        self._mentions: dict[str, _Open] = {}
        self._orphans: dict[str, _Reply | list[_Reply]] = {}
        self._orphan_count = 0
        self._partitions: dict[int, _Partition] = {}

    @property
    def open_mentions(self) -> int:
        """Mentions held in state (answered ones too: an earlier reply may still come)."""
        return len(self._mentions)

    @property
    def orphan_posts(self) -> int:
        """Replies waiting for a mention that has not arrived."""
        return self._orphan_count

    def clock(self, partition: int) -> datetime | None:
        """The event-time clock of a partition, None before its first event."""
        part = self._partitions.get(partition)
        return part.clock if part is not None else None

    # -- the batch ---------------------------------------------------------------------

    def process(self, mentions: Sequence[Mention], posts: Sequence[Post],
                clocks: Mapping[int, datetime]) -> TrackerOutput:
        """Take a batch of new events, then move each partition's clock to `clocks[p]`."""
        by_partition: dict[int, list[Mention | Post]] = {}
        for events in (mentions, posts):
            for event in events:
                number = event.source.partition
                queue = by_partition.get(number)
                if queue is None:
                    by_partition[number] = [event]
                else:
                    queue.append(event)
        changed: dict[str, _Open] = {}
        alerts: list[Alert] = []
        for number, queue in by_partition.items():
            queue.sort(key=_OFFSET_ORDER)  # two sorted runs: a linear merge
            part = self._partition(number)
            clock = part.clock
            for event in queue:
                if type(event) is Mention:
                    if event.kind != "share":
                        self._take_mention(event, part, changed)
                elif event.in_reply_to is not None:
                    self._take_reply(event, part, changed, alerts)  # type: ignore[arg-type]
                created = event.created_at
                if clock is None or created > clock:
                    part.clock = clock = created
                timers = part.timers
                if timers and timers[0][0] <= clock:
                    self._fire(timers, clock, alerts)
                if part.next_drop is not None and part.next_drop <= clock:
                    self._drop(part, clock)
        for number, moved in clocks.items():
            part = self._partition(number)
            if part.clock is None or moved > part.clock:
                part.clock = moved
            clock = part.clock
            if part.timers and part.timers[0][0] <= clock:
                self._fire(part.timers, clock, alerts)
            if part.next_drop is not None and part.next_drop <= clock:
                self._drop(part, clock)
        return TrackerOutput([self._row(state) for state in changed.values()], alerts)

    def _partition(self, number: int) -> _Partition:
        part = self._partitions.get(number)
        if part is None:
            part = self._partitions[number] = _Partition()
        return part

    def _terms_of(self, org_id: str) -> _Terms:
        terms = self._terms.get(org_id)
        if terms is None:
            org = self._roster.org(org_id)
            hours = org.business_hours
            key = (hours.week, hours.timezone)
            calendar = self._calendars.get(key)
            if calendar is None:
                calendar = self._calendars[key] = _Calendar(hours)
            terms = self._terms[org_id] = _Terms(
                _intern(org_id), org.name, calendar, org.first_response_sla,
                org.answer_window, self._lateness,
            )
        return terms

    # -- events -------------------------------------------------------------------------

    def _take_mention(self, mention: Mention, part: _Partition,
                      changed: dict[str, _Open]) -> None:
        mention_id = mention.event_id
        if mention_id in self._mentions:
            return  # a copy of one already tracked
        terms = self._terms_of(mention.org_id)
        created = mention.created_at
        state = _Open(terms, mention_id, _intern(mention.platform), created,
                      _intern(mention.author_id), _intern(mention.author_handle),
                      _intern(mention.kind), bool(mention.complaint), mention.source.partition,
                      terms.breach_at(created))
        clock = part.clock
        if self._orphans:
            waiting = self._orphans.pop(mention_id, None)
            if waiting is not None:
                candidates = (waiting,) if type(waiting) is tuple else waiting
                self._orphan_count -= len(candidates)
                keep = self._orphan_keep
                for reply in candidates:
                    if reply[_ORG] == terms.org_id and (clock is None
                                                       or clock <= reply[_AT] + keep):
                        state.response = reply
        changed[mention_id] = state
        expires = created + terms.keep
        if clock is not None and clock > expires:
            return  # its state would be gone already: the row, nothing more
        self._mentions[mention_id] = state
        part.expire(expires, state)
        if state.breach_at <= expires:
            heappush(part.timers, (state.breach_at, mention_id, state))

    def _take_reply(self, post: Post, part: _Partition, changed: dict[str, _Open],
                    alerts: list[Alert]) -> None:
        target: str = post.in_reply_to  # type: ignore[assignment]
        reply: _Reply = (post.created_at, post.event_id, post.account_handle,
                         post.account_role, post.org_id, target)
        state = self._mentions.get(target)
        if state is not None:
            terms = state.terms
            if post.org_id != terms.org_id:
                return  # another organisation's reply never counts
            home = self._partitions[state.partition].clock
            if home is not None and home > state.created_at + terms.keep:
                return  # the mention has left the state: too late
            current = state.response
            if current is not None and not reply < current:
                return
            state.response = reply
            changed[target] = state
            if state.alert_version:
                state.alert_version += 1
                alerts.append(self._settled_alert(state))
            return
        keep_until = post.created_at + self._orphan_keep
        if part.clock is not None and part.clock > keep_until:
            return
        waiting = self._orphans.get(target)
        if waiting is None:
            self._orphans[target] = reply
            self._orphan_count += 1
        elif type(waiting) is tuple:
            if waiting[_ORG] == reply[_ORG]:
                if not reply < waiting:
                    return
                self._orphans[target] = reply
            else:
                self._orphans[target] = [waiting, reply]
                self._orphan_count += 1
        else:
            assert isinstance(waiting, list)
            for i, other in enumerate(waiting):
                if other[_ORG] == reply[_ORG]:
                    if not reply < other:
                        return
                    waiting[i] = reply
                    break
            else:
                waiting.append(reply)
                self._orphan_count += 1
        part.expire(keep_until, reply)

    # -- the clock ----------------------------------------------------------------------

    def _fire(self, timers: list[tuple[datetime, str, _Open]], clock: datetime,
              alerts: list[Alert]) -> None:
        """Every SLA that has run out by `clock`, in (sla_breach_at, mention_id) order."""
        mentions = self._mentions
        while timers and timers[0][0] <= clock:
            _, mention_id, state = heappop(timers)
            if state.alert_version or mentions.get(mention_id) is not state:
                continue
            if state.response is None:
                state.alert_version = 1
                alerts.append(self._open_alert(state))
            elif _business_seconds(state, state.response[_AT]) > state.terms.sla_seconds:
                state.alert_version = 2
                alerts.append(self._settled_alert(state))

    def _drop(self, part: _Partition, clock: datetime) -> None:
        """Forget the mentions and orphans of every hourly bucket the clock has passed."""
        mentions, orphans = self._mentions, self._orphans
        for item in part.passed(clock):
            if type(item) is _Open:
                if mentions.get(item.mention_id) is item:
                    del mentions[item.mention_id]
                continue
            target = item[_TARGET]  # type: ignore[index]
            waiting = orphans.get(target)
            if waiting is item:
                del orphans[target]
                self._orphan_count -= 1
            elif type(waiting) is list:
                for i, other in enumerate(waiting):
                    if other is item:
                        del waiting[i]
                        self._orphan_count -= 1
                        if not waiting:
                            del orphans[target]
                        break

    # -- output -------------------------------------------------------------------------

    def _row(self, state: _Open) -> ResponseRow:
        terms = state.terms
        created = state.created_at
        reply = state.response
        if reply is None:
            return ResponseRow(
                terms.org_id, state.mention_id, state.platform, created, None, None, None, None,
                None, None, terms.sla_seconds, False, state.author_id, state.author_handle,
                state.kind, state.complaint, created + terms.window, state.breach_at, 0,
            )
        at = reply[_AT]
        business = _business_seconds(state, at)
        return ResponseRow(
            terms.org_id, state.mention_id, state.platform, created, reply[_ID], at,
            reply[_HANDLE], reply[_ROLE], max(0.0, (at - created) / _ONE_US / _US), business,
            terms.sla_seconds, business > terms.sla_seconds, state.author_id,
            state.author_handle, state.kind, state.complaint, created + terms.window,
            state.breach_at, VERSION_ANSWERED - (at - _EPOCH) // _ONE_MS,
        )

    def _open_alert(self, state: _Open) -> Alert:
        terms = state.terms
        breach_at = state.breach_at
        return Alert(
            alert_id=f"{ALERT_KIND}:{state.mention_id}", org_id=terms.org_id, kind=ALERT_KIND,
            status="open", opened_at=breach_at, resolved_at=None,
            severity=_severity(state.complaint, 1.0),
            observed=round(_business_seconds(state, breach_at), 3),
            expected=terms.sla_seconds,
            summary=(f"{terms.name}: mention by {_who(state)} unanswered for more than "
                     f"{format_duration(terms.sla)} business time"),
            sample_event_ids=(state.mention_id,), updated_at=breach_at, version=1,
            details=_details(state),
        )

    def _settled_alert(self, state: _Open) -> Alert:
        """The alert's state once the mention's (current) first response is known."""
        terms = state.terms
        reply = state.response
        assert reply is not None
        at = reply[_AT]
        business = _business_seconds(state, at)
        late = business > terms.sla_seconds
        sla = format_duration(terms.sla)
        if late:
            summary = (f"{terms.name}: mention by {_who(state)} answered after "
                       f"{format_duration(math.ceil(business))} business time, more than {sla}")
        else:
            summary = (f"{terms.name}: mention by {_who(state)} was answered within {sla} "
                       f"business time after all ({format_duration(math.floor(business))})")
        return Alert(
            alert_id=f"{ALERT_KIND}:{state.mention_id}", org_id=terms.org_id, kind=ALERT_KIND,
            status="resolved", opened_at=state.breach_at, resolved_at=at,
            severity=_severity(state.complaint, business / terms.sla_seconds) if late else 0.0,
            observed=business, expected=terms.sla_seconds, summary=summary,
            sample_event_ids=(state.mention_id,), updated_at=at, version=state.alert_version,
            retracted=not late,
            details={**_details(state), "first_response_id": reply[_ID],
                     "responder_handle": reply[_HANDLE], "responder_role": reply[_ROLE]},
        )


def _who(state: _Open) -> str:
    handle = state.author_handle.lstrip("@")
    return f"@{handle}" if handle else f"author {state.author_id}"


def _details(state: _Open) -> dict[str, Any]:
    return {"platform": state.platform, "mention_created_at": state.created_at.isoformat(),
            "complaint": state.complaint}


def _severity(complaint: bool, times_sla: float) -> float:
    base = 7.0 if complaint else 5.0
    return round(min(10.0, base + min(3.0, max(0.0, math.log2(times_sla)))), 2)


def _business_seconds(state: _Open, end: datetime) -> float:
    return state.terms.calendar.seconds_between(state.created_at, end)


# -- per-mention and per-partition state ------------------------------------------------


class _Terms:
    """An organisation's response promises and clock, looked up once per org_id."""

    __slots__ = ("breach_after_us", "calendar", "keep", "name", "org_id", "sla",
                 "sla_seconds", "window")

    def __init__(self, org_id: str, name: str, calendar: _Calendar, sla: int, window: int,
                 lateness: int) -> None:
        self.org_id = org_id
        self.name = name
        self.calendar = calendar
        self.sla = sla
        self.sla_seconds = float(sla)
        self.breach_after_us = sla * _US + 1000  # more than the SLA: 1 ms more
        self.window = timedelta(seconds=window)
        self.keep = timedelta(seconds=window + lateness)

    def breach_at(self, created_at: datetime) -> datetime:
        return self.calendar.deadline(created_at, self.breach_after_us)


class _Open:
    """One tracked mention: what its row needs, its first response so far, its alert."""

    __slots__ = ("alert_version", "author_handle", "author_id", "breach_at", "complaint",
                 "created_at", "kind", "mention_id", "partition", "platform", "response",
                 "terms")

    def __init__(self, terms: _Terms, mention_id: str, platform: str, created_at: datetime,
                 author_id: str, author_handle: str, kind: str, complaint: bool,
                 partition: int, breach_at: datetime) -> None:
        self.terms = terms
        self.mention_id = mention_id
        self.platform = platform
        self.created_at = created_at
        self.author_id = author_id
        self.author_handle = author_handle
        self.kind = kind
        self.complaint = complaint
        self.partition = partition
        self.breach_at = breach_at
        self.response: _Reply | None = None
        self.alert_version = 0  # the last alert state emitted; 0: none


class _Partition:
    """A partition's clock, its SLA timers, and its state bucketed by the hour it expires."""

    __slots__ = ("buckets", "clock", "hours", "next_drop", "timers")

    def __init__(self) -> None:
        self.clock: datetime | None = None
        self.timers: list[tuple[datetime, str, _Open]] = []  # heap
        self.buckets: dict[int, list[_Open | _Reply]] = {}
        self.hours: list[int] = []  # heap of the buckets' hours since the epoch
        self.next_drop: datetime | None = None  # when the earliest bucket may go

    def expire(self, at: datetime, item: _Open | _Reply) -> None:
        """Hold `item` until the clock has passed the end of the hour in which `at` falls."""
        hour = (at - _EPOCH) // _BUCKET
        bucket = self.buckets.get(hour)
        if bucket is not None:
            bucket.append(item)
            return
        self.buckets[hour] = [item]
        heappush(self.hours, hour)
        if self.hours[0] == hour:
            self.next_drop = _EPOCH + (hour + 1) * _BUCKET

    def passed(self, clock: datetime) -> list[_Open | _Reply]:
        """Take out every bucket whose hour ended at or before `clock`."""
        gone: list[_Open | _Reply] = []
        hours = self.hours
        while hours and _EPOCH + (hours[0] + 1) * _BUCKET <= clock:
            gone.extend(self.buckets.pop(heappop(hours)))
        self.next_drop = _EPOCH + (hours[0] + 1) * _BUCKET if hours else None
        return gone


# -- business time, fast ----------------------------------------------------------------


class _Calendar:
    """Business hours as UTC open intervals, a few weeks at a time.

    `BusinessHours` answers exactly but walks its time-zone data on every call (about
    5 µs); the tracker asks for an SLA deadline per mention and for business seconds per
    answer, at 100 000 mentions/s. Within a stretch of weeks the open intervals in UTC are
    fixed, so they are laid out once per stretch and each question becomes a bisection.
    The rule is the roster's: an instant is open when the organisation's wall clock (UTC
    plus the offset in force at that instant) reads a time inside the weekly pattern.
    Questions that reach past a stretch go to `BusinessHours`; a test checks that both agree.
    """

    __slots__ = ("always", "hours", "never", "pattern", "spans")

    def __init__(self, hours: BusinessHours) -> None:
        self.hours = hours
        weekly: list[tuple[int, int]] = []
        for day, intervals in enumerate(hours.week):
            for opens, closes in intervals:
                start, end = day * _DAY_US + opens * _US, day * _DAY_US + closes * _US
                if weekly and weekly[-1][1] >= start:
                    weekly[-1] = (weekly[-1][0], max(weekly[-1][1], end))
                else:
                    weekly.append((start, end))
        self.pattern = tuple(weekly)
        self.always = self.pattern == ((0, _WEEK_US),)
        self.never = not self.pattern
        self.spans: dict[int, _Span] = {}

    def _span(self, start_us: int) -> _Span:
        index = start_us // _WEEK_US
        span = self.spans.get(index)
        if span is None:
            if len(self.spans) >= _SPANS_KEPT:
                self.spans.clear()
            span = self.spans[index] = _Span(self.pattern, self.hours.timezone, index)
        return span

    def deadline(self, start: datetime, amount_us: int) -> datetime:
        """The earliest instant by which `amount_us` (> 0) business µs have passed since start.

        NEVER when the organisation is never open.
        """
        if self.always:
            return start + timedelta(microseconds=amount_us)
        if self.never:
            return NEVER
        start_us = (start - _EPOCH) // _ONE_US
        end_us = self._span(start_us).deadline(start_us, amount_us)
        if end_us is None:
            return self.hours.add_business_seconds(start, amount_us / _US)
        return start + timedelta(microseconds=end_us - start_us)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) inside business hours; 0 when end <= start."""
        if end <= start or self.never:
            return 0.0
        if self.always:
            return (end - start) / _ONE_US / _US
        start_us = (start - _EPOCH) // _ONE_US
        end_us = (end - _EPOCH) // _ONE_US
        span = self._span(start_us)
        if end_us > span.end:
            return self.hours.business_seconds(start, end)
        return (span.open_until(end_us) - span.open_until(start_us)) / _US


class _Span:
    """The open intervals in UTC µs of `_SPAN_WEEKS` weeks from week `index` since the epoch."""

    __slots__ = ("before", "end", "ends", "starts", "through")

    def __init__(self, pattern: tuple[tuple[int, int], ...], timezone: str, index: int) -> None:
        lo, hi = index * _WEEK_US, (index + _SPAN_WEEKS) * _WEEK_US
        starts: list[int] = []
        ends: list[int] = []
        for a, b, offset in _offset_pieces(timezone, lo, hi):
            # On the wall-clock axis (UTC + offset, weeks from a Monday) the pattern repeats
            # every week; map each week's openings back to UTC and clip them to [a, b).
            week = (a + offset + _MONDAY_SHIFT_US) // _WEEK_US
            while True:
                monday = week * _WEEK_US - _MONDAY_SHIFT_US - offset  # UTC of wall Mon 00:00
                if monday >= b:
                    break
                for opens, closes in pattern:
                    s, e = max(monday + opens, a), min(monday + closes, b)
                    if s >= e:
                        continue
                    if ends and ends[-1] == s:
                        ends[-1] = e
                    else:
                        starts.append(s)
                        ends.append(e)
                week += 1
        before, through, total = [], [], 0
        for s, e in zip(starts, ends, strict=True):
            before.append(total)
            total += e - s
            through.append(total)
        self.end = hi
        self.starts, self.ends = starts, ends
        self.before, self.through = before, through

    def open_until(self, us: int) -> int:
        """Open µs of the span up to instant `us`."""
        i = bisect_right(self.starts, us) - 1
        if i < 0:
            return 0
        return self.before[i] + min(us, self.ends[i]) - self.starts[i]

    def deadline(self, start_us: int, amount_us: int) -> int | None:
        """The earliest instant with `amount_us` open µs after start, None past the span."""
        target = self.open_until(start_us) + amount_us
        i = bisect_left(self.through, target)
        if i == len(self.through):
            return None
        return self.starts[i] + target - self.before[i]


@lru_cache(maxsize=1024)
def _offset_pieces(timezone: str, lo: int, hi: int) -> tuple[tuple[int, int, int], ...]:
    """(from, to, UTC offset) pieces of [lo, hi) in µs, within which the offset is constant.

    Offsets are sampled once a day and each change is pinned to the second by bisection, as
    the roster does; tz data changes offsets on whole seconds, never twice within a day.
    """
    zone = ZoneInfo(timezone)

    def offset(second: int) -> int:
        value = datetime.fromtimestamp(second, zone).utcoffset()
        assert value is not None
        return value // _ONE_US

    pieces = []
    first, last = lo // _US, hi // _US
    start, start_offset = first, offset(first)
    before, before_offset = first, start_offset
    for after in [*range(first + 86_400, last, 86_400), last]:
        after_offset = offset(after)
        while before_offset != after_offset:
            low, high = before, after  # offset(low) == before_offset != offset(high)
            while high - low > 1:
                mid = (low + high) // 2
                if offset(mid) == before_offset:
                    low = mid
                else:
                    high = mid
            pieces.append((start * _US, high * _US, start_offset))
            start, start_offset = high, offset(high)
            before, before_offset = high, start_offset
        before, before_offset = after, after_offset
    pieces.append((start * _US, hi, start_offset))
    return tuple(pieces)
