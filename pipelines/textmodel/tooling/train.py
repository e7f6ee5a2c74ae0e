"""Fit the complaint and sentiment heads and write the model file (tooling).

``python -m pipelines.textmodel.classify train --data DIR [--out PATH]``. Uses
scikit-learn's logistic regression (a dev dependency: the worker never
imports this module). Only the train side of each set is read
(:func:`pipelines.textmodel.tooling.corpora.side`); the regularisation
strength and the per-language complaint thresholds are chosen by 5-fold
cross-validation inside it, so the held-out side stays unseen until
``evaluate``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack

from pipelines.textmodel import scorer
from pipelines.textmodel.tooling import corpora
from pipelines.textmodel.tooling.features import (
    LEXICON_FEATURES,
    featurise,
    lexicon,
    pair_features,
    word_features,
)

#: A feature must occur in this many training texts to get a weight.
MIN_TEXTS = 2
#: Inverse regularisation strengths tried by cross-validation, per head
#: (the sentiment head's fits are the slow ones: three classes, 11 000 texts).
COMPLAINT_C = (1.0, 2.0, 4.0, 8.0)
SENTIMENT_C = (2.0,)
FOLDS = 5
#: The complaint head's feature values are multiplied by their family's
#: weight ("w:" a word, "b:" a word pair; n-grams and lexicon features 1;
#: the sentiment head's are not, it was not tuned). With one L2 penalty for
#: all features, this lets words and pairs carry more than the many
#: n-grams: out-of-fold complaint MCC on the train side went from 0.606 to
#: 0.644 in English (0.547 to 0.549 Dutch proxy) with 4 against 1, 2, 3, 6
#: and 8 tried. The runtime needs nothing: the factor is folded into the
#: exported weights (see :func:`export`).
FAMILY_WEIGHT = {"w:": 4.0, "b:": 4.0}
SENTIMENT_FOLDS = 3


@dataclass
class Design:
    """Training texts as a sparse matrix over a fixed vocabulary."""

    vocabulary: dict[str, int]

    @classmethod
    def fit(cls, bags: Sequence[Counter[str]]) -> Design:
        seen: Counter[str] = Counter()
        for bag in bags:
            seen.update(bag.keys())
        kept = sorted(f for f, n in seen.items() if n >= MIN_TEXTS or f in LEXICON_FEATURES)
        return cls({feature: i for i, feature in enumerate(kept)})

    def matrix(
        self, bags: Sequence[Counter[str]], langs: Sequence[str], *, weighted: bool = False
    ) -> csr_matrix:
        """Counts of known features (times their family's weight,
        :data:`FAMILY_WEIGHT`, when ``weighted``: the complaint head's
        matrix) over the square root of their total, then
        one indicator column per language (see pipelines.textmodel.scorer)."""
        data: list[float] = []
        columns: list[int] = []
        starts = [0]
        for bag in bags:
            known = [
                (self.vocabulary[f], n, FAMILY_WEIGHT.get(f[:2], 1.0) if weighted else 1.0)
                for f, n in bag.items()
                if f in self.vocabulary
            ]
            total = sum(n for _, n, _ in known)
            scale = 1.0 / math.sqrt(max(total, 1))
            columns.extend(i for i, _, _ in known)
            data.extend(n * family * scale for _, n, family in known)
            starts.append(len(columns))
        width = len(self.vocabulary)
        words = csr_matrix((data, columns, starts), shape=(len(bags), width))
        lang_columns = [scorer.LANGS.index(lang) for lang in langs]
        indicator = csr_matrix(
            (np.ones(len(langs)), (np.arange(len(langs)), lang_columns)),
            shape=(len(langs), len(scorer.LANGS)),
        )
        return hstack([words, indicator]).tocsr()


def _mcc(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(truth & predicted))
    tn = float(np.sum(~truth & ~predicted))
    fp = float(np.sum(~truth & predicted))
    fn = float(np.sum(truth & ~predicted))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator else 0.0


def _best_threshold(logits: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The logit cut with the highest MCC, and that MCC."""
    best = (0.0, _mcc(truth, logits > 0))
    for cut in np.quantile(logits, np.linspace(0.2, 0.9, 71)):
        score = _mcc(truth, logits > cut)
        if score > best[1]:
            best = (float(cut), score)
    return best


def _folds(groups: Sequence[str], folds: int) -> np.ndarray:
    """Each example's fold from a hash of its group (as the train/test side
    is), so adding a set or a file leaves every other example in its fold and
    cross-validated figures before and after compare like for like."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"fold:{group}".encode()).digest()[:8], "big") % folds
            for group in groups
        ]
    )


def _fit(x: csr_matrix, y: np.ndarray, c: float):  # -> LogisticRegression
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(x, y)


def _choose_complaint(
    x: csr_matrix, y: np.ndarray, langs: np.ndarray, groups: Sequence[str], log: list[str]
):
    """C by mean per-language out-of-fold MCC, then the thresholds at that C."""
    folds = min(FOLDS, int(y.sum()), int((~y).sum()))
    if folds < 2 or len(y) < 50:
        return COMPLAINT_C[0], dict.fromkeys(scorer.LANGS, 0.0)
    fold = _folds(groups, folds)
    best: tuple[float, float, dict[str, float]] | None = None
    for c in COMPLAINT_C:
        logits = np.zeros(len(y))
        for k in range(folds):
            model = _fit(x[fold != k], y[fold != k], c)
            logits[fold == k] = model.decision_function(x[fold == k])
        cuts: dict[str, float] = {}
        scores: list[float] = []
        named: dict[str, float] = {}
        for lang in scorer.LANGS:
            mask = langs == lang
            if mask.sum() >= 20 and 0 < y[mask].sum() < mask.sum():
                cuts[lang], score = _best_threshold(logits[mask], y[mask])
                scores.append(score)
                named[lang] = round(score, 3)
            else:
                cuts[lang] = 0.0
        mean = float(np.mean(scores)) if scores else 0.0
        log.append(f"complaint C={c}: out-of-fold MCC {mean:.3f} {named}, thresholds {cuts}")
        if best is None or mean > best[1]:
            best = (c, mean, cuts)
    assert best is not None
    return best[0], best[2]


def _choose_sentiment(x: csr_matrix, y: np.ndarray, groups: Sequence[str], log: list[str]) -> float:
    counts = Counter(y.tolist())
    folds = min(SENTIMENT_FOLDS, min(counts.values()))
    if folds < 2 or len(y) < 50 or len(SENTIMENT_C) == 1:
        return SENTIMENT_C[0]
    fold = _folds(groups, folds)
    best = (1.0, -1.0)
    for c in SENTIMENT_C:
        right = 0
        for k in range(folds):
            model = _fit(x[fold != k], y[fold != k], c)
            right += int(np.sum(model.predict(x[fold == k]) == y[fold == k]))
        accuracy = right / len(y)
        log.append(f"sentiment C={c}: out-of-fold accuracy {accuracy:.3f}")
        if accuracy > best[1]:
            best = (c, accuracy)
    return best[0]


class _Log(list[str]):
    """Log lines, also printed as they come when ``echo`` is set."""

    def __init__(self, echo: bool) -> None:
        super().__init__()
        self.echo = echo

    def append(self, line: str) -> None:
        super().append(line)
        if self.echo:
            print(line, flush=True)


def train(
    examples: Sequence[corpora.Example], out: Path, *, note: str = "", echo: bool = False
) -> list[str]:
    """Fit both heads on ``examples`` (all of them: pass the train side) and
    write the model to ``out``. Returns the log lines."""
    log = _Log(echo)
    bags = featurise([e.text for e in examples])
    design = Design.fit(bags)
    log.append(f"{len(examples)} texts, {len(design.vocabulary)} features")
    x = design.matrix(bags, [e.lang for e in examples])
    x_complaint = design.matrix(bags, [e.lang for e in examples], weighted=True)
    langs = np.array([e.lang for e in examples])

    has_complaint = np.array([e.complaint is not None for e in examples])
    y_complaint = np.array([bool(e.complaint) for e in examples])[has_complaint]
    groups = np.array([e.group for e in examples])
    c_complaint, cuts = _choose_complaint(
        x_complaint[has_complaint], y_complaint, langs[has_complaint], groups[has_complaint], log
    )
    complaint = _fit(x_complaint[has_complaint], y_complaint, c_complaint)

    has_sentiment = np.array([e.sentiment is not None for e in examples])
    y_sentiment = np.array([e.sentiment for e in examples])[has_sentiment]
    c_sentiment = _choose_sentiment(x[has_sentiment], y_sentiment, groups[has_sentiment], log)
    sentiment = _fit(x[has_sentiment], y_sentiment, c_sentiment)
    order = [list(sentiment.classes_).index(label) for label in ("neg", "neu", "pos")]

    width = len(design.vocabulary)
    weights = np.zeros((width + len(scorer.LANGS), len(scorer.OUTPUTS)))
    weights[:, 0] = complaint.coef_[0]
    weights[:, 1:] = sentiment.coef_[order].T
    bias = np.concatenate([complaint.intercept_, sentiment.intercept_[order]])
    counts = Counter((e.corpus, e.complaint, e.sentiment) for e in examples)
    header = {
        "format": scorer.FORMAT,
        "outputs": list(scorer.OUTPUTS),
        "complaint_threshold": cuts,
        "C": {"complaint": c_complaint, "sentiment": c_sentiment},
        "features": width,
        "trained_on": {
            f"{corpus}/{complaint_label}/{sentiment_label}": n
            for (corpus, complaint_label, sentiment_label), n in sorted(counts.items(), key=str)
        },
        "note": note,
    }
    # Every word of the training texts gets a row, also those seen once (their
    # row is the sum of their n-grams' weights, as the runtime would compute):
    # fewer words are left for the runtime's n-gram path, the slow one.
    seen = {f[2:] for bag in bags for f in bag if f.startswith("w:")}
    export(design.vocabulary, weights, bias, header, out, language_evidence(examples, bags), seen)
    gap = _export_gap(
        examples[:500],
        x_complaint[:500],
        complaint,
        sentiment.predict_proba(x[:500])[:, order],
        out,
    )
    if gap > 1e-3:
        raise RuntimeError(f"the exported tables disagree with the fitted model by {gap:.2g}")
    log.append(f"export check: the runtime reproduces the fitted model within {gap:.1g}")
    log.append(
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB): {width} features,"
        f" complaint C={c_complaint} thresholds {cuts}, sentiment C={c_sentiment}"
    )
    return log


def _export_gap(
    examples: Sequence[corpora.Example], x: csr_matrix, complaint, probs: np.ndarray, out: Path
) -> float:
    """Largest difference between the fitted regressions and the runtime
    reading the exported file, on the given texts (logits and probabilities)."""
    predicted = scorer.TextModel(out).predict(
        [e.text for e in examples], [e.lang for e in examples]
    )
    model = scorer.TextModel(out)
    lang_index = np.array([scorer.LANGS.index(e.lang) for e in examples], dtype=np.int64)
    logits = predicted.complaint_logit + model.thresholds[lang_index]
    return float(
        max(
            np.abs(logits - complaint.decision_function(x)).max(initial=0.0),
            np.abs(predicted.sentiment_probs - probs).max(initial=0.0),
        )
    )


def language_evidence(
    examples: Sequence[corpora.Example], bags: Sequence[Counter[str]]
) -> dict[str, float]:
    """Per word seen in at least two training texts: log-odds that a text
    holding it is Dutch rather than English (naive Bayes over the share of
    each language's texts that use the word, clipped to +-4). The runtime
    adds them up to guess a text's language when ``lang`` says nothing."""
    texts = Counter(e.lang for e in examples)
    seen: dict[str, Counter[str]] = {lang: Counter() for lang in scorer.LANGS}
    for example, bag in zip(examples, bags, strict=True):
        seen[example.lang].update(f[2:] for f in bag if f.startswith("w:"))
    evidence = {}
    for word in set(seen["nl"]) | set(seen["en"]):
        nl, en = seen["nl"][word], seen["en"][word]
        if nl + en >= 2:
            odds = math.log((nl + 0.5) / (texts["nl"] + 1)) - math.log(
                (en + 0.5) / (texts["en"] + 1)
            )
            evidence[word] = max(-4.0, min(4.0, odds))
    return evidence


def export(
    vocabulary: dict[str, int],
    weights: np.ndarray,
    bias: np.ndarray,
    header: dict[str, object],
    out: Path,
    evidence: dict[str, float],
    seen: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Sum every feature a word or a word pair brings into one table row (see
    pipelines.textmodel.scorer) and write the arrays."""
    lex = lexicon()
    family = np.ones(len(weights))
    for feature, i in vocabulary.items():
        family[i] = FAMILY_WEIGHT.get(feature[:2], 1.0)
    weights = weights.copy()
    weights[:, 0] *= family  # the complaint head's feature values carry their family's weight

    def row(features: list[str]) -> tuple[np.ndarray, int]:
        known = [vocabulary[f] for f in features if f in vocabulary]
        return weights[known].sum(axis=0), len(known)

    # Every word a pair names is in the word table (the runtime looks pairs
    # up by word ids), with no weight if it has none of its own.
    words = sorted(
        {f[2:] for f in vocabulary if f.startswith("w:")}
        | set(lex.words)
        | {word for pair in lex.pairs for word in pair.split(" ")}
        | set(evidence)
        | seen
    )
    word_rows = [(w, *row(word_features(w, lex))) for w in words]
    pairs = sorted({f[2:] for f in vocabulary if f.startswith("b:")} | set(lex.pairs))
    pair_rows = [(p, *row(pair_features(p, lex))) for p in pairs]
    pair_rows = [r for r in pair_rows if r[2]]
    grams = sorted(f[2:] for f in vocabulary if f.startswith("c:"))
    width = len(vocabulary)
    lang_bias = weights[width : width + len(scorer.LANGS)]

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as sink:
        np.savez_compressed(
            sink,
            header=np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), np.uint8),
            bias=bias.astype(np.float64),
            lang_bias=lang_bias.astype(np.float64),
            words=scorer.pack_words([r[0] for r in word_rows]),
            word_w=np.array([r[1] for r in word_rows], dtype=np.float32).reshape(-1, 4),
            word_n=np.array([r[2] for r in word_rows], dtype=np.uint16),
            word_lang=np.array([evidence.get(r[0], 0.0) for r in word_rows], dtype=np.float32),
            pairs=scorer.pack_words([r[0] for r in pair_rows]),
            pair_w=np.array([r[1] for r in pair_rows], dtype=np.float32).reshape(-1, 4),
            pair_n=np.array([r[2] for r in pair_rows], dtype=np.uint16),
            grams=np.array([int(g, 16) for g in grams], dtype=np.uint64),
            gram_w=weights[[vocabulary["c:" + g] for g in grams]].astype(np.float32).reshape(-1, 4),
        )
