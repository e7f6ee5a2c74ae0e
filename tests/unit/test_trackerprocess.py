"""The response tracker in a process of its own gives what it gives in the worker's, and its
state goes through the state file's sections as the in-process tracker's does."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from pipelines.ingest import statefile
from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.statefile import StateTag
from pipelines.processing.processors import StreamProcessors
from pipelines.processing.responses import ResponseTracker
from pipelines.processing.trackerprocess import TrackerProcess
from pipelines.roster import Roster
from tests.decodedworld import Output, decoded_world, outputs


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[IngestBatch], Roster]:
    return decoded_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def in_process(world: tuple[list[IngestBatch], Roster]) -> tuple[Output, StreamProcessors]:
    """Both steps in this process, every batch in one run: what the others must give, and
    the processors after it."""
    batches, roster = world
    processors = StreamProcessors(roster, 86400)
    return outputs(processors, batches), processors


@pytest.fixture(scope="module")
def one_go(in_process: tuple[Output, StreamProcessors]) -> Output:
    return in_process[0]


@pytest.fixture
def made() -> Iterator[list[StreamProcessors]]:
    """Processors a test makes; their steps' processes closed after it."""
    processors: list[StreamProcessors] = []
    yield processors
    for each in processors:
        for step in (each.tracker, each.detector):
            close = getattr(step, "close", None)
            if close is not None:
                close()


def test_the_trackers_process_gives_the_same_rows_and_alerts(
        world: tuple[list[IngestBatch], Roster], in_process: tuple[Output, StreamProcessors],
        made: list[StreamProcessors]) -> None:
    """Beside the surge detector's process, as the worker runs them."""
    batches, roster = world
    beside = StreamProcessors(roster, 86400, surge_process=True, tracker_process=True)
    made.append(beside)
    assert isinstance(beside.tracker, TrackerProcess)
    there = outputs(beside, batches)
    one_go, here = in_process
    # the world has work for the tracker: answered mentions, open ones and SLA alerts
    answered = [row for row in one_go[1] if row["first_response_id"] is not None]
    assert answered and len(answered) < len(one_go[1])
    assert any(a[0].startswith("sla_breach") for a in one_go[0])
    assert there == one_go
    assert isinstance(here.tracker, ResponseTracker)
    assert (beside.tracker.open_mentions, beside.tracker.orphan_posts) == (
        here.tracker.open_mentions, here.tracker.orphan_posts)
    assert beside.tracker.open_mentions > 0


@pytest.mark.parametrize(("stopping_process", "started_process"),
                         [(True, False), (False, True)])
def test_the_trackers_state_goes_through_the_state_file(
        world: tuple[list[IngestBatch], Roster], one_go: Output, made: list[StreamProcessors],
        tmp_path: Path, stopping_process: bool, started_process: bool) -> None:
    """Stopped half-way and loaded from the file's sections, with the tracker in its process
    on either side (the sections are the same bytes), it goes on as one run."""
    batches, roster = world
    half = len(batches) // 2
    stopping = StreamProcessors(roster, 86400, tracker_process=stopping_process)
    started = StreamProcessors(roster, 86400, tracker_process=started_process)
    made += [stopping, started]
    before = outputs(stopping, batches[:half])
    path = tmp_path / statefile.FILE_NAME
    tag = StateTag.of("events", {0: (1, None)}, "f" * 32)
    statefile.write(path, tag, stopping.state_sections())
    started.load_state(statefile.read(path, tag))
    assert started.tracker_clocks == stopping.tracker_clocks
    assert started.tracker.open_mentions == stopping.tracker.open_mentions > 0
    after = outputs(started, batches[half:])
    assert any(a[0].startswith("sla_breach") for a in after[0])
    assert (before[0] + after[0], before[1] + after[1]) == one_go


def test_a_state_file_without_the_trackers_section_says_which_is_missing(
        world: tuple[list[IngestBatch], Roster], made: list[StreamProcessors]) -> None:
    """A file from before the tracker had a section of its own (it was pickled inside
    "processors") is not loaded: the worker replays, and its log line names the section."""
    batches, roster = world
    stopping = StreamProcessors(roster, 86400)
    made.append(stopping)
    outputs(stopping, batches[:2])
    sections = stopping.state_sections()
    del sections["response tracker"]
    with pytest.raises(KeyError, match="no section 'response tracker'"):
        StreamProcessors(roster, 86400).load_state(sections)


def test_a_tracker_whose_process_died_is_started_again_empty(
        world: tuple[list[IngestBatch], Roster], made: list[StreamProcessors]) -> None:
    """The batch fails (the worker retries it after a restore); the restore's new tracker is
    in a new process."""
    batches, roster = world
    processors = StreamProcessors(roster, 86400, tracker_process=True)
    made.append(processors)
    outputs(processors, batches[:1])
    dying = processors.tracker
    assert isinstance(dying, TrackerProcess)
    for pid in list(dying.pool._processes):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        outputs(processors, batches[1:2])
    processors.tracker = fresh = processors._fresh_tracker()
    assert isinstance(fresh, TrackerProcess) and fresh is not dying
    assert fresh.open_mentions == 0
    assert outputs(processors, batches[:1])[1]
    assert fresh.open_mentions > 0
