"""The response tracker on columns gives what the per-event tracker gave, whatever the batches.

A simulated world (`pipelines.simulate`: 20 organisations from a Thursday to a Monday, so
SLA clocks stop for nights and a weekend) is decoded as the worker decodes it and spread
over partitions by organisation. As a live topic has it, some events were read late (their
replies came first), some twice (a producer's retry), and some carry a Kafka timestamp
minutes or hours before their created_at, so that the clock rule (`clock_time`: at most a
minute past the Kafka timestamp) decides the clocks. The same batches of 1, 7 and 5 000
events go to `ResponseTracker.process_tables`, as Arrow tables in the warehouse's layout,
and to the per-event tracker it replaced (tests/tracker_reference.py): every call must give
the same rows and the same alert states. And the batch sizes must not change what the
warehouse ends up with: the row it keeps per mention and the last state of each alert.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from pipelines.ingest.decode import Mention, Post, Source, decode
from pipelines.ingest.sink import mentions_table, posts_table, responses_table
from pipelines.processing.alerts import Alert
from pipelines.processing.responses import ROWS_SCHEMA, ResponseTracker
from pipelines.roster import Roster, load_roster, parse_roster
from pipelines.simulate import simulate_to_file
from tests import tracker_reference as reference

START = datetime(2026, 3, 5, tzinfo=UTC)  # a Thursday
PARTITIONS = 3
SIZES = (1, 7, 5000)
NOW = datetime(2026, 3, 10, tzinfo=UTC)  # ingested_at of the tables; the tracker ignores it

Event = Mention | Post


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Roster, list[Event]]:
    out = tmp_path_factory.mktemp("tracker") / "world.jsonl"
    simulate_to_file(out, seed=11, orgs=20, days=4, start=START, scale=0.15, progress=False)
    roster = load_roster(out.with_suffix(".roster.yaml"))
    decoded: list[Event] = []
    for line in out.read_bytes().splitlines():
        event = decode(line, Source("simulate", 0, 0), roster)
        assert isinstance(event, Mention | Post), event
        decoded.append(event)
    rng = random.Random(5)
    order: list[tuple[float, int, Event]] = []
    for n, event in enumerate(decoded):
        lag = rng.randint(50, 2000) if rng.random() < 0.03 else 0  # read late
        order.append((n + lag, n, event))
        if rng.random() < 0.01:  # read twice
            order.append((n + rng.randint(1, 300), n, event))
    offsets = [0] * PARTITIONS
    events: list[Event] = []
    for _, _, original in sorted(order, key=lambda o: o[:2]):
        partition = zlib.crc32(original.org_id.encode()) % PARTITIONS
        received = original.created_at
        if rng.random() < 0.03:  # dated ahead of its arrival: the clock rule caps it
            received -= timedelta(minutes=rng.choice([2, 45, 600]))
        event = type(original)(**{f: getattr(original, f) for f in original.__slots__})
        event.source = Source("simulate", partition, offsets[partition], received)
        offsets[partition] += 1
        events.append(event)
    return roster, events


def batches(events: Sequence[Event],
            size: int) -> Iterable[tuple[list[Mention], list[Post], dict[int, datetime]]]:
    """The worker's batches, with its clocks: each partition's newest clock_at so far."""
    clocks: dict[int, datetime] = {}
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        for event in batch:
            p, at = event.source.partition, event.clock_at
            if p not in clocks or at > clocks[p]:
                clocks[p] = at
        yield ([e for e in batch if isinstance(e, Mention)],
               [e for e in batch if isinstance(e, Post)], dict(clocks))
    # Then the topic goes quiet while other events move the clocks on: answer windows end,
    # queues empty, alerts resolve.
    for days in (1, 3, 10):
        yield [], [], {p: at + timedelta(days=days) for p, at in clocks.items()}


def partition_batches(events: Sequence[Event], size: int,
                      ) -> Iterable[tuple[list[Mention], list[Post], dict[int, datetime]]]:
    """The live worker's batches: a consumer reads a partition at a time, so each call holds
    the next `size` events of one partition (partitions in turn) and spans days of event
    time; the clocks as `batches` has them."""
    own: dict[int, list[Event]] = {}
    for event in events:
        own.setdefault(event.source.partition, []).append(event)
    clocks: dict[int, datetime] = {}
    for start in range(0, max(len(mine) for mine in own.values()), size):
        for p, mine in sorted(own.items()):
            batch = mine[start:start + size]
            if not batch:
                continue
            clocks[p] = max([*([clocks[p]] if p in clocks else []),
                             *(e.clock_at for e in batch)])
            yield ([e for e in batch if isinstance(e, Mention)],
                   [e for e in batch if isinstance(e, Post)], dict(clocks))


Run = list[tuple[pa.Table, list[Alert]]]  # per call: its rows and alert states


@pytest.fixture(scope="module")
def runs(world: tuple[Roster, list[Event]]) -> dict[int, tuple[Run, Run]]:
    """Per batch size: what the reference and the columnar tracker returned, call by call."""
    roster, events = world
    out: dict[int, tuple[Run, Run]] = {}
    for size in SIZES:
        old, new = reference.ResponseTracker(roster), ResponseTracker(roster)
        expected: Run = []
        got: Run = []
        for mentions, posts, clocks in batches(events, size):
            before = old.process(mentions, posts, clocks)
            expected.append((responses_table(before.rows), before.alerts))  # type: ignore[arg-type]
            now = new.process_tables(mentions_table(mentions, NOW), posts_table(posts, NOW),
                                     clocks)
            got.append((now.rows, now.alerts))
        out[size] = expected, got
    return out


def by_mention(rows: pa.Table) -> list[dict[str, object]]:
    """A call's rows in mention order (one per mention; their order within a call is free)."""
    return sorted(rows.to_pylist(), key=lambda r: str(r["mention_id"]))


@pytest.mark.parametrize("size", SIZES)
def test_each_call_gives_the_rows_and_alerts_of_the_per_event_tracker(
        runs: dict[int, tuple[Run, Run]], size: int) -> None:
    expected, got = runs[size]
    assert len(got) == len(expected)
    for call, ((want_rows, want_alerts), (rows, alerts)) in enumerate(
            zip(expected, got, strict=True)):
        assert rows.schema == ROWS_SCHEMA
        assert by_mention(rows) == by_mention(want_rows), f"call {call}: rows differ"
        assert alerts == want_alerts, f"call {call}: alert states differ"


def test_the_world_exercises_what_the_tracker_does(runs: dict[int, tuple[Run, Run]]) -> None:
    """So the comparison above cannot pass on a world without answers, breaches or
    silence."""
    _, got = runs[5000]
    rows = [r for table, _ in got for r in table.to_pylist()]
    alerts = [a for _, states in got for a in states]
    assert sum(r["first_response_id"] is None for r in rows) > 500
    assert sum(r["first_response_id"] is not None for r in rows) > 500
    assert sum(r["sla_breached"] for r in rows) > 20
    kinds = {(a.kind, a.status) for a in alerts}
    assert {("sla_breach", "open"), ("sla_breach", "resolved")} <= kinds
    assert ("silent_org", "open") in kinds


def final_rows(run: Run) -> dict[str, dict[str, object]]:
    """The row the warehouse keeps per mention: the highest version, the last of equals."""
    kept: dict[str, dict[str, object]] = {}
    for table, _ in run:
        for row in table.to_pylist():
            key = str(row["mention_id"])
            if key not in kept or int(row["version"]) >= int(kept[key]["version"]):  # type: ignore[call-overload]
                kept[key] = row
    return kept


def final_alerts(run: Run) -> dict[str, Alert]:
    return {a.alert_id: a for _, states in run for a in states}


def test_batch_sizes_do_not_change_what_the_warehouse_keeps(
        runs: dict[int, tuple[Run, Run]]) -> None:
    _, first = runs[SIZES[0]]
    for size in SIZES[1:]:
        _, other = runs[size]
        assert final_rows(other) == final_rows(first), f"batches of {size}"
        assert final_alerts(other) == final_alerts(first), f"batches of {size}"


def test_process_on_objects_gives_the_same_rows_as_response_rows(
        world: tuple[Roster, list[Event]]) -> None:
    roster, events = world
    old, new = reference.ResponseTracker(roster), ResponseTracker(roster)
    for mentions, posts, clocks in batches(events, 5000):
        want = old.process(mentions, posts, clocks)
        got = new.process(mentions, posts, clocks)
        assert sorted(astuple(r) for r in got.rows) == sorted(astuple(r) for r in want.rows)
        assert got.alerts == want.alerts


def test_dictionary_columns_and_chunked_tables_give_the_same(
        world: tuple[Roster, list[Event]], runs: dict[int, tuple[Run, Run]]) -> None:
    """A decoder may hand LowCardinality columns over dictionary-encoded, and a table in
    several chunks: the tracker reads them the same."""
    roster, events = world
    tracker = ResponseTracker(roster)
    _, expected = runs[5000]
    for call, (mentions, posts, clocks) in enumerate(batches(events, 5000)):
        tables = []
        for table in (mentions_table(mentions, NOW), posts_table(posts, NOW)):
            for name in ("org_id", "platform", "kind", "account_role"):
                if name in table.column_names:
                    at = table.column_names.index(name)
                    table = table.set_column(at, name, table[name].dictionary_encode())
            half = table.num_rows // 2
            tables.append(pa.concat_tables([table.slice(0, half), table.slice(half)]))
        out = tracker.process_tables(tables[0], tables[1], clocks)
        assert by_mention(out.rows) == by_mention(expected[call][0]), f"call {call}"
        assert out.alerts == expected[call][1], f"call {call}"


def test_calls_that_span_days_give_the_rows_and_alerts_of_the_per_event_tracker(
        world: tuple[Roster, list[Event]]) -> None:
    """A call of one partition's events over days: an organisation may fall silent and speak
    again within it (the tracker walks those events one by one, and takes the others' from
    the columns)."""
    roster, events = world
    old, new = reference.ResponseTracker(roster), ResponseTracker(roster)
    calls = list(partition_batches(events, 2000))
    spans = [max(m.created_at for m in mentions) - min(m.created_at for m in mentions)
             for mentions, _, _ in calls]
    assert min(spans[:PARTITIONS]) > timedelta(days=1)  # the first call of each partition
    kinds = []
    for call, (mentions, posts, clocks) in enumerate(calls):
        want = old.process(mentions, posts, clocks)
        got = new.process_tables(mentions_table(mentions, NOW), posts_table(posts, NOW), clocks)
        assert by_mention(got.rows) == by_mention(responses_table(want.rows)), f"call {call}"  # type: ignore[arg-type]
        assert got.alerts == want.alerts, f"call {call}: alert states differ"
        kinds += [(a.kind, a.status) for a in got.alerts]
    assert {("silent_org", "open"), ("silent_org", "resolved")} <= set(kinds)


def test_several_replies_in_a_call_to_one_mention_count_as_one_by_one() -> None:
    """A call with many replies (taken in bulk), some mentions named by several: the first
    answer read is the answer the queue sees, a later-read reply posted earlier becomes the
    first response, and another organisation's reply or a copy changes nothing."""
    roster = parse_roster({
        "defaults": {"timezone": "UTC", "first_response_sla": "1h", "answer_window": "2d"},
        "orgs": [{"id": "a", "accounts": [{"platform": "twitter", "handle": "a-care",
                                           "role": "official"}]},
                 {"id": "b"}]})
    offsets = iter(range(10**6))
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)

    def source(at: datetime) -> Source:
        return Source("t", 0, next(offsets), at)

    def mention(i: int) -> Mention:
        at = start + timedelta(minutes=i)
        return Mention(org_id="a", event_id=f"m{i}", platform="twitter", created_at=at,
                       author_id=f"u{i}", author_handle=f"klant{i}", author_followers=1,
                       author_verified=False, kind="mention", text="?", lang="nl",
                       in_reply_to=None, shared_from=None, sentiment=0.0, complaint=i % 2 == 0,
                       source=source(at))

    def reply(post_id: str, i: int, minutes: int, org: str = "a") -> Post:
        at = start + timedelta(minutes=i + minutes)
        return Post(org_id=org, event_id=post_id, platform="twitter", created_at=at,
                    account_id=f"{org}-care", account_handle=f"{org}-care",
                    account_role="official", account_followers=1, kind="reply",
                    in_reply_to=f"m{i}", text="!", org_source="roster", source=source(at))

    mentions = [mention(i) for i in range(60)]
    posts = [reply(f"r{i}", i, 90 if i < 20 else 20) for i in range(60)]  # 0-19 after SLA
    posts += [reply(f"earlier{i}", i, 30) for i in range(10)]  # read later, posted earlier
    posts += [reply(f"other{i}", i, 10, org="b") for i in range(20, 25)]  # not its org
    posts += [reply(f"r{i}", i, 20) for i in range(25, 30)]  # a copy read again
    posts += [reply(f"second{i}", i, 5) for i in range(30, 35)]  # earlier than the first
    calls: list[tuple[list[Mention], list[Post], datetime]] = [
        ([m], [], start + timedelta(minutes=i)) for i, m in enumerate(mentions)]
    calls += [([], posts, start + timedelta(hours=3)),
              ([], [], start + timedelta(days=3))]
    old, new = reference.ResponseTracker(roster), ResponseTracker(roster)
    rows: dict[str, dict[str, object]] = {}
    alerts: list[Alert] = []
    for call, (ms, ps, clock) in enumerate(calls):
        want = old.process(ms, ps, {0: clock})
        got = new.process_tables(mentions_table(ms, NOW), posts_table(ps, NOW), {0: clock})
        assert by_mention(got.rows) == by_mention(responses_table(want.rows)), f"call {call}"  # type: ignore[arg-type]
        assert got.alerts == want.alerts, f"call {call}: alert states differ"
        rows.update((str(r["mention_id"]), r) for r in got.rows.to_pylist())
        alerts += got.alerts
    first = {m: (r["first_response_id"], r["sla_breached"]) for m, r in rows.items()}
    assert first["m3"] == ("earlier3", False)  # 30 minutes: in time after all
    assert first["m15"] == ("r15", True)
    assert first["m22"] == ("r22", False)  # not org b's, though it was read first
    assert first["m27"] == ("r27", False)
    assert first["m31"] == ("second31", False)
    assert {a.status for a in alerts} == {"open", "resolved"}  # 0-19 seemed to wait
