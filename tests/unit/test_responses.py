"""The response tracker: first responses, business-time SLAs, alerts, bounded state.

Expected values are worked out by hand in the comments. Dates are in 2026: 2 and 9 March
are Mondays, 6 March a Friday; Europe/Amsterdam is on CET (UTC+1) until Sunday 29 March
02:00, on CEST (UTC+2) after it. The roster: Gemeente Zutphen (Amsterdam, Mon-Fri
09:00-17:00, SLA 30m, window 7d) with an official and an employee account, and Bakkerij
Oost (Amsterdam, open round the clock, SLA 1h, window 2d) with its own account.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.alerts import Alert
from pipelines.decode import Mention, Post, Source, decode
from pipelines.responses import (
    VERSION_ANSWERED,
    ResponseRow,
    ResponseTracker,
    TrackerOutput,
    _Calendar,
    _Terms,
)
from pipelines.roster import DAYS, BusinessHours, parse_roster

AMS = ZoneInfo("Europe/Amsterdam")
ZUTPHEN, BAKKERIJ = "gemeente-zutphen", "bakkerij-oost"
PARTITION = {ZUTPHEN: 0, BAKKERIJ: 1, "onbekend": 0}
HOUR, DAY = 3600, 86400

ROSTER = parse_roster({
    "defaults": {"timezone": "UTC", "first_response_sla": "1h", "answer_window": "7d"},
    "orgs": [
        {"id": ZUTPHEN, "name": "Gemeente Zutphen", "timezone": "Europe/Amsterdam",
         "business_hours": {day: "09:00-17:00" for day in DAYS[:5]},
         "first_response_sla": "30m", "answer_window": "7d",
         "accounts": [
             {"platform": "twitter", "handle": "gemeentezutphen", "role": "official"},
             {"platform": "twitter", "handle": "marieke_zutphen", "role": "employee"},
         ]},
        {"id": BAKKERIJ, "name": "Bakkerij Oost", "timezone": "Europe/Amsterdam",
         "business_hours": {day: "00:00-24:00" for day in DAYS},
         "first_response_sla": "1h", "answer_window": "2d",
         "accounts": [{"platform": "twitter", "handle": "bakkerijoost", "role": "official"}]},
    ],
})


def ams(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        ms: int = 0) -> datetime:
    """A wall-clock time in Amsterdam in 2026, as the UTC instant events carry."""
    return datetime(2026, month, day, hour, minute, second, ms * 1000,
                    tzinfo=AMS).astimezone(UTC)


class Events:
    """Makes events the way the decoder does, with offsets in order per partition."""

    def __init__(self) -> None:
        self.offsets: dict[int, int] = {}

    def source(self, partition: int) -> Source:
        self.offsets[partition] = self.offsets.get(partition, -1) + 1
        return Source("dorpspomp.events", partition, self.offsets[partition])

    def mention(self, event_id: str, at: datetime, org: str = ZUTPHEN, kind: str = "mention",
                handle: str = "klant", complaint: bool = False,
                partition: int | None = None) -> Mention:
        return Mention(
            org_id=org, event_id=event_id, platform="twitter", created_at=at,
            author_id=f"id-{handle}", author_handle=handle, author_followers=10,
            author_verified=False, kind=kind, text="@gemeente waar blijft mijn paspoort?",
            lang="nl", in_reply_to=None, shared_from=None, sentiment=-0.5, complaint=complaint,
            source=self.source(PARTITION[org] if partition is None else partition),
        )

    def reply(self, event_id: str, at: datetime, to: str | None, org: str = ZUTPHEN,
              handle: str = "gemeentezutphen", role: str = "official",
              partition: int | None = None) -> Post:
        return Post(
            org_id=org, event_id=event_id, platform="twitter", created_at=at,
            account_id=f"id-{handle}", account_handle=handle, account_role=role,
            account_followers=5000, kind="reply", in_reply_to=to, text="We kijken ernaar!",
            org_source="roster",
            source=self.source(PARTITION[org] if partition is None else partition),
        )

    def decoded_post(self, doc: dict[str, Any], partition: int = 0) -> Post:
        """A post through the real decoder, so the roster resolves its org and role."""
        post = decode(orjson.dumps({"type": "post", **doc}), self.source(partition), ROSTER)
        assert isinstance(post, Post), post
        return post


def feed(tracker: ResponseTracker, *events: Mention | Post,
         clocks: dict[int, datetime] | None = None) -> TrackerOutput:
    """One batch, with the clocks a worker passes: the newest event time per partition."""
    newest = dict(clocks or {})
    for event in events:
        p = event.source.partition
        if p not in newest or event.created_at > newest[p]:
            newest[p] = event.created_at
    return tracker.process([e for e in events if isinstance(e, Mention)],
                           [e for e in events if isinstance(e, Post)], newest)


def tick(tracker: ResponseTracker, at: datetime, partition: int = 0) -> TrackerOutput:
    """The partition's clock reaches `at` (other events were read), nothing for us."""
    return tracker.process([], [], {partition: at})


def only(rows: Sequence[ResponseRow]) -> ResponseRow:
    assert len(rows) == 1, rows
    return rows[0]


def ms_since_epoch(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# -- pairing ------------------------------------------------------------------------------


def test_a_reply_that_arrives_before_its_mention_is_paired() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    # The reply is read first (another consumer lagged); nothing to say about it yet.
    early = feed(tracker, events.reply("r1", ams(3, 2, 10, 10), to="m1"))
    assert early.rows == [] and early.alerts == []
    assert tracker.orphan_posts == 1
    out = feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
    # Mon 10:00 -> 10:10 CET: 600 s, all of it inside 09:00-17:00.
    assert only(out.rows) == ResponseRow(
        org_id=ZUTPHEN, mention_id="m1", platform="twitter", created_at=ams(3, 2, 10, 0),
        first_response_id="r1", first_response_at=ams(3, 2, 10, 10),
        responder_handle="gemeentezutphen", responder_role="official",
        response_seconds=600.0, business_response_seconds=600.0, sla_seconds=1800.0,
        sla_breached=False, author_id="id-klant", author_handle="klant", kind="mention",
        complaint=False, answer_deadline=ams(3, 9, 10, 0),
        # 30 min of business time after 10:00, plus 1 ms: 10:30:00.001
        sla_breach_at=ams(3, 2, 10, 30, 0, 1),
        version=VERSION_ANSWERED - ms_since_epoch(ams(3, 2, 10, 10)),
    )
    assert tracker.orphan_posts == 0 and tracker.open_mentions == 1
    assert out.alerts == []


def test_an_employee_reply_counts_as_the_first_response() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    feed(tracker, events.mention("m1", ams(3, 2, 11, 0)))
    # The post names no org and no role: the roster knows @Marieke_Zutphen is an employee.
    post = events.decoded_post({
        "event_id": "r1", "platform": "twitter", "created_at": "2026-03-02T10:05:00Z",
        "account": {"id": "99", "handle": "@Marieke_Zutphen"}, "kind": "reply",
        "in_reply_to": "m1",
    })
    assert (post.org_id, post.account_role) == (ZUTPHEN, "employee")
    row = only(feed(tracker, post).rows)
    # 11:00 CET -> 10:05Z = 11:05 CET: 300 s.
    assert (row.first_response_id, row.responder_role) == ("r1", "employee")
    assert row.responder_handle == "@Marieke_Zutphen"
    assert row.response_seconds == row.business_response_seconds == 300.0


def test_a_reply_from_another_organisations_account_does_not_count() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
    foreign = events.decoded_post({
        "event_id": "b1", "platform": "twitter", "created_at": "2026-03-02T09:05:00Z",
        "account": {"id": "7", "handle": "bakkerijoost"}, "in_reply_to": "m1",
    })
    assert foreign.org_id == BAKKERIJ
    # Read on Zutphen's partition, so Zutphen's clock reaches 10:05 CET: nothing changes.
    out = feed(tracker, foreign)
    assert out.rows == [] and out.alerts == []
    # Zutphen still owes an answer: at 10:30:00.001 its SLA runs out.
    breach = tick(tracker, ams(3, 2, 10, 31))
    assert [a.status for a in breach.alerts] == ["open"]
    own = only(feed(tracker, events.reply("r1", ams(3, 2, 10, 40), to="m1")).rows)
    assert (own.first_response_id, own.business_response_seconds) == ("r1", 2400.0)


# -- business time ------------------------------------------------------------------------


def test_friday_afternoon_answered_monday_morning_counts_business_time_only() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    feed(tracker, events.mention("m1", ams(3, 6, 16, 45)))
    out = feed(tracker, events.reply("r1", ams(3, 9, 9, 15), to="m1"))
    row = only(out.rows)
    # Calendar: Fri 15:45Z -> Mon 08:15Z = 2 days 16.5 h = 64.5 h = 232 200 s.
    assert row.response_seconds == 232_200.0
    # Business: Fri 16:45-17:00 (900 s) + weekend closed + Mon 09:00-09:15 (900 s) = 1800 s.
    assert row.business_response_seconds == 1800.0
    # Exactly the SLA is not more than the SLA: the breach would be 1 ms later.
    assert row.sla_breached is False
    assert row.sla_breach_at == ams(3, 9, 9, 15, 0, 1)
    assert out.alerts == [] and tick(tracker, ams(3, 9, 12)).alerts == []


def test_a_span_across_the_change_to_summer_time_counts_real_seconds() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    # Zutphen: Fri 27 March 16:30 CET (15:30Z) -> Mon 30 March 09:30 CEST (07:30Z).
    feed(tracker, events.mention("m1", ams(3, 27, 16, 30)))
    row = only(feed(tracker, events.reply("r1", ams(3, 30, 9, 30), to="m1")).rows)
    # The wall clock moved 65 h, but Sunday 02:00-03:00 never happened: 64 h = 230 400 s.
    assert ams(3, 30, 9, 30) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert row.response_seconds == 230_400.0
    # Business: Fri 16:30-17:00 (1800 s) + Mon 09:00-09:30 (1800 s) = 3600 s > 1800 s.
    assert row.business_response_seconds == 3600.0 and row.sla_breached is True
    # 1800 s are used up at Fri 17:00; 1 ms more is Mon 09:00:00.001 CEST = 07:00:00.001Z.
    assert row.sla_breach_at == datetime(2026, 3, 30, 7, 0, 0, 1000, tzinfo=UTC)
    # The bakery is open round the clock: Sat 28 March 12:00 CET -> Sun 29 12:00 CEST is
    # 24 h on the wall clock but 23 h = 82 800 s of real, and of business, time.
    feed(tracker, events.mention("m2", ams(3, 28, 12), org=BAKKERIJ))
    bakery = only(feed(tracker, events.reply("r2", ams(3, 29, 12), to="m2", org=BAKKERIJ,
                                             handle="bakkerijoost")).rows)
    assert bakery.response_seconds == bakery.business_response_seconds == 82_800.0
    # Its SLA: 1 h and 1 ms after Sat 12:00 CET.
    assert bakery.sla_breach_at == ams(3, 28, 13, 0, 0, 1)


# -- SLA alerts ---------------------------------------------------------------------------


def test_an_sla_breach_opens_one_alert_however_often_the_clock_moves() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    feed(tracker, events.mention("m1", ams(3, 2, 10, 0), handle="@boze_burger", complaint=True))
    alerts: list[Alert] = []
    # 10:30:00.000 is exactly 30 min: not more than the SLA yet.
    for at in (ams(3, 2, 10, 15), ams(3, 2, 10, 30), ams(3, 2, 10, 30)):
        alerts += tick(tracker, at).alerts
    assert alerts == []
    for minute in range(0, 60 * 24 * 3, 7):  # three days, a tick every 7 minutes
        alerts += tick(tracker, ams(3, 2, 10, 30, 0, 1) + timedelta(minutes=minute)).alerts
    assert alerts == [Alert(
        alert_id="sla_breach:m1", org_id=ZUTPHEN, kind="sla_breach", status="open",
        opened_at=ams(3, 2, 10, 30, 0, 1), resolved_at=None, severity=7.0,
        observed=1800.001, expected=1800.0,
        summary="Gemeente Zutphen: mention by @boze_burger unanswered for more than 30m "
                "business time",
        sample_event_ids=("m1",), updated_at=ams(3, 2, 10, 30, 0, 1), version=1,
    )]


def test_a_mention_unanswered_after_its_window_keeps_its_one_row() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    first = feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
    row = only(first.rows)
    assert (row.first_response_id, row.response_seconds, row.version) == (None, None, 0)
    assert row.answer_deadline == ams(3, 9, 10, 0)  # created_at + 7 days
    assert row.sla_breached is False  # open: the view decides from the watermark
    later: list[ResponseRow] = []
    for day in range(1, 12):  # well past the window (9 March) and the lateness (10 March)
        later += tick(tracker, ams(3, 2, 10, 0) + timedelta(days=day)).rows
    assert later == []
    assert tracker.open_mentions == 0


def test_a_late_answer_after_the_window_but_within_lateness_still_counts() -> None:
    tracker, events = ResponseTracker(ROSTER, lateness_seconds=DAY), Events()
    feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
    opened = tick(tracker, ams(3, 9, 12, 0)).alerts  # past the 7-day window (Mon 9, 10:00)
    assert [(a.status, a.version) for a in opened] == [("open", 1)]
    out = feed(tracker, events.reply("r1", ams(3, 9, 11, 0), to="m1"))
    row = only(out.rows)
    # Calendar: 7 days 1 h = 608 400 s. Business: Mon 2 10:00-17:00 (7 h) + Tue-Fri 4 x 8 h
    # + Mon 9 09:00-11:00 (2 h) = 41 h = 147 600 s.
    assert (row.response_seconds, row.business_response_seconds) == (608_400.0, 147_600.0)
    assert row.sla_breached is True
    (resolved,) = out.alerts
    assert (resolved.status, resolved.version, resolved.retracted) == ("resolved", 2, False)
    assert resolved.resolved_at == resolved.updated_at == ams(3, 9, 11, 0)
    assert resolved.opened_at == ams(3, 2, 10, 30, 0, 1)
    assert resolved.observed == 147_600.0 and resolved.expected == 1800.0
    # log2(147 600 / 1800) = 6.36, capped at +3 over a mention's 5.
    assert resolved.severity == 8.0
    assert "answered after 1d17h business time" in resolved.summary
    # After window + lateness (Tue 10 March 10:00) the mention has left: an even earlier
    # reply that turns up now is ignored.
    tick(tracker, ams(3, 10, 10, 0, 0, 1))
    too_late = feed(tracker, events.reply("r0", ams(3, 2, 10, 5), to="m1"))
    assert too_late.rows == [] and too_late.alerts == []
    # Its memory goes at the end of that hour (10:00-11:00 CET).
    tick(tracker, ams(3, 10, 11, 0))
    assert tracker.open_mentions == 0


def test_a_later_arriving_earlier_reply_replaces_the_first_response() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
    # 11:00 is 1 h of business time: over the SLA. The reply moves the clock past the
    # breach (10:30:00.001), so the alert is born resolved.
    out = feed(tracker, events.reply("r2", ams(3, 2, 11, 0), to="m1"))
    slow = only(out.rows)
    assert (slow.first_response_id, slow.business_response_seconds) == ("r2", 3600.0)
    (born_resolved,) = out.alerts
    assert (born_resolved.status, born_resolved.version) == ("resolved", 2)
    assert born_resolved.opened_at == ams(3, 2, 10, 30, 0, 1)
    assert born_resolved.resolved_at == ams(3, 2, 11, 0)
    # A reply posted at 10:20 turns up only now (another collector lagged).
    out = feed(tracker, events.reply("r1", ams(3, 2, 10, 20), to="m1"))
    fast = only(out.rows)
    assert (fast.first_response_id, fast.business_response_seconds) == ("r1", 1200.0)
    assert fast.sla_breached is False
    assert fast.version > slow.version  # the earlier response wins in the warehouse
    assert fast.version - slow.version == 40 * 60 * 1000  # 40 minutes in ms
    (retracted,) = out.alerts
    assert (retracted.version, retracted.retracted, retracted.observed) == (3, True, 1200.0)
    assert retracted.severity == 0.0
    # A later reply changes nothing.
    assert feed(tracker, events.reply("r3", ams(3, 2, 10, 25), to="m1")).rows == []


def test_a_tie_on_created_at_goes_to_the_smaller_event_id() -> None:
    at = ams(3, 2, 10, 5)
    for order in (["r-b", "r-a"], ["r-a", "r-b"]):
        tracker, events = ResponseTracker(ROSTER), Events()
        feed(tracker, events.mention("m1", ams(3, 2, 10, 0)))
        rows = [r for post_id in order
                for r in feed(tracker, events.reply(post_id, at, to="m1")).rows]
        assert rows[-1].first_response_id == "r-a"
        # Both are posted in the same millisecond: equal versions, and the warehouse keeps
        # the row written last, which is the better one.
        assert len({r.version for r in rows}) == 1
        assert final_rows(rows)["m1"].first_response_id == "r-a"


def test_shares_are_not_tracked() -> None:
    tracker, events = ResponseTracker(ROSTER), Events()
    out = feed(tracker, events.mention("s1", ams(3, 2, 10, 0), kind="share"),
               events.reply("r1", ams(3, 2, 10, 5), to="s1"))
    assert out.rows == [] and out.alerts == []
    assert tick(tracker, ams(3, 3, 12)).alerts == []
    assert tracker.open_mentions == 0


def test_state_is_dropped_once_the_clock_passes_window_and_lateness() -> None:
    tracker, events = ResponseTracker(ROSTER, lateness_seconds=HOUR), Events()
    created = ams(3, 2, 10, 0)
    feed(tracker, events.mention("m1", created),
         events.reply("r9", ams(3, 2, 10, 1), to="nothing-we-track"))
    assert (tracker.open_mentions, tracker.orphan_posts) == (1, 1)
    # The mention leaves after created + 7 d + 1 h; the orphan after its created_at + 1 h +
    # the longest window in the roster (7 d).
    keep_mention = created + timedelta(days=7, hours=1)
    keep_orphan = ams(3, 2, 10, 1) + timedelta(days=7, hours=1)
    tick(tracker, keep_mention)
    assert tracker.open_mentions == 1
    # Right at the edge a reply still counts; a millisecond later an even better one
    # does not: the mention has left.
    edge = only(feed(tracker, events.reply("r1", keep_mention, to="m1")).rows)
    assert edge.first_response_id == "r1"
    tick(tracker, keep_mention + timedelta(milliseconds=1))
    assert feed(tracker, events.reply("r0", ams(3, 2, 10, 30), to="m1")).rows == []
    # Memory is returned when the hour in which it expired is over: Mon 9 March 10:00Z.
    assert keep_mention == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    tick(tracker, datetime(2026, 3, 9, 11, 0, tzinfo=UTC))
    assert tracker.open_mentions == 0
    # The orphan (10:01 CET + 7 d 1 h = Mon 9 March 10:01Z) went with that hour as well.
    assert keep_orphan == datetime(2026, 3, 9, 10, 1, tzinfo=UTC)
    assert tracker.orphan_posts == 0
    # A thousand mentions and as many stray replies over three weeks leave nothing behind;
    # meanwhile at most 7 d 1 h of them (every 30 min), plus an hour, are held.
    start = ams(3, 10)
    for i in range(1000):
        at = start + timedelta(minutes=30 * i)
        feed(tracker, events.mention(f"n{i}", at), events.reply(f"x{i}", at, to=f"gone{i}"))
        assert tracker.open_mentions <= (7 * 24 + 2) * 2 + 1
        assert tracker.orphan_posts <= (7 * 24 + 2) * 2 + 1
    tick(tracker, start + timedelta(minutes=30 * 999, days=8))
    assert (tracker.open_mentions, tracker.orphan_posts) == (0, 0)


def test_a_mention_read_out_of_order_stops_counting_at_its_own_time() -> None:
    tracker, events = ResponseTracker(ROSTER, lateness_seconds=HOUR), Events()
    # The 12:00 mention is read before the 10:00 one (a collector caught up late).
    feed(tracker, events.mention("m-noon", ams(3, 2, 12, 0)),
         events.mention("m-ten", ams(3, 2, 10, 0)))
    # Mon 9 March 11:30: past 10:00 + 7 d + 1 h, not yet past 12:00 + 7 d + 1 h.
    tick(tracker, ams(3, 9, 11, 30))
    late = feed(tracker, events.reply("r1", ams(3, 9, 11, 30), to="m-ten"),
                events.reply("r2", ams(3, 9, 11, 30), to="m-noon"))
    assert [row.mention_id for row in late.rows] == ["m-noon"]
    tick(tracker, ams(3, 9, 14, 0))  # the end of the hour in which m-noon expired
    assert tracker.open_mentions == 0


def test_a_mention_that_arrives_after_its_state_would_have_gone_gets_its_row_only() -> None:
    tracker, events = ResponseTracker(ROSTER, lateness_seconds=HOUR), Events()
    tick(tracker, ams(3, 20))
    out = feed(tracker, events.reply("r1", ams(3, 2, 10, 5), to="m1"),
               events.mention("m1", ams(3, 2, 10, 0)))
    # The reply arrived (too late) but the mention is 18 days old: the row is written,
    # paired with what is known, with no alert and no state.
    assert only(out.rows).first_response_id is None  # the reply was itself too old to keep
    assert out.alerts == [] and tracker.open_mentions == 0


# -- order and batches do not matter ---------------------------------------------------------


def final_rows(rows: Iterable[ResponseRow]) -> dict[str, ResponseRow]:
    """The row the warehouse keeps per mention: the highest version, the last of equals."""
    kept: dict[str, ResponseRow] = {}
    for row in rows:
        if row.mention_id not in kept or row.version >= kept[row.mention_id].version:
            kept[row.mention_id] = row
    return kept


def final_alerts(alerts: Iterable[Alert]) -> dict[str, Alert]:
    kept: dict[str, Alert] = {}
    for alert in alerts:
        if alert.alert_id in kept:
            assert alert.version > kept[alert.alert_id].version
        kept[alert.alert_id] = alert
    return kept


def run_in_batches(events: Sequence[Mention | Post], size: int,
                   lateness: int) -> tuple[list[ResponseRow], list[Alert], ResponseTracker]:
    tracker = ResponseTracker(ROSTER, lateness_seconds=lateness)
    clocks: dict[int, datetime] = {}
    rows: list[ResponseRow] = []
    alerts: list[Alert] = []
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        for event in batch:
            p = event.source.partition
            if p not in clocks or event.created_at > clocks[p]:
                clocks[p] = event.created_at
        out = tracker.process([e for e in batch if isinstance(e, Mention)],
                              [e for e in batch if isinstance(e, Post)], dict(clocks))
        rows += out.rows
        alerts += out.alerts
    return rows, alerts, tracker


@st.composite
def event_streams(draw: st.DrawFn) -> list[Mention | Post]:
    """Mentions, shares, replies (own, foreign, early, late, tied) and other posts of three
    organisations on two partitions, over ten days around the change to summer time, read
    in about created_at order, some of them much later."""
    start = ams(3, 24, 8)
    minutes = st.integers(0, 10 * 24 * 60)
    delay = st.one_of(st.integers(1, 120), st.integers(-10, 10), st.integers(120, 4 * 24 * 60))
    lag = st.one_of(st.integers(0, 20), st.integers(0, 3 * 24 * 60))  # read how much later
    mentions = draw(st.lists(st.tuples(
        st.sampled_from([ZUTPHEN, ZUTPHEN, BAKKERIJ, "onbekend"]), minutes,
        st.sampled_from(["mention", "mention", "mention", "share", "review"]), st.booleans(),
        lag,
    ), min_size=1, max_size=20))
    replies = draw(st.lists(st.tuples(
        st.integers(0, len(mentions)), delay,
        st.sampled_from(["own", "own", "own", "foreign"]), st.booleans(), lag,
    ), max_size=30))
    posts = draw(st.lists(st.tuples(st.sampled_from([ZUTPHEN, BAKKERIJ]), minutes, lag),
                          max_size=5))
    arrivals: list[tuple[int, int, str, Any]] = []
    for n, (org, minute, kind, complaint, late) in enumerate(mentions):
        arrivals.append((minute + late, n, "mention", (org, minute, kind, complaint)))
    for n, (target, after, who, tie, late) in enumerate(replies):
        # A reply to a mention of the stream, or (target == len) to one never seen.
        org, minute = mentions[target][:2] if target < len(mentions) else (ZUTPHEN, 0)
        if who == "foreign":
            org = BAKKERIJ if org != BAKKERIJ else ZUTPHEN
        minute += after - after % 30 if tie else after  # ties on created_at
        arrivals.append((minute + late, n, "reply", (org, minute, f"m{target}")))
    for n, (org, minute, late) in enumerate(posts):
        arrivals.append((minute + late, n, "post", (org, minute)))
    events = Events()
    stream: list[Mention | Post] = []
    for _, n, what, spec in sorted(arrivals, key=lambda a: a[:3]):
        if what == "mention":
            org, minute, kind, complaint = spec
            stream.append(events.mention(f"m{n}", start + timedelta(minutes=minute), org=org,
                                         kind=kind, complaint=complaint))
        elif what == "reply":
            org, minute, to = spec
            stream.append(events.reply(f"r{n}", start + timedelta(minutes=minute), to=to,
                                       org=org))
        else:
            org, minute = spec
            stream.append(events.reply(f"p{n}", start + timedelta(minutes=minute), to=None,
                                       org=org))
    return stream


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams(), lateness=st.sampled_from([0, 6 * HOUR, DAY]),
       seed=st.integers(0, 2**32 - 1))
def test_batch_boundaries_do_not_change_rows_or_alerts(stream: list[Mention | Post],
                                                       lateness: int, seed: int) -> None:
    rows_1, alerts_1, _ = run_in_batches(stream, 1, lateness)
    expected_rows, expected_alerts = final_rows(rows_1), final_alerts(alerts_1)
    for size in (7, 10_000):
        rows, alerts, _ = run_in_batches(stream, size, lateness)
        assert final_rows(rows) == expected_rows
        assert final_alerts(alerts) == expected_alerts
    # Partitions interleaved differently (each partition's own order kept), mentions and
    # posts handed in as two lists: the same again.
    rng = random.Random(seed)
    by_partition = [[e for e in stream if e.source.partition == p] for p in (0, 1)]
    shuffled: list[Mention | Post] = []
    while any(by_partition):
        queue = rng.choice([q for q in by_partition if q])
        shuffled.append(queue.pop(0))
    rows, alerts, _ = run_in_batches(shuffled, 3, lateness)
    assert final_rows(rows) == expected_rows
    assert final_alerts(alerts) == expected_alerts
    # A mention's rows never go down in version, so the warehouse keeps the last one;
    # equal versions only for a response in the same millisecond with a smaller event_id.
    seen: dict[str, ResponseRow] = {}
    for row in rows_1:
        before = seen.get(row.mention_id)
        if before is not None and row.version == before.version:
            assert row.first_response_at == before.first_response_at
            assert (row.first_response_id or "") < (before.first_response_id or "")
        else:
            assert before is None or row.version > before.version
        seen[row.mention_id] = row


# -- restart ------------------------------------------------------------------------------


def rebuild(events: Sequence[Mention | Post], lateness: int,
            keep: Any = lambda event: True) -> TrackerOutput:
    """What the worker does after a crash: the recent events read back from the warehouse,
    in created_at order, one partition at a time, the clocks at each partition's newest."""
    tracker = ResponseTracker(ROSTER, lateness_seconds=lateness)
    rows: list[ResponseRow] = []
    alerts: list[Alert] = []
    for p in sorted({e.source.partition for e in events}):
        mine = sorted((e for e in events if e.source.partition == p and keep(e)),
                      key=lambda e: (e.created_at, e.event_id))
        clock = max(e.created_at for e in events if e.source.partition == p)
        out = tracker.process([e for e in mine if isinstance(e, Mention)],
                              [e for e in mine if isinstance(e, Post)], {p: clock})
        rows += out.rows
        alerts += out.alerts
    return TrackerOutput(rows, alerts)


def assert_same_as_before(again: TrackerOutput, rows: list[ResponseRow],
                          alerts: list[Alert]) -> None:
    before_rows = final_rows(rows)
    for row in again.rows:
        assert row == before_rows[row.mention_id]
    emitted = {(a.alert_id, a.version): a for a in alerts}
    for alert in again.alerts:
        assert alert == emitted[(alert.alert_id, alert.version)]
        assert alert.details == emitted[(alert.alert_id, alert.version)].details


def test_a_rebuild_after_a_restart_emits_exactly_what_was_emitted_before() -> None:
    events = Events()
    stream: list[Mention | Post] = [
        events.mention("m1", ams(3, 2, 10, 0)),  # answered fast
        events.mention("m2", ams(3, 2, 10, 5), complaint=True),  # never answered
        events.mention("m3", ams(3, 2, 10, 10)),  # answered late
        events.mention("s1", ams(3, 2, 10, 12), kind="share"),
        events.reply("r1", ams(3, 2, 10, 20), to="m1"),
        events.reply("p1", ams(3, 2, 10, 50), to=None),  # moves the clock past m1-m3's SLA
        events.reply("r3", ams(3, 2, 11, 30), to="m3"),
        events.reply("r4", ams(3, 2, 11, 35), to="m4"),  # its mention comes later
        events.mention("m4", ams(3, 2, 11, 30)),
        events.mention("b1", ams(3, 2, 12, 0), org=BAKKERIJ),
        events.reply("b-r1", ams(3, 2, 14, 0), to="b1", org=BAKKERIJ, handle="bakkerijoost"),
        events.reply("r3-early", ams(3, 2, 10, 25), to="m3"),  # late: retracts m3's alert
        events.mention("m5", ams(3, 3, 9, 0)),
    ]
    rows, alerts, _ = run_in_batches(stream, 4, DAY)
    assert {a.alert_id for a in alerts} == {"sla_breach:m2", "sla_breach:m3", "sla_breach:b1"}
    # Everything read back, as the warehouse has it.
    everything = rebuild(stream, DAY)
    assert_same_as_before(everything, rows, alerts)
    assert final_rows(everything.rows) == final_rows(rows)
    # What the worker actually reads back: actionable mentions and replies only. The
    # clock moves less while they are replayed, so fewer intermediate alert states come
    # out, but each one that does is one emitted before.
    replayed = rebuild(stream, DAY, keep=lambda e: (isinstance(e, Mention) and e.actionable)
                       or (isinstance(e, Post) and e.in_reply_to is not None))
    assert_same_as_before(replayed, rows, alerts)
    assert final_rows(replayed.rows) == final_rows(rows)
    assert final_alerts(replayed.alerts).keys() <= final_alerts(alerts).keys()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams(), lateness=st.sampled_from([0, 6 * HOUR, DAY]))
def test_a_rebuild_from_all_events_repeats_rows_and_alert_states(
        stream: list[Mention | Post], lateness: int) -> None:
    rows, alerts, _ = run_in_batches(stream, 5, lateness)
    assert_same_as_before(rebuild(stream, lateness), rows, alerts)


# -- the fast business-time arithmetic agrees with the roster's -----------------------------

HOURS = [
    {day: "09:00-17:00" for day in DAYS[:5]},
    {"mon": "08:30-17:00", "tue": "08:30-17:00", "wed": "08:30-17:00", "thu": "08:30-17:00",
     "fri": "08:30-12:30"},
    {"mon": "13:00-17:30", "tue": "09:30-12:30,13:00-17:30", "sat": "10:00-13:00"},
    {day: "00:00-24:00" for day in DAYS},
    {"fri": "22:00-24:00", "sat": "00:00-24:00", "sun": "00:00-02:00,01:30-03:30"},
    {"sun": "01:00-04:00"},  # the night of the clock change
    {},
]
ZONES = ["Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
instants = st.integers(
    min_value=ms_since_epoch(datetime(2025, 1, 1, tzinfo=UTC)),
    max_value=ms_since_epoch(datetime(2027, 12, 31, tzinfo=UTC)),
).map(lambda ms: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))


@settings(max_examples=400, deadline=None)
@given(hours=st.sampled_from(HOURS), zone=st.sampled_from(ZONES), start=instants,
       seconds=st.integers(0, 40 * DAY), sla=st.sampled_from([60, 1800, 3600, 8 * HOUR, 3 * DAY]))
def test_the_tracker_business_clock_agrees_with_the_roster(
        hours: dict[str, str], zone: str, start: datetime, seconds: int, sla: int) -> None:
    roster_hours = BusinessHours.parse(hours, zone)
    calendar = _Calendar(roster_hours)
    end = start + timedelta(seconds=seconds, milliseconds=seconds % 1000)
    assert calendar.seconds_between(start, end) == roster_hours.business_seconds(start, end)
    terms = _Terms("org", "Org", calendar, sla, 7 * DAY, DAY)
    if not roster_hours.weekly_seconds:
        assert terms.breach_at(start) == datetime(2299, 12, 31, tzinfo=UTC)
        return
    expected = roster_hours.add_business_seconds(start, sla + 0.001)
    assert terms.breach_at(start) == expected
    # Asked again (now from its cache), and for times close by.
    assert terms.breach_at(start) == expected
    for step in (1, 59, 600, 3599, 5 * HOUR):
        later = start + timedelta(seconds=step)
        assert terms.breach_at(later) == roster_hours.add_business_seconds(later, sla + 0.001)
        assert terms.seconds_between(start, later) == roster_hours.business_seconds(start, later)


def test_the_roster_of_the_tests_is_what_the_comments_say() -> None:
    zutphen, bakkerij = ROSTER.org(ZUTPHEN), ROSTER.org(BAKKERIJ)
    assert (zutphen.first_response_sla, zutphen.answer_window) == (1800, 7 * DAY)
    assert (bakkerij.first_response_sla, bakkerij.answer_window) == (HOUR, 2 * DAY)
    assert ams(3, 29, 3) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # CEST from 02:00 CET


def test_lateness_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="lateness"):
        ResponseTracker(ROSTER, lateness_seconds=-1)
