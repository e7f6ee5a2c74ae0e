"""The SQL page with a result of times and a result that was cut: what a person sees.

Fed by the fake reader of `test_dashboard_ui` (no services): times stay times in
the table and on a time axis of the chart, and a result cut at "Most rows" says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from streamlit.testing.v1 import AppTest

from pipelines.warehouse import CUT_AT
from tests.unit.test_dashboard_ui import FakeReader, app, charts, open_page

HOURS = [datetime(2026, 12, 4, h, tzinfo=UTC) for h in (10, 11, 12)]
# toStartOfHour(created_at) AS hour, count() AS mentions, once the reader restored the times
HOURLY = pa.table({
    "hour": pa.array([int(h.timestamp()) for h in HOURS], pa.timestamp("s", "UTC")),
    "mentions": pa.array([4, 9, 2], pa.uint64()),
})


class AdHocReader(FakeReader):
    """The dashboard's statements from the scenario; the typed query gets `answer`."""

    def __init__(self, answer: pa.Table) -> None:
        super().__init__()
        self.answer = answer
        self.max_rows: list[int | None] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *,
              max_rows: int | None = None) -> pa.Table:
        if sql in self.answers:
            return super().query(sql, parameters)
        self.max_rows.append(max_rows)
        return self.answer


def run_query(reader: AdHocReader, sql: str, most_rows: int | None = None) -> AppTest:
    at = open_page(app(reader), "sql")
    at.text_area(key="sql.text").set_value(sql)
    if most_rows is not None:
        at.number_input(key="sql.max_rows").set_value(most_rows)
    at.button(key="sql.run").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    return at


def test_times_of_a_result_are_a_time_column_and_a_time_axis() -> None:
    at = run_query(AdHocReader(HOURLY), "SELECT toStartOfHour(created_at) AS hour, count() AS "
                   "mentions FROM mentions GROUP BY hour ORDER BY hour")
    shown = at.dataframe[-1].value
    assert [t.to_pydatetime() for t in shown["hour"]] == HOURS
    assert at.selectbox(key="sql.chart_x").value == "hour"
    (chart,) = charts(at)
    spec = json.loads(chart.proto.spec)
    x = spec["layer"][0]["encoding"]["x"]
    assert x["field"] == "hour" and x["type"] == "temporal" and x["scale"] == {"type": "utc"}
    assert '"field": "mentions"' in chart.proto.spec
    (dataset,) = chart.proto.datasets  # the chart's data, as Streamlit sends it
    drawn = pa.ipc.open_stream(dataset.data.data).read_all()
    assert pa.types.is_timestamp(drawn.schema.field("hour").type)
    assert drawn.column("hour").to_pylist() == HOURS


def test_most_rows_goes_to_the_reader_and_a_cut_result_says_so() -> None:
    reader = AdHocReader(HOURLY.slice(0, 2).replace_schema_metadata({CUT_AT: b"2"}))
    at = run_query(reader, "SELECT * FROM mentions", most_rows=2)
    assert reader.max_rows == [2]
    captions = [c.value for c in at.caption]
    assert any(c.startswith("2 rows in ") for c in captions), captions
    assert any("cut at 2 rows" in c for c in captions), captions


def test_a_whole_result_does_not_say_it_was_cut() -> None:
    reader = AdHocReader(HOURLY)
    at = run_query(reader, "SELECT * FROM mentions")
    assert reader.max_rows == [10_000]  # the page's default
    assert not [c.value for c in at.caption if "cut at" in c.value]
