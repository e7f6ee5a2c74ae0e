"""A strict reader of the Prometheus text exposition format 0.0.4, for the tests of
the worker's /metrics (written here so that the reader is not the writer's code:
no prometheus_client)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"


@dataclass
class Family:
    name: str
    help: str | None = None
    kind: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def parse_value(text: str) -> float:
    specials = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in specials:
        return specials[text]
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?", text), f"bad value {text!r}"
    return float(text)


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        match = re.compile(rf'({LABEL})="').match(text, i)
        assert match, f"bad label at {text[i:]!r}"
        name, i = match.group(1), match.end()
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                escaped = text[i + 1]
                assert escaped in '\\"n', f"bad escape \\{escaped}"
                value.append("\n" if escaped == "n" else escaped)
                i += 2
            else:
                assert text[i] != "\n"
                value.append(text[i])
                i += 1
        assert name not in labels, f"label {name} twice"
        labels[name] = "".join(value)
        i += 1
        if i < len(text):
            assert text[i] == ",", f"expected a comma at {text[i:]!r}"
            i += 1
    return labels


def unescape_help(text: str) -> str:
    return re.sub(r"\\(.)", lambda g: "\n" if g.group(1) == "n" else g.group(1), text)


def parse(text: str) -> dict[str, Family]:
    """Families by name; every sample must follow its family's # TYPE line."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and name not in families
            current = families[name] = Family(name, help=unescape_help(help_text))
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert current is not None and current.name == name and current.kind is None
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            current.kind = kind
        else:
            match = re.fullmatch(rf"({NAME})(?:\{{(.*)\}})? (\S+)", line)
            assert match, f"not a sample line: {line!r}"
            assert current is not None and current.kind is not None
            name = match.group(1)
            allowed = {current.name}
            if current.kind == "histogram":
                allowed = {current.name + s for s in ("_bucket", "_sum", "_count")}
            assert name in allowed, f"{name} under the family {current.name}"
            current.samples.append(
                (name, parse_labels(match.group(2) or ""), parse_value(match.group(3))))
    return families


def value(family: Family, **labels: str) -> float:
    found = [v for n, ls, v in family.samples if n == family.name and ls == labels]
    assert len(found) == 1, (family.name, labels, family.samples)
    return found[0]


def check_histogram(family: Family) -> dict[tuple[tuple[str, str], ...], dict[str, float]]:
    """Per label set: cumulative buckets ending in +Inf, _count == +Inf bucket."""
    series: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for name, labels, v in family.samples:
        if name.endswith("_bucket"):
            le = labels.pop("le")
            buckets.setdefault(tuple(sorted(labels.items())), []).append((parse_value(le), v))
        else:
            series.setdefault(tuple(sorted(labels.items())), {})[name[len(family.name):]] = v
    for key, bounds in buckets.items():
        assert [b for b, _ in bounds] == sorted(b for b, _ in bounds)
        assert bounds[-1][0] == math.inf
        counts = [c for _, c in bounds]
        assert counts == sorted(counts), "buckets must be cumulative"
        assert series[key]["_count"] == counts[-1]
        series[key]["buckets"] = dict(bounds)  # type: ignore[assignment]
    return series
