"""Grading complaint-surge alerts against the evaluation world's ground truth.

A storm counts as found when an alert of its organisation opened between its start and
`GRACE` after its end (a lasting new level: within `LEVEL_WINDOW` of its start); its
delay is the alert's `opened_at` (the end of the minute that showed it) minus the start.
A burst of praise or questions counts as alerted when an alert opened in the same
window. An alert inside no episode's window is a false alert; alerts that open while a
new level lasts, after the one that found it, are counted apart (`level_realerts`), and
the organisation-weeks of false alerts leave those stretches out. An alert explains a
storm when the storm's own hashtag is among the alert's terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelines.evalworld.world import BURSTS, STORMS, Episode

GRACE = timedelta(minutes=10)
LEVEL_WINDOW = timedelta(hours=3)


@dataclass(frozen=True)
class Opened:
    """An alert as it opened."""

    org_id: str
    opened_at: datetime
    terms: tuple[str, ...] = ()
    summary: str = ""


def window(e: Episode) -> tuple[datetime, datetime]:
    if e.shape == "level":
        return e.start, e.start + LEVEL_WINDOW
    return e.start, e.end + GRACE


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p90 and max (linear interpolation between closest ranks)."""
    out: dict[str, Any] = {"n": len(values)}
    if not values:
        return out
    ordered = sorted(values)
    for q in (50, 90):
        rank = (len(ordered) - 1) * q / 100
        low, high = math.floor(rank), math.ceil(rank)
        out[f"p{q}"] = round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 2)
    out["max"] = round(ordered[-1], 2)
    return out


def score(episodes: Sequence[Episode], alerts: Sequence[Opened], *,
          organisations: Sequence[str], eligible_from: datetime, end: datetime
          ) -> dict[str, Any]:
    by_org: dict[str, list[Opened]] = {}
    for a in sorted(alerts, key=lambda a: (a.opened_at, a.org_id)):
        by_org.setdefault(a.org_id, []).append(a)
    used: set[int] = set()
    per_shape: dict[str, dict[str, Any]] = {}
    delays: list[float] = []
    missed: list[dict[str, Any]] = []
    alerted_bursts: list[dict[str, Any]] = []
    with_tag = explained = 0
    for e in episodes:
        low, high = window(e)
        hits = [a for a in by_org.get(e.org_id, []) if low <= a.opened_at <= high]
        used.update(id(a) for a in hits)
        row = per_shape.setdefault(e.shape, {"episodes": 0, "alerted": 0, "delays": []})
        row["episodes"] += 1
        if not hits:
            if e.storm:
                missed.append(e.to_json())
            continue
        row["alerted"] += 1
        first = hits[0]
        delay = (first.opened_at - e.start).total_seconds() / 60
        if e.storm:
            row["delays"].append(delay)
            delays.append(delay)
            if e.hashtag:
                with_tag += 1
                explained += e.hashtag.lower() in first.terms
        else:
            alerted_bursts.append({**e.to_json(), "alert": first.summary})
    levels = {e.org_id: e.start for e in episodes if e.shape == "level"}
    realerts = [a for a in alerts if id(a) not in used and a.org_id in levels
                and a.opened_at >= levels[a.org_id]]
    used.update(id(a) for a in realerts)
    false = [a for a in alerts if id(a) not in used and a.opened_at >= eligible_from]
    weeks = sum((min(end, levels.get(o, end)) - eligible_from).total_seconds()
                 for o in organisations) / (7 * 86_400)
    storms = [e for e in episodes if e.storm]
    found = sum(per_shape[s]["alerted"] for s in STORMS if s in per_shape)
    shapes: dict[str, Any] = {}
    for shape in SHAPE_ORDER:
        if shape not in per_shape:
            continue
        row = per_shape[shape]
        entry: dict[str, Any] = {"episodes": row["episodes"], "alerted": row["alerted"]}
        if shape in STORMS:
            entry["recall"] = round(row["alerted"] / row["episodes"], 4)
            entry["delay_minutes"] = percentiles(row["delays"])
        shapes[shape] = entry
    storm_recalls = [v["recall"] for k, v in shapes.items() if k in STORMS]
    return {
        "storms": len(storms),
        "detected": found,
        "recall": round(found / len(storms), 4) if storms else None,
        "lowest_shape_recall": min(storm_recalls) if storm_recalls else None,
        "delay_minutes": percentiles(delays),
        "median_delay_minutes": percentiles(delays).get("p50"),
        "shapes": shapes,
        "praise_bursts": f"{shapes.get('praise', {}).get('alerted', 0)} of "
                         f"{shapes.get('praise', {}).get('episodes', 0)}",
        "praise_bursts_alerted": shapes.get("praise", {}).get("alerted"),
        "question_bursts_alerted": shapes.get("questions", {}).get("alerted"),
        "false_alerts": len(false),
        "organisation_weeks": round(weeks, 1),
        "false_alerts_per_org_week": round(len(false) / weeks, 4) if weeks > 0 else None,
        "level_realerts": len(realerts),
        "explained": {"storms_with_hashtag": with_tag, "hashtag_among_terms": explained},
        "grace_minutes": GRACE.total_seconds() / 60,
        "missed": missed,
        "alerted_bursts": alerted_bursts,
        "false_alert_list": [{"org_id": a.org_id, "opened_at": a.opened_at.isoformat(),
                              "summary": a.summary} for a in false[:30]],
    }


SHAPE_ORDER = (*STORMS, *BURSTS)
