"""The processors' state file (`pipelines.ingest.statefile`): a file is used only when its tag
is the state a start would restore, and only whole; the processors' state taken from it goes
on exactly as the processors that wrote it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.ingest import statefile
from pipelines.ingest.statefile import StateFileUnusable, StateTag
from pipelines.processing.processors import StreamProcessors
from pipelines.roster import Roster
from tests.decodedworld import decoded_world, outputs

CLOCK = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
POSITIONS = {0: (120, CLOCK), 1: (0, None), 2: (77, CLOCK - timedelta(hours=3))}
SECTIONS = {"processors": b"\x80\x05tracker" * 1000, "surge detector": b"detector" * 300}


def tag(**changes: object) -> StateTag:
    return replace(StateTag.of("events", POSITIONS, "f" * 32), **changes)  # type: ignore[arg-type]


def written(tmp_path: Path) -> Path:
    path = tmp_path / statefile.FILE_NAME
    statefile.write(path, tag(), SECTIONS)
    return path


def why(path: Path, expected: StateTag | None = None) -> str:
    with pytest.raises(StateFileUnusable) as raised:
        statefile.read(path, expected or tag())
    return str(raised.value)


def test_a_file_reads_back_whole_and_is_written_without_a_temporary_left(tmp_path: Path) -> None:
    path = written(tmp_path)
    assert {name: bytes(data) for name, data in statefile.read(path, tag()).items()} == SECTIONS
    assert [p.name for p in tmp_path.iterdir()] == [statefile.FILE_NAME]
    # written again over it: the new one
    statefile.write(path, tag(), {"processors": b"newer"})
    assert bytes(statefile.read(path, tag())["processors"]) == b"newer"


def test_clocks_are_compared_in_the_warehouses_milliseconds() -> None:
    assert tag().positions[0] == (120, 1772443815123)
    naive = StateTag.of("events", {0: (120, CLOCK.replace(tzinfo=None, microsecond=123000))},
                        "f" * 32)
    assert naive.positions[0] == tag().positions[0]


@pytest.mark.parametrize(("expected", "reason"), [
    (tag(version=statefile.FORMAT_VERSION + 1), "format version"),
    (tag(topic="other"), "of topic 'events', the worker reads 'other'"),
    (tag(fingerprint="0" * 32), "the roster, DORPSPOMP_LATENESS or the worker's code changed"),
    (tag(positions={**tag().positions, 0: (121, tag().positions[0][1])}),
     "partition 0's recorded offset moved since it was written (the warehouse: offset 121"),
    (tag(positions={**tag().positions, 2: (77, None)}),
     "partition 2's recorded offset moved"),
    (tag(positions={**tag().positions, 3: (5, None)}),
     "partition 3's recorded offset moved since it was written (the warehouse: offset 5, "
     "clock unknown, the file: none)"),
    (tag(positions={}), "the warehouse has no recorded offsets"),
])
def test_a_file_of_another_state_is_refused_with_its_reason(tmp_path: Path, expected: StateTag,
                                                            reason: str) -> None:
    assert reason in why(written(tmp_path), expected)


def test_a_missing_truncated_damaged_or_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / statefile.FILE_NAME
    assert "there is none" in why(path)
    data = written(tmp_path).read_bytes()
    for cut, reason in ((10, "not a state file"), (len(statefile.MAGIC) + 20, "truncated"),
                        (len(data) - 1, "truncated (section 'surge detector' is cut short)")):
        path.write_bytes(data[:cut])
        assert reason in why(path)
    damaged = bytearray(data)
    damaged[-10] ^= 1
    path.write_bytes(bytes(damaged))
    assert why(path) == "it is damaged (section 'surge detector' fails its checksum)"
    path.write_bytes(b"PK\x03\x04" + data)
    assert "not a state file" in why(path)


def test_discard_removes_the_file_and_a_half_written_one(tmp_path: Path) -> None:
    path = written(tmp_path)
    (tmp_path / (statefile.FILE_NAME + ".tmp")).write_bytes(b"cut short")
    assert statefile.discard(path)
    assert list(tmp_path.iterdir()) == []
    assert not statefile.discard(path)


def test_the_fingerprint_follows_the_roster_and_the_lateness() -> None:
    roster = Roster.empty()
    other = replace(roster, defaults=replace(roster.defaults, first_response_sla=60))
    assert statefile.fingerprint(roster, 86400) == statefile.fingerprint(Roster.empty(), 86400)
    assert statefile.fingerprint(roster, 3600) != statefile.fingerprint(roster, 86400)
    assert statefile.fingerprint(other, 86400) != statefile.fingerprint(roster, 86400)


# -- the processors' sections ------------------------------------------------------------

@pytest.mark.parametrize("surge_process", [False, True])
def test_processors_loaded_from_their_sections_go_on_as_the_ones_that_wrote_them(
        tmp_path: Path, surge_process: bool) -> None:
    batches, roster = decoded_world(tmp_path)
    half = len(batches) // 2
    one_go = outputs(StreamProcessors(roster, 86400), batches)

    stopping = StreamProcessors(roster, 86400, surge_process=surge_process)
    started = StreamProcessors(roster, 86400, surge_process=surge_process)
    try:
        before = outputs(stopping, batches[:half])
        path = tmp_path / statefile.FILE_NAME
        statefile.write(path, tag(), stopping.state_sections())
        started.load_state(statefile.read(path, tag()))
        assert started.clocks == stopping.clocks
        assert started.watermark == stopping.watermark
        after = outputs(started, batches[half:])
    finally:
        for processors in (stopping, started):
            close = getattr(processors.detector, "close", None)
            if close is not None:
                close()
    # both processors have work after the stop
    assert any(a[0].startswith("complaint_surge") for a in after[0])
    assert any(a[0].startswith("sla_breach") for a in after[0])
    assert (before[0] + after[0], before[1] + after[1]) == one_go
