"""docs/contract.md and docs/design.md are the repository's contract and design: the
contract's commands and settings are the code's, and the README points there."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

from pipelines.commands.cli import build_parser
from pipelines.settings import Settings
from tests.contractdoc import CONTRACT, commands, public_columns, variables

ROOT = Path(__file__).resolve().parents[2]


def test_the_contract_lists_every_command_of_dorpspomp_and_no_other() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(commands()) == sorted(sub.choices)


def test_every_setting_the_contract_names_is_one_dorpspomp_reads() -> None:
    read = {f.metadata["env"] for f in fields(Settings) if "env" in f.metadata}
    named = variables()
    assert {"DORPSPOMP_HOME", "DORPSPOMP_KAFKA", "DORPSPOMP_WAREHOUSE",
            "DORPSPOMP_ROSTER"} <= named
    assert named <= read, named - read


def test_the_readme_links_the_docs_and_no_document_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/contract.md)" in readme and "(docs/design.md)" in readme
    assert not re.search(r"\b(CONTRACT|DESIGN)\.md", readme)
    for doc in (CONTRACT, ROOT / "docs" / "design.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if not target.startswith("http"):
                assert (doc.parent / target).exists(), f"{doc.name} links {target}"


def test_the_parser_of_the_table_of_tables_reads_notes_and_views() -> None:
    text = ("## 3. Tables\n\n| table | one row per | columns at least |\n|---|---|---|\n"
            "| `a` | x | id, status (`open`/`closed`), n |\n| `v` | y | id |\n\n## 4. Next\n"
            "| `b` | z | q |\n")
    assert public_columns(text) == {"a": ("id", "status", "n"), "v": ("id",)}
