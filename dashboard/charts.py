"""The dashboard's charts: polars frames in, Altair charts out, no I/O.

Kept apart from the pages so that what a chart encodes can be read (and
tested) without running Streamlit.
"""

from __future__ import annotations

from datetime import datetime

import altair as alt
import polars as pl

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALERT_COLOURS = alt.Scale(domain=["complaint_surge", "sla_breach"], range=["#d62728", "#ff7f0e"])
# For charts whose height grows with their rows: the height is the plotting area's. Streamlit
# otherwise fits axes and titles into it as well, which squashes a few bars until their
# labels no longer fit and are left out.
HEIGHT_PER_ROW = alt.AutoSizeParams(type="fit-x", contains="padding")


def activity_chart(activity: pl.DataFrame, alerts: pl.DataFrame) -> alt.LayerChart:
    """Mentions and complaints per bucket, with a rule where each alert opened."""
    series = activity.select("bucket", "mentions", "complaints").unpivot(
        index="bucket", variable_name="series", value_name="count"
    )
    lines = (
        alt.Chart(series)
        .mark_line(point=False, interpolate="monotone")
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("count:Q", title="per bucket"),
            color=alt.Color("series:N", title=None,
                            scale=alt.Scale(domain=["mentions", "complaints"],
                                            range=["#1f77b4", "#d62728"])),
            tooltip=[alt.Tooltip("bucket:T", format="%Y-%m-%d %H:%M"), "series:N", "count:Q"],
        )
    )
    layers: list[alt.Chart] = [lines]
    if alerts.height:
        markers = alerts.select("opened_at", "kind", "status", "summary")
        layers.append(
            alt.Chart(markers)
            .mark_rule(strokeDash=[4, 3], opacity=0.6)
            .encode(
                x="opened_at:T",
                color=alt.Color("kind:N", title="alert", scale=ALERT_COLOURS),
                tooltip=[alt.Tooltip("opened_at:T", format="%Y-%m-%d %H:%M"), "kind:N",
                         "status:N", "summary:N"],
            )
        )
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=320)


def reach_chart(activity: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(activity.select("bucket", "potential_reach"))
        .mark_area(opacity=0.5, interpolate="monotone")
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("potential_reach:Q", title="potential reach"),
            tooltip=[alt.Tooltip("bucket:T", format="%Y-%m-%d %H:%M"),
                     alt.Tooltip("potential_reach:Q", format=",")],
        )
        .properties(height=260)
    )


def response_histogram_chart(histogram: pl.DataFrame) -> alt.Chart:
    """First-response times per bin, calendar and business time side by side."""
    order = histogram.sort("order")["bin"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(histogram)
        .mark_bar()
        .encode(
            x=alt.X("bin:N", sort=order, title="first response within"),
            xOffset=alt.XOffset("clock:N"),
            y=alt.Y("answered:Q", title="mentions answered"),
            color=alt.Color("clock:N", title=None),
            tooltip=["clock:N", "bin:N", "answered:Q"],
        )
        .properties(height=280)
    )


def response_heatmap_chart(heatmap: pl.DataFrame, column: str, title: str) -> alt.Chart:
    """Median first response (minutes) by local weekday and hour of the mention."""
    frame = heatmap.with_columns(
        (pl.col(column) / 60).round(1).alias("minutes"),
        pl.col("weekday").cast(pl.Int64).map_elements(
            lambda d: WEEKDAYS[d - 1], return_dtype=pl.String).alias("day"),
        pl.col("hour").cast(pl.Int64),
    )
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour of the mention (local time)",
                    scale=alt.Scale(domain=list(range(24)))),
            y=alt.Y("day:O", title=None, sort=list(WEEKDAYS),
                    scale=alt.Scale(domain=list(WEEKDAYS))),
            color=alt.Color("minutes:Q", title=title, scale=alt.Scale(scheme="orangered")),
            tooltip=["day:O", "hour:O", alt.Tooltip("minutes:Q", title=title),
                     alt.Tooltip("answered:Q", title="answered")],
        )
        .properties(height=240)
    )


def responders_chart(responders: pl.DataFrame) -> alt.Chart:
    frame = responders.with_columns(
        pl.when(pl.col("handle") == "").then(pl.lit("(unknown)"))
        .otherwise(pl.col("handle")).alias("who")
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("who:N", sort="-x", title=None),
            x=alt.X("answers:Q", title="first responses"),
            color=alt.Color("role:N", title="role",
                            scale=alt.Scale(domain=["official", "employee", "unknown"],
                                            range=["#1f77b4", "#2ca02c", "#7f7f7f"])),
            tooltip=["who:N", "role:N", "answers:Q"],
        )
        .properties(height=max(120, 26 * frame.height), autosize=HEIGHT_PER_ROW)
    )


def share_of_voice_chart(totals: pl.DataFrame, selected: str) -> alt.Chart:
    """Each organisation's share of the sector's mentions; the selected one stands out."""
    frame = totals.with_columns((pl.col("org_id") == selected).alias("selected"))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("name:N", sort="-x", title=None),
            x=alt.X("share:Q", title="share of voice", axis=alt.Axis(format="%")),
            color=alt.condition(alt.datum.selected, alt.value("#1f77b4"), alt.value("#c7c7c7")),
            tooltip=["name:N", alt.Tooltip("share:Q", format=".1%"), "mentions:Q",
                     "complaints:Q"],
        )
        .properties(height=max(100, 30 * frame.height), autosize=HEIGHT_PER_ROW)
    )


def voice_over_time_chart(voice: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(voice.select("bucket", "name", "mentions"))
        .mark_area()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("mentions:Q", stack="normalize", title="share of mentions",
                    axis=alt.Axis(format="%")),
            color=alt.Color("name:N", title=None),
            tooltip=[alt.Tooltip("bucket:T", format="%Y-%m-%d %H:%M"), "name:N", "mentions:Q"],
        )
        .properties(height=260)
    )


def alerts_timeline_chart(alerts: pl.DataFrame, now: datetime) -> alt.Chart:
    """One bar per alert from opening to resolution (or to now, when still open)."""
    frame = alerts.select(
        "name", "kind", "status", "summary", "opened_at",
        pl.col("resolved_at").fill_null(now).alias("until"),
    )
    return (
        alt.Chart(frame)
        .mark_bar(height=10)
        .encode(
            x=alt.X("opened_at:T", title=None),
            x2="until:T",
            y=alt.Y("name:N", title=None),
            color=alt.Color("kind:N", title="alert", scale=ALERT_COLOURS),
            opacity=alt.condition(alt.datum.status == "open", alt.value(0.95), alt.value(0.4)),
            tooltip=["name:N", "kind:N", "status:N",
                     alt.Tooltip("opened_at:T", format="%Y-%m-%d %H:%M"),
                     alt.Tooltip("until:T", format="%Y-%m-%d %H:%M"), "summary:N"],
        )
        .properties(height=max(120, 34 * frame["name"].n_unique()), autosize=HEIGHT_PER_ROW)
    )


def _field(name: str) -> str:
    """A column name as a Vega-Lite field: dots and brackets would read as nested access."""
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def result_chart(frame: pl.DataFrame, x: str, ys: list[str], kind: str) -> alt.LayerChart:
    """The SQL page's chart of a result: `ys` over `x`, as lines, bars or areas.

    A time column (DateTime, DateTime64, Date) is a time axis in UTC, as the warehouse
    keeps times; a numeric one a number axis; anything else a category axis in the
    result's order. One layer per y column, named in the legend.
    """
    dtype = frame.schema[x]
    if dtype.is_temporal():
        x_axis = alt.X(_field(x), type="temporal", title=f"{x} (UTC)",
                       scale=alt.Scale(type="utc"))
        x_tip = alt.Tooltip(_field(x), type="temporal", title=f"{x} (UTC)",
                            timeUnit="utcyearmonthdatehoursminutesseconds")
    elif dtype.is_numeric():
        x_axis = alt.X(_field(x), type="quantitative", title=x)
        x_tip = alt.Tooltip(_field(x), type="quantitative", title=x)
    else:
        x_axis = alt.X(_field(x), type="nominal", title=x, sort=None)
        x_tip = alt.Tooltip(_field(x), type="nominal", title=x)
    base = alt.Chart(frame.select(x, *ys))
    marks = {"line": base.mark_line(point=frame.height <= 60), "bar": base.mark_bar(opacity=0.8),
             "area": base.mark_area(opacity=0.5)}
    layers = [
        marks[kind].encode(
            x=x_axis,
            y=alt.Y(_field(y), type="quantitative", title=ys[0] if len(ys) == 1 else None),
            color=alt.ColorDatum(y),
            tooltip=[x_tip, alt.Tooltip(_field(y), type="quantitative", title=y, format=",")],
        )
        for y in ys
    ]
    return alt.LayerChart(layer=layers, height=320)
