"""The surge detector in a process of its own, beside the worker.

The response tracker and the surge detector both take each batch's new mentions and
neither reads the other's state, so they can run at the same time: the worker hands the
batch's mentions to the detector's process, runs the tracker itself, then collects the
alerts — one batch's two stateful steps cost the longer of the two instead of their sum.
Everything the detector is asked goes through one process, one request at a time, in
the order asked, so it sees the batches exactly as an in-process detector would and
gives the same alerts (`pipelines.processing.escalation`; the unit test runs both on one world).

`DORPSPOMP_SURGE_PROCESS=1` (the default) puts it there; 0 keeps it in the worker. The
process starts with `spawn` and ends when the worker is gone (`decoder.follow_parent`).
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

import pyarrow as pa

from pipelines.ingest.decoder import follow_parent
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import ComplaintText, SurgeDetector
from pipelines.roster import Roster

__all__ = ["DetectorProcess", "collect_rarely", "detector_state", "submit_table"]

# The columns the detector reads (`SurgeDetector.process_table`): only these are sent.
COLUMNS = ("org_id", "event_id", "created_at", "author_id", "author_handle",
           "author_followers", "text", "complaint", "source_partition", "kafka_timestamp")


class DetectorProcess:
    """A `SurgeDetector` in a child process, with the calls the stream processors make."""

    def __init__(self, roster: Roster) -> None:
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(roster,))
        # its process starts now (spawn, imports: a second or more), while the worker starts
        self.pool.submit(_call, "__tracked_orgs__", (), {})

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.pool.submit(_call, name, args, kwargs).result()

    def reset(self) -> None:
        """A new, empty detector (as after a restart, before `load_history_table`)."""
        self._call("__reset__")

    def load_history_table(self, table: pa.Table, *, through: datetime | None = None,
                           complaints: Iterable[ComplaintText] = ()) -> None:
        self._call("load_history_table", table, through=through, complaints=list(complaints))

    def texts_needed(self, through: datetime) -> tuple[datetime, datetime]:
        result: tuple[datetime, datetime] = self._call("texts_needed", through)
        return result

    @property
    def tracked_orgs(self) -> int:
        count: int = self._call("__tracked_orgs__")
        return count

    def submit_table(self, mentions: pa.Table,
                     clocks: Mapping[int, datetime]) -> Future[list[Alert]]:
        """`process_table` in the detector's process; the alerts when the future is done."""
        return self.pool.submit(_call, "process_table",
                                (mentions.select(list(COLUMNS)), dict(clocks)), {})

    def process_table(self, mentions: pa.Table, clocks: Mapping[int, datetime]) -> list[Alert]:
        return self.submit_table(mentions, clocks).result()

    def state(self) -> bytes:
        """The detector pickled in its process (`pipelines.ingest.statefile`)."""
        data: bytes = self._call("__state__")
        return data

    def submit_state(self, data: bytes) -> Future[None]:
        """Replace the detector with the one `state` pickled, unpickled in its process."""
        return self.pool.submit(_call, "__load_state__", (data,), {})

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


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


# -- in the detector's process ----------------------------------------------------------

_roster: Roster | None = None
_detector: SurgeDetector | None = None


def _start(roster: Roster) -> None:
    global _roster, _detector
    follow_parent()
    _roster, _detector = roster, SurgeDetector(roster)
    collect_rarely()


def collect_rarely() -> None:
    """The cyclic garbage collector's settings for the detector's process (the worker's own:
    `pipelines.ingest.worker.run_worker`). The detector's state is large, long-lived and
    holds no cycles (minutes, samples, sums): with the default thresholds the collector
    walks it again and again, ~15 % of the detector's CPU on a catching-up stream. What
    exists now (modules, the roster) is frozen out of the scans, and the young generation
    is collected after 50 000 allocations instead of 700."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    global _detector
    if _roster is None or _detector is None:  # pragma: no cover - the initializer runs first
        raise RuntimeError("surge detector process started without its roster")
    if name == "__reset__":
        _detector = SurgeDetector(_roster)
        return None
    if name == "__tracked_orgs__":
        return _detector.tracked_orgs
    if name == "__state__":
        return pickle.dumps(_detector, protocol=5)
    if name == "__load_state__":
        _detector = pickle.loads(args[0])
        return None
    return getattr(_detector, name)(*args, **kwargs)
