"""A stateful stream step in a child process of its own, beside the worker.

The worker's stateful steps — the response tracker and the surge detector — each take the
batch's new events and keep what they learnt in memory; neither reads the other's state. Run
in the worker's process, they hold its GIL: the writer thread's serial chain (insert, track,
detect, write what they derived) is the worker's ceiling. Each can instead live in a process
of its own (`pipelines.processing.surgeprocess.DetectorProcess`,
`pipelines.processing.trackerprocess.TrackerProcess`): the worker hands it the batch's columns
and goes on while it works.

Everything a step is asked goes through its one process, one request at a time, in the order
asked, so it sees the batches exactly as an in-process step would and gives the same output
(the unit tests run both on one world). Its state is pickled and unpickled in its process
(`state`, `submit_state`), for the worker's state file (`pipelines.ingest.statefile`). The
process starts with `spawn` (the worker holds threads a fork would copy mid-state) and ends
when the worker is gone (`pipelines.ingest.decoder.follow_parent`); one that died makes its
calls raise `BrokenProcessPool`, and the worker's next restore starts a new one
(`pipelines.processing.processors`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from pipelines.ingest.decoder import follow_parent
from pipelines.ingest.nopandas import refuse_pandas

__all__ = ["ChildStep", "collect_rarely"]


class ChildStep:
    """The object `make()` returns, in a child process; its methods are called by name."""

    def __init__(self, make: Callable[[], Any]) -> None:
        """`make`: a picklable callable that returns a new, empty step (a class with its
        arguments, `functools.partial`); called in the child at its start and at `reset`."""
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(make,))
        # its process starts now (spawn, imports: a second or more), while the worker starts
        self.pool.submit(_call, "__ready__", (), {})

    def submit(self, name: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """The step's method `name` called with these arguments in its process; the result
        when the future is done (the arguments are pickled now, in this thread's order)."""
        return self.pool.submit(_call, name, args, kwargs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.submit(name, *args, **kwargs).result()

    def attribute(self, name: str) -> Any:
        """The step's attribute (or property) `name`, read in its process."""
        return self.submit("__get__", name).result()

    def reset(self) -> None:
        """A new, empty step (as after a restart, before its state is rebuilt)."""
        self.call("__reset__")

    def state(self) -> bytes:
        """The step pickled (protocol 5) in its process."""
        data: bytes = self.call("__state__")
        return data

    def submit_state(self, data: bytes) -> Future[None]:
        """Replace the step with the one `state` pickled, unpickled in its process."""
        return self.submit("__load_state__", data)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def collect_rarely() -> None:
    """The cyclic garbage collector's settings for a step's process (the worker's own:
    `pipelines.ingest.worker.run_worker`). A step's state is large, long-lived and
    holds few cycles (minutes, samples, sums; mentions as columns): with the default
    thresholds the collector walks it again and again, ~15 % of the surge detector's CPU on
    a catching-up stream. What exists now (modules, the roster) is frozen out of the scans,
    and the young generation is collected after 50 000 allocations instead of 700."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


# -- in the step's process ------------------------------------------------------------

_make: Callable[[], Any] | None = None
_step: Any = None


def _start(make: Callable[[], Any]) -> None:
    global _make, _step
    follow_parent()
    refuse_pandas()
    _mmap_large_buffers()
    _make, _step = make, make()
    collect_rarely()


def _mmap_large_buffers() -> None:
    """Buffers of 4 MiB and more (a batch's columns as they arrive) on pages of their own,
    given back as soon as they are freed, as in the worker (`pipelines.ingest.worker.FreedMemory`):
    otherwise glibc raises that bound after the first such buffer is freed, and the freed
    batches pile up between the step's long-lived objects. Without glibc it does nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-3, 4 * 2**20)  # M_MMAP_THRESHOLD


def _call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    global _step
    if _make is None:  # pragma: no cover - the initializer runs first
        raise RuntimeError("a step's process started without its step")
    if name == "__ready__":
        return None
    if name == "__reset__":
        _step = _make()
        return None
    if name == "__get__":
        return getattr(_step, args[0])
    if name == "__state__":
        return pickle.dumps(_step, protocol=5)
    if name == "__load_state__":
        collecting = gc.isenabled()
        gc.disable()  # millions of objects, none in cycles: no collections while they come
        try:
            _step = pickle.loads(args[0])
        finally:
            if collecting:
                gc.enable()
        return None
    return getattr(_step, name)(*args, **kwargs)
