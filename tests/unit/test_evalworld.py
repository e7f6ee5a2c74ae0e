"""The independent evaluation world (pipelines.evalworld) and its grading."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from bench import evalsurges
from pipelines.evalworld import score as grading
from pipelines.evalworld import texts as evaltexts
from pipelines.evalworld.__main__ import main as evalworld_main
from pipelines.evalworld.world import BURSTS, STORMS, Episode, Plan, World, build
from pipelines.roster import parse_roster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pools() -> evaltexts.TextPools:
    return evaltexts.load_pools(None)


@pytest.fixture(scope="module")
def world(pools: evaltexts.TextPools) -> World:
    return build(11, Plan.quick(), pools)


def test_without_the_labelled_sets_it_says_it_speaks_the_team_written_fallback(
        pools: evaltexts.TextPools, tmp_path: Path) -> None:
    assert pools.source == "team-written fallback"
    assert pools.where == "tests/data/complaints_dev.jsonl"
    assert "team-written fallback" in evaltexts.describe(pools)
    # The holdout is never read.
    holdout = {json.loads(line)["text"] for line in
               (ROOT / "tests/data/complaints_holdout.jsonl").read_text().splitlines() if line}
    spoken = {t for texts in pools.pools.values() for t in texts}
    assert spoken and not spoken & holdout
    # A folder without the sets says what is missing.
    partial = evaltexts.load_pools(tmp_path)
    assert partial.source == "team-written fallback"
    assert "complaints-social-media/complaints-data.csv" in partial.note


def test_the_same_seed_gives_the_same_world(pools: evaltexts.TextPools, world: World) -> None:
    again = build(11, Plan.quick(), pools)
    assert again.episodes == world.episodes
    assert list(again.lines(0, 2000)) == list(world.lines(0, 2000))
    other = build(12, Plan.quick(), pools)
    assert other.episodes != world.episodes


def test_every_shape_is_there_with_its_ground_truth(world: World) -> None:
    plan = world.plan
    shapes = [e.shape for e in world.episodes]
    for shape, n in plan.episodes.items():
        assert shapes.count(shape) == n, shape
    sizes = {o.id: o.size for o in world.orgs}
    created = world.columns["created_ms"]
    org_of = world.columns["org"]
    ids = [o.id for o in world.orgs]
    assert np.all(np.diff(created) >= 0)  # in time order
    for e in world.episodes:
        assert e.start >= world.start + timedelta(days=plan.warm_days)
        if e.shape == "tiny":
            assert sizes[e.org_id] == "quiet"
        if e.shape == "level":
            assert e.end == world.end
        if e.shape in ("sharp", "hour", "praise"):
            # The episode's minutes hold far more mentions than the same minutes a day
            # earlier (storms add complaints, bursts add everything else).
            o = ids.index(e.org_id)
            ms = int(e.start.timestamp() * 1000), int(e.end.timestamp() * 1000)
            during = np.count_nonzero((org_of == o) & (created >= ms[0]) & (created < ms[1]))
            day = 86_400_000
            before = np.count_nonzero((org_of == o) & (created >= ms[0] - day)
                                      & (created < ms[1] - day))
            assert during > 2 * max(before, 1), (e.shape, during, before)
    tags = [e.hashtag for e in world.episodes if e.shape in STORMS]
    assert all(tags) and all(e.hashtag is None for e in world.episodes if e.shape in BURSTS)
    # A third of a storm's complaints carry its hashtag.
    lines = [orjson.loads(line) for _, line in world.lines()]
    first = next(e for e in world.episodes if e.shape == "sharp")
    texts = [x["text"] for x in lines if x["org_id"] == first.org_id
             and first.start.isoformat()[:16] <= x["created_at"][:16] < first.end.isoformat()[:16]]
    tagged = sum(str(first.hashtag) in t for t in texts)
    assert 0.15 * len(texts) < tagged < 0.5 * len(texts)
    parse_roster(world.roster())  # the roster is a valid one


def test_it_shares_no_code_with_the_simulator() -> None:
    for path in (ROOT / "pipelines" / "evalworld").glob("*.py"):
        assert "simulate" not in path.read_text(encoding="utf-8").replace(
            "`pipelines.simulate`", "").replace("dorpspomp simulate", ""), path


def test_the_command_writes_events_roster_and_truth(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "world.jsonl"
    assert evalworld_main(["--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "team-written fallback" in printed.err and "mentions of 14 organisations" in \
        printed.out
    events = out.read_bytes().splitlines()
    truth = [json.loads(x) for x in out.with_suffix(".truth.jsonl").read_text().splitlines()]
    assert len(events) > 100_000 and len(truth) == sum(Plan.quick().episodes.values())
    assert out.with_suffix(".roster.yaml").exists()
    assert evalworld_main(["--out", str(tmp_path / "x.txt")]) == 2


def episode(shape: str, org: str, start: datetime, minutes: int) -> Episode:
    s = int(start.timestamp() * 1000)
    return Episode(org, shape, s, s + minutes * 60_000, 5.0, 0.5, 50.0,
                   "#x" if shape in STORMS else None)


def test_grading_counts_found_missed_false_and_bursts() -> None:
    t0 = datetime(2026, 3, 20, 12, tzinfo=UTC)
    episodes = [episode("sharp", "a", t0, 20), episode("hour", "b", t0, 60),
                episode("praise", "c", t0, 45),
                episode("level", "d", t0 - timedelta(days=2), 5 * 1440)]
    at = timedelta(minutes=1)
    alerts = [
        grading.Opened("a", t0 + 3 * at, ("#x", "down")),  # found in 3 min, explained
        grading.Opened("a", t0 + 25 * at),  # inside the grace: not a false alert
        grading.Opened("c", t0 + 30 * at),  # the praise burst alerted
        grading.Opened("d", t0 - timedelta(days=2) + 40 * at),  # the level, found
        grading.Opened("d", t0),  # the level again, later
        grading.Opened("e", t0),  # nothing there: false
    ]
    r = grading.score(episodes, alerts, organisations=["a", "b", "c", "d", "e"],
                      eligible_from=t0 - timedelta(days=5), end=t0 + timedelta(days=2))
    assert (r["storms"], r["detected"], r["recall"]) == (3, 2, round(2 / 3, 4))
    assert r["shapes"]["sharp"]["delay_minutes"]["p50"] == 3.0
    assert r["shapes"]["hour"]["recall"] == 0.0 and r["missed"][0]["org_id"] == "b"
    assert r["praise_bursts"] == "1 of 1" and r["false_alerts"] == 1
    assert r["level_realerts"] == 1
    assert r["explained"] == {"storms_with_hashtag": 2, "hashtag_among_terms": 1}
    # Organisation-weeks leave out the stretch a new level lasted.
    assert r["organisation_weeks"] == round((4 * 7 + 3) / 7, 1)
    assert r["lowest_shape_recall"] == 0.0 and r["median_delay_minutes"] == 21.5


def test_the_phase_reads_its_targets_and_writes_its_table() -> None:
    results = {"surge_eval": {
        "recall": 0.9, "lowest_shape_recall": 0.5, "median_delay_minutes": 4.0,
        "false_alerts_per_org_week": 0.2, "praise_bursts_alerted": 2,
        "shapes": {"sharp": {"episodes": 2, "alerted": 2, "recall": 1.0,
                             "delay_minutes": {"n": 2, "p50": 2.0, "p90": 3.0}},
                   "praise": {"episodes": 16, "alerted": 2}},
        "world": {"organisations": 3, "days": 5, "events": 1000},
        "texts": {"source": "labelled sets"}, "command": "dorpspomp bench",
        "false_alerts": 1, "organisation_weeks": 2.1, "level_realerts": 0,
        "explained": {"hashtag_among_terms": 1, "storms_with_hashtag": 2}}}
    judged = {name: (read(results), holds(read(results)))
              for name, _, read, holds in evalsurges.TARGETS}
    assert judged["independent world: surge recall"] == (0.9, False)
    assert judged["independent world: praise bursts alerted, per 16"] == (2.0, False)
    assert judged["independent world: median detection delay (min)"] == (4.0, True)
    table = evalsurges.markdown(results["surge_eval"])
    assert "| sharp | 2 of 2 | 2.0 | 3.0 |" in table
    assert "| praise burst (must stay quiet) | alerted 2 of 16 | | |" in table
