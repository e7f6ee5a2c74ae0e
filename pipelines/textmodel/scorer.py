"""Score a batch of texts with the trained complaint and sentiment model.

The model (``pipelines/textmodel/data/textmodel.npz``, made by ``python -m
pipelines.classify train``) is two logistic regressions over one feature
space: a complaint head (complaint / not) and a sentiment head (negative /
neutral / positive). A text's features are its words, its word pairs, the
character 3-5-grams of its words, and two families of features the lexicon
contributes: each word of the pattern polarity lexicons and each complaint
cue phrase of :mod:`pipelines.classify` also counts as a shared "negative
word", "positive word", "complaint cue" or "not-complaint cue" feature, so
what the model learns about those on one language carries to the other.

Everything a word contributes is summed into one table row when the model
is exported (its own weight, its n-grams', its lexicon features'), so
scoring a batch is: tokenise (vectorised, :mod:`pipelines.textmodel.tokens`),
join tokens and token pairs with the word and pair tables, compute n-grams
only for the words the table lacks, and add the rows up per text with
``numpy.bincount``. The feature values are counts divided by the square root
of the text's feature count, the same at training.

The model file holds only arrays (``allow_pickle=False``) and a JSON header.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.textmodel.tokens import char_ngram_frame, tokenise

#: The model shipped with the package.
MODEL_PATH = Path(__file__).resolve().parent / "data" / "textmodel.npz"

#: Bump when the features change in a way an old model file cannot follow.
FORMAT = 2

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
    langs: list[str]
    empty: np.ndarray


class TextModel:
    """The loaded tables; :meth:`predict` scores a batch."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        if not path.exists():
            raise FileNotFoundError(
                f"text model {path} is missing: reinstall dorpspomp, or build it with"
                " `python -m pipelines.classify train --data DIR`"
            )
        with np.load(path, allow_pickle=False) as arrays:
            header = json.loads(bytes(arrays["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise ValueError(
                    f"text model {path} has format {header.get('format')}, this code reads"
                    f" {FORMAT}: retrain it with `python -m pipelines.classify train`"
                )
            self.header = header
            self.bias = arrays["bias"].astype(np.float64)
            self.lang_bias = arrays["lang_bias"].astype(np.float64)
            self.thresholds = np.array(
                [header["complaint_threshold"][lang] for lang in LANGS], dtype=np.float64
            )
            words = _words(arrays["words"])
            word_w = arrays["word_w"].astype(np.float64)
            word_n = arrays["word_n"].astype(np.float64)
            word_lang = arrays["word_lang"].astype(np.float64)
            pairs = _words(arrays["pairs"])
            pair_w = arrays["pair_w"].astype(np.float64)
            pair_n = arrays["pair_n"].astype(np.float64)
            grams = _words(arrays["grams"])
            self._gram_w = arrays["gram_w"].astype(np.float64)

        index = {word: i for i, word in enumerate(words)}
        self._word_w, self._word_n, self._word_lang = word_w, word_n, word_lang
        self._word_ids = pl.DataFrame({"tok": words, "id": np.arange(len(words), dtype=np.int64)})
        self._gram_ids = pl.DataFrame({"gram": grams, "gid": np.arange(len(grams), dtype=np.int64)})
        # A word pair is looked up as one integer: first id * 2**32 + second id.
        keys = np.array(
            [(index[a] << 32) + index[b] for a, b in (p.split(" ") for p in pairs)],
            dtype=np.int64,
        )
        order = np.argsort(keys)
        self._pair_keys = keys[order]
        self._pair_w = pair_w[order]
        self._pair_n = pair_n[order]

    def nbytes(self) -> int:
        """Memory the loaded tables take (what ``bench`` reports)."""
        arrays = (
            self._word_w,
            self._word_n,
            self._word_lang,
            self._gram_w,
            self._pair_keys,
            self._pair_w,
            self._pair_n,
        )
        frames = (self._word_ids, self._gram_ids)
        return sum(a.nbytes for a in arrays) + sum(int(f.estimated_size()) for f in frames)

    def predict(self, texts: Sequence[str | None], langs: Sequence[str | None]) -> Scores:
        size = len(texts)
        tokens = tokenise(texts).join(self._word_ids, on="tok", how="left", maintain_order="left")
        rows = tokens["row"].to_numpy().astype(np.int64)
        ids = tokens["id"].fill_null(-1).to_numpy()
        known = ids >= 0
        at, word = rows[known], ids[known]

        sums = np.zeros((size, len(OUTPUTS)))
        count = np.bincount(at, weights=self._word_n[word], minlength=size)
        for k in range(len(OUTPUTS)):
            sums[:, k] = np.bincount(at, weights=self._word_w[word, k], minlength=size)

        # Word pairs: both words known and in the same text.
        same = (rows[1:] == rows[:-1]) & known[1:] & known[:-1]
        keys = (ids[:-1][same] << 32) + ids[1:][same]
        if len(keys) and len(self._pair_keys):
            slot = np.minimum(np.searchsorted(self._pair_keys, keys), len(self._pair_keys) - 1)
            hit = self._pair_keys[slot] == keys
            pair, pair_at = slot[hit], rows[:-1][same][hit]
            count += np.bincount(pair_at, weights=self._pair_n[pair], minlength=size)
            for k in range(len(OUTPUTS)):
                sums[:, k] += np.bincount(pair_at, weights=self._pair_w[pair, k], minlength=size)

        # Words the table lacks: their character n-grams.
        if not known.all():
            unknown = tokens.filter(pl.col("id").is_null()).select("row", "tok")
            grams = char_ngram_frame(unknown).join(self._gram_ids, on="gram", how="inner")
            gram_at = grams["row"].to_numpy().astype(np.int64)
            gram = grams["gid"].to_numpy()
            count += np.bincount(gram_at, minlength=size)
            for k in range(len(OUTPUTS)):
                sums[:, k] += np.bincount(gram_at, weights=self._gram_w[gram, k], minlength=size)

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
            langs=[LANGS[i] for i in lang_index],
            empty=np.bincount(rows, minlength=size) == 0,
        )


def _lang_index(langs: Sequence[str | None], dutch_evidence: np.ndarray) -> np.ndarray:
    """0 for English, 1 for Dutch: the tag's primary language when it is one
    of those, else the sign of the summed log-odds of the text's words (see
    tooling/train.language_evidence); no evidence at all is Dutch, the
    pipeline's home language."""
    guessed = np.where(dutch_evidence < 0, 0, 1)
    for i, tag in enumerate(langs):
        if tag:
            primary = tag[:2].lower()
            if primary in LANGS and (len(tag) == 2 or tag[2] in "-_"):
                guessed[i] = LANGS.index(primary)
    return guessed


class TextModelClassifier:
    """The default :class:`pipelines.classify.TextClassifier`: the trained
    model, one vectorised :meth:`TextModel.predict` per batch.

    A text is a complaint when the complaint head's logit passes its
    language's threshold (chosen by cross-validation at training). Its
    sentiment is P(positive) - P(negative) from the sentiment head, in
    (-1, 1). A missing or empty text is no complaint and has sentiment 0.0.
    """

    def __init__(self, path: Path = MODEL_PATH) -> None:
        self.model = TextModel(path)

    def score(
        self, texts: Sequence[str | None], langs: Sequence[str | None]
    ) -> tuple[list[bool], list[float]]:
        if len(texts) != len(langs):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        if not texts:
            return [], []
        scores = self.model.predict(texts, langs)
        flags = (scores.complaint_logit > 0) & ~scores.empty
        sentiment = np.where(
            scores.empty, 0.0, np.round(sentiment_score(scores.sentiment_probs), 4)
        )
        return flags.tolist(), sentiment.tolist()


def sentiment_score(probs: np.ndarray) -> np.ndarray:
    """One score in [-1, 1] per row of (P(neg), P(neu), P(pos)) whose label
    (:func:`pipelines.classify.sentiment_label`, neutral within +-0.1) is the
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
