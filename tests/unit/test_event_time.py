"""Event time that runs ahead (issue 10, finding 2): the horizon, clocks that one event
cannot throw forward, very old events as history, and time loops bounded by the data.

The attack as found: one mention dated 2200-01-01T00:00:00Z was accepted; the surge
detector then stepped through 174 years hour by hour (ingestion stalled for minutes), and
the shared clocks jumped, so every organisation's pending mentions turned unanswered and
their SLA alerts opened. `tests/integration/test_future_events.py` replays it through the
real stack; here each piece is checked on its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines.commands import replay
from pipelines.ingest.batch import IngestBatch, WriteResult, mention_objects
from pipelines.ingest.decode import (
    CLOCK_SKEW,
    DEFAULT_MAX_FUTURE,
    DeadLetter,
    Mention,
    Post,
    Source,
    clock_time,
    decode,
)
from pipelines.ingest.sink import mentions_table, posts_table
from pipelines.ingest.worker import IngestProcessor
from pipelines.orgclock import year_offsets as _year_offsets
from pipelines.processing import escalation
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import SurgeDetector
from pipelines.processing.processors import StreamProcessors
from pipelines.processing.responses import ResponseTracker, TrackerWork
from pipelines.roster import BusinessHours, Roster, parse_roster
from pipelines.settings import Settings, SettingsError
from pipelines.simulate import simulate_live
from pipelines.textmodel.classify import load_classifier

RECEIVED = datetime(2026, 12, 4, 23, 50, tzinfo=UTC)  # the time Kafka received the message
ATTACK = datetime(2200, 1, 1, tzinfo=UTC)
OPEN_ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
# Three organisations open round the clock that must answer within an hour; after two
# hours an open mention is unanswered. They share partition 0, as organisations do.
ROSTER = parse_roster({
    "defaults": {"timezone": "UTC", "business_hours": OPEN_ALWAYS,
                 "first_response_sla": "1h", "answer_window": "2h"},
    "orgs": [{"id": "bibliotheek-oost"}, {"id": "dagblad-noord"}, {"id": "museum-aan-zee"}],
})


def mention_doc(at: str, event_id: str = "m-1", **changes: Any) -> bytes:
    doc = {"type": "mention", "event_id": event_id, "org_id": "dagblad-noord",
           "platform": "twitter", "created_at": at, "author": {"id": "42"}, **changes}
    return orjson.dumps(doc)


def mention(event_id: str, at: datetime, received: datetime | None, org: str = "dagblad-noord",
            partition: int = 0, offset: int = 0, complaint: bool = False) -> Mention:
    return Mention(
        org_id=org, event_id=event_id, platform="twitter", created_at=at, author_id="u1",
        author_handle="lezer", author_followers=100, author_verified=False, kind="mention",
        text="", lang="nl", in_reply_to=None, shared_from=None, sentiment=None,
        complaint=complaint, source=Source("events", partition, offset, received),
    )


def reply(event_id: str, to: str, at: datetime, received: datetime | None,
          org: str = "dagblad-noord") -> Post:
    return Post(
        org_id=org, event_id=event_id, platform="twitter", created_at=at, account_id="9",
        account_handle="redactie", account_role="official", account_followers=10,
        kind="reply", in_reply_to=to, text="", org_source="event",
        source=Source("events", 0, 0, received),
    )


# -- the horizon (pipelines.ingest.decode) --------------------------------------------------------


def test_the_2200_mention_is_a_dead_letter_that_says_what_to_fix() -> None:
    raw = mention_doc("2200-01-01T00:00:00Z")
    letter = decode(raw, Source("events", 3, 17, RECEIVED), Roster.empty())
    assert isinstance(letter, DeadLetter)
    assert letter.error_code == "future_timestamp"
    assert letter.payload == raw and str(letter.source) == "kafka events[3]@17"
    assert letter.error == (
        "'created_at' 2200-01-01T00:00:00Z is 173 years ahead of the time Kafka received the "
        "event (2026-12-04T23:50:00Z); events more than 1d ahead are refused "
        "(DORPSPOMP_MAX_FUTURE) — check the collector's clock and time zone (a local time "
        "sent with Z?) and send the event again with the time it was posted")


def test_the_horizon_is_inclusive_and_counts_from_the_kafka_timestamp() -> None:
    edge = RECEIVED + DEFAULT_MAX_FUTURE
    source = Source("events", 0, 0, RECEIVED)
    at_edge = decode(mention_doc(edge.isoformat()), source, Roster.empty())
    assert isinstance(at_edge, Mention) and at_edge.created_at == edge
    past = decode(mention_doc((edge + timedelta(milliseconds=1)).isoformat()), source,
                  Roster.empty())
    assert isinstance(past, DeadLetter) and past.error_code == "future_timestamp"
    assert "1d ahead of the time Kafka received" in past.error


def test_a_configured_horizon_applies_to_posts_too() -> None:
    doc = orjson.dumps({"type": "post", "event_id": "p-1", "org_id": "dagblad-noord",
                        "platform": "twitter", "created_at": "2026-12-05T01:50:00Z",
                        "account": {"id": "9"}})
    source = Source("events", 0, 0, RECEIVED)
    refused = decode(doc, source, Roster.empty(), max_future=timedelta(hours=1))
    assert isinstance(refused, DeadLetter)
    assert "is 2h ahead" in refused.error and "more than 1h ahead" in refused.error
    assert isinstance(decode(doc, source, Roster.empty()), Post)  # inside the default day


def test_without_a_receive_time_there_is_no_horizon() -> None:
    decoded = decode(mention_doc("2200-01-01T00:00:00Z"), Source("events", 0, 0),
                     Roster.empty())
    assert isinstance(decoded, Mention) and decoded.clock_at == ATTACK


def test_very_old_events_are_accepted_as_history() -> None:
    old = decode(mention_doc("1900-01-02T00:00:00Z"), Source("events", 0, 0, RECEIVED),
                 Roster.empty())
    assert isinstance(old, Mention)
    assert old.created_at == datetime(1900, 1, 2, tzinfo=UTC) == old.clock_at


def test_a_bad_field_is_reported_before_the_horizon() -> None:
    letter = decode(mention_doc("2200-01-01T00:00:00Z", author=None),
                    Source("events", 0, 0, RECEIVED), Roster.empty())
    assert isinstance(letter, DeadLetter) and letter.error_code == "missing_field"


def test_the_setting_defaults_to_a_day_and_must_be_positive(tmp_path: Path) -> None:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)})
    assert timedelta(seconds=settings.max_future) == DEFAULT_MAX_FUTURE
    hour = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path), "DORPSPOMP_MAX_FUTURE": "3600"})
    assert hour.max_future == 3600
    for bad, words in (("0", "positive"), ("-5", "positive"), ("a day", "not a number")):
        with pytest.raises(SettingsError, match=f"DORPSPOMP_MAX_FUTURE.*{words}"):
            Settings.from_env({"DORPSPOMP_HOME": str(tmp_path), "DORPSPOMP_MAX_FUTURE": bad})


def test_the_worker_decodes_against_each_messages_kafka_timestamp(tmp_path: Path) -> None:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path),
                                  "DORPSPOMP_MAX_FUTURE": "7200"})
    no_warehouse: Any = None  # build_batch only decodes and labels
    processor = IngestProcessor(settings, no_warehouse, Roster.empty(), load_classifier())
    kafka_seconds = RECEIVED.timestamp() + 0.123
    messages = [(0, 10, mention_doc("2026-12-05T01:00:00Z", "inside")),   # 70 min ahead
                (0, 11, mention_doc("2026-12-05T02:00:00Z", "outside")),  # 130 min ahead
                (1, 5, mention_doc("2026-12-04T10:00:00Z", "untimed")),
                (1, 6, mention_doc("2026-12-04T10:00:00Z", "unstamped"))]
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    batch = processor.build_batch("events", messages, [kafka_seconds, kafka_seconds, None, -0.001])
    after = datetime.now(UTC)
    inside, untimed, unstamped = mention_objects(batch.mentions, "events")
    assert inside.source.kafka_timestamp == RECEIVED + timedelta(milliseconds=123)
    (outside,) = batch.dead_letters
    assert outside.error_code == "future_timestamp" and "more than 2h ahead" in outside.error
    for fallback in (untimed, unstamped):  # no timestamp: the worker's clock, to the ms
        stamp = fallback.source.kafka_timestamp
        assert stamp is not None and before <= stamp <= after and stamp.microsecond % 1000 == 0
    assert batch.next_offsets == {0: 12, 1: 7}


# -- clocks that one event cannot throw forward -------------------------------------------


def test_an_event_moves_a_clock_at_most_a_minute_past_its_arrival() -> None:
    assert clock_time(RECEIVED + timedelta(hours=20), RECEIVED) == RECEIVED + CLOCK_SKEW
    assert clock_time(RECEIVED + timedelta(seconds=30), RECEIVED) == RECEIVED + timedelta(
        seconds=30)
    assert clock_time(datetime(2026, 3, 2, tzinfo=UTC), RECEIVED) == datetime(2026, 3, 2,
                                                                              tzinfo=UTC)
    assert clock_time(ATTACK, None) == ATTACK  # not read from Kafka: nothing to hold it to


def run(processors: StreamProcessors, *events: Mention) -> tuple[list[Alert], datetime | None]:
    table = mentions_table(events, RECEIVED)
    derived = processors.process(IngestBatch("events", mentions=table),
                                 WriteResult(table, posts_table([], RECEIVED), 0, 0))
    return derived.alerts, processors.watermark


def pending_then_one_ahead(stamped: bool) -> tuple[list[Alert], datetime | None]:
    """Three organisations' mentions of 10 minutes ago, then one of another organisation
    dated 20 hours ahead (inside the horizon), all read now."""
    processors = StreamProcessors(ROSTER, 86400)
    now = RECEIVED
    pending = [mention(f"open-{org}", now - timedelta(minutes=10), now, org=org, offset=i)
               for i, org in enumerate(("bibliotheek-oost", "dagblad-noord", "museum-aan-zee"))]
    alerts, _ = run(processors, *pending)
    assert alerts == []
    ahead = mention("ahead", now + timedelta(hours=20), now if stamped else None,
                    org="stille-club", offset=3)
    return run(processors, ahead)


def test_one_event_20_hours_ahead_leaves_the_others_clocks_where_they_were() -> None:
    alerts, watermark = pending_then_one_ahead(stamped=True)
    assert alerts == []  # nobody's SLA (1 h) has run out
    # Their answer window (2 h) is open: the view keeps them pending.
    assert watermark == RECEIVED + CLOCK_SKEW


def test_without_its_kafka_timestamp_the_same_event_would_have_thrown_them_forward() -> None:
    alerts, watermark = pending_then_one_ahead(stamped=False)
    assert watermark == RECEIVED + timedelta(hours=20)
    # Each organisation's SLA alert (one per organisation) opens, and resolves when the
    # 2 h answer window is over: all of it on the word of one event.
    assert sorted({a.org_id for a in alerts if a.kind == "sla_breach"}) == [
        "bibliotheek-oost", "dagblad-noord", "museum-aan-zee"]


def complaints(org: str, start: datetime, minutes: int, per_minute: float, seed: int,
               prefix: str) -> list[Mention]:
    rng = random.Random(seed)
    out = []
    for m in range(minutes):
        n = int(per_minute) + (rng.random() < per_minute % 1)
        for k in range(n):
            at = start + timedelta(minutes=m, seconds=rng.uniform(0, 59))
            out.append(mention(f"{prefix}-{m}-{k}", at, at + timedelta(seconds=2), org=org,
                               complaint=True))
    return sorted(out, key=lambda e: e.created_at)


def surge_alerts(ahead_stamped: bool) -> list[Alert]:
    """Four quiet days of complaints at one organisation, then, read just before a surge
    of 20 a minute, one mention of its neighbour dated 20 hours ahead."""
    detector_roster = parse_roster({"orgs": [{"id": "dagblad-noord"}, {"id": "stille-club"}]})
    processors = StreamProcessors(detector_roster, 86400)
    start = datetime(2026, 11, 30, tzinfo=UTC)
    quiet = complaints("dagblad-noord", start, 4 * 1440, 0.1, 1, "q")
    surge_at = start + timedelta(days=4, hours=14)
    surge = complaints("dagblad-noord", surge_at, 10, 20, 2, "s")
    ahead = mention("ahead", surge_at + timedelta(hours=20),
                    surge_at if ahead_stamped else None, org="stille-club")
    alerts: list[Alert] = []
    for i in range(0, len(quiet), 500):
        alerts += run(processors, *quiet[i:i + 500])[0]
    alerts += run(processors, ahead, *surge)[0]
    alerts += run(processors, mention("later", surge_at + timedelta(minutes=30),
                                      surge_at + timedelta(minutes=30)))[0]
    return [a for a in alerts if a.kind == "complaint_surge"]


def test_a_surge_is_still_seen_after_a_neighbour_dated_20_hours_ahead() -> None:
    opened = [a for a in surge_alerts(ahead_stamped=True) if a.status == "open"]
    assert [a.org_id for a in opened[:1]] == ["dagblad-noord"]
    assert opened[0].opened_at == datetime(2026, 12, 4, 14, 1, tzinfo=UTC)


def test_without_the_kafka_timestamp_that_neighbour_would_have_hidden_the_surge() -> None:
    assert surge_alerts(ahead_stamped=False) == []


def test_very_old_events_move_no_clock() -> None:
    processors = StreamProcessors(ROSTER, 86400)
    now = RECEIVED
    run(processors, mention("open", now - timedelta(minutes=10), now))
    watermark = processors.watermark
    alerts, after = run(processors, mention("old", datetime(1900, 1, 2, tzinfo=UTC), now,
                                            org="museum-aan-zee", complaint=True))
    assert alerts == [] and after == watermark
    assert processors.clocks == {0: now - timedelta(minutes=10)}


# -- every time loop bounded by the data ---------------------------------------------------


# The detector's cost is counted (`SurgeDetector.work`): a minute looked at one by one is
# O(1), a quiet stretch passed in bulk is one step whatever its length, and the history it
# keeps per organisation is bounded (five weeks of hours, forty days).
STEPPED_AT_MOST = 2 * 1440  # minutes looked at one by one after a jump: two days' worth


def stepped(detector: SurgeDetector) -> int:
    return detector.work.minutes_stepped


def assert_history_bounded(detector: SurgeDetector) -> None:
    for state in detector._orgs.values():
        assert len(state.hist_hour) <= 5 * 7 * 24 and len(state.day_id) <= 42


def test_a_clock_that_jumps_174_years_costs_the_surge_detector_a_bounded_walk() -> None:
    roster = parse_roster({"orgs": [{"id": "dagblad-noord", "timezone": "Europe/Amsterdam"},
                                    {"id": "museum-aan-zee"}]})
    detector = SurgeDetector(roster)
    start = datetime(2026, 11, 30, tzinfo=UTC)
    detector.process([*complaints("dagblad-noord", start, 600, 0.5, 3, "a"),
                      mention("m", start, start, org="museum-aan-zee")], {})
    before = stepped(detector)
    alerts = detector.process([mention("far", ATTACK, None, complaint=True)], {0: ATTACK})
    assert alerts == []
    assert stepped(detector) - before <= STEPPED_AT_MOST
    assert detector.work.minutes_skipped > 174 * 365 * 1440  # the years went by in bulk
    assert_history_bounded(detector)


def test_an_organisation_silent_for_a_year_costs_a_bounded_walk() -> None:
    roster = parse_roster({"orgs": [{"id": "dagblad-noord", "timezone": "Europe/Amsterdam"}]})
    detector = SurgeDetector(roster)
    start = datetime(2025, 11, 30, tzinfo=UTC)
    detector.process(complaints("dagblad-noord", start, 600, 0.5, 4, "a"), {})
    before = stepped(detector)
    detector.process([], {0: start + timedelta(days=366)})
    assert stepped(detector) - before <= STEPPED_AT_MOST
    assert_history_bounded(detector)
    history = [("museum-aan-zee", start, 3, 10), ("museum-aan-zee", ATTACK, 1, 10)]
    loaded = SurgeDetector(roster)
    loaded.load_history(history)
    assert stepped(loaded) <= STEPPED_AT_MOST
    assert_history_bounded(loaded)


def test_skipping_a_long_silence_changes_nothing_the_detector_decides(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Across ten weeks of silence that span the spring-forward hour, the bounded walk
    leaves the history exactly as the hour-by-hour one did, and the same surge opens."""
    def detect() -> tuple[list[Alert], tuple[Any, ...]]:
        roster = parse_roster({"orgs": [{"id": "dagblad-noord",
                                         "timezone": "Europe/Amsterdam"}]})
        detector = SurgeDetector(roster)
        first = datetime(2026, 2, 2, tzinfo=UTC)  # silent from 8 February to 20 April
        before = complaints("dagblad-noord", first, 6 * 1440, 0.2, 5, "b")
        back = first + timedelta(weeks=11)
        after = complaints("dagblad-noord", back, 2 * 1440, 0.2, 6, "c")
        surge = complaints("dagblad-noord", back + timedelta(days=2, hours=10), 10, 20, 7, "s")
        alerts: list[Alert] = []
        for chunk in (before, after, surge):
            alerts += detector.process(chunk, {0: chunk[-1].created_at})
        alerts += detector.process([], {0: back + timedelta(days=3)})
        state = detector._orgs["dagblad-noord"]
        return alerts, (list(state.hist_hour), list(state.hist_count), list(state.hist_minutes),
                        list(state.day_id), list(state.day_count), list(state.day_minutes))

    bounded = detect()
    monkeypatch.setattr(escalation, "_TAIL_MINUTES", 10**12)  # the walk through every hour
    assert detect() == bounded
    assert [a.status for a in bounded[0]][:1] == ["open"]


# The tracker's cost is counted too (`ResponseTracker.work`): each step is O(1) Python or
# numpy over one organisation's queue, so a clock jump costs a handful of them.
TRACKER_STEPS_AT_MOST = 12


def tracker_work(tracker: ResponseTracker) -> TrackerWork:
    return replace(tracker.work)


def test_an_sla_clock_that_jumps_174_years_costs_the_tracker_a_few_steps() -> None:
    roster = parse_roster({
        "defaults": {"timezone": "Europe/Amsterdam", "business_hours": {"mon": "09:00-17:00"},
                     "first_response_sla": "1h", "answer_window": "7d"},
        "orgs": [{"id": "dagblad-noord"}]})
    for terms in (ROSTER, roster):  # open round the clock, and one morning a week
        tracker = ResponseTracker(terms, 86400)
        tracker.process([mention("open", RECEIVED, None)], [], {})
        before = tracker_work(tracker)
        out = tracker.process([], [], {0: ATTACK})
        # The organisation's SLA alert opens, and resolves once the mention is unanswered.
        assert [a.status for a in out.alerts] == ["open", "resolved"]
        assert out.alerts[0].sample_event_ids == ("open",)
        assert tracker.open_mentions == 0
        work = tracker.work
        assert work.steps - before.steps <= TRACKER_STEPS_AT_MOST, work
        assert work.queue_rows - before.queue_rows <= 2 * work.settles, work
        assert work.instants_decided > before.instants_decided  # it did count the walk


def test_business_time_across_the_whole_accepted_range_is_bounded() -> None:
    """A reply to a mention of 1900 (accepted as history) pairs; its business time spans
    the years between, whose clock changes are looked up once per zone and year."""
    roster = parse_roster({"orgs": [{"id": "dagblad-noord", "timezone": "Pacific/Chatham",
                                     "business_hours": {"mon": "09:00-17:00"}}]})
    tracker = ResponseTracker(roster, 86400)
    old = datetime(1900, 1, 2, tzinfo=UTC)
    _year_offsets.cache_clear()
    out = tracker.process([mention("old", old, RECEIVED)], [reply("r", "old", RECEIVED, RECEIVED)],
                          {})
    (row,) = out.rows
    assert row.first_response_id == "r"
    hours = BusinessHours.parse({"mon": "09:00-17:00"}, "Pacific/Chatham")
    assert row.business_response_seconds == hours.business_seconds(old, RECEIVED)
    # Each zone-year looked up once: the years from the mention to the reply, and the one
    # after (the tracker lays its calendar out weeks past the newest instant it was asked).
    years = RECEIVED.year - old.year + 2
    assert _year_offsets.cache_info().misses <= years
    _year_offsets.cache_clear()
    BusinessHours.parse({"sun": "01:00-05:00"}, "Atlantic/Azores").business_seconds(
        datetime(1900, 1, 1, tzinfo=UTC), datetime(2299, 12, 30, tzinfo=UTC))
    assert _year_offsets.cache_info().misses <= 2299 - 1900 + 1


# -- the producers that run simulated time -------------------------------------------------


MS = 0.001
"""created_at is written to the millisecond: an event sent in the millisecond it is dated
may carry a created_at up to a millisecond past the send time's microseconds."""


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, float]] = []

    def send(self, topic: str, value: bytes, key: bytes | None) -> Any:
        self.sent.append((value, time.time()))
        return self

    def add_errback(self, callback: Any) -> None:
        pass

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def created(sent: Sequence[tuple[bytes, float]]) -> list[tuple[datetime, float]]:
    return [(datetime.fromisoformat(orjson.loads(v)["created_at"].replace("Z", "+00:00")), at)
            for v, at in sent]


def test_sped_up_live_simulation_never_sends_an_event_before_its_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    producer = Producer()
    monkeypatch.setattr(replay, "make_producer", lambda bootstrap: producer)
    started = datetime.now(UTC)
    report = simulate_live("127.0.0.1:1", "events", seed=4, orgs=60, rate=400, speedup=600,
                           roster_out=tmp_path / "live.roster.yaml", duration=1.5,
                           progress=False)
    events = created(producer.sent)
    assert report.events == len(events) > 20  # about 400 a second, fewer at night
    # By default it starts speedup - 1 days back: it reaches the present after a real day.
    assert report.simulated_start is not None
    assert abs(report.simulated_start - (started - timedelta(days=599))) < timedelta(seconds=2)
    assert all(at.timestamp() <= sent_at + MS for at, sent_at in events)


def test_sped_up_into_the_present_it_goes_on_in_real_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    producer = Producer()
    monkeypatch.setattr(replay, "make_producer", lambda bootstrap: producer)
    started = datetime.now(UTC)
    # a small world and a few seconds more than the past takes: on a loaded machine the
    # past alone took most of 5 s, and no event of the present came in time (and the
    # world's clients now answer every mention: half as many organisations as before)
    simulate_live("127.0.0.1:1", "events", seed=4, orgs=6,
                  start=started - timedelta(seconds=30), rate=1_000_000, speedup=100_000,
                  roster_out=tmp_path / "x.roster.yaml", duration=10, progress=False)
    events = created(producer.sent)
    assert all(at.timestamp() <= sent_at + MS for at, sent_at in events)
    # The 30 s of the past went by at once, and then events came as their time came.
    assert any(at < started for at, _ in events) and any(at > started for at, _ in events)


def test_a_live_simulation_may_not_start_in_the_future(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"--start .* is in the future"):
        simulate_live("127.0.0.1:1", "events", seed=4, orgs=60,
                      start=datetime.now(UTC) + timedelta(hours=2), speedup=60,
                      roster_out=tmp_path / "x.roster.yaml", duration=1, progress=False)
