"""The readers of the labelled sets: what they take from each upstream file,
what they leave out, and which side of the split each post lands on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.textmodel.tooling import corpora


def _review(rid: str, sentences: list[tuple[str, str]]) -> str:
    body = "".join(
        f'<sentence id="{rid}:{i}"><text>{text}</text><Opinions>'
        + (
            f'<Opinion target="NULL" category="SERVICE#GENERAL" polarity="{polarity}"'
            ' from="0" to="0"/>'
            if polarity
            else ""
        )
        + "</Opinions></sentence>"
        for i, (text, polarity) in enumerate(sentences)
    )
    return f'<Review rid="{rid}"><sentences>{body}</sentences></Review>'


def test_absa_reads_both_files_and_keeps_a_review_on_one_side(tmp_path: Path) -> None:
    folder = tmp_path / "semeval2016-absa-nl"
    folder.mkdir()
    train = [
        _review(f"t{i}", [(f"slechte bediening {i}", "negative"), (f"we kwamen {i}", "")])
        for i in range(30)
    ]
    test = [
        _review(f"g{i}", [(f"heerlijk gegeten {i}", "positive"), (f"lang gewacht {i}", "negative")])
        for i in range(30)
    ]
    (folder / "restaurants_dutch_training.xml").write_text(
        "<Reviews>" + "".join(train) + "</Reviews>", encoding="utf-8"
    )
    (folder / "DU_REST_SB1_TEST.xml.gold").write_text(
        "<Reviews>" + "".join(test) + "</Reviews>", encoding="utf-8"
    )

    examples = corpora.load(tmp_path, ["absa-nl"])

    assert len(examples) == 120
    assert sum(e.complaint is True for e in examples) == 60  # the negative sentences
    assert {e.sentiment for e in examples if e.text.startswith("we kwamen")} == {"neu"}
    sides: dict[str, set[str]] = {}
    for example in examples:
        sides.setdefault(example.group, set()).add(example.split)
    assert len(sides) == 60 and all(len(s) == 1 for s in sides.values())
    assert {s.pop() for s in sides.values()} == {"train", "test"}


def test_a_missing_file_names_itself_and_the_readme(tmp_path: Path) -> None:
    (tmp_path / "semeval2016-absa-nl").mkdir()
    (tmp_path / "semeval2016-absa-nl/restaurants_dutch_training.xml").write_text(
        "<Reviews></Reviews>", encoding="utf-8"
    )
    try:
        corpora.load(tmp_path, ["absa-nl"])
    except FileNotFoundError as error:
        assert "DU_REST_SB1_TEST.xml.gold" in str(error) and "README" in str(error)
    else:
        raise AssertionError("a missing test file must be an error")


def test_adding_examples_moves_no_other_example_to_another_fold() -> None:
    from pipelines.textmodel.tooling.train import _folds

    before = [f"tweet {i}" for i in range(500)]
    after = before[:250] + [f"review {i}" for i in range(300)] + before[250:]
    folds_before = dict(zip(before, _folds(before, 5), strict=True))
    folds_after = dict(zip(after, _folds(after, 5), strict=True))
    assert all(folds_after[key] == fold for key, fold in folds_before.items())
    counts = np.bincount(list(folds_after.values()), minlength=5)
    assert counts.min() > 0.15 * len(after)  # five folds of about a fifth each
