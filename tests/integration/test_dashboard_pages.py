"""The dashboard's pages against a real warehouse: replay → worker → chDB → pages.

A worker fills an embedded warehouse from generated conversations (mentions,
the organisations' answers, shares, complaints) plus a complaint burst; the
test process finds the worker the way the dashboard does, through the
DORPSPOMP_* environment, and each page runs in Streamlit's AppTest with the
real `WarehouseReader` behind it. The numbers on the pages are checked
against SQL written here, independently of `dashboard.queries`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.figures import format_seconds
from pipelines.roster import load_roster
from pipelines.serving.readapi import WarehouseReader
from pipelines.settings import Settings
from tests import eventgen
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

APP = ROOT / "dashboard" / "app.py"
START = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
DAYS = 8
BURST_ORG = "telecom-west"
BURST_START = START + timedelta(days=6, hours=8)


def events() -> list[bytes]:
    """Conversations cut off at the end of the period (so that recent mentions are still
    open and the watermark is the last of them), with a 15-minute complaint burst."""
    end = START + timedelta(days=DAYS)
    timed = []
    for line in eventgen.conversations(900, seed=11, days=DAYS, start=START):
        at = datetime.fromisoformat(orjson.loads(line)["created_at"].replace("Z", "+00:00"))
        if at <= end:
            timed.append((at, line))
    for i in range(300):
        at = BURST_START + timedelta(seconds=3 * i)
        timed.append((at, orjson.dumps({
            "type": "mention", "event_id": f"burst-{i}", "org_id": BURST_ORG,
            "platform": "twitter", "created_at": at.isoformat().replace("+00:00", "Z"),
            "author": {"id": f"b{i % 120}", "handle": f"boos{i % 120}", "followers": 40 + i},
            "text": "Al uren geen internet en niemand neemt op!", "complaint": True,
            "sentiment": -0.8,
        })))
    timed.sort(key=lambda pair: pair[0])
    return [line for _, line in timed]


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("dashboard")
    s = Stack.fresh("d", home / "home", kafka_broker.bootstrap)
    s.start_worker()
    try:
        path = home / "events.jsonl"
        path.write_bytes(b"\n".join(events()) + b"\n")
        s.cli("replay", str(path), "--quiet")
        s.wait_caught_up()
        yield s
    finally:
        s.stop_worker()


@pytest.fixture
def reader(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseReader]:
    """The stack's settings in this process's environment, as `dorpspomp up` gives the
    dashboard, and a reader of our own for the expected numbers."""
    for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
        monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("DORPSPOMP_"):
            monkeypatch.setenv(name, value)
    own = WarehouseReader(Settings.from_env())
    yield own
    own.close()


def rows(reader: WarehouseReader, sql: str, **parameters: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = reader.query(sql, parameters or None).to_pylist()
    return result


def watermark(reader: WarehouseReader) -> datetime:
    (row,) = rows(reader, "SELECT greatest((SELECT max(created_at) FROM mentions), "
                          "(SELECT max(created_at) FROM posts)) AS now")
    now: datetime = row["now"]
    return now


def text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def run_page(page: str, **query_params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for name, value in query_params.items():
        at.query_params[name] = value
    at.run()
    if page != "clients":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]  # every query answered
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_clients_page_matches_the_warehouse(reader: WarehouseReader) -> None:
    now = watermark(reader)
    roster = load_roster(Settings.from_env().roster)
    at = run_page("clients")
    shown = {row["Details"].split("=", 1)[1]: row
             for row in at.dataframe[-1].value.to_dict("records")}

    last_hour = {r["org_id"]: r["n"] for r in rows(
        reader, "SELECT org_id, count() AS n FROM mentions "
                "WHERE created_at > {now:DateTime64(3, 'UTC')} - INTERVAL 1 HOUR "
                "AND created_at <= {now:DateTime64(3, 'UTC')} GROUP BY org_id", now=text(now))}
    pending = {r["org_id"]: r for r in rows(
        reader, "SELECT org_id, count() AS n, min(created_at) AS oldest, "
                "countIf(sla_breached) AS past_sla FROM mention_responses "
                "WHERE status = 'pending' GROUP BY org_id")}
    open_alerts = {r["org_id"]: r["n"] for r in rows(
        reader, "SELECT org_id, count() AS n FROM alerts WHERE status = 'open' GROUP BY org_id")}
    orgs = {r["org_id"] for r in rows(reader, "SELECT DISTINCT org_id FROM mentions")}
    assert set(shown) == orgs | set(roster.orgs)
    assert sum(last_hour.values()) > 0 and pending, "the data should have recent, open mentions"

    for org_id, row in shown.items():
        assert row["Client"] == roster.org(org_id).name
        assert row["Last hour"] == last_hour.get(org_id, 0), org_id
        assert row["Open"] == (pending[org_id]["n"] if org_id in pending else 0), org_id
        assert row["Past SLA"] == (pending[org_id]["past_sla"] if org_id in pending else 0)
        if org_id in pending:
            age = (now - pending[org_id]["oldest"]).total_seconds()
            assert row["Oldest open"] == format_seconds(age)
        assert row["Open alerts"] == open_alerts.get(org_id, 0), org_id
        zone = ZoneInfo(roster.org(org_id).timezone)
        local = now.astimezone(zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
        (today,) = rows(
            reader,
            "SELECT (SELECT sum(potential_reach) FROM org_activity_1m WHERE org_id = {o:String} "
            "        AND minute >= {d:DateTime64(3, 'UTC')}) AS reach, "
            "       (SELECT count() FROM mentions WHERE org_id = {o:String} "
            "        AND created_at >= {d:DateTime64(3, 'UTC')}) AS mentions, "
            "       (SELECT countIf(complaint) FROM mentions WHERE org_id = {o:String} "
            "        AND created_at >= {d:DateTime64(3, 'UTC')}) AS complaints",
            o=org_id, d=text(midnight))
        assert row["Reach today"] == today["reach"], org_id
        if today["mentions"]:
            share = round(100 * today["complaints"] / today["mentions"], 1)
            assert row["Complaints %"] == pytest.approx(share), org_id
    assert metrics(at)["Open alerts"] == f"{sum(open_alerts.values()):,}"


def silent_clients(reader: WarehouseReader, now: datetime) -> set[str]:
    """The clients silent by the README's definition, from posts and mentions directly:
    5 or more actionable mentions since their last post (in the last 7 days), the newest
    within the hour, and 2 business hours or more without a post."""
    roster = load_roster(Settings.from_env().roster)
    since = now - timedelta(days=7)
    last_post = {r["org_id"]: r["at"] for r in rows(
        reader, "SELECT org_id, max(created_at) AS at FROM posts "
                "WHERE created_at > {s:DateTime64(3, 'UTC')} GROUP BY org_id", s=text(since))}
    mentions = rows(reader, "SELECT org_id, created_at FROM mentions WHERE kind != 'share' "
                            "AND created_at > {s:DateTime64(3, 'UTC')}", s=text(since))
    silent = set()
    for org_id in {m["org_id"] for m in mentions}:
        start = last_post.get(org_id, since)
        after = [m["created_at"] for m in mentions
                 if m["org_id"] == org_id and m["created_at"] > start]
        quiet = roster.org(org_id).business_hours.business_seconds(start, now)
        if len(after) >= 5 and now - max(after) <= timedelta(hours=1) and quiet >= 7200:
            silent.add(org_id)
    return silent


def test_clients_page_puts_the_clients_with_a_reason_first_and_counts_only_them(
    reader: WarehouseReader,
) -> None:
    now = watermark(reader)
    at = run_page("clients")
    surging = {r["org_id"] for r in rows(
        reader, "SELECT DISTINCT org_id FROM alerts "
                "WHERE status = 'open' AND kind IN ('complaint_surge', 'silent_org')")}
    late = {r["org_id"] for r in rows(
        reader, "SELECT DISTINCT org_id FROM mention_responses "
                "WHERE status = 'pending' AND sla_breached")}
    needing = surging | late | silent_clients(reader, now)
    assert needing, "the data should leave some client with a reason to act"
    every = at.dataframe[-1].value
    assert metrics(at)["Clients needing attention"] == f"{len(needing)} of {len(every)}"
    first = at.get("table")[0].value
    listed = [link.split("client?org=", 1)[1].rstrip(")") for link in first["Client"]]
    assert set(listed) == needing and len(listed) == len(needing)
    assert all(first["Why"]) and first["Urgency"].tolist() == sorted(first["Urgency"],
                                                                     reverse=True)
    # The every-client table keeps the same order, the clients without a reason last.
    ids = [link.split("=", 1)[1] for link in every["Details"]]
    assert ids[:len(listed)] == listed
    assert (every["Urgency"][len(listed):] == 0).all()
    for org_id in late:
        why = first["Why"][listed.index(org_id)]
        (count,) = rows(reader, "SELECT count() AS n FROM mention_responses WHERE org_id = "
                                "{o:String} AND status = 'pending' AND sla_breached", o=org_id)
        waiting = "1 mention waits" if count["n"] == 1 else f"{count['n']} mentions wait"
        assert why.startswith(waiting) or f"· {waiting}" in why, why


def test_clients_page_lists_the_oldest_waiting_mentions_across_clients(
    reader: WarehouseReader,
) -> None:
    roster = load_roster(Settings.from_env().roster)
    at = run_page("clients")
    expected = rows(
        reader,
        "SELECT org_id, mention_id, formatDateTime(created_at, '%Y-%m-%d %H:%i', {z:String}) "
        "AS posted FROM (SELECT org_id, mention_id, created_at FROM mention_responses "
        "WHERE status = 'pending' ORDER BY created_at, mention_id LIMIT 3 BY org_id) "
        "ORDER BY created_at, mention_id LIMIT 20", z=roster.defaults.timezone)
    queue = at.dataframe[0].value
    assert queue["mention_id"].tolist() == [r["mention_id"] for r in expected]
    assert queue["posted"].tolist() == [r["posted"] for r in expected]
    assert queue["client"].tolist() == [roster.org(r["org_id"]).name for r in expected]


def test_clients_page_filter_keeps_matching_names(reader: WarehouseReader) -> None:
    at = run_page("clients")
    at.text_input(key="clients.filter").set_value("zutphen").run()
    assert at.dataframe[-1].value["Client"].tolist() == ["Gemeente Zutphen"]


def test_client_page_matches_the_warehouse(reader: WarehouseReader) -> None:
    org = "gemeente-zutphen"
    now = watermark(reader)
    at = run_page("client", org=org)
    end = now + timedelta(milliseconds=1)
    (week,) = rows(reader, "SELECT count() AS n, countIf(complaint) AS c FROM mentions "
                           "WHERE org_id = {o:String} AND created_at >= {s:DateTime64(3, 'UTC')}",
                   o=org, s=text(end - timedelta(days=7)))
    shown = metrics(at)
    assert shown["Mentions"] == f"{week['n']:,}"
    assert shown["Complaints"] == f"{week['c']:,}"
    assert len(at.get("vega_lite_chart")) >= 6
    # The influential voices of the week: counted over the week's mentions only.
    tables = [d.value for d in at.dataframe]
    voices = next(t for t in tables if "influence" in t.columns)
    in_week = Counter((r["h"], r["n"]) for r in rows(
        reader, "SELECT argMax(author_handle, created_at) AS h, count() AS n FROM mentions "
                "WHERE org_id = {o:String} AND created_at >= {s:DateTime64(3, 'UTC')} "
                "GROUP BY author_id", o=org, s=text(end - timedelta(days=7))))
    shown_voices = Counter(zip(voices["author_handle"], voices["mentions"], strict=True))
    assert len(voices) == min(20, in_week.total())
    assert all(in_week[pair] >= n for pair, n in shown_voices.items()), shown_voices

    at.segmented_control(key="client.range").set_value("All").run()
    assert not at.exception and not at.warning
    shown = metrics(at)
    (everything,) = rows(
        reader,
        "SELECT count() AS actionable, countIf(status = 'answered') AS answered, "
        "quantileExactIf(0.5)(response_seconds, status = 'answered') AS median, "
        "quantileExactIf(0.5)(business_response_seconds, status = 'answered') AS business, "
        "countIf(status = 'answered' AND NOT sla_breached) AS within, "
        "countIf(sla_breached) AS breached "
        "FROM mention_responses WHERE org_id = {o:String}", o=org)
    assert shown["Actionable mentions"] == f"{everything['actionable']:,}"
    assert shown["Answered"] == f"{everything['answered']:,}"
    assert shown["Median first response"] == format_seconds(everything["median"])
    assert shown["Median in business hours"] == format_seconds(everything["business"])
    within = everything["within"] / (everything["within"] + everything["breached"])
    assert shown["Within SLA"] == f"{within:.0%}"
    (reach,) = rows(reader, "SELECT sum(potential_reach) AS r, sum(mentions) AS n "
                            "FROM org_activity_1m WHERE org_id = {o:String}", o=org)
    assert shown["Potential reach in range"] == f"{reach['r']:,}"
    assert shown["Mentions"] == f"{reach['n']:,}"

    tables = [d.value for d in at.dataframe]
    queue = next(t for t in tables if "waiting" in t.columns)
    expected = [r["mention_id"] for r in rows(
        reader, "SELECT mention_id FROM mention_responses WHERE org_id = {o:String} "
                "AND status = 'pending' ORDER BY created_at, mention_id LIMIT 200", o=org)]
    assert queue["mention_id"].tolist() == expected
    who = next(t for t in tables if list(t.columns) == ["role", "answers"])
    by_role = {r["role"]: r["n"] for r in rows(
        reader, "SELECT responder_role AS role, count() AS n FROM mention_responses "
                "WHERE org_id = {o:String} AND status = 'answered' GROUP BY role", o=org)}
    assert dict(zip(who["role"], who["answers"], strict=True)) == by_role
    assert set(by_role) == {"official", "employee"}  # @marieke_zutphen answers too
    voices = next(t for t in tables if "influence" in t.columns)
    top = rows(reader, "SELECT author_handle FROM influencers WHERE org_id = {o:String} "
                       "ORDER BY influence DESC, author_handle LIMIT 20", o=org)
    assert voices["author_handle"].tolist() == [r["author_handle"] for r in top]
    # The client's alerts, newest first, at the client's own clock (Europe/Amsterdam).
    alerts = next(t for t in tables if "severity" in t.columns)
    expected = rows(reader, "SELECT formatDateTime(opened_at, '%Y-%m-%d %H:%i', "
                            "'Europe/Amsterdam') AS opened FROM alerts WHERE org_id = "
                            "{o:String} ORDER BY opened_at DESC, alert_id LIMIT 5000", o=org)
    assert expected, "Gemeente Zutphen should have alerts"
    assert alerts["opened_at"].tolist() == [r["opened"] for r in expected]


def test_alerts_page_matches_the_warehouse(reader: WarehouseReader) -> None:
    now = watermark(reader)
    at = run_page("alerts")
    (counts,) = rows(
        reader,
        "SELECT countIf(status = 'open') AS open, "
        "countIf(status = 'open' AND kind = 'complaint_surge') AS surges, "
        "countIf(status = 'resolved' AND opened_at >= {s:DateTime64(3, 'UTC')}) AS resolved "
        "FROM alerts", s=text(now - timedelta(days=30)))
    assert counts["open"] + counts["resolved"] > 0
    shown = metrics(at)
    assert shown["Open alerts"] == f"{counts['open']:,}"
    assert shown["Open complaint surges"] == f"{counts['surges']:,}"
    assert shown["Resolved in range"] == f"{counts['resolved']:,}"
    listing = at.dataframe[0].value
    newest = rows(reader, "SELECT alert_id, formatDateTime(opened_at, '%Y-%m-%d %H:%i', "
                          "{z:String}) AS opened FROM alerts WHERE status = 'open' OR "
                          "opened_at >= {s:DateTime64(3, 'UTC')} "
                          "ORDER BY opened_at DESC, alert_id LIMIT 1000",
                  z=load_roster(Settings.from_env().roster).defaults.timezone,
                  s=text(now - timedelta(days=30)))
    assert listing["alert_id"].tolist() == [r["alert_id"] for r in newest]
    assert listing["opened_at"].tolist() == [r["opened"] for r in newest]
    first = listing["alert_id"].iloc[0]
    samples = rows(
        reader,
        "SELECT m.text AS text FROM mentions AS m WHERE m.event_id IN "
        "(SELECT arrayJoin(sample_event_ids) FROM alerts WHERE alert_id = {a:String}) "
        "ORDER BY m.created_at, m.event_id", a=first)
    assert samples
    assert at.expander[0].dataframe[0].value["text"].tolist() == [r["text"] for r in samples]

    # The burst is a complaint surge (if the detector saw one): its samples are burst mentions.
    surges = rows(reader, "SELECT alert_id, sample_event_ids FROM alerts "
                          "WHERE kind = 'complaint_surge' ORDER BY opened_at DESC")
    if surges:
        at.multiselect(key="alerts.kind").set_value(["complaint_surge"]).run()
        assert at.dataframe[0].value["alert_id"].tolist() == [r["alert_id"] for r in surges]
        shown = at.expander[0].dataframe[0].value["event_id"].tolist()
        assert sorted(shown) == sorted(surges[0]["sample_event_ids"])
        assert all(e.startswith("burst-") for e in shown)


def test_sql_page_answers_and_refuses_like_dorpspomp_sql(reader: WarehouseReader) -> None:
    at = run_page("sql")
    (count,) = rows(reader, "SELECT count() AS n FROM mentions")
    at.text_area(key="sql.text").set_value("SELECT count() AS n FROM mentions")
    at.button(key="sql.run").click().run()
    assert not at.error
    assert at.dataframe[-1].value["n"].tolist() == [count["n"]]
    assert len(at.get("download_button")) == 2
    at.text_area(key="sql.text").set_value("DROP TABLE mentions")
    at.button(key="sql.run").click().run()
    assert "refused" in at.error[0].value
    (still,) = rows(reader, "SELECT count() AS n FROM mentions")
    assert still == count
    at.text_area(key="sql.text").set_value("SELECT * FROM file('/etc/passwd', 'LineAsString')")
    at.button(key="sql.run").click().run()
    assert "refused" in at.error[0].value and "file()" in at.error[0].value


def test_pages_say_so_when_the_worker_is_gone(
    reader: WarehouseReader, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DORPSPOMP_HOME", str(tmp_path))
    monkeypatch.delenv("DORPSPOMP_WAREHOUSE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "stream worker is not running" in at.warning[0].value
