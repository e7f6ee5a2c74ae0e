"""The in-memory record of stored event ids: no false "new", few false "maybe"."""

from __future__ import annotations

import hashlib
import random

import numpy as np

from pipelines.seenids import SeenIds, digests


def test_a_digest_is_the_first_eight_bytes_of_md5_little_endian() -> None:
    # ClickHouse: SELECT reinterpretAsUInt64(MD5('tw-5-abcdef')) = 15808997688258973683
    assert int(digests(["tw-5-abcdef"])[0]) == 15808997688258973683
    assert int(digests(["x"])[0]) == int.from_bytes(hashlib.md5(b"x").digest()[:8], "little")


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
