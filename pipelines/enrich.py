"""Fill in what upstream left open: sentiment and complaint per mention.

An upstream label always wins (CONTRACT.md §1); the classifier only scores the
mentions that need it, in one batch call. Organisation and account resolution
of posts happens while decoding (`pipelines.decode`), because a post whose
organisation cannot be resolved is a dead letter, not a row.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.classify import TextClassifier
from pipelines.decode import Mention


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
