"""The stream processors behind the ingest step: responses, escalation, clocks.

Each batch's *new* events (the sink has already dropped duplicates) go to the
response tracker (`pipelines.responses`) and the surge detector
(`pipelines.escalation`). Both keep their state in memory and are driven by
per-partition event-time clocks, so their output depends on the events and on
each partition's order only — not on batch sizes, replay speed or restarts.

One event cannot throw the clocks forward. An event dated more than
`DORPSPOMP_MAX_FUTURE` ahead of the time Kafka received it never gets here (it is
a dead letter, `pipelines.decode`); one dated ahead but inside that horizon (say 20
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
holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.alerts import Alert
from pipelines.batch import (
    Derived,
    IngestBatch,
    WriteResult,
    newest_clocks,
)
from pipelines.columnar import MENTIONS_SCHEMA, POSTS_SCHEMA
from pipelines.decode import CLOCK_SKEW, Mention, Post
from pipelines.escalation import USUAL_SAMPLE, ComplaintText, SurgeDetector
from pipelines.responses import (
    ALERT_KIND,
    RESOLVE_AFTER,
    SILENT_KIND,
    OrgActivity,
    ResponseTracker,
)
from pipelines.roster import Roster
from pipelines.surgeprocess import DetectorProcess, submit_table
from pipelines.warehouse import Warehouse, as_utc
from schemas.saturating import saturating_sum

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HISTORY_FOR_BASELINES = timedelta(weeks=5)
REPLAY_CHUNK = 10_000
_SKEW_MS = CLOCK_SKEW // timedelta(milliseconds=1)


class StreamProcessors:
    """Responses and escalation for one worker's partitions."""

    def __init__(self, roster: Roster, lateness_seconds: int, *,
                 surge_process: bool = False) -> None:
        """`surge_process`: run the surge detector in a process of its own, at the same time
        as the response tracker (`pipelines.surgeprocess`)."""
        self.roster = roster
        self.lateness = lateness_seconds
        self.tracker = ResponseTracker(roster, lateness_seconds)
        self.detector: SurgeDetector | DetectorProcess = (
            DetectorProcess(roster) if surge_process else SurgeDetector(roster))
        self.clocks: dict[int, datetime] = {}
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
        tracked = self.tracker.process_tables(mentions, posts, self.tracker_clocks)
        surges = detecting.result()
        return Derived(
            rows=tracked.rows,
            alerts=[*tracked.alerts, *surges],
            watermark=self.watermark if moved else None,
        )

    def _read_again(self, table: pa.Table) -> pa.Table:
        """The rows of `table` that are held events of a crashed write (released now)."""
        partitions, offsets = _positions(table)
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

    # -- restart ----------------------------------------------------------------

    def restore(self, warehouse: Warehouse, topic: str, group: str) -> Derived:
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

        A worker killed in the middle of a write may have stored part of a batch:
        its mentions but not its posts, say. Its events after the first offset
        the warehouse lacks (past the recorded one) are not replayed to the
        response tracker: they are *held*, and the tracker takes each when it is
        read again, after the ones before it, as the first time (a reply read
        before its mention, with the reply missing from the warehouse, left the
        mention unanswered for good).
        """
        self.tracker = ResponseTracker(self.roster, self.lateness)
        if isinstance(self.detector, DetectorProcess):
            try:
                self.detector.reset()
            except BrokenProcessPool:  # its process died: a new one, rebuilt below
                log.error("the surge detector's process ended; starting a new one")
                self.detector.close()
                self.detector = DetectorProcess(self.roster)
        else:
            self.detector = SurgeDetector(self.roster)
        self.clocks, self.watermark = {}, None
        self.tracker_clocks, self.held = {}, {}
        final = partition_clocks(warehouse)
        if not final:
            return Derived()
        recorded = warehouse.resume_offsets(group, topic)
        cut_clocks = clocks_before(warehouse, recorded)
        starts = [cut_clocks.get(p) for p in final]
        cut = min((t for t in starts if t is not None), default=None)
        if cut is None or any(t is None for t in starts):
            cut = earliest_event(warehouse)
        window = max([self.roster.defaults.answer_window,
                      *(org.answer_window for org in self.roster.orgs.values())])
        horizon = cut - timedelta(seconds=window + self.lateness) - RESOLVE_AFTER
        posts_since = horizon - timedelta(seconds=self.lateness)
        self.tracker.resume(latest_alert_states(warehouse, (ALERT_KIND, SILENT_KIND)),
                            {p: t for p, t in cut_clocks.items() if p in recorded},
                            org_activity(warehouse, recorded, horizon, posts_since))
        history = complaint_history(warehouse, max(final.values()) - HISTORY_FOR_BASELINES, cut)
        self.detector.load_history_table(history, through=cut, complaints=complaint_texts(
            warehouse, *self.detector.texts_needed(cut), cut))

        mentions = mention_columns(warehouse, horizon, recorded)
        posts = post_columns(warehouse, posts_since, recorded)
        rejected = rejected_after(warehouse, topic, recorded)
        rows: list[pa.Table] = []
        alerts: list[Alert] = []
        m_part, m_off = _positions(mentions)
        p_part, p_off = _positions(posts)
        cut_ms = _ms(cut)
        for partition in sorted({*m_part.tolist(), *p_part.tolist()}):
            m_rows = np.flatnonzero(m_part == partition)
            p_rows = np.flatnonzero(p_part == partition)
            offsets = np.sort(np.concatenate((m_off[m_rows], p_off[p_rows])))
            gap = _first_gap(offsets, recorded.get(partition, 0), rejected.get(partition, set()))
            self.held[partition] = _held(mentions, m_rows, m_off, gap) | _held(
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
                tracked = self.tracker.process_tables(taken_m, taken_p, self.tracker_clocks)
                rows.append(tracked.rows)
                alerts += tracked.alerts
                recent = chunk_m.filter(pc.greater_equal(
                    chunk_m["created_at"].cast(pa.int64()), cut_ms))
                alerts += self.detector.process_table(recent, self.clocks)
        self.held = {p: held for p, held in self.held.items() if held}
        self.clocks = dict(final)
        for partition, clock in final.items():  # none of its events handed in again
            self.tracker_clocks.setdefault(partition, clock)
        self.watermark = max(final.values())
        tracked = self.tracker.process_tables(MENTIONS_SCHEMA.empty_table(),
                                              POSTS_SCHEMA.empty_table(), self.tracker_clocks)
        rows.append(tracked.rows)
        alerts += tracked.alerts + self.detector.process_table(MENTIONS_SCHEMA.empty_table(),
                                                              self.clocks)
        log.info("restored state from %s: %d open mentions, %d early replies, %d organisations "
                 "with complaint history, %d events of a half-done write held until read "
                 "again", cut.isoformat(), self.tracker.open_mentions, self.tracker.orphan_posts,
                 self.detector.tracked_orgs, sum(len(h) for h in self.held.values()))
        return Derived(rows=pa.concat_tables(rows), alerts=alerts, watermark=self.watermark)


def _positions(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    return (table["source_partition"].to_numpy().astype(np.int64),
            table["source_offset"].to_numpy().astype(np.int64))


def _first_gap(offsets: np.ndarray, recorded: int, rejected: set[int]) -> int:
    """The first offset at or after `recorded` that is neither among the sorted stored
    `offsets` nor `rejected` (a dead letter's): where the stored events stop being what was
    read in one piece."""
    present = set(offsets[offsets >= recorded].tolist()) | rejected
    gap = recorded
    while gap in present:
        gap += 1
    return gap


def _held(table: pa.Table, rows: np.ndarray, offsets: np.ndarray, gap: int) -> dict[int, str]:
    """offset -> event id of the rows (of one partition) at or after `gap`."""
    after = rows[offsets[rows] >= gap]
    if not len(after):
        return {}
    ids = table["event_id"].take(pa.array(after)).to_pylist()
    return dict(zip(offsets[after].tolist(), ids, strict=True))


def _advance_to(clocks: dict[int, datetime], newest: dict[int, datetime]) -> None:
    """Each partition's clock to its time in `newest`, never back."""
    for partition, at in newest.items():
        current = clocks.get(partition)
        if current is None or at > current:
            clocks[partition] = at


def _ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)


def first_gaps(by_partition: dict[int, list[Mention | Post]], recorded: dict[int, int],
               rejected: dict[int, set[int]]) -> dict[int, int]:
    """Per partition, the first offset at or after the recorded one that the warehouse
    holds no event and no dead letter of (`_first_gap`), for events as objects."""
    return {
        partition: _first_gap(np.array(sorted(e.source.offset for e in events), np.int64),
                              recorded.get(partition, 0), rejected.get(partition, set()))
        for partition, events in by_partition.items()
    }


def rejected_after(warehouse: Warehouse, topic: str,
                   offsets: dict[int, int]) -> dict[int, set[int]]:
    """Per partition, the offsets of the dead letters at or after `offsets`."""
    table = warehouse.client.query_arrow(
        f"SELECT `partition` AS p, `offset` AS o FROM {warehouse.table('dead_letters')} "
        "WHERE topic = {topic:String} AND `offset` >= {offsets:Array(UInt64)}"
        "[indexOf({partitions:Array(UInt32)}, `partition`)]",
        parameters={"topic": topic, "partitions": list(offsets),
                    "offsets": [offsets[p] for p in offsets]},
    )
    found: dict[int, set[int]] = {}
    for p, o in zip(table.column("p").to_pylist(), table.column("o").to_pylist(),
                    strict=True):
        found.setdefault(int(p), set()).add(int(o))
    return found


def clocks_before(warehouse: Warehouse, offsets: dict[int, int]) -> dict[int, datetime]:
    """Per partition, the newest event time among the events before `offsets`."""
    if not offsets:
        return {}
    return _newest_per_partition(
        warehouse,
        "WHERE source_offset < {offsets:Array(UInt64)}[indexOf({partitions:Array(UInt32)}, "
        "source_partition)]",
        {"partitions": list(offsets), "offsets": [offsets[p] for p in offsets]},
    )


def earliest_event(warehouse: Warehouse) -> datetime:
    table = warehouse.client.query_arrow(
        f"SELECT least(min(m.created_at), (SELECT min(created_at) FROM "
        f"{warehouse.table('posts')})) AS t FROM {warehouse.table('mentions')} AS m")
    value = table.column("t")[0].as_py()
    return as_utc(value) if value is not None else datetime(1970, 1, 1, tzinfo=UTC)


def partition_clocks(warehouse: Warehouse) -> dict[int, datetime]:
    """Per partition, the newest event time of all stored events (as far as each moved the
    clock: `decode.clock_time`)."""
    return _newest_per_partition(warehouse, "", {})


def _newest_per_partition(
    warehouse: Warehouse, where: str, parameters: dict[str, Any]
) -> dict[int, datetime]:
    clock_at = f"least(created_at, kafka_timestamp + toIntervalMillisecond({_SKEW_MS})) AS at"
    table = warehouse.client.query_arrow(
        "SELECT source_partition AS p, max(at) AS t FROM ("
        f"SELECT source_partition, source_offset, {clock_at} FROM {warehouse.table('mentions')} "
        "UNION ALL "
        f"SELECT source_partition, source_offset, {clock_at} FROM {warehouse.table('posts')}) "
        f"{where} GROUP BY p",
        parameters=parameters or None,
    )
    return {int(p): as_utc(t) for p, t in zip(table.column("p").to_pylist(),
                                             table.column("t").to_pylist(), strict=True)}


def _rows(table: pa.Table) -> Iterable[dict[str, Any]]:
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for i in range(table.num_rows):
        yield {name: values[i] for name, values in columns.items()}


def _after(offsets: dict[int, int]) -> tuple[str, dict[str, Any]]:
    """A condition for the events at or after `offsets` (every event of a partition that
    has none), and its parameters."""
    return ("source_offset >= {offsets:Array(UInt64)}[indexOf({partitions:Array(UInt32)}, "
            "source_partition)]",
            {"partitions": list(offsets), "offsets": [offsets[p] for p in offsets]})


def mention_columns(warehouse: Warehouse, since: datetime,
                    offsets: dict[int, int] | None = None) -> pa.Table:
    """Mentions posted since `since`, and every one at or after `offsets`, in (partition,
    offset) order, in the layout decode gives (`pipelines.columnar.MENTIONS_SCHEMA`)."""
    return _columns(warehouse, "mentions", MENTIONS_SCHEMA, since, offsets)


def post_columns(warehouse: Warehouse, since: datetime,
                 offsets: dict[int, int] | None = None) -> pa.Table:
    """Posts (replies or not) posted since `since`, and every one at or after `offsets`."""
    return _columns(warehouse, "posts", POSTS_SCHEMA, since, offsets)


def _columns(warehouse: Warehouse, table: str, schema: pa.Schema, since: datetime,
             offsets: dict[int, int] | None) -> pa.Table:
    after, parameters = _after(offsets or {})
    names = ", ".join(f"`{name}`" for name in schema.names)
    found = warehouse.client.query_arrow(
        f"SELECT {names} FROM {warehouse.table(table)} "
        f"WHERE created_at >= {{since:DateTime64(3)}} OR {after} "
        "ORDER BY source_partition, source_offset",
        parameters={"since": since, **parameters},
    )
    return pa.Table.from_arrays(
        [found.column(f.name).cast(f.type) for f in schema], schema=schema)


def org_activity(warehouse: Warehouse, offsets: dict[int, int], mentions_before: datetime,
                 posts_before: datetime) -> dict[str, OrgActivity]:
    """Per organisation, what its events before the cut that a restore does not hand in
    again showed: its newest post, its first and newest actionable mention
    (`responses.OrgActivity`)."""
    if not offsets:
        return {}
    after, parameters = _after(offsets)
    table = warehouse.client.query_arrow(
        "SELECT org_id, max(p) AS last_post, min(m) AS first_mention, max(m) AS last_mention "
        f"FROM (SELECT org_id, created_at AS p, NULL AS m FROM {warehouse.table('posts')} "
        f"WHERE created_at < {{posts_before:DateTime64(3)}} AND NOT ({after}) "
        f"UNION ALL SELECT org_id, NULL, created_at FROM {warehouse.table('mentions')} "
        f"WHERE kind != 'share' AND created_at < {{mentions_before:DateTime64(3)}} "
        f"AND NOT ({after})) GROUP BY org_id",
        parameters={"posts_before": posts_before, "mentions_before": mentions_before,
                    **parameters},
    )
    return {
        r["org_id"]: OrgActivity(*(as_utc(r[k]) if r[k] is not None else None
                                   for k in ("last_post", "first_mention", "last_mention")))
        for r in _rows(table)
    }


WEBHOOK_CATCH_UP = timedelta(days=1)
"""How far back in event time a starting worker looks for alert states the webhook lacks."""


def undelivered_alert_states(warehouse: Warehouse, watermark: datetime | None) -> list[Alert]:
    """The newest state of each alert updated within `WEBHOOK_CATCH_UP` before `watermark`
    that the webhook's ledger (`alert_deliveries`) does not have: what a stopped worker
    still had queued for the webhook (a state waiting for its client's turn, a receiver that
    was down) and a restart does not emit again."""
    if watermark is None:
        return []
    table = warehouse.client.query_arrow(
        f"SELECT * FROM {warehouse.table('alerts_state')} "
        "WHERE updated_at >= {since:DateTime64(3)} "
        "ORDER BY alert_id, version DESC LIMIT 1 BY alert_id",
        parameters={"since": watermark - WEBHOOK_CATCH_UP},
    )
    states = _alerts(table)
    if not states:
        return []
    delivered = {r[0] for r in warehouse.client.query(
        f"SELECT delivery_key FROM {warehouse.table('alert_deliveries')} "
        "WHERE delivery_key IN {keys:Array(String)}",
        parameters={"keys": [a.delivery_key for a in states]}).result_rows}
    return sorted((a for a in states if a.delivery_key not in delivered),
                  key=lambda a: (a.updated_at, a.alert_id))


def _alerts(table: pa.Table) -> list[Alert]:
    return [
        Alert(
            alert_id=r["alert_id"], org_id=r["org_id"], kind=r["kind"], status=r["status"],
            opened_at=as_utc(r["opened_at"]),
            resolved_at=as_utc(r["resolved_at"]) if r["resolved_at"] is not None else None,
            severity=r["severity"], observed=r["observed"], expected=r["expected"],
            summary=r["summary"], sample_event_ids=tuple(r["sample_event_ids"]),
            updated_at=as_utc(r["updated_at"]), version=r["version"],
            retracted=bool(r["is_deleted"]), details=orjson.loads(r["details"] or "{}"),
        )
        for r in _rows(table)
    ]


def latest_alert_states(warehouse: Warehouse, kinds: Sequence[str]) -> list[Alert]:
    """The latest stored state of each organisation's alert of each of `kinds` (alerts
    whose id is `<kind>:<org_id>:...`, one open at a time per organisation), withdrawn ones
    too (so no FINAL, which hides them)."""
    table = warehouse.client.query_arrow(
        f"SELECT * FROM {warehouse.table('alerts_state')} "
        "WHERE kind IN {kinds:Array(String)} AND startsWith(alert_id, concat(kind, ':', "
        "org_id, ':')) ORDER BY org_id, kind, updated_at DESC, opened_at DESC, version DESC "
        "LIMIT 1 BY org_id, kind",
        parameters={"kinds": list(kinds)},
    )
    return _alerts(table)


def complaint_history(warehouse: Warehouse, since: datetime, until: datetime) -> pa.Table:
    """Per organisation-minute with mentions, oldest first, as columns (what
    `SurgeDetector.load_history_table` takes): org_id, minute, complaints, reach (the
    summed followers of the distinct complaining authors) and mentions."""
    return warehouse.client.query_arrow(
        "SELECT org_id, minute, sumIf(n, complaint) AS complaints, "
        f"{saturating_sum('if(complaint, followers, 0)')} AS reach, sum(n) AS mentions "
        "FROM ("
        "SELECT org_id, toDateTime64(toStartOfMinute(created_at), 3, 'UTC') AS minute, "
        "author_id, ifNull(complaint, false) AS complaint, count() AS n, "
        f"max(author_followers) AS followers FROM {warehouse.table('mentions')} "
        "WHERE created_at >= {since:DateTime64(3)} AND created_at < {until:DateTime64(3)} "
        "GROUP BY org_id, minute, author_id, complaint) "
        "GROUP BY org_id, minute ORDER BY minute, org_id",
        parameters={"since": since, "until": until},
    )


def complaint_texts(warehouse: Warehouse, since: datetime, recent: datetime,
                    until: datetime) -> list[ComplaintText]:
    """The complaints whose texts the surge detector's samples hold at `until`
    (`SurgeDetector.texts_needed`): per organisation and day from `since` the
    `USUAL_SAMPLE` with the lowest CRC-32 of their event id, and every one from `recent`."""
    columns = "org_id, event_id, created_at, author_id, author_handle, author_followers, text"
    where = "complaint AND text != '' AND created_at < {until:DateTime64(3)}"
    table = warehouse.client.query_arrow(
        f"SELECT {columns} FROM (SELECT {columns} FROM {warehouse.table('mentions')} "
        f"WHERE {where} AND created_at >= {{since:DateTime64(3)}} "
        "ORDER BY org_id, toDate(created_at), CRC32(event_id), event_id DESC "
        f"LIMIT {USUAL_SAMPLE} BY org_id, toDate(created_at)) "
        f"UNION DISTINCT SELECT {columns} FROM {warehouse.table('mentions')} "
        f"WHERE {where} AND created_at >= {{recent:DateTime64(3)}}",
        parameters={"since": since, "recent": recent, "until": until},
    )
    return [
        ComplaintText(r["org_id"], r["event_id"], as_utc(r["created_at"]), r["author_id"],
                      r["author_handle"], int(r["author_followers"]), r["text"])
        for r in _rows(table)
    ]
