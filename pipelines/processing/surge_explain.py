"""What a complaint surge is about: the words and hashtags that set its complaints apart.

A PR desk that gets "48 complaints in 12 minutes" first asks *about what?*. The answer is
in the texts: the terms that many of the surge's complaints share and that the
organisation's usual complaints do not. Each text counts a term once (document
frequency), so one author repeating a word does not make a topic; a term is distinctive
when its share of the surge's complaints is at least `MIN_LIFT` times its share of the
usual ones (smoothed, so a term never seen before is not infinitely distinctive), and it
ranks by how much of the difference between the two it carries (share × log of the lift).
Function words ("the", "het", "my") come out on their own: they are as frequent in the
usual complaints as in the surge's, so their lift stays near one.

Pure and deterministic: the same texts give the same terms in the same order, whatever
order they come in.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

MIN_LIFT = 2.0
"""A term's share of the surge's complaints over its share of the usual ones, at least."""

MIN_TEXTS = 2
"""A term must appear in this many of the surge's complaints."""

MIN_SHARE = 0.08
"""... and in at least this share of them."""

_URL_OR_HANDLE = re.compile(r"https?://\S+|www\.\S+|@\w+")
_TERM = re.compile(r"#?[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class Term:
    """A term of a surge: its share of the surge's complaints and of the usual ones."""

    term: str
    complaints: int  # of the surge's sampled complaints that use it
    share: float
    usual_share: float

    def to_json(self) -> dict[str, object]:
        return {"term": self.term, "complaints": self.complaints, "share": round(self.share, 3),
                "usual_share": round(self.usual_share, 3)}


@lru_cache(maxsize=16_384)
def terms_of(text: str) -> frozenset[str]:
    """The distinct terms of a text: lower-case words of three letters or more and
    hashtags; handles, links and numbers left out. Cached: the usual texts of an
    organisation come back at every alert."""
    found = set()
    for match in _TERM.finditer(_URL_OR_HANDLE.sub(" ", text.lower())):
        term = match.group().replace("’", "'")
        if len(term) >= (4 if term[0] == "#" else 3):
            found.add(term)
    return frozenset(found)


def document_frequencies(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """How many of the texts use each term, and how many texts there are (counted in one
    pass over the cached term sets: an alert reads up to 700 texts)."""
    term_sets = [terms_of(text) for text in texts]
    return Counter(chain.from_iterable(term_sets)), len(term_sets)


@lru_cache(maxsize=32)
def _usual_frequencies(usual: tuple[str, ...]) -> tuple[Counter[str], int]:
    """`document_frequencies` of the usual texts (read, never changed), cached: successive
    states of one surge mostly compare with the same usual texts (on a simulated stream,
    193 different sets for 441 alert states)."""
    return document_frequencies(usual)


def distinctive_terms(surge: Iterable[str], usual: Iterable[str], limit: int = 5) -> list[Term]:
    """Up to `limit` terms that set the `surge` texts apart from the `usual` ones."""
    surge_counts, n_surge = document_frequencies(surge)
    usual_counts, n_usual = _usual_frequencies(tuple(usual))
    if n_surge == 0:
        return []
    floor = max(MIN_TEXTS, math.ceil(MIN_SHARE * n_surge))
    ranked: list[tuple[float, str, int, float, float]] = []
    for term, count in surge_counts.items():
        if count < floor:
            continue
        share = count / n_surge
        usual_share = usual_counts.get(term, 0) / n_usual if n_usual else 0.0
        smoothed = (usual_counts.get(term, 0) + 0.5) / (n_usual + 1)
        lift = share / smoothed
        if lift < MIN_LIFT:
            continue
        ranked.append((-share * math.log(lift), term, count, share, usual_share))
    ranked.sort()
    return [Term(term, count, share, usual_share)
            for _, term, count, share, usual_share in ranked[:limit]]
