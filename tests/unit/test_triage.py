"""Which client first: the SLA queue is a reason only when it is a real queue.

The contract counts every mention but a share as expecting an answer, so a client
that let one remark go unanswered keeps a mention past its SLA for the whole answer
window. An account manager asking "which client is on fire now?" wants the clients
with several mentions waiting past the SLA, measured the way the SLA is (business
hours), and wants a live complaint surge above a client that is merely not answering.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from dashboard import queries
from dashboard.triage import QUEUE_MIN, UNANSWERED_MAX, overdue_seconds, urgency
from pipelines.roster import parse_roster
from tests.unit.test_dashboard_ui import FakeReader, app, metrics, open_page, scenario

ROSTER = parse_roster({"orgs": [
    {"id": "gemeente-zutphen", "name": "Gemeente Zutphen", "timezone": "Europe/Amsterdam",
     "first_response_sla": "30m",
     "business_hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}},
]})
ZUTPHEN = ROSTER.org("gemeente-zutphen")
WEDNESDAY = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)    # 13:00 in Amsterdam


def test_one_or_two_late_mentions_are_no_reason_three_are() -> None:
    long_ago = WEDNESDAY - timedelta(days=5)
    for waiting in (1, QUEUE_MIN - 1):
        need = urgency({"open_past_sla": waiting, "oldest_past_sla_at": long_ago},
                       ZUTPHEN, WEDNESDAY)
        assert (need.score, need.reasons) == (0.0, ()), waiting
    need = urgency({"open_past_sla": QUEUE_MIN, "oldest_past_sla_at":
                    WEDNESDAY - timedelta(hours=2)}, ZUTPHEN, WEDNESDAY)
    assert need.queue == need.score == 10.8   # 3·log2(4) + 3·log2(3)
    assert need.reasons == ("3 mentions wait past the 30 min SLA, the oldest 2 h of business "
                            "hours past it",)


def test_how_long_past_the_sla_counts_business_hours_only() -> None:
    friday_late = datetime(2026, 3, 27, 15, 30, tzinfo=UTC)     # 16:30 in Amsterdam
    monday = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)            # 10:00 (summer time)
    # Half an hour on Friday and an hour on Monday: not the 64 hours of the calendar.
    assert overdue_seconds(friday_late, ZUTPHEN, monday) == 1.5 * 3600
    assert overdue_seconds(None, ZUTPHEN, monday) == 0.0
    assert overdue_seconds(monday + timedelta(minutes=5), ZUTPHEN, monday) == 0.0
    need = urgency({"open_past_sla": 4, "oldest_past_sla_at": friday_late}, ZUTPHEN, monday)
    assert need.reasons == ("4 mentions wait past the 30 min SLA, the oldest 1 h 30 min of "
                            "business hours past it",)


def test_a_client_that_answers_nobody_ranks_below_an_open_surge() -> None:
    nobody_home = urgency({"open_past_sla": 2000, "oldest_past_sla_at":
                           WEDNESDAY - timedelta(days=6),
                           "mentions_since_post": 400, "last_mention_at": WEDNESDAY,
                           "last_post_at": None}, ZUTPHEN, WEDNESDAY)
    # Both reasons are written out, but not answering counts once.
    assert len(nobody_home.reasons) == 2
    assert nobody_home.queue == 30.0 and nobody_home.silence == 0.0
    assert nobody_home.score == UNANSWERED_MAX
    surge = urgency({"open_surges": 1, "surge_severity": 2.1, "surge_reach": 0},
                    ZUTPHEN, WEDNESDAY)
    assert surge.score > nobody_home.score
    # Silence with a short queue still adds up, to the same ceiling.
    some = urgency({"open_past_sla": 3, "oldest_past_sla_at": WEDNESDAY - timedelta(hours=1),
                    "mentions_since_post": 40, "last_mention_at": WEDNESDAY,
                    "last_post_at": WEDNESDAY - timedelta(hours=8)}, ZUTPHEN, WEDNESDAY)
    assert (some.queue, some.silence, some.score) == (9.0, 12.5, 21.5)


def test_all_clients_says_what_counts_and_counts_no_client_with_two_late_mentions() -> None:
    answers = scenario()
    for query in (queries.CLIENTS_SURGES, queries.CLIENTS_SILENCE, queries.CLIENTS_ALERTS):
        answers[query] = answers[query].slice(0, 0)
    responses = answers[queries.CLIENTS_RESPONSES]
    answers[queries.CLIENTS_RESPONSES] = responses.set_column(
        responses.schema.get_field_index("open_past_sla"), "open_past_sla",
        pa.array([2, 2], pa.uint64()))
    at = open_page(app(FakeReader(answers)), "clients")
    assert metrics(at)["Clients needing attention"] == "0 of 5"
    assert any("No client needs attention now" in s.value for s in at.success)
    caption = next(c.value for c in at.caption if c.value.startswith("A reason to act"))
    assert f"{QUEUE_MIN} or more mentions waiting past their SLA" in caption
    assert "no post, not even a reply, for 2 h of the client's business hours" in caption
    # The late mentions are not hidden: the table still shows them.
    assert sorted(at.dataframe[-1].value["Past SLA"].tolist(), reverse=True)[:3] == [2, 2, 0]
