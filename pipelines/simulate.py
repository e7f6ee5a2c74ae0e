"""A synthetic, deterministic stream of mentions and posts for many client organisations.

`dorpspomp simulate` exists so that the pipeline, the dashboard and the alerting can be
exercised without a collector: dozens of organisations of eight kinds (municipalities,
libraries, newspapers, broadcasters, universities, airlines, telecoms, retailers), each
with its own rhythm of the day and the week, its own audience (heavy-tailed follower
counts, a few influencers), its own way of answering (how fast at which hour, whether
employees answer under their own names, one organisation that never answers), its own
posts, shares and share cascades, and complaint surges injected at random whose ground
truth is written down, so that a surge alert can be checked against what really happened.

Everything is a pure function of the seed and the options: one `random.Random` per
organisation seeded from a string (hashed with SHA-512 by `random`, so hash
randomisation plays no part), no wall clock, no iteration over sets. Each organisation is
a generator of its own events in time order (a small heap of scheduled follow-ups inside);
`World.stream` merges those generators by time with a heap, lazily, so a live stream runs
for hours in flat memory.

The I/O is at the edges: `simulate_to_file` writes `x.jsonl`, `x.roster.yaml` and
`x.surges.jsonl`; `simulate_live` paces the same stream into Kafka in simulated time.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import signal
import sys
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson
import yaml

from pipelines.roster import DAYS, BusinessHours, Roster, parse_roster

__all__ = [
    "KINDS",
    "OrgProfile",
    "SimulationReport",
    "Surge",
    "World",
    "scale_for_events_per_day",
    "simulate_live",
    "simulate_to_file",
    "surges_path_for",
    "world",
]

KINDS = ("municipality", "library", "newspaper", "broadcaster", "university", "airline",
         "telecom", "retailer")

_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
    reply_minutes: float                # median time to answer inside staffed hours
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
        _weekdays("08:30-17:00", "08:30-16:00"), "4h", 150, 0.2, ("letter",), 12_000),
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
        _every_day("07:00-23:00"), "2h", 45, 0.12, ("paper-delivery", "paywall-outage"),
        60_000),
    "broadcaster": KindTraits(
        "media", 0.08, 220, 16, 0.15, 0.05,
        (("twitter", 0.4), ("facebook", 0.3), ("youtube", 0.2), ("instagram", 0.1)),
        (0.5, 0.25, 0.12, 0.08, 0.08, 0.15, 0.4, 0.9, 1.1, 1.0, 0.9, 0.9,
         1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.8, 2.6, 3.0, 2.8, 2.0, 1.1),
        (0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.3),
        {**_weekdays("09:00-22:00"), "sat": "10:00-22:00", "sun": "10:00-22:00"}, "4h", 90,
        0.12, ("stream-outage",), 50_000),
    "university": KindTraits(
        "education", 0.10, 110, 3, 0.16, 0.35,
        (("twitter", 0.35), ("instagram", 0.3), ("linkedin", 0.2), ("facebook", 0.15)),
        (0.3, 0.15, 0.08, 0.05, 0.04, 0.06, 0.2, 0.7, 1.6, 2.2, 2.3, 2.2,
         2.0, 2.1, 2.1, 1.9, 1.5, 1.1, 0.9, 1.0, 1.0, 0.9, 0.7, 0.5),
        (1.2, 1.2, 1.15, 1.1, 0.95, 0.3, 0.35),
        _weekdays("09:00-17:00"), "8h", 240, 0.12, ("enrolment-outage", "timetable-chaos"),
        20_000),
    "airline": KindTraits(
        "travel", 0.08, 800, 4, 0.34, 0.35,
        (("twitter", 0.55), ("facebook", 0.27), ("instagram", 0.1), ("web", 0.08)),
        (0.3, 0.2, 0.15, 0.2, 0.5, 1.2, 2.0, 2.3, 2.1, 1.8, 1.6, 1.5,
         1.5, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 1.9, 1.7, 1.4, 1.0, 0.6),
        (1.0, 0.9, 0.9, 1.0, 1.15, 1.1, 1.1),
        _every_day("00:00-24:00"), "30m", 20, 0.25, ("cancellations", "checkin-outage"),
        150_000),
    "telecom": KindTraits(
        "telecom", 0.10, 650, 3, 0.36, 0.10,
        (("twitter", 0.6), ("facebook", 0.32), ("web", 0.08)),
        (0.4, 0.2, 0.1, 0.07, 0.07, 0.15, 0.4, 0.9, 1.4, 1.6, 1.6, 1.5,
         1.4, 1.5, 1.5, 1.5, 1.6, 1.8, 2.1, 2.5, 2.6, 2.3, 1.6, 0.9),
        (1.05, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05),
        {**_weekdays("08:00-22:00"), "sat": "08:00-22:00", "sun": "10:00-18:00"}, "30m", 12,
        0.35, ("outage",), 80_000),
    "retailer": KindTraits(
        "retail", 0.20, 300, 4, 0.25, 0.10,
        (("twitter", 0.33), ("facebook", 0.33), ("instagram", 0.24), ("web", 0.1)),
        (0.2, 0.1, 0.05, 0.04, 0.04, 0.1, 0.3, 0.8, 1.3, 1.7, 1.9, 2.0,
         2.0, 1.9, 1.9, 1.9, 1.9, 1.9, 1.9, 2.1, 2.1, 1.7, 1.1, 0.5),
        (0.9, 0.9, 0.95, 1.0, 1.1, 1.4, 0.8),
        {**_weekdays("08:00-20:00"), "sat": "08:00-20:00", "sun": "12:00-17:00"}, "1h", 40,
        0.15, ("webshop-outage", "parcel-delivery"), 30_000),
}
# fmt: on

PLATFORM_CODES = {"twitter": "tw", "facebook": "fb", "instagram": "ig", "linkedin": "li",
                  "youtube": "yt", "web": "web"}

# -- names ---------------------------------------------------------------------------

# fmt: off
_TOWNS = (
    "Zwolle", "Deventer", "Zutphen", "Apeldoorn", "Almelo", "Hengelo", "Enschede", "Amersfoort",
    "Leiden", "Delft", "Gouda", "Haarlem", "Alkmaar", "Hoorn", "Leeuwarden", "Assen", "Emmen",
    "Meppel", "Kampen", "Harderwijk", "Ede", "Wageningen", "Tiel", "Culemborg", "Breda",
    "Tilburg", "Oss", "Venlo", "Roermond", "Heerlen", "Middelburg", "Vlissingen", "Goes",
    "Terneuzen", "Dordrecht", "Schiedam", "Zoetermeer", "Hilversum", "Lelystad", "Almere",
    "Purmerend", "Zaanstad", "Den Helder", "Heerenveen", "Hardenberg", "Oldenzaal",
    "Doetinchem", "Winterswijk", "Nijkerk", "Veenendaal", "Woerden", "Nieuwegein", "Houten",
    "Zeist", "Barneveld", "Steenwijk", "Coevorden", "Sneek", "Weert", "Helmond",
)
_REGIONS = (
    "Rivierenland", "Oost-Achterhoek", "Salland", "Twente-West", "Kennemerland", "Veluwezoom",
    "Midden-Brabant", "Noordwest-Veluwe", "De Liemers", "Hoeksche Waard", "Westland",
    "Drechtsteden", "Eemland", "Zaanstreek", "Betuwe", "De Peel", "Vechtdal", "Waterland",
    "Gooi en Vecht", "Kempenland", "Westerkwartier", "IJsselland", "Noord-Drenthe", "Walcheren",
)
_NAME_POOLS: dict[str, tuple[str, ...]] = {
    "newspaper": ("De IJsselbode", "Dagblad Noorderlicht", "De Polderpost", "Leidse Stadskrant",
                  "Veluws Dagblad", "De Kempenaar", "Rivierenland Vandaag", "Westlands Dagblad",
                  "Brabants Avondblad", "Friese Koerier", "De Zeeuwse Stroom",
                  "Twentsch Volksblad", "De Vechtdal Courant", "Het Gooise Nieuws"),
    "broadcaster": ("Omroep IJsselland", "RTV Veluwezoom", "Omroep Kempenland", "Radio Wadden",
                    "RTV Delta-Zuid", "Omroep Rivierenland", "TV Gooi", "Omroep Salland",
                    "RTV Drechtstad", "Omroep Westerkwartier", "Radio Betuwe"),
    "university": ("Hogeschool IJssel-Vecht", "Universiteit Oost-Nederland",
                   "Hogeschool Rivierstad", "Hogeschool De Kempen",
                   "Technische Universiteit Polderland",
                   "Hogeschool Veluwe", "Hogeschool Zeeland-Delta", "Universiteit aan de Maas",
                   "Hogeschool Drechtsteden", "Hogeschool Gooi en Vecht", "Academie Noord"),
    "airline": ("Polderair", "Waddenvlucht", "Tulp Airways", "Noordzee Air", "Oranje Jet",
                "Dijkvlucht", "SkyZeeland", "Molenair", "IJssel Air", "Hollandia Jet"),
    "telecom": ("Glasnet", "Kabelnoord", "Belmaatje", "Dijk Mobiel", "Polder Telecom", "Vezelvast",
                "Netkabel Oost", "Zendmast Mobiel", "Wolk Telecom", "Signaal Plus"),
    "retailer": ("Huismarkt", "Fietsenpaleis", "Bouwhoek", "Kaasenzo", "Drogisterij Klaproos",
                 "Woonwinkel Dekker", "Boekhandel De Vlinder", "Supermarkt Buurtvers",
                 "Elektro Dirkzwager", "Modehuis Veenstra", "Tuincentrum De Linde",
                 "Speelgoed Pluim", "Bakkerij Van Dam", "Sportwinkel Keizer", "Pakjesplein",
                 "Witgoed Wierda", "Meubelhal Noord", "Schoenen Smit"),
}
_FIRST_NAMES = (
    "anna", "jeroen", "sanne", "bram", "lotte", "daan", "fleur", "thijs", "eva", "ruben", "iris",
    "joost", "femke", "niels", "marieke", "sem", "lisa", "tim", "noor", "lars", "esther", "bas",
    "anouk", "wouter", "ilse", "koen", "fatima", "mohamed", "yara", "sven", "emma", "luuk",
    "sophie", "pieter", "karin", "hans", "ingrid", "gerrit", "wilma", "kees", "mila", "finn",
    "julia", "stijn", "roos", "max", "zeynep", "mark", "linda", "peter", "tom", "kim", "jan",
    "els", "ahmed", "priya", "james", "sarah", "david", "laura",
)
_SURNAMES = (
    "devries", "jansen", "bakker", "visser", "smit", "meijer", "dejong", "mulder", "degroot",
    "bos", "vos", "peters", "hendriks", "vandijk", "dekker", "brouwer", "vanleeuwen", "dijkstra",
    "kok", "jacobs", "vermeulen", "vandenberg", "schouten", "willems", "hoekstra", "koster",
    "prins", "huisman", "postma", "kuipers", "yilmaz", "elamrani", "bouzid", "wang", "smith",
)
_INFLUENCER_HANDLES = (
    "lisavlogt", "meneerweer", "reisjuf", "techtante", "voetbalvincent", "kookmetkim",
    "fietsfreek", "moedervandrie", "politiekpieter", "tvkenner", "studentjoost", "bibliofielbo",
    "dewegwijzer", "consumentenclaire", "grachtengids", "dataduif", "treinteun", "buurtbas",
    "regiorapport", "wonenmetwendy", "geldgids", "spottermarco", "klusjesklaas", "modemaud",
)
_INITIALS = ("MK", "JB", "SV", "LD", "RH", "AT", "EP", "NW", "FK", "YB", "CG", "DM")
# fmt: on


def _slug(text: str) -> str:
    table = str.maketrans("áàâäéèêëíìîïóòôöúùûüç", "aaaaeeeeiiiioooouuuuc")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower().translate(table)).strip("-")
    return slug or "org"


# -- what people write ------------------------------------------------------------------
# Templates × slots. `{org}` is how the author refers to the organisation (a handle on
# Twitter, a name elsewhere); the other slots come from the organisation's vocabulary.
# fmt: off

_COMMON_SLOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "dur": ("drie dagen", "een week", "twee weken", "vier dagen", "een maand", "zes weken",
                "anderhalve week", "10 dagen", "2 weken", "vijf dagen"),
        "n": ("3", "4", "5", "6", "7", "8", "10", "12"),
        "mins": ("20", "35", "40", "45", "50", "90"),
        "day": ("gisteren", "vanochtend", "vandaag", "afgelopen weekend", "vrijdag", "maandag",
                "vanmiddag", "dinsdag"),
        "amount": ("80", "120", "145", "212", "96"),
    },
    "en": {
        "dur": ("three days", "a week", "two weeks", "four days", "a month", "10 days",
                "2 weeks", "five days"),
        "n": ("3", "4", "5", "6", "8", "10"),
        "mins": ("20", "35", "45", "50", "90"),
        "day": ("yesterday", "this morning", "today", "last weekend", "friday", "monday"),
        "amount": ("80", "120", "145", "212"),
    },
}

_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "complaint": (
            "{org} {thing} werkt nog steeds niet. Al {dur} aan het wachten.",
            "Waarom reageert {org} niet? Ik heb nu {n} keer gebeld over {thing}.",
            "Al {dur} gedoe met {thing} en nog steeds geen reactie van {org}",
            "Dit is toch niet normaal {org}, {thing} is weer kapot",
            "Wederom gaat het mis met {thing}. Ik ben er klaar mee.",
            "Ik wacht nu {dur} op antwoord over {thing}. Belachelijk.",
            "Hoe lang nog {org}? Het probleem met {thing} is nog steeds niet opgelost",
            "Van het kastje naar de muur gestuurd over {thing}. Lekker geregeld {org}",
            "{org} kan iemand mij uitleggen waarom {thing} {day} weer niet ging?",
            "Schandalig hoe {org} met mensen omgaat. Al {dur} niks gehoord over {thing}.",
            "Voor de zoveelste keer gaat {thing} mis. Graag een oplossing {org}",
            "Geen excuses, geen uitleg, niks. {org} laat {thing} gewoon liggen.",
            "Heel teleurgesteld in {org}. {day} was {thing} alweer een drama",
            "Hoezo duurt {thing} {dur}?? {org}",
            "{n} keer gemaild over {thing}, geen antwoord. Wat is er aan de hand {org}?",
            "Mooi werk weer {org}, {thing} is {day} compleet in de soep gelopen",
            "{org} jullie klantenservice is onbereikbaar en {thing} is nog altijd niet geregeld",
            "Sorry maar dit kan echt niet. {thing} is al {dur} een probleem en {org} doet niks",
            "Drie kwartier in de rij bij {org} en toen bleek {thing} dicht. Dank je de koekoek.",
            "Ik heb het opgegeven met {thing}. {org} succes ermee.",
            "Nou {org}, {thing} is ook weer een verhaal apart",
        ),
        "question": (
            "Hoi {org}, tot hoe laat kan ik vandaag terecht voor {q}?",
            "Weet iemand of je {q} ook online kunt regelen bij {org}?",
            "Vraagje aan {org}: hoe werkt het met {q}?",
            "{org} waar vind ik meer informatie over {q}?",
            "Kan ik {q} ook op zaterdag regelen?",
            "Heeft iemand ervaring met {q} bij {org}?",
            "Beste {org}, wat is de handigste manier om {q} te regelen?",
            "Mag ik {q} ook via de app regelen {org}?",
            "Hallo {org}, is er iemand die mij kan helpen met {q}?",
            "Waarom is {org} op maandagochtend eigenlijk dicht? Gewoon benieuwd",
            "Hoe lang duurt {q} ongeveer bij {org}?",
            "Is {thing} vandaag ook kapot of ligt het aan mij?",
        ),
        "praise": (
            "Dank voor de snelle hulp {org}!",
            "Complimenten aan {org}, {thing} was super geregeld",
            "Petje af voor de medewerkers van {org} vandaag",
            "Goed geholpen door {org}, top!",
            "{org} bedankt, het probleem met {thing} is netjes opgelost",
            "Eerlijk is eerlijk, {thing} bij {org} gaat de laatste tijd prima",
            "Wat een vriendelijke mensen bij {org}. Fijne ervaring.",
            "Hulde aan {org} voor {thing}",
            "Had het niet verwacht, maar {thing} was echt snel geregeld. Dank {org}",
            "Eindelijk eens goed nieuws: {thing} werkt weer prima",
        ),
        "chatter": (
            "Net gelezen dat {news}.",
            "Morgen even langs bij {org} voor {q}.",
            "Interessant, las net dat {news}",
            "Wist je dat {news}?",
            "Wie gaat er ook naar {event}?",
            "Zag {org} {day} nog voorbijkomen op tv",
            "Iemand anders ook {day} bij {org} geweest?",
            "Op de site van {org} staat dat {news}",
            "Houd rekening met drukte bij {org} deze week",
            "Wat een noodweer {day}, sterkte aan iedereen bij {org} die moest werken",
            "Zit nu bij {org} te wachten, lekker rustig hier",
            "Storm vannacht, bomen om bij {town}. Sterkte allemaal",
            "Niet normaal hoe druk het was bij {event}!",
            "Heel {town} staat vast door een ongeluk op de A28, houd rekening met vertraging",
            "Mijn oma is 95 geworden en {org} stuurde een kaartje. Zo lief",
        ),
    },
    "en": {
        "complaint": (
            "{org} {thing} is still not working. It has been {dur} now.",
            "Still waiting for a reply about {thing}, {org}. This is unacceptable.",
            "Why is {thing} broken again? Third time this month {org}",
            "{org} please sort it out, {thing} has been down since {day}",
            "Worst service ever from {org}. Nobody answers about {thing}.",
            "Been on hold for {mins} minutes about {thing}. Seriously {org}?",
            "Really disappointed with {org}, {thing} was a mess {day}",
            "I want my money back for {thing}. No response from {org} at all.",
            "{n} emails about {thing} and not heard back. What is going on {org}?",
            "Honestly {org}, {thing} is a joke.",
            "Gave up on {thing}. Good luck {org}.",
        ),
        "question": (
            "Does anyone know if {q} can be sorted online with {org}?",
            "Quick question {org}: where can I find info about {q}?",
            "Hi {org}, can I arrange {q} on a Saturday?",
            "Has anyone done {q} with {org} recently?",
            "{org} what time can I come in for {q}?",
            "Why is {org} closed on Monday mornings? Just curious",
        ),
        "praise": (
            "Thanks {org}, {thing} was sorted in no time",
            "Great job {org}, really impressed with {thing}",
            "Kudos to the team at {org} today",
            "Shoutout to {org} for the friendly help",
            "No complaints about {thing} at {org}, well done",
        ),
        "chatter": (
            "Just read that {news}.",
            "Heading to {org} later for {q}",
            "Interesting piece by {org} today",
            "Anyone else going to {event} this week?",
            "Rain all day, hope the people at {org} stay dry",
            "Can't believe how busy {event} was, amazing!",
            "Terrible traffic near {town} this morning, glad no one was hurt",
        ),
    },
}

# Per kind: things people complain or talk about, questions, news, events; and a few
# complaints only that kind gets.
_KIND_SLOTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "municipality": {
        "nl": {
            "thing": ("de vuilnisophaal", "de groene container", "het loket",
                      "mijn paspoortaanvraag", "de parkeervergunning", "de WOZ-beschikking",
                      "de milieustraat",
                      "de straatverlichting bij ons", "mijn afspraak voor een rijbewijs",
                      "de melding over de losse stoeptegels", "de subsidieaanvraag",
                      "de bouwvergunning", "het kapotte bankje in het park", "de afvalpas"),
            "q": ("een parkeervergunning", "een nieuw paspoort", "een uittreksel",
                  "de afvalkalender", "een evenementenvergunning", "een grofvuilafspraak",
                  "het ophalen van mijn rijbewijs"),
            "news": ("de gemeente een nieuw zwembad wil bouwen",
                     "de Markt volgend jaar op de schop gaat",
                     "er extra fietsparkeerplekken bij het station komen",
                     "de raad vanavond over de begroting praat",
                     "de afvalstoffenheffing omhoog gaat",
                     "er een nieuwe woonwijk komt aan de rand van de stad"),
            "event": ("de raadsvergadering", "het inloopspreekuur", "de bewonersavond",
                      "de koningsdagmarkt"),
            "complaint": (
                "Container is {day} weer niet geleegd. Al {dur} staat hij vol. {org} doe er wat "
                "aan",
                "Drie keer gemeld dat de lantaarnpaal kapot is, nog steeds donker in de straat "
                "{org}",
                "Al {dur} wachten op een afspraak bij het loket van {org}. Hoe kan dit?",
            ),
        },
        "en": {
            "thing": ("the bin collection", "my passport application", "the parking permit",
                      "the street lights on our road", "the recycling centre",
                      "my appointment at the town hall", "the broken pavement"),
            "q": ("a parking permit", "a new passport", "registering my address",
                  "the waste calendar", "an event permit"),
            "news": ("the council is planning a new swimming pool",
                     "there will be more bike parking at the station",
                     "the council votes on the budget tonight"),
            "event": ("the council meeting", "the residents evening"),
            "complaint": ("Bins not collected again {org}. Third week in a row.",),
        },
    },
    "library": {
        "nl": {
            "thing": ("de bieb-app", "mijn reservering", "het inleverapparaat",
                      "de wifi in de bieb", "mijn bibliotheekpas", "de e-books",
                      "de boete voor mijn boeken",
                      "de studieplekken", "de printer in de bieb", "het verlengen van mijn boeken"),
            "q": ("een nieuwe bibliotheekpas", "het verlengen van boeken", "een studieplek",
                  "de leesclub", "de taalcafé-avond", "een jeugdabonnement"),
            "news": ("de bieb op zondag open gaat", "er een nieuwe leesclub start",
                     "het taalcafé weer begint", "de bibliotheek een makerspace opent"),
            "event": ("de boekenmarkt", "de voorleesochtend", "de schrijversavond"),
            "complaint": (
                "Boete gekregen terwijl ik mijn boeken op tijd heb ingeleverd. {org} hoe kan dat?",
                "Bieb-app logt me steeds uit, onbruikbaar zo {org}",
            ),
        },
        "en": {
            "thing": ("the library app", "my reservation", "the return machine",
                      "the wifi at the library", "my library card", "the e-books"),
            "q": ("a new library card", "renewing my books", "a study desk", "the reading club"),
            "news": ("the library is opening on Sundays", "a new reading club starts next week"),
            "event": ("the book sale", "the author evening"),
            "complaint": ("The library app keeps logging me out {org}. Useless.",),
        },
    },
    "newspaper": {
        "nl": {
            "thing": ("de bezorging van de krant", "de krant van vanochtend", "de nieuws-app",
                      "mijn abonnement", "de paywall", "de puzzelpagina", "de digitale krant",
                      "de opzegging van mijn abonnement"),
            "q": ("een vakantiestop", "een proefabonnement", "een adreswijziging",
                  "de digitale krant"),
            "news": ("de krant een nieuwe hoofdredacteur heeft",
                     "er een stuk over de woningnood in de regio is verschenen",
                     "de krant een podcast over de gemeenteraad start"),
            "event": ("de lezersavond", "het debat in de schouwburg"),
            "complaint": (
                "Vanochtend weer geen krant in de bus. Derde keer deze week {org}",
                "Wat een eenzijdig artikel weer van {org}",
                "Opzeggen kan alleen telefonisch en daar nemen ze niet op. {org} serieus?",
            ),
        },
        "en": {
            "thing": ("the paper delivery", "the news app", "my subscription", "the paywall",
                      "the digital edition"),
            "q": ("a holiday stop", "a trial subscription", "a change of address"),
            "news": ("the paper has a new editor in chief",
                     "there is a new podcast about local politics"),
            "event": ("the readers evening",),
            "complaint": ("No paper on the doormat again {org}. Third time this week.",),
        },
    },
    "broadcaster": {
        "nl": {
            "thing": ("de uitzending", "de livestream", "de app", "het geluid bij het journaal",
                      "de ondertiteling", "de radio-app", "het regionale journaal",
                      "de uitzending gemist-site"),
            "q": ("de uitzending van gisteren terugkijken", "de radio via internet",
                  "een verzoekplaatje", "de frequentie in mijn regio"),
            "news": ("de omroep een nieuwe ochtendshow begint",
                     "er vanavond een live debat wordt uitgezonden",
                     "het journaal voortaan ook om tien uur is"),
            "event": ("het live debat", "de open studio"),
            "complaint": (
                "Beeld bevriest steeds bij de livestream van {org}",
                "Waarom is het regionale nieuws weer ingekort {org}?",
            ),
        },
        "en": {
            "thing": ("the broadcast", "the livestream", "the app", "the subtitles",
                      "the radio app"),
            "q": ("watching yesterday's show again", "the radio stream", "a song request"),
            "news": ("there is a new morning show", "there is a live debate tonight"),
            "event": ("the live debate",),
            "complaint": ("The livestream keeps buffering {org}. Unwatchable.",),
        },
    },
    "university": {
        "nl": {
            "thing": ("het rooster", "de inschrijving", "het studentportaal",
                      "de wifi in de universiteitsbibliotheek", "de tentamenuitslag",
                      "mijn collegekaart", "de studentenhuisvesting", "het collegegeld",
                      "de herkansing"),
            "q": ("de open dag", "een bewijs van inschrijving", "een herkansing", "de minor",
                  "een kamer via de hogeschool"),
            "news": ("er een nieuwe opleiding data science komt",
                     "de universiteit een nieuw onderzoekscentrum opent",
                     "de open dag dit jaar ook online is"),
            "event": ("de open dag", "de diploma-uitreiking", "de introductieweek"),
            "complaint": (
                "Rooster weer gewijzigd zonder aankondiging {org}. Hoe moet ik zo plannen?",
                "Al {dur} wachten op mijn tentamenuitslag {org}",
            ),
        },
        "en": {
            "thing": ("the timetable", "my enrolment", "the student portal", "the exam results",
                      "student housing", "the tuition fees"),
            "q": ("the open day", "proof of enrolment", "a resit", "the exchange programme"),
            "news": ("there is a new data science programme",
                     "a new research centre opens this spring"),
            "event": ("the open day", "graduation"),
            "complaint": (
                "The timetable changed again without any notice {org}",
                "Still no exam results after {dur} {org}. Why?",
            ),
        },
    },
    "airline": {
        "nl": {
            "thing": ("mijn vlucht naar {dest}", "mijn koffer", "de online check-in", "de app",
                      "mijn omboeking", "de terugbetaling van mijn ticket", "de stoelreservering",
                      "de vlucht terug uit {dest}"),
            "q": ("extra bagage", "een stoel met beenruimte", "het meenemen van een kinderwagen",
                  "een huisdier aan boord", "omboeken"),
            "news": ("er deze zomer een nieuwe route naar {dest} komt",
                     "de maatschappij nieuwe toestellen krijgt",
                     "er in mei meer vluchten naar {dest} zijn"),
            "event": ("de vakantiebeurs",),
            "complaint": (
                "Vlucht {flight} {dur} vertraagd en geen enkele informatie van {org}",
                "Koffer kwijt na mijn vlucht uit {dest}. Nog steeds niks gehoord {org}",
                "Al {n} weken wachten op mijn refund {org}",
            ),
        },
        "en": {
            "thing": ("my flight to {dest}", "my suitcase", "the online check-in", "the app",
                      "my rebooking", "the refund for my ticket"),
            "q": ("extra luggage", "a seat with extra legroom", "taking a pram",
                  "flying with a pet"),
            "news": ("there is a new route to {dest} this summer", "they are getting new planes"),
            "event": ("the travel fair",),
            "complaint": (
                "Flight {flight} delayed and no information from {org}",
                "Lost my suitcase on the way back from {dest}. Still nothing {org}",
            ),
        },
    },
    "telecom": {
        "nl": {
            "thing": ("mijn internet", "de glasvezel", "mijn 4G", "de tv-ontvanger", "mijn modem",
                      "de factuur", "mijn nummerbehoud", "de wifi", "de monteur die zou komen",
                      "mijn nieuwe simkaart"),
            "q": ("een nieuwe simkaart", "glasvezel op mijn adres", "een abonnement met meer data",
                  "een extra tv-ontvanger", "nummerbehoud"),
            "news": ("glasvezel dit jaar in de hele regio komt",
                     "er een nieuw 5G-netwerk wordt uitgerold",
                     "de abonnementen per juli veranderen"),
            "event": ("de open dag in de winkel",),
            "complaint": (
                "Internet valt elke avond weg {org}. Thuiswerken gaat zo niet",
                "Alweer een storing bij {org}. Ik betaal wel gewoon elke maand",
                "Al {n} keer gebeld, steeds een ander verhaal. Internet doet het niet {org}",
            ),
        },
        "en": {
            "thing": ("my internet", "the fibre connection", "my mobile data", "the tv box",
                      "my router", "the bill"),
            "q": ("a new sim card", "fibre at my address", "a bigger data plan"),
            "news": ("5G is coming to the region", "fibre is being rolled out this year"),
            "event": ("the store open day",),
            "complaint": ("No internet again {org}. Third time this week.",),
        },
    },
    "retailer": {
        "nl": {
            "thing": ("mijn bestelling", "de bezorging", "de webshop", "mijn retour", "de kassa",
                      "de klantenkaart", "het pakketje", "de zelfscan", "de actie van deze week",
                      "mijn cadeaubon"),
            "q": ("een retour", "de openingstijden op zondag", "een cadeaubon",
                  "bezorgen op zaterdag", "een ruil zonder bon"),
            "news": ("er een nieuwe winkel in het centrum komt", "de uitverkoop maandag begint",
                     "je nu ook 's avonds bezorgd kunt krijgen"),
            "event": ("de opening van de nieuwe winkel", "de koopavond"),
            "complaint": (
                "Pakketje zou gisteren komen, nog steeds niet bezorgd {org}",
                "Verkeerde maat geleverd en retour is een drama {org}",
            ),
        },
        "en": {
            "thing": ("my order", "the delivery", "the webshop", "my return", "the loyalty card",
                      "the parcel"),
            "q": ("a return", "Sunday opening hours", "a gift card", "Saturday delivery"),
            "news": ("a new store opens in the centre", "the sale starts on Monday"),
            "event": ("the late-night shopping",),
            "complaint": ("Parcel never arrived {org}, and no reply to my emails",),
        },
    },
}

_DESTINATIONS = {"nl": ("Malaga", "Lissabon", "Kreta", "Gran Canaria", "Rome", "Split", "Antalya",
                        "Bergen", "Nice", "Palma"),
                 "en": ("Malaga", "Lisbon", "Crete", "Gran Canaria", "Rome", "Split", "Antalya",
                        "Bergen", "Nice", "Palma")}

# Complaint surges: what people write, what the organisation posts when it notices, and
# what it posts when it is over.
_SURGES: dict[str, dict[str, tuple[str, ...]]] = {
    "outage": {
        "nl": ("Internet ligt eruit in {town}. {org} wat is er aan de hand??",
               "Al {mins} minuten geen internet. Storing bij {org}?",
               "Ook hier in {town} geen verbinding. #storing",
               "Storing bij {org}? Thuiswerken gaat zo niet",
               "Geen tv en geen internet. Lekker dan {org}",
               "{org} hoe lang gaat deze storing nog duren?",
               "Weer een storing. Ik betaal hier gewoon voor {org}!"),
        "en": ("{org} internet down in {town}, any update?",
               "No internet for {mins} minutes now. Outage {org}?",
               "Is {org} down again? Nothing works here",
               "Still no internet {org}. What is going on?"),
        "statement": ("We hebben op dit moment een storing in het internet- en tv-netwerk in de "
                      "regio {town}. Onze monteurs zijn ermee bezig. Excuses voor het ongemak.",),
        "resolved": ("De storing in de regio {town} is opgelost. Nog problemen? Herstart je "
                     "modem of stuur ons een DM.",),
    },
    "letter": {
        "nl": ("Wat is dit voor brief van {org}?? Ineens {amount} euro extra afvalstoffenheffing",
               "Brief van {org}: {amount} euro meer betalen zonder uitleg. Hoezo?",
               "Die brief van de gemeente slaat nergens op. Schandalig.",
               "Net de brief van {org} gekregen. Wie verzint dit? Belachelijk",
               "{org} waarom moet ik ineens {amount} euro meer betalen? Geen uitleg in de brief",
               "Iedereen in {town} heeft die brief gehad zeker. Dit kan toch niet {org}",
               "Hoe kan het dat {org} dit zonder aankondiging doet? Onbetaalbaar zo"),
        "en": ("What is this letter from {org}? {amount} euros extra out of nowhere",
               "That letter from the council is unacceptable. No explanation at all.",
               "{amount} euros extra in a letter from {org}. Ridiculous, why?"),
        "statement": ("Veel inwoners hebben vragen over de brief over de afvalstoffenheffing. We "
                      "begrijpen de onrust. Op onze site leggen we uit hoe het bedrag is "
                      "berekend.",),
        "resolved": ("Update over de brief: er is een fout gemaakt in de berekening. Iedereen "
                     "krijgt een nieuwe brief met het juiste bedrag. Excuses.",),
    },
    "cancellations": {
        "nl": ("Vlucht naar {dest} geannuleerd zonder uitleg. {org} wat nu??",
               "Alle vluchten geschrapt en niemand van {org} te zien op Schiphol",
               "Al {mins} minuten in de rij voor omboeken. Geen enkele informatie {org}",
               "{org} mijn vlucht is geannuleerd en de app crasht. Hoe dan?"),
        "en": ("Flight to {dest} cancelled without any explanation {org}",
               "Cancelled again and no one from {org} at the desk",
               "Been queueing for {mins} minutes to rebook. No information at all {org}"),
        "statement": ("Door een technisch probleem zijn vandaag vluchten geannuleerd. Getroffen "
                      "reizigers krijgen een sms met een nieuwe vlucht. Excuses.",),
        "resolved": ("Onze vluchten vertrekken weer volgens schema. Dank voor jullie geduld.",),
    },
    "checkin-outage": {
        "nl": ("Inchecken bij {org} werkt niet, rij tot buiten",
               "Online check-in ligt plat {org}, hoe moet ik zo mijn vlucht halen?",
               "Al {mins} minuten in de rij want de check-in van {org} doet het niet"),
        "en": ("{org} online check-in is down, queue out the door",
               "Check-in not working at all {org}. Going to miss my flight",
               "Why is check-in not working {org}? Waiting for {mins} minutes now"),
        "statement": ("Online inchecken werkt op dit moment niet. Kom wat eerder naar de balie; "
                      "we werken aan een oplossing.",),
        "resolved": ("Online inchecken werkt weer.",),
    },
    "webshop-outage": {
        "nl": ("Webshop van {org} doet het niet, kan niet afrekenen",
               "{org} jullie site ligt eruit midden in de actie. Lekker geregeld",
               "Al {mins} minuten proberen te bestellen. Foutmelding. {org}??"),
        "en": ("{org} your webshop is down, can't check out",
               "Site not working in the middle of the sale {org}. Seriously?",
               "Webshop broken again {org}. Fix this please"),
        "statement": ("Onze webshop is op dit moment slecht bereikbaar. We werken eraan. De "
                      "actie verlengen we met een dag.",),
        "resolved": ("De webshop werkt weer. Dank voor je geduld!",),
    },
    "parcel-delivery": {
        "nl": ("Bestelling niet geleverd en geen bericht {org}",
               "Pakket zou vandaag komen, niks. Track en trace zegt ook niks {org}",
               "Hele dag thuisgebleven voor niks. Waar is mijn pakket {org}?",
               "Nog steeds geen pakket en geen reactie van {org}",
               "Bestelling is nog niet bezorgd {org}. Waarom krijg ik geen bericht?"),
        "en": ("Order not delivered and no message {org}",
               "Still no parcel and no reply from {org}",
               "Stayed home all day for nothing. Where is my parcel {org}?"),
        "statement": ("Door problemen bij onze bezorgpartner komen bestellingen vandaag later. "
                      "Excuses! Je krijgt een mail met een nieuw tijdvak.",),
        "resolved": ("De bezorging loopt weer volgens planning.",),
    },
    "app-outage": {
        "nl": ("Bieb-app ligt eruit, kan niks verlengen {org}",
               "Website van {org} doet het niet. Hoe moet ik mijn boeken verlengen?",
               "{org} de app crasht steeds. Nu krijg ik zeker boete?"),
        "en": ("The library app is down {org}, can't renew anything",
               "App not working again {org}, will I get a fine now?"),
        "statement": ("Onze app en website zijn even niet bereikbaar. Geen zorgen: je krijgt "
                      "geen boete voor boeken die vandaag verlopen.",),
        "resolved": ("App en website werken weer.",),
    },
    "fine-letter": {
        "nl": ("Boetebrief van {org} terwijl ik alles op tijd heb ingeleverd?!",
               "Iedereen krijgt ineens een aanmaning van {org}. Wat is dit?",
               "{amount} euro boete van de bieb? Belachelijk, ik heb alles teruggebracht"),
        "en": ("Got a fine letter from {org} even though I returned everything on time",
               "A fine from {org} for books I returned? Ridiculous",
               "Why am I charged a fee by {org}? Returned everything weeks ago"),
        "statement": ("Door een fout in ons systeem zijn onterecht aanmaningen verstuurd. Je hoeft "
                      "niets te betalen. Excuses!",),
        "resolved": ("Alle onterechte aanmaningen zijn ingetrokken.",),
    },
    "paper-delivery": {
        "nl": ("Weer geen krant vanochtend in {town}. {org} wat is er aan de hand?",
               "Geen krant in de bus. Derde keer deze maand {org}",
               "{org} hele straat heeft geen krant. Ik betaal er wel voor"),
        "en": ("No paper this morning in {town} again {org}",
               "Paper not delivered again {org}. I pay for this!",
               "Still no newspaper today {org}, why?"),
        "statement": ("Door een probleem bij de drukkerij is de krant in een deel van de regio "
                      "niet bezorgd. De digitale krant is voor iedereen gratis te lezen.",),
        "resolved": ("De bezorging is weer op orde.",),
    },
    "paywall-outage": {
        "nl": ("Paywall laat me niet in terwijl ik betaal {org}",
               "Inloggen bij {org} werkt niet, ik ben wel abonnee",
               "{org} app zegt dat ik geen abonnement heb. Al {n} jaar abonnee!"),
        "en": ("Can't log in to {org} even though I pay for a subscription",
               "Paywall not working {org}, I am a paying subscriber!"),
        "statement": ("Inloggen op onze site en app werkt op dit moment niet goed. We zoeken "
                      "het uit.",),
        "resolved": ("Inloggen werkt weer.",),
    },
    "stream-outage": {
        "nl": ("Livestream van {org} valt steeds weg, net nu bij de wedstrijd",
               "Stream van {org} werkt niet. Al {mins} minuten zwart beeld",
               "Waarom valt het beeld bij {org} steeds weg? Belachelijk",
               "Geen beeld meer bij {org}? Hele wijk zit op zwart",
               "{org} stream doet het niet. Wat is er aan de hand?"),
        "en": ("The {org} stream keeps dropping. Unwatchable.",),
        "statement": ("Onze livestream heeft een storing. Op de radio zijn we gewoon te horen.",),
        "resolved": ("De livestream werkt weer.",),
    },
    "enrolment-outage": {
        "nl": ("Inschrijfsysteem van {org} ligt plat en de deadline is vandaag!",
               "{org} ik kan me niet inschrijven voor tentamens. Systeem doet niks",
               "Al {mins} minuten een foutmelding bij inschrijven {org}. Hoe dan?"),
        "en": ("{org} enrolment system is down and the deadline is today!",
               "Can't register for exams, system not working {org}"),
        "statement": ("Het inschrijfsysteem is storing. De deadline voor inschrijven schuiven "
                      "we een dag op.",),
        "resolved": ("Inschrijven werkt weer.",),
    },
    "timetable-chaos": {
        "nl": ("Rooster weer omgegooid zonder aankondiging {org}. Belachelijk",
               "Drie colleges tegelijk ingeroosterd. Hoe dan {org}?",
               "{org} waarom staat mijn tentamen ineens op zaterdag?"),
        "en": ("Timetable changed overnight without any notice {org}",
               "Why is my exam suddenly on a Saturday {org}? Unacceptable",
               "Three lectures at the same time again {org}. Sort it out"),
        "statement": ("Er is iets misgegaan bij het publiceren van de roosters. We zetten het "
                      "vandaag recht.",),
        "resolved": ("De roosters kloppen weer.",),
    },
}

_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "complaint": (
            "Hoi {name}, wat vervelend! Stuur je ons een DM met je postcode en huisnummer? Dan "
            "zoeken we het direct uit.",
            "Excuses voor het ongemak, {name}. We kijken er meteen naar.",
            "Hoi {name}, dat is niet de bedoeling. Kun je ons een privébericht sturen?",
            "Dank voor je melding {name}. We hebben het doorgezet naar de juiste afdeling.",
        ),
        "question": (
            "Hoi {name}, dat kan! Kijk voor alle info op {url}",
            "Goede vraag {name}. Je vindt het antwoord op {url}",
            "Hoi {name}, dat kan vanaf maandag weer. Fijne dag!",
        ),
        "praise": ("Dank je wel {name}, fijn om te horen!",
                   "Wat leuk dat je dit deelt {name}! We geven het door aan het team."),
        "chatter": ("Leuk dat je meeleest {name}!", "Bedankt voor het delen {name}."),
    },
    "en": {
        "complaint": ("Hi {name}, sorry to hear that! Could you send us a DM with your details?",
                      "Apologies {name}, we are looking into it right now."),
        "question": ("Hi {name}, you can! All the info is on {url}",
                     "Good question {name}, have a look at {url}"),
        "praise": ("Thank you {name}, great to hear!",),
        "chatter": ("Thanks for sharing {name}!",),
    },
}

_FOLLOW_UPS: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {"thanks": ("Dank voor de snelle reactie!", "Top, het is gelukt",
                      "Dankjewel, ik stuur jullie een DM"),
           "still": ("DM gestuurd, nog niets gehoord.", "Dat zeiden jullie vorige week ook al.",
                     "Het is nog steeds niet opgelost hoor", "Nog steeds geen reactie op mijn DM")},
    "en": {"thanks": ("Thanks for the quick reply!", "Sorted, thank you"),
           "still": ("Sent a DM, still no reply.", "Still not fixed.")},
}

# Dutch `news` is a subordinate clause ("dat de bieb op zondag open gaat"); English a
# main clause.
_POSTS: dict[str, tuple[str, ...]] = {
    "nl": ("Goed nieuws: we kunnen vertellen dat {news}. Lees meer op {url}",
           "Wist je dat {news}? Meer info: {url}", "Het is nu zeker dat {news}! {url}",
           "Vanaf vandaag is bekend dat {news}. {url}"),
    "en": ("{News}. Read more: {url}", "Good to know: {news}. {url}"),
}
_HEADLINES = ("Hoe {town} worstelt met de woningnood",
              "Waarom de bus in {town} steeds later komt",
              "Het verhaal achter de nieuwe markt in {town}",
              "Interview met de burgemeester van {town}",
              "Zo gaat {town} om met de hitte", "Boeren rond {town} vrezen voor de oogst",
              "Nieuwe plannen voor het station van {town}")
_JOURNALIST_POSTS = ("Nieuw van mij: {headline} {url}", "{headline}. Mijn stuk van vandaag: {url}",
                     "Vanavond online: {headline}")
_SHARE_TEXTS = ("Dit dus.", "Herkenbaar", "Lees dit even", "👀", "+1", "Zo zo", "Wow", "Kijk",
                "Precies", "Same here", "Oei")

_ANGRY = ("😡", "🤬", "😤", "🙄", "👎", "😩", "😡😡", "🤦")
_HAPPY = ("👍", "😍", "🙏", "🎉", "👏", "💪", "😊", "❤️")
_NEUTRAL = ("🤔", "👀", "😂", "📚", "✈️", "📺", "☔")
_DUTCH_SLIPS = (("jullie", "julie"), ("wordt", "word"), ("niet", "nie"), ("even", "ff"),
                ("helemaal", "helemaaaal"), ("eigenlijk", "eigelijk"), ("gebeld", "gebelt"),
                ("gewoon", "gwn"), ("waarom", "waarom??"))
_STARS_SENTIMENT = {1: -0.8, 2: -0.45, 3: 0.0, 4: 0.5, 5: 0.85}
# fmt: on

_FIELDS = Formatter()


def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in _FIELDS.parse(template) if name)


Template = tuple[str, tuple[str, ...]]


@lru_cache(maxsize=64)
def _templates(kind: str, lang: str, category: str) -> tuple[Template, ...]:
    """The templates of one category, with the slots each one needs."""
    texts = _TEMPLATES[lang][category]
    if category == "complaint":
        extra = _KIND_SLOTS[kind][lang]["complaint"]
        texts = texts + extra + extra  # the kind's own complaints are common
    return tuple((text, _fields(text)) for text in texts)


@lru_cache(maxsize=64)
def _surge_templates(cause: str, lang: str) -> tuple[Template, ...]:
    return tuple((text, _fields(text)) for text in _SURGES[cause][lang])


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
    responsiveness: float                     # 0: never answers anyone
    reply_minutes: float
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
            answered = org.responsiveness * _mean_answer_probability(org)
            mentions = org.mentions_per_day * (1.0 + answered * 0.15)   # follow-ups
            surges = org.surges_per_day * _expected_surge_size(org, scale) / max(scale, 1e-9)
            replies = mentions * answered * 1.08
            shares = ((mentions + surges) * _SHARES_PER_MENTION
                      + org.posts_per_day * _shares_per_post(org))
            total += mentions + surges + replies + shares + org.posts_per_day
        return total * scale

    # the stream -----------------------------------------------------------------------

    def stream(self, start: datetime, *, end: datetime | None = None, scale: float = 1.0,
               on_surge: Callable[[Surge], None] | None = None) -> Iterator[Event]:
        """Every organisation's events from `start` (to `end`, or for ever), merged by time.

        Lazy: one heap entry per organisation plus each organisation's scheduled follow-ups.
        Yields (created_at ms, org number, sequence, JSON line); `on_surge` hears of each
        complaint surge as its window opens. With `end`, only surges that fit are injected.
        """
        start_ms = _to_ms(start)
        end_ms = _to_ms(end) if end is not None else None
        if end_ms is not None and end_ms <= start_ms:
            return iter(())
        if scale <= 0:
            raise ValueError("scale must be positive")
        tag = _run_tag(self.seed, start_ms)
        authors = _Authors(self.seed)
        runs = [_OrgRun(self, org, start_ms, end_ms, scale, tag, on_surge, authors).events()
                for org in self.orgs]
        return heapq.merge(*runs)


_SHARES_PER_MENTION = 0.16   # cascades included; calibrated on seed 7, checked by a test


def _shares_per_post(org: OrgProfile) -> float:
    followers = max((a.followers for a in org.accounts if a.role == "official"), default=0)
    return _SHARE_BASE * (1.0 + followers / 1000.0) ** _SHARE_EXPONENT * 1.3


def _mean_answer_probability(org: OrgProfile) -> float:
    traits = KIND_TRAITS[org.kind]
    question = 0.25
    praise = 0.15
    chatter = max(0.0, 1.0 - traits.complaint_share - question - praise)
    p = (traits.complaint_share * _ANSWER["complaint"] + question * _ANSWER["question"]
         + praise * _ANSWER["praise"] + chatter * _ANSWER["chatter"])
    return min(1.0, p)


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
    towns = list(_TOWNS)
    rng.shuffle(towns)
    regions = list(_REGIONS)
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
    name_pools = {kind: list(pool) for kind, pool in _NAME_POOLS.items()}
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
        responsiveness = min(1.0, max(0.45, rng.gauss(0.85, 0.12)))
        employee_share = 0.0
        mention_platforms = traits.platforms
        posts_per_day = traits.posts_per_day * min(2.5, max(0.5, size ** 0.5))
        if no == never_answers:
            traits_list.append("never answers")
            responsiveness = 0.0
            posts_per_day = 0.5
            mention_platforms = (("twitter", 0.6), ("facebook", 0.4))
            platforms = ["twitter"]
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
            first = _FIRST_NAMES[int(rng.random() * len(_FIRST_NAMES))]
            employees = [(first, _weekdays("09:00-17:00"), int(rng.lognormvariate(5.5, 0.7)))]
        for first, duty, followers in employees:
            if kind == "newspaper":
                base = first + _SURNAMES[int(rng.random() * len(_SURNAMES))]
            else:
                tail = short if kind == "municipality" else (
                    f"bieb{short}" if kind == "library" else _slug(name.split()[-1]))
                base = f"{first}_{tail.replace('-', '')}"
            account_id = f"tw{700_000 + no * 10 + len(accounts)}"
            accounts.append(Account("twitter", claim("twitter", base), account_id, "employee",
                                    followers, name=first.capitalize(), hours=duty))
        profiles.append(OrgProfile(
            no=no, id=org_id, name=name, kind=kind, town=town, timezone="Europe/Amsterdam",
            refs=refs,
            mentions_per_day=traits.mentions_per_day * size,
            posts_per_day=posts_per_day,
            complaint_share=min(0.6, max(0.05, traits.complaint_share
                                         * rng.lognormvariate(0, 0.2))),
            en_share=traits.en_share,
            platforms=mention_platforms,
            accounts=tuple(accounts),
            business_hours=hours,
            first_response_sla=traits.sla,
            responsiveness=responsiveness,
            reply_minutes=traits.reply_minutes * rng.lognormvariate(0.0, 0.4),
            employee_share=employee_share,
            surges_per_day=traits.surges_per_day,
            domain=f"{org_id}.nl",
            traits=tuple(traits_list),
        ))
    influencers = []
    for n, handle in enumerate(_INFLUENCER_HANDLES[: max(8, min(len(_INFLUENCER_HANDLES),
                                                                orgs // 2))]):
        influencers.append(Influencer(handle, int(40_000 * 50 ** rng.random()),
                                      verified=rng.random() < 0.8 or n == 0))
    return World(seed=seed, orgs=tuple(profiles), influencers=tuple(influencers))


# -- authors --------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fixed, well-spread hash of an integer (Python's hash() is salted)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


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
        first = _FIRST_NAMES[(h >> 3) % len(_FIRST_NAMES)]
        sur = _SURNAMES[(h >> 17) % len(_SURNAMES)]
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


# -- time ----------------------------------------------------------------------------------


def _to_ms(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH) // timedelta(milliseconds=1)


def _from_ms(ms: float) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


_PREFIX_CACHE: dict[int, str] = {}
_WITHIN_MINUTE = tuple(f"{ms // 1000:02d}.{ms % 1000:03d}Z" for ms in range(60_000))


def _stamp(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-03-02T09:15:03.123Z."""
    minute, rest = divmod(ms, 60_000)
    prefix = _PREFIX_CACHE.get(minute)
    if prefix is None:
        if len(_PREFIX_CACHE) > 200_000:
            _PREFIX_CACHE.clear()
        prefix = (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
        _PREFIX_CACHE[minute] = prefix
    return prefix + _WITHIN_MINUTE[rest]


def _stamp_local(ms: int, offset_minutes: int) -> str:
    """The same instant on the local clock with its offset: 2026-03-02T10:15:03.123+01:00."""
    text = _stamp(ms + offset_minutes * 60_000)[:-1]
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=1 << 16)
def _local_clock(zone: str, utc_hour: int) -> tuple[int, int, int]:
    """(local hour, local weekday 0=Mon, UTC offset in minutes) during one UTC hour."""
    local = (_EPOCH + timedelta(hours=utc_hour)).astimezone(ZoneInfo(zone))
    offset = local.utcoffset()
    assert offset is not None
    return local.hour, local.weekday(), int(offset.total_seconds() // 60)


def _run_tag(seed: int, start_ms: int) -> str:
    """A short tag in every event id, so runs with another seed or start never collide."""
    value = _mix((seed & _MASK64) ^ _mix(start_ms & _MASK64)) % (36 ** 5)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(5):
        value, d = divmod(value, 36)
        out += digits[d]
    return out


class _Staffed:
    """A weekly schedule laid out on the UTC axis one local day at a time, for quick questions:
    is someone on duty at t, and when have `ms` milliseconds of duty passed since t."""

    def __init__(self, hours: BusinessHours) -> None:
        self.week = hours.week
        self.zone = hours.timezone
        self.always = hours.weekly_seconds == 7 * 86_400
        self.never = hours.weekly_seconds == 0
        self.days: dict[int, tuple[tuple[float, float], ...]] = {}

    def _offset(self, ms: float) -> int:
        return _local_clock(self.zone, int(ms // _MS_HOUR))[2] * 60_000

    def _utc(self, wall: int) -> float:
        guess = wall - self._offset(wall)
        return float(wall - self._offset(guess))

    def _day(self, local_day: int) -> tuple[tuple[float, float], ...]:
        intervals = self.days.get(local_day)
        if intervals is None:
            if len(self.days) > 4096:
                self.days.clear()
            base = local_day * _MS_DAY
            weekday = (local_day + 3) % 7          # 1970-01-01 was a Thursday
            intervals = tuple((self._utc(base + o * 1000), self._utc(base + c * 1000))
                              for o, c in self.week[weekday])
            self.days[local_day] = intervals
        return intervals

    def _local_day(self, t: float) -> int:
        return int((t + self._offset(t)) // _MS_DAY)

    def is_open(self, t: float) -> bool:
        if self.always:
            return True
        return any(a <= t < b for a, b in self._day(self._local_day(t)))

    def advance(self, t: float, ms: float) -> float:
        """The instant at which `ms` of open time have passed since `t`."""
        if self.always or self.never:
            return t + ms
        day = self._local_day(t)
        for _ in range(60):
            for a, b in self._day(day):
                if b <= t:
                    continue
                begin = max(a, t)
                if ms <= b - begin:
                    return begin + ms
                ms -= b - begin
            day += 1
        return t + ms


# -- one organisation's stream ---------------------------------------------------------------

_ANSWER = {"complaint": 0.8, "question": 0.75, "praise": 0.3, "chatter": 0.06}
_SURGE_FLOOR_PER_MINUTE = 0.5
_SHARE_BASE = 0.2
_SHARE_EXPONENT = 0.55
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
                 authors: _Authors) -> None:
        self.org = org
        self.traits = KIND_TRAITS[org.kind]
        self.rng = random.Random(f"dorpspomp-simulate/{w.seed}/{org.id}/{start_ms}")
        self.start_ms, self.end_ms, self.scale = start_ms, end_ms, scale
        self.on_surge = on_surge
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
        kind_slots = _KIND_SLOTS[self.org.kind][lang]
        dest = _DESTINATIONS[lang]
        code = "".join(c for c in self.org.name.upper() if c.isalpha())[:2]
        flights = tuple(f"{code}{n}" for n in (1021, 1403, 782, 2210, 318, 1907))
        slots: dict[str, tuple[str, ...]] = dict(_COMMON_SLOTS[lang])
        for key in ("thing", "q", "news", "event"):
            values = kind_slots[key]
            if any("{dest}" in v for v in values):
                values = tuple(v.replace("{dest}", d) for v in values for d in dest[:4]
                               if "{dest}" in v) + tuple(v for v in values if "{dest}" not in v)
            slots[key] = values
        slots["dest"] = dest
        slots["flight"] = flights
        slots["town"] = (self.org.town,) * 3 + _TOWNS[:6]
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
            wrong, slip = _DUTCH_SLIPS[int(rng.random() * len(_DUTCH_SLIPS))]
            text = text.replace(wrong, slip, 1)
        r = rng.random()
        if category == "complaint":
            if r < 0.3:
                text = f"{text} {_ANGRY[int(rng.random() * len(_ANGRY))]}"
            elif r < 0.34:
                text = text.upper()
            elif r < 0.4:
                text = f"{text} #fail" if lang == "en" else f"{text} #klantenservice"
        elif category == "praise":
            if r < 0.5:
                text = f"{text} {_HAPPY[int(rng.random() * len(_HAPPY))]}"
        elif r < 0.15:
            text = f"{text} {_NEUTRAL[int(rng.random() * len(_NEUTRAL))]}"
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
        p = _ANSWER[mentioned.category] * org.responsiveness
        if kind == "direct":
            p = min(0.98, p * 1.2)
        elif kind == "review":
            p *= 0.5
        if mentioned.conversation:
            p *= 0.6
        if surge:
            p *= 0.35
        if rng.random() >= p:
            return
        reply_at = self._reply_time(t, surge)
        owner = in_reply_to.owner if in_reply_to is not None else None
        self._at(reply_at, self._reply, (mentioned, owner, False))
        if rng.random() < 0.08:   # a second answer later on: the first one still counts
            later = self.webcare.advance(reply_at, rng.lognormvariate(math.log(3 * _MS_HOUR), 0.8))
            self._at(later, self._reply, (mentioned, owner, True))

    def _reply_time(self, t: float, surge: bool) -> float:
        """When the org answers: a service time counted in its staffed hours only, slower
        in the first hour of the day, at lunch, in the evening and at night."""
        rng = self.rng
        hour, _, _ = _local_clock(self.zone, int(t // _MS_HOUR))
        factor = _HOUR_SLOWNESS[hour] * (3.0 if surge else 1.0)
        service = rng.lognormvariate(math.log(self.org.reply_minutes * 60.0 * factor), 0.9)
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
            options = _REPLIES[lang][mentioned.category]
            text = options[int(rng.random() * len(options))].format(
                name=name, url=self.urls[int(rng.random() * len(self.urls))])
            if account.role == "official" and rng.random() < 0.7:
                text = f"{text} ^{_INITIALS[(self.org.no + rng.randrange(4)) % len(_INITIALS)]}"
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
        options = _FOLLOW_UPS[thread.lang]["still" if still else "thanks"]
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
            headline = _HEADLINES[int(rng.random() * len(_HEADLINES))].format(town=org.town)
            text = _JOURNALIST_POSTS[int(rng.random() * len(_JOURNALIST_POSTS))].format(
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
            template = _POSTS[lang][int(rng.random() * len(_POSTS[lang]))]
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
            doc["text"] = _SHARE_TEXTS[int(rng.random() * len(_SHARE_TEXTS))]
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
            text = _SURGES[cause]["statement"][0].format(town=org.town)
            self._at(start + rng.uniform(5, 25) * 60_000, self._statement, (official, text))
            text = _SURGES[cause]["resolved"][0].format(town=org.town)
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


# -- the edges: a file, or Kafka ------------------------------------------------------------------


@dataclass
class SimulationReport:
    """What a simulation produced: counts, ground truth and timing."""

    events: int = 0
    mentions: int = 0
    posts: int = 0
    size_bytes: int = 0
    surges: list[Surge] = field(default_factory=list)
    seconds: float = 0.0
    simulated_start: datetime | None = None
    simulated_end: datetime | None = None
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    scale: float = 1.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def count(self, line: bytes) -> None:
        self.events += 1
        self.size_bytes += len(line) + 1
        if line.startswith(b'{"type":"post"'):
            self.posts += 1
        else:
            self.mentions += 1

    def summary(self) -> str:
        span = ""
        if self.simulated_start is not None and self.simulated_end is not None:
            span = (f" covering {_stamp(_to_ms(self.simulated_start))} to "
                    f"{_stamp(_to_ms(self.simulated_end))}")
        head = "stopped: " if self.interrupted else ""
        text = (f"{head}{self.events:,} events ({self.mentions:,} mentions, {self.posts:,} posts, "
                f"{len(self.surges)} complaint surges){span} in {self.seconds:.1f} s "
                f"({self.events_per_second:,.0f} events/s)")
        if self.files:
            text += "; wrote " + ", ".join(str(p) for p in self.files)
        return text


def surges_path_for(path: Path) -> Path:
    """x.jsonl -> x.surges.jsonl; x.roster.yaml -> x.surges.jsonl."""
    name = path.name
    if name.endswith(".roster.yaml"):
        return path.with_name(name[: -len(".roster.yaml")] + ".surges.jsonl")
    return path.with_suffix(".surges.jsonl")


def simulate_to_file(out: Path, *, seed: int, orgs: int = 60, days: float = 7.0,
                     start: datetime = datetime(2026, 3, 2, tzinfo=UTC), scale: float = 1.0,
                     progress: bool = False, stream: IO[str] = sys.stderr) -> SimulationReport:
    """Write `days` of simulated events to `out` (.jsonl), the roster to
    `out.with_suffix(".roster.yaml")` and the injected surges to
    `out.with_suffix(".surges.jsonl")`. The same arguments write the same bytes."""
    if days <= 0:
        raise ValueError("--days must be positive")
    if scale <= 0:
        raise ValueError("the scale must be positive")
    start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    end = start + timedelta(days=days)
    w = world(seed, orgs)
    roster_path = out.with_suffix(".roster.yaml")
    surges_path = out.with_suffix(".surges.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = SimulationReport(simulated_start=start, simulated_end=end, scale=scale)
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=round(days * 24, 1), unit="sim-h", file=stream, mininterval=0.5,
                   desc=f"simulate {out.name}", bar_format="{l_bar}{bar}| {n:.1f}/{total} "
                   "simulated hours [{elapsed}<{remaining}{postfix}]")
    start_ms = _to_ms(start)
    shown = 0.0
    buffer: list[bytes] = []
    with out.open("wb") as f:
        for t_ms, _, _, line in w.stream(start, end=end, scale=scale,
                                         on_surge=report.surges.append):
            buffer.append(line)
            if len(buffer) >= 8192:
                f.write(b"\n".join(buffer) + b"\n")
                for written in buffer:
                    report.count(written)
                buffer.clear()
                if bar is not None:
                    hours = (t_ms - start_ms) / _MS_HOUR
                    bar.update(hours - shown)
                    bar.set_postfix_str(f"{report.events:,} events", refresh=False)
                    shown = hours
        if buffer:
            f.write(b"\n".join(buffer) + b"\n")
            for written in buffer:
                report.count(written)
    if bar is not None:
        bar.update(days * 24 - shown)
        bar.set_postfix_str(f"{report.events:,} events")
        bar.close()
    roster_path.write_text(w.roster_yaml(), encoding="utf-8")
    surges = sorted(report.surges, key=lambda s: (s.start_ms, s.org_id))
    report.surges = surges
    surges_path.write_bytes(b"".join(s.to_json() + b"\n" for s in surges))
    report.seconds = time.perf_counter() - started
    report.files = [out, roster_path, surges_path]
    return report


def simulate_live(bootstrap: str, topic: str, *, seed: int, orgs: int = 60,
                  start: datetime | None = None, rate: float | None = None,
                  speedup: float = 1.0, roster_out: Path, duration: float | None = None,
                  progress: bool = True, stream: IO[str] = sys.stderr) -> SimulationReport:
    """Send the simulated stream to `topic`, paced by simulated time, until Ctrl-C
    (or `duration` real seconds).

    Simulated time starts at `start` and runs `speedup` times as fast as the wall clock:
    an event is sent when the sped-up clock reaches its `created_at`, but never before the
    wall clock does. The worker refuses events dated more than a day ahead of their
    arrival and its clocks never run ahead of it (`pipelines.decode`), so simulated time
    stays in the past or the present: `start` may not be in the future, and by default it
    is `speedup - 1` days back (now, unsped), so that a sped-up run reaches the present
    after a real day and then goes on in real time, at 1/`speedup` of the rate. `rate` sets
    the volume: on average that many events a real second (the day's rhythm and the surges
    make it swing around that); without it the volume is the realistic one. Keys are the
    organisation (`replay.message_key`). The roster goes to `roster_out`, each surge, as it
    begins, to `surges_path_for(roster_out)`. Ctrl-C or SIGTERM (how `dorpspomp up` stops
    its children) stops it cleanly: what was sent is flushed, and the report says so.
    """
    from pipelines.replay import BrokerUnavailable, make_producer, message_key

    if speedup <= 0:
        raise ValueError("--speedup must be positive")
    if rate is not None and rate <= 0:
        raise ValueError("--rate must be a positive number of events per second")
    w = world(seed, orgs)
    scale = 1.0 if rate is None else scale_for_events_per_day(w, rate / speedup * 86_400)
    present = datetime.now(UTC).replace(microsecond=0)
    if start is None:
        start = present - timedelta(days=max(0.0, speedup - 1.0))
    elif start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start > present:
        from pipelines.settings import SettingsError

        raise SettingsError(
            f"--start {start.isoformat()} is in the future; simulated time may not run ahead "
            "of the clock (the worker would refuse or hold back such events): start in the "
            "past, or leave --start out")
    roster_out.parent.mkdir(parents=True, exist_ok=True)
    roster_out.write_text(w.roster_yaml(), encoding="utf-8")
    roster = w.roster()
    surges_path = surges_path_for(roster_out)
    report = SimulationReport(simulated_start=start, scale=scale,
                              files=[roster_out, surges_path])
    producer = make_producer(bootstrap)
    failures: list[BaseException] = []
    start_ms = _to_ms(start)
    real_start = time.monotonic()
    wall_offset = time.time() - real_start  # wall clock = monotonic + this
    deadline = real_start + duration if duration is not None else None
    next_progress = real_start + 0.5
    last_t = start_ms
    behind = 0.0      # seconds the sending lags the simulated clock (the rate is too high)

    def show(now: float) -> None:
        elapsed = max(now - real_start, 1e-9)
        lag = f" · {behind:,.1f} s behind" if behind > 1 else ""
        stream.write(f"\rsimulated {_stamp(last_t)[:19]} · sent {report.events:,} "
                     f"({report.events / elapsed:,.0f}/s) · {len(report.surges)} surges{lag}  ")
        stream.flush()

    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    with surges_path.open("wb") as surges_file:
        def on_surge(surge: Surge) -> None:
            report.surges.append(surge)
            surges_file.write(surge.to_json() + b"\n")
            surges_file.flush()

        try:
            for t_ms, _, _, line in w.stream(start, scale=scale, on_surge=on_surge):
                due = max(real_start + (t_ms - start_ms) / 1000.0 / speedup,
                          t_ms / 1000.0 - wall_offset)  # never before its created_at
                while True:
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        raise _Done
                    if progress and now >= next_progress:
                        show(now)
                        next_progress = now + 0.5
                    wait = due - now
                    if wait <= 0.002:
                        behind = -wait
                        break
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    time.sleep(min(wait, 0.25))
                producer.send(topic, value=line, key=message_key(line, roster)).add_errback(
                    failures.append)
                report.count(line)
                last_t = t_ms
                if failures:
                    break
        except (_Done, KeyboardInterrupt) as stop:
            report.interrupted = isinstance(stop, KeyboardInterrupt)
        finally:
            try:
                producer.flush(timeout=60)
            finally:
                producer.close(timeout=10)
                if previous_sigterm is not None:
                    signal.signal(signal.SIGTERM, previous_sigterm)
            if progress:
                show(time.monotonic())
                stream.write("\n")
    if failures:
        raise BrokerUnavailable(f"Kafka refused an event: {failures[0]}")
    report.seconds = time.monotonic() - real_start
    report.simulated_end = _from_ms(last_t)
    return report


class _Done(Exception):
    """The live run's duration is up."""


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
