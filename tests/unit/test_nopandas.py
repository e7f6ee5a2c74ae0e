"""The worker's processes do without pandas: the library calls that imported it still work."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from pipelines.ingest.nopandas import refuse_pandas
    assert refuse_pandas()
    import pyarrow as pa
    import polars as pl
    from clickhouse_connect.driver import options

    # pyarrow converts Python lists and gives datetimes (both imported pandas to look
    # for its types)
    assert pa.array([3, None, 5], pa.int64()).to_pylist() == [3, None, 5]
    stamp = pa.scalar(1_700_000_000_000, pa.timestamp("ms", tz="UTC")).as_py()
    assert stamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc), stamp
    # clickhouse-connect's insert asks whether the data is a DataFrame
    assert options.pd is None
    assert pl.DataFrame({"a": [1, 2]}).to_arrow().num_rows == 2
    assert "pandas" not in sys.modules
    try:
        import pandas  # noqa: F401
    except ModuleNotFoundError as exc:
        assert "nopandas" in str(exc), exc
    else:
        raise AssertionError("pandas was imported")
    print("ok")
""")


def test_the_libraries_work_on_without_pandas_once_it_is_refused() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_process_that_has_pandas_keeps_it() -> None:
    check = ("import pandas, sys\n"
             "from pipelines.ingest.nopandas import refuse_pandas\n"
             "assert not refuse_pandas()\n"
             "import pandas.api.types\n"
             "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
