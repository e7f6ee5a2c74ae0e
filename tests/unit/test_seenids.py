"""The in-memory record of stored event ids: no false "new", few false "maybe"."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.decode import Mention, Source
from pipelines.ingest.seenids import SeenIds, digests
from pipelines.ingest.sink import WarehouseSink, mentions_table


def test_a_digest_is_the_first_eight_bytes_of_md5_little_endian() -> None:
    # ClickHouse: SELECT reinterpretAsUInt64(MD5('tw-5-abcdef')) = 15808997688258973683
    assert int(digests(["tw-5-abcdef"])[0]) == 15808997688258973683
    assert int(digests(["x"])[0]) == int.from_bytes(hashlib.md5(b"x").digest()[:8], "little")


def test_digests_of_a_column_are_those_of_each_id_alone() -> None:
    """The batch's ids as an Arrow column (how decode passes them) give each id's own digest:
    ids of every length around MD5's one-block limit (55 bytes), non-ASCII, empty, sliced and
    chunked columns."""
    rng = random.Random(9)
    ids = [f"tw-{i}-{rng.getrandbits(40):x}" for i in range(3000)]
    ids += ["", "é" * 27, "€uro", *("x" * k for k in range(50, 130))]
    ids += ["".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0xA0, 0xD7FF),
                                    rng.randrange(0x10000, 0x10FFFF))))
                    for _ in range(rng.randrange(0, 40))) for _ in range(500)]
    rng.shuffle(ids)
    one_by_one = np.array([int.from_bytes(hashlib.md5(i.encode()).digest()[:8], "little")
                           for i in ids], dtype=np.uint64)
    column = pa.array(ids, pa.string())
    assert np.array_equal(digests(column), one_by_one)
    assert np.array_equal(digests(ids), one_by_one)
    assert np.array_equal(digests(column.slice(101, 1234)), one_by_one[101:1335])
    chunked = pa.chunked_array([column.slice(0, 17), column.slice(17)])
    assert np.array_equal(digests(chunked), one_by_one)
    assert len(digests(pa.chunked_array([], pa.string()))) == 0


def test_every_added_or_loaded_id_is_maybe_seen_and_new_ones_are_not() -> None:
    rng = random.Random(4)
    loaded = [f"old-{i}" for i in range(5000)]
    seen = SeenIds(digests(loaded))
    added: list[str] = []
    for batch in range(60):  # batches of varying size: levels merge as they go
        ids = [f"new-{batch}-{i}" for i in range(rng.randint(1, 700))]
        assert seen.maybe_seen(ids) == []
        seen.add(ids)
        added += ids
    assert len(seen.levels) <= 12
    assert len(seen) == len(loaded) + len(added)
    everything = loaded + added
    assert seen.maybe_seen(everything) == everything
    probe = [f"never-{i}" for i in range(20000)]
    assert seen.maybe_seen(probe) == []
    mixed = ["never-a", loaded[7], "never-b", added[-1]]
    assert seen.maybe_seen(mixed) == [loaded[7], added[-1]]


def test_levels_stay_sorted_and_few() -> None:
    seen = SeenIds()
    for i in range(1000):
        seen.add([f"id-{i}"])
    assert len(seen.levels) <= 12
    for level in seen.levels:
        assert np.all(level[:-1] < level[1:])


class SlowWarehouse:
    """Just what the sink asks of the warehouse, in memory; its stored digests arrive only
    when the test lets them."""

    def __init__(self, stored: list[str]) -> None:
        self.stored = set(stored)
        self.release = threading.Event()
        self.looked_up: list[list[str]] = []

    def stored_id_digests(self) -> np.ndarray:
        snapshot = digests(sorted(self.stored))
        assert self.release.wait(10)
        return snapshot

    def existing_event_ids(self, ids: list[str]) -> set[str]:
        self.looked_up.append(list(ids))
        return {i for i in ids if i in self.stored}

    def existing_dead_letters(self, topic: str, offsets: object) -> set[tuple[int, int]]:
        return set()

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        if table in ("mentions", "posts"):
            self.stored.update(data["event_id"].to_pylist())


def batch_of(*ids: str) -> IngestBatch:
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = [Mention(org_id="o", event_id=i, platform="twitter", created_at=t, author_id="a",
                    author_handle="a", author_followers=1, author_verified=False,
                    kind="mention", text="x", lang="nl", in_reply_to=None, shared_from=None,
                    sentiment=0.0, complaint=False, source=Source("events", 0, n, t))
            for n, i in enumerate(ids)]
    return IngestBatch("events", mentions=mentions_table(rows, t))


def test_batches_written_while_the_stored_ids_load_are_remembered_too() -> None:
    warehouse = SlowWarehouse(["old-1", "old-2"])
    fake: Any = warehouse
    sink = WarehouseSink(fake, "g", remember_ids=True)
    # still loading: the warehouse answers, and nothing stored twice
    first = sink.write_events(batch_of("old-1", "new-1"))
    assert first.mentions["event_id"].to_pylist() == ["new-1"] and first.duplicates == 1
    assert sink.seen is None and warehouse.looked_up[-1] == ["old-1", "new-1"]
    warehouse.release.set()
    for _ in range(100):  # the loader thread hands its digests over at the next write
        if sink._loading is not None and sink._loading.done():
            break
        time.sleep(0.05)
    again = sink.write_events(batch_of("new-1", "old-2", "new-2"))
    assert again.mentions["event_id"].to_pylist() == ["new-2"] and again.duplicates == 2
    assert sink.seen is not None
    # only the ids the digests knew were looked up: new-1 (written while loading) and old-2
    assert sorted(warehouse.looked_up[-1]) == ["new-1", "old-2"]
