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
- Clocks: every partition has an event-time clock, the highest `clock_at` among the
  events handed in on it: their `created_at`, but never more than a minute past the time
  Kafka received them (`pipelines.decode.clock_time`), so that one event dated ahead
  cannot make every SLA on its partition run out. It moves after each event, and at the
  end of a call to at least the caller's `clocks[p]` (it never goes back). SLA timers fire
  and state expires by the clock of the mention's own partition, after each event: so the
  outcome depends on each partition's event order only, never on where one batch ends and
  the next begins.
  Pass every event read (shares and posts that reply to nothing too): they move the clock.
- Rows: one per mention and call, its latest state: when it first appears, and whenever its
  first response is set or improved. An open row has version 0; an answered one has
  version 2**62 - first_response_at in epoch ms, so an earlier response wins in the
  ReplacingMergeTree whatever order rows are written in (two responses in the same
  millisecond tie, and the row written last, the better one, wins). `pending` versus
  `unanswered` (and `sla_breached` of an open mention) depend on the watermark and are
  decided by the `mention_responses` view from `answer_deadline` and `sla_breach_at`; a
  mention is not written again when its window passes.
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
  answer window in the roster (the best orphan per mention id and organisation is kept).
  A reply that arrives after its mention left is ignored (the row keeps its last state); a
  mention that arrives after it would have left gets its row, paired with a waiting reply
  if there is one, but no state and no alert. A mention whose SLA would run out only after
  it leaves (an SLA longer than the window) gets no alert. These checks are exact; the
  memory goes at the end of the hour of event time in which it expired (state is kept on
  hourly shelves, see `_Shelves`).
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
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from heapq import heappop, heappush, heapreplace
from operator import attrgetter
from typing import Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from pipelines.alerts import Alert
from pipelines.decode import Mention, Post
from pipelines.roster import BusinessHours, Roster, format_duration

VERSION_ANSWERED = 2**62
"""An answered row's version is this minus first_response_at in epoch milliseconds."""
NEVER = datetime(2299, 12, 31, tzinfo=UTC)
"""sla_breach_at of a mention whose organisation is never open: its SLA cannot run out."""
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
ALERT_KIND = "sla_breach"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_ONE_US = timedelta(microseconds=1)
_ONE_MS = timedelta(milliseconds=1)
_HOUR = timedelta(hours=1)
_PARTITION_BITS = 20  # shelf label: hour since the epoch, then the partition
_DAY_US = 86_400 * _US
_WEEK_US = 7 * _DAY_US
# 1970-01-01 was a Thursday: three days on, week positions start on a Monday.
_MONDAY_SHIFT_US = 3 * _DAY_US
_SPAN_WEEKS = 3
_CHUNK = 256
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

# What the tracker keeps is plain tuples of plain values: the garbage collector stops
# scanning such tuples after their first collection, and with a million open mentions an
# object per mention made every full collection walk them all (most of the run time).
#
# A reply: ordered the way first responses are, by created_at and then event_id.
# (created_at, event_id, account_handle, account_role, partition it was read from)
_Reply = tuple[datetime, str, str, str, int]
_AT: Final = 0
_POST_ID: Final = 1
_HANDLE: Final = 2
_ROLE: Final = 3
_READ_FROM: Final = 4
# A tracked mention, keyed by its event id; replaced when its response or alert moves on.
# (org_id, platform, created_at, author_id, author_handle, kind, complaint, partition,
#  sla_breach_at, first response or None, its business_response_seconds or None,
#  version of the last alert state emitted or 0)
_State = tuple[str, str, datetime, str, str, str, bool, int, datetime, _Reply | None,
               float | None, int]
_ORG: Final = 0
_PLATFORM: Final = 1
_CREATED: Final = 2
_AUTHOR_ID: Final = 3
_AUTHOR_HANDLE: Final = 4
_KIND: Final = 5
_COMPLAINT: Final = 6
_PARTITION: Final = 7
_BREACH: Final = 8
_RESPONSE: Final = 9
_BUSINESS: Final = 10
_ALERT: Final = 11


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
        self._mentions: _Shelves[_State] = _Shelves()
        # Replies waiting for their mention: the best yet per mention id and organisation,
        # each on its own partition's shelves (another organisation's never counts).
        self._orphans: _Shelves[_Reply] = _Shelves()
        self._partitions: dict[int, _Partition] = {}

    @property
    def open_mentions(self) -> int:
        """Mentions held in state (answered ones too: an earlier reply may still come)."""
        return len(self._mentions.index)

    @property
    def orphan_posts(self) -> int:
        """Replies waiting for a mention that has not arrived."""
        return len(self._orphans.index)

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
        changed: dict[str, _State] = {}
        alerts: list[Alert] = []
        for number, queue in by_partition.items():
            queue.sort(key=_OFFSET_ORDER)  # two sorted runs: a linear merge
            part = self._partition(number)
            clock = part.clock
            for event in queue:
                if isinstance(event, Mention):
                    if event.kind != "share":
                        self._take_mention(event, part, changed)
                elif event.in_reply_to is not None:
                    self._take_reply(event, event.in_reply_to, part, changed, alerts)
                at = event.clock_at
                if clock is None or at > clock:
                    part.clock = clock = at
                if part.next_timer is not None and part.next_timer <= clock:
                    self._fire(part, clock, alerts)
                if part.next_drop is not None and clock >= part.next_drop:
                    self._drop(part, clock)
        for number, moved in clocks.items():
            part = self._partition(number)
            if part.clock is None or moved > part.clock:
                part.clock = moved
            clock = part.clock
            if part.next_timer is not None and part.next_timer <= clock:
                self._fire(part, clock, alerts)
            if part.next_drop is not None and clock >= part.next_drop:
                self._drop(part, clock)
        rows = [self._row(mention_id, state) for mention_id, state in changed.items()]
        return TrackerOutput(rows, alerts)

    def _partition(self, number: int) -> _Partition:
        part = self._partitions.get(number)
        if part is None:
            part = self._partitions[number] = _Partition(number)
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
                      changed: dict[str, _State]) -> None:
        mention_id = mention.event_id
        if mention_id in self._mentions.index:
            return  # a copy of one already tracked
        terms = self._terms.get(mention.org_id) or self._terms_of(mention.org_id)
        created = mention.created_at
        breach_at = terms.breach_at(created)
        clock = part.clock
        response = None
        if self._orphans.index:
            response = self._orphans.pop(_orphan_key(mention_id, terms.org_id))
            if response is not None:
                read_at = self._partitions[response[_READ_FROM]].clock
                if read_at is not None and read_at > response[_AT] + self._orphan_keep:
                    response = None  # it had left the state already
        state: _State = (
            terms.org_id, _intern(mention.platform), created, _intern(mention.author_id),
            _intern(mention.author_handle), _intern(mention.kind), bool(mention.complaint),
            mention.source.partition, breach_at, response,
            None if response is None else terms.seconds_between(created, response[_AT]), 0,
        )
        changed[mention_id] = state
        expires = created + terms.keep
        if clock is not None and clock > expires:
            return  # its state would be gone already: the row, nothing more
        label = part.label(expires)
        if self._mentions.put_new(mention_id, state, label):
            part.add_shelf(label)
        if breach_at <= expires:
            part.set_timer(terms.org_id, breach_at, mention_id)

    def _take_reply(self, post: Post, target: str, part: _Partition,
                    changed: dict[str, _State], alerts: list[Alert]) -> None:
        reply: _Reply = (post.created_at, post.event_id, post.account_handle,
                         post.account_role, part.number)
        state = self._mentions.get(target)
        if state is not None:
            if post.org_id != state[_ORG]:
                return  # another organisation's reply never counts
            home = self._partitions[state[_PARTITION]].clock
            if home is not None and home > state[_CREATED] + self._terms[state[_ORG]].keep:
                return  # the mention has left the state: too late
            current = state[_RESPONSE]
            if current is not None and not reply < current:
                return
            version = state[_ALERT] + 1 if state[_ALERT] else 0
            business = self._terms[state[_ORG]].seconds_between(state[_CREATED], reply[_AT])
            state = (*state[:_RESPONSE], reply, business, version)
            self._mentions.replace(target, state)
            changed[target] = state
            if version:
                alerts.append(self._settled_alert(target, state))
            return
        keep_until = post.created_at + self._orphan_keep
        if part.clock is not None and part.clock > keep_until:
            return
        key = _orphan_key(target, post.org_id)
        waiting = self._orphans.get(key)
        if waiting is not None and not reply < waiting:
            return
        label = part.label(keep_until)
        if self._orphans.put(key, reply, label):
            part.add_shelf(label)

    # -- the clock ----------------------------------------------------------------------

    def _fire(self, part: _Partition, clock: datetime, alerts: list[Alert]) -> None:
        """Every SLA of the partition that has run out by `clock`."""
        get = self._mentions.get
        heads = part.timer_heads
        while heads and heads[0][0] <= clock:
            org_id = heads[0][1]
            queue = part.timers[org_id]
            while True:  # the organisation's queue, in deadline order, up to the clock
                mention_id = queue.first()
                state = get(mention_id)
                if state is not None and state[_BREACH] > clock:
                    heapreplace(heads, (state[_BREACH], org_id))
                    break
                queue.popleft()
                if state is not None and not state[_ALERT]:
                    self._breach(mention_id, state, alerts)
                if not queue.size:
                    heappop(heads)
                    break
        stragglers = part.stragglers
        while stragglers and stragglers[0][0] <= clock:
            mention_id = heappop(stragglers)[1]
            state = get(mention_id)
            if state is not None and not state[_ALERT]:
                self._breach(mention_id, state, alerts)
        part.next_timer = min(heads[0][0] if heads else NEVER,
                              stragglers[0][0] if stragglers else NEVER)

    def _breach(self, mention_id: str, state: _State, alerts: list[Alert]) -> None:
        """The mention's SLA has run out: open its alert, or give it its resolved state."""
        business = state[_BUSINESS]
        if business is None:
            state = (*state[:_ALERT], 1)
            self._mentions.replace(mention_id, state)
            alerts.append(self._open_alert(mention_id, state))
        elif business > self._terms[state[_ORG]].sla_seconds:
            state = (*state[:_ALERT], 2)
            self._mentions.replace(mention_id, state)
            alerts.append(self._settled_alert(mention_id, state))

    def _drop(self, part: _Partition, clock: datetime) -> None:
        """Forget the mentions and orphans of every hour of expiry that the clock has passed.

        Exact to the hour: the checks when a reply or a mention arrives are exact.
        """
        for label in part.passed(clock):
            self._mentions.drop(label)
            self._orphans.drop(label)

    # -- output -------------------------------------------------------------------------

    def _row(self, mention_id: str, state: _State) -> ResponseRow:
        terms = self._terms[state[_ORG]]
        created = state[_CREATED]
        reply = state[_RESPONSE]
        if reply is None:
            return _new_row(
                state[_ORG], mention_id, state[_PLATFORM], created, None, None, None, None,
                None, None, terms.sla_seconds, False, state[_AUTHOR_ID], state[_AUTHOR_HANDLE],
                state[_KIND], state[_COMPLAINT], created + terms.window, state[_BREACH], 0,
            )
        at = reply[_AT]
        business = state[_BUSINESS]
        assert business is not None
        return _new_row(
            state[_ORG], mention_id, state[_PLATFORM], created, reply[_POST_ID], at,
            reply[_HANDLE], reply[_ROLE], max(0.0, (at - created) / _ONE_US / _US), business,
            terms.sla_seconds, business > terms.sla_seconds, state[_AUTHOR_ID],
            state[_AUTHOR_HANDLE], state[_KIND], state[_COMPLAINT], created + terms.window,
            state[_BREACH], VERSION_ANSWERED - (at - _EPOCH) // _ONE_MS,
        )

    def _open_alert(self, mention_id: str, state: _State) -> Alert:
        terms = self._terms[state[_ORG]]
        breach_at = state[_BREACH]
        return Alert(
            alert_id=ALERT_KIND + ":" + mention_id, org_id=terms.org_id, kind=ALERT_KIND,
            status="open", opened_at=breach_at, resolved_at=None,
            severity=_OPEN_SEVERITY[state[_COMPLAINT]],
            # Business time elapsed at opened_at, by the definition of sla_breach_at.
            observed=terms.breach_after_us / _US, expected=terms.sla_seconds,
            summary=f"{terms.name}: mention by {_who(state)} {terms.unanswered}",
            sample_event_ids=(mention_id,), updated_at=breach_at, version=1, details={},
        )

    def _settled_alert(self, mention_id: str, state: _State) -> Alert:
        """The alert's state once the mention's (current) first response is known."""
        terms = self._terms[state[_ORG]]
        reply = state[_RESPONSE]
        assert reply is not None
        at = reply[_AT]
        business = state[_BUSINESS]
        assert business is not None
        late = business > terms.sla_seconds
        sla = format_duration(terms.sla)
        if late:
            summary = (f"{terms.name}: mention by {_who(state)} answered after "
                       f"{format_duration(math.ceil(business))} business time, more than {sla}")
        else:
            summary = (f"{terms.name}: mention by {_who(state)} was answered within {sla} "
                       f"business time after all ({format_duration(math.floor(business))})")
        return Alert(
            alert_id=ALERT_KIND + ":" + mention_id, org_id=terms.org_id, kind=ALERT_KIND,
            status="resolved", opened_at=state[_BREACH], resolved_at=at,
            severity=_severity(state[_COMPLAINT], business / terms.sla_seconds) if late else 0.0,
            observed=business, expected=terms.sla_seconds, summary=summary,
            sample_event_ids=(mention_id,), updated_at=at, version=state[_ALERT],
            retracted=not late,
            details={"first_response_id": reply[_POST_ID], "responder_handle": reply[_HANDLE],
                     "responder_role": reply[_ROLE]},
        )


def _orphan_key(mention_id: str, org_id: str) -> str:
    # Org ids never hold a unit separator, so the key names one (mention, org) pair.
    return mention_id + "\x1f" + org_id


def _who(state: _State) -> str:
    handle = state[_AUTHOR_HANDLE].lstrip("@")
    return "@" + handle if handle else "author " + state[_AUTHOR_ID]


_OPEN_SEVERITY = {False: 5.0, True: 7.0}


def _severity(complaint: bool, times_sla: float) -> float:
    base = _OPEN_SEVERITY[complaint]
    return round(min(10.0, base + min(3.0, max(0.0, math.log2(times_sla)))), 2)


# ResponseRow is frozen; its generated __init__ sets each of the 19 fields through
# object.__setattr__ (3 µs a row), and a row is built for every mention. Setting the slots
# through their descriptors does the same in half the time.
_SET_ROW_FIELDS = tuple(getattr(ResponseRow, f.name).__set__ for f in fields(ResponseRow))
_SET_ORG_ID, _SET_MENTION_ID, _SET_PLATFORM, _SET_CREATED_AT, _SET_FIRST_RESPONSE_ID, \
    _SET_FIRST_RESPONSE_AT, _SET_RESPONDER_HANDLE, _SET_RESPONDER_ROLE, _SET_RESPONSE_SECONDS, \
    _SET_BUSINESS_RESPONSE_SECONDS, _SET_SLA_SECONDS, _SET_SLA_BREACHED, _SET_AUTHOR_ID, \
    _SET_AUTHOR_HANDLE, _SET_KIND, _SET_COMPLAINT, _SET_ANSWER_DEADLINE, _SET_SLA_BREACH_AT, \
    _SET_VERSION = _SET_ROW_FIELDS


def _new_row(org_id: str, mention_id: str, platform: str, created_at: datetime,
             first_response_id: str | None, first_response_at: datetime | None,
             responder_handle: str | None, responder_role: str | None,
             response_seconds: float | None, business_response_seconds: float | None,
             sla_seconds: float, sla_breached: bool, author_id: str, author_handle: str,
             kind: str, complaint: bool, answer_deadline: datetime, sla_breach_at: datetime,
             version: int) -> ResponseRow:
    """`ResponseRow(...)` with the same arguments, faster."""
    row = object.__new__(ResponseRow)
    _SET_ORG_ID(row, org_id)
    _SET_MENTION_ID(row, mention_id)
    _SET_PLATFORM(row, platform)
    _SET_CREATED_AT(row, created_at)
    _SET_FIRST_RESPONSE_ID(row, first_response_id)
    _SET_FIRST_RESPONSE_AT(row, first_response_at)
    _SET_RESPONDER_HANDLE(row, responder_handle)
    _SET_RESPONDER_ROLE(row, responder_role)
    _SET_RESPONSE_SECONDS(row, response_seconds)
    _SET_BUSINESS_RESPONSE_SECONDS(row, business_response_seconds)
    _SET_SLA_SECONDS(row, sla_seconds)
    _SET_SLA_BREACHED(row, sla_breached)
    _SET_AUTHOR_ID(row, author_id)
    _SET_AUTHOR_HANDLE(row, author_handle)
    _SET_KIND(row, kind)
    _SET_COMPLAINT(row, complaint)
    _SET_ANSWER_DEADLINE(row, answer_deadline)
    _SET_SLA_BREACH_AT(row, sla_breach_at)
    _SET_VERSION(row, version)
    return row


# -- per-organisation and per-partition state -----------------------------------------


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class _Terms:
    """An organisation's response promises and business clock, looked up once per org_id.

    It remembers the open interval of its latest SLA deadline, and the closed stretch before
    an opening: mentions come roughly in time order, so most deadlines are `created_at +
    SLA` inside that interval, or the same instant for every mention of a closed night.
    """

    __slots__ = ("breach_after", "breach_after_us", "calendar", "closed_breach", "closed_hi",
                 "closed_lo", "keep", "linear_hi", "name", "open_hi", "open_lo", "org_id",
                 "sla", "sla_seconds", "unanswered", "window")

    def __init__(self, org_id: str, name: str, calendar: _Calendar, sla: int, window: int,
                 lateness: int) -> None:
        self.org_id = org_id
        self.name = name
        self.calendar = calendar
        self.sla = sla
        self.sla_seconds = float(sla)
        self.breach_after_us = sla * _US + 1000  # more than the SLA: 1 ms more
        self.breach_after = timedelta(microseconds=self.breach_after_us)
        self.window = timedelta(seconds=window)
        self.keep = timedelta(seconds=window + lateness)
        self.unanswered = f"unanswered for more than {format_duration(sla)} business time"
        self.open_lo, self.open_hi, self.linear_hi = NEVER, _EPOCH, _EPOCH
        self.closed_lo, self.closed_hi, self.closed_breach = NEVER, _EPOCH, NEVER

    def breach_at(self, created: datetime) -> datetime:
        """sla_breach_at of a mention posted at `created`."""
        if self.open_lo <= created <= self.linear_hi:
            return created + self.breach_after
        if self.closed_lo <= created < self.closed_hi:
            return self.closed_breach
        return self._look_up_breach(created)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds of [start, end); 0 when end <= start."""
        if self.open_lo <= start <= end <= self.open_hi:
            return (end - start) / _ONE_US / _US
        return self.calendar.seconds_between(start, end)

    def _look_up_breach(self, created: datetime) -> datetime:
        calendar = self.calendar
        if calendar.always:
            self.open_lo, self.open_hi, self.linear_hi = _EARLIEST, NEVER, NEVER
            return created + self.breach_after
        if calendar.never:
            return NEVER
        after = self.breach_after_us
        us = (created - _EPOCH) // _ONE_US
        span = calendar.span(us)
        i = bisect_right(span.starts, us) - 1
        if i >= 0 and us < span.ends[i]:
            opens, closes = span.starts[i], span.ends[i]
            self.open_lo, self.open_hi = _instant(opens), _instant(closes)
            self.linear_hi = _instant(closes - after)
            if us + after <= closes:
                return created + self.breach_after
        elif i + 1 < len(span.starts):
            reopens = span.starts[i + 1]
            deadline = span.deadline(reopens, after)
            if deadline is not None:
                self.closed_lo = _instant(span.ends[i] if i >= 0 else span.start)
                self.closed_hi = _instant(reopens)
                self.closed_breach = _instant(deadline)
                return self.closed_breach
        return calendar.deadline(created, after)


class _Partition:
    """A partition's clock, its SLA timers, and the hourly shelves its state expires by.

    An organisation's SLA deadlines grow with created_at, and mentions arrive about in
    created_at order, so its timers are a FIFO (with a heap over the FIFOs' heads) rather
    than one big heap: O(1) instead of O(log n) per mention. A mention whose deadline is
    earlier than the last one queued for its organisation (it arrived late) goes to a heap
    of stragglers.
    """

    __slots__ = ("clock", "last_timer", "next_drop", "next_timer", "number", "shelves",
                 "stragglers", "timer_heads", "timers")

    def __init__(self, number: int) -> None:
        self.number = number
        self.clock: datetime | None = None
        self.timers: dict[str, _Queue] = {}  # mention ids by org_id, deadline order
        self.last_timer: dict[str, datetime] = {}  # the deadline at the end of each FIFO
        self.timer_heads: list[tuple[datetime, str]] = []  # heap: (head's deadline, org_id)
        self.stragglers: list[tuple[datetime, str]] = []  # heap: (deadline, mention_id)
        self.next_timer: datetime | None = None  # the earliest deadline of all
        self.shelves: list[int] = []  # heap of the labels of this partition's shelves
        self.next_drop: datetime | None = None  # the end of the earliest shelf's hour

    def set_timer(self, org_id: str, deadline: datetime, mention_id: str) -> None:
        queue = self.timers.get(org_id)
        if queue is None:
            queue = self.timers[org_id] = _Queue()
        if not queue.size:
            queue.append(mention_id)
            self.last_timer[org_id] = deadline
            heappush(self.timer_heads, (deadline, org_id))
        elif deadline >= self.last_timer[org_id]:
            queue.append(mention_id)
            self.last_timer[org_id] = deadline
        else:
            heappush(self.stragglers, (deadline, mention_id))
        if self.next_timer is None or deadline < self.next_timer:
            self.next_timer = deadline

    def label(self, expires: datetime) -> int:
        """The label of this partition's shelf for things that expire at `expires`."""
        return (expires - _EPOCH) // _HOUR << _PARTITION_BITS | self.number

    def add_shelf(self, label: int) -> None:
        heappush(self.shelves, label)
        if self.shelves[0] == label:
            self.next_drop = _shelf_end(label)

    def passed(self, clock: datetime) -> list[int]:
        """Take out the labels of the shelves whose hour ended at or before `clock`."""
        gone = []
        shelves = self.shelves
        while shelves and _shelf_end(shelves[0]) <= clock:
            gone.append(heappop(shelves))
        self.next_drop = _shelf_end(shelves[0]) if shelves else None
        return gone


class _Queue:
    """A FIFO of ids, kept in tuples of `_CHUNK`: the collector stops tracking a full tuple
    of strings, so a long queue (a weekend's mentions waiting for Monday) costs a full
    collection one reference per chunk instead of one per id."""

    __slots__ = ("chunks", "head", "size", "tail")

    def __init__(self) -> None:
        self.chunks: deque[tuple[str, ...]] = deque()
        self.tail: list[str] = []
        self.head = 0  # position of the first id in chunks[0], or in tail without chunks
        self.size = 0

    def append(self, item: str) -> None:
        tail = self.tail
        tail.append(item)
        self.size += 1
        if len(tail) == _CHUNK:
            self.chunks.append(tuple(tail))
            tail.clear()

    def first(self) -> str:
        return self.chunks[0][self.head] if self.chunks else self.tail[self.head]

    def popleft(self) -> str:
        self.size -= 1
        if self.chunks:
            chunk = self.chunks[0]
            item = chunk[self.head]
            self.head += 1
            if self.head == len(chunk):
                self.chunks.popleft()
                self.head = 0
        else:
            item = self.tail[self.head]
            self.head += 1
            if self.head == len(self.tail):
                self.tail.clear()
                self.head = 0
        return item


def _shelf_end(label: int) -> datetime:
    return _EPOCH + ((label >> _PARTITION_BITS) + 1) * _HOUR


_V = TypeVar("_V")


class _Shelves(Generic[_V]):
    """Values by id, on shelves labelled by partition and hour of expiry.

    Why not one dict: with a million entries, every full garbage collection would walk a
    million references. A shelf that no longer changes holds only tuples the collector has
    stopped tracking, so the collector stops tracking the shelf as well and never walks it
    again; the index from id to shelf holds shared ints, which it never walks either. A
    whole shelf goes at once when its hour has passed.
    """

    __slots__ = ("index", "labels", "shelves")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}  # id -> label of its shelf
        self.shelves: dict[int, dict[str, _V]] = {}
        self.labels: dict[int, int] = {}  # one int object per label, shared by the index

    def get(self, key: str) -> _V | None:
        label = self.index.get(key)
        return None if label is None else self.shelves[label][key]

    def put(self, key: str, value: _V, label: int) -> bool:
        """Keep `value` on shelf `label` (moving it there); True when the shelf is new."""
        old = self.index.get(key)
        if old is not None and old != label:
            del self.shelves[old][key]
        shelf = self.shelves.get(label)
        if shelf is None:
            shelf = self.shelves[label] = {}
            self.labels[label] = label
            new = True
        else:
            label = self.labels[label]
            new = False
        shelf[key] = value
        self.index[key] = label
        return new

    def put_new(self, key: str, value: _V, label: int) -> bool:
        """`put` for an id not held yet."""
        shelf = self.shelves.get(label)
        if shelf is not None:
            shelf[key] = value
            self.index[key] = self.labels[label]
            return False
        self.shelves[label] = {key: value}
        self.labels[label] = self.index[key] = label
        return True

    def replace(self, key: str, value: _V) -> None:
        self.shelves[self.index[key]][key] = value

    def pop(self, key: str) -> _V | None:
        label = self.index.pop(key, None)
        return None if label is None else self.shelves[label].pop(key)

    def drop(self, label: int) -> None:
        """Take the shelf away, with all it holds."""
        shelf = self.shelves.pop(label, None)
        if shelf is None:
            return
        del self.labels[label]
        index = self.index
        for key in shelf:
            del index[key]


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

    def span(self, start_us: int) -> _Span:
        """The stretch of weeks that starts with the week (since the epoch) of `start_us`."""
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
        end_us = self.span(start_us).deadline(start_us, amount_us)
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
        span = self.span(start_us)
        if end_us > span.end:
            return self.hours.business_seconds(start, end)
        return (span.open_until(end_us) - span.open_until(start_us)) / _US


class _Span:
    """The open intervals in UTC µs of `_SPAN_WEEKS` weeks from week `index` since the epoch."""

    __slots__ = ("before", "end", "ends", "start", "starts", "through")

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
        self.start, self.end = lo, hi
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
