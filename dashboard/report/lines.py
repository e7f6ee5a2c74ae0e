"""The weekly report in words: the rows and sentences every format shows.

The dashboard page, the HTML file and the PDF file all lay out what these
functions return, so a figure reads the same wherever a client sees it: counts
with thousands separators, shares as percentages with one decimal, durations
the way people say them (`dashboard.figures.format_seconds`), times on the
client's own clock, and a week-over-week change next to each figure. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dashboard.figures import format_seconds
from dashboard.report.model import Change, Surge, WeeklyReport

NONE = "–"  # one way of saying "no value" in every format
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SAMPLES_SHOWN = 5


@dataclass(frozen=True)
class FigureRow:
    """One line of the key figures: this week, the week before, and the change."""

    label: str
    current: str
    previous: str
    change: str
    hint: str = ""


def count(value: float | None) -> str:
    return NONE if value is None else f"{round(value):,}"


def share(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


def duration(value: float | None) -> str:
    return NONE if value is None else format_seconds(value)


def decimal(value: float | None, places: int = 2) -> str:
    return NONE if value is None else f"{value:.{places}f}"


def signed(value: float, text: str) -> str:
    """`text` (the size of a difference) with its sign. The minus is the ASCII one, which
    Streamlit's metrics read as a fall and every PDF font has."""
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"-{text}"
    return text


def count_change(change: Change) -> str:
    """+12 (+8.5%), -3 (-20.0%), 0, or +4 (new) when last week had none."""
    diff = change.difference
    if diff is None:
        return NONE
    text = signed(diff, f"{abs(round(diff)):,}")
    if diff == 0:
        return "0"
    relative = change.relative
    if relative is None:
        return f"{text} (new)"
    return f"{text} ({signed(relative, f'{abs(relative):.1%}')})"


def share_change(change: Change) -> str:
    """The difference of two shares in percentage points."""
    diff = change.difference
    if diff is None:
        return NONE
    return signed(round(diff * 100, 1), f"{abs(diff) * 100:.1f} pts")


def duration_change(change: Change) -> str:
    """Faster is a fall: -5 min means the client answered 5 minutes sooner."""
    diff = change.difference
    if diff is None:
        return NONE
    if round(diff) == 0:
        return "0"
    return signed(round(diff), format_seconds(abs(diff)))


def decimal_change(change: Change) -> str:
    diff = change.difference
    return NONE if diff is None else signed(round(diff, 2), f"{abs(diff):.2f}")


def _row(label: str, current: float | None, previous: float | None,
         show: Callable[[float | None], str], describe: Callable[[Change], str],
         hint: str = "") -> FigureRow:
    return FigureRow(label, show(current), show(previous), describe(Change(current, previous)),
                     hint)


def key_figures(report: WeeklyReport) -> list[FigureRow]:
    """The report's headline table, volume first, then responses, then surges."""
    v, pv = report.volume, report.previous_volume
    r, pr = report.responses, report.previous_responses
    surges = report.surge_count
    sla = format_seconds(report.sla_seconds)
    return [
        _row("Mentions", v.mentions, pv.mentions, count, count_change),
        _row("Complaints", v.complaints, pv.complaints, count, count_change,
             "mentions labelled as complaints (upstream or by the classifier)"),
        _row("Complaint share", v.complaint_share, pv.complaint_share, share, share_change,
             "complaints ÷ mentions"),
        _row("Shares", v.shares, pv.shares, count, count_change),
        _row("Distinct authors", v.authors, pv.authors, count, count_change),
        _row("Potential reach", v.potential_reach, pv.potential_reach, count, count_change,
             "per minute, the followers of that minute's distinct authors, summed"),
        _row("Average sentiment", v.sentiment, pv.sentiment, decimal, decimal_change,
             "from −1 (negative) to 1 (positive)"),
        _row("Own posts", v.posts, pv.posts, count, count_change),
        _row("Replies", v.replies, pv.replies, count, count_change,
             "own posts that answer something"),
        _row("Actionable mentions", r.actionable, pr.actionable, count, count_change,
             "mentions other than shares: each expects a first response"),
        _row("Answered", r.answered, pr.answered, count, count_change),
        _row("Answered share", r.answered_share, pr.answered_share, share, share_change),
        _row("Median first response", r.median_response_seconds, pr.median_response_seconds,
             duration, duration_change, "calendar time"),
        _row("Median first response, business hours", r.median_business_seconds,
             pr.median_business_seconds, duration, duration_change,
             "only the time inside the client's business hours"),
        _row("90th percentile first response", r.p90_response_seconds,
             pr.p90_response_seconds, duration, duration_change, "calendar time"),
        _row("90th percentile, business hours", r.p90_business_seconds,
             pr.p90_business_seconds, duration, duration_change),
        _row("Within SLA", r.within_sla_share, pr.within_sla_share, share, share_change,
             f"first response within {sla} of business hours, of the mentions whose SLA "
             "is decided (answered, or open past it)"),
        _row("Complaint surges", surges.current, surges.previous, count, count_change),
    ]


# -- times on the client's clock -----------------------------------------------------


def local(t: datetime, timezone: str) -> datetime:
    return t.astimezone(ZoneInfo(timezone))


def day_label(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def moment(t: datetime | None, timezone: str) -> str:
    """`Tue 3 Mar 14:20` on the client's clock."""
    if t is None:
        return NONE
    t = local(t, timezone)
    return f"{day_label(t.date())} {t:%H:%M}"


def week_heading(report: WeeklyReport) -> str:
    """`Week 2026-W10: Mon 2 Mar – Sun 8 Mar 2026`."""
    first, last = report.week.days[0], report.week.days[-1]
    return f"Week {report.week.label}: {day_label(first)} – {day_label(last)} {last.year}"


def state_line(report: WeeklyReport) -> str:
    """Whether the week is over in the data, and what the figures stand for."""
    as_of = moment(report.as_of, report.timezone)
    if report.state == "not started":
        return ("The warehouse holds no events from this week yet"
                + (f" (its newest event is from {as_of})." if report.as_of else "."))
    if report.state == "in progress":
        return f"The week is still in progress: figures up to {as_of} ({report.timezone})."
    return (f"Times in {report.timezone}. Response figures as of {as_of}, the newest event "
            "in the warehouse.")


def empty_line(report: WeeklyReport) -> str | None:
    """The sentence a report without data shows, or None when it has data."""
    if report.has_data:
        return None
    return (f"No mentions, posts or alerts of {report.org_name} in week "
            f"{report.week.label}.")


def day_rows(report: WeeklyReport) -> list[list[str]]:
    """Monday to Sunday: mentions, complaints, shares, own posts, replies, reach."""
    return [[day_label(d.day), count(d.mentions), count(d.complaints), count(d.shares),
             count(d.posts), count(d.replies), count(d.potential_reach)]
            for d in report.days]


DAY_HEADER = ["Day", "Mentions", "Complaints", "Shares", "Own posts", "Replies",
              "Potential reach"]


def response_lines(report: WeeklyReport) -> list[str]:
    """How the week's mentions stand now, and who answered them."""
    r = report.responses
    if not r.actionable:
        return ["No actionable mentions were posted this week."]
    lines = [
        f"{count(r.actionable)} actionable mentions: {count(r.answered)} answered, "
        f"{count(r.pending)} still waiting within their answer window, "
        f"{count(r.unanswered)} unanswered (the window passed).",
        f"SLA: first response within {format_seconds(report.sla_seconds)} of business "
        f"hours. {count(r.within_sla)} answered within it, {count(r.breached)} breached "
        "(answered late or still open past it).",
    ]
    if r.answered:
        lines.append(f"Answered by the official account(s): {count(r.by_official)}; "
                     f"by named employees: {count(r.by_employee)}.")
    lines.append("Calendar time counts every minute until the first response; business "
                 "hours count only the client's opening hours, so a Friday-evening mention "
                 "answered on Monday morning is slow on the calendar and quick in business "
                 "hours. The SLA is measured in business hours.")
    return lines


def surge_heading(surge: Surge, report: WeeklyReport) -> str:
    """`Tue 3 Mar 14:20 – 15:05 (45 min) · severity 6.2` (still open: `open for …`)."""
    tz = report.timezone
    lasted = duration(surge.lasted_seconds(report.as_of))
    if surge.resolved_at is None:
        return f"{moment(surge.opened_at, tz)}, still open ({lasted}) · severity " \
               f"{surge.severity:.1f}"
    end = local(surge.resolved_at, tz)
    same_day = end.date() == local(surge.opened_at, tz).date()
    until = f"{end:%H:%M}" if same_day else moment(surge.resolved_at, tz)
    return f"{moment(surge.opened_at, tz)} – {until} ({lasted}) · severity {surge.severity:.1f}"


def surge_size(surge: Surge) -> str:
    times = surge.observed / surge.expected if surge.expected > 0 else None
    ratio = f", {times:.1f}× the usual" if times is not None else ""
    return (f"{surge.observed:,.0f} complaints observed against {surge.expected:,.1f} "
            f"expected{ratio}.")


SAMPLE_HEADER = ["Posted", "Author", "Followers", "Text"]


def sample_rows(surge: Surge, report: WeeklyReport) -> list[list[str]]:
    return [[moment(m.created_at, report.timezone), f"@{m.author_handle}" if m.author_handle
             else NONE, count(m.author_followers), m.text]
            for m in surge.samples[:SAMPLES_SHOWN]]


def other_alert_lines(report: WeeklyReport) -> list[str]:
    """Alerts other than surges that opened in the week, by kind."""
    names = {"sla_breach": "SLA alerts (mentions waiting past the response SLA)",
             "silent_org": "silence alerts"}
    return [f"{names.get(kind, kind)}: {now:,} (week before: {before:,})"
            for kind, (now, before) in sorted(report.alerts_opened.items())
            if kind != "complaint_surge" and (now or before)]


VOICE_HEADER = ["Author", "Followers", "Influence", "Mentions this week",
                "Complaints this week", "Mentions all time"]


def voice_rows(report: WeeklyReport) -> list[list[str]]:
    return [[f"@{v.author_handle}" + (" (verified)" if v.verified else ""), count(v.followers),
             f"{v.influence:.1f}", count(v.mentions), count(v.complaints),
             count(v.mentions_all_time)] for v in report.voices]


def title(report: WeeklyReport) -> str:
    return f"Weekly report: {report.org_name}"


def subtitle(report: WeeklyReport) -> str:
    sector = f" · sector {report.sector}" if report.sector else ""
    return f"{week_heading(report)} · {report.org_id}{sector}"


def footer(report: WeeklyReport) -> str:
    return ("Made by dorpspomp from the public tables (mentions, mention_responses, "
            "org_activity_1m, alerts, influencers). Response figures belong to the week the "
            "mention was posted in. Top voices: the authors who mentioned the client this "
            "week, ranked by their influence over all time (the influencers view).")
