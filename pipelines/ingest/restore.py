"""Restore's reads: the warehouse's stored events and states back as the processors' input.

The sink (`pipelines.ingest.sink`) maps a batch to warehouse rows; this module is the
reverse, for a (re)starting worker (`pipelines.processing.processors.StreamProcessors.restore`):
each partition's event clock at its recorded offset, the events of the last answer window
as Arrow columns in the sink's own layout, the latest alert states, the per-minute complaint
history for the surge baselines, and where a write cut short left a gap. Every read is
bounded by time or by (partition, offset), so its cost follows what can still change, not
the size of the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from pipelines.ingest.columnar import MENTIONS_SCHEMA, POSTS_SCHEMA
from pipelines.ingest.decode import CLOCK_SKEW, Mention, Post
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import USUAL_SAMPLE, ComplaintText
from pipelines.processing.responses import OrgActivity
from pipelines.warehouse import Warehouse, as_utc
from schemas.saturating import saturating_sum

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SKEW_MS = CLOCK_SKEW // timedelta(milliseconds=1)


def positions(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    return (table["source_partition"].to_numpy().astype(np.int64),
            table["source_offset"].to_numpy().astype(np.int64))


def first_gap(offsets: np.ndarray, recorded: int, rejected: set[int]) -> int:
    """The first offset at or after `recorded` that is neither among the sorted stored
    `offsets` nor `rejected` (a dead letter's): where the stored events stop being what was
    read in one piece."""
    present = set(offsets[offsets >= recorded].tolist()) | rejected
    gap = recorded
    while gap in present:
        gap += 1
    return gap


def held_after(table: pa.Table, rows: np.ndarray, offsets: np.ndarray, gap: int) -> dict[int, str]:
    """offset -> event id of the rows (of one partition) at or after `gap`."""
    after = rows[offsets[rows] >= gap]
    if not len(after):
        return {}
    ids = table["event_id"].take(pa.array(after)).to_pylist()
    return dict(zip(offsets[after].tolist(), ids, strict=True))


def first_gaps(by_partition: dict[int, list[Mention | Post]], recorded: dict[int, int],
               rejected: dict[int, set[int]]) -> dict[int, int]:
    """Per partition, the first offset at or after the recorded one that the warehouse
    holds no event and no dead letter of (`first_gap`), for events as objects."""
    return {
        partition: first_gap(np.array(sorted(e.source.offset for e in events), np.int64),
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
    has none), and its parameters. Spelled as ranges of the partition and offset columns, so
    that their skip index (migration 0008) leaves out the granules before the offsets."""
    ranges = [f"(source_partition = {int(p)} AND source_offset >= {int(o)})"
              for p, o in sorted(offsets.items())]
    low = 0
    for partition in sorted(offsets):  # the partitions without an offset: all their events
        if partition > low:
            ranges.append(f"(source_partition >= {low} AND source_partition < {int(partition)})")
        low = int(partition) + 1
    ranges.append(f"source_partition >= {low}")
    return "(" + " OR ".join(ranges) + ")", {}


def mention_columns(warehouse: Warehouse, since: datetime,
                    offsets: dict[int, int] | None = None) -> pa.Table:
    """Mentions posted since `since`, and every one at or after `offsets`, in (partition,
    offset) order, in the layout decode gives (`pipelines.ingest.columnar.MENTIONS_SCHEMA`)."""
    return _columns(warehouse, "mentions", MENTIONS_SCHEMA, since, offsets)


def post_columns(warehouse: Warehouse, since: datetime,
                 offsets: dict[int, int] | None = None) -> pa.Table:
    """Posts (replies or not) posted since `since`, and every one at or after `offsets`."""
    return _columns(warehouse, "posts", POSTS_SCHEMA, since, offsets)


def _columns(warehouse: Warehouse, table: str, schema: pa.Schema, since: datetime,
             offsets: dict[int, int] | None) -> pa.Table:
    """The two parts are read apart: `created_at >= since` on its own reads only the newest
    granules of each organisation (the tables are sorted by org_id, created_at), where the
    same condition OR'ed with the offsets' read every row's created_at (measured on a
    10 M-mention warehouse: 0.31 against 0.91 s CPU)."""
    after, parameters = _after(offsets or {})
    names = ", ".join(f"`{name}`" for name in schema.names)
    found = warehouse.client.query_arrow(
        f"SELECT {names} FROM ("
        f"SELECT {names} FROM {warehouse.table(table)} WHERE created_at >= {{since:DateTime64(3)}} "
        f"UNION ALL SELECT {names} FROM {warehouse.table(table)} "
        f"WHERE created_at < {{since:DateTime64(3)}} AND {after}) "
        "ORDER BY source_partition, source_offset",
        parameters={"since": since, **parameters},
    )
    return pa.Table.from_arrays(
        [found.column(f.name).cast(f.type) for f in schema], schema=schema)


def org_activity(warehouse: Warehouse, offsets: dict[int, int], mentions_before: datetime,
                 posts_before: datetime) -> dict[str, OrgActivity]:
    """Per organisation, what its events before the cut that a restore does not hand in
    again showed: its newest post, its first and newest actionable mention
    (`responses.OrgActivity`).

    Read in spans of time, so that the sort key (org_id, created_at) leaves out the granules
    outside them: the newest post and mention from the cut back (a day, a week, a month, a
    year, then everything older) and the first mention from the oldest one on, each span
    asking only for the organisations not found yet (`ACTIVITY_SPANS`). An organisation that
    is active reads a day or a week, whatever the history's size."""
    if not offsets:
        return {}
    after, parameters = _after(offsets)
    mention_orgs = _org_ids(warehouse, "mentions")
    last_post = _newest_per_org(warehouse, "posts", f"NOT ({after})", parameters,
                                _org_ids(warehouse, "posts"), posts_before)
    actionable = f"kind != 'share' AND NOT ({after})"
    last_mention = _newest_per_org(warehouse, "mentions", actionable, parameters,
                                   mention_orgs, mentions_before)
    first_mention = _oldest_per_org(warehouse, "mentions", actionable, parameters,
                                    set(last_mention), mentions_before)
    return {
        org: OrgActivity(last_post.get(org), first_mention.get(org), last_mention.get(org))
        for org in sorted({*last_post, *last_mention})
    }


ACTIVITY_SPANS = (timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=365))
"""How far back each look for an organisation's newest event reaches past the one before
(and forward, from the oldest, for its first); after the last, the rest of the history."""


def _org_ids(warehouse: Warehouse, table: str) -> set[str]:
    """The organisations with rows in `table`: the sort key's first column, read in a few
    milliseconds on a 10 M-mention warehouse."""
    found = warehouse.client.query_arrow(f"SELECT DISTINCT org_id FROM {warehouse.table(table)}")
    return set(found.column("org_id").to_pylist())


def _newest_per_org(warehouse: Warehouse, table: str, where: str, parameters: dict[str, Any],
                    orgs: set[str], before: datetime) -> dict[str, datetime]:
    """Per organisation of `orgs`, the newest created_at before `before` of the rows of
    `table` that pass `where` (none: left out)."""
    found: dict[str, datetime] = {}
    high: datetime | None = before
    for span in (*ACTIVITY_SPANS, None):
        missing = orgs - found.keys()
        if not missing or high is None:
            break
        low = high - span if span is not None else None
        found |= _per_org(warehouse, table, "max", where, parameters, missing, low, high)
        high = low
    return found


def _oldest_per_org(warehouse: Warehouse, table: str, where: str, parameters: dict[str, Any],
                    orgs: set[str], before: datetime) -> dict[str, datetime]:
    """Per organisation of `orgs`, the oldest created_at before `before` of the rows of
    `table` that pass `where` (none: left out)."""
    if not orgs:
        return {}
    first = warehouse.client.query_arrow(
        f"SELECT min(created_at) AS t FROM {warehouse.table(table)}").column("t")[0].as_py()
    if first is None:
        return {}
    found: dict[str, datetime] = {}
    low: datetime | None = as_utc(first)
    for span in (*ACTIVITY_SPANS, None):
        missing = orgs - found.keys()
        if not missing or low is None or low >= before:
            break
        high = min(low + span, before) if span is not None else before
        found |= _per_org(warehouse, table, "min", where, parameters, missing, low, high)
        low = high if span is not None else None
    return found


def _per_org(warehouse: Warehouse, table: str, aggregate: str, where: str,
             parameters: dict[str, Any], orgs: set[str], low: datetime | None,
             high: datetime) -> dict[str, datetime]:
    since = "AND created_at >= {low:DateTime64(3)} " if low is not None else ""
    found = warehouse.client.query_arrow(
        f"SELECT org_id, {aggregate}(created_at) AS t FROM {warehouse.table(table)} "
        "WHERE org_id IN {orgs:Array(String)} AND created_at < {high:DateTime64(3)} "
        f"{since}AND {where} GROUP BY org_id",
        parameters={"orgs": sorted(orgs), "high": high, "low": low, **parameters},
    )
    return {org: as_utc(t) for org, t in zip(found.column("org_id").to_pylist(),
                                             found.column("t").to_pylist(), strict=True)}


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
