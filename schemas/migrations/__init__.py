"""Numbered, forward-only, idempotent ClickHouse migrations.

Each module `NNNN_name.py` holds `STATEMENTS`: a sequence of SQL strings with
`{db}` standing for the database name. The runner in `pipelines.warehouse`
applies the ones not yet recorded in `schema_migrations`, in order, and every
statement is written so that running it twice changes nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+$")


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]

    def render(self, database: str) -> list[str]:
        return [s.format(db=f"`{database}`") for s in self.statements]


def all_migrations() -> list[Migration]:
    """Every migration shipped with dorpspomp, oldest first."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not _NAME.match(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        statements: Sequence[str] = module.STATEMENTS
        found.append(Migration(info.name, tuple(statements)))
    return sorted(found, key=lambda m: m.name)
