"""The simulated world: eight kinds of organisation and how each behaves, the organisations
of a seed with their accounts, names and habits, the influencers, the roster they make,
the ground truth of a complaint surge, and the expected volume.

`World.stream` is the generator's entry point (`pipelines.simulate.generator`); it is
imported there when a stream starts, so the world can be built without the generator.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import yaml

from pipelines.roster import DAYS, Roster, parse_duration, parse_roster
from pipelines.simulate.clock import _EPOCH, _run_tag, _stamp, _to_ms
from pipelines.simulate.texts import (
    FIRST_NAMES,
    INFLUENCER_HANDLES,
    NAME_POOLS,
    REGIONS,
    SURNAMES,
    TOWNS,
)

KINDS = ("municipality", "library", "newspaper", "broadcaster", "university", "airline",
         "telecom", "retailer")


Event = tuple[int, int, int, bytes]
"""(created_at in ms since the epoch, organisation number, sequence number, JSON line)."""


# -- kinds of organisation -------------------------------------------------------------

def _every_day(hours: str) -> dict[str, str]:
    return {day: hours for day in DAYS}


def _weekdays(hours: str, friday: str | None = None) -> dict[str, str]:
    spec = {day: hours for day in DAYS[:5]}
    if friday:
        spec["fri"] = friday
    return spec


@dataclass(frozen=True)
class KindTraits:
    """How a kind of organisation behaves on social media; each org varies around this."""

    sector: str
    weight: float                       # share of the world's organisations
    mentions_per_day: float             # a median organisation, at scale 1
    posts_per_day: float
    complaint_share: float
    en_share: float                     # English mentions
    platforms: tuple[tuple[str, float], ...]
    hourly: tuple[float, ...]           # relative mention volume by local hour
    weekly: tuple[float, ...]           # relative mention volume mon..sun
    webcare: Mapping[str, str]          # staffed hours = the roster's business hours
    sla: str
    reply_minutes: float                # median time to answer inside staffed hours, for a
                                        # webcare that keeps its SLA (well within it)
    surges_per_day: float
    causes: tuple[str, ...]
    official_followers: float


# fmt: off
KIND_TRAITS: dict[str, KindTraits] = {
    "municipality": KindTraits(
        "government", 0.22, 140, 3, 0.26, 0.08,
        (("twitter", 0.45), ("facebook", 0.45), ("instagram", 0.10)),
        (0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.3, 0.8, 1.6, 2.2, 2.4, 2.3,
         2.0, 2.2, 2.3, 2.1, 1.8, 1.3, 1.1, 1.2, 1.2, 1.0, 0.7, 0.35),
        (1.15, 1.1, 1.1, 1.05, 1.0, 0.45, 0.4),
        _weekdays("08:30-17:00", "08:30-16:00"), "4h", 30, 0.2, ("letter",), 12_000),
    "library": KindTraits(
        "culture", 0.12, 35, 2, 0.12, 0.06,
        (("twitter", 0.3), ("facebook", 0.45), ("instagram", 0.25)),
        (0.1, 0.05, 0.03, 0.02, 0.02, 0.05, 0.2, 0.6, 1.2, 1.8, 2.0, 2.0,
         1.8, 2.0, 2.1, 2.0, 1.8, 1.4, 1.3, 1.5, 1.5, 1.1, 0.6, 0.3),
        (1.0, 1.0, 1.1, 1.0, 1.0, 1.1, 0.55),
        {**_weekdays("09:30-17:30"), "thu": "09:30-20:00", "sat": "10:00-14:00"}, "8h", 60,
        0.12, ("app-outage", "fine-letter"), 3_000),
    "newspaper": KindTraits(
        "media", 0.10, 260, 24, 0.16, 0.05,
        (("twitter", 0.55), ("facebook", 0.35), ("instagram", 0.10)),
        (0.3, 0.15, 0.1, 0.08, 0.1, 0.3, 1.2, 2.4, 2.6, 2.0, 1.7, 1.6,
         1.7, 1.5, 1.4, 1.4, 1.5, 1.7, 1.8, 2.0, 2.1, 1.8, 1.2, 0.6),
        (1.05, 1.0, 1.0, 1.0, 1.0, 0.95, 0.9),
        _every_day("07:00-23:00"), "2h", 15, 0.12, ("paper-delivery", "paywall-outage"),
        60_000),
    "broadcaster": KindTraits(
        "media", 0.08, 220, 16, 0.15, 0.05,
        (("twitter", 0.4), ("facebook", 0.3), ("youtube", 0.2), ("instagram", 0.1)),
        (0.5, 0.25, 0.12, 0.08, 0.08, 0.15, 0.4, 0.9, 1.1, 1.0, 0.9, 0.9,
         1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.8, 2.6, 3.0, 2.8, 2.0, 1.1),
        (0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.3),
        {**_weekdays("09:00-22:00"), "sat": "10:00-22:00", "sun": "10:00-22:00"}, "4h", 30,
        0.12, ("stream-outage",), 50_000),
    "university": KindTraits(
        "education", 0.10, 110, 3, 0.16, 0.35,
        (("twitter", 0.35), ("instagram", 0.3), ("linkedin", 0.2), ("facebook", 0.15)),
        (0.3, 0.15, 0.08, 0.05, 0.04, 0.06, 0.2, 0.7, 1.6, 2.2, 2.3, 2.2,
         2.0, 2.1, 2.1, 1.9, 1.5, 1.1, 0.9, 1.0, 1.0, 0.9, 0.7, 0.5),
        (1.2, 1.2, 1.15, 1.1, 0.95, 0.3, 0.35),
        _weekdays("09:00-17:00"), "8h", 60, 0.12, ("enrolment-outage", "timetable-chaos"),
        20_000),
    "airline": KindTraits(
        "travel", 0.08, 800, 4, 0.34, 0.35,
        (("twitter", 0.55), ("facebook", 0.27), ("instagram", 0.1), ("web", 0.08)),
        (0.3, 0.2, 0.15, 0.2, 0.5, 1.2, 2.0, 2.3, 2.1, 1.8, 1.6, 1.5,
         1.5, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 1.9, 1.7, 1.4, 1.0, 0.6),
        (1.0, 0.9, 0.9, 1.0, 1.15, 1.1, 1.1),
        _every_day("00:00-24:00"), "30m", 4, 0.25, ("cancellations", "checkin-outage"),
        150_000),
    "telecom": KindTraits(
        "telecom", 0.10, 650, 3, 0.36, 0.10,
        (("twitter", 0.6), ("facebook", 0.32), ("web", 0.08)),
        (0.4, 0.2, 0.1, 0.07, 0.07, 0.15, 0.4, 0.9, 1.4, 1.6, 1.6, 1.5,
         1.4, 1.5, 1.5, 1.5, 1.6, 1.8, 2.1, 2.5, 2.6, 2.3, 1.6, 0.9),
        (1.05, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05),
        {**_weekdays("08:00-22:00"), "sat": "08:00-22:00", "sun": "10:00-18:00"}, "30m", 4,
        0.35, ("outage",), 80_000),
    "retailer": KindTraits(
        "retail", 0.20, 300, 4, 0.25, 0.10,
        (("twitter", 0.33), ("facebook", 0.33), ("instagram", 0.24), ("web", 0.1)),
        (0.2, 0.1, 0.05, 0.04, 0.04, 0.1, 0.3, 0.8, 1.3, 1.7, 1.9, 2.0,
         2.0, 1.9, 1.9, 1.9, 1.9, 1.9, 1.9, 2.1, 2.1, 1.7, 1.1, 0.5),
        (0.9, 0.9, 0.95, 1.0, 1.1, 1.4, 0.8),
        {**_weekdays("08:00-20:00"), "sat": "08:00-20:00", "sun": "12:00-17:00"}, "1h", 8,
        0.15, ("webshop-outage", "parcel-delivery"), 30_000),
}
# fmt: on

PLATFORM_CODES = {"twitter": "tw", "facebook": "fb", "instagram": "ig", "linkedin": "li",
                  "youtube": "yt", "web": "web"}



def _slug(text: str) -> str:
    table = str.maketrans("áàâäéèêëíìîïóòôöúùûüç", "aaaaeeeeiiiioooouuuuc")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower().translate(table)).strip("-")
    return slug or "org"



# -- the world: organisations, accounts, influencers -------------------------------------


@dataclass(frozen=True)
class Account:
    """An account of an organisation, as the roster lists it."""

    platform: str
    handle: str
    id: str
    role: str                  # official or employee
    followers: int
    name: str = ""             # an employee's first name
    hours: Mapping[str, str] | None = None   # when an employee is on duty (local)


@dataclass(frozen=True)
class OrgProfile:
    """One client organisation: roster entry plus how it behaves."""

    no: int
    id: str
    name: str
    kind: str
    town: str
    timezone: str
    refs: Mapping[str, tuple[str, ...]]       # how people name it, by language
    mentions_per_day: float                   # at scale 1, an average week
    posts_per_day: float
    complaint_share: float
    en_share: float
    platforms: tuple[tuple[str, float], ...]
    accounts: tuple[Account, ...]
    business_hours: Mapping[str, str]
    first_response_sla: str
    responsiveness: float                     # share of the mentions that expect an answer
                                              # (every kind but share) it answers; 0: never
    reply_minutes: float                      # median time to answer inside staffed hours
    employee_share: float                     # of replies, when an employee is on duty
    surges_per_day: float
    domain: str
    traits: tuple[str, ...] = ()

    def official(self, platform: str) -> Account | None:
        for account in self.accounts:
            if account.platform == platform and account.role == "official":
                return account
        return None

    @property
    def employees(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.role == "employee")


@dataclass(frozen=True)
class Influencer:
    """A well-followed account that mentions any organisation now and then and gets shared."""

    handle: str
    followers: int
    verified: bool


@dataclass(frozen=True)
class PlannedSurge:
    """A complaint surge asked for at a given time, on top of the random ones: the demo plans
    one that is open when its dashboard is first looked at, and one a few minutes later."""

    org_id: str
    start_ms: int
    minutes: float
    per_minute: float         # the complaints' rate while it lasts


@dataclass(frozen=True)
class PlannedBacklog:
    """A stretch in which an organisation's desk stops answering (people ill, a tool down):
    every answer that falls in [start, end) waits until `end` and then comes in the same
    order, four times as fast. The demo plans one that began hours before it starts, so the
    first look at the dashboard shows a real queue past the SLA, worked off a little later."""

    org_id: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Surge:
    """One injected complaint surge: the ground truth a surge alert is checked against."""

    org_id: str
    start_ms: int
    end_ms: int
    size: int                 # complaint mentions injected in [start, end)
    cause: str
    rate_per_minute: float    # the injected complaints' rate
    baseline_per_minute: float  # the org's usual complaint rate at that hour (the model's)

    @property
    def start(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.start_ms)

    @property
    def end(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.end_ms)

    def to_json(self) -> bytes:
        return orjson.dumps({
            "org_id": self.org_id, "start": _stamp(self.start_ms), "end": _stamp(self.end_ms),
            "size": self.size, "cause": self.cause,
            "rate_per_minute": round(self.rate_per_minute, 4),
            "baseline_per_minute": round(self.baseline_per_minute, 4),
        })


@dataclass(frozen=True)
class World:
    """The organisations, their accounts and behaviour, and the influencers: all from a seed."""

    seed: int
    orgs: tuple[OrgProfile, ...]
    influencers: tuple[Influencer, ...]

    def org(self, org_id: str) -> OrgProfile:
        for org in self.orgs:
            if org.id == org_id:
                return org
        raise KeyError(org_id)

    # the roster -------------------------------------------------------------------

    def roster_document(self) -> dict[str, Any]:
        """The roster (CONTRACT.md §2) as plain data; `kind` is an extra field."""
        orgs = []
        for org in self.orgs:
            orgs.append({
                "id": org.id,
                "name": org.name,
                "sector": KIND_TRAITS[org.kind].sector,
                "kind": org.kind,
                "timezone": org.timezone,
                "business_hours": dict(org.business_hours),
                "first_response_sla": org.first_response_sla,
                "accounts": [
                    {"platform": a.platform, "handle": a.handle, "id": a.id, "role": a.role}
                    for a in org.accounts
                ],
            })
        return {
            "defaults": {
                "timezone": "Europe/Amsterdam",
                "business_hours": _weekdays("09:00-17:00"),
                "first_response_sla": "1h",
                "answer_window": "7d",
            },
            "orgs": orgs,
        }

    def roster_yaml(self) -> str:
        header = (f"# Generated by `dorpspomp simulate --seed {self.seed} --orgs {len(self.orgs)}`"
                  ": the synthetic organisations\n# and their accounts. `kind` is "
                  "informational (the roster keeps unknown fields).\n")
        body = yaml.safe_dump(self.roster_document(), sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=110)
        return header + body

    def roster(self) -> Roster:
        return parse_roster(self.roster_document(), source="simulated roster")

    # volume -------------------------------------------------------------------------

    def expected_events_per_day(self, scale: float = 1.0) -> float:
        """About how many events a simulated day holds on average (all kinds of event)."""
        total = 0.0
        for org in self.orgs:
            answered = org.responsiveness
            mentions = org.mentions_per_day * (1.0 + answered * 0.15)   # follow-ups
            surges = org.surges_per_day * _expected_surge_size(org, scale) / max(scale, 1e-9)
            replies = mentions * answered * 1.08
            shares = ((mentions + surges) * _SHARES_PER_MENTION
                      + org.posts_per_day * _shares_per_post(org))
            total += mentions + surges + replies + shares + org.posts_per_day
        return total * scale

    # the stream -----------------------------------------------------------------------

    def stream(self, start: datetime, *, end: datetime | None = None, scale: float = 1.0,
               on_surge: Callable[[Surge], None] | None = None,
               planned: Sequence[PlannedSurge] = (),
               backlogs: Sequence[PlannedBacklog] = ()) -> Iterator[Event]:
        """Every organisation's events from `start` (to `end`, or for ever), merged by time.

        Lazy: one heap entry per organisation plus each organisation's scheduled follow-ups.
        Yields (created_at ms, org number, sequence, JSON line); `on_surge` hears of each
        complaint surge as its window opens. With `end`, only surges that fit are injected.
        `planned` surges come on top of the random ones (those starting before `start` are
        left out), and `backlogs` hold answers back; without either the stream is what it
        always was for the same arguments.
        """
        start_ms = _to_ms(start)
        end_ms = _to_ms(end) if end is not None else None
        if end_ms is not None and end_ms <= start_ms:
            return iter(())
        if scale <= 0:
            raise ValueError("scale must be positive")
        from pipelines.simulate.generator import _Authors, _OrgRun

        tag = _run_tag(self.seed, start_ms)
        authors = _Authors(self.seed)
        known = {org.id for org in self.orgs}
        for what, ids in (("surge", [p.org_id for p in planned]),
                          ("backlog", [b.org_id for b in backlogs])):
            for org_id in ids:
                if org_id not in known:
                    raise ValueError(f"a planned {what} names {org_id!r}, which is not one of "
                                     "the world's organisations")
        runs = [_OrgRun(self, org, start_ms, end_ms, scale, tag, on_surge, authors,
                        tuple(p for p in planned if p.org_id == org.id),
                        tuple(b for b in backlogs if b.org_id == org.id)).events()
                for org in self.orgs]
        return heapq.merge(*runs)


# How organisations answer (README, "The simulated world"). The contract counts every
# mention but a share as expecting an answer, and a webcare that keeps its clients happy
# answers them all: complaints, questions, praise and chatter alike, most well within the
# SLA. About one in seven is slow (median answer about `SLOW_SLA_SHARE` of the SLA, so
# many are late); one never answers anyone. The demo adds a backlog (`PlannedBacklog`).
SLOW_BELOW = 0.72
SLOW_SLA_SHARE = 0.5
DILIGENT_PACE_MAX = 1.4     # a webcare that keeps its SLA is at most this much slower
_SURGE_FLOOR_PER_MINUTE = 0.5
_SHARE_BASE = 0.2
_SHARE_EXPONENT = 0.55


_SHARES_PER_MENTION = 0.16   # cascades included; calibrated on seed 7, checked by a test


def _shares_per_post(org: OrgProfile) -> float:
    followers = max((a.followers for a in org.accounts if a.role == "official"), default=0)
    return _SHARE_BASE * (1.0 + followers / 1000.0) ** _SHARE_EXPONENT * 1.3


def _expected_surge_size(org: OrgProfile, scale: float) -> float:
    rate = max(8.5 * _peak_complaints_per_minute(org, scale), _SURGE_FLOOR_PER_MINUTE)
    return rate * 55.0


def _peak_complaints_per_minute(org: OrgProfile, scale: float) -> float:
    traits = KIND_TRAITS[org.kind]
    hourly = _normalised(traits.hourly)
    weekly = _normalised(traits.weekly, mean=True)
    return (org.mentions_per_day * scale * max(hourly) * max(weekly) * org.complaint_share
            / 60.0)


def scale_for_events_per_day(w: World, events_per_day: float) -> float:
    """The scale at which `w` produces about `events_per_day` events a simulated day."""
    if events_per_day <= 0:
        raise ValueError("events per day must be positive")
    scale = events_per_day / w.expected_events_per_day(1.0)
    for _ in range(30):   # surges have a floor, so volume is not quite linear in the scale
        scale = events_per_day * scale / w.expected_events_per_day(scale)
    return scale


def _normalised(values: Sequence[float], mean: bool = False) -> tuple[float, ...]:
    total = sum(values)
    divisor = total / len(values) if mean else total
    return tuple(v / divisor for v in values)


def _kind_counts(n: int) -> list[int]:
    """How many organisations of each kind: largest remainder on the weights, ≥ 1 each."""
    weights = [KIND_TRAITS[k].weight for k in KINDS]
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(KINDS)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    if n >= len(KINDS):
        for i in range(len(KINDS)):
            while counts[i] == 0:
                donor = max(range(len(KINDS)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] += 1
    return counts


def world(seed: int, orgs: int = 60) -> World:
    """The roster and per-organisation behaviour for `seed`; the same seed, the same world."""
    if orgs < 1:
        raise ValueError("there must be at least one organisation")
    rng = random.Random(f"dorpspomp-simulate/world/{seed}")
    counts = _kind_counts(orgs)
    towns = list(TOWNS)
    rng.shuffle(towns)
    regions = list(REGIONS)
    rng.shuffle(regions)
    used_ids: set[str] = set()
    used_handles: set[tuple[str, str]] = set()
    profiles: list[OrgProfile] = []

    def unique(base: str, used: set[str], sep: str = "-") -> str:
        candidate, n = base, 2
        while candidate in used:
            candidate = f"{base}{sep}{n}"
            n += 1
        used.add(candidate)
        return candidate

    def claim(platform: str, base: str) -> str:
        """A handle nobody else has on this platform (compared without regard to case)."""
        candidate, n = base, 2
        while (platform, candidate.lower()) in used_handles:
            candidate = f"{base}{n}"
            n += 1
        used_handles.add((platform, candidate.lower()))
        return candidate

    kind_seq = [kind for kind, count in zip(KINDS, counts, strict=True) for _ in range(count)]
    name_pools = {kind: list(pool) for kind, pool in NAME_POOLS.items()}
    for pool in name_pools.values():
        rng.shuffle(pool)
    picks: dict[str, int] = dict.fromkeys(KINDS, 0)
    never_answers = max((i for i, k in enumerate(kind_seq) if k == "retailer"),
                        default=len(kind_seq) - 1) if orgs > 1 else -1
    first_library = next((i for i, k in enumerate(kind_seq) if k == "library"), None)
    first_newspaper = next((i for i, k in enumerate(kind_seq) if k == "newspaper"), None)

    for no, kind in enumerate(kind_seq):
        traits = KIND_TRAITS[kind]
        i = picks[kind]
        picks[kind] += 1
        town = towns[(no * 7 + i) % len(towns)]
        region = regions[(no + i) % len(regions)]
        if kind == "municipality":
            place = towns[i % len(towns)] + ("" if i < len(towns) else f" {i // len(towns) + 1}")
            town = place
            name = f"Gemeente {place}"
            refs: dict[str, tuple[str, ...]] = {
                "nl": (f"gemeente {place}", "de gemeente"),
                "en": (f"{place} council", "the council")}
        elif kind == "library":
            place = regions[i % len(regions)]
            name = f"Bibliotheek {place}"
            if i >= len(regions):
                name += f" {i // len(regions) + 1}"
            refs = {"nl": (name, "de bieb"), "en": (name, "the library")}
        else:
            pool = name_pools[kind]
            name = pool[i % len(pool)] + ("" if i < len(pool) else f" {region}")
            place = name
            refs = {"nl": (name,), "en": (name,)}
        org_id = unique(_slug(name), used_ids)
        size = min(5.0, max(0.2, rng.lognormvariate(0.0, 0.7)))
        short = _slug(place).replace("-", "")      # zwolle, rivierenland, wolktelecom
        token = {"municipality": "gemeente", "library": "bieb"}.get(kind, "") + short
        official_followers = int(traits.official_followers * size * rng.lognormvariate(0, 0.5))
        accounts: list[Account] = []
        platforms = [p for p, _ in traits.platforms]
        traits_list: list[str] = []
        # The webcare's pace: most keep their SLA; about one in seven (a draw below
        # `SLOW_BELOW`) answers just as completely but takes about the SLA itself, so that
        # in busy hours a few mentions at a time wait past it.
        slow = rng.gauss(0.85, 0.12) < SLOW_BELOW
        responsiveness = 1.0
        employee_share = 0.0
        mention_platforms = traits.platforms
        posts_per_day = traits.posts_per_day * min(2.5, max(0.5, size ** 0.5))
        if no == never_answers:
            traits_list.append("never answers")
            responsiveness = 0.0
            slow = False
            posts_per_day = 0.5
            mention_platforms = (("twitter", 0.6), ("facebook", 0.4))
            platforms = ["twitter"]
        elif slow:
            traits_list.append("slow to answer")
        for platform in platforms:
            if platform == "facebook":     # CamelCase: the roster matches regardless of case
                base = name.replace(" ", "")
            elif platform == "web":
                base = f"{token}-reviews"
            else:
                base = token
            account_id = f"{PLATFORM_CODES[platform]}{90_000 + no * 10 + len(accounts)}"
            accounts.append(Account(platform, claim(platform, base), account_id, "official",
                                    official_followers))
        hours = dict(traits.webcare)
        employees: list[tuple[str, dict[str, str], int]] = []
        if no == first_library:
            traits_list.append("staff answer under their own names")
            employee_share = 0.9
            size = max(size, 2.0)
            mention_platforms = (("twitter", 0.75), ("facebook", 0.15), ("instagram", 0.1))
            employees = [(first, hours, int(rng.lognormvariate(6.0, 0.8)))
                         for first in ("anneke", "joris", "fatima")]
        elif no == first_newspaper:
            traits_list.append("journalists with their own accounts")
            employee_share = 0.35
            employees = [(first, _every_day("08:00-22:00"), int(rng.lognormvariate(8.5, 0.9)))
                         for first in ("sanne", "bram", "esther", "koen", "yara")]
        elif no != never_answers and kind in ("municipality", "library", "university",
                                              "retailer") and rng.random() < 0.3:
            traits_list.append("a webcare employee answers too")
            employee_share = 0.3
            first = FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))]
            employees = [(first, _weekdays("09:00-17:00"), int(rng.lognormvariate(5.5, 0.7)))]
        for first, duty, followers in employees:
            if kind == "newspaper":
                base = first + SURNAMES[int(rng.random() * len(SURNAMES))]
            else:
                tail = short if kind == "municipality" else (
                    f"bieb{short}" if kind == "library" else _slug(name.split()[-1]))
                base = f"{first}_{tail.replace('-', '')}"
            account_id = f"tw{700_000 + no * 10 + len(accounts)}"
            accounts.append(Account("twitter", claim("twitter", base), account_id, "employee",
                                    followers, name=first.capitalize(), hours=duty))
        complaint_share = min(0.6, max(0.05, traits.complaint_share
                                       * rng.lognormvariate(0, 0.2)))
        pace = rng.lognormvariate(0.0, 0.4)
        profiles.append(OrgProfile(
            no=no, id=org_id, name=name, kind=kind, town=town, timezone="Europe/Amsterdam",
            refs=refs,
            mentions_per_day=traits.mentions_per_day * size,
            posts_per_day=posts_per_day,
            complaint_share=complaint_share,
            en_share=traits.en_share,
            platforms=mention_platforms,
            accounts=tuple(accounts),
            business_hours=hours,
            first_response_sla=traits.sla,
            responsiveness=responsiveness,
            reply_minutes=(parse_duration(traits.sla) / 60 * SLOW_SLA_SHARE * pace if slow
                           else traits.reply_minutes * min(pace, DILIGENT_PACE_MAX)),
            employee_share=employee_share,
            surges_per_day=traits.surges_per_day,
            domain=f"{org_id}.nl",
            traits=tuple(traits_list),
        ))
    influencers = []
    for n, handle in enumerate(INFLUENCER_HANDLES[: max(8, min(len(INFLUENCER_HANDLES),
                                                                orgs // 2))]):
        influencers.append(Influencer(handle, int(40_000 * 50 ** rng.random()),
                                      verified=rng.random() < 0.8 or n == 0))
    return World(seed=seed, orgs=tuple(profiles), influencers=tuple(influencers))


