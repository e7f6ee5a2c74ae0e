"""Shared test set-up: unit tests must not touch services.

A test that needs the Kafka broker or the ClickHouse engine is marked
`integration`; any other test that tries to open a network connection or a
warehouse fails at once with a message saying so (after Snuba's
`block_clickhouse_db`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


class ServiceUsedInUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _block_services_in_unit_tests(request: pytest.FixtureRequest,
                                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("integration") is not None:
        yield
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise ServiceUsedInUnitTest(
            "this unit test tried to reach a service (network or warehouse); "
            "mark it @pytest.mark.integration or keep it pure"
        )

    import clickhouse_connect

    monkeypatch.setattr(clickhouse_connect, "get_client", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield
