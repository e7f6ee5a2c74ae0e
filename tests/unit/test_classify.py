"""The complaint flag and sentiment score that mentions get when the collector
sent neither (pipelines/textmodel/classify.py): the batch interface every classifier
keeps, loading by name, and the lexicon classifier ("lexicon"), which is no
longer the default but stays available and feeds the trained model its cues.

The lexicon's figures here come from ``tests/data/complaints_holdout.jsonl``,
a set the team wrote before the lexicon was tuned (``complaints_dev.jsonl``
is the one it was tuned on). The default model's figures on real posts are
``python -m pipelines.textmodel.classify evaluate --data DIR``; its tests are in
test_textmodel.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipelines.textmodel.classify import (
    NEUTRAL_BAND,
    LexiconClassifier,
    TextClassifier,
    evaluate,
    load_classifier,
    main,
    sentiment_label,
)

DATA = Path(__file__).resolve().parents[1] / "data"
HOLDOUT = DATA / "complaints_holdout.jsonl"
DEV = DATA / "complaints_dev.jsonl"


@pytest.fixture(scope="module", params=["model", "lexicon"])
def any_classifier(request: pytest.FixtureRequest) -> TextClassifier:
    """Each registered classifier, for what the batch interface promises."""
    return load_classifier(request.param)


@pytest.fixture(scope="module")
def classifier() -> TextClassifier:
    """The lexicon classifier, for the figures and examples it was built to."""
    return load_classifier("lexicon")


@pytest.fixture(scope="module")
def holdout_report(classifier: TextClassifier) -> dict[str, float]:
    report = evaluate(classifier, HOLDOUT)
    print(
        f"\nholdout ({report['n']} texts, {report['complaints']} complaints):"
        f" precision {report['precision']:.3f} recall {report['recall']:.3f}"
        f" f1 {report['f1']:.3f} sentiment accuracy {report['sentiment_accuracy']:.3f}"
    )
    return report


# --- the labelled sets -------------------------------------------------------


@pytest.mark.parametrize("path", [DEV, HOLDOUT], ids=["dev", "holdout"])
def test_labelled_set_is_well_formed(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    for row in rows:
        assert set(row) == {"text", "lang", "complaint", "sentiment"}
        assert isinstance(row["text"], str) and row["text"].strip()
        assert row["lang"] in ("nl", "en")
        assert isinstance(row["complaint"], bool)
        assert row["sentiment"] in ("neg", "neu", "pos")
    share = sum(row["complaint"] for row in rows) / len(rows)
    assert 0.35 <= share <= 0.45
    assert {row["lang"] for row in rows} == {"nl", "en"}
    assert len({row["text"] for row in rows}) == len(rows)


def test_holdout_shares_no_text_with_dev() -> None:
    def texts(path: Path) -> set[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return {json.loads(line)["text"] for line in lines}

    assert not texts(DEV) & texts(HOLDOUT)


# --- the measured figures -------------------------------------------------------


def test_complaint_precision_and_recall_on_holdout(holdout_report: dict[str, float]) -> None:
    assert holdout_report["precision"] >= 0.80, holdout_report
    assert holdout_report["recall"] >= 0.80, holdout_report


def test_sentiment_sign_accuracy_on_holdout(holdout_report: dict[str, float]) -> None:
    assert holdout_report["sentiment_accuracy"] >= 0.70, holdout_report


def test_evaluate_counts_add_up(holdout_report: dict[str, float]) -> None:
    assert holdout_report["n"] >= 300
    assert holdout_report["tp"] + holdout_report["fn"] == holdout_report["complaints"]
    precision, recall = holdout_report["precision"], holdout_report["recall"]
    assert holdout_report["f1"] == pytest.approx(2 * precision * recall / (precision + recall))


def test_evaluate_entry_point_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(HOLDOUT), "--classifier", "lexicon"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "recall" in out and "sentiment" in out
    assert main(["frobnicate"]) == 2


# --- the batch API ---------------------------------------------------------------


def test_missing_and_empty_texts_are_neutral_non_complaints(any_classifier: TextClassifier) -> None:
    flags, scores = any_classifier.score([None, "", "   \n\t"], [None, "nl", "en"])
    assert flags == [False, False, False]
    assert scores == [0.0, 0.0, 0.0]


def test_empty_batch(any_classifier: TextClassifier) -> None:
    assert any_classifier.score([], []) == ([], [])


def test_batch_lengths_must_match(any_classifier: TextClassifier) -> None:
    with pytest.raises(ValueError):
        any_classifier.score(["hallo"], [])


def test_64_kib_texts_are_scored_quickly(any_classifier: TextClassifier) -> None:
    complaint = ("Al drie weken geen internet en niemand reageert op mijn mails. " * 1100)[:65536]
    filler = "a" * 65536
    emoji = "😡" * 16384  # 64 KiB of UTF-8
    started = time.perf_counter()
    flags, scores = any_classifier.score([complaint, filler, emoji], ["nl", None, None])
    assert time.perf_counter() - started < 0.5
    assert flags[0] is True and scores[0] < 0
    assert flags[1] is False  # a run of one letter is no complaint
    assert all(-1.0 <= score <= 1.0 for score in scores)


@pytest.mark.parametrize("lang", [None, "", "de", "xx", "zh-Hant", "NL", "nl-BE", "en_GB", "nld"])
def test_any_lang_tag_is_accepted(classifier: TextClassifier, lang: str | None) -> None:
    flags, scores = classifier.score(
        ["Al twee weken geen reactie op mijn klacht!", "Thank you so much, great help"],
        [lang, lang],
    )
    assert flags == [True, False]  # the complaint cues do not depend on the tag
    assert scores[0] < 0 <= scores[1]  # a wrong tag ("nl" on English) loses the lexicon


def test_outputs_have_the_promised_types_and_range(any_classifier: TextClassifier) -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    flags, scores = any_classifier.score([row["text"] for row in rows], [None] * len(rows))
    assert len(flags) == len(scores) == len(rows)
    assert all(type(flag) is bool for flag in flags)
    assert all(type(score) is float and -1.0 <= score <= 1.0 for score in scores)


def test_scoring_is_deterministic_and_independent_of_the_batch() -> None:
    rows = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    langs = [row["lang"] for row in rows]
    first = LexiconClassifier().score(texts, langs)
    assert LexiconClassifier().score(texts, langs) == first
    assert LexiconClassifier().score(texts[::-1], langs[::-1]) == (first[0][::-1], first[1][::-1])
    one = LexiconClassifier()
    for text, lang, flag, score in list(zip(texts, langs, *first, strict=True))[:25]:
        assert one.score([text], [lang]) == ([flag], [score])


def test_language_is_guessed_when_missing(classifier: TextClassifier) -> None:
    # "prachtige" is only in the Dutch lexicon, "gorgeous" only in the English one.
    _, with_tags = classifier.score(["Wat een prachtige dag", "What a gorgeous day"], ["nl", "en"])
    _, guessed = classifier.score(["Wat een prachtige dag", "What a gorgeous day"], [None, None])
    assert guessed == with_tags
    assert all(score > NEUTRAL_BAND for score in guessed)


def test_lexicons_come_from_the_installed_packages() -> None:
    from pipelines.textmodel.classify import _pattern_lexicon, _polarity_table

    assert len(_pattern_lexicon("nl")) > 3000
    assert len(_pattern_lexicon("en")) > 1400
    dutch = _polarity_table("nl")
    assert dutch["slecht"] < 0 and dutch["slechte"] < 0 and dutch["slechtste"] < 0
    assert dutch["grote"] == dutch["groot"] and dutch["kapotte"] < 0
    assert "naar" not in dutch  # "to", not "nasty", in almost every post


def test_classifiers_are_loaded_by_name() -> None:
    from pipelines.textmodel.scorer import TextModelClassifier

    assert isinstance(load_classifier(), TextModelClassifier)
    assert isinstance(load_classifier("model"), TextModelClassifier)
    assert isinstance(load_classifier("lexicon"), LexiconClassifier)
    plugged = load_classifier("pipelines.textmodel.classify:LexiconClassifier")
    assert isinstance(plugged, LexiconClassifier)
    with pytest.raises(ValueError, match="unknown classifier"):
        load_classifier("transformer")
    with pytest.raises(ValueError, match="cannot load classifier"):
        load_classifier("no.such.module:Classifier")


def test_throughput_is_in_the_right_order_of_magnitude(classifier: TextClassifier) -> None:
    # The real figure is `python -m pipelines.textmodel.classify bench` (tests/data/README.md);
    # this only catches an accidental slowdown by a large factor.
    rows = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows] * 6
    langs: list[str | None] = [None] * len(texts)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        classifier.score(texts, langs)
        best = min(best, time.perf_counter() - started)
    rate = len(texts) / best
    print(f"\n{rate:,.0f} texts/s")
    assert rate > 5000


# --- hand-picked examples -------------------------------------------------------

COMPLAINTS = [
    ("nl", "Al 3 weken geen internet en nog steeds geen reactie van @Ziggo 😡"),
    ("nl", "Waarom krijg ik geen antwoord op mijn mail? Dit is de derde keer."),
    ("nl", "Schandalig hoe lang je in de wacht staat bij de klantenservice"),
    ("nl", "Storing bij KPN, alweer. Hoe lang nog?!"),
    ("nl", "Mijn pakket is kwijt en mijn geld is nog niet teruggestort"),
    ("nl", "Ik wil niet zeuren, maar de container is nu al twee weken niet geleegd."),
    ("en", "Still waiting for my refund after 6 weeks. Unacceptable @KLM"),
    ("en", "Flight cancelled, no hotel, no answer from customer service. Worst airline ever."),
    ("en", "Why does your app log me out every single day?"),
    ("en", "My order never arrived and nobody responds to my emails"),
]
NOT_COMPLAINTS = [
    ("nl", "Hoe laat is de bibliotheek zaterdag open?"),
    ("nl", "Dank jullie wel voor de snelle hulp, top geholpen! 👍"),
    ("nl", "Wat een noodweer vandaag in Zutphen, sterkte aan iedereen met wateroverlast"),
    ("nl", "Geen klachten hoor, alles prima geregeld"),
    ("nl", "Niet slecht, die nieuwe app van de gemeente"),
    ("en", "Terrible storm in Zutphen today, trees down everywhere"),
    ("en", "Does anyone know if the city office is open on Monday?"),
    ("en", "Great documentary on NPO last night, well done!"),
    ("en", "No complaints at all, the crew was lovely"),
]


@pytest.mark.parametrize(("lang", "text"), COMPLAINTS)
def test_clear_complaints(classifier: TextClassifier, lang: str, text: str) -> None:
    for tag in (lang, None):
        flags, scores = classifier.score([text], [tag])
        assert flags == [True], (tag, text)
        assert sentiment_label(scores[0]) == "neg"


@pytest.mark.parametrize(("lang", "text"), NOT_COMPLAINTS)
def test_clear_non_complaints(classifier: TextClassifier, lang: str, text: str) -> None:
    for tag in (lang, None):
        flags, _ = classifier.score([text], [tag])
        assert flags == [False], (tag, text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Wat een prachtige documentaire ❤️", "pos"),
        ("Super vriendelijk geholpen, dank je wel!", "pos"),
        ("Niet slecht, die nieuwe pindakaas", "pos"),
        ("Het eten was niet goed", "neg"),
        ("Heel erg slechte service", "neg"),
        ("Terrible storm in Zutphen today", "neg"),
        ("Love the new design but the checkout keeps failing", "neg"),
        ("Thanks so much for the quick help!", "pos"),
        ("Is de bibliotheek op zondag open?", "neu"),
        ("What time does the library open?", "neu"),
    ],
)
def test_sentiment_examples(classifier: TextClassifier, text: str, label: str) -> None:
    _, scores = classifier.score([text], [None])
    assert sentiment_label(scores[0]) == label, scores


def test_the_lexicon_classifier_reads_arrow_columns_like_lists() -> None:
    import pyarrow as pa

    from pipelines.textmodel.classify import LexiconClassifier

    texts = ["Al drie weken geen internet!", None, "Thanks for the quick help!"]
    langs = [None, "en", "en"]
    classifier = LexiconClassifier()
    expected = classifier.score(texts, langs)
    assert classifier.score(pa.array(texts), pa.chunked_array([pa.array(langs)])) == expected
    assert expected[0][0] is True and expected[0][1:] == [False, False]
