"""The response tracker as it was before it worked on columns: one Python step per event.

Kept unchanged (pipelines/processing/responses.py at commit 9729530, below this paragraph) as the
reference that tests/unit/test_tracker_columns.py holds `ResponseTracker.process_tables`
to: the same events in the same batches must give the same rows and alert states. Do not
fix or speed it up; it is only ever compared with.

Pair each actionable mention with its organisation's first response, run its SLA clock,
and watch each organisation's queue and silence.

This is the pure step behind the `mention_responses` table and the `sla_breach` and
`silent_org` alerts: it takes decoded mentions and posts plus each Kafka partition's
event-time clock, and returns the response rows and alert states that changed. No I/O and
no wall clock, so the same events always give the same rows and alerts, whatever the batch
sizes, the replay speed or the number of restarts (CONTRACT.md §1, "What counts as an
answer").

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
  order. All events handed in must come from one topic; an organisation's mentions and
  posts share a partition (the key is org_id).
- Clocks: every partition has an event-time clock, the highest `clock_at` among the
  events handed in on it: their `created_at`, but never more than a minute past the time
  Kafka received them (`pipelines.ingest.decode.clock_time`), so that one event dated ahead
  cannot make every SLA on its partition run out. It moves after each event, and at the
  end of a call to at least the caller's `clocks[p]` (it never goes back). Each event is
  taken at its *instant*: the clock of its partition just before it (its own `clock_at`
  for a partition's first event). Pass every event read (shares and plain posts too):
  they move the clock, and posts show an organisation is not silent.
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
  millisecond precision, so "more than" is "at least 1 ms more").
- The queue past SLA, per organisation: a mention is *waiting past SLA* from
  `sla_breach_at` (or from the instant it was read, when it was read later than that) until
  the instant its first response was read, or until `answer_deadline`, when it is
  `unanswered` for good; a mention whose answer was known before `sla_breach_at` never
  waits. One `sla_breach` alert per organisation covers the whole queue: it opens
  (version 1) at the first instant a mention waits past SLA, gets a new version when the
  number waiting has grown to 1.5 times the number last reported (at least one more) or
  fallen to half of it (at least two fewer), and resolves once no mention has waited past
  SLA for `RESOLVE_AFTER` of event time (so a queue that empties and refills within half an
  hour stays one alert). The next breach opens a new alert. `alert_id` is
  `sla_breach:<org_id>:<opened_at>`; `observed` is the business time the oldest waiting
  mention has waited (0 once resolved) and `expected` the SLA, both in seconds as the
  per-mention alerts of earlier versions had them; the number waiting is in the summary and
  in `details` (`past_sla`), `sample_event_ids` are the oldest waiting, oldest first.
- Silence, per organisation (`silent_org`): when a mention arrives `silent_after` (roster,
  default 24h of event time) or more after the organisation's latest post, one alert opens;
  it resolves when the organisation posts again. Only organisations that have posted at
  least once, or whose roster lists accounts (then silence counts from their first
  mention), are watched; `silent_after: off` turns it off for an organisation.
- Alert states are decided per instant: everything that happens at one instant (timers and
  events) is taken together, and the state is emitted once the partition's clock has moved
  past that instant (a mention or a reply counts at the clock before it, silence at the
  clock after it). So a state, its `updated_at` (that instant) and its version depend on
  the events and each partition's order only, and an instant has at most one state per
  alert: after a restart the latest stored state says exactly where to go on from
  (`resume`).
- Bounded state: a mention leaves once its clock passes created_at + answer_window +
  lateness; an orphan reply once its clock passes its created_at + lateness + the longest
  answer window in the roster (the best orphan per mention id and organisation is kept).
  A reply that arrives after its mention left is ignored (the row keeps its last state); a
  mention that arrives after it would have left gets its row, paired with a waiting reply
  if there is one, but no state. These checks are exact; the memory goes at the end of the
  hour of event time in which it expired (state is kept on hourly shelves, see `_Shelves`),
  checked at the end of each call.
- Restart: the caller rebuilds the state by handing in every event (mentions, replies and
  plain posts) from one answer window + lateness + `RESOLVE_AFTER` before the cut (the
  events up to the offsets last recorded) on, in offset order, after `resume` with the
  latest stored alert states and what came before. The rows re-emitted are the same as the
  ones emitted before; alert states are emitted only for instants after both the cut's
  earliest clock and the latest stored state of their alert kind, and are then the same as
  the first run's, because from that instant on the queue (and so every later decision) is
  exact.

Cost: per mention a few dictionary operations and a tuple; the SLA timers of an
organisation are FIFOs (deadlines grow with created_at), merged with the batch's replies at
the end of each call per organisation; Python work per alert state only, and states are
few (one per organisation and change of level, not one per mention).
"""

from __future__ import annotations

import heapq
import math
import sys
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from pipelines.ingest.decode import Mention, Post
from pipelines.processing.alerts import Alert
from pipelines.roster import (
    BusinessHours,
    Org,
    Roster,
    RosterError,
    format_duration,
    parse_duration,
)

VERSION_ANSWERED = 2**62
"""An answered row's version is this minus first_response_at in epoch milliseconds."""
NEVER = datetime(2299, 12, 31, tzinfo=UTC)
"""sla_breach_at of a mention whose organisation is never open: its SLA cannot run out."""
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
ALERT_KIND = "sla_breach"
SILENT_KIND = "silent_org"
RESOLVE_AFTER = timedelta(minutes=30)
"""How long (event time) no mention may have waited past SLA before the alert resolves."""
UPDATE_RATIO = 1.5
"""A new SLA alert version when the number waiting is this many times the one reported."""
SAMPLE_SIZE = 10
"""The oldest waiting mentions an SLA alert lists in sample_event_ids."""
DEFAULT_SILENT_AFTER = 86_400
"""Seconds without a post, with mentions coming, before an organisation counts as silent."""
SILENT_SETTING = "silent_after"
"""The roster key (per organisation or in defaults) that sets the silent span."""
_SILENT_SEVERITY = 6.0

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


@dataclass(frozen=True, slots=True)
class OrgActivity:
    """What an organisation did before the events a restart hands in again (`resume`)."""

    last_post: datetime | None = None  # the newest created_at of its posts
    first_mention: datetime | None = None  # the oldest and newest of its actionable mentions
    last_mention: datetime | None = None


def silent_after(org: Org) -> int | None:
    """Seconds of silence after which `org` gets a `silent_org` alert; None: not watched.

    From the roster's `silent_after` (per organisation, or in defaults): a duration such as
    24h or 3d, or `off`. Raises ValueError naming the organisation for anything else.
    """
    value = org.extra.get(SILENT_SETTING, DEFAULT_SILENT_AFTER)
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "no")):
        return None
    who = f"org {org.id}" if org.id else "roster defaults"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise ValueError(f"{who}: {SILENT_SETTING}: {e}; or write off to switch the "
                         "silent-organisation alert off") from None
    if seconds <= 0:
        raise ValueError(f"{who}: {SILENT_SETTING} must be longer than 0 (e.g. 24h), or off")
    return seconds


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
# A tracked mention, keyed by its event id; replaced when its response moves on.
# (org_id, platform, created_at, author_id, author_handle, kind, complaint, partition,
#  sla_breach_at, first response or None, its business_response_seconds or None,
#  the instant its first response was read or None)
_State = tuple[str, str, datetime, str, str, str, bool, int, datetime, _Reply | None,
               float | None, datetime | None]
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
_KNOWN: Final = 11

# What happened to an organisation during a call, for `_settle` to take in instant order:
# (instant, what, payload)
_ENTER: Final = 0  # a mention read after its SLA ran out starts waiting; payload: its id
_LEAVE: Final = 1  # a waiting mention got its first response; payload: (its id, whether
# that response was posted before its SLA ran out)
_SILENCE: Final = 2  # the silence condition flipped; payload: `_Silence`
# What kind of timer runs out next (`_next_timer`).
_STARTS, _LATE_STARTS, _ENDS, _LATE_ENDS, _RESOLVE = range(5)
# (silent?, since: the latest post or else the first mention before it turned silent or
#  back, whether `since` is a post, the latest mention's created_at, its id, who wrote it,
#  the post that ended the silence or None)
_Silence = tuple[bool, datetime | None, bool, datetime | None, str, str, datetime | None]


class ResponseTracker:
    """Keeps every actionable mention of the recent past, the replies waiting for one, and
    per organisation its queue past SLA and its silence.

    Feed it each batch's new mentions and posts with the partitions' clocks; it returns
    the rows and alert states that changed. See the module docstring for the semantics.
    """

    def __init__(self, roster: Roster, lateness_seconds: int = 86400) -> None:
        if lateness_seconds < 0:
            raise ValueError(f"lateness must be 0 or more seconds, got {lateness_seconds}")
        self._roster = roster
        self._lateness = lateness_seconds
        problems = []
        for org in (roster.defaults, *roster.orgs.values()):
            try:
                silent_after(org)
            except ValueError as e:
                problems.append(str(e))
        if problems:
            raise RosterError(problems)
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
        # Set by `resume`: alert states before these are known already.
        self._cut: dict[int, datetime] = {}
        self._seeds: dict[tuple[str, str], Alert] = {}
        self._activity: dict[str, OrgActivity] = {}

    @property
    def open_mentions(self) -> int:
        """Mentions held in state (answered ones too: an earlier reply may still come)."""
        return len(self._mentions.index)

    @property
    def orphan_posts(self) -> int:
        """Replies waiting for a mention that has not arrived."""
        return len(self._orphans.index)

    def waiting_past_sla(self, org_id: str) -> int:
        """How many of the organisation's mentions wait past SLA, as of the last call."""
        return sum(len(w.members) for part in self._partitions.values()
                   for oid, w in part.watches.items() if oid == org_id)

    # -- restart -----------------------------------------------------------------------

    def resume(self, latest: Iterable[Alert], cut: Mapping[int, datetime],
               activity: Mapping[str, OrgActivity] | None = None) -> None:
        """Prepare a new tracker to take the events of a restart again.

        `latest`: the latest stored state of each organisation's `sla_breach` and
        `silent_org` alerts (any others are ignored). `cut`: per partition, its clock at the
        last offset recorded (every alert state of an earlier instant is stored); the events
        handed in must reach back far enough before the earliest of these that the queues
        are exact from there on (an answer window + lateness + `RESOLVE_AFTER`).
        `activity`: per organisation, what its posts and mentions before the events handed
        in again showed. Alert states are then emitted only for instants at or after their
        partition's cut and after the latest stored state of the same organisation and
        kind, going on from that state.
        """
        if self._partitions:
            raise RuntimeError("resume() is for a new tracker, before its first process()")
        self._cut = dict(cut)
        for alert in latest:
            if alert.kind in (ALERT_KIND, SILENT_KIND):
                key = (alert.kind, alert.org_id)
                kept = self._seeds.get(key)
                if kept is None or _order(alert) > _order(kept):
                    self._seeds[key] = alert
        self._activity = dict(activity or {})

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
        for number, queue in by_partition.items():
            queue.sort(key=_OFFSET_ORDER)  # two sorted runs: a linear merge
            part = self._partition(number)
            for event in queue:
                at = event.clock_at
                clock = part.clock
                # The queue's changes happen at the clock before the event, its silence at
                # the clock after it: in that order, so the instants never go back.
                instant = at if clock is None else clock
                after = at if clock is None or at > clock else clock
                if isinstance(event, Mention):
                    if event.kind != "share":
                        self._take_mention(event, part, instant, changed)
                        self._see_mention(event, part, after)
                else:
                    if event.in_reply_to is not None:
                        self._take_reply(event, event.in_reply_to, part, instant, changed)
                    self._see_post(event, part, after)
                part.clock = after
        for number, moved in clocks.items():
            part = self._partition(number)
            if part.clock is None or moved > part.clock:
                part.clock = moved
        alerts: list[Alert] = []
        for part in self._partitions.values():
            self._settle_partition(part, alerts)
        rows = [self._row(mention_id, state) for mention_id, state in changed.items()]
        return TrackerOutput(rows, alerts)

    def _partition(self, number: int) -> _Partition:
        part = self._partitions.get(number)
        if part is None:
            part = self._partitions[number] = _Partition(number)
            part.cut = self._cut.get(number)
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
                org.answer_window, self._lateness, silent_after(org), bool(org.accounts),
                org.timezone,
            )
        return terms

    def _watch(self, part: _Partition, org_id: str) -> _Watch:
        watch = part.watches.get(org_id)
        if watch is None:
            terms = self._terms.get(org_id) or self._terms_of(org_id)
            watch = part.watches[terms.org_id] = _Watch(terms, part)
            seen = self._activity.get(org_id)
            if seen is not None:
                watch.last_post = seen.last_post
                watch.first_mention = seen.first_mention
                watch.last_mention = seen.last_mention
                since = _silent(watch)
                watch.silent = watch.silent_flag = since is not None
                if since is not None:
                    watch.silence = (True, since, since == watch.last_post, watch.last_mention,
                                     "", "", None)
            for kind in (ALERT_KIND, SILENT_KIND):
                seed = self._seeds.get((kind, org_id))
                if seed is not None:
                    watch.install(seed)
        return watch

    # -- events -------------------------------------------------------------------------

    def _take_mention(self, mention: Mention, part: _Partition, instant: datetime,
                      changed: dict[str, _State]) -> None:
        mention_id = mention.event_id
        if mention_id in self._mentions.index:
            return  # a copy of one already tracked
        org_id = mention.org_id
        watch = part.watches.get(org_id) or self._watch(part, org_id)
        terms = watch.terms
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
            part.number, breach_at, response,
            None if response is None else terms.seconds_between(created, response[_AT]),
            None if response is None else instant,
        )
        changed[mention_id] = state
        expires = created + terms.keep
        if clock is not None and clock > expires:
            return  # its state would be gone already: the row, nothing more
        label = part.label(expires)
        if self._mentions.put_new(mention_id, state, label):
            part.add_shelf(label)
        if response is not None:
            return
        deadline = created + terms.window
        if breach_at >= deadline:
            return  # unanswered before it could wait past SLA
        if breach_at > instant:
            watch.wait_for(breach_at, mention_id)
            if watch.due is None or breach_at < watch.due:
                watch.due = breach_at
                heappush(part.due, (breach_at, watch.terms.org_id))
        elif instant < deadline:
            part.change(watch, (instant, _ENTER, mention_id))  # read after its SLA ran out

    def _see_mention(self, mention: Mention, part: _Partition, instant: datetime) -> None:
        """Silence: a mention came; does the organisation count as silent now?"""
        watch = part.watches.get(mention.org_id) or self._watch(part, mention.org_id)
        if watch.terms.silent_after is None:
            return
        created = mention.created_at
        moved = False
        if watch.last_mention is None or created > watch.last_mention:
            watch.last_mention = created
            watch.latest = (mention.event_id, mention.author_handle, mention.author_id)
            moved = True
        if watch.first_mention is None or created < watch.first_mention:
            watch.first_mention = created
            moved = True
        if moved and not watch.silent:
            self._check_silence(watch, instant)

    def _check_silence(self, watch: _Watch, instant: datetime,
                       before: datetime | None = None, posted: bool = False) -> None:
        """`before`, `posted`: for a post, the silence's start before it and whether that
        was a post."""
        since = _silent(watch)
        silent = since is not None
        if silent != watch.silent:
            watch.silent = silent
            if silent:
                assert since is not None
                event_id, handle, author_id = watch.latest
                info: _Silence = (True, since, since == watch.last_post, watch.last_mention,
                                  event_id, _who_of(handle, author_id) if event_id else "",
                                  None)
            else:
                info = (False, before, posted, watch.last_mention, "", "", watch.last_post)
            watch.part.change(watch, (instant, _SILENCE, info))

    def _see_post(self, post: Post, part: _Partition, instant: datetime) -> None:
        """Silence: the organisation posted; is it still silent?"""
        watch = part.watches.get(post.org_id) or self._watch(part, post.org_id)
        if watch.terms.silent_after is None:
            return
        created = post.created_at
        if watch.last_post is None or created > watch.last_post:
            before, posted = _silence_since(watch), watch.last_post is not None
            watch.last_post = created
            if watch.silent:
                self._check_silence(watch, instant, before, posted)

    def _take_reply(self, post: Post, target: str, part: _Partition, instant: datetime,
                    changed: dict[str, _State]) -> None:
        reply: _Reply = (post.created_at, post.event_id, post.account_handle,
                         post.account_role, part.number)
        state = self._mentions.get(target)
        if state is not None:
            if post.org_id != state[_ORG]:
                return  # another organisation's reply never counts
            home = self._partitions[state[_PARTITION]]
            terms = self._terms[state[_ORG]]
            if home.clock is not None and home.clock > state[_CREATED] + terms.keep:
                return  # the mention has left the state: too late
            current = state[_RESPONSE]
            if current is not None and not reply < current:
                return
            business = terms.seconds_between(state[_CREATED], reply[_AT])
            known = instant if current is None else state[_KNOWN]
            state = (*state[:_RESPONSE], reply, business, known)
            self._mentions.replace(target, state)
            changed[target] = state
            if current is None and state[_BREACH] <= instant:
                watch = home.watches[state[_ORG]]
                # It may be waiting past SLA; if it was answered in time after all, it only
                # seemed to wait because the answer was read late.
                home.change(watch, (instant, _LEAVE, (target, reply[_AT] < state[_BREACH])))
            return
        keep_until = post.created_at + self._orphan_keep
        if part.clock is not None and part.clock > keep_until:
            return
        key = _orphan_key(target, post.org_id)
        waiting = self._orphans.get(key)
        if waiting is not None and not reply < waiting:
            read_at = self._partitions[waiting[_READ_FROM]].clock
            if read_at is None or read_at <= waiting[_AT] + self._orphan_keep:
                return  # the one waiting is better, and still valid
        label = part.label(keep_until)
        if self._orphans.put(key, reply, label):
            part.add_shelf(label)

    # -- the clock ----------------------------------------------------------------------

    def _settle_partition(self, part: _Partition, alerts: list[Alert]) -> None:
        """After a call: every organisation of the partition with something at or before
        its clock (timers run out, events taken, a state to decide) settles up to it."""
        clock = part.clock
        if clock is None:
            return
        todo = part.touched
        part.touched = {}
        due = part.due
        watches = part.watches
        while due and due[0][0] <= clock:
            org_id = heappop(due)[1]
            watch = watches[org_id]
            watch.due = None
            todo[org_id] = watch
        for org_id, watch in todo.items():
            self._settle(watch, clock, alerts)
            upcoming = self._next_due(watch)
            if upcoming is not None and (watch.due is None or upcoming < watch.due):
                watch.due = upcoming
                heappush(due, (upcoming, org_id))
        if part.next_drop is not None and clock >= part.next_drop:
            self._drop(part, clock)

    def _next_due(self, watch: _Watch) -> datetime | None:
        timer = self._next_timer(watch)
        upcoming = None if timer is None else timer[0]
        if watch.pending is not None:
            decide = watch.pending + _ONE_US  # decided once the clock has passed it
            if upcoming is None or decide < upcoming:
                upcoming = decide
        return upcoming

    def _next_timer(self, watch: _Watch) -> tuple[datetime, int, datetime | None] | None:
        """The earliest instant at which a timer of the organisation runs out (a mention
        starts waiting past SLA, a waiting one reaches its answer deadline, or the alert
        may resolve), which of those it is, and when the next of another kind runs out."""
        get = self._mentions.get
        found: list[tuple[datetime, int]] = []
        queue = watch.starts
        while queue.size:
            state = get(queue.first())
            if state is None:
                queue.popleft()  # gone already
                continue
            found.append((state[_BREACH], _STARTS))
            break
        if watch.late_starts:
            found.append((watch.late_starts[0][0], _LATE_STARTS))
        members = watch.members
        queue = watch.ends
        while queue.size:
            member = members.get(queue.first())
            if member is None:
                queue.popleft()  # answered meanwhile
                continue
            found.append((member[_CREATED] + watch.terms.window, _ENDS))
            break
        late = watch.late_ends
        while late and late[0][1] not in members:
            heappop(late)
        if late:
            found.append((late[0][0], _LATE_ENDS))
        if watch.alert_id is not None and not members and watch.zero_since is not None:
            resolve = watch.zero_since + RESOLVE_AFTER
            if (watch.evaluated is None or resolve > watch.evaluated) and (
                    watch.pending is None or resolve > watch.pending):
                found.append((resolve, _RESOLVE))
        if not found:
            return None
        if len(found) == 1:
            return found[0][0], found[0][1], None
        found.sort()
        return found[0][0], found[0][1], found[1][0]

    def _settle(self, watch: _Watch, clock: datetime, alerts: list[Alert]) -> None:
        """Take the organisation's timers up to `clock` and its events of this call in
        instant order (timers first at an equal instant: they ran out when the clock got
        there, before any event read at that clock); decide each instant once the next one
        comes."""
        changes = watch.changes
        i, n = 0, len(changes)
        while True:
            timer = self._next_timer(watch)
            if timer is not None and timer[0] > clock:
                timer = None
            change = changes[i][0] if i < n else None
            if timer is not None and (change is None or timer[0] <= change):
                at = timer[0]
            elif change is not None:
                at = change
            elif watch.pending is not None and clock > watch.pending:
                self._decide(watch, watch.pending, alerts)  # may let the alert resolve
                continue
            else:
                break
            if watch.pending is not None and at > watch.pending:
                self._decide(watch, watch.pending, alerts)
                continue
            if timer is None or at is not timer[0]:
                self._apply(watch, changes[i])
                i += 1
                watch.pending = at
            elif timer[1] == _STARTS:
                # The common case, mentions running out of SLA one after another: take
                # them all up to the next thing of another kind in one go.
                limit = clock
                for other in (timer[2], change):
                    if other is not None and other < limit:
                        limit = other
                self._start_run(watch, limit, alerts)
            else:
                self._run_timer(watch, at, timer[1])
                watch.pending = at
        changes.clear()

    def _start_run(self, watch: _Watch, limit: datetime, alerts: list[Alert]) -> None:
        """Mentions of the FIFO start waiting past SLA, up to `limit`; each instant decided
        when the next one comes (left undecided when the queue was empty: the alert may
        resolve before the next start, which the caller sees to)."""
        queue = watch.starts
        get = self._mentions.get
        members = watch.members
        window = watch.terms.window
        while queue.size:
            mention_id = queue.first()
            state = get(mention_id)
            if state is None:
                queue.popleft()
                continue
            at = state[_BREACH]
            if at > limit:
                return
            pending = watch.pending
            if pending is not None and at > pending:
                self._decide(watch, pending, alerts)
                if not members:
                    return
            queue.popleft()
            known = state[_KNOWN]
            if known is None or known >= at:  # not answered before its SLA ran out
                watch.enter(mention_id, state)
                end = state[_CREATED] + window  # it stops waiting then at the latest
                if end < limit:
                    limit = end
            watch.pending = at

    def _run_timer(self, watch: _Watch, at: datetime, which: int) -> None:
        """The timer that runs out at `at` (or the alert's chance to resolve)."""
        if which == _LATE_STARTS:
            mention_id = heappop(watch.late_starts)[1]
            state = self._mentions.get(mention_id)
            if state is not None:
                self._start_waiting(watch, mention_id, state, at)
        elif which == _ENDS:
            if watch.leave(watch.ends.popleft()):
                watch.confirming = True  # unanswered for good: it really waited
        elif which == _LATE_ENDS:
            if watch.leave(heappop(watch.late_ends)[1]):
                watch.confirming = True
        elif which == _STARTS:
            mention_id = watch.starts.popleft()
            state = self._mentions.get(mention_id)
            assert state is not None
            self._start_waiting(watch, mention_id, state, at)
        # _RESOLVE: the alert's chance to resolve; deciding the instant is all it takes

    def _start_waiting(self, watch: _Watch, mention_id: str, state: _State,
                       at: datetime) -> None:
        known = state[_KNOWN]
        if known is not None and known < at:
            return  # answered before its SLA ran out
        watch.enter(mention_id, state)

    def _apply(self, watch: _Watch, change: tuple[datetime, int, Any]) -> None:
        what = change[1]
        if what == _LEAVE:
            mention_id, in_time = change[2]
            if watch.leave(mention_id) and not in_time:
                watch.confirming = True
        elif what == _ENTER:
            state = self._mentions.get(change[2])
            if state is not None:
                watch.enter(change[2], state)
        else:
            silence: _Silence = change[2]
            watch.silent_flag = silence[0]
            watch.silence = silence

    def _decide(self, watch: _Watch, at: datetime, alerts: list[Alert]) -> None:
        """Everything that happened at instant `at` is in: the alert states it calls for."""
        watch.pending = None
        watch.evaluated = at
        waiting = len(watch.members)
        if waiting:
            watch.zero_since = None
        elif watch.zero_since is None:
            watch.zero_since = at
        after_known = watch.known_until is None or at > watch.known_until
        # A mention that really waited (unanswered at its deadline, or answered late)
        # confirms the alert; one that only seemed to (its answer was posted in time but
        # read late) does not. The first confirmation is a new state, unless nobody waits.
        confirmed = (watch.confirming and watch.alert_id is not None and not watch.confirmed
                     and after_known)
        watch.confirming = False
        if confirmed:
            watch.confirmed = True
        cut = watch.part.cut
        if cut is not None and at < cut:
            return  # rebuilding after a restart: these states are stored already
        if after_known:
            if watch.alert_id is None:
                if waiting:
                    alerts.append(self._queue_alert(watch, at, opening=True))
            elif not waiting:
                assert watch.zero_since is not None
                if at >= watch.zero_since + RESOLVE_AFTER:
                    alerts.append(self._queue_resolved(watch, at))
            else:
                reported = watch.reported
                if confirmed or (waiting > reported and waiting >= reported * UPDATE_RATIO) or (
                        reported - waiting >= 2 and 2 * waiting <= reported):
                    alerts.append(self._queue_alert(watch, at, opening=False))
        if watch.silent_known_until is None or at > watch.silent_known_until:
            if watch.silent_flag and watch.silent_id is None:
                alerts.append(self._silent_alert(watch, at))
            elif not watch.silent_flag and watch.silent_id is not None:
                alerts.append(self._silent_resolved(watch, at))

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

    def _queue_alert(self, watch: _Watch, at: datetime, *, opening: bool) -> Alert:
        """The open state of the organisation's SLA alert: who waits past SLA at `at`."""
        terms = watch.terms
        if opening:
            watch.alert_id = f"{ALERT_KIND}:{terms.org_id}:{_stamp(at)}"
            watch.opened_at = at
            watch.version = 1
            watch.confirmed = False
        else:
            watch.version += 1
        assert watch.alert_id is not None and watch.opened_at is not None
        waiting = len(watch.members)
        oldest = heapq.nsmallest(SAMPLE_SIZE, watch.members.items(),
                                 key=lambda item: (item[1][_CREATED], item[0]))
        first_id, first = oldest[0]
        waited = terms.seconds_between(first[_CREATED], at)
        complaints = watch.complaints
        watch.reported = waiting
        watch.samples = tuple(mention_id for mention_id, _ in oldest)
        watch.severity = _queue_severity(waiting, complaints)
        sla = format_duration(terms.sla)
        since = (f"{_who(first)}, since {terms.local(first[_CREATED])} "
                 f"({format_duration(math.floor(waited))} business time)")
        if waiting == 1:
            what = "a complaint" if complaints else "a mention"
            summary = f"{terms.name}: {what} waits past the {sla} response SLA: by {since}"
        else:
            about = f", {complaints:,} of them complaints" if complaints else ""
            summary = (f"{terms.name}: {waiting:,} mentions wait past the {sla} response "
                       f"SLA{about}; the oldest by {since}")
        return Alert(
            alert_id=watch.alert_id, org_id=terms.org_id, kind=ALERT_KIND, status="open",
            opened_at=watch.opened_at, resolved_at=None, severity=watch.severity,
            observed=round(waited, 3), expected=terms.sla_seconds, summary=summary,
            sample_event_ids=watch.samples, updated_at=at,
            version=watch.version,
            details={"past_sla": waiting, "complaints_past_sla": complaints,
                     "oldest_mention_id": first_id,
                     "oldest_created_at": _iso(first[_CREATED]),
                     "oldest_business_seconds": round(waited, 3),
                     "sla_seconds": terms.sla_seconds, "confirmed": watch.confirmed},
        )

    def _queue_resolved(self, watch: _Watch, at: datetime) -> Alert:
        """Nobody has waited past SLA for `RESOLVE_AFTER`: resolved; withdrawn (`retracted`)
        when every mention that seemed to wait turned out to have been answered in time."""
        terms = watch.terms
        assert watch.alert_id is not None and watch.opened_at is not None
        assert watch.zero_since is not None
        sla = format_duration(terms.sla)
        if watch.confirmed:
            summary = (f"{terms.name}: no mention waits past the {sla} response SLA since "
                       f"{terms.local(watch.zero_since)}")
        else:
            summary = (f"{terms.name}: every mention that seemed to wait past the {sla} "
                       "response SLA had been answered in time (the answers were read late)")
        alert = Alert(
            alert_id=watch.alert_id, org_id=terms.org_id, kind=ALERT_KIND, status="resolved",
            opened_at=watch.opened_at, resolved_at=watch.zero_since,
            severity=watch.severity if watch.confirmed else 0.0,
            observed=0.0, expected=terms.sla_seconds, summary=summary,
            sample_event_ids=watch.samples, updated_at=at, version=watch.version + 1,
            retracted=not watch.confirmed,
            details={"past_sla": 0, "sla_seconds": terms.sla_seconds,
                     "confirmed": watch.confirmed},
        )
        watch.alert_id = watch.opened_at = None
        watch.version = watch.reported = 0
        watch.samples = ()
        watch.confirmed = False
        return alert

    def _silent_alert(self, watch: _Watch, at: datetime) -> Alert:
        terms = watch.terms
        assert terms.silent_after is not None
        _, since, posted, latest, event_id, who, _ = watch.silence
        assert since is not None and latest is not None
        watch.silent_id = f"{SILENT_KIND}:{terms.org_id}:{_stamp(at)}"
        watch.silent_opened = at
        watch.silent_version = 1
        quiet = (latest - since).total_seconds()
        began = ("no post from its accounts since " if posted else
                 "no post from its accounts since its first mention, ") + terms.local(since)
        summary = (f"{terms.name}: {began} ({format_duration(math.floor(quiet))}), while "
                   f"mentions keep coming; the latest{' by ' + who if who else ''}, "
                   f"{terms.local(latest)}")
        return Alert(
            alert_id=watch.silent_id, org_id=terms.org_id, kind=SILENT_KIND, status="open",
            opened_at=at, resolved_at=None, severity=_SILENT_SEVERITY, observed=quiet,
            expected=float(terms.silent_after), summary=summary,
            sample_event_ids=(event_id,) if event_id else (),
            updated_at=at, version=1,
            details={"silent_since": _iso(since), "since_a_post": posted,
                     "latest_mention_at": _iso(latest)},
        )

    def _silent_resolved(self, watch: _Watch, at: datetime) -> Alert:
        terms = watch.terms
        assert watch.silent_id is not None and watch.silent_opened is not None
        assert terms.silent_after is not None
        _, since, _, _, _, _, posted = watch.silence
        quiet = (posted - since).total_seconds() if posted and since else 0.0
        alert = Alert(
            alert_id=watch.silent_id, org_id=terms.org_id, kind=SILENT_KIND,
            status="resolved", opened_at=watch.silent_opened, resolved_at=at,
            severity=_SILENT_SEVERITY, observed=max(0.0, quiet),
            expected=float(terms.silent_after),
            summary=(f"{terms.name} posted again, {terms.local(posted) if posted else '?'}, "
                     f"after {format_duration(math.floor(max(0.0, quiet)))} without a post"),
            sample_event_ids=(), updated_at=at, version=watch.silent_version + 1,
            details={"last_post": _iso(posted) if posted else None},
        )
        watch.silent_id = watch.silent_opened = None
        watch.silent_version = 0
        return alert


def _order(alert: Alert) -> tuple[datetime, datetime, int]:
    """Which of two states of an organisation's alerts of one kind came later."""
    return (alert.updated_at, alert.opened_at, alert.version)


def _silent(watch: _Watch) -> datetime | None:
    """Since when the organisation has been silent, when it counts as silent now."""
    terms = watch.terms
    if terms.silent_after is None or watch.last_mention is None:
        return None
    since = watch.last_post
    if since is None:
        if not terms.listed:
            return None  # never posted, no accounts in the roster: nothing to go by
        since = watch.first_mention
    assert since is not None
    if watch.last_mention >= since + terms.silent_span:
        return since
    return None


def _silence_since(watch: _Watch) -> datetime | None:
    return watch.last_post if watch.last_post is not None else watch.first_mention


def _orphan_key(mention_id: str, org_id: str) -> str:
    # Org ids never hold a unit separator, so the key names one (mention, org) pair.
    return mention_id + "\x1f" + org_id


def _who(state: _State) -> str:
    return _who_of(state[_AUTHOR_HANDLE], state[_AUTHOR_ID])


def _who_of(handle: str, author_id: str) -> str:
    handle = handle.lstrip("@")
    return "@" + handle if handle else "author " + author_id


def _queue_severity(waiting: int, complaints: int) -> float:
    """0-10: 5 for one mention past SLA (7 when complaints wait), +1 per doubling, up to +3."""
    base = 7.0 if complaints else 5.0
    return round(min(10.0, base + min(3.0, math.log2(waiting))), 1)


def _stamp(t: datetime) -> str:
    """An instant in an alert id: UTC to the millisecond, e.g. 20260310T083000.001Z."""
    t = t.astimezone(UTC)
    return f"{t:%Y%m%dT%H%M%S}.{t.microsecond // 1000:03d}Z"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

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
                 "closed_lo", "keep", "linear_hi", "listed", "name", "open_hi", "open_lo",
                 "org_id", "silent_after", "silent_span", "sla", "sla_seconds", "window",
                 "zone")

    def __init__(self, org_id: str, name: str, calendar: _Calendar, sla: int, window: int,
                 lateness: int, silent_after: int | None = None, listed: bool = False,
                 timezone: str = "UTC") -> None:
        self.org_id = org_id
        self.name = name
        self.calendar = calendar
        self.sla = sla
        self.sla_seconds = float(sla)
        self.breach_after_us = sla * _US + 1000  # more than the SLA: 1 ms more
        self.breach_after = timedelta(microseconds=self.breach_after_us)
        self.window = timedelta(seconds=window)
        self.keep = timedelta(seconds=window + lateness)
        self.silent_after = silent_after
        self.silent_span = timedelta(seconds=silent_after or 0)
        self.listed = listed  # the roster lists accounts for it
        self.zone = ZoneInfo(timezone)
        self.open_lo, self.open_hi, self.linear_hi = NEVER, _EPOCH, _EPOCH
        self.closed_lo, self.closed_hi, self.closed_breach = NEVER, _EPOCH, NEVER

    def local(self, t: datetime) -> str:
        """An instant on the organisation's wall clock, for alert summaries."""
        return f"{t.astimezone(self.zone):%a %d %b %H:%M %Z}"
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
    """A partition's clock, its organisations' watches, and the hourly shelves its state
    expires by."""

    __slots__ = ("clock", "cut", "due", "next_drop", "number", "shelves", "touched", "watches")

    def __init__(self, number: int) -> None:
        self.number = number
        self.clock: datetime | None = None
        self.cut: datetime | None = None  # restart: alert states before it are stored
        self.watches: dict[str, _Watch] = {}
        self.due: list[tuple[datetime, str]] = []  # heap: (when a watch must settle, org_id)
        self.touched: dict[str, _Watch] = {}  # watches with events in this call
        self.shelves: list[int] = []  # heap of the labels of this partition's shelves
        self.next_drop: datetime | None = None  # the end of the earliest shelf's hour

    def change(self, watch: _Watch, change: tuple[datetime, int, Any]) -> None:
        """Something happened to the organisation at an instant; `_settle` takes it."""
        watch.changes.append(change)
        self.touched[watch.terms.org_id] = watch

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


class _Watch:
    """One organisation on one partition: who waits past SLA, whether it is silent, and the
    alerts it has open.

    An organisation's SLA deadlines grow with created_at, and mentions arrive about in
    created_at order, so the instants at which its mentions start waiting past SLA are a
    FIFO (mentions whose deadline is earlier than the last one queued go to a heap of
    stragglers): O(1) per mention rather than O(log n). The same holds for the answer
    deadlines of the mentions waiting.
    """

    __slots__ = ("alert_id", "changes", "complaints", "confirmed", "confirming", "due", "ends",
                 "evaluated", "first_mention", "known_until", "last_end", "last_mention",
                 "last_post", "last_start", "late_ends", "late_starts", "latest", "members",
                 "opened_at", "part", "pending", "reported", "samples", "severity", "silence",
                 "silent", "silent_flag", "silent_id", "silent_known_until", "silent_opened",
                 "silent_version", "starts", "terms", "version", "zero_since")

    def __init__(self, terms: _Terms, part: _Partition) -> None:
        self.terms = terms
        self.part = part
        # The queue past SLA.
        self.starts = _Queue()  # mention ids by the instant their SLA runs out
        self.last_start: datetime | None = None  # that instant for the FIFO's last id
        self.late_starts: list[tuple[datetime, str]] = []  # heap of stragglers
        self.ends = _Queue()  # waiting mentions by answer deadline
        self.last_end: datetime | None = None
        self.late_ends: list[tuple[datetime, str]] = []
        self.members: dict[str, _State] = {}  # waiting past SLA now
        self.complaints = 0  # complaints among them
        self.changes: list[tuple[datetime, int, Any]] = []  # this call's events, in order
        self.pending: datetime | None = None  # an instant with changes, not decided yet
        self.evaluated: datetime | None = None  # the last instant decided
        self.zero_since: datetime | None = None  # nobody waiting since then
        self.due: datetime | None = None  # its entry in the partition's `due` heap
        # The SLA alert as last emitted (open), or None.
        self.alert_id: str | None = None
        self.opened_at: datetime | None = None
        self.version = 0
        self.reported = 0  # the number waiting it reported
        self.samples: tuple[str, ...] = ()  # the oldest waiting it reported
        self.confirmed = False  # a mention really waited past SLA in this alert
        self.confirming = False  # one stopped waiting at this instant after really waiting
        self.severity = 0.0
        self.known_until: datetime | None = None  # restart: states up to here are stored
        # Silence, as the events are taken (`silent`) and as the instants are decided.
        self.last_post: datetime | None = None
        self.first_mention: datetime | None = None
        self.last_mention: datetime | None = None
        self.latest: tuple[str, str, str] = ("", "", "")  # id, handle, author id
        self.silent = False
        self.silent_flag = False
        self.silence: _Silence = (False, None, False, None, "", "", None)
        self.silent_id: str | None = None
        self.silent_opened: datetime | None = None
        self.silent_version = 0
        self.silent_known_until: datetime | None = None

    def wait_for(self, breach_at: datetime, mention_id: str) -> None:
        """The mention starts waiting past SLA at `breach_at` unless answered before."""
        if not self.starts.size or (self.last_start is not None
                                    and breach_at >= self.last_start):
            self.starts.append(mention_id)
            self.last_start = breach_at
        else:
            heappush(self.late_starts, (breach_at, mention_id))

    def enter(self, mention_id: str, state: _State) -> None:
        members = self.members
        if mention_id in members:
            return
        members[mention_id] = state
        if state[_COMPLAINT]:
            self.complaints += 1
        deadline = state[_CREATED] + self.terms.window
        if not self.ends.size or (self.last_end is not None and deadline >= self.last_end):
            self.ends.append(mention_id)
            self.last_end = deadline
        else:
            heappush(self.late_ends, (deadline, mention_id))

    def leave(self, mention_id: str) -> bool:
        """The mention stops waiting past SLA; False when it was not waiting."""
        state = self.members.pop(mention_id, None)
        if state is None:
            return False
        if state[_COMPLAINT]:
            self.complaints -= 1
        return True

    def install(self, seed: Alert) -> None:
        """A restart: the latest stored state of one of the organisation's alerts."""
        opened = seed.status == "open" and not seed.retracted
        if seed.kind == ALERT_KIND:
            self.known_until = seed.updated_at
            if opened:
                self.alert_id, self.opened_at = seed.alert_id, seed.opened_at
                self.version = seed.version
                self.reported = int(seed.details.get("past_sla", 1))
                self.severity, self.samples = seed.severity, seed.sample_event_ids
                self.confirmed = bool(seed.details.get("confirmed", True))
        else:
            self.silent_known_until = seed.updated_at
            if opened:
                self.silent_id, self.silent_opened = seed.alert_id, seed.opened_at
                self.silent_version = seed.version


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
