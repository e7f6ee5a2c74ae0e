"""DateTime values that the engine's Arrow output wrote as uint32 seconds become times again."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.arrowtimes import holds_seconds, parse_type, restore_times

HOUR = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SECONDS = int(HOUR.timestamp())


def test_a_datetime_column_becomes_a_timestamp_in_seconds_and_a_count_stays_a_count() -> None:
    # toStartOfHour(created_at) AS hour, count() AS n, source_partition (a real UInt32)
    table = pa.table({"hour": pa.array([SECONDS], pa.uint32()), "n": pa.array([4], pa.uint64()),
                      "source_partition": pa.array([5], pa.uint32())})
    restored = restore_times(table, ["DateTime('UTC')", "UInt64", "UInt32"])
    assert restored.schema.field("hour").type == pa.timestamp("s", "UTC")
    assert restored.to_pylist() == [{"hour": HOUR, "n": 4, "source_partition": 5}]


def test_the_zone_of_the_type_is_kept_and_none_means_utc() -> None:
    table = pa.table({"a": pa.array([SECONDS], pa.uint32()), "b": pa.array([SECONDS], pa.uint32())})
    restored = restore_times(table, ["DateTime('Europe/Amsterdam')", "DateTime"])
    a, b = restored.to_pylist()[0].values()
    assert a == HOUR and a.tzinfo == ZoneInfo("Europe/Amsterdam")
    assert b == HOUR and restored.schema.field("b").type.tz == "UTC"


def test_times_inside_nullable_array_tuple_and_map_are_restored_and_nulls_stay_null() -> None:
    table = pa.table({
        "maybe": pa.array([SECONDS, None], pa.uint32()),
        "hours": pa.array([[SECONDS, SECONDS + 3600], []], pa.list_(pa.uint32())),
        "pair": pa.array([{"1": SECONDS, "2": 1}, None],
                         pa.struct([("1", pa.uint32()), ("2", pa.uint8())])),
        "by_key": pa.array([[("k", SECONDS)], []], pa.map_(pa.string(), pa.uint32())),
    })
    restored = restore_times(table, ["Nullable(DateTime)", "Array(DateTime)",
                                     "Tuple(at DateTime, n UInt8)", "Map(String, DateTime)"])
    first, second = restored.to_pylist()
    assert first == {"maybe": HOUR, "hours": [HOUR, datetime(2026, 12, 4, 11, tzinfo=UTC)],
                     "pair": {"1": HOUR, "2": 1}, "by_key": [("k", HOUR)]}
    assert second == {"maybe": None, "hours": [], "pair": None, "by_key": []}


def test_types_that_do_not_fit_leave_the_table_as_it_is() -> None:
    table = pa.table({"x": pa.array([SECONDS], pa.uint32())}).replace_schema_metadata({b"k": b"v"})
    assert restore_times(table, ["UInt32"]) is table
    assert restore_times(table, ["DateTime", "DateTime"]) is table  # not one type per column
    assert restore_times(table, ["Enum8('a' = 1)"]) is table
    restored = restore_times(table, ["LowCardinality(DateTime)"])
    assert restored.schema.metadata == {b"k": b"v"}


def test_only_a_result_with_uint32_somewhere_can_hold_seconds() -> None:
    assert not holds_seconds(pa.schema([("t", pa.timestamp("ms", "UTC")), ("n", pa.uint64())]))
    assert holds_seconds(pa.schema([("t", pa.list_(pa.uint32()))]))
    assert holds_seconds(pa.schema([("t", pa.map_(pa.string(), pa.uint32()))]))


def test_parse_type_reads_nested_types_zones_and_named_tuples() -> None:
    parsed = parse_type("Map(String, Tuple(a Nullable(DateTime('Asia/Tokyo')), b Array(UInt8)))")
    key, value = parsed.args
    assert (parsed.name, key.name, value.name) == ("Map", "String", "Tuple")
    zone = value.args[0].args[0].args[0]
    assert zone.literal and zone.text == "Asia/Tokyo"
    assert [a.name for a in parse_type("Enum8('a,b' = 1, 'c' = 2)").args] == ["'a,b' = 1",
                                                                              "'c' = 2"]


@given(st.lists(st.one_of(st.none(), st.integers(0, 2**32 - 1)), max_size=20))
def test_every_second_of_the_datetime_range_round_trips(values: list[int | None]) -> None:
    table = pa.table({"t": pa.array(values, pa.uint32())})
    restored = restore_times(table, ["Nullable(DateTime)"])
    assert [None if v is None else int(v.timestamp()) for v in restored.column("t").to_pylist()] \
        == values


@pytest.mark.parametrize("text", ["", "(", "DateTime(", "`odd name` DateTime", "Array(", ")"])
def test_odd_type_text_never_raises(text: str) -> None:
    table = pa.table({"x": pa.array([1], pa.uint32())})
    assert restore_times(table, [text]).column("x").type == pa.uint32()
