"""Complaint-surge detection (pipelines.processing.escalation) on synthetic streams with known
surges.

The generator draws, per minute of the organisation's own clock, a Poisson number of
complaints from a rate that is known by construction: a quiet night, a busier day, a
usual peak every weekday 09:00-10:00 at five times the daytime rate, and the surges a
test asks for. Everything is seeded, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.decode import Mention, Source, decode
from pipelines.ingest.enrich import label_mentions
from pipelines.ingest.sink import mentions_table
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import (
    ComplaintText,
    SurgeDetector,
    SurgeSettings,
    log_poisson_tail,
    severity,
    text_key,
)
from pipelines.roster import Roster, parse_roster
from pipelines.simulate import world
from pipelines.textmodel.classify import load_classifier

ZUTPHEN = "gemeente-zutphen"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Monday 2 March 2026, 00:00 in Zutphen: day 1 of every scenario (no clock change in it).
DAY_1 = datetime(2026, 3, 2, tzinfo=AMSTERDAM)

NIGHT, DAY, PEAK = 0.3, 3.0, 15.0  # complaints per minute
NOW = datetime(2026, 12, 5, tzinfo=UTC)  # ingested_at of the tables (not read)


@dataclass(frozen=True)
class Surge:
    start: datetime  # local
    minutes: int
    rate: float  # complaints per minute while it lasts, instead of the usual rate


def usual_rate(local: datetime) -> float:
    """The usual pattern: quiet nights, busy days, a peak every weekday at nine."""
    if local.hour < 7 or local.hour >= 23:
        return NIGHT
    if local.weekday() < 5 and local.hour == 9:
        return PEAK
    return DAY


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def mention(org_id: str, event_id: str, at: datetime, *, complaint: bool, followers: int,
            author: str, partition: int) -> Mention:
    return Mention(
        org_id=org_id, event_id=event_id, platform="twitter", created_at=at,
        author_id=author, author_handle=author, author_followers=followers,
        author_verified=False, kind="mention", text="", lang="nl", in_reply_to=None,
        shared_from=None, sentiment=-0.5 if complaint else 0.2, complaint=complaint,
        source=Source("events", partition, 0),
    )


def stream(org_id: str, *, days: float, seed: int, partition: int = 0,
           surges: Sequence[Surge] = (), rate: Callable[[datetime], float] = usual_rate,
           start: datetime = DAY_1, chatter: float = 0.5) -> list[Mention]:
    """One organisation's mentions in event-time order: complaints, and other mentions at
    `chatter` × the usual complaint rate (a surge brings complaints, not other mentions)."""
    rng = random.Random(seed)
    out: list[Mention] = []
    first = start.astimezone(UTC)
    for i in range(int(days * 1440)):
        minute = first + timedelta(minutes=i)
        local = minute.astimezone(start.tzinfo)
        lam = usual = rate(local)
        for surge in surges:
            if surge.start <= local < surge.start + timedelta(minutes=surge.minutes):
                lam = surge.rate
        complaints = poisson(rng, lam)
        others = poisson(rng, usual * chatter)
        offsets = sorted(rng.randrange(60_000) for _ in range(complaints + others))
        kinds = [True] * complaints + [False] * others
        rng.shuffle(kinds)
        for n, (ms, complaint) in enumerate(zip(offsets, kinds, strict=True)):
            author = f"u{rng.randrange(20_000)}"
            followers = int(10 ** rng.uniform(0, 4.5))
            out.append(mention(org_id, f"{org_id}-{i}-{n}", minute + timedelta(milliseconds=ms),
                               complaint=complaint, followers=followers, author=author,
                               partition=partition))
    return out


def merge(*streams: list[Mention]) -> list[Mention]:
    return sorted((m for s in streams for m in s), key=lambda m: m.created_at)


def run(detector: SurgeDetector, mentions: Sequence[Mention], batch: int = 5000) -> list[Alert]:
    """Feed `mentions` in batches with the clocks a worker would pass (max created_at)."""
    alerts: list[Alert] = []
    clocks: dict[int, datetime] = {}
    for i in range(0, len(mentions), batch):
        chunk = mentions[i:i + batch]
        for m in chunk:
            p = m.source.partition
            if p not in clocks or m.created_at > clocks[p]:
                clocks[p] = m.created_at
        alerts.extend(detector.process(chunk, dict(clocks)))
    return alerts


def roster(orgs: str = "") -> Roster:
    text = f"""
defaults:
  timezone: Europe/Amsterdam
orgs:
  - id: {ZUTPHEN}
    name: Gemeente Zutphen
    timezone: Europe/Amsterdam
{orgs}
"""
    return parse_roster(yaml.safe_load(text))


def local_day(n: int) -> datetime:
    """00:00 local on day n (day 1 = DAY_1)."""
    return DAY_1 + timedelta(days=n - 1)


def by_alert(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    grouped: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        grouped[alert.alert_id].append(alert)
    return dict(grouped)


# -- the acceptance scenario ----------------------------------------------------------------

SURGE_DAY = 12  # a Friday
SURGE = Surge(local_day(SURGE_DAY).replace(hour=14), 40, 5 * DAY)


@pytest.fixture(scope="module")
def fortnight() -> list[Mention]:
    return stream(ZUTPHEN, days=14, seed=7, surges=[SURGE])


@pytest.fixture(scope="module")
def fortnight_alerts(fortnight: list[Mention]) -> list[Alert]:
    return run(SurgeDetector(roster()), fortnight)


def test_one_surge_opens_fast_resolves_after_and_usual_peaks_stay_quiet(
        fortnight: list[Mention], fortnight_alerts: list[Alert]) -> None:
    alerts = by_alert(fortnight_alerts)
    assert len(alerts) == 1, [a.summary for a in fortnight_alerts]
    (states,) = alerts.values()
    start = SURGE.start.astimezone(UTC)
    end = start + timedelta(minutes=SURGE.minutes)
    opened, *updates, resolved = states
    assert opened.status == "open" and opened.version == 1 and opened.kind == "complaint_surge"
    assert start < opened.opened_at <= start + timedelta(minutes=2)
    minute = opened.opened_at - timedelta(minutes=1)
    assert opened.alert_id == f"complaint_surge:{ZUTPHEN}:{minute:%Y%m%dT%H%M}"
    assert opened.observed >= 3 * opened.expected
    assert opened.summary.startswith("Gemeente Zutphen: ")
    assert "for a Friday 14:0" in opened.summary
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert end < resolved.resolved_at <= end + timedelta(minutes=20)
    assert [s.version for s in states] == list(range(1, len(states) + 1))
    assert all(s.status == "open" and s.resolved_at is None for s in updates)
    assert len(updates) <= 10, "updates only when something changed materially"
    assert all(s.opened_at == opened.opened_at for s in states)
    # The samples are the surge's complaints, most-followed authors first.
    by_id = {m.event_id: m for m in fortnight}
    samples = [by_id[i] for i in opened.sample_event_ids]
    assert 1 <= len(samples) <= 10 and all(m.complaint for m in samples)
    followers = [m.author_followers for m in samples]
    assert followers == sorted(followers, reverse=True)
    assert 0 < opened.severity <= 10
    print(f"\nsurge opens {(opened.opened_at - start).total_seconds():.0f} s after it starts, "
          f"resolves {(resolved.resolved_at - end).total_seconds() / 60:.0f} min after it ends, "
          f"{len(states)} states; {opened.summary} (severity {opened.severity})")


def test_usual_peaks_are_no_surge(fortnight_alerts: list[Alert]) -> None:
    # Without the surge, the same fortnight (every weekday a five-fold 09:00 peak) is quiet.
    quiet = stream(ZUTPHEN, days=14, seed=7)
    assert run(SurgeDetector(roster()), quiet) == []
    assert all(a.opened_at.astimezone(AMSTERDAM).hour == 14 for a in fortnight_alerts)


def test_no_alert_during_warmup() -> None:
    day2 = Surge(local_day(2).replace(hour=14), 40, 5 * DAY)
    day5 = Surge(local_day(5).replace(hour=14), 40, 5 * DAY)
    alerts = run(SurgeDetector(roster()), stream(ZUTPHEN, days=6, seed=3, surges=[day2, day5]))
    opened = [a for a in alerts if a.version == 1]
    # Day 1's first peak and day 2's surge come before three days of history; day 5's is seen.
    assert [a.opened_at.astimezone(AMSTERDAM).date() for a in opened] == [day5.start.date()]


def quiet_rate(local: datetime) -> float:
    return 0.01


def burst(org_id: str, at: datetime, n: int, partition: int = 0) -> list[Mention]:
    """n complaints within the minute that starts at `at`."""
    return [mention(org_id, f"{org_id}-burst-{at:%d%H%M}-{i}", at + timedelta(seconds=i * 50 / n),
                    complaint=True, followers=100 * i, author=f"b{i}", partition=partition)
            for i in range(n)]


def test_min_volume_rule() -> None:
    base = stream(ZUTPHEN, days=5, seed=5, rate=quiet_rate)
    at = local_day(5).replace(hour=12).astimezone(UTC)
    # Seven complaints where one an hour and a half is usual: far above the usual, but fewer
    # than min_complaints (8) in the window.
    seven = run(SurgeDetector(roster()), merge(base, burst(ZUTPHEN, at, 7)))
    assert seven == []
    nine = run(SurgeDetector(roster()), merge(base, burst(ZUTPHEN, at, 9)))
    assert [a.status for a in nine] == ["open", "resolved"]
    assert nine[0].opened_at == at + timedelta(minutes=1)
    # Even with the volume rule down to 2, the floor of the usual rate (3 an hour) keeps
    # two complaints in a minute at a quiet organisation from being a storm; four are one.
    low = roster("    surge: {min_complaints: 2}")
    assert run(SurgeDetector(low), merge(base, burst(ZUTPHEN, at, 2))) == []
    assert run(SurgeDetector(low), merge(base, burst(ZUTPHEN, at, 4)))[0].observed == 4


def test_a_slow_surge_at_a_quiet_organisation_is_caught_by_the_slow_window() -> None:
    # One complaint every two minutes for 40 minutes where one in a hundred minutes is
    # usual: never 8 in a 10-minute window, but 20 where under 2 are expected (the floor).
    slow = Surge(local_day(5).replace(hour=12), 40, 0.5)
    mentions = stream(ZUTPHEN, days=6, seed=21, rate=quiet_rate, surges=[slow])
    opened = [a for a in run(SurgeDetector(roster()), mentions) if a.version == 1]
    assert len(opened) == 1, opened
    at = opened[0].opened_at.astimezone(AMSTERDAM)
    assert slow.start < at <= slow.start + timedelta(minutes=40)
    assert opened[0].observed >= 8
    # Without the slow window (slow_window = window) it goes unseen, as before.
    fast_only = roster("    surge: {slow_window: 10m}")
    assert run(SurgeDetector(fast_only), mentions) == []
    # The same quiet organisation without the surge: six days, no alert.
    calm = stream(ZUTPHEN, days=6, seed=21, rate=quiet_rate)
    assert run(SurgeDetector(roster()), calm) == []


def test_the_detector_keeps_the_slow_window_of_minutes_not_the_whole_stream(
        fortnight: list[Mention]) -> None:
    # What an organisation keeps of its minutes (counts, running sums, sampled texts) is
    # bounded by the slow window (3 h), however long the worker runs.
    detector = SurgeDetector(roster())
    run(detector, fortnight)
    state = detector._orgs[ZUTPHEN]
    assert state.slow == 180
    assert 0 < len(state.minutes) <= state.slow + 2
    assert 0 < len(state.sum_minute) - state.head <= state.slow
    assert len(state.sum_minute) <= 2 * state.slow + 256
    assert len(state.usual_texts) <= 11


def test_cooldown_and_per_org_thresholds() -> None:
    first = Surge(local_day(5).replace(hour=14), 15, 5 * DAY)
    second = Surge(local_day(5).replace(hour=14, minute=45), 15, 5 * DAY)
    mentions = stream(ZUTPHEN, days=5, seed=11, surges=[first, second])
    # Default cooldown (1h): the second wave 30 min after the first ended opens nothing.
    alerts = by_alert(run(SurgeDetector(roster()), mentions))
    assert len(alerts) == 1
    (states,) = alerts.values()
    assert states[-1].status == "resolved"
    # With a 10-minute cooldown in the roster it is an alert of its own.
    short = roster("    surge: {cooldown: 10m}")
    assert SurgeDetector(short).settings(ZUTPHEN).cooldown == 600
    alerts = by_alert(run(SurgeDetector(short), mentions))
    assert len(alerts) == 2
    opened = sorted(a[0].opened_at.astimezone(AMSTERDAM) for a in alerts.values())
    for at, surge in zip(opened, (first, second), strict=True):
        assert surge.start < at <= surge.start + timedelta(minutes=2)
    # A higher bar for one organisation: ~150 complaints in 10 minutes are not enough.
    strict = roster("    surge: {min_complaints: 200, slow_window: 10m}")
    assert run(SurgeDetector(strict), mentions) == []
    # Over longer spans (up to slow_window, 3h by default) the bar holds too: the alert
    # comes once a span longer than the window holds 200 complaints.
    longer = run(SurgeDetector(roster("    surge: {min_complaints: 200}")), mentions)
    assert longer[0].observed >= 200 and longer[0].details["window_minutes"] > 10
    assert longer[0].opened_at.astimezone(AMSTERDAM) > first.start + timedelta(minutes=5)


def test_roster_settings_are_validated() -> None:
    custom = SurgeDetector(roster("    surge: {window: 5m, min_complaints: 3, ratio: 2.5, "
                                  "cooldown: 2h, warmup: 1d, p_value: 1e-4}"))
    s = custom.settings(ZUTPHEN)
    assert (s.window, s.min_complaints, s.ratio, s.cooldown, s.warmup, s.p_value) == (
        300, 3, 2.5, 7200, 86_400, 0.0001)
    assert custom.settings("unlisted") == SurgeSettings()
    assert SurgeSettings.for_org(roster("    surge: false").org(ZUTPHEN)).enabled is False
    with pytest.raises(ValueError, match=r"org gemeente-zutphen: surge\.treshold is not a surge"):
        SurgeDetector(roster("    surge: {treshold: 3}"))
    with pytest.raises(ValueError, match=r"org gemeente-zutphen: surge\.window: 'soon' is not"):
        SurgeDetector(roster("    surge: {window: soon}"))
    with pytest.raises(ValueError, match="org gemeente-zutphen: surge: window 90s must be whole"):
        SurgeDetector(roster("    surge: {window: 90s}"))
    with pytest.raises(ValueError, match=r"surge: slow_window 300s must be whole minutes from "
                                         r"the window \(10m\) to 6h"):
        SurgeDetector(roster("    surge: {slow_window: 5m}"))
    assert custom.settings(ZUTPHEN).slow_window == 10800
    assert SurgeSettings().to_spec()["slow_window"] == "3h"
    with pytest.raises(ValueError, match=r"slow_ratio 4\.0 must be between 1 and ratio \(2\.0\)"):
        SurgeDetector(roster("    surge: {slow_ratio: 4}"))
    with pytest.raises(ValueError, match=r"resolve_ratio 1\.8 must not exceed slow_ratio"):
        SurgeDetector(roster("    surge: {slow_ratio: 1.6, resolve_ratio: 1.8}"))
    with pytest.raises(ValueError, match=r"share_ratio 0\.5 must be between 1 and 1000"):
        SurgeDetector(roster("    surge: {share_ratio: 0.5}"))
    with pytest.raises(ValueError, match=r"org gemeente-zutphen: surge: ratio 0\.5 must be"):
        SurgeDetector(roster("    surge: {ratio: 0.5}"))
    with pytest.raises(ValueError, match=r"surge\.min_complaints: 'many' is not a whole"):
        SurgeDetector(roster("    surge: {min_complaints: many}"))
    with pytest.raises(ValueError, match="org gemeente-zutphen: surge must be a mapping"):
        SurgeDetector(roster("    surge: 3"))


def test_defaults_surge_settings_apply_to_every_org() -> None:
    doc = yaml.safe_load("""
defaults: {surge: {min_complaints: 12, warmup: 2d}}
orgs:
  - {id: a}
  - {id: b, surge: {ratio: 4}}
""")
    detector = SurgeDetector(parse_roster(doc))
    assert detector.settings("a").min_complaints == 12
    assert detector.settings("unlisted").warmup == 2 * 86_400
    b = detector.settings("b")  # its own mapping, over the defaults' one
    assert (b.ratio, b.min_complaints, b.warmup) == (4.0, 12, 2 * 86_400)


def test_partition_clock_alone_ends_a_surge() -> None:
    # The organisation falls silent after a surge; other events on its partition (posts,
    # other organisations) move the clock on, and that is enough to resolve the alert.
    surge = Surge(local_day(5).replace(hour=14), 20, 5 * DAY)
    mentions = [m for m in stream(ZUTPHEN, days=5, seed=13, surges=[surge])
                if m.created_at < surge.start + timedelta(minutes=20)]
    detector = SurgeDetector(roster())
    alerts = run(detector, mentions)
    assert [a.status for a in alerts][:1] == ["open"] and alerts[-1].status == "open"
    later = surge.start.astimezone(UTC) + timedelta(minutes=40)
    assert detector.process([], {7: later}) == []  # another partition's clock: not ours
    (resolved,) = [a for a in detector.process([], {0: later}) if a.status == "resolved"]
    assert resolved.resolved_at is not None
    assert resolved.resolved_at <= surge.start + timedelta(minutes=20 + 6)


def test_another_organisations_surge_leaves_the_first_alone() -> None:
    other = "bibliotheek-oost"
    theirs = Surge(local_day(5).replace(hour=11), 30, 10 * DAY)
    ours = stream(ZUTPHEN, days=6, seed=21, partition=0)
    them = stream(other, days=6, seed=22, partition=0, surges=[theirs])
    alone = run(SurgeDetector(roster()), ours)
    together = run(SurgeDetector(roster()), merge(ours, them))
    assert alone == []
    assert {a.org_id for a in together} == {other}
    # On different partitions too, where the other's clock runs apart from ours.
    them = stream(other, days=6, seed=22, partition=1, surges=[theirs])
    assert {a.org_id for a in run(SurgeDetector(roster()), merge(ours, them))} == {other}


# -- determinism ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_partitions() -> tuple[list[Mention], list[Mention]]:
    """Four days of two organisations on two partitions, each with a surge on day 4, and
    a little disorder: some mentions arrive up to 90 s after later ones."""
    surge_a = Surge(local_day(4).replace(hour=14), 25, 5 * DAY)
    surge_b = Surge(local_day(4).replace(hour=14, minute=10), 25, 5 * DAY)
    a = stream(ZUTPHEN, days=4, seed=31, partition=0, surges=[surge_a], chatter=0.2)
    b = stream("dagblad-noord", days=4, seed=32, partition=1, surges=[surge_b], chatter=0.2)
    rng = random.Random(33)
    for s in (a, b):
        for i in range(len(s) - 1, 0, -1):
            if rng.random() < 0.02:
                j = max(0, i - rng.randrange(1, 200))
                s.insert(j, s.pop(i))
    return a, b


def surge_roster() -> Roster:
    return roster("""    surge: {warmup: 2d}
  - id: dagblad-noord
    name: Dagblad van het Noorden
    surge: {warmup: 2d}""")


@pytest.fixture(scope="module")
def reference(two_partitions: tuple[list[Mention], list[Mention]]) -> list[Alert]:
    a, b = two_partitions
    alerts = run(SurgeDetector(surge_roster()), interleave(a, b, [1] * (len(a) + len(b))))
    assert {x.org_id for x in alerts} == {ZUTPHEN, "dagblad-noord"}
    return alerts


def interleave(a: list[Mention], b: list[Mention], picks: Sequence[int]) -> list[Mention]:
    """Both partitions, each in its own order, interleaved as `picks` says (0: a, else b)."""
    out: list[Mention] = []
    i = j = 0
    for pick in picks:
        if (pick == 0 and i < len(a)) or j >= len(b):
            if i < len(a):
                out.append(a[i])
                i += 1
        else:
            out.append(b[j])
            j += 1
    return out + a[i:] + b[j:]


def per_org(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    grouped: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        grouped[alert.org_id].append(alert)
    return dict(grouped)


@pytest.mark.parametrize("batch", [1, 13, 5000])
def test_batch_size_does_not_change_the_alerts(
        two_partitions: tuple[list[Mention], list[Mention]], reference: list[Alert],
        batch: int) -> None:
    a, b = two_partitions
    mentions = interleave(a, b, [1] * (len(a) + len(b)))
    assert run(SurgeDetector(surge_roster()), mentions, batch) == reference


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batches_and_interleaving_do_not_change_the_alerts(
        two_partitions: tuple[list[Mention], list[Mention]], reference: list[Alert],
        data: st.DataObject) -> None:
    a, b = two_partitions
    seed = data.draw(st.integers(0, 2**32), label="interleaving seed")
    rng = random.Random(seed)
    mentions = interleave(a, b, [rng.randrange(2) for _ in range(len(a) + len(b))])
    sizes = data.draw(st.lists(st.sampled_from([1, 2, 13, 200, 5000]), min_size=1, max_size=4),
                      label="batch sizes")
    detector = SurgeDetector(surge_roster())
    alerts: list[Alert] = []
    clocks: dict[int, datetime] = {}
    i = n = 0
    while i < len(mentions):
        size = sizes[n % len(sizes)]
        n += 1
        chunk = mentions[i:i + size]
        i += size
        for m in chunk:
            p = m.source.partition
            if p not in clocks or m.created_at > clocks[p]:
                clocks[p] = m.created_at
        alerts.extend(detector.process(chunk, dict(clocks)))
    assert per_org(alerts) == per_org(reference)


def history_rows(mentions: Iterable[Mention]) -> list[tuple[str, datetime, int, int, int]]:
    """What the warehouse would answer: per org-minute complaints, their authors' reach
    and all mentions."""
    complaints: dict[tuple[str, datetime], int] = defaultdict(int)
    total: dict[tuple[str, datetime], int] = defaultdict(int)
    authors: dict[tuple[str, datetime], dict[str, int]] = defaultdict(dict)
    for m in mentions:
        key = (m.org_id, m.created_at.replace(second=0, microsecond=0))
        complaints[key] += bool(m.complaint)
        total[key] += 1
        if m.complaint:
            seen = authors[key]
            seen[m.author_id] = max(seen.get(m.author_id, 0), m.author_followers)
    return [(org, minute, complaints[(org, minute)], sum(authors[(org, minute)].values()),
             total[(org, minute)])
            for org, minute in sorted(total, key=lambda k: (k[1], k[0]))]


def history_table(rows: Sequence[tuple[str, datetime, int, int, int]]) -> pa.Table:
    """The same as the warehouse's columns (`pipelines.ingest.restore.complaint_history`)."""
    return pa.table({
        "org_id": pa.array([r[0] for r in rows], pa.string()),
        "minute": pa.array([r[1] for r in rows], pa.timestamp("ms", "UTC")),
        "complaints": pa.array([r[2] for r in rows], pa.uint64()),
        "reach": pa.array([r[3] for r in rows], pa.uint64()),
        "mentions": pa.array([r[4] for r in rows], pa.uint64()),
    })


def load(detector: SurgeDetector, how: str, rows: Sequence[tuple[str, datetime, int, int, int]],
         through: datetime, texts: Iterable[ComplaintText] = ()) -> None:
    if how == "rows":
        detector.load_history(rows, through=through, complaints=texts)
    else:
        detector.load_history_table(history_table(rows), through=through, complaints=texts)


@pytest.mark.parametrize("how", ["rows", "table"])
@pytest.mark.parametrize("seconds", [0, 30.5])
def test_load_history_then_continue_gives_the_same_alerts(
        fortnight: list[Mention], fortnight_alerts: list[Alert], seconds: float,
        how: str) -> None:
    # A quiet moment days before the surge; on a minute's edge, or within a minute.
    cut = local_day(10).replace(hour=3).astimezone(UTC) + timedelta(seconds=seconds)
    before = [m for m in fortnight if m.created_at < cut]
    after = [m for m in fortnight if m.created_at >= cut]
    detector = SurgeDetector(roster())
    load(detector, how, history_rows(before), cut)
    assert detector.tracked_orgs == 1
    resumed = run(detector, after)
    assert resumed == [a for a in fortnight_alerts if a.updated_at > cut]
    assert len(resumed) >= 2
    # Mentions the history already holds (a consumer re-reading after a restart) count once.
    detector = SurgeDetector(roster())
    load(detector, how, history_rows(before), cut)
    assert run(detector, fortnight[-len(after) - 5000:]) == resumed


def test_clock_change_keeps_the_nine_oclock_peak_usual() -> None:
    # Three weeks around the switch to summer time (29 March 2026): the 09:00 local peak
    # moves an hour in UTC and must still be recognised.
    start = datetime(2026, 3, 16, tzinfo=AMSTERDAM)
    mentions = stream(ZUTPHEN, days=21, seed=41, start=start, chatter=0.0)
    assert run(SurgeDetector(roster()), mentions) == []


# -- small pieces ----------------------------------------------------------------------------


def test_poisson_tail_bound() -> None:
    def exact(k: int, lam: float) -> float:
        return 1 - sum(math.exp(-lam) * lam**j / math.factorial(j) for j in range(k))

    for k, lam in [(10, 2.0), (20, 4.0), (8, 0.5), (30, 10.0), (5, 4.9)]:
        bound = log_poisson_tail(k, lam)
        assert math.log(exact(k, lam)) <= bound + 1e-9 <= math.log(exact(k, lam)) + math.log(2)
    assert log_poisson_tail(3, 5.0) == 0.0
    assert log_poisson_tail(0, 0.0) == 0.0 and log_poisson_tail(1, 0.0) == -math.inf


def test_severity_grows_with_excess_and_reach() -> None:
    assert severity(10, 10, 0) == 0.0
    assert severity(30, 10, 0) < severity(50, 10, 0) < severity(50, 10, 100_000)
    assert severity(1000, 1, 10**9) == 10.0
    assert 3.0 <= severity(30, 10, 100) <= 5.0


def test_throughput(fortnight: list[Mention]) -> None:
    def quieter(scale: float) -> Callable[[datetime], float]:
        return lambda local: usual_rate(local) * scale

    many = merge(*(stream(f"org-{i}", days=1, seed=100 + i, partition=i % 4,
                          rate=quieter(0.05 + 0.1 * (i % 5)), chatter=1.0) for i in range(50)))
    for label, mentions in (("14 days, 1 busy org", fortnight),
                            ("1 day, 50 orgs on 4 partitions", many)):
        detector = SurgeDetector(roster())
        began = time.perf_counter()
        run(detector, mentions, 2000)
        took = time.perf_counter() - began
        print(f"\nthroughput ({label}): {len(mentions)} mentions in {took:.2f} s: "
              f"{len(mentions) / took:,.0f} mentions/s, {took / len(mentions) * 1e6:.1f} µs each")


# -- the columnar path against one mention at a time ------------------------------------------

WORLD_PARTITIONS = 3


def per_event(detector: SurgeDetector, mentions: Sequence[Mention],
              clocks: Mapping[int, datetime]) -> list[Alert]:
    """The rule `process_table` implements, one mention at a time in the given order: the
    mention is counted (unless the loaded history holds it), then its partition's clock
    moves to its `clock_at`, judging every minute that is then due; at the end the
    partitions' `clocks` move. Written on the detector's own steps, without the columns."""
    out: list[Alert] = []
    detector._out = out
    for m in mentions:
        state = detector._orgs.get(m.org_id) or detector._track(m.org_id)
        partition = m.source.partition
        if state.partition != partition:
            detector._move(state, partition)
        if state.idle:
            detector._wake(state)
        ts = m.created_at.timestamp()
        minute = int(ts // 60)
        if state.first_minute < 0:
            state.start(minute)
        if ts >= detector._history_end:
            if m.complaint:
                state.add_complaint(minute, ts, m.event_id, m.author_id, m.author_handle,
                                    m.author_followers, m.text or "", text_key(m.event_id))
            else:
                state.add_others(minute, 1)
        tick = m.clock_at.timestamp()
        if partition not in detector._clock or tick > detector._clock[partition]:
            detector._tick(partition, tick)
    for partition in sorted(clocks):
        tick = clocks[partition].timestamp()
        if partition not in detector._clock or tick > detector._clock[partition]:
            detector._tick(partition, tick)
    detector._out = None
    return out


@pytest.fixture(scope="module")
def simulated_world() -> tuple[Roster, list[Mention]]:
    """Four simulated days of 12 organisations (their own zones, texts, injected surges),
    decoded and labelled as the worker does, on three partitions keyed by organisation; a
    few events arrive late (up to two minutes after later ones) and a few are dated ahead
    of the time Kafka received them (their clocks held at `CLOCK_SKEW`)."""
    w = world(5, 12)
    document = w.roster_document()
    document["defaults"]["surge"] = {"warmup": "1d"}
    rost = parse_roster(document)
    rng = random.Random(6)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    parts: list[list[tuple[bytes, datetime]]] = [[] for _ in range(WORLD_PARTITIONS)]
    for t_ms, org, _, line in w.stream(start, end=start + timedelta(days=4), scale=0.6):
        received = datetime.fromtimestamp(t_ms / 1000, UTC) + timedelta(seconds=1)
        if rng.random() < 0.02:
            received -= timedelta(minutes=rng.uniform(1, 5))  # dated ahead of its arrival
        parts[org % WORLD_PARTITIONS].append((line, received))
    mentions: list[Mention] = []
    for p, events in enumerate(parts):
        for i in range(len(events) - 1, 0, -1):
            if rng.random() < 0.02:
                j = i
                while j > 0 and events[i][1] - events[j - 1][1] < timedelta(minutes=2):
                    j -= 1
                events.insert(j, events.pop(i))
        for offset, (line, received) in enumerate(events):
            item = decode(line, Source("events", p, offset, received.replace(
                microsecond=received.microsecond // 1000 * 1000)), rost)
            if isinstance(item, Mention):
                mentions.append(item)
    label_mentions(mentions, load_classifier())
    return rost, mentions


def batches(mentions: Sequence[Mention], size: int) -> Iterator[tuple[list[Mention],
                                                                        dict[int, datetime]]]:
    """Batches of `size` in (partition, offset) order, with the clocks the worker passes."""
    clocks: dict[int, datetime] = {}
    for i in range(0, len(mentions), size):
        chunk = sorted(mentions[i:i + size], key=lambda m: (m.source.partition, m.source.offset))
        for m in chunk:
            p = m.source.partition
            if p not in clocks or m.clock_at > clocks[p]:
                clocks[p] = m.clock_at
        yield chunk, dict(clocks)


@pytest.fixture(scope="module")
def world_reference(simulated_world: tuple[Roster, list[Mention]]) -> list[Alert]:
    rost, mentions = simulated_world
    detector = SurgeDetector(rost)
    alerts: list[Alert] = []
    for chunk, clocks in batches(mentions, 5000):
        alerts += per_event(detector, chunk, clocks)
    return alerts


def test_the_simulated_world_has_surges_to_find(world_reference: list[Alert]) -> None:
    states = {a.status for a in world_reference}
    assert states == {"open", "resolved"}
    assert len({a.alert_id for a in world_reference}) >= 3
    assert all(a.sample_event_ids for a in world_reference)
    assert any(a.details["terms"] for a in world_reference)
    assert any(a.details["posts"] and a.details["posts"][0]["text"] for a in world_reference)


@pytest.mark.parametrize("size", [1, 13, 5000])
def test_process_table_gives_the_alerts_of_one_mention_at_a_time(
        simulated_world: tuple[Roster, list[Mention]], world_reference: list[Alert],
        size: int) -> None:
    rost, mentions = simulated_world
    detector = SurgeDetector(rost)
    alerts: list[Alert] = []
    for chunk, clocks in batches(mentions, size):
        alerts += detector.process_table(mentions_table(chunk, NOW), clocks)
    assert alerts == world_reference


def test_a_call_that_spans_days_is_judged_in_bulk(
        simulated_world: tuple[Roster, list[Mention]], world_reference: list[Alert]) -> None:
    """A worker's call can hold one partition's 20 000 events, days of event time, while a
    look-ahead reaches less than a day past the minutes in the history: such a call is
    counted in stretches, each with its own look-ahead. Each partition's four days in one
    call: per organisation the alert states of one mention at a time, and most minutes
    passed in bulk (taken whole, 42 % of them were judged one by one)."""
    rost, mentions = simulated_world
    detector = SurgeDetector(rost)
    alerts: list[Alert] = []
    clocks: dict[int, datetime] = {}
    for p in range(WORLD_PARTITIONS):
        mine = sorted((m for m in mentions if m.source.partition == p),
                      key=lambda m: m.source.offset)
        clocks[p] = max(m.clock_at for m in mine)
        alerts += detector.process_table(mentions_table(mine, NOW), dict(clocks))
    assert per_org(alerts) == per_org(world_reference)
    work = detector.work
    assert 10 * work.minutes_stepped <= work.minutes_stepped + work.minutes_skipped, work


@pytest.mark.parametrize("hours", [56.6, 56.7])
def test_the_history_in_columns_leaves_the_state_the_rows_leave(
        simulated_world: tuple[Roster, list[Mention]], hours: float) -> None:
    """A restart on the simulated world, its history (surges in it, so minutes kept out,
    cooldowns) loaded as rows and as columns, with the complaints' texts: the same alerts
    afterwards, texts and all, in batches of 13 and of 5000."""
    rost, mentions = simulated_world
    cut = min(m.created_at for m in mentions) + timedelta(hours=hours, seconds=17)
    before = [m for m in mentions if m.created_at < cut]
    after = [m for m in mentions if m.created_at >= cut]
    rows = history_rows(before)
    texts = [ComplaintText(m.org_id, m.event_id, m.created_at, m.author_id, m.author_handle,
                           m.author_followers, m.text or "") for m in before if m.complaint]
    for size in (13, 5000):
        alerts: dict[str, list[Alert]] = {}
        for how in ("rows", "table"):
            detector = SurgeDetector(rost)
            load(detector, how, rows, cut, texts)
            if how == "table":
                kept_out = sum(bool(s.exclusions) for s in detector._orgs.values())
                assert kept_out >= 2  # surges in the history: the walk ran in the middle
            alerts[how] = [a for chunk, clocks in batches(after, size)
                           for a in detector.process_table(mentions_table(chunk, NOW), clocks)]
        assert alerts["table"] == alerts["rows"]
        assert {a.status for a in alerts["rows"]} == {"open", "resolved"}
