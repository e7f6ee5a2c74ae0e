"""Measure a classifier on the held-out side of the real labelled sets (tooling).

``python -m pipelines.textmodel.classify evaluate --data DIR [--classifier NAME]``
prints, per set and language, the complaint flag's precision, recall, F1
and MCC and the sentiment label's accuracy and macro-F1, for any classifier
:func:`pipelines.textmodel.classify.load_classifier` can build, through the same
batch call the worker makes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.textmodel.classify import TextClassifier, sentiment_label
from pipelines.textmodel.tooling import corpora

#: Sets with complaint labels, and what their labels are.
COMPLAINT_SETS = {
    "complaints": "English tweets to brands, complaint / not (annotators)",
    "absa-nl": "Dutch restaurant-review sentences, negative opinion / not (proxy)",
}
SENTIMENT_SETS = {
    "tweeteval": "English tweets, SemEval-2017 4A",
    "absa-nl": "Dutch restaurant-review sentences, SemEval-2016 5",
    "political-nl": "Dutch tweets by members of parliament",
}


@dataclass(frozen=True)
class Binary:
    n: int
    positives: int
    tp: int
    fp: int
    fn: int

    @property
    def tn(self) -> int:
        return self.n - self.tp - self.fp - self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def mcc(self) -> float:
        tp, tn, fp, fn = self.tp, self.tn, self.fp, self.fn
        denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return (tp * tn - fp * fn) / denominator if denominator else 0.0

    def mcc_interval(self, truth: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, float]:
        """95 % bootstrap interval of the MCC (2 000 resamples of the posts,
        fixed seed): how far the figure could move on another sample."""
        import numpy as np

        t = np.asarray(truth, dtype=bool)
        p = np.asarray(predicted, dtype=bool)
        draws = np.random.default_rng(11).integers(0, len(t), size=(2000, len(t)))
        tt, pp = t[draws], p[draws]
        tp = (tt & pp).sum(axis=1).astype(float)
        tn = (~tt & ~pp).sum(axis=1).astype(float)
        fp = (~tt & pp).sum(axis=1).astype(float)
        fn = (tt & ~pp).sum(axis=1).astype(float)
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(denominator > 0, (tp * tn - fp * fn) / np.maximum(denominator, 1e-12), 0.0)
        low, high = np.quantile(mcc, [0.025, 0.975])
        return float(low), float(high)

    @classmethod
    def of(cls, truth: Sequence[bool], predicted: Sequence[bool]) -> Binary:
        pairs = list(zip(truth, predicted, strict=True))
        return cls(
            n=len(pairs),
            positives=sum(truth),
            tp=sum(1 for t, p in pairs if t and p),
            fp=sum(1 for t, p in pairs if p and not t),
            fn=sum(1 for t, p in pairs if t and not p),
        )


@dataclass(frozen=True)
class Sentiment:
    n: int
    accuracy: float
    macro_f1: float

    @classmethod
    def of(cls, truth: Sequence[str], predicted: Sequence[str]) -> Sentiment:
        pairs = list(zip(truth, predicted, strict=True))
        f1s = [
            Binary.of([t == label for t, _ in pairs], [p == label for _, p in pairs]).f1
            for label in ("neg", "neu", "pos")
        ]
        right = sum(1 for t, p in pairs if t == p)
        return cls(len(pairs), right / len(pairs) if pairs else 0.0, sum(f1s) / 3)


@dataclass(frozen=True)
class Report:
    complaint: dict[str, Binary]
    sentiment: dict[str, Sentiment]
    mcc_interval: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, object]:
        return {
            "complaint": {
                name: {
                    "n": b.n,
                    "complaints": b.positives,
                    "tp": b.tp,
                    "fp": b.fp,
                    "fn": b.fn,
                    "precision": round(b.precision, 3),
                    "recall": round(b.recall, 3),
                    "f1": round(b.f1, 3),
                    "mcc": round(b.mcc, 3),
                }
                for name, b in self.complaint.items()
            },
            "sentiment": {
                name: {"n": s.n, "accuracy": round(s.accuracy, 3), "macro_f1": round(s.macro_f1, 3)}
                for name, s in self.sentiment.items()
            },
        }


def measure(
    classifier: TextClassifier, examples: Sequence[corpora.Example], *, tagged: bool = True
) -> Report:
    """Score ``examples`` in one batch (with their language tag, or with
    none when ``tagged`` is false) and compare with their labels."""
    flags, scores = classifier.score(
        [e.text for e in examples], [e.lang if tagged else None for e in examples]
    )
    complaint: dict[str, Binary] = {}
    sentiment: dict[str, Sentiment] = {}
    intervals: dict[str, tuple[float, float]] = {}
    names = list(dict.fromkeys(e.corpus for e in examples))
    for name in names:
        pairs = [
            (e.complaint, f)
            for e, f in zip(examples, flags, strict=True)
            if e.corpus == name and e.complaint is not None
        ]
        if pairs:
            truth, predicted = [bool(t) for t, _ in pairs], [p for _, p in pairs]
            complaint[name] = Binary.of(truth, predicted)
            intervals[name] = complaint[name].mcc_interval(truth, predicted)
    for name in names:
        pairs_s = [
            (e.sentiment, sentiment_label(s))
            for e, s in zip(examples, scores, strict=True)
            if e.corpus == name and e.sentiment is not None
        ]
        if pairs_s:
            sentiment[name] = Sentiment.of([str(t) for t, _ in pairs_s], [p for _, p in pairs_s])
    return Report(complaint, sentiment, intervals)


def holdout_examples(path: Path) -> list[corpora.Example]:
    """The team-written regression set (tests/data/complaints_holdout.jsonl)
    as examples of a set named "team-holdout"."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [
        corpora.Example(
            r["text"], r["lang"], "team-holdout", bool(r["complaint"]), r["sentiment"], r["text"]
        )
        for r in rows
    ]


def render(report: Report, title: str) -> list[str]:
    lines = [
        title,
        "complaint      set                 n  compl.  precision  recall     F1    MCC  (95 % CI)",
    ]
    for name, b in report.complaint.items():
        low, high = report.mcc_interval[name]
        lines.append(
            f"               {name:<14}{b.n:>7}{b.positives:>8}{b.precision:>11.3f}"
            f"{b.recall:>8.3f}{b.f1:>7.3f}{b.mcc:>7.3f}  ({low:.2f}-{high:.2f})"
        )
    lines.append("sentiment      set                 n  accuracy  macro-F1")
    for name, s in report.sentiment.items():
        lines.append(f"               {name:<14}{s.n:>7}{s.accuracy:>10.3f}{s.macro_f1:>10.3f}")
    return lines
