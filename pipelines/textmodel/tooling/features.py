"""The model's features written out per text, for training (tooling only).

Scoring never builds these: it reads the tables that :mod:`.export` sums
them into. Both sides start from :func:`pipelines.textmodel.tokens.tokenise`,
and a check after every training run scores the held-out texts both ways.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from pipelines.textmodel.tokens import char_ngrams, tokenise

#: Shared features the lexicon adds (see pipelines.textmodel.scorer).
NEGATIVE_WORD, POSITIVE_WORD = "x:negative-word", "x:positive-word"
COMPLAINT_CUE, OTHER_CUE = "x:complaint-cue", "x:not-complaint-cue"
LEXICON_FEATURES = (NEGATIVE_WORD, POSITIVE_WORD, COMPLAINT_CUE, OTHER_CUE)

#: A lexicon word counts as negative or positive beyond this polarity.
POLARITY_CUT = 0.1


@dataclass(frozen=True)
class Lexicon:
    """Words and cue phrases (as the tokeniser writes them) with the shared
    features each one adds."""

    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pairs: dict[str, tuple[str, ...]] = field(default_factory=dict)


@cache
def lexicon() -> Lexicon:
    """The pattern polarity lexicons (Dutch and English together) and the
    one- and two-word complaint cues of :mod:`pipelines.textmodel.classify`."""
    from pipelines.textmodel.classify import complaint_cues, polarity_table

    words: dict[str, list[str]] = {}
    pairs: dict[str, list[str]] = {}
    for lang in ("nl", "en"):
        for word, polarity in polarity_table(lang).items():
            if abs(polarity) >= POLARITY_CUT and word not in words:
                words[word] = [NEGATIVE_WORD if polarity < 0 else POSITIVE_WORD]
    for phrase, weight in complaint_cues().items():
        parts = phrase.split()
        cue = COMPLAINT_CUE if weight > 0 else OTHER_CUE
        if len(parts) == 1:
            words.setdefault(parts[0], []).append(cue)
        elif len(parts) == 2:
            pairs.setdefault(phrase, []).append(cue)
    return Lexicon(
        words={key: tuple(value) for key, value in words.items()},
        pairs={key: tuple(value) for key, value in pairs.items()},
    )


def word_features(token: str, lex: Lexicon) -> list[str]:
    grams = (f"c:{key:x}" for key in char_ngrams(token))
    return ["w:" + token, *grams, *lex.words.get(token, ())]


def pair_features(pair: str, lex: Lexicon) -> list[str]:
    return ["b:" + pair, *lex.pairs.get(pair, ())]


def featurise(texts: Sequence[str]) -> list[Counter[str]]:
    """Feature counts per text."""
    lex = lexicon()
    bags: list[Counter[str]] = [Counter() for _ in texts]
    previous_row, previous = -1, ""
    for row, token in tokenise(texts).iter_rows():
        bag = bags[row]
        bag.update(word_features(token, lex))
        if row == previous_row:
            bag.update(pair_features(f"{previous} {token}", lex))
        previous_row, previous = row, token
    return bags
