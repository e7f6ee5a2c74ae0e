"""A known complaint surge, through the real stack, raises exactly one alert.

Five days of complaints for one organisation (UTC, not in the roster, so the
default surge settings apply): 0.3 per minute at night, 3 per minute by day, and
every day 09:00-10:00 a usual peak of 15 per minute. On the fifth day, 14:00-14:40,
a surge of 15 per minute: five times the usual 14:00 rate, as large as the daily peak.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

ORG = "museum-aan-zee"
START = datetime(2026, 4, 6, tzinfo=UTC)  # a Monday
SURGE_START = START + timedelta(days=4, hours=14)
SURGE_END = SURGE_START + timedelta(minutes=40)


def rate(t: datetime) -> float:
    if SURGE_START <= t < SURGE_END:
        return 15.0
    if t.hour == 9:
        return 15.0
    return 3.0 if 7 <= t.hour < 22 else 0.3


def poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def complaints(days: int = 5, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for minute in range(days * 1440):
        t = START + timedelta(minutes=minute)
        for n in range(poisson(rng, rate(t))):
            at = t + timedelta(seconds=rng.uniform(0, 59.9))
            lines.append((at, orjson.dumps({
                "type": "mention", "event_id": f"s{minute}-{n}", "org_id": ORG,
                "platform": "twitter", "created_at": at.isoformat().replace("+00:00", "Z"),
                "author": {"id": f"a{rng.randrange(5000)}", "followers": rng.randrange(2000)},
                "text": "Het museum is weer dicht en niemand zegt iets!", "complaint": True,
                "sentiment": -0.7,
            })))
    lines.sort(key=lambda pair: pair[0])
    return [line for _, line in lines]


@pytest.fixture
def stack(kafka_broker: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack.fresh("s", tmp_path / "home", kafka_broker.bootstrap,
                    extra_env={"DORPSPOMP_BATCH_SIZE": "20000"})
    s.start_worker()
    yield s
    s.stop_worker()


def test_one_alert_for_the_surge_and_none_for_the_daily_peak(stack: Stack,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "complaints.jsonl"
    path.write_bytes(b"\n".join(complaints()) + b"\n")
    stack.cli("replay", str(path), "--quiet")
    stack.wait_caught_up()

    alerts = stack.sql("SELECT * FROM alerts WHERE kind = 'complaint_surge'")
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    opened = datetime.fromisoformat(alert["opened_at"].replace("Z", "+00:00"))
    resolved = datetime.fromisoformat(alert["resolved_at"].replace("Z", "+00:00"))
    assert SURGE_START < opened <= SURGE_START + timedelta(minutes=2)
    assert SURGE_END <= resolved <= SURGE_END + timedelta(minutes=20)
    assert alert["status"] == "resolved" and alert["org_id"] == ORG
    assert alert["observed"] >= 3 * alert["expected"] and alert["severity"] > 0
    assert len(alert["sample_event_ids"]) > 0
