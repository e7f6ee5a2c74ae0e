"""What an alert is about, in words, from its `details` (the `alerts` column, JSON).

The pipelines write each kind's own facts there (`pipelines.processing.escalation` for complaint
surges, `pipelines.processing.responses` for `sla_breach` and `silent_org`); alerts written before
migration 0006 read '' and an unknown kind may hold anything, so every function here
takes the raw column and answers `NO_VALUE` (or nothing) rather than fail. `about` is
one line for a table; `about_lines` the whole story for an alert opened on the page.
Pure functions, tested without Streamlit.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import polars as pl

from dashboard.display import NO_VALUE, format_seconds, local_time, share

TERMS_IN_LINE = 3  # terms on the one-line version; the full story shows all written
POSTS_SHOWN = 2  # sample posts the full story quotes


def details_of(raw: object) -> dict[str, Any]:
    """The details as a mapping: {} for a missing, empty or unreadable value."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str | bytes) or not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def about(kind: str, raw: object, zone: str) -> str:
    """One line on what the alert is about, or `NO_VALUE` when its details say nothing."""
    details = details_of(raw)
    if kind == "complaint_surge":
        parts = [", ".join(_term(t) for t in _list(details, "terms")[:TERMS_IN_LINE])]
        authors = _list(details, "top_authors")
        if authors:
            parts.append("loudest " + _author(authors[0]))
        line = "; ".join(p for p in parts if p)
    elif kind == "sla_breach":
        line = _waiting(details, zone)
    elif kind == "silent_org":
        line = _silence(details, zone)
    else:
        line = ""
    return line or NO_VALUE


def about_lines(kind: str, raw: object, zone: str) -> list[str]:
    """What the alert is about, a line per fact; none when its details say nothing."""
    details = details_of(raw)
    if kind == "complaint_surge":
        return _surge_lines(details)
    line = about(kind, details, zone)
    return [] if line == NO_VALUE else [line]


def about_column(alerts: pl.DataFrame, zone: str) -> pl.Expr:
    """The `about` column of a table of alerts (`kind`, `details`); a frame without
    `details` gets `NO_VALUE` on every row."""
    details = (pl.col("details").cast(pl.String) if "details" in alerts.columns
               else pl.lit(None, dtype=pl.String).alias("details"))
    return pl.struct("kind", details).map_elements(
        lambda r: about(r["kind"], r["details"], zone), return_dtype=pl.String).alias("about")


def markdown_text(text: str) -> str:
    """`text` (people's posts and handles) shown as written, not read as Markdown."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~$])", r"\\\1", " ".join(text.split()))


# -- the kinds -------------------------------------------------------------------------------


def _surge_lines(details: dict[str, Any]) -> list[str]:
    lines = []
    terms = _list(details, "terms")
    if terms:
        lines.append("Terms that set it apart: " + ", ".join(_term(t) for t in terms))
    if isinstance(details.get("share"), int | float):
        lines.append(f"Complaints were {share(details['share'])} of its mentions (usually "
                     f"{share(_number(details, 'usual_share'))})")
    authors = _list(details, "top_authors")
    if authors:
        lines.append("Most-followed authors: " + ", ".join(_author(a) for a in authors))
    for post in _list(details, "posts")[:POSTS_SHOWN]:
        text = post.get("text")
        if isinstance(text, str) and text.strip():
            who = post.get("author") or NO_VALUE
            lines.append(f"@{who} ({_followers(post.get('followers'))}): “{text.strip()}”")
    return lines


def _waiting(details: dict[str, Any], zone: str) -> str:
    waiting = details.get("past_sla")
    if not isinstance(waiting, int):
        return ""
    sla = format_seconds(_number(details, "sla_seconds"))
    if waiting == 0:
        if details.get("confirmed") is False:
            return (f"no mention waited past the {sla} SLA after all: the answers were "
                    "read late")
        return f"no mention waits past the {sla} SLA any more"
    complaints = details.get("complaints_past_sla")
    of_them = (f" ({complaints:,} of them complaints)"
               if isinstance(complaints, int) and complaints else "")
    noun = "mention waits" if waiting == 1 else "mentions wait"
    line = f"{waiting:,} {noun} past the {sla} SLA{of_them}"
    oldest = _time(details.get("oldest_created_at"))
    if oldest is not None:
        waited = format_seconds(_number(details, "oldest_business_seconds"))
        line += (f"; the oldest since {local_time(oldest, zone)}, "
                 f"{waited} of business time")
    return line


def _silence(details: dict[str, Any], zone: str) -> str:
    since = _time(details.get("silent_since"))
    if since is not None:
        what = ("no post from its accounts since" if details.get("since_a_post") is not False
                else "no post from its accounts since its first mention,")
        line = f"{what} {local_time(since, zone)}"
        latest = _time(details.get("latest_mention_at"))
        if latest is not None:
            line += f"; the latest mention {local_time(latest, zone)}"
        return line
    posted = _time(details.get("last_post"))
    if posted is not None:
        return f"posted again {local_time(posted, zone)}"
    return ""


# -- the pieces ------------------------------------------------------------------------------


def _term(term: dict[str, Any]) -> str:
    """"#storing in 40% of its complaints (usually 2%)"."""
    return (f"{term.get('term') or NO_VALUE} in {share(_number(term, 'share'))} of its "
            f"complaints (usually {share(_number(term, 'usual_share'))})")


def _author(author: dict[str, Any]) -> str:
    return f"@{author.get('handle') or NO_VALUE} ({_followers(author.get('followers'))})"


def _followers(n: object) -> str:
    if not isinstance(n, int):
        return f"{NO_VALUE} followers"
    return f"{n:,} follower" + ("" if n == 1 else "s")


def _list(details: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = details.get(key)
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []


def _number(details: dict[str, Any], key: str) -> float | None:
    value = details.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _time(value: object) -> datetime | None:
    """An ISO instant the pipelines wrote ("2026-03-25T10:00:00.000Z"), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None
