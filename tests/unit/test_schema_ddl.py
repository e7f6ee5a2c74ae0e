"""The rendered DDL covers every public table and column of CONTRACT.md §3."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.migrations import all_migrations
from schemas.tables import CONTRACT_COLUMNS

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"


def rendered() -> str:
    return "\n".join(s for m in all_migrations() for s in m.render("dorpspomp"))


def test_migrations_are_numbered_in_order_and_unique() -> None:
    names = [m.name for m in all_migrations()]
    numbers = [int(n[:4]) for n in names]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    assert numbers == list(range(1, len(numbers) + 1))


def test_every_statement_is_idempotent_by_construction() -> None:
    for migration in all_migrations():
        for statement in migration.render("dorpspomp"):
            assert re.match(r"CREATE (DATABASE|TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS",
                            statement) or statement.startswith(("ALTER TABLE", "DROP ")), statement
            if statement.startswith("ALTER TABLE"):
                assert "IF NOT EXISTS" in statement or "IF EXISTS" in statement, statement


@pytest.mark.parametrize("table", sorted(CONTRACT_COLUMNS))
def test_every_contract_table_is_created_with_its_columns(table: str) -> None:
    ddl = rendered()
    match = re.search(rf"CREATE (?:TABLE|VIEW) IF NOT EXISTS `dorpspomp`\.{table} (?:AS\b|\()"
                      r"(.*?)(?=\nCREATE|\Z)", ddl + "\n", re.S)
    assert match, f"no CREATE for {table}"
    body = match.group(1)
    if "SELECT" in body and "FINAL" in body:  # a view over a *_state table
        state = re.search(
            rf"CREATE TABLE IF NOT EXISTS `dorpspomp`\.{table}_state \((.*?)\) ENGINE", ddl, re.S)
        assert state, f"{table} is a view over {table}_state, which is not created"
        body = state.group(1) + body
    for column in CONTRACT_COLUMNS[table]:
        assert re.search(rf"\b{column}\b", body), f"{table}.{column} missing from the DDL"


def test_contract_columns_match_the_contract_document() -> None:
    if not CONTRACT.is_file():
        pytest.skip(f"{CONTRACT} is not beside this checkout")
    text = CONTRACT.read_text()
    section = text.split("## 3.")[1].split("## 4.")[0]
    documented = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            name = cells[0].strip("`")
            columns = re.split(r",\s*", re.sub(r"\([^)]*\)", "", cells[2]))
            documented[name] = tuple(c.strip() for c in columns if c.strip())
    assert documented == CONTRACT_COLUMNS
