"""Which client first: one urgency score per client, and its reasons in words.

An account manager opening "All clients" asks one question: who is on fire now?
The score answers it from three things that each need someone to act, and
nothing else (a busy hour or a slow day are figures on the page, not reasons):

- an open **complaint surge**: how bad it is (the alert's severity) and how many
  people the complaining voices reach;
- the **SLA queue**: mentions still waiting for a first response past their SLA,
  how many and how long (in the client's business hours) the oldest has been past it —
  from `QUEUE_MIN` of them on: one or two late mentions are a figure in the table and
  in the cross-client queue of the page, not a client on fire (the contract counts
  every mention but a share as expecting an answer, so a client that let a remark go
  unanswered days ago would otherwise stay on this list for a week);
- **silence**: mentions keep coming while none of the client's accounts posted
  anything, not even a reply, for a long stretch of its own business hours (an
  open `silent_org` alert counts as silence too once that stretch is `SILENT_AFTER` of
  business hours: the alert counts calendar time, so without this a client closed at
  weekends would be on the list every Saturday).

Each part is bounded, so that the sum reads as points out of 100 and one part
cannot drown the others: surge 25–55, queue 6–30, silence 10–15, and queue and
silence together at most 30 (a client that answers nobody is both, and that is one
problem, not two). So any surge of severity above 2 (the detector's surges start
near 3) outranks a client that only leaves mentions waiting. The queue's two
halves grow with the logarithm of their figure and reach their ceiling only at 31
mentions and 31 business hours past the SLA, so that on a morning when many
clients have a night's mentions waiting, the worst still stand out. A client with
no reason scores 0, and every point comes with a sentence saying why
(README, "The dashboard"). Everything here is pure: the page and the tests give
the figures, the warehouse is read elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard.display import format_seconds
from pipelines.roster import Org

# Silence: how long (business time) without any post, how many actionable mentions in that
# time, and how recent the newest must be ("mentions keep coming").
SILENT_AFTER = timedelta(hours=2)
SILENT_MENTIONS = 5
STILL_COMING = timedelta(hours=1)
# How far back the dashboard looks for a client's last post.
SILENCE_LOOKBACK = timedelta(days=7)

SURGE_BASE, SURGE_PER_SEVERITY, SURGE_REACH_MAX = 25.0, 2.5, 5.0
QUEUE_PER_DOUBLING, QUEUE_COUNT_MAX, QUEUE_OVERDUE_MAX = 3.0, 15.0, 15.0
SILENCE_BASE, SILENCE_PER_DOUBLING, SILENCE_LONGER_MAX = 10.0, 2.5, 5.0
# The SLA queue is a reason from this many mentions waiting past their SLA ("several").
QUEUE_MIN = 3
# Queue and silence together (what a client leaves unanswered) count at most this much.
UNANSWERED_MAX = 30.0


@dataclass(frozen=True)
class Urgency:
    """A client's urgency: the points of each part, their sum, and the reasons in words."""

    surge: float
    queue: float
    silence: float
    reasons: tuple[str, ...]

    @property
    def score(self) -> float:
        return round(self.surge + self.queue + self.silence, 1)


def surge_points(severity: float, reach: int) -> float:
    """25 for an open surge, 2.5 per point of severity (0-10), and up to 5 for the reach
    of its complaining voices (log10: 100 000 people give 5)."""
    severity = min(max(severity, 0.0), 10.0)
    return SURGE_BASE + SURGE_PER_SEVERITY * severity + min(SURGE_REACH_MAX,
                                                            math.log10(1 + max(reach, 0)))


def queue_points(past_sla: int, overdue: float) -> float:
    """Up to 15 for how many wait past their SLA (1 → 3, 3 → 6, 7 → 9, 31 or more → 15),
    and up to 15 for how long (business seconds) the oldest of them is past it (1 h → 3,
    3 h → 6, 7 h → 9, 31 h or more → 15). `urgency` asks for `QUEUE_MIN` waiting first."""
    if past_sla <= 0:
        return 0.0
    count = min(QUEUE_COUNT_MAX, QUEUE_PER_DOUBLING * math.log2(1 + past_sla))
    longest = min(QUEUE_OVERDUE_MAX,
                  QUEUE_PER_DOUBLING * math.log2(1 + max(overdue, 0.0) / 3600))
    return count + longest


def silence_points(silent_seconds: float) -> float:
    """10 from `SILENT_AFTER` of business time without a post, 2.5 more for each doubling
    of it, at most 15 (2 h → 10, 4 h → 12.5, 8 h or more → 15)."""
    longer = math.log2(max(silent_seconds, 1.0) / SILENT_AFTER.total_seconds())
    return SILENCE_BASE + min(SILENCE_LONGER_MAX, max(0.0, SILENCE_PER_DOUBLING * longer))


def urgency(found: Mapping[str, Any], org: Org, now: datetime) -> Urgency:
    """The urgency of one client from its overview figures (see `dashboard.figures`)."""
    reasons: list[str] = []
    surge = queue = silence = 0.0

    surges = int(found.get("open_surges") or 0)
    if surges:
        severity = float(found.get("surge_severity") or 0.0)
        reach = int(found.get("surge_reach") or 0)
        surge = surge_points(severity, reach)
        opened = found.get("surge_opened_at")
        what = "complaint surge" if surges == 1 else f"{surges} complaint surges, the worst"
        since = (f", open {format_seconds((now - opened).total_seconds())}"
                 if opened is not None else "")
        summary = _without_name(found.get("surge_summary"), org)
        reasons.append(f"{what} (severity {severity:.1f}{since})"
                       + (f": {summary}" if summary else "")
                       + f"; the complainers reach {reach:,} people")

    past_sla = int(found.get("open_past_sla") or 0)
    if past_sla >= QUEUE_MIN:
        overdue = overdue_seconds(found.get("oldest_past_sla_at"), org, now)
        queue = queue_points(past_sla, overdue)
        reasons.append(f"{past_sla:,} mentions wait past the "
                       f"{format_seconds(org.first_response_sla)} SLA, the oldest "
                       f"{format_seconds(overdue)} of business hours past it")

    silent = silent_for(found, org, now)
    if silent is not None:
        silence = silence_points(silent)
        last_post = found.get("last_post_at")
        gap = (f"no post for {format_seconds(silent)} of business hours" if last_post is not None
               else f"no post in the last {format_seconds(SILENCE_LOOKBACK.total_seconds())}")
        reasons.append(f"{gap}, while {int(found.get('mentions_since_post') or 0):,} "
                       "mentions came in")
    elif found.get("open_silences") and (
            business_silence(found, org, now) >= SILENT_AFTER.total_seconds()):
        silence = SILENCE_BASE
        summary = _without_name(found.get("silence_summary"), org)
        reasons.append("silent (alert)" + (f": {summary}" if summary else ""))
    silence = min(silence, max(0.0, UNANSWERED_MAX - queue))
    return Urgency(round(surge, 1), round(queue, 1), round(silence, 1), tuple(reasons))


def overdue_seconds(first_breach: datetime | None, org: Org, now: datetime) -> float:
    """How long the oldest waiting mention has been past its SLA, in the client's business
    hours (a Friday-evening breach is minutes overdue on Monday morning, not days), the way
    the SLA itself is counted."""
    if first_breach is None or first_breach >= now:
        return 0.0
    return org.business_hours.business_seconds(first_breach, now)


def silent_for(found: Mapping[str, Any], org: Org, now: datetime) -> float | None:
    """Business seconds since the client's last post when that makes it silent, else None.

    Silent: at least `SILENT_MENTIONS` actionable mentions since its last post (or in the
    look-back, without one), the newest within `STILL_COMING`, and `SILENT_AFTER` of its
    business hours gone by without a post.
    """
    if int(found.get("mentions_since_post") or 0) < SILENT_MENTIONS:
        return None
    newest = found.get("last_mention_at")
    if newest is None or now - newest > STILL_COMING:
        return None
    seconds = business_silence(found, org, now)
    return seconds if seconds >= SILENT_AFTER.total_seconds() else None


def business_silence(found: Mapping[str, Any], org: Org, now: datetime) -> float:
    """Business seconds since the client's last post (or since the look-back began,
    without one)."""
    since = found.get("last_post_at") or now - SILENCE_LOOKBACK
    return org.business_hours.business_seconds(since, now)


def _without_name(summary: Any, org: Org) -> str:
    """An alert's summary without the client's name in front (the row already shows it)."""
    if not summary:
        return ""
    text = str(summary)
    for name in (org.name, org.id):
        if name and text.startswith(name + ": "):
            return text[len(name) + 2:]
    return text
