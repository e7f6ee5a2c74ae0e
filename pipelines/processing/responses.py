"""Pair each actionable mention with its organisation's first response, run its SLA clock,
and watch each organisation's queue and silence.

This is the pure step behind the `mention_responses` table and the `sla_breach` and
`silent_org` alerts: it takes a batch's mentions and posts as Arrow tables in the
warehouse's layout (`ResponseTracker.process_tables`; `process` takes decoded objects and
hands them on as such tables) plus each Kafka partition's event-time clock, and returns the
response rows (a `mention_responses_state` table) and alert states that changed. No I/O and
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
  (`source_offset`; a mention before a post at the same offset), the order they were
  written in, so a caller may hand them in any order. All events handed in must come from
  one topic; an organisation's mentions and posts share a partition (the key is org_id).
- Clocks: every partition has an event-time clock, the highest `clock_at` among the
  events handed in on it: their `created_at`, but never more than a minute past the time
  Kafka received them (`pipelines.ingest.decode.clock_time`), so that one event dated ahead
  cannot make every SLA on its partition run out. It moves after each event, and at the
  end of a call to at least the caller's `clocks[p]` (it never goes back). Each event is
  taken at its *instant*: the clock of its partition just before it (its own `clock_at`
  for a partition's first event). Pass every event read (shares and plain posts too):
  they move the clock, and posts show an organisation is not silent.
- Rows: one per mention and call, its latest state: when it first appears, and whenever its
  first response is set or improved; within a call in no particular order. An open row has
  version 0; an answered one has version 2**62 - first_response_at in epoch ms, so an
  earlier response wins in the ReplacingMergeTree whatever order rows are written in (two
  responses in the same millisecond tie, and the row written last, the better one, wins).
  `pending` versus
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
  hour of event time in which it expired (state is kept on hourly shelves, see `_Shelves`,
  and in column blocks that go with the hour of their last mention), checked at the end of
  each call.
- Kept between runs: the tracker pickles (columns and plain tuples, no handles), so a clean
  stop can keep its state in a file and a start load it; the id index is built again on
  load.
- Restart: the caller rebuilds the state by handing in every event (mentions, replies and
  plain posts) from one answer window + lateness + `RESOLVE_AFTER` before the cut (the
  events up to the offsets last recorded) on, in offset order, after `resume` with the
  latest stored alert states and what came before. The rows re-emitted are the same as the
  ones emitted before; alert states are emitted only for instants after both the cut's
  earliest clock and the latest stored state of their alert kind, and are then the same as
  the first run's, because from that instant on the queue (and so every later decision) is
  exact.

How a batch is taken (the result is exactly that of taking its events one by one, in
order, as the tracker before it did; tests/unit/test_tracker_columns.py holds it to that):
each event's instant and the clock after it come from a running maximum of `clock_at` per
partition; each new mention's `sla_breach_at` from a bisection over its organisation's open
intervals, all at once; new mentions that nothing but their own columns decides about (not
held yet, one copy in the batch, no reply waiting for them or read before them, not expired
on arrival, and so for every mention of their organisation in the batch) go to the state in
bulk, as typed columns (`_Held`: a block per batch and partition, ids and authors as Arrow
strings, organisation, platform and kind as codes, times as µs; an index of hashed ids in
sorted levels finds them, for a whole batch's ids and reply targets at once). A state tuple
is made only when a reply or an alert asks for one. A mention held nobody answers costs
~120 bytes of columns plus its row in the SLA queue, where a tuple, its id string and two
dictionary entries took ~450. Replies go in bulk too (`_take_replies`) where the mention
they name is held as columns on their partition, no reply of the batch on another partition
names it and its organisation's silence is not walked (nearly every reply; of several
naming one mention, the first read is its answer and the best its first response): the
mentions they answer go to a new block with their first responses (`_Block.answers`: the
replies' ids, handles and roles, when each was posted and read), their old rows are
released, and their rows are made from that block in one table; a reply that changes
nothing (another organisation's, too late, not earlier than the first response known) is
found by mask. An answered mention costs one more row of columns, not a state tuple on the
shelves. An organisation's silence is walked event by event only in a batch where it may
flip, else its latest mention and post come from the columns. Python walks the other
replies (orphans, a second reply on another partition, one that may be earlier than the
first response) and the other mentions, in offset order; a mention such a reply answers
moves to the shelves as a tuple. Rows of mentions that are new and still open come straight
from the batch's columns; business response seconds are computed per calendar (or
organisation) in one go when the rows are made.

The queue past SLA is columns per organisation and partition (`_Pool`): for each mention
that may wait, the instant it would start (its breach, or when it was read after that), its
answer deadline and, once known, the instant its first answer was read. When the
organisation settles at clock C, masks find who starts waiting (unless answered before),
who stops (answered, or at the deadline) and the instants that only call for a decision;
cumulative sums give the number waiting at every instant. Only the instants whose decision
can change something are then decided in Python (found by search: where the alert would
open, grow to 1.5 times or fall to half the number reported, be confirmed, start counting
down to resolve, or silence flips; every instant up to a restart's stored states), plus the
alert's chance to resolve `RESOLVE_AFTER` after the queue emptied; the rest would decide
nothing. The waiting mentions an alert names are found by mask at its instant.

Cost: per new mention its share of column takes and of the index's merges (levels merge
when the newer is a quarter of the older, so each id is merged a few times); per reply in
bulk a few set look-ups, its share of column takes and the answered row's index entry
(per reply walked, a state tuple and a few dictionary operations); per organisation and
call a few dozen numpy
operations over its pool; Python work per alert state only, and states are few (one per
organisation and change of level, not one per mention). A call has a fixed cost too (a few
ms, per-column conversions), so the tracker wants batches, not single events. The work is
counted (`ResponseTracker.work`, `TrackerWork`): settles, queue rows looked at, instants
decided, timers, shelves dropped, calendar weeks laid out, so a test can bound the cost of
a clock jump by steps rather than by a time.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import cached_property
from heapq import heappop, heappush
from typing import Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.decode import CLOCK_SKEW, Mention, Post
from pipelines.orgclock import BusinessClock
from pipelines.processing.alerts import Alert
from pipelines.roster import (
    BusinessHours,
    Org,
    Roster,
    RosterError,
    format_duration,
    parse_duration,
)
from schemas.tables import MENTION_RESPONSES_STATE

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
_SPAN_WEEKS = 3
_CHUNK = 256
_SPANS_KEPT = 16

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


def _row_type(spec: str) -> pa.DataType:
    """The Arrow type of a `mention_responses_state` column, as the sink inserts it."""
    if "DateTime64" in spec:
        return pa.timestamp("ms", tz="UTC")
    if spec == "UInt64":
        return pa.uint64()
    if "Float64" in spec:
        return pa.float64()
    if spec == "Bool":
        return pa.bool_()
    return pa.string()


_ROW_COLUMNS = ("org_id", "event_id", "platform", "author_id", "author_handle", "kind",
                "complaint")
ROWS_SCHEMA = pa.schema([(c.name, _row_type(c.type)) for c in MENTION_RESPONSES_STATE.columns])
"""The layout of `TrackerTables.rows`: `mention_responses_state`, as `ResponseRow` has it."""


@dataclass
class TrackerTables:
    """What one `ResponseTracker.process_tables` call changed: the rows as a table in the
    layout of `mention_responses_state` (`ROWS_SCHEMA`), one per mention."""

    rows: pa.Table
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class TrackerWork:
    """What the tracker did, counted: the cost of a clock that moves (even 174 years at
    once) is a number of steps, each of bounded work, not a time.

    Each step is O(1) Python plus numpy over one organisation's queue (`queue_rows`
    counts those rows) or over one stretch of calendar weeks."""

    settles: int = 0  # an organisation's queue taken up to its partition's clock
    queue_rows: int = 0  # rows of those queues the settles' masks looked at
    instants_decided: int = 0  # instants whose alert states were decided one by one
    timers: int = 0  # due-heap entries taken (an SLA runs out, an alert may resolve)
    shelves_dropped: int = 0  # hourly shelves (and column blocks) of expired state gone
    weeks_laid_out: int = 0  # weeks of business calendar laid out as open intervals
    calendar_fallbacks: int = 0  # business-time questions past a laid-out stretch

    @property
    def steps(self) -> int:
        """Every step above but the rows, which are numpy work inside a settle."""
        return (self.settles + self.instants_decided + self.timers + self.shelves_dropped
                + self.weeks_laid_out + self.calendar_fallbacks)


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
# (created_at in µs since the epoch, event_id, account_handle, account_role, partition it
#  was read from)
_Reply = tuple[int, str, str, str, int]
_AT: Final = 0
_POST_ID: Final = 1
_HANDLE: Final = 2
_ROLE: Final = 3
_READ_FROM: Final = 4
# A tracked mention, keyed by its event id; replaced when its response moves on. Times in
# µs since the epoch.
# (org_id, platform, created_at, author_id, author_handle, kind, complaint, partition,
#  sla_breach_at, first response or None, its business_response_seconds or None,
#  the instant its first response was read or None, its number in its organisation's
#  `_Pool` or -1 when it can never wait past SLA)
_State = tuple[str, str, int, str, str, str, bool, int, int, _Reply | None,
               float | None, int | None, int]
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
_SEQ: Final = 12

# (silent?, since: the latest post or else the first mention before it turned silent or
#  back, whether `since` is a post, the latest mention's created_at, its id, who wrote it,
#  the post that ended the silence or None)
_Silence = tuple[bool, datetime | None, bool, datetime | None, str, str, datetime | None]
_NO: Final = int(np.iinfo(np.int64).max)
"""An instant that never comes (µs): not answered, not entered."""
_RESOLVE_US: Final = RESOLVE_AFTER // timedelta(microseconds=1)


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
        self._orphan_keep = (longest + lateness_seconds) * _US
        self.work = TrackerWork()
        self._terms: dict[str, _Terms] = {}
        self._calendars: dict[tuple[Any, str], _Calendar] = {}
        # Mentions taken in bulk stay as columns (`_Held`); the others, and every answered
        # one, as state tuples on the shelves.
        self._mentions: _Shelves[_State] = _Shelves()
        self._held = _Held()
        # During a call: where the batch's mention ids and reply targets are in `_held`
        # (and the mentions it adds), and the states of the reply targets, made in one go.
        self._refs: dict[str, int] = {}
        self._ready: dict[str, _State] = {}
        self._released: list[int] = []  # rows whose states went to the shelves
        self._answered: list[_Block] = []  # blocks of mentions answered in bulk
        # Replies waiting for their mention: the best yet per mention id and organisation,
        # each on its own partition's shelves (another organisation's never counts).
        self._orphans: _Shelves[_Reply] = _Shelves()
        self._partitions: dict[int, _Partition] = {}
        self._seq = 0  # the next mention's number in its organisation's `_Pool`
        # Set by `resume`: alert states before these are known already.
        self._cut: dict[int, datetime] = {}
        self._seeds: dict[tuple[str, str], Alert] = {}
        self._activity: dict[str, OrgActivity] = {}

    @property
    def open_mentions(self) -> int:
        """Mentions held in state (answered ones too: an earlier reply may still come)."""
        return len(self._mentions.index) + self._held.count

    @property
    def orphan_posts(self) -> int:
        """Replies waiting for a mention that has not arrived."""
        return len(self._orphans.index)

    def waiting_past_sla(self, org_id: str) -> int:
        """How many of the organisation's mentions wait past SLA, as of the last call."""
        return sum(w.waiting for part in self._partitions.values()
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
        """`process_tables` for decoded objects: the same rows, as `ResponseRow`s."""
        out = self.process_tables(*_event_tables(mentions, posts), clocks)
        return TrackerOutput(_response_rows(out.rows), out.alerts)

    def process_tables(self, mentions: pa.Table, posts: pa.Table,
                       clocks: Mapping[int, datetime]) -> TrackerTables:
        """Take a batch of new events, then move each partition's clock to `clocks[p]`.

        `mentions` and `posts` are in the warehouse's layout (`pipelines.ingest.sink.mentions_table`
        and `posts_table`; the columns the tracker reads must be there, others may be
        missing), in any order. The rows come back as a table in the layout of
        `mention_responses_state`.
        """
        batch = _Batch(mentions, posts)
        changed: dict[str, _State] = {}
        fresh: dict[str, int] = {}  # a mention new in this call -> its row in `mentions`
        if batch.size:
            self._prepare(batch)
            self._look_up(batch)
            for number, events in batch.partitions():
                self._take_events(self._partition(number), batch, events, changed, fresh)
        for number, moved in clocks.items():
            part = self._partition(number)
            moved_us = _us(moved)
            if part.clock is None or moved_us > part.clock:
                part.clock = moved_us
        if self._released:
            self._held.release(self._released)
            self._released = []
        alerts: list[Alert] = []
        for part in self._partitions.values():
            self._settle_partition(part, alerts)
        rows = self._rows_table(batch, changed, fresh)
        self._refs, self._ready, self._answered = {}, {}, []
        return TrackerTables(rows, alerts)

    def _look_up(self, batch: _Batch) -> None:
        """Which of the batch's mention ids and reply targets are held as columns, all at
        once; which targets only one reply of the batch names, and which several replies
        on one partition name (`_take_replies`)."""
        targets = [t for t in batch.p_reply_to if t is not None]
        named: set[str] = set()
        twice: set[str] = set()
        for target in targets:
            (twice if target in named else named).add(target)
        batch.named_once = named - twice
        if twice:
            here: dict[str, int] = {}
            for named_by, number in zip(batch.p_reply_to, batch.p_partition.tolist(),
                                        strict=True):
                if named_by in twice:
                    assert named_by is not None
                    here[named_by] = number if here.get(named_by, number) == number else -1
            batch.named_here = here
        self._refs = self._held.find([*batch.m_ids, *named]) if self._held.count else {}

    def _get(self, key: str) -> _State | None:
        """A held mention's state, during a call (`_look_up` has found the batch's)."""
        state = self._mentions.get(key)
        if state is None:
            state = self._ready.get(key)
            if state is None:
                ref = self._refs.get(key)
                if ref is not None and (ref >> _BLOCK_BITS) in self._held.blocks:
                    state = self._held.states((ref,))[0]
        return state

    def _replace(self, key: str, state: _State) -> None:
        """A held mention's new state (a first response): on the shelves from now on."""
        if key in self._mentions.index:
            self._mentions.replace(key, state)
            return
        self._released.append(self._refs[key])
        number = state[_PARTITION]
        expires = state[_CREATED] + self._terms[state[_ORG]].keep_us
        label = expires // _HOUR_US << _PARTITION_BITS | number
        if self._mentions.put_new(key, state, label):
            self._partitions[number].add_shelf(label)

    def _prepare(self, batch: _Batch) -> None:
        """Per organisation of the batch its terms; per actionable mention, vectorised over
        its organisation's calendar, when its SLA runs out and when its state expires."""
        terms = batch.terms = [self._terms_of(org_id) for org_id in batch.orgs]
        codes = batch.m_code
        breach = np.zeros(batch.n_m, np.int64)
        actionable = batch.actionable
        mine = np.flatnonzero(actionable)
        mine = mine[np.argsort(codes[mine], kind="stable")]  # per organisation, in order
        cuts = np.flatnonzero(np.diff(codes[mine])) + 1
        for chosen in np.split(mine, cuts) if mine.size else ():
            breach[chosen] = terms[codes[chosen[0]]].breach_times(batch.m_created[chosen])
        window = np.array([t.window_us for t in terms], np.int64)
        keep = np.array([t.keep_us for t in terms], np.int64)
        batch.breach = breach
        batch.deadline = batch.m_created + window[codes]
        batch.expires = batch.m_created + keep[codes]

    def _take_events(self, part: _Partition, batch: _Batch, events: np.ndarray,
                     changed: dict[str, _State], fresh: dict[str, int]) -> None:
        """One partition's events of the batch (merged numbers, in offset order)."""
        clock_at = batch.clock[events]
        after = np.maximum.accumulate(clock_at)
        start = part.clock
        instant = np.empty_like(after)
        instant[1:] = after[:-1]
        if start is None:
            instant[0] = clock_at[0]  # the partition's first event: its own clock
        else:
            np.maximum(after, start, out=after)
            instant[0] = start
            instant[1:] = np.maximum(instant[1:], start)
        n_m = batch.n_m
        is_post = events >= n_m
        codes = batch.code[events]
        relevant = is_post | batch.actionable_all[events]
        watches: dict[int, _Watch] = {}
        for code in np.unique(codes[relevant]).tolist():
            org_id = batch.orgs[code]
            watches[code] = part.watches.get(org_id) or self._watch(part, org_id)
        exact = self._quiet_orgs(batch, events, codes, is_post, relevant, watches)
        taken, enters = self._take_plain(part, batch, events, instant, start is None, watches,
                                         changed, fresh)
        answered, touches = self._take_replies(part, batch, events, instant, start is None,
                                               watches, exact, fresh)
        if touches:
            enters = sorted(enters + touches, key=lambda entering: entering[0])
        walk = relevant & ((~is_post & ~taken) | (batch.replying[events] & ~answered))
        if exact:
            walk |= relevant & np.isin(codes, list(exact))
        self._make_ready(batch, events[walk & is_post])
        said = batch.replies_said(events[walk & batch.replying[events]] - n_m)
        number = part.number
        mentions_held = self._mentions
        index = mentions_held.index
        refs = self._refs
        put_new = mentions_held.put_new
        orphans = self._orphans
        m_ids = batch.m_ids
        m_code = batch.m_code_list
        m_platform, m_kind, m_complaint = batch.m_platform, batch.m_kind, batch.m_complaint
        touched = part.touched
        p_created = batch.p_created_us
        due = part.due
        event_list = events.tolist()
        instants = instant.tolist()
        flushed, pending = 0, len(enters)
        for j in np.flatnonzero(walk).tolist():
            while flushed < pending and enters[flushed][0] < j:
                entering = enters[flushed][1]
                touched[entering.terms.org_id] = entering
                flushed += 1
            e = event_list[j]
            at = instants[j]
            clocked = j > 0 or start is not None  # the partition had a clock before it
            if e < n_m:
                watch = watches[m_code[e]]
                mention_id = m_ids[e]
                created = batch.m_created_us[e]
                if mention_id not in index and mention_id not in refs:
                    # A new actionable mention (a copy of one tracked is skipped).
                    terms = watch.terms
                    breach_us = batch.m_breach[e]
                    response = None
                    if orphans.index:
                        response = orphans.pop(_orphan_key(mention_id, terms.org_id))
                        if response is not None:
                            part.clock = at if clocked else None
                            read_at = self._partitions[response[_READ_FROM]].clock
                            if read_at is not None and read_at > response[_AT] + self._orphan_keep:
                                response = None  # it had left the state already
                    expires_us = batch.m_expires[e]
                    stored = not (clocked and at > expires_us)  # else its state is gone
                    deadline_us = batch.m_deadline[e]
                    seq = -1
                    if (stored and response is None and breach_us < deadline_us
                            and at < deadline_us):
                        # It may wait past SLA: from its breach, or now when it was read
                        # after its SLA ran out.
                        seq = self._seq
                        self._seq += 1
                        watch.pool.rows.append((seq, breach_us if breach_us > at else at,
                                                deadline_us, created, m_complaint[e],
                                                mention_id))
                        if breach_us > at:
                            if watch.due is None or breach_us < watch.due:
                                watch.due = breach_us
                                heappush(due, (breach_us, terms.org_id))
                        else:
                            touched[terms.org_id] = watch
                    state: _State = (
                        terms.org_id, m_platform[e], created, batch.m_author_id[e],
                        batch.m_author_handle[e], m_kind[e], m_complaint[e], number, breach_us,
                        response,
                        None,  # business seconds: made with the rows (`_business`)
                        None if response is None else at, seq,
                    )
                    if response is None:
                        changed.pop(mention_id, None)  # an earlier copy's, if any
                    else:
                        changed[mention_id] = state
                    fresh[mention_id] = e
                    if stored:
                        label = expires_us // _HOUR_US << _PARTITION_BITS | number
                        if put_new(mention_id, state, label):
                            part.add_shelf(label)
                if watch.exact:
                    self._see_mention(watch, _instant(created), mention_id,
                                      batch.m_author_handle[e], batch.m_author_id[e],
                                      _instant(int(after[j])))
            else:
                k = e - n_m
                watch = watches[batch.p_code_list[k]]
                target = batch.p_reply_to[k]
                created = p_created[k]
                if target is not None:
                    part.clock = at if clocked else None
                    reply: _Reply = (created, *said[k], number)
                    self._take_reply(watch.terms.org_id, reply, target, part, at, changed)
                if watch.exact:
                    self._see_post(watch, _instant(created), _instant(int(after[j])))
        for _, entering in enters[flushed:]:
            touched[entering.terms.org_id] = entering
        for watch in watches.values():
            watch.exact = False
        part.clock = int(after[-1])

    def _take_plain(self, part: _Partition, batch: _Batch, events: np.ndarray,
                    instant: np.ndarray, first_unclocked: bool, watches: dict[int, _Watch],
                    changed: dict[str, _State], fresh: dict[str, int],
                    ) -> tuple[np.ndarray, list[tuple[int, _Watch]]]:
        """Take the partition's new actionable mentions in bulk where nothing but their own
        columns decides what happens to them: not tracked yet, no other copy in the batch,
        no reply waiting for them (from an earlier batch or earlier in this one), not
        expired on arrival; and only for organisations all of whose mentions in the batch
        are such. Returns which positions were taken, and the changes (mentions read after
        their SLA ran out start waiting) with their positions, for the walk to interleave
        with its own in offset order. What the walk would have done to each, in order:
        the result is the same."""
        mention = np.flatnonzero(batch.actionable_all[events])  # positions
        taken = np.zeros(len(events), bool)
        if not mention.size:
            return taken, []
        rows = events[mention]
        id_array = batch.m_id_array[rows]
        ids: list[str] = id_array.tolist()
        odd = np.zeros(len(ids), bool)  # decided event by event
        unique = set(ids)
        if len(unique) < len(ids):
            seen: set[str] = set()
            twice = {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]
            odd |= np.array([i in twice for i in ids], bool)
        held = (self._mentions.index.keys() & unique) | (self._refs.keys() & unique)
        if held:
            odd |= np.array([i in held for i in ids], bool)
        orphans = self._orphans.index
        if orphans:
            orgs = batch.orgs
            m_code = batch.m_code_list
            odd |= np.array([_orphan_key(i, orgs[m_code[e]]) in orphans
                             for i, e in zip(ids, rows.tolist(), strict=True)], bool)
        replies = np.flatnonzero(batch.replying[events])
        if replies.size:
            targets = batch.p_reply_to
            n_m = batch.n_m
            # the first reply to each target: written last when they go in from the end
            first: dict[str | None, int] = dict(zip(
                [targets[k] for k in (events[replies] - n_m).tolist()[::-1]],
                replies.tolist()[::-1], strict=True))
            if first.keys() & unique:
                # where each mention's id is among the targets, and the first reply to it
                found = pc.index_in(batch.m_id_arrow.take(pa.array(rows, pa.int64())),
                                    value_set=pa.array(list(first), pa.string()))
                where = found.fill_null(-1).to_numpy(zero_copy_only=False)
                reply_at = np.append(np.fromiter(first.values(), np.int64, len(first)),
                                     len(events))
                odd |= reply_at[where] < mention
        at = instant[mention]
        expires = batch.expires[rows]
        late = at > expires
        if first_unclocked and mention[0] == 0:
            late[0] = False  # no clock before it
        odd |= late
        codes = batch.m_code[rows]
        if odd.any():
            odd |= np.isin(codes, codes[odd])
        plain = np.flatnonzero(~odd)
        if not plain.size:
            return taken, []
        taken[mention[plain]] = True
        rows, codes, at = rows[plain], codes[plain], at[plain]
        id_array = id_array[plain]
        ids = id_array.tolist()
        row_list = rows.tolist()
        number = part.number
        breach = batch.breach[rows]
        deadline = batch.deadline[rows]
        # It may wait past SLA: from its breach, or from now when read after its SLA ran out
        pooled = (breach < deadline) & (at < deadline)
        seqs = np.full(len(ids), -1, np.int64)
        count = int(np.count_nonzero(pooled))
        seqs[pooled] = np.arange(self._seq, self._seq + count)
        self._seq += count
        fresh.update(zip(ids, row_list, strict=True))
        # Their states stay as columns until a reply or an alert asks for one (`_Held`),
        # and go when the hour of the last of them to expire has passed.
        last = int(batch.expires[rows].max()) // _HOUR_US << _PARTITION_BITS | number
        complaint = batch.m_complaint_array[rows]
        created = batch.m_created[rows]
        refs = self._hold(part, batch, rows, ids, complaint, seqs, last)
        self._refs.update(zip(ids, refs.tolist(), strict=True))
        if not count:
            return taken, []
        waits = pooled & (breach > at)
        start = np.where(waits, breach, at)
        for code in np.unique(codes[pooled]).tolist():
            rows_of = np.flatnonzero(pooled & (codes == code))
            watch = watches[code]
            watch.pool.add_block((seqs[rows_of], start[rows_of], deadline[rows_of],
                                  created[rows_of], complaint[rows_of], refs[rows_of]))
            timers = rows_of[waits[rows_of]]
            if timers.size:
                self._due_all(part, watch, breach[timers])
        entering = np.flatnonzero(pooled & ~waits).tolist()
        positions = mention[plain].tolist()
        return taken, [(positions[i], watches[codes[i]]) for i in entering]

    def _take_replies(self, part: _Partition, batch: _Batch, events: np.ndarray,
                      instant: np.ndarray, first_unclocked: bool, watches: dict[int, _Watch],
                      exact: set[int], fresh: dict[str, int],
                      ) -> tuple[np.ndarray, list[tuple[int, _Watch]]]:
        """Take the partition's replies in bulk where the mention they name is held as
        columns and nothing else of the batch can change what they do: no reply of the batch
        on another partition names it, its silence is not walked (`exact`), and it is on
        this partition (several replies naming one mention: `_first_and_best`). Such a reply
        answers an open mention of its organisation that has not left the state: the
        mentions answered go to a new `_Block` with their responses (their old rows are
        released), their rows are made from it (`_answered_rows`); or it changes nothing
        (another organisation's, too late, or not earlier than the first response known).
        Returns which positions were taken, and per organisation the first position at which
        its queue needs a decision, for the walk to interleave in offset order. What
        `_take_reply` would have done to each, in order: the result is the same."""
        taken = np.zeros(len(events), bool)
        refs = self._refs
        replies = np.flatnonzero(batch.replying[events])
        if not replies.size or not refs:
            return taken, []
        n_m = batch.n_m
        if exact:
            replies = replies[~np.isin(batch.code[events[replies]], list(exact))]
        targets = batch.p_reply_to
        shelved = self._mentions.index
        once, here, number = batch.named_once, batch.named_here, part.number
        posts = (events[replies] - n_m).tolist()
        named = [i for i, k in enumerate(posts)
                 if ((t := targets[k]) in once or here.get(t) == number) and t in refs
                 and t not in shelved]
        if len(named) < _FEW_REPLIES:
            return taken, []  # the walk takes a few for less than a block costs
        replies = replies[named]
        k = events[replies] - n_m
        ids = [targets[x] for x in k.tolist()]
        old = np.fromiter((refs[t] for t in ids), np.int64, len(ids))
        held = self._held
        state = held.gather(old)
        codes = batch.code[events[replies]]
        at = instant[replies]
        reply_at = batch.created[events[replies]]
        keep = np.array([t.keep_us for t in batch.terms], np.int64)[codes]
        home = state["partition"] == part.number
        clocked = np.ones(len(replies), bool)
        if first_unclocked:
            clocked[replies == 0] = False
        nothing = ((state["org"] != held.codes(batch.orgs)[codes])
                   | (clocked & (at > state["created"] + keep))
                   | (reply_at > state["answered"]))
        answers = home & ~nothing & (state["answered"] == _NO)
        if len(set(ids)) < len(ids):
            chosen, best, walked = self._first_and_best(batch, ids, answers, home & ~nothing,
                                                        k, reply_at)
            taken[replies[home & ~walked]] = True
        else:
            taken[replies[home & (nothing | answers)]] = True
            chosen = best = np.flatnonzero(answers)
        if not chosen.size:
            return taken, []
        # The first answer read decides the queue; the best one is the first response.
        at, codes, answer_at = at[chosen], codes[chosen], reply_at[chosen]
        reply_at, k = reply_at[best], k[best]
        old = old[chosen]
        ids = [ids[i] for i in chosen.tolist()]
        take = pa.array(chosen, pa.int64())
        posts_of = pa.array(k, pa.int64())
        seq, breach = state["seq"][chosen], state["breach"][chosen]
        created = state["created"][chosen]
        block = _Block(
            part.number, state["ids"].take(take), state["org"][chosen],
            state["platform"][chosen], state["kind"][chosen], state["author_id"].take(take),
            state["author_handle"].take(take), created, breach,
            state["complaint"][chosen], seq,
            (batch.p_id_arrow.take(posts_of), batch.p_handle_arrow.take(posts_of),
             batch.p_role_arrow.take(posts_of), reply_at, at))
        held.add(block, ids)
        number = part.number
        last = int((created + keep[chosen]).max()) // _HOUR_US << _PARTITION_BITS | number
        part.add_block(last, held.made - 1)
        # (`_refs` keeps the old rows: no other reply of the batch asks for these states.)
        self._released.extend(old.tolist())
        self._answered.append(block)
        for mention_id in ids:
            fresh.pop(mention_id, None)  # its row is the answered one
        # The queue: each stops waiting past SLA when its answer is read, or never starts;
        # one read after the breach calls for a decision at that instant.
        positions = replies[chosen]
        touches = []
        after = breach <= at
        in_time = answer_at >= breach
        for code in np.unique(codes).tolist():
            mine = codes == code
            watch = watches[code]
            pooled = mine & (seq >= 0)
            if pooled.any():
                watch.answer_columns.append((seq[pooled], at[pooled], in_time[pooled]))
            late = mine & after
            if late.any():
                watch.touches.extend(at[late].tolist())
                touches.append((int(positions[late][0]), watch))
        return taken, touches

    @staticmethod
    def _first_and_best(batch: _Batch, ids: list[str], answers: np.ndarray,
                        counting: np.ndarray, posts: np.ndarray, reply_at: np.ndarray,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_take_replies` where several of its replies (in offset order, naming `ids`)
        name one mention: what `_take_reply` would do to them one by one. The first that
        answers (`answers`) is read as the answer, and each later one that is earlier
        (`_Reply` order) replaces the first response. Returns the positions of the first
        answers, of the best answers (one each, in offset order), and which replies are
        left to the walk: all of a mention's when one of them (`counting`: of its
        organisation, in time) may improve the answer it already had."""
        group = np.asarray(pa.array(ids, pa.string()).dictionary_encode().indices, np.int64)
        walked = np.zeros(len(ids), bool)
        walked[group[counting & ~answers]] = True
        walked = walked[group]
        valid = np.flatnonzero(answers)
        _, first = np.unique(group[valid], return_index=True)
        chosen = np.sort(valid[first])
        best = chosen.copy()
        several = np.flatnonzero(np.bincount(group[valid], minlength=len(ids)) > 1)
        if several.size:
            rivals = valid[np.isin(group[valid], several)]
            take = pa.array(posts[rivals], pa.int64())
            winner: dict[int, tuple[tuple[Any, ...], int]] = {}
            for i, g, created, post_id, handle, role in zip(
                    rivals.tolist(), group[rivals].tolist(), reply_at[rivals].tolist(),
                    batch.p_id_arrow.take(take).to_pylist(),
                    batch.p_handle_arrow.take(take).to_pylist(),
                    batch.p_role_arrow.take(take).to_pylist(), strict=True):
                reply = (created, post_id, handle, role)
                kept = winner.get(g)
                if kept is None or reply < kept[0]:
                    winner[g] = (reply, i)
            rivalled = np.flatnonzero(np.isin(group[chosen], several))
            best[rivalled] = [winner[g][1] for g in group[chosen[rivalled]].tolist()]
        return chosen, best, walked

    def _make_ready(self, batch: _Batch, posts: np.ndarray) -> None:
        """The states of the held mentions the walk's replies (merged numbers `posts`) name,
        made in one go."""
        if not self._refs or not posts.size:
            return
        refs, ready, shelved = self._refs, self._ready, self._mentions.index
        targets = batch.p_reply_to
        asked = {t for k in (posts - batch.n_m).tolist() if (t := targets[k]) is not None
                 and t in refs and t not in ready and t not in shelved}
        if asked:
            ready.update(zip(asked, self._held.states(refs[t] for t in asked), strict=True))

    def _due_all(self, part: _Partition, watch: _Watch, breach: np.ndarray) -> None:
        """The partition's `due` heap for mentions that start waiting past SLA at `breach`
        (in offset order) unless answered before: a new entry whenever one comes before the
        watch's due, as the walk makes them one by one."""
        due = watch.due
        floor = np.minimum.accumulate(breach)
        sooner = np.empty(len(breach), bool)
        if due is None:
            sooner[0] = True
            sooner[1:] = breach[1:] < floor[:-1]
        else:
            sooner[0] = breach[0] < due
            sooner[1:] = breach[1:] < np.minimum(floor[:-1], due)
        org_id = watch.terms.org_id
        for at in breach[sooner].tolist():
            heappush(part.due, (at, org_id))
            watch.due = at

    def _hold(self, part: _Partition, batch: _Batch, rows: np.ndarray, ids: list[str],
              complaint: np.ndarray, seqs: np.ndarray, last: int) -> np.ndarray:
        """Hold the mentions at `rows` of the batch (on `part`, with `ids`) as columns until
        the hour of shelf label `last` has passed; their references."""
        held = self._held
        take = pa.array(rows, pa.int64())
        org, platform, kind = batch.word_codes(held)
        author_id, handle = batch.author_arrays()
        block = _Block(part.number, batch.m_id_arrow.take(take), org[rows], platform[rows],
                       kind[rows], author_id.take(take), handle.take(take),
                       batch.m_created[rows], batch.breach[rows], complaint, seqs)
        refs = held.add(block, ids)
        part.add_block(last, held.made - 1)
        return refs

    def _quiet_orgs(self, batch: _Batch, events: np.ndarray, codes: np.ndarray,
                    is_post: np.ndarray, relevant: np.ndarray,
                    watches: dict[int, _Watch]) -> set[int]:
        """Silence without a walk per event: for each organisation of the partition's events,
        either its silence cannot flip in this batch, and its latest mention and post are
        taken from the columns, or it is marked `exact` (returned), and the walk takes its
        events one by one. Silence flips seldom, so nearly every organisation is the first
        case."""
        exact: set[int] = set()
        created = batch.created[events]
        for code, watch in watches.items():
            terms = watch.terms
            if terms.silent_after is None:
                continue
            mine = relevant & (codes == code)
            said = created[mine & ~is_post]  # its actionable mentions, in offset order
            posted = created[mine & is_post]
            last_post = None if watch.last_post is None else _us(watch.last_post)
            newest_post = int(posted.max()) if posted.size else None
            if watch.silent:
                # Only a post newer than the latest can end it.
                flip = newest_post is not None and (last_post is None or newest_post > last_post)
            elif not said.size:
                flip = False  # only a mention can start it
            else:
                flip = _may_fall_silent(
                    created[mine], is_post[mine], last_post,
                    None if watch.first_mention is None else _us(watch.first_mention),
                    None if watch.last_mention is None else _us(watch.last_mention),
                    terms.listed, terms.silent_after * _US)
            if flip:
                exact.add(code)
                watch.exact = True
                continue
            if said.size:
                newest = int(said.max())
                if watch.last_mention is None or newest > _us(watch.last_mention):
                    first = int(np.flatnonzero(said == newest)[0])
                    e = int(events[np.flatnonzero(mine & ~is_post)[first]])
                    watch.last_mention = _instant(newest)
                    author_id, handle = batch.author_of(e)
                    watch.latest = (batch.m_ids[e], handle, author_id)
                oldest = int(said.min())
                if watch.first_mention is None or oldest < _us(watch.first_mention):
                    watch.first_mention = _instant(oldest)
            if newest_post is not None and (last_post is None or newest_post > last_post):
                watch.last_post = _instant(newest_post)
        return exact

    def _partition(self, number: int) -> _Partition:
        part = self._partitions.get(number)
        if part is None:
            part = self._partitions[number] = _Partition(number)
            part.cut = self._cut.get(number)
            part.cut_us = None if part.cut is None else _us(part.cut)
        return part

    def _terms_of(self, org_id: str) -> _Terms:
        terms = self._terms.get(org_id)
        if terms is None:
            org = self._roster.org(org_id)
            hours = org.business_hours
            key = (hours.week, hours.timezone)
            calendar = self._calendars.get(key)
            if calendar is None:
                calendar = self._calendars[key] = _Calendar(hours, self.work)
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

    def _see_mention(self, watch: _Watch, created: datetime, event_id: str, handle: str,
                     author_id: str, instant: datetime) -> None:
        """Silence: a mention came; does the organisation count as silent now?"""
        if watch.terms.silent_after is None:
            return
        moved = False
        if watch.last_mention is None or created > watch.last_mention:
            watch.last_mention = created
            watch.latest = (event_id, handle, author_id)
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
            watch.silences.append((_us(instant), info))
            watch.part.touched[watch.terms.org_id] = watch

    def _see_post(self, watch: _Watch, created: datetime, instant: datetime) -> None:
        """Silence: the organisation posted; is it still silent?"""
        if watch.terms.silent_after is None:
            return
        if watch.last_post is None or created > watch.last_post:
            before, posted = _silence_since(watch), watch.last_post is not None
            watch.last_post = created
            if watch.silent:
                self._check_silence(watch, instant, before, posted)

    def _take_reply(self, org_id: str, reply: _Reply, target: str, part: _Partition,
                    instant: int, changed: dict[str, _State]) -> None:
        """A post of `org_id` in reply to `target`, read at `instant` (µs) on `part`."""
        state = self._get(target)
        if state is not None:
            if org_id != state[_ORG]:
                return  # another organisation's reply never counts
            home = self._partitions[state[_PARTITION]]
            terms = self._terms[state[_ORG]]
            if home.clock is not None and home.clock > state[_CREATED] + terms.keep_us:
                return  # the mention has left the state: too late
            current = state[_RESPONSE]
            if current is not None and not reply < current:
                return
            known = instant if current is None else state[_KNOWN]
            seq = state[_SEQ]
            state = (*state[:_RESPONSE], reply, None, known, seq)
            self._replace(target, state)
            changed[target] = state
            if current is None:
                breach = state[_BREACH]
                if seq >= 0:
                    # It stops waiting past SLA now, or never starts; if it was answered in
                    # time after all, it only seemed to wait because the answer was read late.
                    watch = home.watches[state[_ORG]]
                    watch.answers.append((seq, instant, reply[_AT] >= breach))
                if breach <= instant:
                    watch = home.watches[state[_ORG]]
                    watch.touches.append(instant)
                    home.touched[watch.terms.org_id] = watch
            return
        keep_until = reply[_AT] + self._orphan_keep
        if part.clock is not None and part.clock > keep_until:
            return
        key = _orphan_key(target, org_id)
        waiting = self._orphans.get(key)
        if waiting is not None and not reply < waiting:
            read_at = self._partitions[waiting[_READ_FROM]].clock
            if read_at is None or read_at <= waiting[_AT] + self._orphan_keep:
                return  # the one waiting is better, and still valid
        label = keep_until // _HOUR_US << _PARTITION_BITS | part.number
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
        work = self.work
        while due and due[0][0] <= clock:
            work.timers += 1
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

    def _next_due(self, watch: _Watch) -> int | None:
        """When the organisation must settle next: a mention starts waiting past SLA or
        reaches its answer deadline while waiting, the alert may resolve, or an instant
        waits to be decided once the clock has passed it."""
        found = []
        pool = watch.pool
        if pool.size:
            status = pool.status
            ahead = status == 0
            if ahead.any():
                found.append(int(pool.start[ahead].min()))
            waiting = status == 1
            if waiting.any():
                found.append(int(pool.deadline[waiting].min()))
        if watch.alert_id is not None and not watch.waiting and watch.zero_since is not None:
            resolve = watch.zero_since + _RESOLVE_US
            if (watch.evaluated is None or resolve > watch.evaluated) and (
                    watch.pending is None or resolve > watch.pending):
                found.append(resolve)
        if watch.pending is not None:
            found.append(watch.pending + 1)  # decided once the clock has passed it
        return min(found) if found else None

    def _settle(self, watch: _Watch, clock: int, alerts: list[Alert]) -> None:
        """Take the organisation's queue up to `clock` (µs): which mentions start and stop
        waiting past SLA at which instants, as columns; then decide the instants before the
        clock in order (the one at the clock waits for the events still to come at it)."""
        pool = watch.pool
        pool.flush()
        self.work.settles += 1
        self.work.queue_rows += pool.size
        if watch.answers or watch.answer_columns:
            pool.answer(watch.answers, watch.answer_columns)
            watch.answers.clear()
            watch.answer_columns.clear()
        times: list[Any] = []
        n_in = n_out = 0
        confirms = np.zeros(0, bool)
        if pool.size:
            status = pool.status
            starting = np.flatnonzero((status == 0) & (pool.start <= clock))
            if starting.size:
                start = pool.start[starting]
                enters = pool.known[starting] >= start  # else answered before its breach
                rows = starting[enters]
                pool.entered[rows] = start[enters]
                status[rows] = 1
                status[starting[~enters]] = 2
                times.append(start[enters])
                n_in = rows.size
            waiting = np.flatnonzero(status == 1)
            if waiting.size:
                ends = np.minimum(pool.known[waiting], pool.deadline[waiting])
                going = ends <= clock
                if going.any():
                    rows = waiting[going]
                    status[rows] = 2
                    times.append(ends[going])
                    # unanswered at its deadline, or answered late: it really waited
                    confirms = (pool.deadline[rows] <= pool.known[rows]) | pool.late[rows]
                    n_out = rows.size
            if starting.size:
                times.append(pool.start[starting[~enters]])  # a decision, nothing more
        if watch.touches:
            times.append(np.array(watch.touches, np.int64))
            watch.touches.clear()
        silences = watch.silences
        if silences:
            times.append(np.array([t for t, _ in silences], np.int64))
        if watch.pending is not None:
            times.append(np.array([watch.pending], np.int64))
        if times:
            instants, where = np.unique(np.concatenate(times), return_inverse=True)
        else:
            instants = where = np.zeros(0, np.int64)
        n = len(instants)
        step = np.zeros(n, np.int64)
        conf = np.zeros(n, bool)
        if n_in:
            step += np.bincount(where[:n_in], minlength=n)
        if n_out:
            out = where[n_in:n_in + n_out]
            step -= np.bincount(out, minlength=n)
            conf[out[confirms]] = True
        before = watch.waiting
        counts = before + np.cumsum(step)
        silent = np.zeros(n, bool)  # instants to decide whatever the counts say
        if silences:
            silent[np.searchsorted(instants, [t for t, _ in silences])] = True
        if watch.pending is not None and n:
            conf[0] |= watch.pending_conf  # instants[0] is the pending one
            silent[0] = True  # silence may have flipped at it
        self._walk(watch, instants, counts, conf, silent, before, clock, alerts)
        if n:
            watch.waiting = int(counts[-1])
        silences.clear()
        if pool.size > 256 and np.count_nonzero(pool.status == 2) * 2 > pool.size:
            pool.keep(pool.status != 2)

    def _walk(self, watch: _Watch, instants: np.ndarray, counts: np.ndarray, conf: np.ndarray,
              silent: np.ndarray, before: int, clock: int, alerts: list[Alert]) -> None:
        """Decide the organisation's instants before `clock`: only those that can call for
        a state (found by search over the counts), and the alert's chance to resolve; the
        others would change nothing. Instants a restart's stored states cover are taken one
        by one."""
        n = len(instants)
        end = int(np.searchsorted(instants, clock))
        cut = watch.part.cut_us
        gates = [g for g in (watch.known_until, watch.silent_known_until,
                             None if cut is None else cut - 1) if g is not None]
        gate = max(gates) if gates else None
        silences = watch.silences
        applied = 0
        i = 0
        watch.pending = None
        while True:
            j = self._next_visit(watch, instants, counts, conf, silent, i, end, gate)
            if (watch.alert_id is not None and watch.zero_since is not None
                    and (counts[i - 1] if i else before) == 0):
                resolve = watch.zero_since + _RESOLVE_US
                if (watch.evaluated is None or resolve > watch.evaluated) and (
                        j >= n or resolve < instants[j]):
                    if resolve < clock:
                        self._decide(watch, resolve, 0, False, alerts)
                        i = int(np.searchsorted(instants, resolve, "right"))
                        continue
                    if resolve == clock:
                        watch.pending, watch.pending_conf = clock, False
                        break
            if j >= end:
                if end < n:  # events at the clock: decided when it moves on
                    watch.pending, watch.pending_conf = clock, bool(conf[end])
                break
            at = int(instants[j])
            while applied < len(silences) and silences[applied][0] <= at:
                watch.silent_flag = silences[applied][1][0]
                watch.silence = silences[applied][1]
                applied += 1
            self._decide(watch, at, int(counts[j]), bool(conf[j]), alerts)
            i = j + 1
        if end and (watch.evaluated is None or instants[end - 1] > watch.evaluated):
            watch.evaluated = int(instants[end - 1])
        for _, silence in silences[applied:]:
            watch.silent_flag = silence[0]
            watch.silence = silence

    @staticmethod
    def _next_visit(watch: _Watch, instants: np.ndarray, counts: np.ndarray, conf: np.ndarray,
                    silent: np.ndarray, i: int, end: int, gate: int | None) -> int:
        """The first instant from `i` on (before `end`) whose decision may change something:
        where the alert would open, get a new version, be confirmed, start counting down to
        resolve, or silence flips; every instant up to `gate`, and the first after it."""
        if i >= end:
            return end
        seen = watch.evaluated
        if seen is None or (gate is not None and (seen <= gate or instants[i] <= gate)):
            return i
        waiting = counts[i:end]
        if watch.alert_id is None:
            mask = waiting > 0
        elif watch.zero_since is not None:
            if watch.zero_since + _RESOLVE_US <= seen:
                return i
            mask = waiting > 0
            if not watch.confirmed:
                mask |= conf[i:end]
        else:
            reported = watch.reported
            grown = max(reported + 1, (3 * reported + 1) // 2)  # UPDATE_RATIO, in integers
            halved = max(min(reported - 2, reported // 2), 0)
            mask = (waiting <= halved) | (waiting >= grown)
            if not watch.confirmed:
                mask |= conf[i:end]
        mask |= silent[i:end]
        k = int(mask.argmax())
        return i + k if mask[k] else end

    def _decide(self, watch: _Watch, at: int, waiting: int, confirming: bool,
                alerts: list[Alert]) -> None:
        """Everything that happened at instant `at` (µs) is in, `waiting` wait past SLA: the
        alert states it calls for."""
        watch.evaluated = at
        self.work.instants_decided += 1
        if waiting:
            watch.zero_since = None
        elif watch.zero_since is None:
            watch.zero_since = at
        after_known = watch.known_until is None or at > watch.known_until
        # A mention that really waited (unanswered at its deadline, or answered late)
        # confirms the alert; one that only seemed to (its answer was posted in time but
        # read late) does not. The first confirmation is a new state, unless nobody waits.
        confirmed = (confirming and watch.alert_id is not None and not watch.confirmed
                     and after_known)
        if confirmed:
            watch.confirmed = True
        cut = watch.part.cut_us
        if cut is not None and at < cut:
            return  # rebuilding after a restart: these states are stored already
        if after_known:
            if watch.alert_id is None:
                if waiting:
                    alerts.append(self._queue_alert(watch, at, opening=True))
            elif not waiting:
                assert watch.zero_since is not None
                if at >= watch.zero_since + _RESOLVE_US:
                    alerts.append(self._queue_resolved(watch, at))
            else:
                reported = watch.reported
                if confirmed or (waiting > reported and waiting >= reported * UPDATE_RATIO) or (
                        reported - waiting >= 2 and 2 * waiting <= reported):
                    alerts.append(self._queue_alert(watch, at, opening=False))
        if watch.silent_known_until is None or at > watch.silent_known_until:
            if watch.silent_flag and watch.silent_id is None:
                alerts.append(self._silent_alert(watch, _instant(at)))
            elif not watch.silent_flag and watch.silent_id is not None:
                alerts.append(self._silent_resolved(watch, _instant(at)))

    def _drop(self, part: _Partition, clock: int) -> None:
        """Forget the mentions and orphans of every hour of expiry that the clock has passed.

        Exact to the hour: the checks when a reply or a mention arrives are exact.
        """
        for label in part.passed(clock):
            self.work.shelves_dropped += 1
            self._mentions.drop(label)
            self._orphans.drop(label)
        for number in part.blocks_passed(clock):
            self.work.shelves_dropped += 1
            self._held.drop(number)

    # -- output -------------------------------------------------------------------------

    def _rows_table(self, batch: _Batch, changed: dict[str, _State],
                    fresh: dict[str, int]) -> pa.Table:
        """The call's rows, in no particular order: a mention new in this call and still open
        straight from the batch's columns; an answered one with its response from its state
        (and the rest from the batch's columns when it is new in this call)."""
        taken: list[int] = []  # answered mentions new in this call: their rows in `mentions`
        responses: list[tuple[Any, ...]] = []  # and their responses' columns
        late: list[tuple[str, _State, float]] = []  # answered mentions of earlier calls
        terms_of = self._terms
        for (mention_id, state), business in zip(changed.items(), self._business(changed),
                                                  strict=True):
            e = fresh.get(mention_id)
            if e is None:
                late.append((mention_id, state, business))
                continue
            taken.append(e)
            reply = state[_RESPONSE]
            assert reply is not None
            at = reply[_AT]
            at_ms = at // 1000
            sla = terms_of[state[_ORG]].sla_seconds
            responses.append((reply[_POST_ID], at_ms, reply[_HANDLE], reply[_ROLE],
                              max(0.0, (at - state[_CREATED]) / _US), business,
                              business > sla, VERSION_ANSWERED - at_ms))
        opened = np.fromiter(fresh.values(), np.int64, len(fresh))
        if taken:
            opened = np.setdiff1d(opened, np.array(taken, np.int64), assume_unique=True)
        parts = [self._fresh_rows(batch, rows, answers)
                 for rows, answers in ((opened.tolist(), None), (taken, responses)) if rows]
        if late:
            parts.append(self._answered_rows(late))
        if self._answered:
            parts.append(self._block_rows(self._answered))
        if not parts:
            return ROWS_SCHEMA.empty_table()
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def _fresh_rows(self, batch: _Batch, taken: list[int],
                    responses: list[tuple[Any, ...]] | None) -> pa.Table:
        """Rows of mentions new in this call (rows `taken` of `mentions`); `responses`:
        their first responses' columns, None when they are all open."""
        n = len(taken)
        rows = np.array(taken, np.int64)
        mentions = batch.mentions.select(list(_ROW_COLUMNS)).take(pa.array(rows, pa.int64()))

        def text(name: str) -> pa.Array:
            return _column(mentions, name).cast(pa.string())

        def times(us: np.ndarray) -> pa.Array:
            return pa.array(us // 1000, pa.int64()).cast(_MS_UTC)

        if responses is None:
            response: dict[str, pa.Array] = {
                "first_response_id": pa.nulls(n, pa.string()),
                "first_response_at": pa.nulls(n, _MS_UTC),
                "responder_handle": pa.nulls(n, pa.string()),
                "responder_role": pa.nulls(n, pa.string()),
                "response_seconds": pa.nulls(n, pa.float64()),
                "business_response_seconds": pa.nulls(n, pa.float64()),
                "sla_breached": pa.array(np.zeros(n, bool), pa.bool_()),
                "version": pa.array(np.zeros(n, np.uint64), pa.uint64()),
            }
        else:
            (response_id, response_ms, handle, role, seconds, business, breached,
             version) = zip(*responses, strict=True)
            response = {
                "first_response_id": pa.array(response_id, pa.string()),
                "first_response_at": pa.array(response_ms, pa.int64()).cast(_MS_UTC),
                "responder_handle": pa.array(handle, pa.string()),
                "responder_role": pa.array(role, pa.string()),
                "response_seconds": pa.array(seconds, pa.float64()),
                "business_response_seconds": pa.array(business, pa.float64()),
                "sla_breached": pa.array(breached, pa.bool_()),
                "version": pa.array(version, pa.uint64()),
            }
        sla = np.array([t.sla_seconds for t in batch.terms], np.float64)
        return pa.table({
            "org_id": text("org_id"), "mention_id": text("event_id"),
            "platform": text("platform"), "created_at": times(batch.m_created[rows]),
            "sla_seconds": pa.array(sla[batch.m_code[rows]], pa.float64()),
            "author_id": text("author_id"), "author_handle": text("author_handle"),
            "kind": text("kind"),
            "complaint": _column(mentions, "complaint").cast(pa.bool_()).fill_null(False),
            "answer_deadline": times(batch.deadline[rows]),
            "sla_breach_at": times(batch.breach[rows]),
            **response,
        }).select(ROWS_SCHEMA.names).cast(ROWS_SCHEMA)

    def _block_rows(self, blocks: list[_Block]) -> pa.Table:
        """Rows of the mentions a call's replies answered in bulk (`_take_replies`), from
        their blocks' columns, in one table; business seconds per business calendar (shared
        by organisations with the same hours) in one go."""

        def joined(get: Any) -> Any:
            parts = [get(block) for block in blocks]
            if len(parts) == 1:
                return parts[0]
            return (pa.concat_arrays(parts) if isinstance(parts[0], pa.Array)
                    else np.concatenate(parts))

        # (every block here has its answers)
        post_ids, handles, roles, at = (joined(lambda b, k=k: b.answers[k]) for k in range(4))
        org, created = joined(lambda b: b.org), joined(lambda b: b.created)
        words = self._held.words
        sla = np.zeros(len(words))
        window = np.zeros(len(words), np.int64)
        calendar_of = np.zeros(len(words), np.int64)
        calendars: dict[int, _Calendar] = {}
        for code in np.unique(org).tolist():
            terms = self._terms[words[code]]
            sla[code], window[code] = terms.sla_seconds, terms.window_us
            calendar_of[code] = id(terms.calendar)
            calendars[id(terms.calendar)] = terms.calendar
        business = np.zeros(len(created))
        row_calendar = calendar_of[org]
        for key, calendar in calendars.items():
            mine = np.flatnonzero(row_calendar == key)
            business[mine] = calendar.seconds_many(created[mine], at[mine])
        dictionary = pa.array(words, pa.string())

        def text(codes: np.ndarray) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                                  dictionary).cast(pa.string())

        def times(us: np.ndarray) -> pa.Array:
            return pa.array(us // 1000, pa.int64()).cast(_MS_UTC)

        sla_seconds = sla[org]
        return pa.table({
            "org_id": text(org), "mention_id": joined(lambda b: b.ids),
            "platform": text(joined(lambda b: b.platform)),
            "created_at": times(created), "first_response_id": post_ids,
            "first_response_at": times(at), "responder_handle": handles,
            "responder_role": roles,
            "response_seconds": pa.array(np.maximum(0.0, (at - created) / _US), pa.float64()),
            "business_response_seconds": pa.array(business, pa.float64()),
            "sla_seconds": pa.array(sla_seconds, pa.float64()),
            "sla_breached": pa.array(business > sla_seconds, pa.bool_()),
            "author_id": joined(lambda b: b.author_id),
            "author_handle": joined(lambda b: b.author_handle),
            "kind": text(joined(lambda b: b.kind)),
            "complaint": pa.array(joined(lambda b: b.complaint), pa.bool_()),
            "answer_deadline": times(created + window[org]),
            "sla_breach_at": times(joined(lambda b: b.breach)),
            "version": pa.array((VERSION_ANSWERED - at // 1000).astype(np.uint64), pa.uint64()),
        }).select(ROWS_SCHEMA.names).cast(ROWS_SCHEMA)

    def _business(self, changed: dict[str, _State]) -> list[float]:
        """business_response_seconds of each state's first response, in order: per
        organisation in one go over its calendar."""
        if not changed:
            return []
        n = len(changed)
        states = list(changed.values())
        created = np.fromiter((state[_CREATED] for state in states), np.int64, n)
        answered = np.fromiter((state[_RESPONSE][_AT] for state in states  # type: ignore[index]
                                ), np.int64, n)
        of: dict[str, list[int]] = {}
        for i, state in enumerate(states):
            of.setdefault(state[_ORG], []).append(i)
        out = np.zeros(n)
        for org_id, positions in of.items():
            at = np.array(positions, np.int64)
            out[at] = self._terms[org_id].calendar.seconds_many(created[at], answered[at])
        return out.tolist()

    def _answered_rows(self, answered: list[tuple[str, _State, float]]) -> pa.Table:
        columns: dict[str, list[Any]] = {name: [] for name in ROWS_SCHEMA.names}
        (org_id, mention_id, platform, created_at, first_response_id, first_response_at,
         responder_handle, responder_role, response_seconds, business_response_seconds,
         sla_seconds, sla_breached, author_id, author_handle, kind, complaint, answer_deadline,
         sla_breach_at, version) = columns.values()
        for key, state, business in answered:
            terms = self._terms[state[_ORG]]
            created = state[_CREATED]
            reply = state[_RESPONSE]
            assert reply is not None
            at = reply[_AT]
            org_id.append(state[_ORG])
            mention_id.append(key)
            platform.append(state[_PLATFORM])
            created_at.append(created // 1000)
            first_response_id.append(reply[_POST_ID])
            first_response_at.append(at // 1000)
            responder_handle.append(reply[_HANDLE])
            responder_role.append(reply[_ROLE])
            response_seconds.append(max(0.0, (at - created) / _US))
            business_response_seconds.append(business)
            sla_seconds.append(terms.sla_seconds)
            sla_breached.append(business > terms.sla_seconds)
            author_id.append(state[_AUTHOR_ID])
            author_handle.append(state[_AUTHOR_HANDLE])
            kind.append(state[_KIND])
            complaint.append(state[_COMPLAINT])
            answer_deadline.append((created + terms.window_us) // 1000)
            sla_breach_at.append(state[_BREACH] // 1000)
            version.append(VERSION_ANSWERED - at // 1000)
        return pa.table({name: pa.array(values, ROWS_SCHEMA.field(name).type)
                         for name, values in columns.items()}, schema=ROWS_SCHEMA)

    def _queue_alert(self, watch: _Watch, at_us: int, *, opening: bool) -> Alert:
        """The open state of the organisation's SLA alert: who waits past SLA at `at_us`."""
        terms = watch.terms
        at = _instant(at_us)
        if opening:
            watch.alert_id = f"{ALERT_KIND}:{terms.org_id}:{_stamp(at)}"
            watch.opened_at = at
            watch.version = 1
            watch.confirmed = False
        else:
            watch.version += 1
        assert watch.alert_id is not None and watch.opened_at is not None
        waiting, complaints, oldest, ref = watch.pool.waiting_at(at_us, self._held)
        first_id = oldest[0]
        # Its state as held: on the shelves, or still in its block (its created_at and
        # author, which is all this reads, stay there when it moves to the shelves).
        first = self._mentions.get(first_id)
        if first is None and ref >= 0:
            first = self._held.states((ref,))[0]
        assert first is not None  # it waits, so it has not expired
        first_created = _instant(first[_CREATED])
        waited = terms.seconds_between_us(first[_CREATED], at_us)
        watch.reported = waiting
        watch.samples = oldest
        watch.severity = _queue_severity(waiting, complaints)
        sla = format_duration(terms.sla)
        since = (f"{_who(first)}, since {terms.local(first_created)} "
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
                     "oldest_created_at": _iso(first_created),
                     "oldest_business_seconds": round(waited, 3),
                     "sla_seconds": terms.sla_seconds, "confirmed": watch.confirmed},
        )

    def _queue_resolved(self, watch: _Watch, at_us: int) -> Alert:
        """Nobody has waited past SLA for `RESOLVE_AFTER`: resolved; withdrawn (`retracted`)
        when every mention that seemed to wait turned out to have been answered in time."""
        terms = watch.terms
        assert watch.alert_id is not None and watch.opened_at is not None
        assert watch.zero_since is not None
        at = _instant(at_us)
        zero_since = _instant(watch.zero_since)
        sla = format_duration(terms.sla)
        if watch.confirmed:
            summary = (f"{terms.name}: no mention waits past the {sla} response SLA since "
                       f"{terms.local(zero_since)}")
        else:
            summary = (f"{terms.name}: every mention that seemed to wait past the {sla} "
                       "response SLA had been answered in time (the answers were read late)")
        alert = Alert(
            alert_id=watch.alert_id, org_id=terms.org_id, kind=ALERT_KIND, status="resolved",
            opened_at=watch.opened_at, resolved_at=zero_since,
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


def _may_fall_silent(created: np.ndarray, is_post: np.ndarray, last_post: int | None,
                     first_mention: int | None, last_mention: int | None, listed: bool,
                     span: int) -> bool:
    """Whether an organisation that is not silent may turn silent among a batch's events of
    it (`created` in µs, in offset order; `is_post`: a post, else an actionable mention),
    given its latest post, first and latest mention before them (µs or None).

    It may only where, at a mention, the latest mention so far is `span` or more after the
    silence's start so far (`_silent`: the latest post so far; before any, the first
    mention, when the roster lists accounts). Checked at every mention, where the walk
    checks only at those that move the first or latest mention: False means it cannot turn
    silent in the batch. A batch that spans more than `span` of event time is then walked
    only for the organisations that really fall quiet in it, not for every one."""
    mention = ~is_post
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    posted = np.maximum.accumulate(np.where(is_post, created, low))
    if last_post is not None:
        np.maximum(posted, last_post, out=posted)
    latest = np.maximum.accumulate(np.where(mention, created, low))
    if last_mention is not None:
        np.maximum(latest, last_mention, out=latest)
    known = posted != low
    since = posted
    if listed:
        first = np.minimum.accumulate(np.where(mention, created, high))
        if first_mention is not None:
            np.minimum(first, first_mention, out=first)
        since = np.where(known, posted, first)
        known = mention  # a mention's own created_at is a first mention at the latest
    check = mention & known
    return bool(np.any(latest[check] >= since[check] + span))


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


def _event_tables(mentions: Sequence[Mention], posts: Sequence[Post]) -> tuple[pa.Table, pa.Table]:
    """The columns `process_tables` reads, from decoded objects, as the warehouse has them
    (`pipelines.ingest.sink.mentions_table` / `posts_table`; times to the µs here, and made from
    integers: Arrow's conversion of datetimes costs ~2 µs a value)."""

    def times(values: Iterable[datetime]) -> pa.Array:
        return pa.array([(t - _EPOCH) // _ONE_US for t in values], pa.int64()).cast(_US_UTC)

    def source(events: Sequence[Mention | Post]) -> dict[str, pa.Array]:
        return {
            "source_partition": pa.array([e.source.partition for e in events], pa.uint32()),
            "source_offset": pa.array([e.source.offset for e in events], pa.uint64()),
            "kafka_timestamp": times(e.source.kafka_timestamp or e.created_at for e in events),
        }

    return pa.table({
        "org_id": pa.array([m.org_id for m in mentions], pa.string()),
        "event_id": pa.array([m.event_id for m in mentions], pa.string()),
        "platform": pa.array([m.platform for m in mentions], pa.string()),
        "created_at": times(m.created_at for m in mentions),
        "author_id": pa.array([m.author_id for m in mentions], pa.string()),
        "author_handle": pa.array([m.author_handle for m in mentions], pa.string()),
        "kind": pa.array([m.kind for m in mentions], pa.string()),
        "complaint": pa.array([m.complaint for m in mentions], pa.bool_()),
        **source(mentions),
    }), pa.table({
        "org_id": pa.array([p.org_id for p in posts], pa.string()),
        "event_id": pa.array([p.event_id for p in posts], pa.string()),
        "created_at": times(p.created_at for p in posts),
        "account_handle": pa.array([p.account_handle for p in posts], pa.string()),
        "account_role": pa.array([p.account_role for p in posts], pa.string()),
        "in_reply_to": pa.array([p.in_reply_to for p in posts], pa.string()),
        **source(posts),
    })


def _response_rows(table: pa.Table) -> list[ResponseRow]:
    """`TrackerTables.rows` as `ResponseRow`s."""
    columns = []
    for name in ROWS_SCHEMA.names:
        column = _column(table, name)
        if pa.types.is_timestamp(column.type):  # Arrow's own conversion is ~3 µs a value
            ms = column.cast(pa.int64())
            wanted = ms.is_valid().to_numpy(zero_copy_only=False)
            us = ms.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64) * 1000
            columns.append(_datetimes_at(us, wanted))
        else:
            columns.append(column.to_pylist())
    return [_new_row(*values) for values in zip(*columns, strict=True)]



# -- the batch as columns -------------------------------------------------------------


_MS_UTC = pa.timestamp("ms", tz="UTC")
_US_UTC = pa.timestamp("us", tz="UTC")
_SKEW_US = CLOCK_SKEW // _ONE_US
_HOUR_US = 3600 * _US
_FAST_UNTIL_US = 4 * 10**15  # below it (year 2096) a float timestamp is exact to the µs


def _us(t: datetime) -> int:
    return (t - _EPOCH) // _ONE_US


def _instant(us: int) -> datetime:
    if 0 <= us < _FAST_UNTIL_US:
        return _FROM_TIMESTAMP(us / _US, UTC)
    return _EPOCH + timedelta(microseconds=us)


_FROM_TIMESTAMP = datetime.fromtimestamp


def _datetimes_at(us: np.ndarray, wanted: np.ndarray) -> list[Any]:
    """`_datetimes` where `wanted`, None elsewhere (nothing reads those)."""
    if wanted.all():
        return _datetimes(us)
    out = np.full(len(us), None, object)
    out[wanted] = _datetimes(us[wanted])
    return out.tolist()


def _datetimes(us: np.ndarray) -> list[datetime]:
    """`_instant` of each value, in bulk."""
    if us.size and (us.min() < 0 or us.max() >= _FAST_UNTIL_US):
        return [_instant(v) for v in us.tolist()]
    from_timestamp = _FROM_TIMESTAMP
    return [from_timestamp(seconds, UTC) for seconds in (us / _US).tolist()]


def _column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        raise ValueError(f"the response tracker needs column {name!r}, which the table "
                         f"lacks (it has {', '.join(table.column_names)}); build it with "
                         "pipelines.ingest.sink.mentions_table / posts_table")
    return table[name].combine_chunks()


def _times_us(table: pa.Table, name: str) -> np.ndarray:
    values = _column(table, name).cast(_US_UTC).cast(pa.int64())
    return np.asarray(values.to_numpy(zero_copy_only=False), np.int64)


def _ints(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(_column(table, name).to_numpy(zero_copy_only=False), np.int64)


def _texts(table: pa.Table, name: str, *, few: bool = True) -> list[Any]:
    """A string column as a list. `few`: a column of few distinct values (organisations,
    platforms, kinds), whose equal values become one interned object each, as the state
    holds them for a long time."""
    column = _column(table, name)
    if not few or len(column) == 0:
        return column.to_pylist()
    encoded = column.dictionary_encode() if not pa.types.is_dictionary(column.type) else column
    words = np.array([None, *(None if w is None else _intern(w)
                              for w in encoded.dictionary.to_pylist())], object)
    which = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    return words[which].tolist()


class _Batch:
    """One call's mentions and posts as columns, times in µs since the epoch; events are
    numbered mentions first, then posts ("merged" arrays)."""

    def __init__(self, mentions: pa.Table, posts: pa.Table) -> None:
        self.mentions = mentions
        self.n_m = n_m = mentions.num_rows
        self.n_p = n_p = posts.num_rows
        self.size = n_m + n_p
        org_ids = pa.concat_arrays([_column(mentions, "org_id").cast(pa.string()),
                                    _column(posts, "org_id").cast(pa.string())])
        if org_ids.null_count:
            raise ValueError("the response tracker got events without an org_id; the decoder "
                             "sends those to dead_letters")
        encoded = org_ids.dictionary_encode()
        self.orgs: list[str] = [_intern(o) for o in encoded.dictionary.to_pylist()]
        self.code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        code_list: list[int] = self.code.tolist()
        self.m_code = self.code[:n_m]
        self.m_code_list = code_list[:n_m]
        self.p_code_list = code_list[n_m:]
        self.m_partition = _ints(mentions, "source_partition")
        self.p_partition = _ints(posts, "source_partition")
        self.offset = np.concatenate([_ints(mentions, "source_offset"),
                                      _ints(posts, "source_offset")])
        self.m_created = _times_us(mentions, "created_at")
        p_created = _times_us(posts, "created_at")
        self.created = np.concatenate([self.m_created, p_created])
        received = np.concatenate([_times_us(mentions, "kafka_timestamp"),
                                   _times_us(posts, "kafka_timestamp")])
        # pipelines.ingest.decode.clock_time; a message without a Kafka timestamp has none in the
        # table (null reads as 0 here) and then its created_at counts
        known_time = np.concatenate([
            _column(mentions, "kafka_timestamp").is_valid().to_numpy(zero_copy_only=False),
            _column(posts, "kafka_timestamp").is_valid().to_numpy(zero_copy_only=False)])
        self.clock = np.where(known_time, np.minimum(self.created, received + _SKEW_US),
                              self.created)
        self.m_id_arrow = _column(mentions, "event_id").cast(pa.string())
        self.m_ids: list[str] = self.m_id_arrow.to_pylist()
        self.m_id_array = np.array(self.m_ids, object)
        self.m_kind = _texts(mentions, "kind")
        self.actionable = np.asarray(
            pc.fill_null(pc.not_equal(_column(mentions, "kind"), "share"), True)
            .to_numpy(zero_copy_only=False), bool)
        self.actionable_all = np.concatenate([self.actionable, np.zeros(n_p, bool)])
        self.m_platform = _texts(mentions, "platform")
        complaint = _column(mentions, "complaint").cast(pa.bool_()).fill_null(False)
        self.m_complaint_array = np.asarray(complaint.to_numpy(zero_copy_only=False), bool)
        self.m_complaint: list[bool] = self.m_complaint_array.tolist()
        self.p_id_arrow = _column(posts, "event_id").cast(pa.string())
        self.p_handle_arrow = _column(posts, "account_handle").cast(pa.string())
        self.p_role_arrow = _column(posts, "account_role").cast(pa.string())
        reply_to = _column(posts, "in_reply_to")
        self.p_reply_to: list[str | None] = reply_to.to_pylist()
        self.replying = np.concatenate([
            np.zeros(n_m, bool), reply_to.is_valid().to_numpy(zero_copy_only=False)])
        self.p_created_us: list[int] = p_created.tolist()
        # Set by ResponseTracker._prepare, per mention.
        self.terms: list[_Terms] = []
        self.breach = self.deadline = self.expires = np.zeros(0, np.int64)
        self.codes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # `word_codes`
        self.named_once: set[str] = set()  # mention ids one reply names (`_look_up`)
        # mention ids several replies name -> their partition (-1: more than one)
        self.named_here: dict[str, int] = {}
        self.authors: tuple[pa.Array, pa.Array] | None = None  # author ids and handles

    @cached_property
    def m_author_id(self) -> list[str]:
        """The mentions' author ids, for the few mentions taken one by one (made when asked:
        nearly one distinct value a row, so neither a dictionary nor interning pays)."""
        return self.author_arrays()[0].to_pylist()

    @cached_property
    def m_author_handle(self) -> list[str]:
        """The mentions' author handles, as `m_author_id`."""
        return self.author_arrays()[1].to_pylist()

    # As lists, for the mentions the walk takes one by one (made when first asked).
    @cached_property
    def m_created_us(self) -> list[int]:
        return self.m_created.tolist()

    @cached_property
    def m_breach(self) -> list[int]:
        return self.breach.tolist()

    @cached_property
    def m_deadline(self) -> list[int]:
        return self.deadline.tolist()

    @cached_property
    def m_expires(self) -> list[int]:
        return self.expires.tolist()

    def replies_said(self, posts: np.ndarray) -> dict[int, tuple[str, str, str]]:
        """For the replies taken one by one (rows `posts`): event id, account handle and
        role, by row (one take each, rather than lists of every post)."""
        take = pa.array(posts, pa.int64())
        return dict(zip(posts.tolist(), zip(
            self.p_id_arrow.take(take).to_pylist(), self.p_handle_arrow.take(take).to_pylist(),
            self.p_role_arrow.take(take).to_pylist(), strict=True), strict=True))

    def author_of(self, e: int) -> tuple[str, str]:
        """Mention `e`'s author id and handle, without making the lists for one of them."""
        ids, handles = self.author_arrays()
        return ids[e].as_py(), handles[e].as_py()

    def author_arrays(self) -> tuple[pa.Array, pa.Array]:
        """The mentions' author ids and handles as Arrow strings (made once)."""
        if self.authors is None:
            self.authors = (_column(self.mentions, "author_id").cast(pa.string()),
                            _column(self.mentions, "author_handle").cast(pa.string()))
        return self.authors

    def word_codes(self, held: _Held) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per mention, the codes in `held.words` of its organisation, platform and kind."""
        if self.codes is None:
            orgs = held.codes(self.orgs)[self.m_code]

            def coded(name: str) -> np.ndarray:
                column = _column(self.mentions, name)
                encoded = (column if pa.types.is_dictionary(column.type)
                           else column.dictionary_encode())
                words = [None, *(None if w is None else _intern(w)
                                 for w in encoded.dictionary.to_pylist())]
                which = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
                return held.codes(words)[np.asarray(which, np.int64) + 1]

            self.codes = (orgs, coded("platform"), coded("kind"))
        return self.codes

    def partitions(self) -> list[tuple[int, np.ndarray]]:
        """Each partition's events, merged numbers in offset order (a mention before a post
        at the same offset); partitions in the order they first appear, mentions first."""
        partition = np.concatenate([self.m_partition, self.p_partition])
        order = np.lexsort((self.offset, partition))
        ordered = partition[order]
        cuts = np.flatnonzero(np.diff(ordered)) + 1
        groups = {int(partition[g[0]]): g for g in np.split(order, cuts) if g.size}
        seen: list[int] = []
        for column in (self.m_partition, self.p_partition):
            if column.size:
                values, first = np.unique(column, return_index=True)
                for number in values[np.argsort(first)].tolist():
                    if number not in seen:
                        seen.append(number)
        return [(number, groups[number]) for number in seen]


# -- per-organisation and per-partition state -----------------------------------------


class _Terms:
    """An organisation's response promises and business clock, looked up once per org_id.

    It remembers the open interval of its latest SLA deadline, and the closed stretch before
    an opening: mentions come roughly in time order, so most deadlines are `created_at +
    SLA` inside that interval, or the same instant for every mention of a closed night.
    """

    __slots__ = ("breach_after", "breach_after_us", "calendar", "closed_breach", "closed_hi",
                 "closed_lo", "keep", "keep_us", "linear_hi", "listed", "name", "open_hi",
                 "open_hi_us", "open_lo", "open_lo_us", "org_id", "silent_after", "silent_span",
                 "sla", "sla_seconds", "window", "window_us", "zone")

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
        self.window_us = window * _US
        self.keep = timedelta(seconds=window + lateness)
        self.keep_us = (window + lateness) * _US
        self.silent_after = silent_after
        self.silent_span = timedelta(seconds=silent_after or 0)
        self.listed = listed  # the roster lists accounts for it
        self.zone = ZoneInfo(timezone)
        self.open_lo, self.open_hi, self.linear_hi = NEVER, _EPOCH, _EPOCH
        self.open_lo_us, self.open_hi_us = _us(NEVER), 0
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

    def breach_times(self, created: np.ndarray) -> np.ndarray:
        """`breach_at` of mentions posted at `created` (µs since the epoch), as µs: a
        bisection per mention in the open intervals of its stretch of weeks, all at once."""
        calendar = self.calendar
        after = self.breach_after_us
        if calendar.always:
            return created + after
        if calendar.never:
            return np.full(created.shape, _us(NEVER), np.int64)
        out = np.empty_like(created)
        weeks = created // _WEEK_US
        for week in np.unique(weeks).tolist():
            chosen = np.flatnonzero(weeks == week)
            span = calendar.span(week * _WEEK_US)
            starts, ends, before, through = span.arrays()
            us = created[chosen]
            i = np.searchsorted(starts, us, "right") - 1
            at = np.maximum(i, 0)
            target = np.where(i < 0, 0, before[at] + np.minimum(us, ends[at]) - starts[at]) + after
            k = np.searchsorted(through, target, "left")
            inside = k < len(through)
            kk = np.minimum(k, len(through) - 1)
            out[chosen] = np.where(inside, starts[kk] + target - before[kk], 0)
            for m in np.flatnonzero(~inside).tolist():  # past the stretch: the slow way
                out[chosen[m]] = _us(self.breach_at(_instant(int(us[m]))))
        return out

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds of [start, end); 0 when end <= start."""
        return self.seconds_between_us(_us(start), _us(end))

    def seconds_between_us(self, start: int, end: int) -> float:
        """`seconds_between` in µs since the epoch."""
        if self.open_lo_us <= start <= end <= self.open_hi_us:
            return (end - start) / _US
        return self.calendar.seconds_between_us(start, end)

    def _look_up_breach(self, created: datetime) -> datetime:
        calendar = self.calendar
        if calendar.always:
            self.open_lo, self.open_hi, self.linear_hi = _EARLIEST, NEVER, NEVER
            self.open_lo_us, self.open_hi_us = _us(_EARLIEST), _us(NEVER)
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
            self.open_lo_us, self.open_hi_us = opens, closes
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

    __slots__ = ("blocks", "clock", "cut", "cut_us", "due", "next_drop", "number", "shelves",
                 "touched", "watches")

    def __init__(self, number: int) -> None:
        self.number = number
        self.clock: int | None = None  # µs since the epoch
        self.cut: datetime | None = None  # restart: alert states before it are stored
        self.cut_us: int | None = None
        self.watches: dict[str, _Watch] = {}
        self.due: list[tuple[int, str]] = []  # heap: (when a watch must settle, org_id)
        self.touched: dict[str, _Watch] = {}  # watches with events in this call
        self.shelves: list[int] = []  # heap of the labels of this partition's shelves
        self.next_drop: int | None = None  # the end of the earliest shelf's or block's hour
        self.blocks: list[tuple[int, int]] = []  # heap: (label of its last shelf, `_Block`)

    def add_shelf(self, label: int) -> None:
        heappush(self.shelves, label)
        self._sooner(label)

    def add_block(self, last: int, number: int) -> None:
        heappush(self.blocks, (last, number))
        self._sooner(last)

    def _sooner(self, label: int) -> None:
        end = _shelf_end(label)
        if self.next_drop is None or end < self.next_drop:
            self.next_drop = end

    def passed(self, clock: int) -> list[int]:
        """Take out the labels of the shelves whose hour ended at or before `clock`."""
        gone = []
        shelves = self.shelves
        while shelves and _shelf_end(shelves[0]) <= clock:
            gone.append(heappop(shelves))
        self._next_drop()
        return gone

    def blocks_passed(self, clock: int) -> list[int]:
        """Take out the numbers of the blocks whose last hour ended at or before `clock`."""
        gone = []
        blocks = self.blocks
        while blocks and _shelf_end(blocks[0][0]) <= clock:
            gone.append(heappop(blocks)[1])
        self._next_drop()
        return gone

    def _next_drop(self) -> None:
        ends = [_shelf_end(self.shelves[0])] if self.shelves else []
        if self.blocks:
            ends.append(_shelf_end(self.blocks[0][0]))
        self.next_drop = min(ends) if ends else None


class _Watch:
    """One organisation on one partition: who waits past SLA, whether it is silent, and the
    alerts it has open. Instants are µs since the epoch.

    The queue past SLA is a `_Pool` of columns: each mention that may wait has the instant
    it would start (its breach, or when it was read after that), its answer deadline and,
    once known, when its first answer was read; a call's replies are recorded and laid on
    the columns when the organisation settles.
    """

    __slots__ = ("alert_id", "answer_columns", "answers", "confirmed", "due", "evaluated", "exact",
                 "first_mention", "known_until", "last_mention", "last_post", "latest",
                 "opened_at", "part", "pending", "pending_conf", "pool", "reported", "samples",
                 "severity", "silence", "silences", "silent", "silent_flag", "silent_id",
                 "silent_known_until", "silent_opened", "silent_version", "terms", "touches",
                 "version", "waiting", "zero_since")

    def __init__(self, terms: _Terms, part: _Partition) -> None:
        self.terms = terms
        self.part = part
        self.exact = False  # this batch: silence taken event by event (`_quiet_orgs`)
        # The queue past SLA.
        self.pool = _Pool()
        self.waiting = 0  # how many wait past SLA, after the instants taken so far
        # This call's first answers to mentions of the pool: (number, instant read, whether
        # it was posted after the breach), one by one or as columns (`_take_replies`);
        # instants that only call for a decision (an answer read after the breach); silence
        # flips: (instant, `_Silence`), in order.
        self.answers: list[tuple[int, int, bool]] = []
        self.answer_columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.touches: list[int] = []
        self.silences: list[tuple[int, _Silence]] = []
        self.pending: int | None = None  # an instant with changes, not decided yet
        self.pending_conf = False  # ... where a mention stopped waiting after really waiting
        self.evaluated: int | None = None  # the last instant decided
        self.zero_since: int | None = None  # nobody waiting since then
        self.due: int | None = None  # its entry in the partition's `due` heap
        # The SLA alert as last emitted (open), or None.
        self.alert_id: str | None = None
        self.opened_at: datetime | None = None
        self.version = 0
        self.reported = 0  # the number waiting it reported
        self.samples: tuple[str, ...] = ()  # the oldest waiting it reported
        self.confirmed = False  # a mention really waited past SLA in this alert
        self.severity = 0.0
        self.known_until: int | None = None  # restart: states up to here are stored
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
        self.silent_known_until: int | None = None

    def install(self, seed: Alert) -> None:
        """A restart: the latest stored state of one of the organisation's alerts."""
        opened = seed.status == "open" and not seed.retracted
        if seed.kind == ALERT_KIND:
            self.known_until = _us(seed.updated_at)
            if opened:
                self.alert_id, self.opened_at = seed.alert_id, seed.opened_at
                self.version = seed.version
                self.reported = int(seed.details.get("past_sla", 1))
                self.severity, self.samples = seed.severity, seed.sample_event_ids
                self.confirmed = bool(seed.details.get("confirmed", True))
        else:
            self.silent_known_until = _us(seed.updated_at)
            if opened:
                self.silent_id, self.silent_opened = seed.alert_id, seed.opened_at
                self.silent_version = seed.version


_PoolBlock = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _Pool:
    """An organisation's mentions on one partition that wait past SLA or may still, as
    columns in the order they came (`seq`, their numbers, ascending): when each would start
    waiting (`start`: its breach, or the instant it was read when that came later), its
    answer deadline, created_at and complaint flag, where its id is (`ref`: its row in
    `_Held`, or -1 and the id in `loose` by number); the instant its first answer
    was read (`known`, `_NO` while unanswered) and whether that answer was posted after the
    breach (`late`); the instant it started waiting (`entered`, `_NO` before) and `status`:
    0 ahead, 1 waiting, 2 done (it waited and stopped, or was answered before it could).
    Done rows go when they are half the pool. Numbers, not objects: the collector never
    walks them."""

    __slots__ = ("blocks", "complaint", "created", "deadline", "entered", "known", "late",
                 "loose", "named", "ref", "rows", "seq", "size", "start", "status")

    def __init__(self) -> None:
        none = np.zeros(0, np.int64)
        self.seq = self.start = self.deadline = self.created = none
        self.known = self.entered = none
        self.complaint = self.late = np.zeros(0, bool)
        self.status = np.zeros(0, np.int8)
        self.ref = np.zeros(0, np.int64)
        self.loose: dict[int, str] = {}  # ids of rows not held in `_Held`, by number
        # Ids of held rows an alert has named, by number: the oldest waiting are named by
        # alert after alert, and reading an id from its block costs more than this look-up.
        self.named: dict[int, str] = {}
        self.size = 0
        # Added since the last settle: blocks of columns (the last: references), and rows
        # one by one (seq, start, deadline, created, complaint, id).
        self.blocks: list[_PoolBlock] = []
        self.rows: list[tuple[int, int, int, int, bool, str]] = []

    def add_block(self, block: _PoolBlock) -> None:
        self._rows_to_block()
        self.blocks.append(block)

    def _rows_to_block(self) -> None:
        if self.rows:
            seq, start, deadline, created, complaint, ids = zip(*self.rows, strict=True)
            self.blocks.append((np.array(seq, np.int64), np.array(start, np.int64),
                                np.array(deadline, np.int64), np.array(created, np.int64),
                                np.array(complaint, bool), np.full(len(seq), -1, np.int64)))
            self.loose.update(zip(seq, ids, strict=True))
            self.rows = []

    def flush(self) -> None:
        """Take what was added into the columns."""
        self._rows_to_block()
        if not self.blocks:
            return
        blocks = self.blocks
        self.blocks = []
        added = sum(len(b[0]) for b in blocks)
        self.seq, self.start, self.deadline, self.created, self.complaint, self.ref = (
            np.concatenate([old, *(b[k] for b in blocks)]) for k, old in enumerate(
                (self.seq, self.start, self.deadline, self.created, self.complaint, self.ref)))
        self.known = np.concatenate([self.known, np.full(added, _NO, np.int64)])
        self.entered = np.concatenate([self.entered, np.full(added, _NO, np.int64)])
        self.late = np.concatenate([self.late, np.zeros(added, bool)])
        self.status = np.concatenate([self.status, np.zeros(added, np.int8)])
        self.size += added

    def answer(self, answers: list[tuple[int, int, bool]],
               columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """First answers: (seq, instant read, posted after the breach), one by one and as
        columns; rows gone are skipped."""
        if not self.size:
            return
        if answers:
            columns = [*columns, tuple(  # type: ignore[list-item]
                np.array(c, t) for c, t in zip(zip(*answers, strict=True),
                                               (np.int64, np.int64, bool), strict=True))]
        seq, read, late = (c[0] if len(columns) == 1 else np.concatenate(c)
                           for c in zip(*columns, strict=True))
        at = np.minimum(np.searchsorted(self.seq, seq), self.size - 1)
        found = self.seq[at] == seq
        self.known[at[found]] = read[found]
        self.late[at[found]] = late[found]

    def keep(self, rows: np.ndarray) -> None:
        for name in ("seq", "start", "deadline", "created", "complaint", "ref", "known",
                     "entered", "late", "status"):
            setattr(self, name, getattr(self, name)[rows])
        self.size = len(self.seq)
        if self.loose:
            loose = self.loose
            self.loose = {s: loose[s] for s in self.seq[self.ref < 0].tolist() if s in loose}
        if self.named:
            named = list(self.named.items())
            kept = np.isin(np.fromiter((s for s, _ in named), np.int64, len(named)), self.seq)
            self.named = dict(item for item, k in zip(named, kept.tolist(), strict=True) if k)

    def ids_of(self, rows: np.ndarray, held: _Held) -> list[str]:
        """The ids of the mentions at `rows`, in order."""
        seqs = self.seq[rows].tolist()
        loose, named = self.loose, self.named
        unread = [i for i, seq in enumerate(seqs) if seq not in named and seq not in loose]
        if unread:  # (taken one by one, its id is in `loose`; else in its block)
            at = np.array(unread, np.int64)
            named.update(zip(self.seq[rows[at]].tolist(), held.ids_of(self.ref[rows[at]]),
                             strict=True))
        return [loose[seq] if seq in loose else named[seq] for seq in seqs]

    def waiting_at(self, at: int, held: _Held) -> tuple[int, int, tuple[str, ...], int]:
        """How many wait past SLA at instant `at`, how many of them are complaints, the
        ids of the oldest `SAMPLE_SIZE` (by created_at, then id), and the oldest's row in
        `held` (-1 when it was taken one by one)."""
        rows = np.flatnonzero((self.entered <= at)
                              & (np.minimum(self.known, self.deadline) > at))
        waiting = len(rows)
        complaints = int(np.count_nonzero(self.complaint[rows]))
        created = self.created[rows]
        if waiting > SAMPLE_SIZE:
            last = np.partition(created, SAMPLE_SIZE - 1)[SAMPLE_SIZE - 1]
            oldest = created <= last
            created, rows = created[oldest], rows[oldest]
        picked = sorted(zip(created.tolist(), self.ids_of(rows, held),
                            self.ref[rows].tolist(), strict=True))[:SAMPLE_SIZE]
        return waiting, complaints, tuple(i for _, i, _ in picked), picked[0][2]


_BLOCK_BITS: Final = 24
_BLOCK_ROWS: Final = (1 << _BLOCK_BITS) - 1  # a batch has fewer mentions than this
_LEVELS_KEPT: Final = 12
_FEW: Final = 16  # rows of a block read one by one rather than by a take
_LEVEL_RATIO: Final = 4  # a level is merged into the one before when a quarter its size
_id_hash = hash  # the index's hash of an id (a test makes it collide)
_GATHERED_ARROW: Final = ("ids", "author_id", "author_handle")
_GATHERED_NUMPY: Final = ("org", "platform", "kind", "created", "breach", "complaint", "seq")
_GATHERED: Final = (*_GATHERED_ARROW, *_GATHERED_NUMPY, "answered", "partition")
_FEW_REPLIES: Final = 40  # fewer replies a partition's call are taken one by one
_SMALL_BLOCK: Final = 2048  # `_Held.gather` joins blocks of at most this many rows


# A block's first responses, row by row: the replies' event ids, account handles and roles
# (Arrow strings), their created_at and the instant each was read (µs).
_Answers = tuple[pa.Array, pa.Array, pa.Array, np.ndarray, np.ndarray]


class _Block:
    """Mentions that went to the state in bulk, on one partition, as typed columns: ids and
    authors as Arrow strings, organisation, platform and kind as codes into `_Held.words`,
    times as µs. Either a batch's new mentions (`_take_plain`: open), or mentions a batch's
    replies answered in bulk (`_take_replies`: with their first responses, `answers`; the
    reply was read on the block's partition). A state tuple is made only when a reply or
    an alert asks for one (most are never asked); a row whose state moved on (answered, or
    a better answer) is no longer `alive` here."""

    __slots__ = ("alive", "answers", "author_handle", "author_id", "breach", "complaint",
                 "created", "ids", "kind", "number", "org", "platform", "seq")

    def __init__(self, number: int, ids: pa.Array, org: np.ndarray, platform: np.ndarray,
                 kind: np.ndarray, author_id: pa.Array, author_handle: pa.Array,
                 created: np.ndarray, breach: np.ndarray, complaint: np.ndarray,
                 seq: np.ndarray, answers: _Answers | None = None) -> None:
        self.number = number  # its partition
        self.ids, self.author_id, self.author_handle = ids, author_id, author_handle
        self.org, self.platform, self.kind = org, platform, kind
        self.created, self.breach, self.complaint, self.seq = created, breach, complaint, seq
        self.answers = answers
        self.alive = np.ones(len(created), bool)

    def answered_at(self) -> np.ndarray:
        """created_at of each row's first response (`_NO` for an open mention)."""
        if self.answers is None:
            return np.full(len(self.created), _NO, np.int64)
        return self.answers[3]

    def states(self, rows: np.ndarray, words: list[str]) -> list[_State]:
        """The states of the mentions at `rows`, made from the columns in one go."""
        number = self.number
        if self.answers is None:
            open_ = [None] * len(rows)
            responses: list[Any] = open_
            known: list[Any] = open_
        else:
            post_ids, handles, roles, at, read = self.answers
            take = pa.array(rows, pa.int64())
            responses = [(a, i, h, r, number) for a, i, h, r in zip(
                at[rows].tolist(), post_ids.take(take).to_pylist(),
                handles.take(take).to_pylist(), roles.take(take).to_pylist(), strict=True)]
            known = read[rows].tolist()
        if len(rows) == 1:  # a take costs more than reading single values
            r = int(rows[0])
            return [(words[self.org[r]], words[self.platform[r]], int(self.created[r]),
                     self.author_id[r].as_py(), self.author_handle[r].as_py(),
                     words[self.kind[r]], bool(self.complaint[r]), number,
                     int(self.breach[r]), responses[0], None, known[0], int(self.seq[r]))]
        take = pa.array(rows, pa.int64())
        return [(words[o], words[p], c, a, h, words[k], bool(x), number, b, reply, None,
                 seen, s) for o, p, c, a, h, k, x, b, s, reply, seen in zip(
            self.org[rows].tolist(), self.platform[rows].tolist(),
            self.created[rows].tolist(), self.author_id.take(take).to_pylist(),
            self.author_handle.take(take).to_pylist(), self.kind[rows].tolist(),
            self.complaint[rows].tolist(), self.breach[rows].tolist(),
            self.seq[rows].tolist(), responses, known, strict=True)]


class _Held:
    """Mentions taken in bulk, held as columns (`_Block`s), and an index from id to row.

    The index is sorted arrays of (hash of the id, reference: block number and row) in a
    few levels, merged like an LSM tree so that adding a batch never re-sorts everything;
    a look-up is a search per level, done for a whole batch's ids at once, and a hit counts
    only when the id in the block is the one asked for (hashes may collide) and its block
    and row are still held. About 120 bytes a mention, where a tuple, a string and two
    dictionary entries took ~450. The hashes are Python's own (`hash`, per process), so
    the index is not pickled but built again when the tracker is loaded (~0.4 s for a
    million mentions)."""

    __slots__ = ("blocks", "count", "levels", "made", "stale", "word_codes", "words")

    def __init__(self) -> None:
        self.blocks: dict[int, _Block] = {}
        self.made = 0  # blocks made so far: the next one's number
        self.count = 0  # rows alive
        self.stale = 0  # index entries of rows no longer held
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes, references)
        # Organisations, platforms and kinds: few distinct values, one code each.
        self.words: list[Any] = []  # str, or None for a null
        self.word_codes: dict[str | None, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "levels"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.levels = []
        self.stale = 0
        for number, block in self.blocks.items():
            rows = np.flatnonzero(block.alive)
            if rows.size:
                ids = block.ids.take(pa.array(rows, pa.int64())).to_pylist()
                self._index(ids, (rows + (number << _BLOCK_BITS)).astype(np.int64))

    def codes(self, values: Sequence[str | None]) -> np.ndarray:
        """The code of each of a few distinct values (made when new)."""
        known = self.word_codes
        for value in values:
            if value not in known:
                known[value] = len(self.words)
                self.words.append(value)
        return np.array([known[v] for v in values], np.int32)

    def add(self, block: _Block, ids: list[str]) -> np.ndarray:
        """Hold `block`, whose rows have `ids`; returns the rows' references."""
        if len(ids) > _BLOCK_ROWS:
            raise ValueError(f"the response tracker takes at most {_BLOCK_ROWS:,} mentions a "
                             f"call, got {len(ids):,}: hand it smaller batches")
        number = self.made
        self.made += 1
        self.blocks[number] = block
        self.count += len(ids)
        refs = np.arange(len(ids), dtype=np.int64) + (number << _BLOCK_BITS)
        self._index(ids, refs)
        return refs

    def _index(self, ids: list[str], refs: np.ndarray) -> None:
        keys = np.fromiter(map(_id_hash, ids), np.int64, len(ids))
        order = np.argsort(keys, kind="stable")
        self.levels.append((keys[order], refs[order]))
        levels = self.levels
        while len(levels) > 1 and (len(levels) > _LEVELS_KEPT
                                   or len(levels[-1][0]) * _LEVEL_RATIO >= len(levels[-2][0])):
            newer, older = levels.pop(), levels.pop()
            keys, refs = _merge(older, newer)
            if self.stale * 2 > len(keys):
                keep = self._held_refs(refs)
                self.stale -= len(keys) - int(np.count_nonzero(keep))
                keys, refs = keys[keep], refs[keep]
            levels.append((keys, refs))

    def _held_refs(self, refs: np.ndarray) -> np.ndarray:
        """Which references still name a row held here: one look-up in the held blocks'
        `alive` flags laid end to end (a mask per block over a large level cost more)."""
        numbers = np.fromiter(self.blocks, np.int64, len(self.blocks))
        if not numbers.size:
            return np.zeros(len(refs), bool)
        order = np.argsort(numbers)
        numbers = numbers[order]
        blocks = list(self.blocks.values())
        alive = [blocks[i].alive for i in order.tolist()]
        sizes = np.fromiter(map(len, alive), np.int64, len(alive))
        starts = np.cumsum(sizes) - sizes
        flags = np.concatenate([*alive, np.zeros(1, bool)])  # the last: a block gone
        number = refs >> _BLOCK_BITS
        at = np.minimum(np.searchsorted(numbers, number), len(numbers) - 1)
        where = np.where(numbers[at] == number, starts[at] + (refs & _BLOCK_ROWS),
                         len(flags) - 1)
        return flags[where]

    def find(self, ids: list[str]) -> dict[str, int]:
        """The references of those of `ids` that are held here: a search per level for all
        of them, then each candidate's id compared with the block's, per block at once."""
        found: dict[str, int] = {}
        if not ids or not self.count:
            return found
        keys = np.fromiter(map(_id_hash, ids), np.int64, len(ids))
        order = np.argsort(keys)  # sorted keys search each level in one sweep
        keys = keys[order]
        for level_keys, level_refs in self.levels:
            size = len(level_keys)
            at = np.searchsorted(level_keys, keys)
            at[at == size] = 0
            hit = np.flatnonzero(level_keys[at] == keys)
            if not hit.size:
                continue
            spot = at[hit]
            # Equal hashes sit side by side: the entries after the first are candidates too.
            more = spot + 1 < size
            while more.any():
                nxt = np.flatnonzero(more)
                nxt = nxt[level_keys[spot[nxt] + 1] == keys[hit[nxt]]]
                if not nxt.size:
                    break
                hit = np.concatenate([hit, hit[nxt]])
                spot = np.concatenate([spot, spot[nxt] + 1])
                more = np.zeros(len(hit), bool)
                more[len(hit) - len(nxt):] = spot[len(hit) - len(nxt):] + 1 < size
            self._verify(order[hit], level_refs[spot], ids, found)
        return found

    def _verify(self, which: np.ndarray, refs: np.ndarray, ids: list[str],
                found: dict[str, int]) -> None:
        number = refs >> _BLOCK_BITS
        for n in np.unique(number).tolist():
            block = self.blocks.get(n)
            if block is None:
                continue
            mine = np.flatnonzero(number == n)
            rows = refs[mine] & _BLOCK_ROWS
            alive = block.alive[rows]
            names = block.ids.take(pa.array(rows, pa.int64())).to_pylist()
            for i, ref, name, held in zip(which[mine].tolist(), refs[mine].tolist(), names,
                                          alive.tolist(), strict=True):
                if held and name == ids[i]:
                    found[name] = ref

    def states(self, refs: Iterable[int]) -> list[_State]:
        """The states of the rows `refs` (held), in order."""
        refs = np.fromiter(refs, np.int64)
        out: list[Any] = [None] * len(refs)
        number = refs >> _BLOCK_BITS
        for n in np.unique(number).tolist():
            mine = np.flatnonzero(number == n)
            made = self.blocks[n].states(refs[mine] & _BLOCK_ROWS, self.words)
            for i, state in zip(mine.tolist(), made, strict=True):
                out[i] = state
        return out

    def gather(self, refs: np.ndarray) -> dict[str, Any]:
        """The columns of the rows `refs` (held), in order, by `_Block` slot name (`answered`:
        their first responses' created_at, `_NO` when open; `partition`: the block's).

        Small blocks (a live worker's: a few hundred rows, and a call's replies name rows of
        dozens of them) are joined and taken from at once; a large block is taken from on
        its own, so a reply to an old mention never copies a large block."""
        number = refs >> _BLOCK_BITS
        rows = refs & _BLOCK_ROWS
        numbers, which = np.unique(number, return_inverse=True)
        blocks = [self.blocks[n] for n in numbers.tolist()]
        small = np.fromiter((len(b.created) <= _SMALL_BLOCK for b in blocks), bool, len(blocks))
        pieces: list[tuple[np.ndarray, dict[str, Any]]] = []  # (positions in refs, columns)
        alone = np.ones(len(blocks), bool)
        if small.sum() > 1:
            joined = [b for b, s in zip(blocks, small.tolist(), strict=True) if s]
            sizes = np.fromiter((len(b.created) for b in joined), np.int64, len(joined))
            offset = np.zeros(len(numbers), np.int64)
            offset[small] = np.cumsum(sizes) - sizes
            mine = np.flatnonzero(small[which])
            at = offset[which[mine]] + rows[mine]
            take = pa.array(at, pa.int64())
            columns: dict[str, Any] = {
                name: pa.concat_arrays([getattr(b, name) for b in joined]).take(take)
                for name in _GATHERED_ARROW}
            for name in _GATHERED_NUMPY:
                columns[name] = np.concatenate([getattr(b, name) for b in joined])[at]
            columns["answered"] = np.concatenate([b.answered_at() for b in joined])[at]
            columns["partition"] = np.array([b.number for b in joined], np.int64)[
                np.cumsum(small)[which[mine]] - 1]
            pieces.append((mine, columns))
            alone = ~small
        for k in np.flatnonzero(alone).tolist():
            block = blocks[k]
            mine = np.flatnonzero(which == k)
            at = rows[mine]
            take = pa.array(at, pa.int64())
            columns = {name: getattr(block, name).take(take) for name in _GATHERED_ARROW}
            for name in _GATHERED_NUMPY:
                columns[name] = getattr(block, name)[at]
            columns["answered"] = block.answered_at()[at]
            columns["partition"] = np.full(len(at), block.number, np.int64)
            pieces.append((mine, columns))
        if len(pieces) == 1:
            return pieces[0][1]
        back = np.empty(len(refs), np.int64)  # back into the order asked
        back[np.concatenate([mine for mine, _ in pieces])] = np.arange(len(refs))
        out: dict[str, Any] = {}
        for name in _GATHERED:
            parts = [columns[name] for _, columns in pieces]
            if name in _GATHERED_ARROW:
                out[name] = pa.concat_arrays(parts).take(pa.array(back))
            else:
                out[name] = np.concatenate(parts)[back]
        return out

    def ids_of(self, refs: np.ndarray) -> list[str]:
        """The ids of the rows `refs` (held), in order: a take per block."""
        out: list[Any] = [None] * len(refs)
        number = refs >> _BLOCK_BITS
        for n in np.unique(number).tolist():
            mine = np.flatnonzero(number == n)
            ids = self.blocks[n].ids
            rows = refs[mine] & _BLOCK_ROWS
            found = ([ids[r].as_py() for r in rows.tolist()] if len(rows) <= _FEW else
                     ids.take(pa.array(rows, pa.int64())).to_pylist())
            for i, mention_id in zip(mine.tolist(), found, strict=True):
                out[i] = mention_id
        return out

    def release(self, refs: list[int]) -> None:
        """The rows' states moved on (to the shelves, or to a block of answered mentions):
        no longer held here."""
        refs_array = _sorted_distinct(np.array(refs, np.int64))  # a block's rows together
        number = refs_array >> _BLOCK_BITS
        cuts = np.flatnonzero(np.diff(number)) + 1
        for group in np.split(refs_array, cuts):
            alive = self.blocks[int(group[0] >> _BLOCK_BITS)].alive
            rows = group & _BLOCK_ROWS
            gone = int(np.count_nonzero(alive[rows]))
            alive[rows] = False
            self.count -= gone
            self.stale += gone

    def drop(self, number: int) -> None:
        block = self.blocks.pop(number)
        alive = int(np.count_nonzero(block.alive))
        self.count -= alive
        self.stale += alive
        if not self.blocks:
            self.levels, self.stale = [], 0


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique` of many distinct values: a sort, then a mask (np.unique hashes first,
    which costs three times as much on ten thousand references)."""
    values = np.sort(values)
    if values.size > 1:
        values = values[np.concatenate([[True], values[1:] != values[:-1]])]
    return values


def _merge(older: tuple[np.ndarray, np.ndarray],
           newer: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted levels of `_Held`'s index as one, in linear time (no sort)."""
    size = len(older[0]) + len(newer[0])
    to = np.searchsorted(older[0], newer[0], "right") + np.arange(len(newer[0]))
    from_older = np.ones(size, bool)
    from_older[to] = False
    keys = np.empty(size, np.int64)
    refs = np.empty(size, np.int64)
    keys[to], refs[to] = newer
    keys[from_older], refs[from_older] = older
    return keys, refs


def _shelf_end(label: int) -> int:
    return ((label >> _PARTITION_BITS) + 1) * _HOUR_US


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
        if label is None:
            return None
        return self.shelves[label][key]

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
    plus the offset in force at that instant, from `pipelines.orgclock`, the one table of
    offsets per zone) reads a time inside the weekly pattern. Questions that reach past a
    stretch go to `BusinessHours`; a test checks that both agree.
    """

    __slots__ = ("always", "hours", "never", "pattern", "spans", "work")

    def __init__(self, hours: BusinessHours, work: TrackerWork | None = None) -> None:
        self.hours = hours
        self.work = work or TrackerWork()
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
            span = self.spans[index] = _Span(self.hours.clock, index)
            self.work.weeks_laid_out += _SPAN_WEEKS
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
            self.work.calendar_fallbacks += 1
            return self.hours.add_business_seconds(start, amount_us / _US)
        return start + timedelta(microseconds=end_us - start_us)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) inside business hours; 0 when end <= start."""
        return self.seconds_between_us(_us(start), _us(end))

    def seconds_many(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """`seconds_between_us` of each pair, in bulk: a bisection each in the open
        intervals of the stretch of weeks of its start."""
        out = np.zeros(len(start))
        after = end > start
        if self.never or not after.any():
            return out
        if self.always:
            return np.where(after, (end - start) / _US, 0.0)
        weeks = start // _WEEK_US
        for week in np.unique(weeks[after]).tolist():
            chosen = np.flatnonzero(after & (weeks == week))
            span = self.span(week * _WEEK_US)
            a, b = start[chosen], end[chosen]
            out[chosen] = (span.open_until_many(b) - span.open_until_many(a)) / _US
            for m in np.flatnonzero(b > span.end).tolist():  # past the stretch: the slow way
                self.work.calendar_fallbacks += 1
                out[chosen[m]] = self.hours.business_seconds(_instant(int(a[m])),
                                                             _instant(int(b[m])))
        return out

    def seconds_between_us(self, start_us: int, end_us: int) -> float:
        """`seconds_between` in µs since the epoch."""
        if end_us <= start_us or self.never:
            return 0.0
        if self.always:
            return (end_us - start_us) / _US
        span = self.span(start_us)
        if end_us > span.end:
            self.work.calendar_fallbacks += 1
            return self.hours.business_seconds(_instant(start_us), _instant(end_us))
        return (span.open_until(end_us) - span.open_until(start_us)) / _US


class _Span:
    """The open intervals in UTC µs of `_SPAN_WEEKS` weeks from week `index` since the epoch."""

    __slots__ = ("before", "columns", "end", "ends", "start", "starts", "through")

    def __init__(self, clock: BusinessClock, index: int) -> None:
        lo, hi = index * _WEEK_US, (index + _SPAN_WEEKS) * _WEEK_US
        opens, closes = clock.open_intervals(lo, hi)
        starts: list[int] = opens.tolist()
        ends: list[int] = closes.tolist()
        before, through, total = [], [], 0
        for s, e in zip(starts, ends, strict=True):
            before.append(total)
            total += e - s
            through.append(total)
        self.start, self.end = lo, hi
        self.starts, self.ends = starts, ends
        self.before, self.through = before, through
        self.columns: tuple[np.ndarray, ...] | None = None

    def arrays(self) -> tuple[np.ndarray, ...]:
        """starts, ends, before and through as numpy arrays (made once)."""
        if self.columns is None:
            self.columns = tuple(np.array(v, np.int64) for v in (
                self.starts, self.ends, self.before, self.through))
        return self.columns

    def open_until(self, us: int) -> int:
        """Open µs of the span up to instant `us`."""
        i = bisect_right(self.starts, us) - 1
        if i < 0:
            return 0
        return self.before[i] + min(us, self.ends[i]) - self.starts[i]

    def open_until_many(self, us: np.ndarray) -> np.ndarray:
        """`open_until` of each instant."""
        starts, ends, before, _ = self.arrays()
        if not len(starts):
            return np.zeros(len(us), np.int64)
        i = np.searchsorted(starts, us, "right") - 1
        at = np.maximum(i, 0)
        return np.where(i < 0, 0, before[at] + np.minimum(us, ends[at]) - starts[at])

    def deadline(self, start_us: int, amount_us: int) -> int | None:
        """The earliest instant with `amount_us` open µs after start, None past the span."""
        target = self.open_until(start_us) + amount_us
        i = bisect_left(self.through, target)
        if i == len(self.through):
            return None
        return self.starts[i] + target - self.before[i]
