"""SQL: ad-hoc read-only queries against the public tables, as with `dorpspomp sql`.

The same guard refuses writes, settings, files, URLs and the like, and the
same time and row limits apply, because the statement goes through the same
reader. Results show as a table and, when they have numbers, a chart (times on a
time axis in UTC), and download as CSV or Parquet. "Most rows" asks for the first
rows only; the page says when the query had more. For a client login the engine
runs every statement with each table filtered to that client's organisations
(`pipelines.serving.orgscope`): whatever the SQL says, it reads no other client's rows.
"""

from __future__ import annotations

import io
import time
from functools import partial

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import streamlit as st

from dashboard import session
from dashboard.charts import result_chart
from dashboard.data import DashboardData, DataUnavailable, QueryFailed
from dashboard.queries import BROWSABLE_TABLES, EXAMPLES
from pipelines.serving.sqlguard import ForbiddenQuery
from pipelines.warehouse import cut_at

TEXT_KEY = "sql.text"
RESULT_KEY = "sql.result"
SHOWN_ROWS = 10_000
MOST_ROWS_KEY = "sql.max_rows"
DEFAULT_SQL = "SELECT *\nFROM mentions\nORDER BY created_at DESC\nLIMIT 100"
NO_EXAMPLE = "—"


def csv_bytes(table: pa.Table) -> bytes:
    """The result as CSV; nested values (arrays) are written as their text."""
    return pd.DataFrame(table.to_pandas()).to_csv(index=False).encode()


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def numeric_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if dtype.is_numeric()]


def _use_example() -> None:
    title = st.session_state.get("sql.example")
    for example in EXAMPLES:
        if example.title == title:
            st.session_state[TEXT_KEY] = example.sql


def render() -> None:
    st.title("SQL")
    st.caption("Read-only SQL on the public tables: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, "
               "EXISTS. The same refusals and limits as `dorpspomp sql`.")
    data = session.dashboard_data()
    if data is None:
        return
    if data.scope.org_ids is not None:
        st.info("Your queries read only the rows of "
                + ", ".join(data.org_name(o) for o in sorted(data.scope.org_ids))
                + ": every table is filtered to them by the warehouse itself.")
    editor, browser = st.columns([3, 2])
    with browser:
        show_schema(data)
    with editor:
        hidden = set(BROWSABLE_TABLES) - set(data.browsable_tables())
        offered = [e.title for e in EXAMPLES if not any(t in e.sql for t in hidden)]
        st.selectbox("Start from an example", [NO_EXAMPLE, *offered],
                     key="sql.example", on_change=_use_example)
        if TEXT_KEY not in st.session_state:
            st.session_state[TEXT_KEY] = DEFAULT_SQL
        sql = st.text_area("Query", key=TEXT_KEY, height=220)
        button, most = st.columns([1, 2], vertical_alignment="bottom")
        max_rows = most.number_input(
            "Most rows", min_value=1, value=SHOWN_ROWS, step=1_000, key=MOST_ROWS_KEY,
            help="The first rows of the result; the page says when the query has more. A "
            "result over the warehouse's own limit (DORPSPOMP_QUERY_MAX_ROWS) is refused.")
        if button.button("Run", type="primary", key="sql.run"):
            run(data, sql, int(max_rows))
    show_result()


def run(data: DashboardData, sql: str, max_rows: int | None = None) -> None:
    st.session_state.pop(RESULT_KEY, None)
    if not sql.strip():
        st.warning("Write a query first.")
        return
    started = time.perf_counter()
    try:
        table = data.ad_hoc(sql, max_rows)
    except ForbiddenQuery as exc:
        st.error(f"This query was refused. {exc}")
        return
    except QueryFailed as exc:
        st.error(f"The query failed: {exc}")
        return
    st.session_state[RESULT_KEY] = (sql, table, time.perf_counter() - started)


def show_result() -> None:
    result = st.session_state.get(RESULT_KEY)
    if result is None:
        return
    _sql, table, seconds = result
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    cut = cut_at(table)
    st.caption(f"{table.num_rows:,} rows in {seconds:.2f} s"
               + (f"; the first {SHOWN_ROWS:,} are shown, downloads hold all"
                  if table.num_rows > SHOWN_ROWS else ""))
    if cut is not None:
        st.caption(f"The result was cut at {cut:,} rows (Most rows): the query has more. "
                   "Raise Most rows, or narrow or aggregate the query.")
    results, chart = st.tabs(["Table", "Chart"])
    with results:
        times = {name: st.column_config.DatetimeColumn(name, format="iso8601")
                 for name, kind in zip(table.column_names, table.schema.types, strict=True)
                 if pa.types.is_timestamp(kind)}
        st.dataframe(table.slice(0, SHOWN_ROWS), hide_index=True, width="stretch",
                     column_config=times or None)
    with chart:
        show_chart(frame)
    # The files are made when a button is clicked, not on every rerun of the page.
    left, right = st.columns(2)
    left.download_button("Download CSV", partial(csv_bytes, table), file_name="dorpspomp.csv",
                         mime="text/csv", key="sql.csv", on_click="ignore")
    right.download_button("Download Parquet", partial(parquet_bytes, table),
                          file_name="dorpspomp.parquet", mime="application/vnd.apache.parquet",
                          key="sql.parquet", on_click="ignore")


def show_chart(frame: pl.DataFrame) -> None:
    numbers = numeric_columns(frame)
    if frame.height == 0 or not numbers or frame.width < 2:
        st.info("A chart needs at least two columns, one of them numeric.")
        return
    others = [c for c in frame.columns if c not in numbers]
    columns = st.columns(3)
    x = columns[0].selectbox("x", frame.columns, index=frame.columns.index(
        others[0] if others else frame.columns[0]), key="sql.chart_x")
    candidates = [c for c in numbers if c != x]
    if not candidates:
        st.info("Pick another x: there is no other numeric column to draw.")
        return
    ys = columns[1].multiselect("y", candidates, default=candidates[:1], key="sql.chart_y")
    kind = columns[2].segmented_control("as", ["line", "bar", "area"], default="line",
                                        key="sql.chart_kind") or "line"
    if not ys:
        return
    st.altair_chart(result_chart(frame.head(SHOWN_ROWS), x, ys, kind), width="stretch")


def show_schema(data: DashboardData) -> None:
    st.markdown("**Tables**")
    try:
        columns = data.public_columns()
    except DataUnavailable as exc:
        st.caption(f"The schema cannot be read right now: {exc}")
        return
    for name in data.browsable_tables():
        mine = columns.filter(pl.col("table") == name) if columns.height else columns
        with st.expander(f"{name} ({mine.height} columns)"):
            if mine.height == 0:
                st.caption("Not in the warehouse yet.")
                continue
            st.dataframe(mine.select("name", "type", "comment"), hide_index=True,
                         width="stretch")


if __name__ == "__main__":
    render()
