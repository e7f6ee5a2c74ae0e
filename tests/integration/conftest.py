"""One real Kafka broker for the whole integration session.

`kafka_broker` starts a single-node KRaft broker with infra/broker.py on free
ports under a temporary home, once per session (a start costs a few seconds of
JVM time), and stops it when the session ends. Tests stay independent by using
`fresh_topic_name` (and their own consumer groups) instead of shared topics.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BROKER_SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "broker.py"
# The topics `dorpspomp up` creates, so the session broker looks like a local stack.
SESSION_TOPICS = {"dorpspomp.events": 6, "dorpspomp.alerts": 3}


def load_broker_script() -> ModuleType:
    """infra/broker.py as a module (it is a script, not part of an installed package)."""
    name = "dorpspomp_infra_broker"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BROKER_SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {BROKER_SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_ports(count: int) -> list[int]:
    """`count` distinct ports on 127.0.0.1 that are free right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="session")
def broker_api() -> ModuleType:
    """The functions of infra/broker.py: start_broker, stop_broker, broker_status, …"""
    return load_broker_script()


@pytest.fixture(scope="session")
def kafka_broker(
    broker_api: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A running broker: `.bootstrap` ("127.0.0.1:PORT"), `.home`, `.port`, `.topics`."""
    home = tmp_path_factory.mktemp("kafka-home")
    port, controller_port = free_ports(2)
    info = broker_api.start_broker(
        home, port=port, controller_port=controller_port, topics=SESSION_TOPICS,
        timeout=90, say=lambda line: None,
    )
    try:
        yield info
    finally:
        broker_api.stop_broker(home)


@dataclass
class OwnBroker:
    """A broker of one test's own, which the test may stop and start again (same home,
    ports and data) without touching the session broker the other tests use."""

    api: ModuleType
    home: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.api.start_broker(self.home, port=self.port, controller_port=self.controller_port,
                              timeout=90, say=lambda line: None)

    def stop(self) -> None:
        self.api.stop_broker(self.home)


@pytest.fixture
def own_broker(broker_api: ModuleType, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[OwnBroker]:
    """A running broker of this test's own (`OwnBroker`), stopped at the end."""
    broker = OwnBroker(broker_api, tmp_path_factory.mktemp("own-kafka"), *free_ports(2))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def free_port_pair() -> tuple[int, int]:
    """(client port, controller port) for a broker of the test's own."""
    port, controller_port = free_ports(2)
    return port, controller_port


@pytest.fixture
def fresh_topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses, readable in the broker log: test.<test name>.<hex>."""
    test_name = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name).strip("-.")[:80]
    return f"test.{test_name}.{uuid.uuid4().hex[:8]}"
