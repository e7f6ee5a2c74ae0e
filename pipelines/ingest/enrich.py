"""Fill in what upstream left open: sentiment and complaint per mention.

An upstream label always wins (CONTRACT.md §1); the classifier only scores the
mentions that need it, in one batch call. Organisation and account resolution
of posts happens while decoding (`pipelines.ingest.decode`, `pipelines.ingest.columnar`),
because a post whose organisation cannot be resolved is a dead letter, not a row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.decode import Mention
from pipelines.textmodel.classify import TextClassifier


def label_mentions(mentions: Sequence[Mention], classifier: TextClassifier) -> None:
    """Set `sentiment`, `complaint` and `labels_source` in place."""
    todo = [m for m in mentions if m.sentiment is None or m.complaint is None]
    if not todo:
        return
    complaints, sentiments = classifier.score([m.text for m in todo], [m.lang for m in todo])
    for mention, complaint, sentiment in zip(todo, complaints, sentiments, strict=True):
        upstream = (mention.sentiment is not None) + (mention.complaint is not None)
        if mention.sentiment is None:
            mention.sentiment = float(sentiment)
        if mention.complaint is None:
            mention.complaint = bool(complaint)
        mention.labels_source = "mixed" if upstream else "model"


def label_table(mentions: pa.Table, classifier: TextClassifier) -> pa.Table:
    """The mentions table (`schemas.tables.MENTIONS` layout) with `sentiment`, `complaint`
    and `labels_source` filled where upstream left either open: the same labels as
    `label_mentions`, one classifier call for the rows that need it."""
    sentiment, complaint = mentions["sentiment"], mentions["complaint"]
    no_sentiment = _mask(pc.is_null(sentiment))
    no_complaint = _mask(pc.is_null(complaint))
    todo = no_sentiment | no_complaint
    if not todo.any():
        return mentions
    rows = np.flatnonzero(todo)
    texts, langs = mentions["text"], mentions["lang"]
    if len(rows) < mentions.num_rows:
        picked = pa.array(rows)
        texts, langs = texts.take(picked), langs.take(picked)
    flags, scores = _score_distinct(classifier, texts, langs)
    n = mentions.num_rows
    model_sentiment = np.zeros(n, dtype=np.float32)
    model_sentiment[rows] = scores.astype(np.float32)
    model_complaint = np.zeros(n, dtype=bool)
    model_complaint[rows] = flags
    source = pc.if_else(pa.array(no_sentiment & no_complaint), "model", "mixed")
    labelled = {
        "sentiment": pc.coalesce(sentiment.combine_chunks(),
                                 pa.array(model_sentiment, pa.float32())),
        "complaint": pc.coalesce(complaint.combine_chunks(),
                                 pa.array(model_complaint, pa.bool_())),
        "labels_source": pc.if_else(pa.array(todo), source,
                                    mentions["labels_source"].combine_chunks()),
    }
    for name, column in labelled.items():
        mentions = mentions.set_column(mentions.schema.get_field_index(name), name, column)
    return mentions


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _score_distinct(classifier: TextClassifier, texts: pa.ChunkedArray,
                    langs: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's flags and sentiments, each distinct (text, lang) scored once.

    A text's labels depend on it and its language tag alone (the classifier scores a batch
    as it scores each text: `test_textmodel`'s batch independence), and a batch repeats
    texts (shares, reposts, templates: in a batch of simulated events 4 856-5 648 distinct
    of 10 545-10 877 mentions), so the repeats take their first one's labels. The pairs are
    found by Arrow's hash encoding (exact, no digest); when nearly all are distinct the
    batch goes whole."""
    text_at = _codes(texts)
    lang_at = _codes(langs)
    key = text_at * (int(lang_at.max(initial=0)) + 1) + lang_at
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(first) > DISTINCT_SHARE * len(key):
        flags, scores = classifier.score(texts, langs)
        return np.asarray(flags, dtype=bool), np.asarray(scores, dtype=np.float64)
    picked = pa.array(first)
    flags, scores = classifier.score(texts.take(picked), langs.take(picked))
    inverse = inverse.reshape(-1)
    return (np.asarray(flags, dtype=bool)[inverse],
            np.asarray(scores, dtype=np.float64)[inverse])


DISTINCT_SHARE = 0.9
"""Above this share of distinct (text, lang) pairs a batch is scored whole: finding the
repeats would cost more than it saves."""


def _codes(values: pa.ChunkedArray) -> np.ndarray:
    """Each value's position among the distinct values (null is one value of its own)."""
    encoded = pc.dictionary_encode(values.combine_chunks(), null_encoding="encode")
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
