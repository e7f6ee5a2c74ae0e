"""The stream processors behind the ingest step: responses, escalation, clocks.

Each batch's *new* events (the sink has already dropped duplicates) go to the
response tracker (`pipelines.processing.responses`) and the surge detector
(`pipelines.processing.escalation`). Both keep their state in memory and are driven by
per-partition event-time clocks, so their output depends on the events and on
each partition's order only — not on batch sizes, replay speed or restarts.

One event cannot throw the clocks forward. An event dated more than
`DORPSPOMP_MAX_FUTURE` ahead of the time Kafka received it never gets here (it is
a dead letter, `pipelines.ingest.decode`); one dated ahead but inside that horizon (say 20
hours) moves its partition's clock, and so the watermark, only up to a minute past
its Kafka timestamp (`decode.clock_time`). Why this rule and not, say, clocks per
organisation: the Kafka timestamp is part of the message, kept by the broker and
stored with the event in the warehouse, so every clock stays a function of each
partition's messages in order — a re-read after SIGKILL, a restart that rebuilds the
state from the warehouse and a second replay give the same clocks, alerts and rows
(`tests/integration/test_determinism.py`). Events that are not ahead of their arrival
(live ones, and every replayed history) move the clocks exactly as before; the
clocks stay per partition, so a quiet organisation's SLAs still run out by its
neighbours' events, as they always did. A wall clock or the arrival order across
partitions would give a replay other results than the first run.

After a restart the state is rebuilt from the warehouse (`restore`): the
events of the last answer window (and what is needed to go on from the latest
stored alert states), and the per-minute complaint history. Everything they
emit is a deterministic function of those events in partition order, so rows
and alert states written again are identical to the ones written before (the
`*_state` tables keep one row per key and version); the stored events of a
write cut short after a gap are held until they are read again, so that order
holds. The warehouse reads behind it live beside the sink, in `pipelines.ingest.restore`.
"""

from __future__ import annotations

import gc
import logging
import pickle
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.batch import (
    Derived,
    IngestBatch,
    WriteResult,
    newest_clocks,
)
from pipelines.ingest.columnar import MENTIONS_SCHEMA, POSTS_SCHEMA
from pipelines.ingest.decode import CLOCK_SKEW
from pipelines.ingest.restore import (
    clocks_before,
    complaint_history,
    complaint_texts,
    earliest_event,
    first_gap,
    held_after,
    latest_alert_states,
    mention_columns,
    org_activity,
    positions,
    post_columns,
    rejected_after,
)
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import SurgeDetector
from pipelines.processing.responses import (
    ALERT_KIND,
    RESOLVE_AFTER,
    SILENT_KIND,
    ResponseTracker,
    TrackerTables,
)
from pipelines.processing.surgeprocess import DetectorProcess, detector_state, submit_table
from pipelines.processing.trackerprocess import TrackerProcess, submit_tables, tracker_state
from pipelines.roster import Roster
from pipelines.warehouse import Warehouse

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HISTORY_FOR_BASELINES = timedelta(weeks=5)
REPLAY_CHUNK = 10_000
# A restore's replay steps handed to the tracker's process before the oldest one's output is
# taken: enough to keep it busy while the next steps are cut, few enough that their columns
# do not pile up in memory.
REPLAY_AHEAD = 2
_SKEW_MS = CLOCK_SKEW // timedelta(milliseconds=1)


class StepClock:
    """Wall and CPU seconds (of the thread that runs it) of each step of a restore, for
    its log line: what a restart costs, and where."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, float]] = []
        self._lap = (time.perf_counter(), time.thread_time())

    def restart(self) -> None:
        """Count from now, in the calling thread."""
        self._lap = (time.perf_counter(), time.thread_time())

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        self.steps.append((name, wall - self._lap[0], cpu - self._lap[1]))
        self._lap = (wall, cpu)

    def __str__(self) -> str:
        return ", ".join(f"{name} {wall:.2f} s ({cpu:.2f} CPU)" for name, wall, cpu in self.steps)


class StreamProcessors:
    """Responses and escalation for one worker's partitions."""

    def __init__(self, roster: Roster, lateness_seconds: int, *,
                 surge_process: bool = False, tracker_process: bool = False) -> None:
        """`surge_process`: run the surge detector in a process of its own, at the same time
        as the response tracker (`pipelines.processing.surgeprocess`); `tracker_process`: the
        response tracker too (`pipelines.processing.trackerprocess`)."""
        self.roster = roster
        self.lateness = lateness_seconds
        self.tracker: ResponseTracker | TrackerProcess = (
            TrackerProcess(roster, lateness_seconds) if tracker_process
            else ResponseTracker(roster, lateness_seconds))
        self.detector: SurgeDetector | DetectorProcess = (
            DetectorProcess(roster) if surge_process else SurgeDetector(roster))
        self.clocks: dict[int, datetime] = {}
        # Per partition, the clock as of the offsets read in order: the newest clock time of
        # its events before the last batch's next offset. Recorded with that offset
        # (`WarehouseSink.record_offsets`), so that a restart reads the partition's clock
        # instead of scanning the stored events; unlike `clocks` it never looks ahead at
        # the events a crashed write stored past the recorded offset.
        self.offset_clocks: dict[int, datetime] = {}
        self.watermark: datetime | None = None
        # The partitions' clocks as far as the tracker has taken their events in order:
        # after a restart they may stay behind `clocks` until the events of a crashed
        # write have been read again (see `restore`).
        self.tracker_clocks: dict[int, datetime] = {}
        # Restart: per partition, events (offset -> event id) that a crashed write stored
        # after one it did not; the tracker takes them when they are read again.
        self.held: dict[int, dict[int, str]] = {}

    def advance_clocks(self, batch: IngestBatch) -> bool:
        """Move each partition's clock to the newest event time read (each event's
        `clock_at`: at most a minute past its Kafka timestamp); True if the global
        watermark moved. Every valid event counts, duplicates included: they were
        read, whoever wrote them first."""
        newest = newest_clocks(batch.mentions, batch.posts)
        _advance_to(self.clocks, newest)
        _advance_to(self.tracker_clocks, newest)
        _advance_to(self.offset_clocks, newest)
        top = max(self.clocks.values(), default=None)
        if top is not None and (self.watermark is None or top > self.watermark):
            self.watermark = top
            return True
        return False

    def process(self, batch: IngestBatch, result: WriteResult) -> Derived:
        moved = self.advance_clocks(batch)
        mentions, posts = result.mentions, result.posts
        if self.held:  # stored by a crashed write, so not new: the tracker takes them now
            mentions = pa.concat_tables([mentions, self._read_again(batch.mentions)])
            posts = pa.concat_tables([posts, self._read_again(batch.posts)])
            self.held = {p: held for p, held in self.held.items() if held}
        detecting = submit_table(self.detector, result.mentions, self.clocks)
        tracked = submit_tables(self.tracker, mentions, posts, self.tracker_clocks).result()
        surges = detecting.result()
        return Derived(
            rows=tracked.rows,
            alerts=[*tracked.alerts, *surges],
            watermark=self.watermark if moved else None,
        )

    def _read_again(self, table: pa.Table) -> pa.Table:
        """The rows of `table` that are held events of a crashed write (released now)."""
        partitions, offsets = positions(table)
        candidates = np.flatnonzero(np.isin(partitions, list(self.held)))
        ids = table["event_id"].take(pa.array(candidates)).to_pylist()
        keep = []
        for row, event_id in zip(candidates.tolist(), ids, strict=True):
            held = self.held[int(partitions[row])]
            offset = int(offsets[row])
            if held.get(offset) == event_id:
                del held[offset]
                keep.append(row)
        return table.take(pa.array(keep, pa.int64()))

    # -- a clean stop's state (`pipelines.ingest.statefile`) ------------------------

    # What `restore` rebuilds besides the tracker and the detector (each pickled as a whole
    # in its own section, so their internals may change freely as long as they stay
    # picklable).
    _KEPT = ("clocks", "tracker_clocks", "offset_clocks", "watermark", "held")
    # The sections, each pickled (and unpickled) where its state lives: the tracker and the
    # surge detector in their processes when they have one. A file from before the tracker
    # had a section of its own lacks it: `load_state` says so and the start replays.
    SECTIONS = ("processors", "response tracker", "surge detector")

    def state_sections(self) -> dict[str, bytes]:
        """The state a restore would rebuild, as the state file's sections: the partitions'
        clocks pickled here, the tracker and the surge detector in their own processes (or
        here, when they run here)."""
        kept = {name: getattr(self, name) for name in self._KEPT}
        return {"processors": pickle.dumps(kept, protocol=5),
                "response tracker": tracker_state(self.tracker),
                "surge detector": detector_state(self.detector)}

    def load_state(self, sections: Mapping[str, bytes | memoryview],
                   steps: StepClock | None = None) -> None:
        """Take the state of `state_sections` instead of a `restore`: the tracker's and the
        surge detector's processes unpickle their parts while this one unpickles the clocks
        (and the parts whose step runs here). Raises KeyError for a missing section, and
        whatever unpickling raises for a bad one. `steps`: the start's steps so far (reading
        the file), for the log line."""
        steps = steps or StepClock()
        missing = [name for name in self.SECTIONS if name not in sections]
        if missing:
            raise KeyError(f"it has no section {', '.join(map(repr, missing))} (written by "
                           "another version of the worker)")
        tracker_data = bytes(sections["response tracker"])
        surge_data = bytes(sections["surge detector"])
        tracker, detector = self.tracker, self.detector
        tracker_loading = tracker.submit_state(tracker_data) \
            if isinstance(tracker, TrackerProcess) else None
        loading = detector.submit_state(surge_data) if isinstance(detector, DetectorProcess) \
            else None
        collecting = gc.isenabled()
        gc.disable()  # millions of objects, none in cycles: no collections while they come
        try:
            kept = pickle.loads(sections["processors"])
            if tracker_loading is None:
                self.tracker = pickle.loads(tracker_data)
        finally:
            if collecting:
                gc.enable()
        for name in self._KEPT:
            setattr(self, name, kept[name])
        if tracker_loading is not None:
            tracker_loading.result()
            self.tracker = tracker
            steps.lap("clocks unpickled, tracker unpickled (in its process)")
        else:
            steps.lap("tracker and clocks unpickled")
        if loading is not None:
            loading.result()
            self.detector = detector
        else:
            self.detector = pickle.loads(surge_data)
        steps.lap("surge detector unpickled (in its process)" if loading is not None
                  else "surge detector unpickled")
        log.info("restored state from the state file: %d open mentions, %d early replies, "
                 "%d organisations with complaint history, %d events of a half-done write "
                 "held until read again", self.tracker.open_mentions, self.tracker.orphan_posts,
                 self.detector.tracked_orgs, sum(len(h) for h in self.held.values()))
        log.info("restore steps: state file loaded: %s", steps)

    # -- restart ----------------------------------------------------------------

    def restore(self, warehouse: Warehouse, topic: str, group: str,
                why_not_loaded: str | None = None) -> Derived:
        """Rebuild the state from the warehouse; returns what it re-emits.

        The events after the *cut* — the event time each partition had reached
        at its last recorded offset — may not have been through the processors
        yet (a crash or a failed write), so they are replayed in partition and
        offset order, with the partition's clock advancing as it did the first
        time. Every event from one answer window + lateness + the SLA alert's
        `RESOLVE_AFTER` before the cut comes along (posts that answer nothing
        too: they move the clocks as they did), and every event after it whatever
        its date, so that replies pair as they did and each organisation's queue
        past SLA is exact from the cut on; the tracker goes on from the latest
        stored state of each organisation's SLA and silence alerts
        (`ResponseTracker.resume`). The complaint history before the cut only
        feeds the surge baselines.

        A consumer group new to the warehouse goes on from where the groups that wrote
        the topic got to (`Warehouse.resume_offsets`), so its restore is bounded the same way
        as a restart's.

        What it reads follows what can still change, not the history's size: each
        partition's clock at the cut is the one recorded with its offset
        (`Warehouse.resume_positions`; scanned only for offsets recorded before migration
        0007), its newest clock that or one of the events after the offset, which are read
        anyway; the events by time and offset (`ingest.restore`); the organisations'
        activity before the window in spans of time (`ingest.restore.org_activity`). The
        surge detector's history is read and loaded in a thread (and the detector's process)
        while the tracker takes the events again. Response rows of events before a
        partition's recorded offset are not written again: the write that recorded the
        offset had stored them.

        A worker killed in the middle of a write may have stored part of a batch:
        its mentions but not its posts, say. Its events after the first offset
        the warehouse lacks (past the recorded one) are not replayed to the
        response tracker: they are *held*, and the tracker takes each when it is
        read again, after the ones before it, as the first time (a reply read
        before its mention, with the reply missing from the warehouse, left the
        mention unanswered for good).

        `why_not_loaded`: why a start replays instead of loading the state file
        (`pipelines.ingest.statefile`), for the log line of the restore's steps.
        """
        steps = StepClock()
        self.tracker = self._fresh_tracker()
        self.clocks, self.watermark = {}, None
        self.tracker_clocks, self.held, self.offset_clocks = {}, {}, {}
        resume_at = warehouse.resume_positions(group, topic)
        recorded = {p: offset for p, (offset, _) in resume_at.items()}
        cut_clocks = {p: clock for p, (_, clock) in resume_at.items() if clock is not None}
        unknown = {p: offset for p, offset in recorded.items() if p not in cut_clocks}
        if unknown:  # offsets recorded before migration 0007, without their clock: scan
            cut_clocks.update(clocks_before(warehouse, unknown))
        steps.lap("recorded offsets and clocks")
        window = max([self.roster.defaults.answer_window,
                      *(org.answer_window for org in self.roster.orgs.values())])
        before_window = timedelta(seconds=window + self.lateness) + RESOLVE_AFTER

        # Every partition with stored events needs its clock at the cut; one without (its
        # events all after a crash before its first recorded offset) takes every event
        # from the first one on, as the cut.
        cut = min(cut_clocks.values()) if cut_clocks else earliest_event(warehouse)
        while True:
            horizon = cut - before_window
            posts_since = horizon - timedelta(seconds=self.lateness)
            mentions = mention_columns(warehouse, horizon, recorded)
            posts = post_columns(warehouse, posts_since, recorded)
            # each partition's newest clock: at its recorded offset, or of an event stored
            # after it (by a write cut short), all of which are read
            final = dict(cut_clocks)
            _advance_to(final, newest_clocks(_at_or_after(mentions, recorded),
                                             _at_or_after(posts, recorded)))
            if final.keys() <= cut_clocks.keys():
                break
            earliest = earliest_event(warehouse)
            if earliest >= cut:
                break
            cut = earliest
        if not final:
            self.detector = self._fresh_detector()
            log.info("restore steps: %s%s, nothing stored yet",
                     f"state file not loaded: {why_not_loaded}; " if why_not_loaded else "",
                     steps)
            return Derived()
        steps.lap(f"{mentions.num_rows} mentions and {posts.num_rows} posts")
        surge_clock = StepClock()
        detector = self._restore_detector(warehouse, cut, max(final.values()), surge_clock)
        self.tracker.resume(latest_alert_states(warehouse, (ALERT_KIND, SILENT_KIND)),
                            {p: t for p, t in cut_clocks.items() if p in recorded},
                            org_activity(warehouse, recorded, horizon, posts_since))
        self.offset_clocks = {p: t for p, t in cut_clocks.items() if p in recorded}
        steps.lap("alert states and activity")

        rejected = rejected_after(warehouse, topic, recorded)
        rows: list[pa.Table] = []
        alerts: list[Alert] = []
        # the tracker's steps handed in and not taken yet, in order, and whether their rows
        # are stored already (a tracker in its process works on one while the next is cut)
        tracking: list[tuple[Future[TrackerTables], bool]] = []

        def take_tracked(ahead: int) -> None:
            while len(tracking) > ahead:
                done, stored = tracking.pop(0)
                tracked = done.result()
                if not stored:
                    rows.append(tracked.rows)
                alerts.extend(tracked.alerts)

        # (mentions since the cut, the clocks then) per step, for the surge detector
        surge_steps: list[tuple[pa.Table, dict[int, datetime]]] = []
        m_part, m_off = positions(mentions)
        p_part, p_off = positions(posts)
        cut_ms = _ms(cut)
        for partition in sorted({*m_part.tolist(), *p_part.tolist()}):
            m_rows = np.flatnonzero(m_part == partition)
            p_rows = np.flatnonzero(p_part == partition)
            offsets = np.sort(np.concatenate((m_off[m_rows], p_off[p_rows])))
            start_at = recorded.get(partition, 0)
            gap = first_gap(offsets, start_at, rejected.get(partition, set()))
            self.held[partition] = held_after(mentions, m_rows, m_off, gap) | held_after(
                posts, p_rows, p_off, gap)
            for start in range(0, len(offsets), REPLAY_CHUNK):
                low, high = offsets[start], offsets[min(start + REPLAY_CHUNK, len(offsets)) - 1]
                m_chunk = m_rows[(m_off[m_rows] >= low) & (m_off[m_rows] <= high)]
                p_chunk = p_rows[(p_off[p_rows] >= low) & (p_off[p_rows] <= high)]
                chunk_m, chunk_p = mentions.take(m_chunk), posts.take(p_chunk)
                _advance_to(self.clocks, newest_clocks(chunk_m, chunk_p))
                taken_m = mentions.take(m_chunk[m_off[m_chunk] < gap])
                taken_p = posts.take(p_chunk[p_off[p_chunk] < gap])
                _advance_to(self.tracker_clocks, newest_clocks(taken_m, taken_p))
                tracking.append((
                    submit_tables(self.tracker, taken_m, taken_p, self.tracker_clocks),
                    _stored(high, partition, start_at, self.tracker_clocks, cut_clocks)))
                take_tracked(REPLAY_AHEAD)
                recent = chunk_m.filter(pc.greater_equal(
                    chunk_m["created_at"].cast(pa.int64()), cut_ms))
                surge_steps.append((recent, dict(self.clocks)))
        self.held = {p: held for p, held in self.held.items() if held}
        steps.lap("response tracker" if isinstance(self.tracker, ResponseTracker)
                  else "events handed to the tracker's process")
        self.clocks = dict(final)
        for partition, clock in final.items():  # none of its events handed in again
            self.tracker_clocks.setdefault(partition, clock)
        self.watermark = max(final.values())
        tracking.append((submit_tables(self.tracker, MENTIONS_SCHEMA.empty_table(),
                                       POSTS_SCHEMA.empty_table(), self.tracker_clocks), False))
        take_tracked(0)
        if not isinstance(self.tracker, ResponseTracker):
            steps.lap("waiting for the tracker's process")
        self.detector = detector.result()
        steps.lap("waiting for the surge detector")
        detected = [submit_table(self.detector, recent, clocks) for recent, clocks in surge_steps]
        detected.append(submit_table(self.detector, MENTIONS_SCHEMA.empty_table(), self.clocks))
        for found in detected:
            alerts += found.result()
        steps.lap("surge detector")
        log.info("restored state from %s: %d open mentions, %d early replies, %d organisations "
                 "with complaint history, %d events of a half-done write held until read "
                 "again", cut.isoformat(), self.tracker.open_mentions, self.tracker.orphan_posts,
                 self.detector.tracked_orgs, sum(len(h) for h in self.held.values()))
        log.info("restore steps: %s%s; in a thread meanwhile: %s",
                 f"state file not loaded: {why_not_loaded}; " if why_not_loaded else "",
                 steps, surge_clock)
        return Derived(rows=pa.concat_tables(rows), alerts=alerts, watermark=self.watermark)

    def _restore_detector(self, warehouse: Warehouse, cut: datetime, newest: datetime,
                          steps: StepClock) -> Future[SurgeDetector | DetectorProcess]:
        """A new surge detector with the complaint history before `cut` loaded, made in
        threads while the response tracker takes the events again: the detector's process
        starts (or empties) while the history is read, then loads it."""
        making = ThreadPoolExecutor(2, thread_name_prefix="surge-restore")
        emptied = making.submit(self._fresh_detector)

        def made() -> SurgeDetector | DetectorProcess:
            steps.restart()
            history = complaint_history(warehouse, newest - HISTORY_FOR_BASELINES, cut)
            # the texts a restart needs depend on the roster only: asked here, not in the
            # detector's process
            needed = SurgeDetector(self.roster).texts_needed(cut)
            texts = complaint_texts(warehouse, *needed, cut)
            steps.lap(f"complaint history ({history.num_rows} organisation-minutes)")
            detector = emptied.result()
            steps.lap("detector emptied")
            detector.load_history_table(history, through=cut, complaints=texts)
            steps.lap("history loaded")
            return detector

        try:
            return making.submit(made)
        finally:
            making.shutdown(wait=False)

    def _fresh_tracker(self) -> ResponseTracker | TrackerProcess:
        """The response tracker emptied, as before its first event (in a new process when
        its process has died)."""
        tracker = self.tracker
        if not isinstance(tracker, TrackerProcess):
            return ResponseTracker(self.roster, self.lateness)
        try:
            tracker.reset()
        except BrokenProcessPool:  # its process died: a new one, its state rebuilt after
            log.error("the response tracker's process ended; starting a new one")
            tracker.close()
            tracker = TrackerProcess(self.roster, self.lateness)
            tracker.reset()
        return tracker

    def _fresh_detector(self) -> SurgeDetector | DetectorProcess:
        """The surge detector emptied, as before its first event (in a new process when its
        process has died)."""
        detector = self.detector
        if not isinstance(detector, DetectorProcess):
            return SurgeDetector(self.roster)
        try:
            detector.reset()
        except BrokenProcessPool:  # its process died: a new one, its history loaded after
            log.error("the surge detector's process ended; starting a new one")
            detector.close()
            detector = DetectorProcess(self.roster)
            detector.reset()
        return detector


def _stored(high: int, partition: int, recorded: int, clocks: dict[int, datetime],
            cut_clocks: dict[int, datetime]) -> bool:
    """Whether the response rows of a restore's step are in the warehouse already: its
    events (of `partition`, up to offset `high`) are all before the recorded offset and its
    clock not past the partition's clock there, so the write that recorded the offset wrote
    every state they lead to, before it recorded it."""
    clock, cut = clocks.get(partition), cut_clocks.get(partition)
    return high < recorded and clock is not None and cut is not None and clock <= cut


def _at_or_after(table: pa.Table, offsets: dict[int, int]) -> pa.Table:
    """The rows of `table` at or after their partition's offset in `offsets` (every row of a
    partition that has none)."""
    partitions, at = positions(table)
    starts = np.zeros(len(partitions), np.int64)
    for partition, offset in offsets.items():
        starts[partitions == partition] = offset
    return table.filter(pa.array(at >= starts))


def _advance_to(clocks: dict[int, datetime], newest: dict[int, datetime]) -> None:
    """Each partition's clock to its time in `newest`, never back."""
    for partition, at in newest.items():
        current = clocks.get(partition)
        if current is None or at > current:
            clocks[partition] = at


def _ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)
