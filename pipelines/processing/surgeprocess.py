"""The surge detector in a process of its own, beside the worker (see `.childstep`).

The response tracker and the surge detector both take each batch's new mentions and
neither reads the other's state, so they can run at the same time: the worker hands the
batch's mentions to the detector's process, runs the tracker (itself or in the tracker's
process, `pipelines.processing.trackerprocess`), then collects the alerts — one batch's two
stateful steps cost the longer of the two instead of their sum. The detector sees the
batches exactly as an in-process detector would and gives the same alerts
(`pipelines.processing.escalation`; the unit test runs both on one world).

`DORPSPOMP_SURGE_PROCESS=1` (the default) puts it there; 0 keeps it in the worker.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime
from functools import partial

import pyarrow as pa

from pipelines.processing.alerts import Alert
from pipelines.processing.childstep import ChildStep, collect_rarely
from pipelines.processing.escalation import ComplaintText, SurgeDetector
from pipelines.roster import Roster

__all__ = ["DetectorProcess", "collect_rarely", "detector_state", "submit_table"]

# The columns the detector reads (`SurgeDetector.process_table`): only these are sent.
COLUMNS = ("org_id", "event_id", "created_at", "author_id", "author_handle",
           "author_followers", "text", "complaint", "source_partition", "kafka_timestamp")


class DetectorProcess(ChildStep):
    """A `SurgeDetector` in a child process, with the calls the stream processors make."""

    def __init__(self, roster: Roster) -> None:
        super().__init__(partial(SurgeDetector, roster))

    def load_history_table(self, table: pa.Table, *, through: datetime | None = None,
                           complaints: Iterable[ComplaintText] = ()) -> None:
        self.call("load_history_table", table, through=through, complaints=list(complaints))

    def texts_needed(self, through: datetime) -> tuple[datetime, datetime]:
        result: tuple[datetime, datetime] = self.call("texts_needed", through)
        return result

    @property
    def tracked_orgs(self) -> int:
        count: int = self.attribute("tracked_orgs")
        return count

    def submit_table(self, mentions: pa.Table,
                     clocks: Mapping[int, datetime]) -> Future[list[Alert]]:
        """`process_table` in the detector's process; the alerts when the future is done."""
        return self.submit("process_table", mentions.select(list(COLUMNS)), dict(clocks))

    def process_table(self, mentions: pa.Table, clocks: Mapping[int, datetime]) -> list[Alert]:
        return self.submit_table(mentions, clocks).result()


def submit_table(detector: SurgeDetector | DetectorProcess, mentions: pa.Table,
                 clocks: Mapping[int, datetime]) -> Future[list[Alert]]:
    """Start `process_table` on either kind of detector: in its process, or here and now."""
    if isinstance(detector, DetectorProcess):
        return detector.submit_table(mentions, clocks)
    done: Future[list[Alert]] = Future()
    done.set_result(detector.process_table(mentions, clocks))
    return done


def detector_state(detector: SurgeDetector | DetectorProcess) -> bytes:
    """Either kind of detector pickled (protocol 5), for the processors' state file."""
    if isinstance(detector, DetectorProcess):
        return detector.state()
    return pickle.dumps(detector, protocol=5)
