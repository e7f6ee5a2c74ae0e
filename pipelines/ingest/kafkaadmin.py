"""The few questions dorpspomp asks a Kafka broker outside the stream: which topics exist,
make sure some do, and where each partition of a topic begins and ends.

The worker makes sure of its topics at start, `dorpspomp status` reads the end offsets
to show the lag, the health probe reads first and end offsets every few seconds, the
benchmark and the integration tests count what is in a topic, and infra/broker.py creates
the topics `dorpspomp up` asks for. They all ask here, so a topic is created one way
(replication 1, an existing topic left as it is, a concurrent creator tolerated, the call
returning only when the broker's metadata shows the topic) and a broker that is not there
gives one message that says what to do.

Synchronous kafka-python calls: they run at start-up, in a command or on the health
probe's own thread, never on the worker's event loop. The module imports only the
standard library at load time, so infra/broker.py can import it from a checkout.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered at the configured address."""


class EnsuredTopics(NamedTuple):
    """What `ensure_topics` found or made: partitions per wanted topic, and which of them
    it created (sorted). Unpacks as `(partitions, created)`."""

    partitions: dict[str, int]
    created: list[str]


def no_broker(bootstrap: str) -> str:
    """The message for a broker that does not answer: where we looked and what to do."""
    return f"no broker at {bootstrap} — start it with `dorpspomp up` (or set DORPSPOMP_KAFKA)"


def servers(bootstrap: str) -> list[str]:
    """'host:1,host:2' → ['host:1', 'host:2'] (blanks dropped), as kafka-python wants them."""
    return [server.strip() for server in bootstrap.split(",") if server.strip()]


@contextlib.contextmanager
def quiet_client_logs() -> Iterator[None]:
    """Hide kafka-python's connection warnings for a call whose failure we report ourselves
    (a broker that is down or still starting would otherwise log a warning per retry)."""
    logger = logging.getLogger("kafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def admin_client(bootstrap: str, timeout: float = 10.0, *,
                 client_id: str = "dorpspomp-admin") -> Any:
    """A kafka-python admin client; BrokerUnavailable when no broker answers in `timeout` s.

    The caller closes it.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    millis = max(100, int(timeout * 1000))
    try:
        return KafkaAdminClient(bootstrap_servers=servers(bootstrap), client_id=client_id,
                                bootstrap_timeout_ms=millis,
                                request_timeout_ms=max(millis, 5000))
    except (KafkaError, OSError, ValueError) as exc:
        raise BrokerUnavailable(no_broker(bootstrap)) from exc


def list_topics(bootstrap: str, timeout: float = 10.0) -> dict[str, int]:
    """Every topic that is not Kafka's own (`__consumer_offsets`, …), with its partitions."""
    with quiet_client_logs():
        admin = admin_client(bootstrap, timeout)
        try:
            described = admin.describe_topics()
        finally:
            admin.close()
    return {
        t["name"]: len(t.get("partitions") or [])
        for t in described
        if t.get("error_code", 0) == 0 and not t.get("is_internal")
        and not t["name"].startswith("__")
    }


def topic_requests(missing: Mapping[str, int],
                   configs: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The create-topics request for `missing` ({name: partitions}): replication 1 (one
    broker), the given topic configs on each."""
    for name, partitions in missing.items():
        if partitions < 1:
            raise ValueError(f"topic {name}: {partitions} partitions; a topic needs at least 1")
    extra = {"configs": dict(configs)} if configs else {}
    return {name: {"num_partitions": n, "replication_factor": 1, **extra}
            for name, n in missing.items()}


def ensure_topics(bootstrap: str, topics: Mapping[str, int], timeout: float = 30.0, *,
                  configs: Mapping[str, str] | None = None) -> EnsuredTopics:
    """Create the topics of `topics` ({name: partitions}) that do not exist yet.

    An existing topic is left as it is, even with another partition count (the answer
    says how many it has). A topic another process creates at the same moment counts as
    existing. Returns once the broker's metadata shows the new topics with a leader for
    every partition, so a producer or consumer started right after finds them.
    `configs` (e.g. {"max.message.bytes": "1048588"}) apply to the topics created here.
    """
    from kafka.errors import TopicAlreadyExistsError

    existing = list_topics(bootstrap, timeout)
    missing = {name: n for name, n in topics.items() if name not in existing}
    if missing:
        request = topic_requests(missing, configs)
        with quiet_client_logs():
            admin = admin_client(bootstrap, timeout)
            try:
                admin.create_topics(request, timeout_ms=int(timeout * 1000),
                                    wait_for_metadata=True)
            except TopicAlreadyExistsError:
                pass  # another process created one of them in the meantime
            finally:
                admin.close()
        existing = _listed(bootstrap, set(topics), time.monotonic() + timeout)
    return EnsuredTopics({name: existing.get(name, 0) for name in topics}, sorted(missing))


def _listed(bootstrap: str, wanted: set[str], deadline: float) -> dict[str, int]:
    """The topic list once it shows every `wanted` topic, or as it is at `deadline`.

    A create call that met a concurrent creator returns before the metadata of the topics
    that the other one made is visible, so look until it is.
    """
    while True:
        existing = list_topics(bootstrap, max(1.0, deadline - time.monotonic()))
        if wanted <= existing.keys() or time.monotonic() >= deadline:
            return existing
        time.sleep(0.1)


def offset_reader(bootstrap: str, timeout: float = 5.0, *,
                  client_id: str = "dorpspomp-offsets", **options: Any) -> Any:
    """A group-less kafka-python consumer for partition and offset look-ups (it joins no
    group and commits nothing); BrokerUnavailable when no broker answers in `timeout` s.

    Keep one to ask repeatedly (the health probe does: a new client costs a metadata
    round trip); the caller closes it. `options` go to KafkaConsumer as they are.
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    millis = max(1000, int(timeout * 1000))
    settings: dict[str, Any] = {"request_timeout_ms": millis, "bootstrap_timeout_ms": millis,
                                **options}
    try:
        return KafkaConsumer(bootstrap_servers=servers(bootstrap), group_id=None,
                             client_id=client_id, enable_auto_commit=False, **settings)
    except (KafkaError, OSError, ValueError) as exc:
        raise BrokerUnavailable(no_broker(bootstrap)) from exc


def topic_partitions(reader: Any, topic: str, timeout: float = 10.0) -> list[int] | None:
    """The topic's partition numbers in order, or None when the broker does not know it.

    `reader` is an `offset_reader` (or any kafka-python consumer), or a bootstrap string
    to open one (with `timeout`) for this call and close it after.
    """
    with _reading(reader, timeout) as consumer:
        partitions = consumer.partitions_for_topic(topic)
    return sorted(partitions) if partitions else None


def end_offsets(reader: Any, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """{partition: offset the next message will get}; {} when the topic does not exist.

    `reader` as for `topic_partitions`.
    """
    return _offsets(reader, topic, "end_offsets", timeout)


def beginning_offsets(reader: Any, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """{partition: offset of its first message still kept}; {} when the topic does not
    exist. `reader` as for `topic_partitions`."""
    return _offsets(reader, topic, "beginning_offsets", timeout)


def _offsets(reader: Any, topic: str, ask: str, timeout: float) -> dict[int, int]:
    from kafka import TopicPartition

    with _reading(reader, timeout) as consumer:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return {}
        answer = getattr(consumer, ask)([TopicPartition(topic, p) for p in sorted(partitions)])
    return {tp.partition: int(offset) for tp, offset in sorted(answer.items())}


@contextlib.contextmanager
def _reading(reader: Any, timeout: float) -> Iterator[Any]:
    """The consumer to ask: `reader` itself, or one opened (and closed) for a bootstrap."""
    if not isinstance(reader, str):
        yield reader
        return
    consumer = offset_reader(reader, timeout)
    try:
        yield consumer
    finally:
        consumer.close()

