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
    picked = pa.array(rows)
    flags, scores = classifier.score(mentions["text"].take(picked),
                                     mentions["lang"].take(picked))
    n = mentions.num_rows
    model_sentiment = np.zeros(n, dtype=np.float32)
    model_sentiment[rows] = np.asarray(scores, dtype=np.float32)
    model_complaint = np.zeros(n, dtype=bool)
    model_complaint[rows] = np.asarray(flags, dtype=bool)
    source = pa.array(np.where(no_sentiment & no_complaint, "model", "mixed"), pa.string())
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
