"""Complaint surges that the volume of everything else cannot explain
(pipelines.processing.escalation).

A burst of praise in which the classifier misreads a few per cent as complaints raises the
complaint count as much as a small storm does; only the complaints' share of the mentions
tells them apart. Each scenario is one organisation with a known rhythm (Poisson counts per
minute, seeded), texts drawn from small pools, and one injected event.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from pipelines.ingest.decode import Mention, Source
from pipelines.processing.alerts import Alert
from pipelines.processing.escalation import SPANS, ComplaintText, SurgeDetector
from pipelines.processing.surge_explain import distinctive_terms, terms_of
from pipelines.roster import Roster, parse_roster

ORG = "bibliotheek-oost"
ZONE = ZoneInfo("Europe/Amsterdam")
DAY_1 = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday

USUAL_COMPLAINTS = (
    "De wifi in de leeszaal doet het weer niet",
    "Waarom is de bibliotheek op zondag dicht?",
    "Mijn reservering staat al drie weken klaar maar ik krijg geen bericht",
    "The printer on the first floor keeps eating my money",
    "Boete van vijf euro voor een dag te laat, echt belachelijk",
    "Het is veel te warm in de studiezaal",
    "The self-checkout machine rejected my card again",
    "Geen enkele stopcontact werkt bij de ramen",
)
OTHER_TEXTS = (
    "Leuke lezing gisteravond, dank jullie wel",
    "Hoe laat gaan jullie open op zaterdag?",
    "Great selection of graphic novels, thanks!",
    "Is de kinderhoek ook in de vakantie open?",
    "Mooie tentoonstelling over de stad",
)
STORM_TEXTS = (
    "#storing het uitleensysteem ligt er weer uit, niemand kan boeken lenen",
    "Al een uur in de rij omdat het uitleensysteem plat ligt #storing",
    "Uitleensysteem kapot en geen medewerker te zien",
    "Kan mijn boeken niet terugbrengen, uitleensysteem doet niks #storing",
)


@dataclass(frozen=True)
class Rhythm:
    complaints: float  # usual complaints per minute by day
    others: float  # usual other mentions per minute by day

    def at(self, local: datetime) -> tuple[float, float]:
        night = local.hour < 7 or local.hour >= 23
        factor = 0.1 if night else (0.5 if local.weekday() >= 5 else 1.0)
        return self.complaints * factor, self.others * factor


@dataclass(frozen=True)
class Burst:
    """For `minutes` from `start`: extra complaints and extra other mentions per minute."""

    start: datetime
    minutes: int
    complaints: float
    others: float
    misread: float = 0.0  # share of the extra other mentions the classifier calls complaints
    texts: Sequence[str] = STORM_TEXTS


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


def stream(rhythm: Rhythm, *, days: float, seed: int, bursts: Sequence[Burst] = ()
           ) -> list[Mention]:
    rng = random.Random(seed)
    out: list[Mention] = []
    first = DAY_1.astimezone(UTC)
    for i in range(int(days * 1440)):
        minute = first + timedelta(minutes=i)
        local = minute.astimezone(ZONE)
        lam_c, lam_o = rhythm.at(local)
        drawn: list[tuple[bool, str]] = []
        drawn += [(True, rng.choice(USUAL_COMPLAINTS)) for _ in range(poisson(rng, lam_c))]
        drawn += [(False, rng.choice(OTHER_TEXTS)) for _ in range(poisson(rng, lam_o))]
        for b in bursts:
            if b.start <= local < b.start + timedelta(minutes=b.minutes):
                drawn += [(True, rng.choice(b.texts)) for _ in range(poisson(rng, b.complaints))]
                for _ in range(poisson(rng, b.others)):
                    drawn.append((rng.random() < b.misread, rng.choice(OTHER_TEXTS)))
        rng.shuffle(drawn)
        offsets = sorted(rng.randrange(60_000) for _ in drawn)
        for n, (ms, (complaint, text)) in enumerate(zip(offsets, drawn, strict=True)):
            author = f"u{rng.randrange(5000)}"
            out.append(Mention(
                org_id=ORG, event_id=f"{ORG}-{i}-{n}", platform="twitter",
                created_at=minute + timedelta(milliseconds=ms), author_id=author,
                author_handle=author, author_followers=int(10 ** rng.uniform(0, 5)),
                author_verified=False, kind="mention", text=text, lang="nl", in_reply_to=None,
                shared_from=None, sentiment=-0.5 if complaint else 0.4, complaint=complaint,
                source=Source("events", 0, 0)))
    return out


def roster(surge: str = "") -> Roster:
    return parse_roster(yaml.safe_load(f"""
orgs:
  - id: {ORG}
    name: Bibliotheek Oost
    timezone: Europe/Amsterdam
{surge}
"""))


def run(detector: SurgeDetector, mentions: Sequence[Mention], batch: int = 3000) -> list[Alert]:
    alerts: list[Alert] = []
    for i in range(0, len(mentions), batch):
        chunk = mentions[i:i + batch]
        alerts += detector.process(chunk, {0: chunk[-1].created_at})
    return alerts


def opened(alerts: Sequence[Alert]) -> list[Alert]:
    return [a for a in alerts if a.version == 1]


BUSY = Rhythm(complaints=0.5, others=4.0)  # about 11 % of the mentions are complaints
AT = DAY_1 + timedelta(days=8, hours=14)  # a Tuesday afternoon, after the warm-up


@pytest.fixture(scope="module")
def ordinary() -> list[Mention]:
    return stream(BUSY, days=10, seed=1)


def test_an_ordinary_fortnight_opens_nothing(ordinary: list[Mention]) -> None:
    assert run(SurgeDetector(roster()), ordinary) == []


def test_a_burst_of_praise_with_misread_complaints_is_no_surge() -> None:
    # Ten times the usual volume for 45 minutes, 5 % of it read as complaints: the
    # complaint count goes to 5× its usual (2.5 a minute), its share of the mentions down.
    praise = Burst(AT, 45, complaints=0.0, others=40.0, misread=0.05)
    mentions = stream(BUSY, days=10, seed=1, bursts=[praise])
    during = [m for m in mentions if AT <= m.created_at < AT + timedelta(minutes=45)]
    assert sum(bool(m.complaint) for m in during) >= 4 * 0.5 * 45  # the count did jump
    assert run(SurgeDetector(roster()), mentions) == []
    # The same complaints without the other mentions (a detector that sees no volume) are
    # a storm: only the volume explains them.
    assert opened(run(SurgeDetector(roster()), [m for m in mentions if m.complaint]))


def test_a_storm_with_rising_share_opens_within_minutes() -> None:
    # Complaints at five times their usual rate, and people talking about it too: other
    # mentions up by a third of the extra complaints. Count and share both rise.
    storm = Burst(AT, 40, complaints=2.0, others=0.7)
    alerts = run(SurgeDetector(roster()), stream(BUSY, days=10, seed=1, bursts=[storm]))
    (first,) = opened(alerts)
    assert AT < first.opened_at <= AT + timedelta(minutes=3)
    assert first.observed >= 2 * first.expected
    assert first.details["share"] > 1.5 * first.details["usual_share"]
    assert alerts[-1].status == "resolved"


def test_a_storm_in_a_busy_hour_of_praise_still_opens() -> None:
    # Praise and a storm at once: the praise explains some complaints (its misread ones),
    # the storm's are far more than that. The tail is taken against what the volume
    # explains, so it takes a few minutes more than a storm on an ordinary afternoon.
    praise = Burst(AT - timedelta(minutes=20), 80, complaints=0.0, others=20.0, misread=0.05)
    storm = Burst(AT, 30, complaints=6.0, others=1.0)
    alerts = run(SurgeDetector(roster()), stream(BUSY, days=10, seed=2, bursts=[praise, storm]))
    (first,) = opened(alerts)
    assert AT < first.opened_at <= AT + timedelta(minutes=8)


def test_a_quiet_organisation_s_burst_of_twenty_complaints_opens() -> None:
    # Three complaints and twenty other mentions a day; twenty complaints in 25 minutes,
    # with a few other mentions about it.
    quiet = Rhythm(complaints=3 / 1440 * 1.6, others=20 / 1440 * 1.6)
    burst = Burst(AT, 25, complaints=0.8, others=0.2)
    mentions = stream(quiet, days=10, seed=3, bursts=[burst])
    assert 12 <= sum(1 for m in mentions if m.complaint and m.created_at >= AT
                     and m.created_at < AT + timedelta(minutes=25)) <= 30
    (first,) = opened(run(SurgeDetector(roster()), mentions))
    assert AT < first.opened_at <= AT + timedelta(minutes=25)
    assert run(SurgeDetector(roster()), stream(quiet, days=10, seed=3)) == []


# -- what the alert says ------------------------------------------------------------------


def test_the_alert_says_what_the_storm_is_about(ordinary: list[Mention]) -> None:
    storm = Burst(AT, 30, complaints=3.0, others=0.5)
    mentions = stream(BUSY, days=10, seed=1, bursts=[storm])
    alerts = run(SurgeDetector(roster()), mentions)
    first = opened(alerts)[0]
    terms = [t["term"] for t in first.details["terms"]]
    assert terms[:2] in (["uitleensysteem", "#storing"], ["#storing", "uitleensysteem"]), terms
    assert "#storing" in first.summary and "uitleensysteem" in first.summary
    for term in first.details["terms"]:
        assert term["share"] > 2 * term["usual_share"]
        assert term["term"] not in terms_of("de het een en van ik je niet dat die my the")
    by_id = {m.event_id: m for m in mentions}
    authors = first.details["top_authors"]
    followers = [a["followers"] for a in authors]
    assert followers == sorted(followers, reverse=True) and len(authors) == 5
    assert len({a["author_id"] for a in authors}) == 5
    assert f"@{authors[0]['handle']} ({followers[0]:,} followers)" in first.summary
    samples = [by_id[i] for i in first.sample_event_ids]
    assert all(m.complaint for m in samples)
    assert samples[0].author_followers == followers[0]
    posts = first.details["posts"]
    assert [p["event_id"] for p in posts] == list(first.sample_event_ids[:3])
    assert all(p["text"] == by_id[p["event_id"]].text for p in posts)
    # The warehouse's copy, and the webhook's, carry the same facts.
    assert json.loads(first.details_json())["terms"] == first.details["terms"]
    assert first.to_json()["details"]["top_authors"] == authors
    resolved = alerts[-1]
    assert resolved.status == "resolved" and resolved.details["terms"]


def test_distinctive_terms_ignore_what_is_always_said() -> None:
    usual = ["the wifi is down again", "my card does not work", "the wifi is so slow",
             "why is it closed", "the queue is too long"] * 4
    surge = ["#outage the app is down", "app down again #outage", "the app will not open",
             "is the app down for everyone?", "my card does not work"]
    terms = distinctive_terms(surge, usual)
    assert [t.term for t in terms][:2] == ["app", "#outage"]
    assert {"the", "card", "not"}.isdisjoint(t.term for t in terms)
    assert terms[0].complaints == 4 and terms[0].share == 0.8 and terms[0].usual_share == 0
    assert distinctive_terms([], usual) == []
    assert terms_of("@kpn_webcare Storing!! https://t.co/x #KPNstoring 112") == {
        "storing", "#kpnstoring"}


# -- what a minute costs ------------------------------------------------------------------


def test_ordinary_minutes_cost_a_constant_and_quiet_ones_nothing(
        ordinary: list[Mention]) -> None:
    detector = SurgeDetector(roster())
    warm = [m for m in ordinary if m.created_at < DAY_1 + timedelta(days=4)]
    run(detector, warm)
    before = detector.work.minutes_stepped, detector.work.minutes_tested, \
        detector.work.span_tests, detector.work.minutes_passed
    rest = ordinary[len(warm):]
    run(detector, rest)
    with_mentions = len({int(m.created_at.timestamp() // 60) for m in rest})
    stepped = detector.work.minutes_stepped - before[0]
    tested = detector.work.minutes_tested - before[1]
    spans = detector.work.span_tests - before[2]
    passed = detector.work.minutes_passed - before[3]
    # Six days: every minute with mentions is looked at once (O(1)), a few more while the
    # bound decays; most of them (batches of 3000 mentions here, about 11 hours) are passed
    # in bulk by the batch's look-ahead, which found that none of them could open a surge;
    # the spans are tested at a small share of them, and then at most once per span of
    # the ladder.
    assert with_mentions <= stepped + passed <= 1.25 * with_mentions <= 6 * 1440
    assert stepped <= 0.3 * with_mentions, (stepped, with_mentions)
    assert tested <= 0.1 * (stepped + passed), (tested, stepped)
    assert spans <= len(SPANS) * tested
    # A year of silence costs nothing while it lasts (a calm organisation is not walked
    # by the partition's ticks) and a handful of minutes when it ends (skipped in bulk).
    later = ordinary[-1].created_at + timedelta(days=365)
    detector.process([], {0: ordinary[-1].created_at + timedelta(days=1)})  # it calms down
    stepped, skipped = detector.work.minutes_stepped, detector.work.minutes_skipped
    for day in range(2, 365):
        detector.process([], {0: ordinary[-1].created_at + timedelta(days=day)})
    assert (detector.work.minutes_stepped, detector.work.minutes_skipped) == (stepped, skipped)
    back = stream(BUSY, days=0.01, seed=9)
    for m in back:
        m.created_at = later + (m.created_at - DAY_1.astimezone(UTC))
    detector.process(back, {0: later + timedelta(minutes=5)})
    assert detector.work.minutes_stepped - stepped <= 60
    assert detector.work.minutes_skipped - skipped >= 364 * 1440


# -- a restart in the middle of a storm -------------------------------------------------------


def history(mentions: Sequence[Mention]) -> list[tuple[str, datetime, int, int, int]]:
    """What `restore.complaint_history` reads from the warehouse."""
    rows: dict[datetime, list[int]] = {}
    authors: dict[datetime, dict[str, int]] = {}
    for m in mentions:
        minute = m.created_at.replace(second=0, microsecond=0)
        row = rows.setdefault(minute, [0, 0])
        row[1] += 1
        if m.complaint:
            row[0] += 1
            seen = authors.setdefault(minute, {})
            seen[m.author_id] = max(seen.get(m.author_id, 0), m.author_followers)
    return [(ORG, minute, c, sum(authors.get(minute, {}).values()), n)
            for minute, (c, n) in sorted(rows.items())]


def texts(mentions: Sequence[Mention]) -> list[ComplaintText]:
    """Every stored complaint (a superset of what `restore.complaint_texts` reads)."""
    return [ComplaintText(m.org_id, m.event_id, m.created_at, m.author_id, m.author_handle,
                          m.author_followers, m.text) for m in mentions if m.complaint]


@pytest.mark.parametrize("minutes_in", [-30, 4, 17.5])
def test_a_restart_during_a_storm_sends_the_same_states(minutes_in: float) -> None:
    storm = Burst(AT, 40, complaints=2.5, others=0.5)
    mentions = stream(BUSY, days=9, seed=5, bursts=[storm])
    one_go = run(SurgeDetector(roster()), mentions)
    assert len(opened(one_go)) == 1
    cut = AT.astimezone(UTC) + timedelta(minutes=minutes_in)
    before = [m for m in mentions if m.created_at < cut]
    detector = SurgeDetector(roster())
    detector.load_history(history(before), through=cut, complaints=texts(before))
    resumed = run(detector, [m for m in mentions if m.created_at >= cut])
    expected = [a for a in one_go if a.updated_at > cut]
    assert expected and [a.to_json() for a in resumed] == [a.to_json() for a in expected]


def test_the_gate_never_hides_a_span_that_holds() -> None:
    """The gate (how high the running bound must be before the spans are tested) is a
    lower bound of what any span that passes the rate and tail tests brings: checked
    against the tests themselves on a grid of usual counts and span lengths."""
    from pipelines.processing.escalation import _GRID_BASE, _GRID_STEP, _gate, log_tail

    cases = ((2.0, 1e-5, math.inf), (3.0, 1e-3, math.inf), (1.0, 0.1, math.inf),
             (1000.0, 1e-9, math.inf), (1.3, 1e-5, 100.0), (1.5, 1e-4, 16.0), (1.0, 0.1, 1.0))
    for ratio, p_value, shape in cases:
        log_p = math.log(p_value)
        rho = 0.8 * ratio
        lowest = _gate(-1, ratio, log_p, shape)  # below it, the detector skips in bulk
        for usual in (0.0, 2e-4, 0.01, 0.05, 0.3, 1.0, 3.0, 12.0, 80.0):
            step = math.floor(math.log(usual / _GRID_BASE) / math.log(_GRID_STEP)) \
                if usual >= _GRID_BASE else -1
            gate = _gate(step, ratio, log_p, shape)
            assert gate >= lowest
            for span_usual in (usual, usual * 1.5, usual * 4 + 0.2, usual * 30 + 2):
                k = max(1, math.ceil(ratio * span_usual))
                while log_tail(k, span_usual, shape) > log_p:
                    k += 1
                assert k - rho * span_usual >= gate, (ratio, usual, span_usual, k, gate)


def test_a_hint_never_changes_the_least_count() -> None:
    """The gate computes the least count the tail test lets through at each usual count of
    its grid, starting from the one before (`_least_count`'s hint): whatever the hint —
    the true count, below or above it — the count is the one found from scratch."""
    from pipelines.processing.escalation import _least_count

    for log_p, shape in ((math.log(1e-4), math.inf), (math.log(5e-5), 100.0),
                         (math.log(0.1), 1.0), (math.log(1e-9), 16.0)):
        for usual in (0.0, 1e-4, 0.02, 0.4, 1.0, 2.5, 7.0, 31.0, 140.0):
            least = _least_count(usual, log_p, shape)
            assert least >= 1
            for hint in {0, 1, least - 3, least - 1, least, least + 1, least + 4, 2 * least + 9}:
                assert _least_count(usual, log_p, shape, hint) == least, (usual, shape, hint)


def test_a_lasting_new_level_opens_an_alert_and_is_learnt() -> None:
    # From a Tuesday afternoon on, three times the complaints for good (the rest as usual).
    level = Rhythm(complaints=1.5, others=4.0)
    before = [m for m in stream(BUSY, days=16, seed=4) if m.created_at < AT]
    after = [m for m in stream(level, days=16, seed=5) if m.created_at >= AT]
    alerts = opened(run(SurgeDetector(roster()), before + after))
    assert alerts and AT < alerts[0].opened_at <= AT + timedelta(minutes=30)
    # While it is new, a few more (the first days, the first weekend of it); then the
    # history holds it (at most six hours of a week are kept out) and it is the usual.
    assert len(alerts) <= 12, [a.summary for a in alerts]
    settled = AT + timedelta(days=6)
    assert [a.summary for a in alerts if a.opened_at >= settled] == []


def test_misread_is_a_roster_setting() -> None:
    detector = SurgeDetector(roster("    surge: {misread: 0.3, share_ratio: 2}"))
    assert (detector.settings(ORG).misread, detector.settings(ORG).share_ratio) == (0.3, 2.0)
    with pytest.raises(ValueError, match=r"misread 1\.5 must be between 0 and 1"):
        SurgeDetector(roster("    surge: {misread: 1.5}"))


def test_the_tail_with_a_varying_usual_level_is_an_upper_bound_and_heavier() -> None:
    """`log_tail` (a negative binomial: the usual level itself varies by `dispersion`) is
    never below the exact tail, summed term by term, and far out above the Poisson's."""
    from pipelines.processing.escalation import log_poisson_tail, log_tail

    for dispersion in (0.1, 0.25, 1.0):
        shape = 1 / dispersion ** 2
        for lam in (0.3, 2.0, 15.0, 120.0):
            for k in (1, 3, 8, 20, 40, 200, 400):
                q = lam / (lam + shape)
                terms = [math.exp(math.lgamma(j + shape) - math.lgamma(shape)
                                  - math.lgamma(j + 1) + shape * math.log1p(-q)
                                  + j * math.log(q)) for j in range(k, k + 5000)]
                exact = sum(terms)
                bound = log_tail(k, lam, shape)
                if exact > 0:
                    assert bound >= math.log(exact) - 1e-9, (dispersion, lam, k)
                if k >= 3 * lam + 10:  # far out, a varying level makes a count likelier
                    assert bound >= log_poisson_tail(k, lam), (dispersion, lam, k)
