"""The evaluation world: organisations with their own rhythms, and the episodes to find.

Written apart from `pipelines.simulate` (which the detector was tuned on) and sharing no
code with it, so that the detector is graded on a world it has not seen. What differs on
purpose: the rhythm is a sum of smooth daily bumps per kind of organisation (an office
day, a commuter service with weekday rushes in which complaints rise more than the rest,
an evening broadcaster, a shop with busy Saturdays), with day-to-day and hour-to-hour
noise on top (real volumes are not Poisson); the organisations live in five time zones
across the spring clock changes; the texts are real labelled posts (`texts`); and the
episodes come in seven shapes:

- `sharp`: complaints at 5-10× the usual level (the higher of the rate at its start and
  the day's mean), and at least 3 a minute more, for 15-30 min, with some talk about it
  (other mentions at a quarter of the extra complaints);
- `hour`: 3-4× for an hour (at least 1 a minute more); `slow`: 2.2-3× for three hours
  (at least 0.3 a minute more), reached over 20 minutes;
- `tiny`: at a quiet organisation (a few complaints a day), 18-24 complaints in 15-28
  minutes;
- `level`: from some day on, complaints at 2.5-3× for good (a lasting new level);
- `praise`: ten times the usual volume, of praise, for 45 minutes (a viral campaign);
- `questions`: six times the usual volume, of neutral posts, for 30-60 minutes.

The first five are storms a PR desk wants to hear about; the last two must stay quiet
(whatever the classifier misreads in them). Storm complaints carry the episode's own
hashtag in a third of their texts, so that an alert can be checked for saying what it
is about. Everything is a pure function of the seed and the plan: numpy generators
seeded per organisation, no wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import yaml

from pipelines.evalworld.texts import TextPools, ensure

START = datetime(2026, 3, 9, tzinfo=UTC)  # a Monday, three weeks before Europe's clock change
STORMS = ("sharp", "hour", "slow", "tiny", "level")
BURSTS = ("praise", "questions")
SHAPES = STORMS + BURSTS
HASHTAG_SHARE = 1 / 3
SHARP_AT_LEAST = 3.0  # extra complaints per minute (as people meant them), at the least
HOUR_AT_LEAST = 1.0
SLOW_AT_LEAST = 0.3
_MS_MINUTE = 60_000

# Rhythms: (centre hour, width in hours, weight) bumps over a small floor, weekdays and
# weekend days apart; `rush` bumps also raise the complaint share (late trains).
_RHYTHMS: dict[str, dict[str, Any]] = {
    "office": {"floor": 0.06, "weekday": ((10.0, 1.8, 1.0), (14.5, 2.0, 0.9), (20.5, 1.5, 0.3)),
               "saturday": ((12.0, 3.0, 0.45), (20.0, 2.0, 0.3)),
               "sunday": ((13.0, 3.0, 0.35), (20.0, 2.0, 0.3))},
    "commute": {"floor": 0.04,
                "weekday": ((7.8, 0.7, 1.5), (17.6, 0.9, 1.2), (12.5, 3.0, 0.45),
                            (21.0, 1.5, 0.25)),
                "saturday": ((13.0, 3.5, 0.5),), "sunday": ((14.0, 3.5, 0.4),),
                "rush": ((7.8, 0.8, 0.9), (17.6, 0.9, 0.8))},
    "evening": {"floor": 0.08, "weekday": ((12.5, 1.5, 0.4), (21.0, 1.6, 1.4)),
                "saturday": ((11.0, 2.0, 0.5), (21.5, 1.8, 1.6)),
                "sunday": ((11.0, 2.0, 0.6), (20.5, 1.8, 1.4))},
    "retail": {"floor": 0.03, "weekday": ((11.5, 2.5, 0.9), (16.0, 2.5, 0.9)),
               "saturday": ((13.0, 3.0, 1.5),), "sunday": ((14.0, 3.0, 0.8),)},
}
_ZONES = {"en": ("Europe/London", "America/New_York", "America/Chicago", "Australia/Sydney"),
          "nl": ("Europe/Amsterdam",)}
_NAMES = ("Aster", "Beacon", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris",
          "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid", "Pylon", "Quarry",
          "Rowan", "Sable", "Tundra", "Umber", "Vantage", "Willow", "Xenon", "Yarrow",
          "Zephyr")
_TRADES = ("Transit", "Telecom", "Water", "Bank", "Museum", "Radio", "Stores", "Energy",
           "Airways", "Insure", "Council", "Library", "Clinic", "Post")
_TAG_WORDS = ("down", "fail", "outage", "chaos", "storing", "boycott", "scandal", "mess")
_SIZES = {"quiet": (12.0, 40.0), "medium": (200.0, 1000.0), "busy": (2000.0, 5000.0)}
_KINDS = ("mention", "reply", "direct", "share")
_KIND_WEIGHTS = (0.65, 0.2, 0.05, 0.1)
_PLATFORMS = ("twitter", "facebook", "instagram")


@dataclass(frozen=True)
class Plan:
    """How big the world is and how many episodes of each shape it holds."""

    days: int
    quiet: int
    medium: int
    busy: int
    episodes: dict[str, int]
    warm_days: float  # no episode before this many days of history

    @classmethod
    def full(cls) -> Plan:
        return cls(days=35, quiet=10, medium=20, busy=10, warm_days=7,
                   episodes={"sharp": 12, "hour": 10, "slow": 8, "tiny": 10, "level": 4,
                             "praise": 16, "questions": 8})

    @classmethod
    def quick(cls) -> Plan:
        return cls(days=12, quiet=4, medium=6, busy=4, warm_days=4,
                   episodes={"sharp": 4, "hour": 3, "slow": 2, "tiny": 4, "level": 1,
                             "praise": 6, "questions": 2})


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    timezone: str
    lang: str
    size: str
    per_day: float  # mentions on an average day
    complaint_share: float  # of the usual mentions, complaints (as people meant them)
    rhythm: str


@dataclass(frozen=True)
class Episode:
    """One injected episode: the ground truth an alert is checked against."""

    org_id: str
    shape: str
    start_ms: int
    end_ms: int  # for `level`: the end of the world
    multiplier: float  # storms: the complaint rate's; bursts: the volume's
    usual_per_minute: float  # the usual complaints per minute when it starts (the model's)
    extra_complaints: float  # complaints (as people meant them) it adds, expected
    hashtag: str | None

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ms / 1000, UTC)

    @property
    def storm(self) -> bool:
        return self.shape in STORMS

    def to_json(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "shape": self.shape, "start": _iso(self.start_ms),
                "end": _iso(self.end_ms), "multiplier": round(self.multiplier, 2),
                "usual_per_minute": round(self.usual_per_minute, 4),
                "extra_complaints": round(self.extra_complaints, 1), "hashtag": self.hashtag}


@dataclass
class _Stream:
    """One organisation's events as columns (sorted by time in `World.events`)."""

    created_ms: list[np.ndarray] = field(default_factory=list)
    text: list[np.ndarray] = field(default_factory=list)  # index into World.texts
    author: list[np.ndarray] = field(default_factory=list)  # index into the org's authors


@dataclass
class World:
    """The organisations, their episodes and every event, from a seed and a plan."""

    seed: int
    plan: Plan
    pools: TextPools
    orgs: list[Org]
    episodes: list[Episode]
    texts: list[str]
    start: datetime
    end: datetime
    columns: dict[str, np.ndarray] = field(repr=False)
    authors: list[tuple[list[str], np.ndarray]] = field(repr=False)  # per org: ids, followers

    @property
    def events(self) -> int:
        return len(self.columns["created_ms"])

    def roster(self) -> dict[str, Any]:
        """The roster document: every organisation with its name and time zone."""
        return {"defaults": {"timezone": "UTC"},
                "orgs": [{"id": o.id, "name": o.name, "timezone": o.timezone,
                          "sector": o.rhythm} for o in self.orgs]}

    def roster_yaml(self) -> str:
        return yaml.safe_dump(self.roster(), sort_keys=False, allow_unicode=True)

    def lines(self, first: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(organisation number, JSON line) of events [first, end) in time order."""
        c = self.columns
        end = self.events if end is None else end
        for i in range(first, end):
            o = int(c["org"][i])
            org = self.orgs[o]
            ids, followers = self.authors[o]
            a = int(c["author"][i])
            kind = _KINDS[int(c["kind"][i])]
            event: dict[str, Any] = {
                "type": "mention", "event_id": f"ew{self.seed}-{o}-{int(c['seq'][i])}",
                "org_id": org.id, "platform": _PLATFORMS[int(c["platform"][i])],
                "created_at": _iso(int(c["created_ms"][i])),
                "author": {"id": ids[a], "handle": ids[a], "followers": int(followers[a])},
                "kind": kind, "text": self.texts[int(c["text"][i])],
            }
            if c["tagged"][i]:
                event["lang"] = org.lang
            yield o, orjson.dumps(event)


def build(seed: int, plan: Plan, pools: TextPools) -> World:
    """The world of `seed` under `plan`, speaking with `pools`."""
    langs = ("en", "nl")
    ensure(pools, langs)
    texts: list[str] = []
    offsets: dict[tuple[str, str], tuple[int, int]] = {}
    for lang in langs:
        for pool in ("complaint", "praise", "question"):
            pooled = pools.texts(lang, pool)
            offsets[(lang, pool)] = (len(texts), len(pooled))
            texts.extend(pooled)
    rng = np.random.default_rng([seed, 0])
    orgs = _organisations(rng, plan)
    minutes = plan.days * 1440
    episodes = _episodes(rng, plan, orgs)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in
                                            ("created_ms", "org", "text", "author", "kind",
                                             "platform", "tagged", "hashtag")}
    authors: list[tuple[list[str], np.ndarray]] = []
    hashtags: list[str] = []
    truth: list[Episode] = []
    for index, org in enumerate(orgs):
        org_rng = np.random.default_rng([seed, 1, index])
        usual_c, usual_o, rush = _rates(org, minutes, org_rng)
        mine = [e for e in episodes if e[0] == index]
        pool_of = {p: offsets[(org.lang, p)] for p in ("complaint", "praise", "question")}
        n_authors = int(max(60, org.per_day * 4))
        ids = [f"u{seed}x{index}x{k}" for k in range(n_authors + 4000)]
        followers = np.minimum(np.exp(org_rng.normal(4.5, 2.0, len(ids))), 5e7).astype(
            np.int64)
        authors.append((ids, followers))
        # (rates per minute, pool of texts, hashtag number, by people new to the org)
        parts: list[tuple[np.ndarray, str, int | None, bool]] = [
            (usual_c * rush, "complaint", None, False), (usual_o, "other", None, False)]
        daily = float(usual_c.mean())
        for _, shape, first, length, multiplier, extra_n in mine:
            extra = np.zeros(minutes)
            last = minutes if shape == "level" else first + length
            span = slice(first, last)
            base_c = usual_c[first]
            level = max(base_c, daily)  # a storm is as big as the org's usual level, at least
            if shape == "sharp":
                extra[span] = max((multiplier - 1) * level, SHARP_AT_LEAST)
            elif shape == "hour":
                extra[span] = max((multiplier - 1) * level, HOUR_AT_LEAST)
            elif shape == "slow":
                ramp = np.minimum(1.0, (np.arange(length) + 1) / 20.0)
                extra[span] = max((multiplier - 1) * level, SLOW_AT_LEAST) * ramp
            elif shape == "tiny":
                extra[span] = extra_n / length
            elif shape == "level":
                extra[span] = (multiplier - 1) * usual_c[span]
            elif shape in BURSTS:
                extra[span] = (multiplier - 1) * (usual_c[span] + usual_o[span])
            if shape in STORMS:
                tag = len(hashtags)
                hashtags.append(_hashtag(org, org_rng))
                parts.append((extra, "complaint", tag, True))
                chatter = {"sharp": 0.25, "hour": 0.2, "slow": 0.2, "tiny": 0.15,
                           "level": 0.1}[shape]
                parts.append((extra * chatter, "question", None, True))
                truth.append(Episode(org.id, shape, _minute_ms(first), _minute_ms(last),
                                     multiplier, float(base_c), float(extra.sum()),
                                     hashtags[tag]))
            else:
                pool = "praise" if shape == "praise" else "question"
                parts.append((extra, pool, None, True))
                truth.append(Episode(org.id, shape, _minute_ms(first), _minute_ms(last),
                                     multiplier, float(base_c), 0.0, None))
        for rates, pool, hashtag, newcomers in parts:
            counts = org_rng.poisson(np.clip(rates, 0.0, None))
            n = int(counts.sum())
            if n == 0:
                continue
            minute_of = np.repeat(np.arange(minutes, dtype=np.int64), counts)
            created = _minute_ms(0) + minute_of * _MS_MINUTE + org_rng.integers(
                0, _MS_MINUTE, n)
            if pool == "other":
                which = org_rng.random(n) < 0.35
                first_p, size_p = pool_of["praise"]
                first_q, size_q = pool_of["question"]
                text = np.where(which, first_p + org_rng.integers(0, size_p, n),
                                first_q + org_rng.integers(0, size_q, n))
            else:
                first_t, size_t = pool_of[pool]
                text = first_t + org_rng.integers(0, size_t, n)
            if newcomers:
                author = n_authors + org_rng.integers(0, 4000, n)  # people new to it
            else:
                author = np.floor(n_authors * org_rng.random(n) ** 2).astype(np.int64)
            columns["created_ms"].append(created)
            columns["org"].append(np.full(n, index, dtype=np.int32))
            columns["text"].append(text.astype(np.int64))
            columns["author"].append(author.astype(np.int64))
            columns["kind"].append(org_rng.choice(len(_KINDS), n, p=_KIND_WEIGHTS))
            columns["platform"].append(org_rng.integers(0, len(_PLATFORMS), n))
            columns["tagged"].append(org_rng.random(n) < 0.7)
            if hashtag is None:
                columns["hashtag"].append(np.full(n, -1, dtype=np.int64))
            else:
                columns["hashtag"].append(
                    np.where(org_rng.random(n) < HASHTAG_SHARE, hashtag, -1))
    merged = {k: np.concatenate(v) for k, v in columns.items()}
    order = np.lexsort((merged["org"], merged["created_ms"]))
    merged = {k: v[order] for k, v in merged.items()}
    merged["seq"] = np.arange(len(order))
    # Hashtagged texts become texts of their own (the hashtag added where people put it).
    tagged = np.nonzero(merged["hashtag"] >= 0)[0]
    for i in tagged:
        base = texts[int(merged["text"][i])]
        texts.append(f"{base} {hashtags[int(merged['hashtag'][i])]}")
        merged["text"][i] = len(texts) - 1
    truth.sort(key=lambda e: (e.start_ms, e.org_id))
    return World(seed, plan, pools, orgs, truth, texts, START,
                 START + timedelta(days=plan.days), merged, authors)


def _organisations(rng: np.random.Generator, plan: Plan) -> list[Org]:
    orgs: list[Org] = []
    sizes = ["quiet"] * plan.quiet + ["medium"] * plan.medium + ["busy"] * plan.busy
    used: set[str] = set()
    for i, size in enumerate(sizes):
        lang = "nl" if i % 4 == 1 else "en"
        while True:
            name = f"{rng.choice(_NAMES)} {rng.choice(_TRADES)}"
            slug = name.lower().replace(" ", "-")
            if slug not in used:
                used.add(slug)
                break
        low, high = _SIZES[size]
        per_day = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        share = float(rng.uniform(0.06, 0.15) if size == "quiet" else rng.uniform(0.08, 0.4))
        zone = str(rng.choice(_ZONES[lang]))
        rhythm = str(rng.choice(list(_RHYTHMS)))
        orgs.append(Org(f"ew-{slug}", name, zone, lang, size, per_day, share, rhythm))
    return orgs


def _episodes(rng: np.random.Generator, plan: Plan, orgs: Sequence[Org]
              ) -> list[tuple[int, str, int, int, float, float]]:
    """(org number, shape, first minute, minutes, multiplier, extra complaints for tiny)."""
    by_size = {s: [i for i, o in enumerate(orgs) if o.size == s] for s in _SIZES}
    hosts = {"sharp": by_size["medium"] + by_size["busy"],
             "hour": by_size["medium"] + by_size["busy"],
             "slow": by_size["medium"] + by_size["busy"],
             "tiny": by_size["quiet"], "level": by_size["medium"],
             "praise": by_size["medium"] + by_size["busy"],
             "questions": by_size["medium"] + by_size["busy"]}
    taken: dict[int, list[tuple[int, int]]] = {}
    level_from: dict[int, int] = {}
    out: list[tuple[int, str, int, int, float, float]] = []
    last_minute = plan.days * 1440
    for shape in ("level", *STORMS[:4], *BURSTS):
        candidates = hosts[shape]
        for n in range(plan.episodes.get(shape, 0)):
            if shape == "level" or shape == "tiny":
                org = candidates[n % len(candidates)]
            else:
                org = int(rng.choice(candidates))
            length = {"sharp": int(rng.integers(15, 31)), "hour": 60, "slow": 180,
                      "tiny": int(rng.integers(15, 29)), "level": 0, "praise": 45,
                      "questions": int(rng.integers(30, 61))}[shape]
            multiplier = {"sharp": rng.uniform(5, 10), "hour": rng.uniform(3, 4),
                          "slow": rng.uniform(2.2, 3), "tiny": 0.0,
                          "level": rng.uniform(2.5, 3), "praise": 10.0,
                          "questions": 6.0}[shape]
            extra_n = float(rng.integers(18, 25)) if shape == "tiny" else 0.0
            zone = ZoneInfo(orgs[org].timezone)
            for _ in range(200):
                if shape == "level":
                    day = int(rng.integers(int(plan.days * 0.6), int(plan.days * 0.75) + 1))
                else:
                    day = int(rng.integers(math.ceil(plan.warm_days), plan.days - 1))
                local = datetime.combine((START + timedelta(days=day)).date(),
                                         datetime.min.time(), zone) + timedelta(
                    minutes=int(rng.integers(8 * 60, 21 * 60)))
                first = int((local.astimezone(UTC) - START).total_seconds() // 60)
                window = (first - 8 * 60, first + max(length, 1) + 8 * 60)
                if first < plan.warm_days * 1440 or first + length >= last_minute:
                    continue
                if org in level_from and first + length >= level_from[org] - 8 * 60:
                    continue
                if any(a < window[1] and window[0] < b for a, b in taken.get(org, [])):
                    continue
                break
            else:
                continue  # no room at this organisation
            taken.setdefault(org, []).append((first, first + max(length, 1)))
            if shape == "level":
                level_from[org] = first
            out.append((org, shape, first, length, float(multiplier), extra_n))
    return out


def _rates(org: Org, minutes: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usual complaints and other mentions per minute, and the rush's complaint factor."""
    zone = ZoneInfo(org.timezone)
    hours = minutes // 60
    offsets = np.array([
        (datetime.fromtimestamp((_ms(START) // 1000) + h * 3600, zone).utcoffset()
         or timedelta()).total_seconds() / 60 for h in range(hours)])
    utc_minute = np.arange(minutes)
    local = utc_minute + np.repeat(offsets, 60)[:minutes] + _ms(START) // _MS_MINUTE
    local_hour = (local % 1440) / 60.0
    weekday = ((local // 1440) + 3) % 7  # 1970-01-01 was a Thursday
    spec = _RHYTHMS[org.rhythm]
    shape = np.full(minutes, spec["floor"])
    for day_kind, days in (("weekday", weekday < 5), ("saturday", weekday == 5),
                           ("sunday", weekday == 6)):
        shape += np.where(days, _bumps(local_hour, spec[day_kind]), 0.0)
    rush = 1.0 + np.where(weekday < 5, _bumps(local_hour, spec.get("rush", ())), 0.0)
    # Real volumes vary from day to day and hour to hour beyond the Poisson draw.
    day_noise = np.exp(rng.normal(0.0, 0.12, minutes // 1440 + 2))
    hour_noise = np.exp(rng.normal(0.0, 0.08, hours + 2))
    share_noise = np.exp(rng.normal(0.0, 0.08, minutes // 1440 + 2))
    local_day = (local // 1440 - local[0] // 1440).astype(np.int64)
    volume = shape / shape.mean() * org.per_day / 1440.0
    volume = volume * day_noise[local_day] * np.repeat(hour_noise, 60)[:minutes]
    complaints = volume * org.complaint_share * share_noise[local_day]
    others = volume * (1.0 - org.complaint_share)
    return complaints, others, rush


def _bumps(hour: np.ndarray, bumps: Sequence[tuple[float, float, float]]) -> np.ndarray:
    total = np.zeros_like(hour)
    for centre, width, weight in bumps:
        distance = np.abs(hour - centre)
        distance = np.minimum(distance, 24.0 - distance)
        total += weight * np.exp(-0.5 * (distance / width) ** 2)
    return total


def _hashtag(org: Org, rng: np.random.Generator) -> str:
    word = str(rng.choice(_TAG_WORDS))
    stem = org.name.split()[0].lower()
    return f"#{stem}{word}" if rng.random() < 0.5 else f"#{word}{stem}"


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _minute_ms(minute: int) -> int:
    return _ms(START) + minute * _MS_MINUTE


def _iso(ms: int) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
