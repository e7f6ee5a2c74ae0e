"""pipelines/ingest/kafkaadmin's pure parts: the create request, the bootstrap list and the
message a user sees when no broker answers. The broker calls are tested for real in
tests/integration/test_kafkaadmin.py."""

from __future__ import annotations

import pytest

from pipelines.commands import replay
from pipelines.ingest import kafkaadmin


def test_a_create_request_has_one_replica_and_the_partitions_asked_for() -> None:
    request = kafkaadmin.topic_requests({"dorpspomp.events": 6, "dorpspomp.alerts": 3})
    assert request == {
        "dorpspomp.events": {"num_partitions": 6, "replication_factor": 1},
        "dorpspomp.alerts": {"num_partitions": 3, "replication_factor": 1},
    }


def test_topic_configs_go_on_every_topic_created() -> None:
    request = kafkaadmin.topic_requests({"a": 2, "b": 1}, {"max.message.bytes": "1048588"})
    assert request["a"]["configs"] == {"max.message.bytes": "1048588"}
    assert request["b"]["configs"] == {"max.message.bytes": "1048588"}


def test_a_topic_without_partitions_is_refused_before_the_broker_is_asked() -> None:
    with pytest.raises(ValueError, match="topic a: 0 partitions; a topic needs at least 1"):
        kafkaadmin.topic_requests({"a": 0})


def test_a_bootstrap_list_splits_on_commas_and_drops_blanks() -> None:
    assert kafkaadmin.servers("k1:9092, k2:9092,") == ["k1:9092", "k2:9092"]
    assert kafkaadmin.servers("127.0.0.1:19092") == ["127.0.0.1:19092"]


def test_no_broker_says_where_it_looked_and_how_to_start_one() -> None:
    message = kafkaadmin.no_broker("127.0.0.1:19092")
    assert message == ("no broker at 127.0.0.1:19092 — start it with `dorpspomp up` "
                       "(or set DORPSPOMP_KAFKA)")


def test_replay_and_the_admin_module_raise_the_same_error_the_cli_reports() -> None:
    # `dorpspomp` prints BrokerUnavailable as a one-line message (pipelines/commands/cli.py imports
    # it from replay); the admin module's must be the same class.
    assert replay.BrokerUnavailable is kafkaadmin.BrokerUnavailable


def test_ensured_topics_unpack_as_partitions_and_created() -> None:
    partitions, created = kafkaadmin.EnsuredTopics({"a": 2}, ["a"])
    assert partitions == {"a": 2} and created == ["a"]
