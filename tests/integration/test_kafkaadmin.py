"""pipelines/ingest/kafkaadmin against the real session broker: topics made sure of (missing ones
created, existing ones kept, concurrent creators tolerated), offsets read, and the message
a user sees when nothing listens at the address."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pipelines.commands.replay import RECORD_OVERHEAD, message_limit
from pipelines.ingest import kafkaadmin

pytestmark = pytest.mark.integration


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for partition, count in per_partition.items():
            for i in range(count):
                producer.send(topic, value=b'{"n": %d}' % i, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def test_missing_topics_are_created_at_once_usable_and_existing_ones_kept(
        kafka_broker: Any, fresh_topic_name: str) -> None:
    wanted = {fresh_topic_name: 3, "dorpspomp.events": 1}
    partitions, created = kafkaadmin.ensure_topics(kafka_broker.bootstrap, wanted)

    assert partitions == {fresh_topic_name: 3, "dorpspomp.events": 6}
    assert created == [fresh_topic_name]
    # usable right away: the partitions are in the metadata a new client reads
    assert kafkaadmin.topic_partitions(kafka_broker.bootstrap, fresh_topic_name) == [0, 1, 2]
    again = kafkaadmin.ensure_topics(kafka_broker.bootstrap, {fresh_topic_name: 5})
    assert again == ({fresh_topic_name: 3}, [])


def test_creators_at_the_same_moment_all_see_the_topics(
        kafka_broker: Any, fresh_topic_name: str) -> None:
    wanted = {f"{fresh_topic_name}.a": 2, f"{fresh_topic_name}.b": 4}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda _: kafkaadmin.ensure_topics(kafka_broker.bootstrap, wanted), range(4)))

    assert all(answer.partitions == wanted for answer in answers)
    listed = kafkaadmin.list_topics(kafka_broker.bootstrap)
    assert {name: listed[name] for name in wanted} == wanted


def test_topic_configs_apply_to_the_topics_created(kafka_broker: Any,
                                                   fresh_topic_name: str) -> None:
    kafkaadmin.ensure_topics(kafka_broker.bootstrap, {fresh_topic_name: 1},
                             configs={"max.message.bytes": "2000000"})
    limit = asyncio.run(message_limit(kafka_broker.bootstrap, fresh_topic_name))
    assert limit == 2_000_000 - RECORD_OVERHEAD


def test_end_and_beginning_offsets_per_partition(kafka_broker: Any,
                                                 fresh_topic_name: str) -> None:
    from kafka import TopicPartition

    bootstrap = kafka_broker.bootstrap
    kafkaadmin.ensure_topics(bootstrap, {fresh_topic_name: 3})
    produce(bootstrap, fresh_topic_name, {0: 5, 1: 2})
    admin = kafkaadmin.admin_client(bootstrap)
    try:
        admin.delete_records({TopicPartition(fresh_topic_name, 0): 3})
    finally:
        admin.close()

    assert kafkaadmin.end_offsets(bootstrap, fresh_topic_name) == {0: 5, 1: 2, 2: 0}
    reader = kafkaadmin.offset_reader(bootstrap)  # a kept client, as the health probe has
    try:
        assert kafkaadmin.beginning_offsets(reader, fresh_topic_name) == {0: 3, 1: 0, 2: 0}
        assert kafkaadmin.end_offsets(reader, fresh_topic_name) == {0: 5, 1: 2, 2: 0}
        assert kafkaadmin.end_offsets(reader, f"{fresh_topic_name}.none") == {}
        assert kafkaadmin.topic_partitions(reader, f"{fresh_topic_name}.none") is None
    finally:
        reader.close()


def test_no_broker_at_the_address_says_to_start_one() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        bootstrap = f"127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: refused
        with pytest.raises(kafkaadmin.BrokerUnavailable,
                           match=f"no broker at {bootstrap} — start it with `dorpspomp up`"):
            kafkaadmin.ensure_topics(bootstrap, {"dorpspomp.events": 6}, timeout=2)
        with pytest.raises(kafkaadmin.BrokerUnavailable, match="start it with `dorpspomp up`"):
            kafkaadmin.end_offsets(bootstrap, "dorpspomp.events", timeout=2)
