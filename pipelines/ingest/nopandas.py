"""pandas kept out of the worker's processes.

Nothing the worker runs uses pandas, but two of its libraries import it on the side when it
is installed (it is, for the dashboard): pyarrow the first time it converts a Python list or
turns a timestamp into a `datetime` (to look for pandas types), clickhouse-connect on its
first insert (to see whether the data is a DataFrame). That import cost each such process
~0.4 s of CPU (1.3 s before the installed packages had bytecode) and resident memory: an
empty worker 472 against 440 MiB, its decode process 203 against 181 MiB (/proc, a worker
on the example roster, 2026-12-05).

`refuse_pandas()` makes `import pandas` in this process fail as if it were not installed;
both libraries take that as "no pandas" and go on. The worker calls it first thing, and so
do its decode and step processes (`pipelines.ingest.decoder`,
`pipelines.processing.childstep`). A process that imported pandas already keeps it.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType


class _Refused(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (the worker's processes do without pandas: "
                "pipelines.ingest.nopandas)", name=fullname)
        return None


def refuse_pandas() -> bool:
    """Refuse imports of pandas from now on in this process; False if it is imported
    already (then nothing changes)."""
    if "pandas" in sys.modules:
        return False
    if not any(isinstance(finder, _Refused) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Refused())
    return True
