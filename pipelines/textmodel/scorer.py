"""Score a batch of texts with the trained complaint and sentiment model.

The model (``pipelines/textmodel/data/textmodel.npz``, made by ``python -m
pipelines.textmodel.classify train``) is two logistic regressions over one feature
space: a complaint head (complaint / not) and a sentiment head (negative /
neutral / positive). A text's features are its words, its word pairs, the
character 3-5-grams of its words, and two families of features the lexicon
contributes: each word of the pattern polarity lexicons and each complaint
cue phrase of :mod:`pipelines.textmodel.classify` also counts as a shared "negative
word", "positive word", "complaint cue" or "not-complaint cue" feature, so
what the model learns about those on one language carries to the other.

Everything a word contributes is summed into one table row when the model
is exported (its own weight, its n-grams', its lexicon features'), so
scoring a batch is: tokenise (one polars query, :mod:`pipelines.textmodel.tokens`),
hash the tokens (polars) and find their rows in a numpy hash index built when
the model loads, find the word pairs the same way (two word ids make one
integer key), compute character n-grams only for the words the table lacks,
and add the rows up per text with ``numpy.bincount``. No Python loop runs per
text or per token. The feature values are counts divided by the square root
of the text's feature count, the same at training.

The model file holds only arrays (``allow_pickle=False``) and a JSON header.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.textmodel.tokens import NGRAM_SIZES, Texts, as_series, ngram_keys
from pipelines.textmodel.tokens import tokenise as token_frame

#: The model shipped with the package.
MODEL_PATH = Path(__file__).resolve().parent / "data" / "textmodel.npz"

#: Bump when the features change in a way an old model file cannot follow.
FORMAT = 3

#: Output columns of every weight table, in order.
OUTPUTS = ("complaint", "neg", "neu", "pos")
LANGS = ("en", "nl")


def _words(blob: np.ndarray) -> list[str]:
    """Strings stored as one UTF-8 blob joined by newlines (compact, no pickle)."""
    text = bytes(blob).decode("utf-8")
    return text.split("\n") if text else []


def pack_words(words: Sequence[str]) -> np.ndarray:
    """The inverse of :func:`_words`; tokens never contain a newline."""
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


@dataclass(frozen=True)
class Scores:
    """Per text: the complaint head's logit, the sentiment probabilities, the
    language used, and whether the text had anything to read."""

    complaint_logit: np.ndarray
    sentiment_probs: np.ndarray  # (n, 3): neg, neu, pos
    lang_index: np.ndarray  # 0 English, 1 Dutch (see LANGS)
    empty: np.ndarray


#: Seed of polars' string hash. The hash may change between polars versions,
#: but the tables (when the model loads) and the tokens are hashed by the
#: same installed polars in the same process, so look-ups stay exact.
_SEED = 0x5EED
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class _HashIndex:
    """Unique 64-bit keys -> their position, looked up for a whole array at
    once: open addressing with linear probing in numpy arrays, built once
    when the model loads. It replaces a polars join, which would hash the
    whole table again for every batch."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("two entries of a text model table share one hash key")
        size = 1 << max(4, int(np.ceil(np.log2(max(len(keys), 1) * 4))))
        self._shift = np.uint64(64 - (size.bit_length() - 1))
        self._mask = size - 1
        self._keys = np.zeros(size, dtype=np.uint64)
        self._values = np.full(size, -1, dtype=np.int64)
        home = self._home(keys)
        pending = np.arange(len(keys))
        self._rounds = 0
        while pending.size:  # round r places the keys that find home + r free
            slots = (home[pending] + self._rounds) & self._mask
            free = self._values[slots] < 0
            taken, first = np.unique(slots[free], return_index=True)
            chosen = pending[free][first]
            self._keys[taken] = keys[chosen]
            self._values[taken] = chosen
            placed = np.zeros(len(keys), dtype=bool)
            placed[chosen] = True
            pending = pending[~placed[pending]]
            self._rounds += 1

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _GOLDEN) >> self._shift).astype(np.int64)

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Each query's position, or -1 where it is not a key. The first
        probe settles most queries at once; only the rest go round again."""
        queries = np.asarray(queries, dtype=np.uint64)
        home = self._home(queries)
        values = self._values[home]
        hit = self._keys[home] == queries
        found = np.where(hit, values, -1)
        todo = np.flatnonzero(~hit & (values >= 0))  # an empty slot ends the search
        for step in range(1, self._rounds):
            if not todo.size:
                break
            slots = (home[todo] + step) & self._mask
            values = self._values[slots]
            hit = (values >= 0) & (self._keys[slots] == queries[todo])
            found[todo[hit]] = values[hit]
            todo = todo[~hit & (values >= 0)]
        return found

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._values.nbytes)


def _hashes(strings: pl.Series) -> np.ndarray:
    return strings.hash(seed=_SEED).to_numpy()


class TextModel:
    """The loaded tables; :meth:`predict` scores a batch."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        if not path.exists():
            raise FileNotFoundError(
                f"text model {path} is missing: reinstall dorpspomp, or build it with"
                " `python -m pipelines.textmodel.classify train --data DIR`"
            )
        with np.load(path, allow_pickle=False) as arrays:
            header = json.loads(bytes(arrays["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise ValueError(
                    f"text model {path} has format {header.get('format')}, this code reads"
                    f" {FORMAT}: retrain it with `python -m pipelines.textmodel.classify train`"
                )
            self.header = header
            self.bias = arrays["bias"].astype(np.float64)
            self.lang_bias = arrays["lang_bias"].astype(np.float64)
            self.thresholds = np.array(
                [header["complaint_threshold"][lang] for lang in LANGS], dtype=np.float64
            )
            words = _words(arrays["words"])
            pairs = _words(arrays["pairs"])
            gram_keys = arrays["grams"].astype(np.uint64)
            # One table for all three kinds of row (words, then pairs, then
            # n-grams), one array per output plus the feature count, so a
            # batch is one gather and one bincount per array.
            self._pair_at = len(words)
            self._gram_at = len(words) + len(pairs)
            weights = np.vstack([arrays["word_w"], arrays["pair_w"], arrays["gram_w"]])
            counts = np.concatenate(
                [arrays["word_n"], arrays["pair_n"], np.ones(len(gram_keys), dtype=np.uint16)]
            )
            self._columns = np.ascontiguousarray(
                np.vstack([weights.T, counts[None, :]]), dtype=np.float64
            )
            self._word_lang = arrays["word_lang"].astype(np.float64)
        self._words = _HashIndex(_hashes(pl.Series(words, dtype=pl.String)))
        self._grams = _HashIndex(gram_keys)
        # A word pair is one integer: its first word's id * 2**32 + the second's.
        index = {word: i for i, word in enumerate(words)}
        self._pairs = _HashIndex(
            np.array(
                [(index[a] << 32) + index[b] for a, b in (p.split(" ") for p in pairs)],
                dtype=np.uint64,
            )
        )

    def nbytes(self) -> int:
        """Memory the loaded tables take (what ``bench`` reports)."""
        indexes = (self._words, self._grams, self._pairs)
        return self._columns.nbytes + self._word_lang.nbytes + sum(i.nbytes for i in indexes)

    def predict(self, texts: Texts, langs: Texts) -> Scores:
        """Score a batch: texts and language tags as lists or Arrow/polars
        columns of the same length."""
        tokens = token_frame(texts)
        size = len(texts)
        rows = tokens["row"].to_numpy().astype(np.int64)
        hashes = _hashes(tokens["tok"])
        ids = self._words.find(hashes)
        known = ids >= 0
        at, word = rows[known], ids[known]

        # Word pairs: both words known and in the same text.
        same = (rows[1:] == rows[:-1]) & known[1:] & known[:-1]
        first, second = ids[:-1][same].astype(np.uint64), ids[1:][same].astype(np.uint64)
        pair = self._pairs.find((first << np.uint64(32)) + second)
        hit = pair >= 0
        parts_at, parts = [at, rows[:-1][same][hit]], [word, pair[hit] + self._pair_at]

        # Words the table lacks: their byte n-grams.
        if not known.all():
            unknown = np.flatnonzero(~known)
            grams_at, grams = self._unknown_grams(tokens["tok"].gather(unknown), hashes[unknown])
            parts_at.append(rows[unknown[grams_at]])
            parts.append(grams + self._gram_at)

        where, found = np.concatenate(parts_at), np.concatenate(parts)
        totals = np.stack(
            [np.bincount(where, weights=column[found], minlength=size) for column in self._columns],
            axis=1,
        )
        sums, count = totals[:, : len(OUTPUTS)], totals[:, len(OUTPUTS)]

        lang_index = _lang_index(
            langs, np.bincount(at, weights=self._word_lang[word], minlength=size)
        )
        scale = 1.0 / np.sqrt(np.maximum(count, 1.0))
        logits = self.bias + self.lang_bias[lang_index] + sums * scale[:, None]

        sentiment = logits[:, 1:]
        sentiment = np.exp(sentiment - sentiment.max(axis=1, keepdims=True))
        sentiment /= sentiment.sum(axis=1, keepdims=True)
        return Scores(
            complaint_logit=logits[:, 0] - self.thresholds[lang_index],
            sentiment_probs=sentiment,
            lang_index=lang_index,
            empty=np.bincount(rows, minlength=size) == 0,
        )

    def _unknown_grams(
        self, tokens: pl.Series, hashes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For the tokens the word table lacks (with their hashes): the n-gram rows the
        table has, each with its token's position, in the order of :func:`ngram_keys`
        (by n-gram size, then token, then place), so that the sums stay the same to the
        bit. The n-grams are made and looked up once per distinct token (a batch repeats
        its unknown words: 25 times each in a batch of simulated events) and repeated for
        each of its occurrences."""
        distinct, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        representative = tokens.gather(first)
        if len(distinct) == len(tokens) or not bool(
            (tokens == representative.gather(inverse)).all()  # two tokens share a hash
        ):
            which, keys = ngram_keys(tokens)
            gram = self._grams.find(keys)
            hit = gram >= 0
            return which[hit], gram[hit]
        which, keys = ngram_keys(representative)
        gram = self._grams.find(keys)
        hit = gram >= 0
        which, keys, gram = which[hit], keys[hit], gram[hit]
        # ngram_keys gives all n-grams of one size, token after token, before the next size
        sizes = np.asarray([*NGRAM_SIZES, NGRAM_SIZES[-1] + 1], dtype=np.uint64)
        edges = np.searchsorted(keys >> np.uint64(40), sizes).tolist()
        occurrences = np.arange(len(tokens))
        places, found = [], []
        for low, high in itertools.pairwise(edges):
            count = np.bincount(which[low:high], minlength=len(first))
            start = np.cumsum(count) - count + low  # each distinct token's run of this size
            each = count[inverse]
            before = np.cumsum(each) - each
            pick = np.repeat(start[inverse] - before, each) + np.arange(int(each.sum()))
            places.append(np.repeat(occurrences, each))
            found.append(gram[pick])
        return np.concatenate(places), np.concatenate(found)


def _lang_index(langs: Texts, dutch_evidence: np.ndarray) -> np.ndarray:
    """0 for English, 1 for Dutch: the tag's primary language when it is one
    of those ("nl", "nl-BE", "en_GB"; not "nld"), else the sign of the summed
    log-odds of the text's words (see tooling/train.language_evidence); no
    evidence at all is Dutch, the pipeline's home language."""
    guessed = np.where(dutch_evidence < 0, 0, 1).astype(np.int64)
    tags = as_series(langs)
    if tags.null_count() == len(tags):
        return guessed
    tags = tags.str.to_lowercase()
    primary = tags.str.slice(0, 2)
    whole = (tags.str.len_chars() == 2) | tags.str.slice(2, 1).is_in(["-", "_"])
    tagged = (
        pl.select(
            pl.when(whole & (primary == "en"))
            .then(0)
            .when(whole & (primary == "nl"))
            .then(1)
            .otherwise(-1)
        )
        .to_series()
        .to_numpy()
    )
    return np.where(tagged >= 0, tagged, guessed)


class TextModelClassifier:
    """The default :class:`pipelines.textmodel.classify.TextClassifier`: the trained
    model, one vectorised :meth:`TextModel.predict` per batch.

    A text is a complaint when the complaint head's logit passes its
    language's threshold (chosen by cross-validation at training). Its
    sentiment is P(positive) - P(negative) from the sentiment head, in
    (-1, 1). A missing or empty text is no complaint and has sentiment 0.0.
    """

    def __init__(self, path: Path = MODEL_PATH) -> None:
        self.model = TextModel(path)

    def score(self, texts: Texts, langs: Texts) -> tuple[list[bool], list[float]]:
        """Flags and sentiments as lists of Python ``bool`` and ``float``;
        ``texts`` and ``langs`` as lists, or as Arrow (``pa.Array``,
        ``pa.ChunkedArray``) or polars string columns, read without a Python
        loop."""
        if len(texts) != len(langs):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        if len(texts) == 0:
            return [], []
        scores = self.model.predict(texts, langs)
        flags = (scores.complaint_logit > 0) & ~scores.empty
        sentiment = np.where(
            scores.empty, 0.0, np.round(sentiment_score(scores.sentiment_probs), 4)
        )
        return flags.tolist(), sentiment.tolist()


def sentiment_score(probs: np.ndarray) -> np.ndarray:
    """One score in [-1, 1] per row of (P(neg), P(neu), P(pos)) whose label
    (:func:`pipelines.textmodel.classify.sentiment_label`, neutral within +-0.1) is the
    most probable class: beyond the band by the winner's margin over the
    runner-up when that is positive or negative, inside it (signed by
    P(pos) - P(neg)) when neutral wins."""
    neg, neu, pos = probs[:, 0], probs[:, 1], probs[:, 2]
    winner = probs.argmax(axis=1)
    polar = np.maximum(pos + neg, 1e-12)
    return np.select(
        [winner == 2, winner == 0],
        [0.1 + 0.9 * (pos - np.maximum(neg, neu)), -0.1 - 0.9 * (neg - np.maximum(pos, neu))],
        0.099 * (pos - neg) / polar,
    )
