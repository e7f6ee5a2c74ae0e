"""The batch window of the ingest consumer counts from the first event's arrival in Kafka."""

from __future__ import annotations

import time
from types import SimpleNamespace

from pipelines.ingest.batchconsumer import waited


def records(*stamps_ms: int | None) -> dict[int, list[SimpleNamespace]]:
    """One partition per timestamp, its first record stamped so (later ones newer)."""
    return {p: [SimpleNamespace(timestamp=t), SimpleNamespace(timestamp=None if t is None
                                                              else t + 5)]
            for p, t in enumerate(stamps_ms)}


def test_an_event_that_sat_in_the_fetch_buffer_shortens_its_window() -> None:
    now_ms = int(time.time() * 1000)
    assert 0.099 <= waited(records(now_ms - 100, now_ms - 20), within=0.25) < 0.2


def test_the_wait_counted_is_at_most_the_window() -> None:
    """A backlog: the batch takes what is fetched at once."""
    old = int(time.time() * 1000) - 3_600_000
    assert waited(records(old), within=0.25) == 0.25


def test_no_timestamp_or_one_from_a_clock_ahead_counts_as_just_now() -> None:
    ahead = int(time.time() * 1000) + 60_000
    assert waited(records(None), within=0.25) == 0.0
    assert waited(records(ahead), within=0.25) == 0.0
    assert waited(records(), within=0.25) == 0.0
    assert waited(records(-1), within=0.25) == 0.0
