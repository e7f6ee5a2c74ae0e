"""``python -m pipelines.textmodel.classify train | evaluate | bench`` (tooling).

The worker never imports this module; :func:`pipelines.textmodel.classify.main`
imports it only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipelines.textmodel.classify import TextClassifier, load_classifier, sentiment_label

#: The team-written regression set; never the headline figure.
TEAM_HOLDOUT = Path(__file__).resolve().parents[3] / "tests" / "data" / "complaints_holdout.jsonl"

USAGE = """usage: python -m pipelines.textmodel.classify COMMAND ...
  train    --data DIR [--out PATH]           fit the text model on the real sets' train side
  evaluate --data DIR [--classifier NAME] [--json PATH]
                                             figures on the real sets' held-out side
  evaluate PATH.jsonl [--classifier NAME]    figures on one labelled JSONL file
  bench    [--data DIR | PATH.jsonl] [--classifier NAME]
                                             texts per second of the batch call
DIR holds the labelled sets as pipelines/textmodel/README.md describes."""


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m pipelines.textmodel.classify {command}")
    parser.add_argument("path", nargs="?", type=Path, help="a labelled JSONL file")
    parser.add_argument("--data", type=Path, help="folder with the real labelled sets")
    parser.add_argument("--classifier", default="model", help="name or package.module:factory")
    parser.add_argument("--out", type=Path, help="where train writes the model")
    parser.add_argument("--json", type=Path, help="where evaluate also writes its figures")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("train", "evaluate", "bench"):
        print(USAGE, file=sys.stderr)
        return 2
    command = args[0]
    options = _parser(command).parse_args(args[1:])
    try:
        if command == "train":
            return _train(options)
        if command == "evaluate":
            return _evaluate(options)
        return _bench(options)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _train(options: argparse.Namespace) -> int:
    from pipelines.textmodel import scorer
    from pipelines.textmodel.tooling import corpora, train

    if options.data is None:
        raise ValueError("train needs --data DIR (see pipelines/textmodel/README.md)")
    examples = [e for e in corpora.load(options.data) if e.split == "train"]
    out = options.out or scorer.MODEL_PATH
    started = time.perf_counter()
    train.train(examples, out, note=f"trained on the train side of {options.data.name}", echo=True)
    print(f"trained in {time.perf_counter() - started:.0f} s")
    return 0


def _evaluate(options: argparse.Namespace) -> int:
    from pipelines.textmodel.tooling import corpora, evaluate

    examples = [e for e in corpora.load(options.data) if e.split == "test"] if options.data else []
    classifier = load_classifier(options.classifier)
    figures: dict[str, object] = {"classifier": options.classifier}
    if options.data is not None:
        report = evaluate.measure(classifier, examples)
        for line in evaluate.render(
            report, f"{options.classifier} on the held-out side of {options.data}:"
        ):
            print(line)
        untagged = evaluate.measure(classifier, examples, tagged=False)
        print(
            "complaint MCC with lang left out (guessed): "
            + ", ".join(f"{name} {b.mcc:.3f}" for name, b in untagged.complaint.items())
        )
        figures["held_out"] = report.as_dict()
        figures["held_out_untagged"] = untagged.as_dict()
    path = options.path or (TEAM_HOLDOUT if options.data is None else None)
    if path is not None:
        rows = evaluate.holdout_examples(path)
        flags, scores = classifier.score([r.text for r in rows], [r.lang for r in rows])
        binary = evaluate.Binary.of([bool(r.complaint) for r in rows], flags)
        agree = sum(
            1 for r, s in zip(rows, scores, strict=True) if sentiment_label(s) == r.sentiment
        )
        print(f"{path}: {binary.n} texts, {binary.positives} complaints")
        print(
            f"complaint  precision {binary.precision:.3f}  recall {binary.recall:.3f}"
            f"  f1 {binary.f1:.3f}  mcc {binary.mcc:.3f}"
            f"  (tp {binary.tp}, fp {binary.fp}, fn {binary.fn})"
        )
        print(f"sentiment  label accuracy {agree / binary.n:.3f}")
        figures["file"] = {
            "path": str(path),
            "precision": binary.precision,
            "recall": binary.recall,
            "f1": binary.f1,
            "mcc": binary.mcc,
            "sentiment_accuracy": agree / binary.n,
        }
    if options.json is not None:
        options.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def benchmark(
    classifier: TextClassifier,
    texts: Iterable[str],
    *,
    batch: int = 1000,
    rounds: int = 7,
    seconds: float = 0.5,
) -> dict[str, float]:
    """Texts per second for :meth:`TextClassifier.score` in batches of
    ``batch`` with ``lang`` missing (so language detection is included), over
    ``rounds`` rounds of about ``seconds`` each: the best round (what the code
    can do, as ``timeit`` reports it), the median (what it did on this machine
    while other processes ran), and texts per second of CPU time this process
    used over all rounds (what one core does when it is not shared)."""
    pool = list(texts)
    if not pool:
        raise ValueError("no texts to benchmark")
    work = (pool * (batch // len(pool) + 1))[:batch]
    langs: list[str | None] = [None] * len(work)
    classifier.score(work, langs)  # warm-up
    rates = []
    total = 0
    cpu_started = time.process_time()
    for _ in range(rounds):
        done = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            classifier.score(work, langs)
            done += len(work)
        rates.append(done / elapsed)
        total += done
    cpu = time.process_time() - cpu_started
    return {"best": max(rates), "median": statistics.median(rates), "per_cpu_second": total / cpu}


def _bench(options: argparse.Namespace) -> int:
    import polars as pl

    from pipelines.textmodel.tooling import corpora, evaluate

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    classifier = load_classifier(options.classifier)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if options.data is not None:
        texts = [e.text for e in corpora.load(options.data) if e.split == "test"]
        source = f"the held-out side of {options.data}"
    else:
        path = options.path or TEAM_HOLDOUT
        texts = [e.text for e in evaluate.holdout_examples(path)]
        source = path.name
    rates = benchmark(classifier, texts)
    mean = sum(len(text) for text in texts) / len(texts)
    cores = len(os.sched_getaffinity(0))
    print(
        f"{rates['best']:,.0f} texts/s, best of 7 rounds (median {rates['median']:,.0f});"
        f" {rates['per_cpu_second']:,.0f} texts per CPU-second; batches of 1000, lang=None,"
        f" {len(texts)} texts of mean {mean:.0f} chars from {source}"
    )
    model = getattr(classifier, "model", None)
    tables = f", its tables hold {model.nbytes() / 2**20:.0f} MiB" if model is not None else ""
    print(
        f"on {cores} core(s) (polars threads: {pl.thread_pool_size()}; for one core run under"
        " `taskset -c 0` with POLARS_MAX_THREADS=1); peak memory grew"
        f" {(loaded - before) / 1024:.0f} MiB while loading the classifier{tables}"
    )
    return 0
