"""Surge detection quality against the simulator's ground truth.

A surge counts as detected when a `complaint_surge` alert of its organisation opened
between the surge's start and `grace` after its end. An alert that opened inside no
surge window of its organisation is a false alert. Surges that start before the
detector may alert (its `warmup` of history after the organisation's first event) are
left out of the recall and said so, as are alerts opened then (there are none by design).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelines.simulate import Surge

GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class OpenedAlert:
    org_id: str
    opened_at: datetime


def score(surges: Sequence[Surge], alerts: Sequence[OpenedAlert], *, organisations: int,
          start: datetime, end: datetime, eligible_from: datetime,
          grace: timedelta = GRACE) -> dict[str, Any]:
    """Recall, false alerts and false alerts per organisation per simulated week."""
    eligible = [s for s in surges if eligible_from <= s.start < end]
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for s in surges:
        windows.setdefault(s.org_id, []).append((s.start, s.end + grace))
    detected = 0
    missed: list[dict[str, Any]] = []
    for s in eligible:
        if any(a.org_id == s.org_id and s.start <= a.opened_at <= s.end + grace
               for a in alerts):
            detected += 1
        else:
            missed.append({"org_id": s.org_id, "start": s.start.isoformat(),
                           "minutes": round((s.end - s.start).total_seconds() / 60, 1),
                           "size": s.size, "cause": s.cause,
                           "rate_per_minute": round(s.rate_per_minute, 3),
                           "usual_per_minute": round(s.baseline_per_minute, 4)})
    scored = [a for a in alerts if eligible_from <= a.opened_at < end + grace]
    false = [a for a in scored
             if not any(lo <= a.opened_at <= hi for lo, hi in windows.get(a.org_id, ()))]
    weeks = (end - eligible_from).total_seconds() / (7 * 86_400)
    return {
        "surges": len(eligible),
        "surges_during_warmup": sum(1 for s in surges if s.start < eligible_from),
        "detected": detected,
        "recall": round(detected / len(eligible), 4) if eligible else None,
        "alerts": len(scored),
        "false_alerts": len(false),
        "organisation_weeks": round(organisations * weeks, 1),
        "false_alerts_per_org_week": round(len(false) / (organisations * weeks), 4)
        if weeks > 0 else None,
        "simulated_span": [start.isoformat(), end.isoformat()],
        "grace_minutes": grace.total_seconds() / 60,
        "missed": missed,
    }
