"""What each kind of alert is about, in words, from the `details` the pipelines write.

The details are built with the pipelines' own shapes (`Term.to_json`, the keys of
`pipelines.processing.escalation._emit` and `pipelines.processing.responses`) and go through
`pipelines.ingest.sink.alerts_table`, so the text read here is the text the warehouse holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from dashboard.alertdetails import about, about_column, about_lines, details_of, markdown_text
from dashboard.display import NO_VALUE
from pipelines.ingest.sink import alerts_table
from pipelines.processing.alerts import Alert
from pipelines.processing.surge_explain import Term

AT = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
ZONE = "Europe/Amsterdam"  # UTC+1 on 25 March 2026 (summer time starts on the 29th)


def written(kind: str, details: dict[str, Any]) -> str:
    """`details` as the sink writes it into the warehouse's column."""
    alert = Alert(alert_id=f"{kind}:gemeente-zutphen:1", org_id="gemeente-zutphen", kind=kind,
                  status="open", opened_at=AT, resolved_at=None, severity=5.0, observed=1.0,
                  expected=1.0, summary="s", sample_event_ids=(), updated_at=AT, version=1,
                  details=details)
    value = alerts_table([alert])["details"][0].as_py()
    assert isinstance(value, str)
    return value


SURGE = written("complaint_surge", {
    "window_minutes": 10, "window_start": "2026-03-25T11:50Z", "reach": 913_000,
    "log_p": -31.2, "other_mentions": 6, "usual_complaints": 4.1,
    "usual_other_mentions": 20.0, "share": 0.87, "usual_share": 0.17,
    "terms": [Term("#storing", 14, 0.4, 0.02).to_json(),
              Term("stroom", 12, 0.343, 0.05).to_json(),
              Term("wijk", 9, 0.257, 0.01).to_json(),
              Term("licht", 8, 0.229, 0.0).to_json()],
    "sampled_complaints": 35, "sampled_usual": 300,
    "top_authors": [{"author_id": "u1", "handle": "anna_z", "followers": 896_037},
                    {"author_id": "u2", "handle": "piet", "followers": 1}],
    "posts": [{"event_id": "e1", "author": "anna_z", "followers": 896_037,
               "text": "Weer #storing in de wijk, *niemand* neemt op"},
              {"event_id": "e2", "author": "piet", "followers": 1, "text": "Geen stroom!"},
              {"event_id": "e3", "author": "kees", "followers": 40, "text": "Ook hier"}],
})
SLA_OPEN = written("sla_breach", {
    "past_sla": 9, "complaints_past_sla": 3, "oldest_mention_id": "m-old",
    "oldest_created_at": "2026-03-25T08:30:00.000Z", "oldest_business_seconds": 9000.0,
    "sla_seconds": 1800.0, "confirmed": True})


def test_a_surge_says_its_terms_against_the_usual_its_loudest_authors_and_posts() -> None:
    assert about("complaint_surge", SURGE, ZONE) == (
        "#storing in 40% of its complaints (usually 2%), stroom in 34% of its complaints "
        "(usually 5%), wijk in 26% of its complaints (usually 1%); "
        "loudest @anna_z (896,037 followers)")
    assert about_lines("complaint_surge", SURGE, ZONE) == [
        "Terms that set it apart: #storing in 40% of its complaints (usually 2%), stroom in "
        "34% of its complaints (usually 5%), wijk in 26% of its complaints (usually 1%), "
        "licht in 23% of its complaints (usually 0%)",
        "Complaints were 87% of its mentions (usually 17%)",
        "Most-followed authors: @anna_z (896,037 followers), @piet (1 follower)",
        "@anna_z (896,037 followers): “Weer #storing in de wijk, *niemand* neemt op”",
        "@piet (1 follower): “Geen stroom!”",
    ]


def test_an_sla_breach_says_how_many_wait_and_since_when_the_oldest_in_the_zone() -> None:
    line = ("9 mentions wait past the 30 min SLA (3 of them complaints); the oldest since "
            "2026-03-25 09:30, 2 h 30 min of business time")
    assert about("sla_breach", SLA_OPEN, ZONE) == line
    assert about_lines("sla_breach", SLA_OPEN, ZONE) == [line]
    one = written("sla_breach", {"past_sla": 1, "complaints_past_sla": 0,
                                 "oldest_created_at": "2026-03-25T11:00:00.000Z",
                                 "oldest_business_seconds": 3600.0, "sla_seconds": 1800.0})
    assert about("sla_breach", one, "UTC") == (
        "1 mention waits past the 30 min SLA; the oldest since 2026-03-25 11:00, 1 h of "
        "business time")


def test_a_resolved_or_withdrawn_sla_breach_says_nobody_waits() -> None:
    resolved = written("sla_breach", {"past_sla": 0, "sla_seconds": 1800.0,
                                      "confirmed": True})
    withdrawn = written("sla_breach", {"past_sla": 0, "sla_seconds": 1800.0,
                                       "confirmed": False})
    assert about("sla_breach", resolved, ZONE) == "no mention waits past the 30 min SLA any more"
    assert about("sla_breach", withdrawn, ZONE) == (
        "no mention waited past the 30 min SLA after all: the answers were read late")


def test_a_silent_client_says_since_when() -> None:
    silent = written("silent_org", {"silent_since": "2026-03-25T06:00:00.000Z",
                                    "since_a_post": True,
                                    "latest_mention_at": "2026-03-25T11:55:00.000Z"})
    never = written("silent_org", {"silent_since": "2026-03-25T06:00:00.000Z",
                                   "since_a_post": False,
                                   "latest_mention_at": "2026-03-25T11:55:00.000Z"})
    again = written("silent_org", {"last_post": "2026-03-25T12:10:00.000Z"})
    assert about("silent_org", silent, ZONE) == (
        "no post from its accounts since 2026-03-25 07:00; the latest mention 2026-03-25 12:55")
    assert about("silent_org", never, ZONE).startswith(
        "no post from its accounts since its first mention, 2026-03-25 07:00")
    assert about("silent_org", again, ZONE) == "posted again 2026-03-25 13:10"


@pytest.mark.parametrize("raw", [None, "", "{}", "not json", "[1, 2]", '{"terms": "x"}',
                                 '{"past_sla": "many", "silent_since": "yesterday"}',
                                 '{"last_post": null}'])
@pytest.mark.parametrize("kind", ["complaint_surge", "sla_breach", "silent_org", "new_kind"])
def test_old_or_odd_details_show_no_value_never_an_error(kind: str, raw: str | None) -> None:
    assert about(kind, raw, ZONE) == NO_VALUE
    assert about_lines(kind, raw, ZONE) == []


def test_details_of_reads_the_column_and_a_mapping_alike() -> None:
    assert details_of(SLA_OPEN)["past_sla"] == 9
    assert details_of({"past_sla": 2}) == {"past_sla": 2}
    assert details_of(b'{"a": 1}') == {"a": 1}


def test_about_column_gives_every_alert_its_line_and_old_frames_the_no_value_mark() -> None:
    frame = pl.DataFrame({"kind": ["sla_breach", "complaint_surge", "silent_org"],
                          "details": [SLA_OPEN, "", None]})
    assert frame.select(about_column(frame, ZONE))["about"].to_list() == [
        about("sla_breach", SLA_OPEN, ZONE), NO_VALUE, NO_VALUE]
    old = frame.drop("details")
    assert old.select(about_column(old, ZONE))["about"].to_list() == [NO_VALUE] * 3


def test_posts_and_handles_are_shown_as_written_not_as_markdown() -> None:
    assert markdown_text("*niemand* #storing [link](x)") == (
        r"\*niemand\* \#storing \[link\]\(x\)")
    assert markdown_text("twee\n\nregels") == "twee regels"
