"""The surge detector's tuning world: the source its rules and defaults are tuned on.

The house rule is to tune on one source and report on another. The independent
evaluation world (`pipelines.evalworld`, graded by `bench.evalsurges`) is the report;
this module is where the detector is tuned, written from the shapes issue 11 names and
nothing else: organisations with daily and weekly rhythms and weekday morning rushes
whose size and timing vary from day to day, day-to-day swings of the volume and of the
complaint share, and injected episodes —

- sharp: several times (5-8×) the usual complaints for 10-20 minutes, at least 30 more;
- hour: 3-4× for an hour, at least 40 more;
- slow: a ramp from the usual to ~3× over three hours, at least 80 more in all (a surge
  a PR desk would call one: at a small organisation "several times" is a handful);
- tiny: an organisation that hears a few complaints a day gets ~20 in 15-28 minutes;
- lasting: from some moment on, ~2.8× the complaints for good (two days here);
- praise and question bursts: ten times the usual other mentions for 45 minutes, a few
  per cent of them misread as complaints (they must not alert).

It works on counts, not texts: the classifier is modelled by its confusion (a real
complaint is read as one with probability `CATCH`, any other mention is misread as one
at the organisation's own rate of a few per cent, more in a burst of questions), so a
storm looks to the detector as it would through the real model: flatter than it is.

`python -m bench.tuneworld` prints recall per shape, delays, false alerts per
organisation-week and bursts alerted; `run()` returns them.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.processing.escalation import SurgeDetector
from pipelines.roster import Roster

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
CATCH = 0.75  # a real complaint is read as one
PARTITIONS = 4
GRACE = 10  # minutes after an episode's end an alert still counts for it
LASTING_GRACE = 180  # minutes from a lasting level's start in which it must be found


@dataclass(frozen=True)
class Episode:
    org: int
    shape: str
    start: int  # minute since START
    end: int  # minute (exclusive)


@dataclass
class TuneWorld:
    days: int
    n_orgs: int
    complaints: np.ndarray  # (orgs, minutes) read as complaints
    others: np.ndarray  # (orgs, minutes) the other mentions
    episodes: list[Episode]
    warmup_minutes: int


def _profile(minute_of_day: np.ndarray) -> np.ndarray:
    """The daily shape of the volume: low at night, a broad day, an evening bump."""
    h = minute_of_day / 60.0
    day = np.exp(-0.5 * ((h - 13.0) / 4.0) ** 2)
    evening = 0.4 * np.exp(-0.5 * ((h - 20.5) / 1.5) ** 2)
    return 0.12 + day + evening


def build(*, days: int = 35, n_orgs: int = 40, seed: int = 11) -> TuneWorld:
    rng = np.random.default_rng(seed)
    minutes = days * 1440
    t = np.arange(minutes)
    day_index = t // 1440
    weekday = (day_index + START.weekday()) % 7
    weekend = weekday >= 5
    base_profile = _profile(t % 1440) * np.where(weekend, 0.6, 1.0)
    # sizes: a few tiny organisations, most middling, a few large
    volume = np.exp(rng.uniform(math.log(10), math.log(400), n_orgs))  # mentions per hour
    tiny = list(range(4))
    volume[tiny] = rng.uniform(1.0, 2.0, len(tiny))
    share = rng.uniform(0.05, 0.3, n_orgs)
    misread = rng.uniform(0.02, 0.07, n_orgs)
    complaints = np.zeros((n_orgs, minutes), dtype=np.int64)
    others = np.zeros((n_orgs, minutes), dtype=np.int64)
    true_c = np.zeros((n_orgs, minutes))
    true_o = np.zeros((n_orgs, minutes))
    for o in range(n_orgs):
        rate = volume[o] / 60.0 * base_profile / base_profile.mean()
        # weekday morning rush, its start and size varying by day
        rush_start = 8 * 60 + rng.normal(0, 15, days)
        rush_size = rng.uniform(0.6, 1.4, days)
        rush_size[((np.arange(days) + START.weekday()) % 7) >= 5] = 0.0
        mod = t % 1440
        rush = rush_size[day_index] * np.exp(-0.5 * ((mod - rush_start[day_index] - 45) / 30) ** 2)
        level = np.exp(rng.normal(0, 0.15, days))[day_index]  # a busier or quieter day
        # the complaint share drifts: by day and by hour
        share_day = np.exp(rng.normal(0, 0.12, days))[day_index]
        share_hour = np.exp(rng.normal(0, 0.12, days * 24))[t // 60]
        total = rate * (1 + rush) * level
        true_c[o] = total * share[o] * share_day * share_hour
        true_o[o] = total * (1 - share[o])
    episodes: list[Episode] = []
    warm = 3 * 1440
    busy: dict[int, list[tuple[int, int]]] = {}

    def place(org: int, length: int, *, free_after: int = 0) -> int:
        for _ in range(1000):
            day = int(rng.integers(8 if org not in tiny else 4, days - 1))
            start = day * 1440 + int(rng.integers(7 * 60, 21 * 60))
            end = start + length + free_after
            if all(end + 1440 < a or start > b + 1440 for a, b in busy.get(org, [])):
                busy.setdefault(org, []).append((start, end))
                return start
        raise RuntimeError("no room for an episode")

    regular = list(range(len(tiny), n_orgs))
    lasting_orgs = [int(x) for x in rng.choice(regular, 8, replace=False)]
    for org in lasting_orgs:  # two days of the new level, then back
        start = place(org, 2 * 1440)
        true_c[org, start:start + 2 * 1440] *= 2.8
        episodes.append(Episode(org, "lasting", start, start + 2 * 1440))
    others_pool = [o for o in regular if o not in lasting_orgs]
    plan = [("sharp", 16), ("hour", 16), ("slow", 12), ("praise", 16), ("question", 8)]
    for shape, count in plan:
        for _ in range(count):
            org = int(rng.choice(others_pool))
            if shape == "sharp":
                length = int(rng.integers(10, 21))
                start = place(org, length)
                usual = true_c[org, start - 60:start].mean()
                true_c[org, start:start + length] += max(usual * rng.uniform(4, 7), 30 / length)
            elif shape == "hour":
                length = 60
                start = place(org, length)
                usual = true_c[org, start - 60:start].mean()
                true_c[org, start:start + length] += max(usual * rng.uniform(2, 3), 40 / length)
            elif shape == "slow":
                length = 180
                start = place(org, length)
                usual = true_c[org, start - 60:start].mean()
                true_c[org, start:start + length] += (max(usual * 2.0, 80 / length)
                                                      * np.linspace(0, 1, length))
            else:
                length = 45
                start = place(org, length)
                usual = true_o[org, start - 60:start].mean()
                true_o[org, start:start + length] += usual * 9.0
                # the burst's own misread share, a few per cent (questions more)
                extra = usual * 9.0 * length
                rate = rng.uniform(0.02, 0.05) if shape == "praise" else rng.uniform(0.04, 0.10)
                bump = rng.poisson(extra * max(0.0, rate - misread[org]) / length, length)
                complaints[org, start:start + length] += bump
            episodes.append(Episode(org, shape, start, start + length))
    for k in range(10):
        org = tiny[k % len(tiny)]
        length = int(rng.integers(15, 29))
        start = place(org, length)
        counts = rng.multinomial(20, np.ones(length) / length)
        complaints[org, start:start + length] += rng.binomial(counts, CATCH)
        episodes.append(Episode(org, "tiny", start, start + length))
    real_c = rng.poisson(true_c)
    real_o = rng.poisson(true_o)
    caught = rng.binomial(real_c, CATCH)
    misread_o = rng.binomial(real_o, misread[:, None])
    complaints += caught + misread_o
    others += real_o - misread_o + (real_c - caught)
    return TuneWorld(days, n_orgs, complaints, others, episodes, warm)


def org_id(o: int) -> str:
    return f"tune-{o:03d}"


def _tables(w: TuneWorld, batch_minutes: int, seed: int):
    """The world as the detector's input: per batch, a table of mentions in each partition's
    order and the partitions' clocks at its end."""
    rng = np.random.default_rng(seed + 1)
    ids = [org_id(o) for o in range(w.n_orgs)]
    part = np.array([zlib.crc32(i.encode()) % PARTITIONS for i in ids])
    minutes = w.complaints.shape[1]
    serial = 0
    for lo in range(0, minutes, batch_minutes):
        hi = min(minutes, lo + batch_minutes)
        c = w.complaints[:, lo:hi]
        o = w.others[:, lo:hi]
        oc, mc = np.nonzero(c)
        oo, mo = np.nonzero(o)
        org = np.concatenate([np.repeat(oc, c[oc, mc]), np.repeat(oo, o[oo, mo])])
        minute = np.concatenate([np.repeat(mc, c[oc, mc]), np.repeat(mo, o[oo, mo])]) + lo
        is_c = np.concatenate([np.ones(int(c.sum()), bool), np.zeros(int(o.sum()), bool)])
        ms = (minute * 60_000 + rng.integers(0, 60_000, len(minute))
              + int(START.timestamp() * 1000))
        p = part[org]
        order = np.lexsort((ms, p))
        org, ms, is_c, p = org[order], ms[order], is_c[order], p[order]
        n = len(org)
        event = pa.array(np.arange(serial, serial + n)).cast(pa.string())
        serial += n
        authors = rng.integers(0, 50_000, n)
        author = pa.array(authors).cast(pa.string())
        table = pa.table({
            "org_id": pa.DictionaryArray.from_arrays(pa.array(org.astype(np.int32)),
                                                     pa.array(ids)).cast(pa.string()),
            "event_id": event,
            "created_at": pa.array(ms, pa.timestamp("ms", "UTC")),
            "author_id": author,
            "author_handle": author,
            "author_followers": pa.array((authors * 37 % 5000).astype(np.uint64), pa.uint64()),
            "text": pa.array([""] * n, pa.string()),
            "complaint": pa.array(is_c, pa.bool_()),
            "source_partition": pa.array(p.astype(np.int32), pa.int32()),
            "kafka_timestamp": pa.array(ms + 1000, pa.timestamp("ms", "UTC")),
        })
        end = START + timedelta(minutes=hi, seconds=6)
        yield table, {q: end for q in range(PARTITIONS)}


def grade(w: TuneWorld, opened: list[tuple[int, int]]) -> dict[str, Any]:
    """Recall and delay per shape; alerts in no episode are false; bursts alerted."""
    by_org: dict[int, list[int]] = {}
    for org, minute in opened:
        by_org.setdefault(org, []).append(minute)
    shapes: dict[str, dict[str, Any]] = {}
    delays: list[float] = []
    explained: set[tuple[int, int]] = set()
    realert = 0
    for e in w.episodes:
        alerts = by_org.get(e.org, [])
        if e.shape == "lasting":
            hits = [m for m in alerts if e.start <= m <= e.start + LASTING_GRACE]
            inside = [m for m in alerts if e.start <= m <= e.end + GRACE]
            realert += max(0, len(inside) - 1)
        else:
            hits = [m for m in alerts if e.start <= m <= e.end + GRACE]
            inside = hits
        explained.update((e.org, m) for m in inside)
        row = shapes.setdefault(e.shape, {"episodes": 0, "alerted": 0, "delays": []})
        row["episodes"] += 1
        if hits:
            row["alerted"] += 1
            row["delays"].append(min(hits) - e.start)
            if e.shape not in ("praise", "question"):
                delays.append(min(hits) - e.start)
    false = [(o, m) for o, m in opened if (o, m) not in explained and m >= w.warmup_minutes]
    storms = [s for s in shapes if s not in ("praise", "question")]
    found = sum(shapes[s]["alerted"] for s in storms)
    total = sum(shapes[s]["episodes"] for s in storms)
    weeks = (w.days * 1440 - w.warmup_minutes) / (7 * 1440) * w.n_orgs
    for row in shapes.values():
        row["median_delay"] = float(np.median(row["delays"])) if row["delays"] else None
        del row["delays"]
    return {"recall": round(found / total, 3), "found": found, "storms": total,
            "median_delay": float(np.median(delays)) if delays else None,
            "false_per_org_week": round(len(false) / weeks, 3), "false": len(false),
            "lasting_realerts": realert, "shapes": shapes}


def run(*, days: int = 35, n_orgs: int = 40, seed: int = 11, batch_minutes: int = 60,
        surge: dict[str, Any] | None = None, world: TuneWorld | None = None) -> dict[str, Any]:
    """The detector (with the roster defaults' `surge` settings, if given) on the world."""
    w = world if world is not None else build(days=days, n_orgs=n_orgs, seed=seed)
    n_orgs = w.n_orgs
    roster = Roster()
    if surge:
        roster = Roster(defaults=replace(roster.defaults, extra={"surge": surge}))
    detector = SurgeDetector(roster)
    index = {org_id(o): o for o in range(n_orgs)}
    opened: list[tuple[int, int]] = []
    base = int(START.timestamp() // 60)
    cpu = time.process_time()
    mentions = 0
    for table, clocks in _tables(w, batch_minutes, seed):
        mentions += table.num_rows
        for alert in detector.process_table(table, clocks):
            if alert.version == 1 and alert.status == "open":
                opened.append((index[alert.org_id],
                               int(alert.opened_at.timestamp() // 60) - 1 - base))
    result = grade(w, opened)
    result["mentions"] = mentions
    result["detector_cpu_s"] = round(time.process_time() - cpu, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--orgs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    print(json.dumps(run(days=args.days, n_orgs=args.orgs, seed=args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
