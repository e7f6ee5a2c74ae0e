"""Times that come back from the warehouse as numbers, turned back into times.

ClickHouse's Arrow output (chDB's, and a server's) writes a `DateTime` as uint32
seconds; only a `DateTime64` becomes an Arrow timestamp. The public columns are
`DateTime64(3, 'UTC')`, but every expression that takes them to whole seconds is a
`DateTime` — `toStartOfHour(created_at)`, `toDateTime(…)`, `now()` — so a
person's query showed `1796418000` in `dorpspomp sql` and drew an axis of
1,796,416,000 on the SQL page. No output setting changes that (measured on chDB
4.4 / ClickHouse 26.9: `output_format_arrow_use_native_writer` neither). With the
result's ClickHouse types (`DESCRIBE` of the statement) each such column, also
inside `Nullable`, `LowCardinality`, `Array`, `Tuple` and `Map`, is cast back to an
Arrow timestamp in seconds, in the `DateTime`'s zone (UTC when it names none: the
number is seconds since the epoch either way).

Pure functions; `pipelines.warehouse` asks the engine for the types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

__all__ = ["ClickHouseType", "holds_seconds", "parse_type", "restore_times"]

_NAMED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", re.DOTALL)
_ELEMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_].*)", re.DOTALL)


@dataclass(frozen=True)
class ClickHouseType:
    """A ClickHouse type name with its arguments: nested types, or literals as written
    (`'UTC'`, `3`). Anything this parser does not understand is a literal."""

    name: str
    args: tuple[ClickHouseType, ...] = ()
    literal: bool = False

    @property
    def text(self) -> str:
        """A literal's value without its quotes."""
        return self.name[1:-1] if self.name[:1] == "'" and self.name[-1:] == "'" else self.name


def parse_type(text: str) -> ClickHouseType:
    """`Nullable(DateTime('Europe/Amsterdam'))` → its tree. Element names of a named
    `Tuple(a DateTime, …)` are dropped: Arrow's struct fields are matched by position."""
    text = text.strip()
    match = _NAMED.fullmatch(text)
    if match is None:
        return ClickHouseType(text, literal=True)
    name, inner = match.groups()
    if inner is None:
        return ClickHouseType(name)
    return ClickHouseType(name, tuple(_argument(a) for a in _split(inner)))


def _argument(text: str) -> ClickHouseType:
    text = text.strip()
    element = _ELEMENT.fullmatch(text)
    if element is not None and _NAMED.fullmatch(element.group(2).strip()):
        return parse_type(element.group(2))
    return parse_type(text)


def _split(text: str) -> list[str]:
    """Top-level comma-separated parts, with brackets and quoted strings kept whole."""
    parts, depth, start, quote, i = [], 0, 0, "", 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'`\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def holds_seconds(schema: pa.Schema) -> bool:
    """Whether any column has uint32 values (at any depth): only then can it hold times."""
    return any(_has_uint32(field.type) for field in schema)


def _has_uint32(arrow: pa.DataType) -> bool:
    if pa.types.is_uint32(arrow):
        return True
    return any(_has_uint32(arrow.field(i).type) for i in range(arrow.num_fields))


def restore_times(table: pa.Table, types: Sequence[str]) -> pa.Table:
    """`table` with every `DateTime` column of `types` (the result's ClickHouse types, in
    column order) as Arrow timestamps in seconds; unchanged when the types do not fit."""
    if len(types) != table.num_columns:
        return table
    columns, fields, changed = [], [], False
    for field, column, text in zip(table.schema, table.columns, types, strict=True):
        ch = parse_type(text)
        target = _replaced(ch, field.type, lambda zone: pa.timestamp("s", zone))
        if target != field.type:
            # Arrow casts integers to timestamps from int64 only.
            column = column.cast(_replaced(ch, field.type, lambda zone: pa.int64())).cast(target)
            field = field.with_type(target)
            changed = True
        columns.append(column)
        fields.append(field)
    if not changed:
        return table
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _replaced(ch: ClickHouseType, arrow: pa.DataType,
              leaf: Callable[[str], pa.DataType]) -> pa.DataType:
    """`arrow` with `leaf(zone)` wherever `ch` has a `DateTime` stored as uint32."""
    if ch.name in ("Nullable", "LowCardinality") and len(ch.args) == 1:
        return _replaced(ch.args[0], arrow, leaf)
    if ch.name in ("DateTime", "DateTime32") and not ch.literal and pa.types.is_uint32(arrow):
        zone = ch.args[0].text if ch.args and ch.args[0].literal else "UTC"
        return leaf(zone)
    if ch.name == "Array" and len(ch.args) == 1 and pa.types.is_list(arrow):
        item = arrow.value_field
        return pa.list_(item.with_type(_replaced(ch.args[0], item.type, leaf)))
    if ch.name == "Tuple" and pa.types.is_struct(arrow) and len(ch.args) == arrow.num_fields:
        return pa.struct([arrow.field(i).with_type(_replaced(a, arrow.field(i).type, leaf))
                          for i, a in enumerate(ch.args)])
    if ch.name == "Map" and len(ch.args) == 2 and pa.types.is_map(arrow):
        key, item = arrow.key_field, arrow.item_field
        return pa.map_(key.with_type(_replaced(ch.args[0], key.type, leaf)),
                       item.with_type(_replaced(ch.args[1], item.type, leaf)))
    return arrow
