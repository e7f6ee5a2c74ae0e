"""What the response tracker holds: mentions taken in bulk stay as columns, found by an
index of hashed ids; the tracker survives a pickle (the state file kept at a clean stop);
and ids whose hashes collide still find their own mention.

The world is test_tracker_columns' (late and repeated events, clocks capped by Kafka
time), in batches of 1 000; that test holds the tracker to the per-event reference, so here
a tracker that differs in one respect must give what the plain one gives, call by call.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pytest

from pipelines.ingest.decode import Mention, Post
from pipelines.ingest.sink import mentions_table, posts_table
from pipelines.processing import responses
from pipelines.processing.alerts import Alert
from pipelines.processing.responses import ResponseTracker
from pipelines.roster import Roster
from tests.unit.test_tracker_columns import NOW, batches, by_mention, world

__all__ = ["world"]  # the fixture, shared with test_tracker_columns

Event = Mention | Post
SIZE = 1000
Call = tuple[list[dict[str, object]], list[Alert], int, int]


def feed(tracker: ResponseTracker,
         calls: Iterable[tuple[list[Mention], list[Post], dict]]) -> list[Call]:
    """Per call: its rows (by mention), its alert states, and what the tracker holds after."""
    out: list[Call] = []
    for mentions, posts, clocks in calls:
        got = tracker.process_tables(mentions_table(mentions, NOW), posts_table(posts, NOW),
                                     clocks)
        out.append((by_mention(got.rows), got.alerts, tracker.open_mentions,
                    tracker.orphan_posts))
    return out


@pytest.fixture(scope="module")
def plain(world: tuple[Roster, list[Event]]) -> list[Call]:
    roster, events = world
    return feed(ResponseTracker(roster), batches(events, SIZE))


def test_a_tracker_pickled_between_calls_goes_on_as_if_it_never_stopped(
        world: tuple[Roster, list[Event]], plain: list[Call]) -> None:
    roster, events = world
    calls = list(batches(events, SIZE))
    tracker = ResponseTracker(roster)
    done = 0
    for stop in (2, 5, 9, len(calls)):  # a clean stop with a state file after these calls
        assert feed(tracker, calls[done:stop]) == plain[done:stop], f"calls {done}-{stop}"
        held = tracker.open_mentions
        assert held > 0 or stop == len(calls)
        tracker = pickle.loads(pickle.dumps(tracker, protocol=5))  # a new process loads it
        assert tracker.open_mentions == held
        done = stop


def test_ids_whose_hashes_collide_find_their_own_mention(
        world: tuple[Roster, list[Event]], plain: list[Call],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every id's hash is one of seven numbers: each look-up meets thousands of others with
    the same hash, and must still answer with its own mention, or none."""
    roster, events = world
    monkeypatch.setattr(responses, "_id_hash", lambda mention_id: len(mention_id) % 7)
    assert feed(ResponseTracker(roster), batches(events, SIZE)) == plain


def test_held_mentions_are_columns_not_objects(world: tuple[Roster, list[Event]]) -> None:
    """A mention nobody answers is a row of typed columns: its state costs no Python
    object, so a million of them cost tens of MiB and pickle as a few buffers."""
    roster, events = world
    first = {e.event_id: e for e in reversed(events)
             if isinstance(e, Mention) and e.kind != "share"}  # each mention once
    mentions = sorted(first.values(), key=lambda e: (e.source.partition, e.source.offset))
    tracker = ResponseTracker(roster)
    table = mentions_table(mentions[:3000], NOW)
    tracker.process_tables(table, posts_table([], NOW), {})
    held = tracker._held
    assert tracker.open_mentions == held.count == 3000
    columns = [getattr(block, name) for block in held.blocks.values()
               for name in block.__slots__ if name not in ("number", "answers")]
    assert all(isinstance(c, np.ndarray | pa.Array) for c in columns)
    assert all(block.answers is None for block in held.blocks.values())
    bytes_held = sum(c.nbytes for c in columns)
    bytes_held += sum(keys.nbytes + refs.nbytes for keys, refs in held.levels)
    assert bytes_held / held.count < 200


def test_mentions_answered_in_bulk_stay_columns(world: tuple[Roster, list[Event]]) -> None:
    """Replies that answer held mentions (one reply each in a call) keep the answered
    mentions as columns with their first responses, not as state tuples on the shelves;
    test_tracker_columns holds the rows and alerts to the per-event reference."""
    roster, events = world
    tracker = ResponseTracker(roster)
    calls = list(batches(events, SIZE))
    feed(tracker, calls[:len(calls) // 2])
    answered = [b for b in tracker._held.blocks.values() if b.answers is not None]
    in_columns = sum(int(np.count_nonzero(b.alive)) for b in answered)
    assert in_columns > 500  # (mentions taken one by one stay on the shelves)
    assert all(isinstance(c, np.ndarray | pa.Array) for b in answered for c in b.answers or ())
