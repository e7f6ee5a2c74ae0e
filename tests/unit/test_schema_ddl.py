"""The rendered DDL covers every public table and column of docs/contract.md §3."""

from __future__ import annotations

import re

import pytest

from schemas.migrations import all_migrations
from schemas.tables import CONTRACT_COLUMNS, PUBLIC_VIEWS
from tests.contractdoc import public_columns


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
                # setting a table setting to a value twice leaves it at that value
                assert ("IF NOT EXISTS" in statement or "IF EXISTS" in statement
                        or re.search(r" MODIFY SETTING \w+ = \w+$", statement)), statement


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
    """docs/contract.md §3 lists the public tables and views with exactly the columns
    `schemas/tables.py` promises (the integration test holds the warehouse to it)."""
    assert public_columns() == {**CONTRACT_COLUMNS, **PUBLIC_VIEWS}


@pytest.mark.parametrize("view", sorted(PUBLIC_VIEWS))
def test_every_public_view_is_created_with_its_columns(view: str) -> None:
    ddl = rendered()
    bodies = re.findall(rf"CREATE VIEW IF NOT EXISTS `dorpspomp`\.{view} AS(.*?)(?=\nCREATE|\Z)",
                        ddl + "\n", re.S)
    assert bodies, f"no CREATE VIEW for {view}"
    for column in PUBLIC_VIEWS[view]:
        assert re.search(rf"\bAS {column}\b", bodies[-1]), f"{view}.{column} missing"
