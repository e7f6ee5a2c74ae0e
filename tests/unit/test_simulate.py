"""`dorpspomp simulate`: a deterministic synthetic stream that the pipeline takes as it is.

Most tests read one simulated week of 60 organisations (at a quarter of the default
volume) the way a user would: the `.jsonl` file, the roster beside it and the ground-truth
surges, decoded with the pipeline's own decoder and judged by the pipeline's own complaint
classifier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from pipelines.commands import replay
from pipelines.ingest.decode import DeadLetter, Mention, Post, Source, decode
from pipelines.roster import Roster, load_roster
from pipelines.simulate import (
    KINDS,
    SimulationReport,
    scale_for_events_per_day,
    simulate_live,
    simulate_to_file,
    surges_path_for,
    world,
)
from pipelines.textmodel.classify import load_classifier

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, tzinfo=UTC)          # a Monday
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Simulated:
    out: Path
    report: SimulationReport
    lines: list[bytes]
    docs: list[dict[str, Any]]
    roster: Roster
    surges: list[dict[str, Any]]

    @property
    def mentions(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["type"] == "mention"]

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["type"] == "post"]


def read(out: Path, report: SimulationReport) -> Simulated:
    lines = out.read_bytes().splitlines()
    return Simulated(
        out=out, report=report, lines=lines, docs=[orjson.loads(line) for line in lines],
        roster=load_roster(out.with_suffix(".roster.yaml")),
        surges=[json.loads(line) for line in
                out.with_suffix(".surges.jsonl").read_text().splitlines()],
    )


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    out = tmp_path_factory.mktemp("simulate") / "week.jsonl"
    report = simulate_to_file(out, seed=7, orgs=60, days=7, start=START, scale=0.25,
                              progress=False)
    return read(out, report)


@pytest.fixture(scope="module")
def complaints(week: Simulated) -> list[bool]:
    """Each mention's complaint flag as the pipeline decides it: upstream label, else model."""
    mentions = week.mentions
    flags, _ = load_classifier().score([m.get("text") for m in mentions],
                                       [m.get("lang") for m in mentions])
    return [m["complaint"] if m.get("complaint") is not None else flag
            for m, flag in zip(mentions, flags, strict=True)]


@pytest.fixture(scope="module")
def decoded(week: Simulated) -> list[Mention | Post]:
    """The week as the worker decodes it; a dead letter fails the test that reads it."""
    events: list[Mention | Post] = []
    for offset, line in enumerate(week.lines):
        event = decode(line, Source("simulate", 0, offset), week.roster)
        assert not isinstance(event, DeadLetter), f"{event.error}: {line!r}"
        events.append(event)
    return events


def simulate_small(directory: Path, seed: int) -> Path:
    out = directory / "small.jsonl"
    simulate_to_file(out, seed=seed, orgs=60, days=2, start=START, scale=0.2, progress=False)
    return out


# -- determinism -------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = simulate_small(tmp_path / "a", seed=7)
    second = simulate_small(tmp_path / "b", seed=7)
    other = simulate_small(tmp_path / "c", seed=8)
    for suffix in (".jsonl", ".roster.yaml", ".surges.jsonl"):
        assert first.with_suffix(suffix).read_bytes() == second.with_suffix(suffix).read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert first.with_suffix(".roster.yaml").read_bytes() != \
        other.with_suffix(".roster.yaml").read_bytes()


def test_another_process_with_another_hash_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    """No set or dict order, no hash randomisation, no wall clock leaks into the output."""
    here = simulate_small(tmp_path / "here", seed=11)
    there = tmp_path / "there" / "small.jsonl"
    code = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC;"
        "from pipelines.simulate import simulate_to_file;"
        "simulate_to_file(Path(sys.argv[1]), seed=11, orgs=60, days=2,"
        " start=datetime(2026, 3, 2, tzinfo=UTC), scale=0.2, progress=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(there)], cwd=ROOT, env=env, check=True,
                   timeout=300)
    for suffix in (".jsonl", ".roster.yaml", ".surges.jsonl"):
        assert here.with_suffix(suffix).read_bytes() == there.with_suffix(suffix).read_bytes()


# The same arguments must always write these bytes (.jsonl, then .roster.yaml, then
# .surges.jsonl): a change to the code that changes an event, the roster or the ground truth
# shows here. First recorded with the single-module simulate.py (commit aff0111), before it
# became a package (5 364 and 5 108 events); recorded again when the organisations began
# to answer every mention that expects an answer, most within their SLA (the world changed
# on purpose; the roster did not).
RECORDED_DIGESTS = {
    (11, 6, 2.0, 1.0): ("c524fb51108202555aa023b81b21fd9d609928a5f53b3499ccdea036bb53be52", 7872),
    (7, 60, 0.5, 0.3): ("e19c6cafc2f4c879e97dc4509dc4194085889339e78177fc0107198d23a62eae", 7205),
}


@pytest.mark.parametrize("seed,orgs,days,scale", sorted(RECORDED_DIGESTS))
def test_the_same_arguments_write_the_recorded_bytes(
        tmp_path: Path, seed: int, orgs: int, days: float, scale: float) -> None:
    import hashlib

    report = simulate_to_file(tmp_path / "w.jsonl", seed=seed, orgs=orgs, days=days,
                              start=START, scale=scale, progress=False)
    digest = hashlib.sha256()
    for path in report.files:
        digest.update(path.read_bytes())
    assert (digest.hexdigest(), report.events) == RECORDED_DIGESTS[(seed, orgs, days, scale)]


def test_world_is_a_pure_function_of_seed_and_size() -> None:
    assert world(3, 60) == world(3, 60)
    assert world(3, 60) != world(4, 60)
    assert len(world(3, 75).orgs) == 75


# -- the roster ---------------------------------------------------------------------------


def test_roster_has_at_least_50_orgs_of_all_eight_kinds_and_loads(week: Simulated) -> None:
    roster = week.roster
    assert len(roster.orgs) >= 50
    kinds = Counter(org.extra["kind"] for org in roster.orgs.values())
    assert set(kinds) == set(KINDS)
    assert {org.sector for org in roster.orgs.values()} >= {"government", "culture", "media",
                                                             "education", "travel", "telecom",
                                                             "retail"}
    for org in roster.orgs.values():
        assert [a for a in org.accounts if a.role == "official"], f"{org.id} has no account"
        assert org.timezone == "Europe/Amsterdam"
        assert org.business_hours.weekly_seconds > 0
    assert "gemeente-" in " ".join(roster.orgs)


def test_roster_of_the_world_is_the_roster_written(week: Simulated) -> None:
    assert world(7, 60).roster().fingerprint() == week.roster.fingerprint()


def test_names_look_dutch_and_ids_are_valid(week: Simulated) -> None:
    names = [org.name for org in week.roster.orgs.values()]
    assert any(name.startswith("Gemeente ") for name in names)
    assert any(name.startswith("Bibliotheek ") for name in names)
    assert len(set(names)) == len(names)


# -- every event is valid -------------------------------------------------------------------


def test_every_event_validates_against_the_json_schemas(tmp_path: Path) -> None:
    schemas = {
        kind: Draft202012Validator(
            json.loads((ROOT / "schemas" / "events" / f"{kind}.schema.json").read_text()),
            format_checker=FormatChecker())
        for kind in ("mention", "post")
    }
    out = simulate_small(tmp_path, seed=5)
    lines = out.read_bytes().splitlines()
    assert len(lines) > 5_000
    for line in lines:
        doc = orjson.loads(line)
        errors = [e.message for e in schemas[doc["type"]].iter_errors(doc)]
        assert not errors, f"{line!r}: {errors}"


def test_every_event_decodes_with_the_written_roster(
        week: Simulated, decoded: list[Mention | Post]) -> None:
    kinds: Counter[str] = Counter()
    assert len(decoded) == len(week.lines)
    for event in decoded:
        assert event.org_id in week.roster.orgs
        if isinstance(event, Mention):
            kinds[f"mention:{event.kind}"] += 1
        else:
            kinds[f"post:{event.kind}"] += 1
    assert set(kinds) >= {"mention:mention", "mention:reply", "mention:comment",
                          "mention:direct", "mention:share", "mention:review", "post:post",
                          "post:reply"}
    # Some posts leave org_id out: the roster resolves them.
    assert any("org_id" not in d for d in week.posts)
    # Some collectors report local time with an offset.
    assert any(d["created_at"].endswith("+01:00") for d in week.docs)


def test_event_ids_are_unique_and_the_file_is_in_time_order(week: Simulated) -> None:
    ids = [d["event_id"] for d in week.docs]
    assert len(set(ids)) == len(ids)
    times = [parse_time(d["created_at"]) for d in week.docs]
    assert times == sorted(times)
    assert times[0] >= START
    assert times[-1] < START + timedelta(days=7)


def test_report_counts_what_was_written(week: Simulated) -> None:
    report = week.report
    assert report.events == len(week.lines)
    assert report.mentions == len(week.mentions)
    assert report.posts == len(week.posts)
    assert report.size_bytes == week.out.stat().st_size
    assert [s.org_id for s in report.surges] == [s["org_id"] for s in week.surges]
    assert report.files == [week.out, week.out.with_suffix(".roster.yaml"),
                            week.out.with_suffix(".surges.jsonl")]
    assert "complaint surges" in report.summary()


# -- traffic ---------------------------------------------------------------------------------


def local_hour(doc: dict[str, Any]) -> int:
    return parse_time(doc["created_at"]).astimezone(AMSTERDAM).hour


def test_traffic_has_a_daily_rhythm(week: Simulated) -> None:
    hours = Counter(local_hour(m) for m in week.mentions)
    night = sum(hours[h] for h in range(0, 6)) / 6
    day = sum(hours[h] for h in range(9, 17)) / 8
    assert day > 5 * night


def test_municipalities_are_quiet_at_the_weekend(week: Simulated) -> None:
    kind = {org.id: org.extra["kind"] for org in week.roster.orgs.values()}
    weekday: Counter[bool] = Counter()
    for m in week.mentions:
        if kind[m["org_id"]] == "municipality" and m.get("kind") != "share":
            weekday[parse_time(m["created_at"]).astimezone(AMSTERDAM).weekday() >= 5] += 1
    assert weekday[True] / 2 < 0.6 * weekday[False] / 5     # per day, weekend vs weekdays


def test_broadcasters_peak_in_the_evening_and_newspapers_in_the_morning(week: Simulated) -> None:
    kind = {org.id: org.extra["kind"] for org in week.roster.orgs.values()}
    hours: dict[str, Counter[int]] = defaultdict(Counter)
    for m in week.mentions:
        if m.get("kind") != "share":
            hours[kind[m["org_id"]]][local_hour(m)] += 1
    broadcast, paper = hours["broadcaster"], hours["newspaper"]
    assert broadcast[20] + broadcast[21] > 1.5 * (broadcast[10] + broadcast[11])
    assert paper[7] + paper[8] > 1.2 * (paper[14] + paper[15])


def test_follower_counts_are_heavy_tailed_with_a_few_influencers(week: Simulated) -> None:
    followers: dict[tuple[str, str], int] = {}
    verified = set()
    for m in week.mentions:
        key = (m["platform"], m["author"]["id"])
        followers[key] = m["author"]["followers"]
        if m["author"].get("verified"):
            verified.add(key)
    counts = sorted(followers.values(), reverse=True)
    top = counts[: max(1, len(counts) // 100)]
    assert len(counts) > 5_000
    assert sum(top) > 0.3 * sum(counts)
    assert counts[len(counts) // 2] < 200          # the median author is small
    assert counts[0] > 100_000                     # influencers exist
    assert 0 < len(verified) < 0.01 * len(counts)


def test_shares_reference_earlier_events_and_cascade(week: Simulated) -> None:
    kind_of: dict[str, str] = {}
    shares_of: Counter[str] = Counter()
    for doc in week.docs:
        if doc["type"] == "mention" and doc.get("kind") == "share":
            source = doc["shared_from"]
            assert source in kind_of, f"{doc['event_id']} shares {source}, not seen before"
            shares_of[kind_of[source]] += 1
        kind_of[doc["event_id"]] = "post" if doc["type"] == "post" else doc.get("kind", "mention")
    assert shares_of["share"] > 100          # shares of shares
    assert shares_of["post"] > 100           # shares of the organisation's own posts
    assert sum(shares_of.values()) > 0.1 * len(week.mentions)


def test_replies_point_at_events_of_the_same_organisation(
        decoded: list[Mention | Post]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for event in decoded:
        if event.in_reply_to is not None:
            org_id, kind = seen[event.in_reply_to]
            assert org_id == event.org_id
            if isinstance(event, Post):
                assert kind == "mention"       # the organisation answers a mention
        seen[event.event_id] = (event.org_id, "post" if isinstance(event, Post) else "mention")


def test_texts_are_dutch_and_english_varied_and_mostly_unlabelled(
        week: Simulated, complaints: list[bool]) -> None:
    mentions = [m for m in week.mentions if m.get("kind") != "share"]
    langs = Counter((m.get("lang") or "?")[:2] for m in mentions)
    assert langs["nl"] > langs["en"] > 0.05 * len(mentions)
    assert langs["?"] > 0                      # some leave lang to the pipeline
    texts = [m["text"] for m in mentions]
    assert len(set(texts)) > 0.4 * len(texts)
    assert any(ord(c) > 0x1F000 for text in texts[:5000] for c in text)     # emoji
    labelled = [m for m in week.mentions if m.get("complaint") is not None]
    scored = [m for m in week.mentions if m.get("sentiment") is not None]
    assert 0 < len(labelled) < 0.1 * len(week.mentions)
    assert 0 < len(scored) < 0.15 * len(week.mentions)
    assert all(m.get("rating") in (1, 2, 3, 4, 5) for m in week.mentions
               if m.get("kind") == "review")
    share = sum(complaints) / len(complaints)
    assert 0.1 < share < 0.5                   # the classifier sees both kinds


# -- answering -----------------------------------------------------------------------------------


def answers_by_org(decoded: list[Mention | Post]) -> dict[str, Counter[str]]:
    answers: dict[str, Counter[str]] = defaultdict(Counter)
    for event in decoded:
        if isinstance(event, Post) and event.in_reply_to is not None:
            answers[event.org_id][event.account_role] += 1
    return answers


def test_employees_answer_under_their_own_names(
        week: Simulated, decoded: list[Mention | Post]) -> None:
    answers = answers_by_org(decoded)
    staffed = [org for org in week.roster.orgs.values()
               if any(a.role == "employee" for a in org.accounts)]
    assert staffed
    through_employees = [org.id for org in staffed if answers[org.id]["employee"] > 0]
    assert len(through_employees) >= 3
    w = world(7, 60)
    library = next(o for o in w.orgs if "staff answer under their own names" in o.traits)
    newspaper = next(o for o in w.orgs if "journalists with their own accounts" in o.traits)
    assert library.kind == "library" and len(library.employees) >= 2
    assert newspaper.kind == "newspaper" and len(newspaper.employees) >= 3
    assert answers[library.id]["employee"] >= 0.3 * sum(answers[library.id].values())
    assert answers[newspaper.id]["employee"] > 0


def test_one_organisation_never_answers_anyone(
        week: Simulated, decoded: list[Mention | Post]) -> None:
    answers = answers_by_org(decoded)
    mentioned = Counter(m["org_id"] for m in week.mentions if m.get("kind") != "share")
    silent = [org_id for org_id in week.roster.orgs
              if mentioned[org_id] > 50 and not answers[org_id]]
    assert len(silent) == 1
    org = week.roster.orgs[silent[0]]
    assert [a.role for a in org.accounts] == ["official"]       # it did register an account
    assert "never answers" in world(7, 60).org(org.id).traits
    assert all(sum(answers[o].values()) > 0 for o in week.roster.orgs
               if o != org.id and mentioned[o] > 50)


def test_answers_follow_staffed_hours(week: Simulated, decoded: list[Mention | Post]) -> None:
    """Organisations answer in their hours: not at the weekend when closed then, at night
    only when they staff a 24/7 desk."""
    kinds = {org.id: org.extra["kind"] for org in week.roster.orgs.values()}
    night_answers: Counter[str] = Counter()
    weekend_answers: Counter[str] = Counter()
    for event in decoded:
        if isinstance(event, Post) and event.in_reply_to is not None:
            org = week.roster.orgs[event.org_id]
            assert org.business_hours.is_open(event.created_at), (
                f"{org.id} answered at {event.created_at}, outside its hours")
            local = event.created_at.astimezone(AMSTERDAM)
            if local.hour < 6:
                night_answers[kinds[org.id]] += 1
            if local.weekday() >= 5:
                weekend_answers[kinds[org.id]] += 1
    assert set(night_answers) == {"airline"}
    assert weekend_answers["telecom"] > 0
    assert weekend_answers["municipality"] == weekend_answers["university"] == 0


def test_replies_come_after_the_mention_and_faster_for_telecoms(
        week: Simulated, decoded: list[Mention | Post]) -> None:
    created = {e.event_id: e.created_at for e in decoded if isinstance(e, Mention)}
    kinds = {org.id: org.extra["kind"] for org in week.roster.orgs.values()}
    delays: dict[str, list[float]] = defaultdict(list)
    for event in decoded:
        if isinstance(event, Post) and event.in_reply_to in created:
            delay = (event.created_at - created[event.in_reply_to]).total_seconds()
            assert delay > 0
            delays[kinds[event.org_id]].append(delay)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    assert median(delays["telecom"]) < median(delays["municipality"]) / 3


def test_organisations_answer_everything_most_within_their_sla(week: Simulated) -> None:
    """As real webcare desks do: every mention that expects an answer (the contract: every
    kind but share) gets one, most within the SLA in business hours; a few desks are slow
    (answer all, often late); one never answers. The first three days only, so that
    every answer falls inside the week."""
    first: dict[str, datetime] = {}
    for post in week.posts:
        if post.get("in_reply_to"):
            first.setdefault(post["in_reply_to"], parse_time(post["created_at"]))
    cut = START + timedelta(days=3)
    asked: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    in_time: Counter[str] = Counter()
    for m in week.mentions:
        created = parse_time(m["created_at"])
        if m.get("kind") == "share" or created >= cut:
            continue
        org = week.roster.orgs[m["org_id"]]
        asked[org.id] += 1
        if m["event_id"] in first:
            answered[org.id] += 1
            business = org.business_hours.business_seconds(created, first[m["event_id"]])
            in_time[org.id] += business <= org.first_response_sla
    w = world(7, 60)
    never = [o.id for o in w.orgs if "never answers" in o.traits]
    slow = [o.id for o in w.orgs if "slow to answer" in o.traits]
    prompt = [o.id for o in w.orgs if o.id not in never and o.id not in slow]
    assert len(never) == 1 and answered[never[0]] == 0 and asked[never[0]] > 100
    assert 3 <= len(slow) <= 12, slow
    assert all(answered[o] == asked[o] > 0 for o in prompt + slow), [
        (o, answered[o], asked[o]) for o in prompt + slow if answered[o] != asked[o]]

    def within(orgs: list[str]) -> list[float]:
        return sorted(in_time[o] / asked[o] for o in orgs)

    assert min(within(prompt)) >= 0.8, within(prompt)
    assert within(prompt)[len(prompt) // 2] >= 0.95, within(prompt)
    assert within(slow)[len(slow) // 2] < within(prompt)[len(prompt) // 2] - 0.1, within(slow)


def test_a_planned_backlog_holds_answers_back_until_the_desk_is_back() -> None:
    from pipelines.simulate.history import BACKLOG_AFTER, BACKLOG_PAST_SLA, demo_backlog
    from pipelines.simulate.world import PlannedBacklog

    w = world(7, 12)
    roster = w.roster()
    now = START + timedelta(days=2, hours=11)       # a Wednesday, 12:00 in Amsterdam
    now_ms = int(now.timestamp() * 1000)
    backlog = demo_backlog(w, now_ms, busy=["oranje-jet"])
    assert backlog is not None and backlog.org_id != "oranje-jet"
    org = w.org(backlog.org_id)
    assert org.responsiveness > 0 and "slow to answer" not in org.traits
    assert backlog.end_ms == now_ms + BACKLOG_AFTER
    hours, sla = roster.org(org.id).business_hours, roster.org(org.id).first_response_sla
    start = datetime.fromtimestamp(backlog.start_ms / 1000, UTC)
    assert abs(hours.business_seconds(start, now) - (sla + BACKLOG_PAST_SLA)) <= 1

    begin, end = now - timedelta(days=1), now + timedelta(hours=6)
    plain = list(w.stream(begin, end=end, scale=0.5))
    held = list(w.stream(begin, end=end, scale=0.5, backlogs=[backlog]))
    answers = [t for t, no, _, line in held if no == org.no and line.startswith(
        b'{"type":"post"') and b'"in_reply_to"' in line]
    assert not [t for t in answers if backlog.start_ms <= t < backlog.end_ms], (
        "an answer came while the desk was away")
    # The queue, worked off once the desk is back: four times as fast as it grew.
    back = [t for t in answers if backlog.end_ms <= t < backlog.end_ms + 3 * 3_600_000]
    assert len(back) > 10, len(back)
    # Other organisations' events are untouched, and without a backlog nothing changes.
    assert [e for e in held if e[1] != org.no] == [e for e in plain if e[1] != org.no]
    assert plain == list(w.stream(begin, end=end, scale=0.5, backlogs=()))
    with pytest.raises(ValueError, match="not one of the world's organisations"):
        w.stream(begin, backlogs=[PlannedBacklog("nobody", 0, 1)])


# -- surges ------------------------------------------------------------------------------


def test_surges_are_in_the_ground_truth_file_and_fit_the_span(week: Simulated) -> None:
    assert len(week.surges) >= 10
    assert week.out.with_suffix(".surges.jsonl") == surges_path_for(week.out)
    for surge in week.surges:
        start, end = parse_time(surge["start"]), parse_time(surge["end"])
        assert set(surge) >= {"org_id", "start", "end", "size", "cause"}
        assert surge["org_id"] in week.roster.orgs
        assert timedelta(minutes=20) <= end - start <= timedelta(minutes=90)
        assert START <= start < end <= START + timedelta(days=7)
        assert surge["size"] >= 5
    causes = Counter(s["cause"] for s in week.surges)
    assert len(causes) >= 4


def test_complaints_during_a_surge_run_several_times_the_usual_rate(
        week: Simulated, complaints: list[bool]) -> None:
    """Judged from the events, by the pipeline's classifier: each surge window holds at
    least three times the organisation's usual complaint rate at that time of day."""
    times: dict[str, list[datetime]] = defaultdict(list)
    for m, complaint in zip(week.mentions, complaints, strict=True):
        if complaint:
            times[m["org_id"]].append(parse_time(m["created_at"]))
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for s in week.surges:
        windows[s["org_id"]].append((parse_time(s["start"]), parse_time(s["end"])))
    for s in week.surges:
        start, end = parse_time(s["start"]), parse_time(s["end"])
        minutes = (end - start).total_seconds() / 60
        org_times = times[s["org_id"]]
        inside = sum(1 for t in org_times if start <= t < end)
        usual, days = 0, 0
        for shift in range(-6, 7):
            a, b = start + timedelta(days=shift), end + timedelta(days=shift)
            if shift == 0 or a < START or b > START + timedelta(days=7):
                continue
            days += 1
            usual += sum(1 for t in org_times if a <= t < b and
                         not any(x <= t < y for x, y in windows[s["org_id"]]))
        usual_rate = max(usual / days / minutes, 1e-9)
        assert inside >= 0.4 * s["size"], s       # the classifier catches most of them
        assert inside / minutes >= 3 * usual_rate, (
            f"{s}: {inside} complaints in {minutes:.0f} min, usually {usual_rate:.3f}/min")


# -- volume and laziness -----------------------------------------------------------------


def test_expected_volume_matches_the_generated_volume(week: Simulated) -> None:
    expected = world(7, 60).expected_events_per_day(0.25) * 7
    assert 0.85 * expected < len(week.docs) < 1.15 * expected
    assert scale_for_events_per_day(world(7, 60), expected / 7) == pytest.approx(0.25, rel=1e-3)


def test_the_stream_is_lazy_and_runs_without_an_end() -> None:
    w = world(2, 60)
    stream = w.stream(START, scale=0.5)
    assert isinstance(stream, Iterator)
    first = list(islice(stream, 20_000))
    assert len(first) == 20_000
    assert [t for t, *_ in first] == sorted(t for t, *_ in first)


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_memory_stays_flat_over_simulated_days() -> None:
    stream = iter(world(2, 60).stream(START, scale=1.0))
    start_ms = int(START.timestamp() * 1000)
    marks: list[int] = []
    for t_ms, *_ in stream:
        day = (t_ms - start_ms) // 86_400_000
        if day >= len(marks) + 1:
            marks.append(rss_bytes())
            if len(marks) == 4:
                break
    assert marks[3] - marks[1] < 40 * 1024 * 1024, [m // 2**20 for m in marks]


# -- live mode without a broker -----------------------------------------------------------


class FakeProducer:
    def __init__(self, interrupt_after: int | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.flushed = self.closed = False
        self.interrupt_after = interrupt_after

    def send(self, topic: str, value: bytes, key: bytes | None) -> Any:
        if self.interrupt_after is not None and len(self.sent) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.sent.append((topic, value, key))
        return self

    def add_errback(self, callback: Any) -> None:
        pass

    def flush(self, timeout: float | None = None) -> None:
        self.flushed = True

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def test_live_mode_paces_by_simulated_time_and_keys_by_org(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    producer = FakeProducer()
    monkeypatch.setattr(replay, "make_producer", lambda bootstrap: producer)
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    report = simulate_live("127.0.0.1:1", "events", seed=4, orgs=60, start=start, rate=400,
                           speedup=600, roster_out=tmp_path / "live.roster.yaml",
                           duration=2.0, progress=False)
    assert producer.flushed and producer.closed
    assert not report.interrupted
    assert report.events == len(producer.sent) > 100
    roster = load_roster(tmp_path / "live.roster.yaml")
    last = start
    for offset, (topic, value, key) in enumerate(producer.sent):
        assert topic == "events"
        decoded = decode(value, Source(topic, 0, offset), roster)
        assert isinstance(decoded, Mention | Post)
        assert key == decoded.org_id.encode()
        last = decoded.created_at
    simulated = (last - start).total_seconds()
    assert 0.5 * 600 * 2.0 < simulated <= 600 * 2.0 + 1     # about 2 real s × 600
    assert (tmp_path / "live.surges.jsonl").exists()


def test_live_mode_stops_on_ctrl_c_with_a_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    producer = FakeProducer(interrupt_after=50)
    monkeypatch.setattr(replay, "make_producer", lambda bootstrap: producer)
    report = simulate_live("127.0.0.1:1", "events", seed=4, orgs=60,
                           start=datetime(2026, 3, 3, 9, 0, tzinfo=UTC), rate=None,
                           speedup=100_000, roster_out=tmp_path / "x.roster.yaml",
                           duration=None, progress=False)
    assert report.interrupted and report.events == 50
    assert producer.flushed and producer.closed
    assert report.summary().startswith("stopped: 50 events")


# -- history, then live (`dorpspomp up --simulate`) -----------------------------------------


def test_planned_surges_come_on_top_and_leave_the_stream_alone_without_them() -> None:
    from pipelines.simulate.history import demo_surges

    w = world(7, 60)
    start, end = START, START + timedelta(hours=6)
    now_ms = int((START + timedelta(hours=3)).timestamp() * 1000)
    planned = demo_surges(w, now_ms, 0.5)
    assert len(planned) == 2 and planned[0].org_id != planned[1].org_id
    assert w.org(planned[0].org_id).kind != w.org(planned[1].org_id).kind
    # The first began before "now", so a dashboard opened now shows it; the second follows.
    assert planned[0].start_ms < now_ms < planned[1].start_ms <= now_ms + 5 * 60_000
    plain = list(w.stream(start, end=end, scale=0.5))
    assert plain == list(w.stream(start, end=end, scale=0.5, planned=()))
    surges: list[Any] = []
    with_them = list(w.stream(start, end=end, scale=0.5, planned=planned,
                              on_surge=surges.append))
    roster = w.roster()
    for p in planned:
        (truth,) = [s for s in surges if s.org_id == p.org_id and s.start_ms == p.start_ms]
        assert abs(truth.size - p.per_minute * p.minutes) < 5 * (p.per_minute * p.minutes) ** 0.5
        window = [line for t, _, _, line in with_them
                  if p.start_ms <= t < p.start_ms + p.minutes * 60_000]
        ours = [orjson.loads(line) for line in window
                if replay.message_key(line, roster) == p.org_id.encode()]
        assert len(ours) >= truth.size      # the surge's complaints and the usual traffic
    # Other organisations' events are untouched.
    others = {p.org_id for p in planned}
    def rest(events: list[Any]) -> list[bytes]:
        return [line for _, _, _, line in events
                if replay.message_key(line, roster) not in {o.encode() for o in others}]
    assert rest(with_them) == rest(plain)


def test_a_planned_surge_for_an_unknown_organisation_is_refused() -> None:
    from pipelines.simulate.world import PlannedSurge

    with pytest.raises(ValueError, match="not one of the world's organisations"):
        world(7, 8).stream(START, planned=[PlannedSurge("nobody", 0, 10, 5)])


def test_the_key_of_each_simulated_event_is_the_organisation_the_worker_files_it_under(
) -> None:
    """The history sender keys by the generating organisation without parsing the line."""
    w = world(7, 60)
    keys = {org.no: org.id.encode() for org in w.orgs}
    roster = w.roster()
    events = list(w.stream(START, end=START + timedelta(hours=12), scale=0.3))
    assert len(events) > 2000
    assert all(keys[no] == replay.message_key(line, roster) for _, no, _, line in events)


def test_a_restart_goes_on_after_what_was_acknowledged_and_never_sends_history_twice(
        tmp_path: Path) -> None:
    from pipelines.simulate.history import HistoryState, plan_run, state_path_for

    w = world(7, 12)
    day = 86_400_000
    now = int(datetime(2026, 12, 5, 3, tzinfo=UTC).timestamp() * 1000)
    first = plan_run(w, None, days=28, scale=0.5, now_ms=now)
    assert first.acknowledged_ms + 1 == now - 28 * day and first.events == 0
    assert first.expected == pytest.approx(28 * w.expected_events_per_day(0.5), rel=0.01)
    # It ran for a while: acknowledged up to an hour ago.
    first.acknowledged_ms, first.events = now - 3_600_000, 123_456
    path = state_path_for(tmp_path / "simulated.roster.yaml")
    assert path.name == "simulated.history.json"
    first.write(path)
    stored = HistoryState.read(path)
    assert stored == first
    again = plan_run(w, stored, days=28, scale=0.5, now_ms=now + 60_000)
    assert again.acknowledged_ms == now - 3_600_000          # on from there: one hour and
    assert again.events == 123_456 and again.started_ms == first.started_ms   # a minute
    assert again.expected < w.expected_events_per_day(0.5) / 10
    # Stopped longer ago than the history reaches: four weeks again, no more.
    later = plan_run(w, stored, days=28, scale=0.5, now_ms=now + 40 * day)
    assert later.acknowledged_ms + 1 == now + 12 * day
    # Another world on the same home starts afresh.
    other = plan_run(world(8, 12), stored, days=28, scale=0.5, now_ms=now + 60_000)
    assert other.events == 0 and other.acknowledged_ms + 1 == now + 60_000 - 28 * day
    assert HistoryState.read(tmp_path / "missing.json") is None


def test_progress_says_how_far_the_history_is_and_when_it_is_in() -> None:
    from pipelines.simulate.history import HistoryState, describe_progress

    state = HistoryState(seed=7, orgs=60, scale=0.5, days=28, started_ms=0,
                         acknowledged_ms=1_796_000_000_000, events=300_000, expected=600_000,
                         run_events=300_000)
    line, done = describe_progress(state, 200_000, 100_000, 10_000.0)
    assert not done
    assert line.startswith("history: 200,000 of about 600,000 events stored (sent up to "
                           "2026-11-30 ")
    assert line.endswith(", 10,000/s, about 40 s to go")
    state.catching_up, state.history_events, state.history_seconds = False, 612_345, 41.2
    assert describe_progress(state, 600_000, 12_345, 10_000.0)[1] is False
    line, done = describe_progress(state, 612_345, 0, 10_000.0)
    assert done and line == "history loaded: 612,345 events up to now, sent in 41 s"
    # A restart: this run's history is what it missed; what earlier runs sent is said apart.
    state.events, state.run_events, state.history_events = 700_000, 150, 120
    line, done = describe_progress(state, 120, 0, None)
    assert done and line == ("history loaded: 120 events missed since the last run (699,850 "
                             "sent before), sent in 41 s")
    assert describe_progress(None, None, None, None) == ("history: starting the simulation …",
                                                          False)


def test_the_texts_are_package_data_and_load_from_the_package() -> None:
    """The YAML files ship in the wheel (pyproject's package-data) and are read through
    importlib.resources, so an installed dorpspomp finds them as a checkout does."""
    import tomllib
    from importlib import resources

    from pipelines.simulate import texts

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["pipelines.simulate"]
    package = resources.files("pipelines.simulate")
    shipped = sorted(p.name for p in (ROOT / "pipelines" / "simulate").glob("*.yaml"))
    assert shipped == ["names.yaml", "texts.yaml"] and patterns == ["*.yaml"]
    for name in shipped:
        assert package.joinpath(name).is_file()
    # Lists come back as tuples (the generator draws by position; nothing may change them).
    assert isinstance(texts.TOWNS, tuple) and isinstance(texts.DUTCH_SLIPS[0], tuple)
    assert texts.TEMPLATES["nl"]["complaint"][0].count("{") >= 1
    assert len(texts.KIND_SLOTS) == len(KINDS)
