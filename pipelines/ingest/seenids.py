"""Which event ids the warehouse already holds, answered in memory.

The sink drops an event whose `event_id` is stored already (the idempotency key).
Asking the warehouse for every batch (`IN` over the batch's ids) cost ~12 µs per event
here and grows with the tables. With one writer — the embedded warehouse's worker —
the writer can remember instead: a 64-bit digest of every id it has seen (the first
8 bytes of MD5, the same number ClickHouse gives as `reinterpretAsUInt64(MD5(id))`,
so the start-up load is one column read), kept as a few sorted numpy arrays
(`levels`, merged like an LSM tree so that adding a batch never re-sorts everything).

A digest match only says "maybe": the sink then asks the warehouse about those ids
alone (true duplicates, and 64-bit collisions, which at 10^8 ids happen with
probability ~3·10^-4). A digest miss is certain: the id was never written by this
worker nor found at start-up. Ids are added *before* their rows are inserted, so a
write that fails half-way leaves them as "maybe" and the retry looks them up.

With a ClickHouse server, several workers write; there the sink keeps asking the
warehouse for every batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["DIGEST_SQL", "SeenIds", "digests"]

# The digest of `event_id` in ClickHouse's SQL, equal to `digests()` here.
DIGEST_SQL = "reinterpretAsUInt64(MD5(event_id))"

_MAX_LEVELS = 12


def digests(ids: Iterable[str]) -> np.ndarray:
    """The 64-bit digests of `ids` (uint64), as ClickHouse computes DIGEST_SQL: the first 8
    bytes of each MD5 read as one little-endian buffer (a third less CPU than an int per
    id, ~0.45 µs an id here)."""
    md5 = hashlib.md5
    return np.frombuffer(b"".join([md5(i.encode()).digest()[:8] for i in ids]),
                         dtype="<u8").astype(np.uint64)


class SeenIds:
    """Digests of the event ids stored so far (see the module's docstring)."""

    def __init__(self, stored: np.ndarray | None = None) -> None:
        self.levels: list[np.ndarray] = []
        if stored is not None and len(stored):
            self.levels.append(_sorted_unique(np.asarray(stored, dtype=np.uint64)))

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def maybe_seen(self, ids: Sequence[str]) -> list[str]:
        """The ids among `ids` whose digest is known: each may be stored already."""
        if not ids or not self.levels:
            return []
        return [ids[int(i)] for i in np.flatnonzero(self.known(digests(ids)))]

    def known(self, keys: np.ndarray) -> np.ndarray:
        """Per digest in `keys`, whether it is known (its id may be stored already). The keys
        are looked for in order (a search for sorted keys walks each level's memory once:
        a third of the time for 20 000 keys in a million here)."""
        order = np.argsort(keys)
        ordered = keys[order]
        found = np.zeros(len(keys), dtype=bool)
        for level in self.levels:
            at = np.searchsorted(level, ordered)
            inside = at < len(level)
            found[inside] |= level[at[inside]] == ordered[inside]
        hit = np.empty(len(keys), dtype=bool)
        hit[order] = found
        return hit

    def add(self, ids: Sequence[str]) -> None:
        self.add_digests(digests(ids))

    def add_digests(self, keys: np.ndarray) -> None:
        if not len(keys):
            return
        self.levels.append(_sorted_unique(np.asarray(keys, dtype=np.uint64)))
        self._compact()

    def _compact(self) -> None:
        """Merge the two smallest levels while there are too many or the newest outgrows
        the one before it: each digest is re-sorted O(log n) times over its life."""
        levels = self.levels
        while len(levels) > 1 and (len(levels) > _MAX_LEVELS
                                   or len(levels[-1]) * 2 >= len(levels[-2])):
            newest, before = levels.pop(), levels.pop()
            levels.append(_sorted_unique(np.concatenate((before, newest)), runs=True))
        levels.sort(key=len, reverse=True)


def _sorted_unique(values: np.ndarray, *, runs: bool = False) -> np.ndarray:
    """The distinct values, sorted. Not `np.unique`: numpy 2.4 answers it for integers with
    a hash table that took 70 s for the 13.7 M digests of a 10 M-mention warehouse here,
    where a sort takes about a second. `runs`: `values` are two sorted runs one after the
    other (two levels merged), which timsort (numpy's stable sort for 64-bit integers)
    merges in one pass: 7 against 107 ms for 1.5 M digests here."""
    if len(values) < 2:
        return np.sort(values)
    ordered = np.sort(values, kind="stable" if runs else "quicksort")
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
