"""The lean faust consumer keeps faust's `wait_first` contract while skipping its tasks."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from pipelines.ingest.leanfaust import LeanConsumer, LeanMonitor, LeanTransport, lean_app


def make_consumer() -> LeanConsumer:
    """The consumer of a lean app; call it inside the running loop (faust's services
    take the loop that is current when they are made, as in the worker)."""
    app = lean_app("lean-test", broker="kafka://127.0.0.1:1", autodiscover=False,
                   web_enabled=False)
    made = app.consumer
    assert isinstance(app.transport, LeanTransport)
    assert isinstance(app.monitor, LeanMonitor)
    assert isinstance(made, LeanConsumer)
    return made


def test_a_delivery_that_does_not_wait_wins_at_once() -> None:
    flow = asyncio.Event()
    delivered: list[str] = []

    async def deliver(message: str) -> str:
        delivered.append(message)
        return "ok"

    suspend = flow.wait()

    async def main() -> Any:
        return await make_consumer().wait_first(deliver("m1"), suspend)

    result = asyncio.run(main())
    assert delivered == ["m1"]
    assert (result.results, result.stopped) == (["ok"], False)
    assert inspect.getcoroutinestate(suspend) == "CORO_CLOSED"  # not left to warn "never awaited"


def test_a_delivery_that_waits_finishes_through_faust() -> None:
    flow = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> str:
        steps.append("queued")
        await asyncio.sleep(0.01)  # a full stream buffer, say
        steps.append("delivered")
        return "ok"

    async def main() -> Any:
        return await make_consumer().wait_first(deliver(), flow.wait())

    result = asyncio.run(main())
    assert steps == ["queued", "delivered"]
    assert result.results == ["ok"]


def test_a_waiting_delivery_is_abandoned_when_the_flow_is_suspended() -> None:
    suspended = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> None:
        steps.append("queued")
        try:
            await asyncio.Event().wait()  # never gets room
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise
        steps.append("delivered")

    async def main() -> Any:
        asyncio.get_running_loop().call_later(0.01, suspended.set)
        return await make_consumer().wait_first(deliver(), suspended.wait())

    result = asyncio.run(main())
    assert steps == ["queued", "cancelled"]
    assert result.results == [True]  # the suspend event won, as with faust's own


def test_an_error_in_a_delivery_reaches_the_caller() -> None:
    async def at_once() -> None:
        raise ValueError("bad message")

    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("bad partition")

    async def main(first: Any) -> Any:
        return await make_consumer().wait_first(first, asyncio.Event().wait())

    with pytest.raises(ValueError, match="bad message"):
        asyncio.run(main(at_once()))
    with pytest.raises(KeyError, match="bad partition"):
        asyncio.run(main(later()))


def test_values_sent_into_a_resumed_delivery_arrive() -> None:
    async def deliver(future: asyncio.Future[int]) -> int:
        return await future + 1

    async def main() -> Any:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, 41)
        return await make_consumer().wait_first(deliver(future), asyncio.Event().wait())

    assert asyncio.run(main()).results == [42]
