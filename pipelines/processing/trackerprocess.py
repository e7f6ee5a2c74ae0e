"""The response tracker in a process of its own, beside the worker (see `.childstep`).

The tracker is the largest share of the worker's own CPU (replies paired with mentions, SLA
and silence timers): in the worker's process it holds the GIL for a good part of each batch
while the events are inserted. In a process of its own it works on the batch's mentions and
posts while the worker inserts them and the surge detector (`pipelines.processing.surgeprocess`)
looks for surges; the worker waits for its rows and alert states before writing them. Only
the columns the tracker reads are sent (not the texts), as Arrow tables; its `TrackerTables`
come back. It sees the batches exactly as an in-process tracker would and gives the same rows
and alerts (the unit test runs both on one world).

`DORPSPOMP_TRACKER_PROCESS=1` puts it there; 0 keeps it in the worker.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime
from functools import partial

import pyarrow as pa

from pipelines.processing.alerts import Alert
from pipelines.processing.childstep import ChildStep
from pipelines.processing.responses import OrgActivity, ResponseTracker, TrackerTables
from pipelines.roster import Roster

__all__ = ["TrackerProcess", "submit_tables", "tracker_state"]

# The columns `ResponseTracker.process_tables` reads (it names a missing one in its error):
# only these are sent.
MENTION_COLUMNS = ("org_id", "event_id", "platform", "created_at", "author_id", "author_handle",
                   "kind", "complaint", "source_partition", "source_offset", "kafka_timestamp")
POST_COLUMNS = ("org_id", "event_id", "created_at", "account_handle", "account_role",
                "in_reply_to", "source_partition", "source_offset", "kafka_timestamp")


class TrackerProcess(ChildStep):
    """A `ResponseTracker` in a child process, with the calls the stream processors make."""

    def __init__(self, roster: Roster, lateness_seconds: int) -> None:
        super().__init__(partial(ResponseTracker, roster, lateness_seconds))

    def resume(self, latest: Iterable[Alert], cut: Mapping[int, datetime],
               activity: Mapping[str, OrgActivity] | None = None) -> None:
        self.call("resume", list(latest), dict(cut), dict(activity or {}))

    def submit_tables(self, mentions: pa.Table, posts: pa.Table,
                      clocks: Mapping[int, datetime]) -> Future[TrackerTables]:
        """`process_tables` in the tracker's process; its rows and alerts when the future is
        done."""
        return self.submit("process_tables", mentions.select(list(MENTION_COLUMNS)),
                           posts.select(list(POST_COLUMNS)), dict(clocks))

    def process_tables(self, mentions: pa.Table, posts: pa.Table,
                       clocks: Mapping[int, datetime]) -> TrackerTables:
        return self.submit_tables(mentions, posts, clocks).result()

    @property
    def open_mentions(self) -> int:
        count: int = self.attribute("open_mentions")
        return count

    @property
    def orphan_posts(self) -> int:
        count: int = self.attribute("orphan_posts")
        return count


def submit_tables(tracker: ResponseTracker | TrackerProcess, mentions: pa.Table,
                  posts: pa.Table, clocks: Mapping[int, datetime]) -> Future[TrackerTables]:
    """Start `process_tables` on either kind of tracker: in its process, or here and now."""
    if isinstance(tracker, TrackerProcess):
        return tracker.submit_tables(mentions, posts, clocks)
    done: Future[TrackerTables] = Future()
    done.set_result(tracker.process_tables(mentions, posts, clocks))
    return done


def tracker_state(tracker: ResponseTracker | TrackerProcess) -> bytes:
    """Either kind of tracker pickled (protocol 5), for the processors' state file."""
    if isinstance(tracker, TrackerProcess):
        return tracker.state()
    return pickle.dumps(tracker, protocol=5)
