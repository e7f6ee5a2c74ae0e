"""Response figures and SLA alerts end to end: replay → worker → public tables.

Roster: examples/roster.yaml — gemeente-zutphen is in Europe/Amsterdam, open
Mon-Thu 08:30-17:00 and Fri 08:30-12:30, first_response_sla 30m, answer_window
7d; @gemeentezutphen is its official account and @marieke_zutphen an employee.
March 2026 is winter time there (UTC+1) until the 29th.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def mention(event_id: str, at: str, kind: str = "mention", **extra: Any) -> dict[str, Any]:
    return {"type": "mention", "event_id": event_id, "org_id": "gemeente-zutphen",
            "platform": "twitter", "created_at": at, "kind": kind,
            "author": {"id": f"u-{event_id}", "handle": f"burger_{event_id}", "followers": 120},
            "text": "Waarom is het loket dicht?", **extra}


def reply(event_id: str, to: str, at: str, handle: str, org_id: str | None = None) -> dict:
    doc = {"type": "post", "event_id": event_id, "platform": "twitter", "created_at": at,
           "kind": "reply", "in_reply_to": to, "text": "Excuses!",
           "account": {"id": f"acct-{handle}", "handle": handle}}
    if org_id:
        doc["org_id"] = org_id
    return doc


EVENTS = [
    # m1: Friday 6 March 12:15 local; @marieke_zutphen answers Monday 08:45 local.
    # Business time: Fri 12:15-12:30 = 15 min + Mon 08:30-08:45 = 15 min = 1800 s, which
    # does not exceed the 1800 s SLA. Calendar: Fri 11:15Z → Mon 07:45Z = 2 d 20 h 30 min.
    mention("m1", "2026-03-06T11:15:00Z"),
    # m2: its official answer (Mon 10:00 local) is read before the mention (Mon 09:00
    # local); another organisation's account answered at 09:05 and does not count.
    reply("r2-official", "m2", "2026-03-09T09:00:00Z", "gemeentezutphen"),
    reply("r2-other", "m2", "2026-03-09T08:05:00Z", "redactie", org_id="dagblad-noord"),
    reply("r1", "m1", "2026-03-09T07:45:00Z", "@Marieke_Zutphen"),
    mention("m2", "2026-03-09T08:00:00Z", kind="direct"),
    # m3: Tuesday 09:00 local, never answered: SLA breached at 09:30 local, and
    # unanswered once the watermark passes Tue 17 March 08:00Z. It waits past SLA from
    # 09:30 local until then: the organisation's SLA alert is open that long.
    mention("m3", "2026-03-10T08:00:00Z"),
    # A share expects no answer.
    mention("m4", "2026-03-10T08:30:00Z", kind="share", shared_from="m3"),
    # m5 moves the watermark to Wed 18 March 09:00Z (10:00 local): m5 itself is pending.
    mention("m5", "2026-03-18T09:00:00Z"),
]


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack.fresh("r", tmp_path / "home", kafka_broker.bootstrap)
    s.start_worker()
    yield s
    s.stop_worker()


def test_response_figures_and_sla_alerts(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
    stack.cli("replay", str(path), "--quiet")
    stack.wait_caught_up()

    rows = {r["mention_id"]: r for r in stack.sql(
        "SELECT * FROM mention_responses ORDER BY mention_id")}
    assert sorted(rows) == ["m1", "m2", "m3", "m5"]

    m1 = rows["m1"]
    assert (m1["status"], m1["first_response_id"], m1["responder_role"]) == (
        "answered", "r1", "employee")
    assert m1["responder_handle"].lower().lstrip("@") == "marieke_zutphen"
    assert m1["response_seconds"] == 2 * 86400 + 20 * 3600 + 30 * 60
    assert m1["business_response_seconds"] == 1800
    assert (m1["sla_seconds"], m1["sla_breached"]) == (1800, False)

    m2 = rows["m2"]
    assert (m2["status"], m2["first_response_id"], m2["responder_role"]) == (
        "answered", "r2-official", "official")
    assert m2["response_seconds"] == 3600 and m2["business_response_seconds"] == 3600
    assert m2["sla_breached"] is True

    assert (rows["m3"]["status"], rows["m3"]["sla_breached"]) == ("unanswered", True)
    assert rows["m3"]["first_response_id"] is None
    assert (rows["m5"]["status"], rows["m5"]["sla_breached"]) == ("pending", False)

    # SLA alerts are per organisation (not per mention). m2's answer was read before its
    # SLA ran out: it never waited. m1's answer (Mon 08:45 local, just in time) was read
    # after r2-official had moved the clock past m1's SLA (08:45:00.001 local): m1 seemed
    # to wait, and that alert was withdrawn once its answer showed up (gone from `alerts`).
    # m3 really waited: Tue 09:00 local + 30 business minutes = 09:30 local = 08:30Z, until
    # it turned unanswered (Tue 17 March 08:00Z); resolved 30 minutes later (m5's clock).
    alerts = {a["alert_id"]: a for a in stack.sql("SELECT * FROM alerts ORDER BY alert_id")}
    sla = "sla_breach:gemeente-zutphen:20260310T083000.001Z"
    assert set(alerts) == {sla}
    assert (alerts[sla]["kind"], alerts[sla]["status"]) == ("sla_breach", "resolved")
    assert alerts[sla]["opened_at"].startswith("2026-03-10T08:30:00.001")
    assert alerts[sla]["resolved_at"].startswith("2026-03-17T08:00:00")
    assert alerts[sla]["sample_event_ids"] == ["m3"]
    assert "no mention waits past the 30m response SLA" in alerts[sla]["summary"]

    activity = stack.sql("SELECT sum(mentions) AS m, sum(shares) AS s, sum(posts) AS p, "
                         "sum(replies) AS r FROM org_activity_1m "
                         "WHERE org_id = 'gemeente-zutphen'")
    assert activity == [{"m": 5, "s": 1, "p": 2, "r": 2}]

    # Every alert state also went out on the alerts topic, keyed by organisation.
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(f"{stack.topic}.alerts", bootstrap_servers=stack.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    try:
        messages = list(consumer)
        partitions = sorted(consumer.partitions_for_topic(f"{stack.topic}.alerts") or ())
    finally:
        consumer.close()
    published = [orjson.loads(message.value) for message in messages]
    states = {(a["alert_id"], a["status"]) for a in published}
    # Keyed by organisation, in the partition Kafka's own partitioner gives that key (as a
    # Java consumer would expect), with the state's delivery key for deduplication.
    from kafka.partitioner.default import murmur2

    key = b"gemeente-zutphen"
    assert {m.key for m in messages} == {key}
    expected_partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
    assert {m.partition for m in messages} == {expected_partition}
    assert [dict(m.headers)["delivery_key"].decode() for m in messages] == [
        f"{a['alert_id']}#{a['version']}" for a in published]
    seemed = "sla_breach:gemeente-zutphen:20260309T074500.001Z"
    assert states == {(seemed, "open"), (seemed, "retracted"), (sla, "open"), (sla, "resolved")}
    (opened,) = [a for a in published if a["status"] == "open" and a["alert_id"] == sla]
    assert (opened["version"], opened["details"]["past_sla"]) == (1, 1)
    assert (opened["observed"], opened["expected"]) == (1800.001, 1800)  # the oldest's wait
    # "a mention" or "a complaint", as the classifier reads m3's text
    assert opened["summary"].endswith("waits past the 30m response SLA: by @burger_m3, since "
                                      "Tue 10 Mar 09:00 CET (30m business time)")
    assert opened["details"]["oldest_mention_id"] == "m3"
    assert all(a["org_id"] == "gemeente-zutphen" for a in published)
