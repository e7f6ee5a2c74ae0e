"""Reach and influence with the largest follower counts the contract allows: replay → worker →
chDB → public views and dashboard pages. Two authors with 2^64-1 followers in one minute
gave `potential_reach = 8` and `influence = -inf` (UInt64 sums wrapping round); the sums
now stop at 2^64-1, influence stays finite, and ordinary figures are what they were."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.settings import Settings
from pipelines.warehouse import Warehouse
from schemas.migrations import all_migrations
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

MAX = 2**64 - 1
ORG = "gemeente-zutphen"
APP = ROOT / "dashboard" / "app.py"


def mention(event_id: str, at: str, author: str, followers: int, **extra: Any) -> dict:
    return {"type": "mention", "event_id": event_id, "org_id": ORG, "platform": "twitter",
            "created_at": f"2026-03-10T{at}Z",
            "author": {"id": author, "handle": author, "followers": followers},
            "text": "Waarom is het loket dicht?", **extra}


def post(event_id: str, at: str, followers: int) -> dict:
    return {"type": "post", "event_id": event_id, "org_id": ORG, "platform": "twitter",
            "created_at": f"2026-03-10T{at}Z", "text": "Het loket is open.",
            "account": {"id": "acct-gemeentezutphen", "handle": "gemeentezutphen",
                        "followers": followers}}


EVENTS = [
    # 08:00: two authors at the contract's largest follower count, and an ordinary one.
    mention("w1", "08:00:10", "whale-1", MAX),
    mention("w2", "08:00:20", "whale-2", MAX),
    mention("b1", "08:00:30", "burger", 120),
    # 08:05: ordinary authors only (the largest count of an author in a minute counts once).
    mention("n1", "08:05:00", "a100", 100),
    mention("n2", "08:05:10", "a250", 250),
    mention("n3", "08:05:20", "a250", 250),
    # 08:10: two whales share whale-1's mention: its share reach is two maxima.
    mention("s1", "08:10:00", "whale-2", MAX, kind="share", shared_from="w1"),
    mention("s2", "08:10:10", "whale-3", MAX, kind="share", shared_from="w1"),
    # Post reach: p1 shared by two whales, p2 by an ordinary author.
    post("p1", "08:20:00", 1000),
    post("p2", "08:20:30", 1000),
    mention("sp1", "08:21:00", "whale-1", MAX, kind="share", shared_from="p1"),
    mention("sp2", "08:21:10", "whale-2", MAX, kind="share", shared_from="p1"),
    mention("sp3", "08:22:00", "a100", 100, kind="share", shared_from="p2"),
]


def influence(followers: int, share_reach: int, mentions: int, times_shared: int) -> float:
    """The README's formula, in Python's unbounded integers and floats."""
    return round(math.log10(1 + followers + share_reach) * math.log2(2 + mentions + times_shared),
                 3)


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("reach")
    s = Stack.fresh("reach", home / "home", kafka_broker.bootstrap)
    s.start_worker()
    try:
        path = home / "events.jsonl"
        path.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
        s.cli("replay", str(path), "--quiet")
        s.wait_caught_up()
        yield s
    finally:
        s.stop_worker()


def test_reach_of_two_largest_authors_in_a_minute_stops_at_the_maximum(stack: Stack) -> None:
    assert stack.scalar("SELECT count() FROM dead_letters") == 0
    minutes = {r["minute"][11:16]: r for r in stack.sql(
        "SELECT minute, unique_authors, potential_reach, mentions, posts FROM org_activity_1m "
        f"WHERE org_id = '{ORG}' ORDER BY minute")}
    assert (minutes["08:00"]["unique_authors"], minutes["08:00"]["potential_reach"]) == (3, MAX)
    assert minutes["08:05"]["potential_reach"] == 350  # 100 + 250: ordinary sums unchanged
    assert minutes["08:10"]["potential_reach"] == MAX  # whale-2 + whale-3
    assert minutes["08:20"]["potential_reach"] == 0 and minutes["08:20"]["posts"] == 2
    assert minutes["08:21"]["potential_reach"] == MAX
    assert minutes["08:22"]["potential_reach"] == 100


def test_influence_is_finite_and_the_largest_for_the_largest_audience(stack: Stack) -> None:
    voices = {r["author_id"]: r for r in stack.sql(
        "SELECT author_id, followers, mentions, times_shared, share_reach, influence, "
        f"isFinite(influence) AS finite FROM influencers WHERE org_id = '{ORG}' "
        "ORDER BY influence DESC")}
    assert all(v["finite"] for v in voices.values())
    assert next(iter(voices)) == "whale-1"
    whale = voices["whale-1"]
    assert (whale["followers"], whale["mentions"], whale["times_shared"], whale["share_reach"]) \
        == (MAX, 2, 2, MAX)
    # The sum of the two sharers' followers is 2^65-2: the stored share_reach stops at 2^64-1,
    # influence is computed from the stored values.
    assert whale["influence"] == pytest.approx(influence(MAX, MAX, 2, 2), abs=0.001)
    assert voices["whale-2"]["influence"] == pytest.approx(influence(MAX, 0, 3, 0), abs=0.001)
    # Ordinary authors: exactly the figures of the formula.
    assert voices["burger"]["influence"] == influence(120, 0, 1, 0)
    assert voices["a100"]["influence"] == influence(100, 0, 2, 0)
    assert voices["a250"]["influence"] == influence(250, 0, 2, 0)


def test_post_reach_stops_at_the_maximum(stack: Stack) -> None:
    posts = {r["event_id"]: r for r in stack.sql(
        "SELECT event_id, shares, sharers, potential_reach FROM post_reach ORDER BY event_id")}
    assert (posts["p1"]["shares"], posts["p1"]["sharers"], posts["p1"]["potential_reach"]) == (
        2, 2, MAX)
    assert (posts["p2"]["shares"], posts["p2"]["potential_reach"]) == (1, 1100)


@pytest.fixture
def dashboard_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
        monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("DORPSPOMP_"):
            monkeypatch.setenv(name, value)


def page(name: str, **query_params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in query_params.items():
        at.query_params[key] = value
    at.run()
    if name != "clients":
        at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    return at


def test_the_dashboard_shows_the_capped_reach(dashboard_env: None) -> None:
    clients = page("clients")
    shown = {row["Details"].split("=", 1)[1]: row
             for row in clients.dataframe[-1].value.to_dict("records")}
    assert int(shown[ORG]["Reach today"]) == MAX
    client = page("client", org=ORG)
    metrics = {m.label: m.value for m in client.metric}
    assert metrics["Potential reach in range"] == f"{MAX:,}"
    voices = next(d.value for d in client.dataframe if "influence" in d.value.columns)
    assert voices["influence"].notna().all() and voices["influence"].map(math.isfinite).all()
    assert voices.iloc[0]["author_handle"] == "whale-1"


def test_the_views_keep_their_column_types(tmp_path: Path) -> None:
    """Migration 0004 recreates the views with the names and types 0002 and 0003 gave them."""
    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    views = ("org_activity_1m", "influencers", "post_reach")

    def columns() -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {v: [] for v in views}
        for table, name, kind in warehouse.client.query(
                "SELECT table, name, type FROM system.columns WHERE database = 'dorpspomp' "
                "ORDER BY table, position").result_rows:
            if table in found:
                found[table].append((name, kind))
        return found

    try:
        before = [m for m in all_migrations() if m.name < "0004"]
        warehouse.migrate(before)
        old = columns()
        assert "0004_saturating_reach" in warehouse.migrate()
        assert columns() == old
        assert dict(old["org_activity_1m"])["potential_reach"] == "UInt64"
        assert dict(old["influencers"])["influence"] == "Float64"
    finally:
        warehouse.close()


def test_the_surge_detectors_history_caps_the_complaint_reach(tmp_path: Path) -> None:
    """The history a restarted worker reads back for the surge detector (complaints and the
    followers of the complaining authors per minute) stops at 2^64-1 too."""
    from datetime import UTC, datetime

    from pipelines.ingest.restore import complaint_history

    warehouse = Warehouse(Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)}))
    try:
        warehouse.migrate()
        warehouse.client.command(
            f"INSERT INTO {warehouse.table('mentions')} "
            "(org_id, event_id, created_at, author_id, author_followers, kind, complaint) VALUES "
            f"('{ORG}', 'c1', '2026-03-10 08:00:10', 'whale-1', {MAX}, 'mention', true), "
            f"('{ORG}', 'c2', '2026-03-10 08:00:20', 'whale-2', {MAX}, 'mention', true), "
            f"('{ORG}', 'c3', '2026-03-10 08:01:00', 'a100', 100, 'mention', true), "
            f"('{ORG}', 'c4', '2026-03-10 08:01:10', 'a250', 250, 'mention', true)")
        history = complaint_history(warehouse, datetime(2026, 3, 10, tzinfo=UTC),
                                    datetime(2026, 3, 11, tzinfo=UTC))
        rows = zip(*(history[name].to_pylist() for name in ("org_id", "minute", "complaints",
                                                            "reach")), strict=True)
        assert [(org, at.strftime("%H:%M"), n, reach) for org, at, n, reach in rows] == [
            (ORG, "08:00", 2, MAX), (ORG, "08:01", 2, 350)]
    finally:
        warehouse.close()
