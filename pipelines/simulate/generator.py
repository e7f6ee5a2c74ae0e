"""One organisation's events in time order, and the authors who write them.

Each organisation is a generator over a small heap of scheduled tasks (the next organic
mention, the next post, replies, follow-ups, shares, cascades, surges); one
`random.Random` per organisation, seeded from a string, so the events are a pure function
of the seed, the organisation and the start. `World.stream` merges the organisations.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter
from typing import Any

import orjson

from pipelines.roster import BusinessHours
from pipelines.simulate.clock import (
    _MASK64,
    _MS_DAY,
    _MS_HOUR,
    _local_clock,
    _mix,
    _Staffed,
    _stamp,
    _stamp_local,
)
from pipelines.simulate.texts import (
    ANGRY,
    COMMON_SLOTS,
    DESTINATIONS,
    DUTCH_SLIPS,
    FIRST_NAMES,
    FOLLOW_UPS,
    HAPPY,
    HEADLINES,
    INITIALS,
    JOURNALIST_POSTS,
    KIND_SLOTS,
    NEUTRAL,
    POSTS,
    REPLIES,
    SHARE_TEXTS,
    SURGES,
    SURNAMES,
    TEMPLATES,
    TOWNS,
)
from pipelines.simulate.world import (
    _SHARE_BASE,
    _SHARE_EXPONENT,
    _SURGE_FLOOR_PER_MINUTE,
    KIND_TRAITS,
    PLATFORM_CODES,
    Account,
    Event,
    OrgProfile,
    PlannedBacklog,
    PlannedSurge,
    Surge,
    World,
    _normalised,
    _peak_complaints_per_minute,
)

_STARS_SENTIMENT = {1: -0.8, 2: -0.45, 3: 0.0, 4: 0.5, 5: 0.85}

_FIELDS = Formatter()


def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in _FIELDS.parse(template) if name)


Template = tuple[str, tuple[str, ...]]


@lru_cache(maxsize=64)
def _templates(kind: str, lang: str, category: str) -> tuple[Template, ...]:
    """The templates of one category, with the slots each one needs."""
    texts = TEMPLATES[lang][category]
    if category == "complaint":
        extra = KIND_SLOTS[kind][lang]["complaint"]
        texts = texts + extra + extra  # the kind's own complaints are common
    return tuple((text, _fields(text)) for text in texts)


@lru_cache(maxsize=64)
def _surge_templates(cause: str, lang: str) -> tuple[Template, ...]:
    return tuple((text, _fields(text)) for text in SURGES[cause][lang])


# -- authors --------------------------------------------------------------------------



_FOLLOWER_CAP = 2_500_000
_PARETO_ALPHA = 1.2
_GLOBAL_AUTHORS = 1 << 62       # author numbers from here on are shared by all organisations
_AUTHOR_CACHE_LIMIT = 100_000   # entries, shared by all organisations of a stream


class _Authors:
    """People who write about the organisations: attributes are a pure function of a number.

    Followers are Pareto-distributed (α = 1.2: median about 60, the top 1 % hold about
    half of all followers, before the influencers); handles are Dutch (and a few English)
    names with the usual decorations.
    """

    def __init__(self, seed: int) -> None:
        self.salt = _mix(seed & _MASK64)
        self.cache: dict[int, tuple[dict[str, Any], int, str]] = {}

    def get(self, n: int) -> tuple[dict[str, Any], int, str]:
        """(author object of the event, followers, handle) of author number `n`."""
        hit = self.cache.get(n)
        if hit is not None:
            return hit
        if len(self.cache) >= _AUTHOR_CACHE_LIMIT:
            self.cache.clear()   # a pure function of n: dropping entries changes nothing
        h = _mix(n ^ self.salt)
        u = ((h >> 11) + 1) / 9007199254740993.0
        followers = min(_FOLLOWER_CAP, int(60.0 * u ** (-1.0 / _PARETO_ALPHA)) - 50)
        first = FIRST_NAMES[(h >> 3) % len(FIRST_NAMES)]
        sur = SURNAMES[(h >> 17) % len(SURNAMES)]
        num = (h >> 29) % 100
        pattern = (h >> 41) % 6
        if pattern == 0:
            handle = f"{first}{num}"
        elif pattern == 1:
            handle = f"{first}_{sur}"
        elif pattern == 2:
            handle = f"{first[0]}{sur}"
        elif pattern == 3:
            handle = f"{first}.{sur}{num}"
        elif pattern == 4:
            handle = f"{sur}{first[0]}{num}"
        else:
            handle = f"{first}{sur[:3]}{1960 + num % 45}"
        author: dict[str, Any] = {"id": str(10_000_000 + n) if n < _GLOBAL_AUTHORS else
                                  f"g{n - _GLOBAL_AUTHORS}", "handle": handle,
                                  "followers": followers}
        if followers > 100_000 and (h >> 50) & 1:
            author["verified"] = True
        entry = (author, followers, handle)
        self.cache[n] = entry
        return entry


# -- one organisation's stream ---------------------------------------------------------------

_MAX_CASCADE = 3000
_INFLUENCER_SHARE = 0.004
_KIND_BY_PLATFORM: dict[str, tuple[tuple[str, float], ...]] = {
    "twitter": (("mention", 0.65), ("reply", 0.2), ("direct", 0.15)),
    "facebook": (("mention", 0.45), ("comment", 0.4), ("direct", 0.15)),
    "instagram": (("mention", 0.4), ("comment", 0.6)),
    "linkedin": (("mention", 0.5), ("comment", 0.5)),
    "youtube": (("mention", 0.1), ("comment", 0.9)),
    "web": (("review", 1.0),),
}
_CATEGORIES = ("complaint", "question", "praise", "chatter")

Task = tuple[float, int, Callable[[float, Any], bytes | None], Any]


@dataclass(slots=True)
class _Mentioned:
    """What a follow-up needs to know about a mention or post that was emitted."""

    event_id: str
    platform: str
    handle: str
    followers: int
    lang: str
    category: str
    text: str | None
    depth: int = 0                 # 0 for an original, n for a share n steps away
    cascade: list[int] | None = None   # shares so far in its cascade (shared counter)
    owner: Account | None = None   # for a post: the account that wrote it
    conversation: int = 0          # how many times this thread went back and forth
    author: tuple[dict[str, Any], int, str] | None = None   # a mention's author


class _OrgRun:
    """Generates one organisation's events in time order (a generator over a task heap)."""

    def __init__(self, w: World, org: OrgProfile, start_ms: int, end_ms: int | None,
                 scale: float, tag: str, on_surge: Callable[[Surge], None] | None,
                 authors: _Authors,
                 planned: tuple[PlannedSurge, ...] = (),
                 backlogs: tuple[PlannedBacklog, ...] = ()) -> None:
        self.org = org
        self.traits = KIND_TRAITS[org.kind]
        self.rng = random.Random(f"dorpspomp-simulate/{w.seed}/{org.id}/{start_ms}")
        self.start_ms, self.end_ms, self.scale = start_ms, end_ms, scale
        self.on_surge = on_surge
        self.planned = planned
        self.backlogs = backlogs
        self.heap: list[Task] = []
        self.seq = 0
        self.emitted = 0
        self.id_prefix = f"-{tag}-{org.no}-"
        self.authors = authors
        self.influencers = w.influencers
        self.community_base = (org.no + 1) << 32
        # Regulars write most: author k of the community is drawn with weight ~ k^(-2/3).
        self.community = int(min(300_000, max(300, org.mentions_per_day * scale * 12)))
        self.shared_pool = int(min(3_000_000, max(2_000, org.mentions_per_day * scale * 6)))
        self.hourly = _normalised(self.traits.hourly)
        self.weekly = _normalised(self.traits.weekly, mean=True)
        self.post_hourly = tuple(0.0 if h < 7 or h > 22 else v for h, v in
                                 enumerate(self.traits.hourly))
        self.post_hourly = _normalised(self.post_hourly)
        self.mention_rate_cache: dict[int, float] = {}
        self.post_rate_cache: dict[int, float] = {}
        self.zone = org.timezone
        self.webcare = _Staffed(BusinessHours.parse(org.business_hours, org.timezone))
        self.duty = [(a, _Staffed(BusinessHours.parse(a.hours, org.timezone)))
                     for a in org.employees if a.hours is not None]
        self.platform_names = tuple(p for p, _ in org.platforms)
        self.platform_cum = _cumulative(weight for _, weight in org.platforms)
        self.kind_choices = {p: (tuple(k for k, _ in _KIND_BY_PLATFORM[p]),
                                 _cumulative(weight for _, weight in _KIND_BY_PLATFORM[p]))
                             for p in self.platform_names}
        self.recent_posts: dict[str, deque[_Mentioned]] = {p: deque(maxlen=4)
                                                           for p in PLATFORM_CODES}
        self.slots = {lang: self._slots(lang) for lang in ("nl", "en")}
        self.urls = tuple(f"https://www.{org.domain}/{path}" for path in
                          ("nieuws", "contact", "veelgestelde-vragen", "service", "actueel"))
        self.peak_complaints = _peak_complaints_per_minute(org, scale)
        self.journalists = tuple(a for a in org.employees if org.kind == "newspaper")

    def _slots(self, lang: str) -> dict[str, tuple[str, ...]]:
        kind_slots = KIND_SLOTS[self.org.kind][lang]
        dest = DESTINATIONS[lang]
        code = "".join(c for c in self.org.name.upper() if c.isalpha())[:2]
        flights = tuple(f"{code}{n}" for n in (1021, 1403, 782, 2210, 318, 1907))
        slots: dict[str, tuple[str, ...]] = dict(COMMON_SLOTS[lang])
        for key in ("thing", "q", "news", "event"):
            values = kind_slots[key]
            if any("{dest}" in v for v in values):
                values = tuple(v.replace("{dest}", d) for v in values for d in dest[:4]
                               if "{dest}" in v) + tuple(v for v in values if "{dest}" not in v)
            slots[key] = values
        slots["dest"] = dest
        slots["flight"] = flights
        slots["town"] = (self.org.town,) * 3 + TOWNS[:6]
        return slots

    # the task heap -----------------------------------------------------------------

    def _at(self, t: float, action: Callable[[float, Any], bytes | None], arg: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, action, arg))

    def events(self) -> Iterator[Event]:
        start = float(self.start_ms)
        self._at(self._next_arrival(start, self._mention_rate), self._organic_mention, None)
        if self.org.posts_per_day > 0:
            self._at(self._next_arrival(start, self._post_rate), self._organic_post, None)
        self._schedule_surge(start)
        for surge in self.planned:
            if surge.start_ms >= start:
                self._at(float(surge.start_ms), self._planned_surge, surge)
        heap, end, no = self.heap, self.end_ms, self.org.no
        pop = heapq.heappop
        while heap:
            t, seq, action, arg = pop(heap)
            if end is not None and t >= end:
                return
            line = action(t, arg)
            if line is not None:
                yield int(t), no, seq, line

    # rates and rhythms ---------------------------------------------------------------

    def _mention_rate(self, utc_hour: int) -> float:
        """Organic mentions per millisecond during one UTC hour."""
        rate = self.mention_rate_cache.get(utc_hour)
        if rate is None:
            hour, weekday, _ = _local_clock(self.zone, utc_hour)
            rate = (self.org.mentions_per_day * self.scale * self.hourly[hour]
                    * self.weekly[weekday] / _MS_HOUR)
            if len(self.mention_rate_cache) > 4096:
                self.mention_rate_cache.clear()
            self.mention_rate_cache[utc_hour] = rate
        return rate

    def _post_rate(self, utc_hour: int) -> float:
        rate = self.post_rate_cache.get(utc_hour)
        if rate is None:
            hour, weekday, _ = _local_clock(self.zone, utc_hour)
            weekend = 0.35 if weekday >= 5 and self.org.kind in ("municipality",
                                                                 "university") else 1.0
            rate = self.org.posts_per_day * self.scale * self.post_hourly[hour] * weekend / _MS_HOUR
            if len(self.post_rate_cache) > 4096:
                self.post_rate_cache.clear()
            self.post_rate_cache[utc_hour] = rate
        return rate

    def _next_arrival(self, t: float, rate_of: Callable[[int], float]) -> float:
        """The next arrival of a Poisson process whose rate is constant within each hour."""
        expovariate = self.rng.expovariate
        while True:
            hour = int(t // _MS_HOUR)
            rate = rate_of(hour)
            boundary = (hour + 1) * _MS_HOUR
            if rate > 0:
                arrival = t + expovariate(rate)
                if arrival < boundary:
                    return arrival
            t = float(boundary)

    def _complaints_per_minute(self, t: float) -> float:
        hour, weekday, _ = _local_clock(self.zone, int(t // _MS_HOUR))
        return (self.org.mentions_per_day * self.scale * self.hourly[hour] * self.weekly[weekday]
                * self.org.complaint_share / 60.0)

    # choices ----------------------------------------------------------------------------

    def _pick(self, names: Sequence[str], cumulative: Sequence[float]) -> str:
        return names[bisect_right(cumulative, self.rng.random())]

    def _author(self) -> tuple[dict[str, Any], int, str]:
        rng = self.rng
        r = rng.random()
        if r < _INFLUENCER_SHARE:
            inf = self.influencers[int(rng.random() * len(self.influencers))]
            author: dict[str, Any] = {"id": f"i{inf.handle}", "handle": inf.handle,
                                      "followers": inf.followers}
            if inf.verified:
                author["verified"] = True
            return author, inf.followers, inf.handle
        if r < 0.25:
            n = _GLOBAL_AUTHORS + int(self.shared_pool * rng.random() ** 3.0)
        else:
            n = self.community_base + int(self.community * rng.random() ** 3.0)
        return self.authors.get(n)

    def _lang(self) -> str:
        return "en" if self.rng.random() < self.org.en_share else "nl"

    def _org_ref(self, platform: str, lang: str) -> str:
        rng = self.rng
        if platform == "twitter" and rng.random() < 0.6:
            official = self.org.official("twitter")
            if official is not None:
                return "@" + official.handle
        refs = self.org.refs[lang]
        return refs[int(rng.random() * len(refs))]

    def _fill(self, templates: Sequence[Template], platform: str, lang: str) -> str:
        rng = self.rng
        text, fields = templates[int(rng.random() * len(templates))]
        if fields:
            slots = self.slots[lang]
            values = {}
            for name in fields:
                if name == "org":
                    values[name] = self._org_ref(platform, lang)
                else:
                    options = slots[name]
                    values[name] = options[int(rng.random() * len(options))]
            text = text.format_map(values)
        if text[0].islower():
            text = text[0].upper() + text[1:]
        return text

    def _decorate(self, text: str, category: str, lang: str) -> str:
        """Typos, emoji, hashtags and shouting, as people write."""
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            text = _typo(rng, text)
        elif r < 0.14 and lang == "nl":
            wrong, slip = DUTCH_SLIPS[int(rng.random() * len(DUTCH_SLIPS))]
            text = text.replace(wrong, slip, 1)
        r = rng.random()
        if category == "complaint":
            if r < 0.3:
                text = f"{text} {ANGRY[int(rng.random() * len(ANGRY))]}"
            elif r < 0.34:
                text = text.upper()
            elif r < 0.4:
                text = f"{text} #fail" if lang == "en" else f"{text} #klantenservice"
        elif category == "praise":
            if r < 0.5:
                text = f"{text} {HAPPY[int(rng.random() * len(HAPPY))]}"
        elif r < 0.15:
            text = f"{text} {NEUTRAL[int(rng.random() * len(NEUTRAL))]}"
        return text

    def _event_id(self, platform: str) -> str:
        self.emitted += 1
        return f"{PLATFORM_CODES[platform]}{self.id_prefix}{self.emitted}"

    def _created_at(self, t: float, platform: str) -> str:
        ms = int(t)
        if platform == "facebook":   # this collector reports the local clock with its offset
            _, _, offset = _local_clock(self.zone, ms // _MS_HOUR)
            return _stamp_local(ms, offset)
        return _stamp(ms)

    # mentions ---------------------------------------------------------------------------------

    def _organic_mention(self, t: float, _: Any) -> bytes | None:
        self._at(self._next_arrival(t, self._mention_rate), self._organic_mention, None)
        rng = self.rng
        platform = self._pick(self.platform_names, self.platform_cum)
        kinds, cumulative = self.kind_choices[platform]
        kind = self._pick(kinds, cumulative)
        in_reply_to: _Mentioned | None = None
        if kind in ("reply", "comment"):
            recent = self.recent_posts[platform]
            if recent:
                in_reply_to = recent[int(rng.random() * len(recent))]
            else:
                kind = "mention"
        category = self._category(kind)
        lang = self._lang()
        if (in_reply_to is not None and in_reply_to.lang == "nl" and lang == "en"
                and rng.random() < 0.7):
            lang = "nl"
        return self._mention(t, platform, kind, category, lang, None, in_reply_to, None)

    def _category(self, kind: str) -> str:
        r = self.rng.random()
        if kind == "direct":
            return "complaint" if r < 0.55 else "question" if r < 0.95 else "praise"
        if kind == "review":
            return "complaint" if r < 0.45 else "praise" if r < 0.9 else "chatter"
        complaint = self.org.complaint_share * (0.8 if kind in ("reply", "comment") else 1.0)
        if r < complaint:
            return "complaint"
        if r < complaint + 0.25:
            return "question"
        if r < complaint + 0.4:
            return "praise"
        return "chatter"

    def _mention(self, t: float, platform: str, kind: str, category: str, lang: str,
                 text: str | None, in_reply_to: _Mentioned | None,
                 author: tuple[dict[str, Any], int, str] | None, *, surge: bool = False,
                 conversation: int = 0) -> bytes:
        rng = self.rng
        if author is None:
            author = self._author()
        author_doc, followers, handle = author
        if text is None:
            text = self._fill(_templates(self.org.kind, lang, category), platform, lang)
            text = self._decorate(text, category, lang)
        event_id = self._event_id(platform)
        doc: dict[str, Any] = {
            "type": "mention", "event_id": event_id, "org_id": self.org.id,
            "platform": platform, "created_at": self._created_at(t, platform),
            "author": author_doc,
        }
        if kind != "mention" or rng.random() < 0.5:
            doc["kind"] = kind
        doc["text"] = text
        r = rng.random()
        if r < 0.75:
            doc["lang"] = lang
        elif r < 0.8:
            doc["lang"] = "nl-NL" if lang == "nl" else "en-GB"
        if in_reply_to is not None:
            doc["in_reply_to"] = in_reply_to.event_id
        if kind == "review":
            stars = (rng.choice((1, 1, 2)) if category == "complaint" else
                     rng.choice((4, 5, 5)) if category == "praise" else 3)
            doc["rating"] = stars                      # an extra field this collector adds
            doc["sentiment"] = _STARS_SENTIMENT[stars]
        else:
            r = rng.random()
            if r < 0.04:                               # a collector that labels complaints
                doc["complaint"] = category == "complaint"
            elif r < 0.06:
                doc["sentiment"] = _category_sentiment(rng, category)
        line = orjson.dumps(doc)
        mentioned = _Mentioned(event_id, platform, handle, followers, lang, category, text,
                               conversation=conversation, author=author)
        self._maybe_answer(t, kind, mentioned, in_reply_to, surge)
        self._cascade(t, mentioned, 2.0 if surge else _CATEGORY_SHARES[category])
        return line

    # answers ------------------------------------------------------------------------------------

    def _maybe_answer(self, t: float, kind: str, mentioned: _Mentioned,
                      in_reply_to: _Mentioned | None, surge: bool) -> None:
        org, rng = self.org, self.rng
        if org.responsiveness <= 0 or kind == "share":
            return
        if rng.random() >= org.responsiveness:
            return
        reply_at = self._held(self._reply_time(t, surge))
        owner = in_reply_to.owner if in_reply_to is not None else None
        self._at(reply_at, self._reply, (mentioned, owner, False))
        if rng.random() < 0.08:   # a second answer later on: the first one still counts
            later = self.webcare.advance(reply_at, rng.lognormvariate(math.log(3 * _MS_HOUR), 0.8))
            self._at(self._held(later), self._reply, (mentioned, owner, True))

    def _held(self, reply_at: float) -> float:
        """When an answer due at `reply_at` goes out: later while the desk is away (a planned
        backlog); what it would have answered then waits, and is worked off in the same
        order, four times as fast, once it is back."""
        for backlog in self.backlogs:
            if backlog.start_ms <= reply_at < backlog.end_ms:
                return self.webcare.advance(float(backlog.end_ms),
                                            (reply_at - backlog.start_ms) / 4)
        return reply_at

    def _reply_time(self, t: float, surge: bool) -> float:
        """When the org answers: a service time counted in its staffed hours only, slower
        in the first hour of the day, at lunch, in the evening and at night."""
        rng = self.rng
        hour, _, _ = _local_clock(self.zone, int(t // _MS_HOUR))
        factor = _HOUR_SLOWNESS[hour] * (3.0 if surge else 1.0)
        service = rng.lognormvariate(math.log(self.org.reply_minutes * 60.0 * factor), 0.75)
        service = max(20.0, min(service, 5 * 86_400.0))
        return self.webcare.advance(t, service * 1000.0)

    def _responder(self, t: float, platform: str, owner: Account | None) -> Account | None:
        rng = self.rng
        if owner is not None and owner.role == "employee" and owner.platform == platform:
            for account, hours in self.duty:
                if account is owner and rng.random() < 0.85 and hours.is_open(t):
                    return account
        if platform == "twitter" and self.duty and rng.random() < self.org.employee_share:
            start = int(rng.random() * len(self.duty))
            for i in range(len(self.duty)):
                account, hours = self.duty[(start + i) % len(self.duty)]
                if hours.is_open(t):
                    return account
        return self.org.official(platform)

    def _reply(self, t: float, arg: tuple[_Mentioned, Account | None, bool]) -> bytes | None:
        mentioned, owner, second = arg
        rng = self.rng
        account = self._responder(t, mentioned.platform, owner)
        if account is None:
            return None
        lang = mentioned.lang
        name = f"@{mentioned.handle}" if mentioned.platform == "twitter" else mentioned.handle
        if second:
            text = ("Update: het zou nu opgelost moeten zijn. Laat je het weten als het nog niet "
                    "werkt?" if lang == "nl" else "Update: this should be fixed now. Let us know.")
        else:
            options = REPLIES[lang][mentioned.category]
            text = options[int(rng.random() * len(options))].format(
                name=name, url=self.urls[int(rng.random() * len(self.urls))])
            if account.role == "official" and rng.random() < 0.7:
                text = f"{text} ^{INITIALS[(self.org.no + rng.randrange(4)) % len(INITIALS)]}"
        event_id = self._event_id(mentioned.platform)
        line = self._post_line(t, event_id, account, "reply", mentioned.event_id, text)
        if not second and mentioned.conversation < 2 and rng.random() < 0.15:
            thread = _Mentioned(event_id, mentioned.platform, account.handle, account.followers,
                                lang, mentioned.category, text, owner=account,
                                conversation=mentioned.conversation + 1)
            still = mentioned.category == "complaint" and rng.random() < 0.45
            self._at(t + rng.lognormvariate(math.log(20 * 60_000), 1.0), self._follow_up,
                     (thread, mentioned.author, still))
        return line

    def _follow_up(self, t: float,
                   arg: tuple[_Mentioned, tuple[dict[str, Any], int, str] | None, bool],
                   ) -> bytes | None:
        """The author answers the organisation's reply: thanks, or it is still not fixed."""
        thread, author, still = arg
        options = FOLLOW_UPS[thread.lang]["still" if still else "thanks"]
        text = options[int(self.rng.random() * len(options))]
        kind = "reply" if thread.platform == "twitter" else "comment"
        return self._mention(t, thread.platform, kind, "complaint" if still else "praise",
                             thread.lang, text, thread, author, conversation=thread.conversation)

    # posts -------------------------------------------------------------------------------------

    def _post_line(self, t: float, event_id: str, account: Account, kind: str,
                   in_reply_to: str | None, text: str) -> bytes:
        rng = self.rng
        doc: dict[str, Any] = {"type": "post", "event_id": event_id}
        if rng.random() < 0.5:
            doc["org_id"] = self.org.id
        doc["platform"] = account.platform
        doc["created_at"] = self._created_at(t, account.platform)
        acc: dict[str, Any] = {"id": account.id, "handle": account.handle,
                               "followers": account.followers}
        if rng.random() < 0.5:
            acc["role"] = account.role
        doc["account"] = acc
        doc["kind"] = kind
        if in_reply_to is not None:
            doc["in_reply_to"] = in_reply_to
        doc["text"] = text
        return orjson.dumps(doc)

    def _organic_post(self, t: float, _: Any) -> bytes | None:
        self._at(self._next_arrival(t, self._post_rate), self._organic_post, None)
        rng = self.rng
        org = self.org
        if self.journalists and rng.random() < 0.6:
            account = self.journalists[int(rng.random() * len(self.journalists))]
            headline = HEADLINES[int(rng.random() * len(HEADLINES))].format(town=org.town)
            text = JOURNALIST_POSTS[int(rng.random() * len(JOURNALIST_POSTS))].format(
                headline=headline, url=self.urls[0] + f"/{rng.randrange(10_000, 99_999)}")
            lang = "nl"
        else:
            platform = self._pick(self.platform_names, self.platform_cum)
            official = org.official(platform) or org.official("twitter")
            if official is None:
                return None
            account = official
            lang = "en" if rng.random() < org.en_share * 0.5 else "nl"
            news = self.slots[lang]["news"]
            item = news[int(rng.random() * len(news))]
            template = POSTS[lang][int(rng.random() * len(POSTS[lang]))]
            text = template.format(News=item[0].upper() + item[1:], news=item,
                                   url=self.urls[int(rng.random() * len(self.urls))])
        return self._own_post(t, account, text, lang, "post")

    def _own_post(self, t: float, account: Account, text: str, lang: str, kind: str) -> bytes:
        event_id = self._event_id(account.platform)
        line = self._post_line(t, event_id, account, kind, None, text)
        post = _Mentioned(event_id, account.platform, account.handle, account.followers, lang,
                          "chatter", text, owner=account)
        self.recent_posts[account.platform].append(post)
        self._cascade(t, post, 1.3)
        return line

    # shares --------------------------------------------------------------------------------------

    def _cascade(self, t: float, source: _Mentioned, appeal: float) -> None:
        """Schedule the shares of `source`: more for authors with more followers."""
        rng = self.rng
        expected = _SHARE_BASE * appeal * (1.0 + source.followers / 1000.0) ** _SHARE_EXPONENT
        if source.depth:
            expected *= 0.6
        if expected < 0.1:   # Poisson for a small mean: nearly always 0 or 1
            if rng.random() >= expected:
                return
            count = 1
        else:
            count = _poisson(rng, expected)
        if not count:
            return
        cascade = source.cascade if source.cascade is not None else [0]
        median = 25 * 60_000 if source.depth == 0 else 12 * 60_000
        for _ in range(count):
            if cascade[0] >= _MAX_CASCADE or source.depth >= 8:
                return
            cascade[0] += 1
            delay = min(3 * _MS_DAY, max(5_000.0, rng.lognormvariate(math.log(median), 1.1)))
            self._at(t + delay, self._share, (source, cascade))

    def _share(self, t: float, arg: tuple[_Mentioned, list[int]]) -> bytes | None:
        source, cascade = arg
        rng = self.rng
        author_doc, followers, handle = self._author()
        platform = source.platform
        event_id = self._event_id(platform)
        doc: dict[str, Any] = {
            "type": "mention", "event_id": event_id, "org_id": self.org.id,
            "platform": platform, "created_at": self._created_at(t, platform),
            "author": author_doc, "kind": "share", "shared_from": source.event_id,
        }
        if rng.random() < 0.35:
            doc["text"] = SHARE_TEXTS[int(rng.random() * len(SHARE_TEXTS))]
        line = orjson.dumps(doc)
        share = _Mentioned(event_id, platform, handle, followers, source.lang, source.category,
                           None, depth=source.depth + 1, cascade=cascade)
        self._cascade(t, share, 1.0)
        return line

    # surges ---------------------------------------------------------------------------------------

    def _schedule_surge(self, t: float) -> None:
        """The next complaint surge after `t`, more likely when people are awake."""
        rng = self.rng
        rate = self.org.surges_per_day / _MS_DAY
        if rate <= 0:
            return
        peak = max(self.hourly)
        while True:
            t += rng.expovariate(rate)
            hour, _, _ = _local_clock(self.zone, int(t // _MS_HOUR))
            if rng.random() < self.hourly[hour] / peak:
                break
            if self.end_ms is not None and t >= self.end_ms:
                return
        minutes = rng.uniform(20.0, 90.0)
        end = t + minutes * 60_000
        if self.end_ms is not None and end > self.end_ms:
            return
        self._at(t, self._surge, (t, end))

    def _surge(self, t: float, arg: tuple[float, float]) -> bytes | None:
        start, end = arg
        rng = self.rng
        org = self.org
        cause = self.traits.causes[int(rng.random() * len(self.traits.causes))]
        multiple = rng.uniform(5.0, 12.0)
        rate = max(multiple * self.peak_complaints, _SURGE_FLOOR_PER_MINUTE)
        minutes = (end - start) / 60_000
        count = _poisson(rng, rate * minutes)
        times = sorted(start + (end - start) * rng.random() ** 1.3 for _ in range(count))
        times = [x for x in times if start <= x < end]
        self._schedule_surge(end)
        if not times:
            return None
        if self.on_surge is not None:
            self.on_surge(Surge(org.id, int(start), int(end), len(times), cause, rate,
                                self._complaints_per_minute(start)))
        for i, when in enumerate(times):
            self._at(when, self._surge_mention, (cause, i == 0))
        official = org.official("twitter") or org.official(self.platform_names[0])
        if org.responsiveness > 0 and official is not None:
            # The organisation notices, says so, and says so again when it is over.
            text = SURGES[cause]["statement"][0].format(town=org.town)
            self._at(start + rng.uniform(5, 25) * 60_000, self._statement, (official, text))
            text = SURGES[cause]["resolved"][0].format(town=org.town)
            self._at(end + rng.uniform(5, 60) * 60_000, self._statement, (official, text))
        return None

    def _planned_surge(self, t: float, surge: PlannedSurge) -> bytes | None:
        """A surge at a time and rate asked for: spread evenly over its window (a random
        one front-loads), with the organisation's statements as for a random one; it
        leaves the random surges' schedule alone."""
        start, end = float(surge.start_ms), surge.start_ms + surge.minutes * 60_000
        rng = self.rng
        org = self.org
        cause = self.traits.causes[int(rng.random() * len(self.traits.causes))]
        count = _poisson(rng, surge.per_minute * surge.minutes)
        times = sorted(start + (end - start) * rng.random() for _ in range(count))
        if self.end_ms is not None:
            times = [x for x in times if x < self.end_ms]
        if not times:
            return None
        if self.on_surge is not None:
            self.on_surge(Surge(org.id, int(start), int(end), len(times), cause,
                                surge.per_minute, self._complaints_per_minute(start)))
        for i, when in enumerate(times):
            self._at(when, self._surge_mention, (cause, i == 0))
        official = org.official("twitter") or org.official(self.platform_names[0])
        if org.responsiveness > 0 and official is not None:
            text = SURGES[cause]["statement"][0].format(town=org.town)
            self._at(start + rng.uniform(5, 25) * 60_000, self._statement, (official, text))
            text = SURGES[cause]["resolved"][0].format(town=org.town)
            self._at(end + rng.uniform(5, 60) * 60_000, self._statement, (official, text))
        return None

    def _surge_mention(self, t: float, arg: tuple[str, bool]) -> bytes | None:
        cause, first = arg
        rng = self.rng
        platform = self._pick(self.platform_names, self.platform_cum)
        if platform == "web":
            platform = "twitter"
        lang = self._lang()
        author = None
        if first:    # the one that goes viral: a well-followed account starts it
            inf = self.influencers[int(rng.random() * len(self.influencers))]
            doc: dict[str, Any] = {"id": f"i{inf.handle}", "handle": inf.handle,
                                   "followers": inf.followers}
            if inf.verified:
                doc["verified"] = True
            author = (doc, inf.followers, inf.handle)
        text = self._fill(_surge_templates(cause, lang), platform, lang)
        text = self._decorate(text, "complaint", lang)
        kind = "mention"
        in_reply_to = None
        recent = self.recent_posts[platform]
        if recent and rng.random() < 0.3:
            in_reply_to = recent[-1]
            kind = "reply" if platform == "twitter" else "comment"
        return self._mention(t, platform, kind, "complaint", lang, text, in_reply_to, author,
                             surge=True)

    def _statement(self, t: float, arg: tuple[Account, str]) -> bytes | None:
        account, text = arg
        return self._own_post(t, account, text, "nl", "post")


_CATEGORY_SHARES = {"complaint": 1.0, "question": 0.15, "praise": 0.5, "chatter": 0.7}
_HOUR_SLOWNESS = (3.0, 3.0, 3.0, 3.0, 3.0, 2.5, 2.0, 1.6, 1.5, 1.1, 1.0, 1.0,
                  1.4, 1.3, 1.0, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0, 2.5)


def _cumulative(weights: Any) -> tuple[float, ...]:
    values = list(weights)
    total = sum(values)
    out, acc = [], 0.0
    for w in values:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return tuple(out)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _category_sentiment(rng: random.Random, category: str) -> float:
    centre = {"complaint": -0.6, "question": 0.0, "praise": 0.7, "chatter": 0.1}[category]
    return round(max(-1.0, min(1.0, rng.gauss(centre, 0.15))), 2)


def _typo(rng: random.Random, text: str) -> str:
    """One slip of the thumb: two letters swapped, one dropped or one doubled."""
    if len(text) < 8:
        return text
    i = rng.randrange(1, len(text) - 2)
    a, b = text[i], text[i + 1]
    if not (a.isalpha() and b.isalpha()):
        return text
    r = rng.random()
    if r < 0.4:
        return text[:i] + b + a + text[i + 2:]
    if r < 0.7:
        return text[:i] + text[i + 1:]
    return text[:i] + a + text[i:]


