"""Event files with known contents, for tests and the shipped sample.

The expected counts are known by construction (how many unique valid
mentions and posts were written, how many bad lines of which kind), never by
running the decoder under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ORGS = ("gemeente-zutphen", "bibliotheek-oost", "dagblad-noord", "vliegmaatschappij-x",
        "telecom-west", "museum-aan-zee")
# Accounts listed in examples/roster.yaml: posts from them may omit org_id.
ROSTER_ACCOUNTS = (("twitter", "gemeentezutphen", "gemeente-zutphen"),
                   ("twitter", "marieke_zutphen", "gemeente-zutphen"))

BAD_LINE_KINDS = (
    "broken_json", "missing_field", "mistyped_field", "unknown_type", "bad_timestamp",
    "unknown_account", "huge_text", "invalid_utf8", "not_object", "bad_org_id",
)


@dataclass
class EventFile:
    lines: list[bytes] = field(default_factory=list)
    mentions: set[str] = field(default_factory=set)
    posts: set[str] = field(default_factory=set)
    bad: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    blank: int = 0

    @property
    def dead_letters(self) -> int:
        return sum(self.bad.values())

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(line + b"\n" for line in self.lines))
        return path


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def mention(event_id: str, org: str, t: datetime, rng: random.Random, **extra: object) -> dict:
    doc: dict[str, object] = {
        "type": "mention", "event_id": event_id, "org_id": org,
        "platform": rng.choice(("twitter", "facebook", "instagram")),
        "created_at": _ts(t),
        "author": {"id": f"u{rng.randrange(500)}", "handle": f"user{rng.randrange(500)}",
                   "followers": rng.choice((0, 12, 150, 2300, 98000))},
        "kind": rng.choice(("mention", "mention", "reply", "comment", "direct", "share")),
        "text": rng.choice(("Waarom is het loket dicht?", "Great service today, thanks!",
                            "Al drie weken geen antwoord op mijn klacht.", "Mooi artikel.")),
        "lang": rng.choice(("nl", "en", None)),
    }
    doc.update(extra)
    return doc


def post(event_id: str, org: str | None, t: datetime, rng: random.Random,
         handle: str | None = None, in_reply_to: str | None = None) -> dict:
    doc: dict[str, object] = {
        "type": "post", "event_id": event_id, "platform": "twitter", "created_at": _ts(t),
        "account": {"id": f"acct-{handle or org}", "handle": handle or f"{org}-official",
                    "followers": 5000, "role": "official"},
        "kind": "reply" if in_reply_to else "post",
        "in_reply_to": in_reply_to, "text": "Dank voor uw bericht, we kijken ernaar.",
    }
    if org is not None:
        doc["org_id"] = org
    return doc


def bad_line(kind: str, n: int, t: datetime, rng: random.Random) -> bytes:
    base = mention(f"bad-{kind}-{n}", rng.choice(ORGS), t, rng)
    if kind == "broken_json":
        return orjson.dumps(base)[:-7]
    if kind == "missing_field":
        del base[rng.choice(("event_id", "org_id", "created_at", "author", "platform"))]
    elif kind == "mistyped_field":
        key, value = rng.choice((("author", "someone"), ("created_at", 1767225600),
                                 ("event_id", 42), ("complaint", "yes")))
        base[key] = value
    elif kind == "unknown_type":
        base["type"] = "like"
    elif kind == "bad_timestamp":
        base["created_at"] = rng.choice(("yesterday", "2026-02-30T10:00:00Z",
                                         "2026-03-01T10:00:00"))
    elif kind == "unknown_account":
        return orjson.dumps(post(f"bad-{kind}-{n}", None, t, rng, handle=f"nobody{n}"))
    elif kind == "huge_text":
        base["text"] = "x" * (1024 * 1024)
    elif kind == "invalid_utf8":
        return orjson.dumps(base).replace(b"\"text\":\"", b"\"text\":\"\xff\xfe", 1)
    elif kind == "not_object":
        return b"[1, 2, 3]"
    elif kind == "bad_org_id":
        base["org_id"] = "Gemeente Zutphen!"
    return orjson.dumps(base)


def build(n_events: int, *, seed: int = 1, duplicate_share: float = 0.1,
          bad_per_kind: int = 3, start: datetime | None = None,
          bad_kinds: tuple[str, ...] = BAD_LINE_KINDS) -> EventFile:
    """About `n_events` valid events, `duplicate_share` of them sent twice
    (sometimes with changed content: the first copy wins), and `bad_per_kind`
    lines of each bad kind, shuffled in."""
    rng = random.Random(seed)
    t0 = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    out = EventFile()
    lines: list[bytes] = []
    originals: list[dict] = []
    for i in range(n_events):
        t = t0 + timedelta(seconds=i * 7 + rng.random())
        org = rng.choice(ORGS)
        roll = rng.random()
        if roll < 0.7 or not out.mentions:
            doc = mention(f"m-{seed}-{i}", org, t, rng)
            out.mentions.add(str(doc["event_id"]))
        elif roll < 0.85:
            target = rng.choice(sorted(out.mentions))
            doc = post(f"p-{seed}-{i}", org, t, rng, in_reply_to=target)
            out.posts.add(str(doc["event_id"]))
        else:
            _platform, handle, _owner = rng.choice(ROSTER_ACCOUNTS)
            doc = post(f"p-{seed}-{i}", None, t, rng, handle=handle.upper())
            out.posts.add(str(doc["event_id"]))
        originals.append(doc)
        lines.append(orjson.dumps(doc))
    for doc in rng.sample(originals, int(len(originals) * duplicate_share)):
        copy = dict(doc)
        if rng.random() < 0.5:
            copy["text"] = "changed content, same event_id"
        lines.append(orjson.dumps(copy))
        out.duplicates += 1
    for kind in bad_kinds:
        for n in range(bad_per_kind):
            lines.append(bad_line(kind, n, t0, rng))
            out.bad[kind] = out.bad.get(kind, 0) + 1
    # Duplicates must come after their original: shuffle the originals among
    # themselves, then spread the later copies and bad lines over the tail.
    head, tail = lines[:n_events], lines[n_events:]
    rng.shuffle(head)
    rng.shuffle(tail)
    merged = head[: n_events // 2]
    rest = head[n_events // 2:]
    while rest or tail:
        source = rest if (rest and (not tail or rng.random() < 0.6)) else tail
        merged.append(source.pop())
    merged.insert(len(merged) // 3, b"")
    merged.insert(len(merged) // 2, b"   ")
    out.blank = 2
    out.lines = merged
    return out


# -- conversations: mentions, the organisations' answers, shares -------------

ACCOUNTS = {  # org -> (official handle, employee handles), as in examples/roster.yaml
    "gemeente-zutphen": ("gemeentezutphen", ("marieke_zutphen",)),
}


def conversations(n_mentions: int, *, seed: int = 7, days: int = 10,
                  start: datetime | None = None) -> list[bytes]:
    """Mentions spread over `days`, about 70 % answered by the organisation
    (official or employee account, minutes to days later, some replies sent
    before their mention), some answered by another organisation's account,
    shares of earlier mentions, and complaints. Lines in roughly event order."""
    rng = random.Random(seed)
    t0 = start or datetime(2026, 3, 23, 6, 0, tzinfo=UTC)  # a Monday, spans the DST change
    timed: list[tuple[datetime, bytes]] = []
    texts = ("Waarom is het loket al de hele week dicht?!", "Bedankt voor de snelle hulp!",
             "My flight got cancelled and nobody answers the phone", "Wanneer komt de nieuwe "
             "bibliotheekpas?", "Great article, thanks", "Al drie weken geen reactie op mijn "
             "klacht. Schandalig.", "Is the museum open on Sunday?", "Storing bij het "
             "parkeerloket, niemand neemt op")
    mention_ids: list[tuple[str, str, datetime]] = []
    for i in range(n_mentions):
        t = t0 + timedelta(seconds=rng.uniform(0, days * 86400))
        org = rng.choice(ORGS)
        event_id = f"c{seed}-m{i}"
        kind = rng.choice(("mention", "reply", "comment", "direct", "review", "share"))
        doc = {
            "type": "mention", "event_id": event_id, "org_id": org, "platform": "twitter",
            "created_at": _ts(t), "kind": kind, "text": rng.choice(texts),
            "author": {"id": f"a{rng.randrange(300)}", "handle": f"fan{rng.randrange(300)}",
                       "followers": int(rng.paretovariate(1.2) * 50)},
        }
        if kind == "share" and mention_ids:
            doc["shared_from"] = rng.choice(mention_ids)[0]
        timed.append((t, orjson.dumps(doc)))
        mention_ids.append((event_id, org, t))
        if kind == "share" or rng.random() > 0.75:
            continue
        for r in range(rng.choice((1, 1, 1, 2))):
            delay = timedelta(minutes=rng.choice((3, 20, 45, 90, 400, 1500, 4000, 9000, 12000)))
            replier = org if rng.random() > 0.08 else rng.choice([o for o in ORGS if o != org])
            official, employees = ACCOUNTS.get(replier, (f"{replier}-official", ()))
            handle = rng.choice((official, *employees))
            reply = {
                "type": "post", "event_id": f"{event_id}-r{r}", "platform": "twitter",
                "created_at": _ts(t + delay), "kind": "reply", "in_reply_to": event_id,
                "account": {"id": f"acct-{handle}", "handle": handle, "followers": 4000},
                "text": "Dank voor uw bericht.",
            }
            if replier not in ACCOUNTS:
                reply["org_id"] = replier
            # Now and then the reply is read before the mention it answers.
            when = t - timedelta(seconds=1) if rng.random() < 0.1 else t + delay
            timed.append((when, orjson.dumps(reply)))
    timed.sort(key=lambda pair: pair[0])
    return [line for _, line in timed]
