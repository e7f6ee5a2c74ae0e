"""`python -m pipelines.evalworld --out FILE.jsonl [--texts DIR] [--quick] [--seed N]`.

Writes the evaluation world as files a person can replay through the real stack
(`dorpspomp replay FILE.jsonl` with `DORPSPOMP_ROSTER=FILE.roster.yaml`) and grade against
`FILE.truth.jsonl`: one episode per line (shape, organisation, start, end, multiplier,
the usual complaint rate then, the complaints it adds, its hashtag).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from pipelines.evalworld.texts import describe, load_pools
from pipelines.evalworld.world import Plan, build

TEXTS_ENV = "DORPSPOMP_EVAL_TEXTS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.evalworld",
        description="Write the independent evaluation world for complaint-surge detection "
                    "(events, roster and ground truth).")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl",
                        help="the events; FILE.roster.yaml and FILE.truth.jsonl go beside it")
    parser.add_argument("--texts", type=Path, default=None, metavar="DIR",
                        help="folder of the real labelled sets (pipelines/textmodel/README.md, "
                             f"'The labelled sets'; default ${TEXTS_ENV}); without them the "
                             "team-written tests/data/complaints_dev.jsonl, and it says so")
    parser.add_argument("--quick", action="store_true", help="the small world CI grades")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    texts = args.texts or (Path(os.environ[TEXTS_ENV]) if os.environ.get(TEXTS_ENV) else None)
    if texts is not None and not texts.is_dir():
        print(f"evalworld: {texts} is not a folder; pass the folder the labelled sets were "
              "fetched into (pipelines/textmodel/README.md)", file=sys.stderr)
        return 2
    pools = load_pools(texts)
    print(describe(pools), file=sys.stderr)
    world = build(args.seed, Plan.quick() if args.quick else Plan.full(), pools)
    out: Path = args.out
    if out.suffix != ".jsonl":
        print(f"evalworld: --out {out} must end in .jsonl", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as events:
        for _, line in world.lines():
            events.write(line + b"\n")
    roster = out.with_suffix(".roster.yaml")
    roster.write_text(world.roster_yaml(), encoding="utf-8")
    truth = out.with_suffix(".truth.jsonl")
    truth.write_bytes(b"".join(orjson.dumps(e.to_json()) + b"\n" for e in world.episodes))
    shapes = ", ".join(f"{shape} {n}" for shape, n in world.plan.episodes.items())
    print(f"{world.events:,} mentions of {len(world.orgs)} organisations over "
          f"{world.plan.days} days from {world.start:%Y-%m-%d} ({shapes}) -> {out}, "
          f"{roster.name}, {truth.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
