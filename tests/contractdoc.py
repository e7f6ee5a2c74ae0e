"""Reading docs/contract.md the way a test compares it with the code.

The contract is prose for people; these helpers take out the parts the code must
match: the columns of the public tables (§3), the commands (§5) and the
environment variables it names.
"""

from __future__ import annotations

import re
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


def section(number: int, text: str | None = None) -> str:
    """The text of `## <number>.` up to the next `## ` heading."""
    text = CONTRACT.read_text() if text is None else text
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise AssertionError(f"{CONTRACT} has no section {number}")
    return match.group(0)


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.lstrip().startswith("|")]


def public_columns(text: str | None = None) -> dict[str, tuple[str, ...]]:
    """§3's table: public table or view → the columns it promises, in order.

    A column's note in parentheses (`status (answered/pending/unanswered)`) is not a
    column."""
    documented = {}
    for cells in _rows(section(3, text)):
        if len(cells) == 3 and cells[0].startswith("`"):
            columns = re.split(r",\s*", re.sub(r"\([^)]*\)", "", cells[2]))
            documented[cells[0].strip("`")] = tuple(c.strip() for c in columns if c.strip())
    return documented


def commands(text: str | None = None) -> list[str]:
    """§5's commands: the word after `dorpspomp` in each row of the commands table."""
    names = []
    for cells in _rows(section(5, text)):
        match = re.match(r"`dorpspomp ([a-z-]+)", cells[0])
        if match:
            names.append(match.group(1))
    return names


def variables(text: str | None = None) -> set[str]:
    """Every DORPSPOMP_* name the contract mentions."""
    text = CONTRACT.read_text() if text is None else text
    return set(re.findall(r"\bDORPSPOMP_[A-Z_]+[A-Z]\b", text))
