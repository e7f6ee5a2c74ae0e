"""The dashboard's charts: polars frames in, Altair charts out, no I/O.

Kept apart from the pages so that what a chart encodes can be read (and
tested) without running Streamlit.

Times reach a chart as the naive wall clock of the zone the page shows
(`dashboard.display.wall_clock`) and are drawn on a UTC scale, so the axis reads
that zone's clock whatever the browser's own zone is; the axis labels follow
the span (hours for a day, days for a week, months for a year), and tooltips
show the time as text.
"""

from __future__ import annotations

from datetime import datetime

import altair as alt
import polars as pl

from dashboard.display import TIME_FORMAT, alert_kind

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALERT_COLOURS = alt.Scale(
    domain=[alert_kind(k) for k in ("complaint_surge", "sla_breach", "silent_org")],
    range=["#d62728", "#ff7f0e", "#9467bd"])
# Tick spacing and label format by the span a time axis shows: (longest span in seconds,
# seconds between ticks, label format). The spacings are Vega's own tick intervals, so that
# asking for span / spacing ticks gets exactly that spacing and no label repeats.
TIME_TICKS: tuple[tuple[float, int, str], ...] = (
    (3 * 3600, 900, "%H:%M"),
    (14 * 3600, 3600, "%H:%M"),
    (30 * 3600, 3 * 3600, "%H:%M"),
    (3 * 86400, 12 * 3600, "%a %H:%M"),
    (10 * 86400, 86400, "%a %d %b"),
    (45 * 86400, 7 * 86400, "%d %b"),
    (200 * 86400, 30 * 86400, "%b %Y"),
    (800 * 86400, 90 * 86400, "%b %Y"),
)


def time_axis(span_seconds: float, title: str | None = None) -> alt.Axis:
    """An axis whose labels read as times (13:00, Mon 12:00, Mon 02 Mar, Mar 2026), spaced
    by a whole interval that suits the span."""
    spacing, label = next(((spacing, label) for longest, spacing, label in TIME_TICKS
                           if span_seconds <= longest), (365 * 86400, "%Y"))
    # A number of ticks, not an interval: Vega-Lite drops every mark of a chart with a
    # colour legend when tickCount is an interval object (Streamlit 1.67).
    return alt.Axis(title=title, format=label, labelOverlap=True, labelAngle=0,
                    tickCount=max(2, round(span_seconds / spacing)))


def time_x(field: str, span_seconds: float, title: str | None = None) -> alt.X:
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=time_axis(span_seconds, title))


def span_of(frame: pl.DataFrame, *columns: str) -> float:
    """Seconds between the earliest and the latest time in `columns` (at least a minute)."""
    values = pl.concat([frame[c].drop_nulls().cast(pl.Datetime("ms")) for c in columns])
    if values.len() == 0:
        return 60.0
    low, high = values.min(), values.max()
    assert isinstance(low, datetime) and isinstance(high, datetime)
    return max(60.0, (high - low).total_seconds())


def _kind_names() -> pl.Expr:
    return pl.col("kind").map_elements(alert_kind, return_dtype=pl.String)


def _as_text(column: str, alias: str) -> pl.Expr:
    return pl.col(column).dt.strftime(TIME_FORMAT).alias(alias)
# For charts whose height grows with their rows: the height is the plotting area's. Streamlit
# otherwise fits axes and titles into it as well, which squashes a few bars until their
# labels no longer fit and are left out.
HEIGHT_PER_ROW = alt.AutoSizeParams(type="fit-x", contains="padding")


def activity_chart(activity: pl.DataFrame, alerts: pl.DataFrame) -> alt.LayerChart:
    """Mentions and complaints per bucket, with a rule where each alert opened (both in
    wall-clock time, see the module's docstring)."""
    span = span_of(activity, "bucket")
    series = activity.select("bucket", "mentions", "complaints").unpivot(
        index="bucket", variable_name="series", value_name="count"
    ).with_columns(_as_text("bucket", "time"))
    lines = (
        alt.Chart(series)
        .mark_line(point=False, interpolate="monotone")
        .encode(
            x=time_x("bucket", span),
            y=alt.Y("count:Q", title="per bucket"),
            color=alt.Color("series:N", title=None,
                            scale=alt.Scale(domain=["mentions", "complaints"],
                                            range=["#1f77b4", "#d62728"])),
            tooltip=[alt.Tooltip("time:N", title="from"), "series:N",
                     alt.Tooltip("count:Q", format=",")],
        )
    )
    layers: list[alt.Chart] = [lines]
    if alerts.height:
        markers = alerts.select("opened_at", "kind", "status", "summary").with_columns(
            _as_text("opened_at", "opened"), _kind_names())
        layers.append(
            alt.Chart(markers)
            .mark_rule(strokeDash=[4, 3], opacity=0.6)
            .encode(
                x=alt.X("opened_at:T", scale=alt.Scale(type="utc")),
                color=alt.Color("kind:N", title="alert", scale=ALERT_COLOURS),
                tooltip=["opened:N", "kind:N", "status:N", "summary:N"],
            )
        )
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=320)


def reach_chart(activity: pl.DataFrame) -> alt.Chart:
    frame = activity.select("bucket", "potential_reach").with_columns(
        _as_text("bucket", "time"))
    return (
        alt.Chart(frame)
        .mark_area(opacity=0.5, interpolate="monotone")
        .encode(
            x=time_x("bucket", span_of(activity, "bucket")),
            y=alt.Y("potential_reach:Q", title="potential reach"),
            tooltip=[alt.Tooltip("time:N", title="from"),
                     alt.Tooltip("potential_reach:Q", title="potential reach", format=",")],
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
    frame = voice.select("bucket", "name", "mentions").with_columns(
        _as_text("bucket", "time"))
    return (
        alt.Chart(frame)
        .mark_area()
        .encode(
            x=time_x("bucket", span_of(voice, "bucket")),
            y=alt.Y("mentions:Q", stack="normalize", title="share of mentions",
                    axis=alt.Axis(format="%")),
            color=alt.Color("name:N", title=None),
            tooltip=[alt.Tooltip("time:N", title="from"), "name:N",
                     alt.Tooltip("mentions:Q", format=",")],
        )
        .properties(height=260)
    )


def alerts_timeline_chart(alerts: pl.DataFrame, now: datetime, zone: str = "UTC") -> alt.Chart:
    """One bar per alert from opening to resolution (or to now, when still open); `alerts`
    and `now` in wall-clock time of `zone`, which the axis title names."""
    frame = alerts.select(
        "name", "kind", "status", "summary", "opened_at",
        pl.col("resolved_at").fill_null(now).alias("until"),
    )
    frame = frame.with_columns(_as_text("opened_at", "opened"),
                               _as_text("until", "to"), _kind_names())
    return (
        alt.Chart(frame)
        .mark_bar(height=10)
        .encode(
            x=time_x("opened_at", span_of(frame, "opened_at", "until"), f"time ({zone})"),
            x2="until:T",
            y=alt.Y("name:N", title=None),
            color=alt.Color("kind:N", title="alert", scale=ALERT_COLOURS),
            opacity=alt.condition(alt.datum.status == "open", alt.value(0.95), alt.value(0.4)),
            tooltip=["name:N", "kind:N", "status:N", "opened:N", "to:N", "summary:N"],
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
