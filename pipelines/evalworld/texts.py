"""The texts of the evaluation world: real posts labelled by people, never written for it.

The world's mentions carry texts that the pipeline's own classifier must read, so a
storm is only as visible as the classifier makes it and a burst of praise brings its
misread "complaints" with it, as it would in production. The texts come from the public
labelled sets that `pipelines/textmodel/README.md` ("The labelled sets") says how to
fetch, read by the model's own readers (`pipelines.textmodel.tooling.corpora`), and only
from their held-out side: the classifier never trained on them. The sets may not be
committed, so `--texts DIR` names their folder; without it (CI) the world falls back to
the team-written `tests/data/complaints_dev.jsonl` and says so. The holdout file
(`complaints_holdout.jsonl`) is never read, and neither are the "Twitter US Airline
Sentiment" tweets (the readers drop them).

Pools, per language:

- complaint: posts labelled complaints (English: the complaint set's complaints; Dutch:
  restaurant-review sentences with a negative opinion, the model's own Dutch proxy);
- praise: posts labelled positive and not complaints (TweetEval positive; Dutch review
  sentences with a positive opinion);
- question: neutral posts (TweetEval neutral and the complaint set's non-complaints,
  which are mostly questions and remarks to brands; Dutch review sentences without an
  opinion);
- other: what an organisation usually hears besides complaints: praise and questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FALLBACK = ROOT / "tests" / "data" / "complaints_dev.jsonl"
POOLS = ("complaint", "praise", "question")
LANGS = ("en", "nl")


@dataclass(frozen=True)
class TextPools:
    """Texts by language and pool, and where they came from."""

    source: str  # "labelled sets" or "team-written fallback"
    where: str
    pools: dict[tuple[str, str], tuple[str, ...]] = field(repr=False)
    note: str = ""

    def texts(self, lang: str, pool: str) -> tuple[str, ...]:
        return self.pools[(lang, pool)]

    def sizes(self) -> dict[str, int]:
        return {f"{lang}/{pool}": len(texts) for (lang, pool), texts in sorted(self.pools.items())}


def load_pools(texts_dir: Path | None) -> TextPools:
    """The labelled sets under `texts_dir` (their held-out side), or the fallback."""
    if texts_dir is not None:
        missing = _missing(texts_dir)
        if not missing:
            return _labelled_sets(texts_dir)
        note = (f"the labelled sets are not complete in {texts_dir} (missing "
                f"{', '.join(missing)}); fetch them as pipelines/textmodel/README.md says")
    else:
        note = "no --texts DIR given (the labelled sets live outside the repository)"
    return _fallback(note)


def _missing(texts_dir: Path) -> list[str]:
    from pipelines.textmodel.tooling import corpora

    needed = [corpora.COMPLAINTS_CSV, corpora.TWEETEVAL_DIR / "test_text.txt",
              *corpora.ABSA_NL_XML]
    return [str(p) for p in needed if not (texts_dir / p).exists()]


def _labelled_sets(texts_dir: Path) -> TextPools:
    from pipelines.textmodel.tooling import corpora

    pools: dict[tuple[str, str], list[str]] = {(lang, pool): [] for lang in LANGS
                                               for pool in POOLS}
    for example in corpora.load(texts_dir, ("complaints", "tweeteval", "absa-nl")):
        if example.split != "test":
            continue  # the classifier trained on the other side
        key = _pool(example.corpus, example.complaint, example.sentiment)
        if key is not None:
            pools[(example.lang, key)].append(example.text)
    return TextPools(
        source="labelled sets", where=str(texts_dir),
        pools={key: tuple(sorted(texts)) for key, texts in pools.items()},
        note="held-out side only (pipelines.textmodel.tooling.corpora.side): complaint set "
             "(Preoţiuc-Pietro et al. 2019), TweetEval sentiment, SemEval-2016 Dutch reviews",
    )


def _pool(corpus: str, complaint: bool | None, sentiment: str | None) -> str | None:
    if corpus == "complaints":
        return "complaint" if complaint else "question"
    if corpus == "tweeteval":
        return {"pos": "praise", "neu": "question"}.get(sentiment or "")
    if corpus == "absa-nl":
        return {"neg": "complaint", "pos": "praise", "neu": "question"}.get(sentiment or "")
    return None


def _fallback(note: str) -> TextPools:
    pools: dict[tuple[str, str], list[str]] = {(lang, pool): [] for lang in LANGS
                                               for pool in POOLS}
    for line in FALLBACK.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        lang = "nl" if str(row.get("lang", "")).startswith("nl") else "en"
        if row.get("complaint"):
            pool = "complaint"
        elif row.get("sentiment") == "pos":
            pool = "praise"
        else:
            pool = "question"
        pools[(lang, pool)].append(str(row["text"]))
    return TextPools(source="team-written fallback", where=str(FALLBACK.relative_to(ROOT)),
                     pools={key: tuple(sorted(texts)) for key, texts in pools.items()},
                     note=note)


def describe(pools: TextPools) -> str:
    """One line for the terminal: which texts the world speaks with."""
    sizes = ", ".join(f"{k} {v}" for k, v in pools.sizes().items())
    line = f"texts: {pools.source} ({pools.where}; {sizes})"
    return line + (f" — {pools.note}" if pools.note else "")


def ensure(pools: TextPools, langs: Sequence[str]) -> None:
    for lang in langs:
        for pool in POOLS:
            if not pools.texts(lang, pool):
                raise ValueError(f"no {lang} {pool} texts in {pools.where}")
