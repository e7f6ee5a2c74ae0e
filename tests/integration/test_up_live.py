"""The README's start command: `dorpspomp up --simulate` (what `make demo` runs) leaves a
new user with a dashboard of live data.

The stack runs as a user starts it, against the session's real broker: the worker, the
dashboard and the live simulation as children of `dorpspomp up`. The test waits for the
dashboard to answer, sees the warehouse grow while it watches, renders the page a user
lands on with the stack's settings, and stops everything with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.integration.harness import ROOT, Stack, free_port

pytestmark = pytest.mark.integration

APP = ROOT / "dashboard" / "app.py"


def dashboard_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return bool(r.read().strip() == b"ok")
    except OSError:
        return False


def mentions(stack: Stack) -> int:
    result = stack.cli("sql", "SELECT count() AS n FROM mentions", "--format", "json",
                       check=False)
    if result.returncode != 0:
        return -1
    import json

    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return int(rows[0]["n"])


def test_up_simulate_serves_a_dashboard_of_live_data(
    kafka_broker: Any, fresh_topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = Stack(home=tmp_path / "home", bootstrap=kafka_broker.bootstrap,
                  topic=fresh_topic_name, group=f"{fresh_topic_name}.group", roster=None)
    port = free_port()
    env = {**stack.env, "DORPSPOMP_DASHBOARD_PORT": str(port)}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "pipelines.commands.cli", "up", "--simulate", "--history", "0",
         "--rate", "200", "--speedup", "120"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not dashboard_answers(port):
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "the dashboard did not answer within 120 s"
            time.sleep(0.5)

        # Live: the warehouse fills while we watch.
        deadline = time.monotonic() + 90
        first = mentions(stack)
        while first <= 0:
            assert time.monotonic() < deadline, "no mentions arrived within 90 s"
            time.sleep(1)
            first = mentions(stack)
        time.sleep(5)
        assert mentions(stack) > first

        # The page a new user lands on, read with the stack's own settings.
        for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
            monkeypatch.delenv(name)
        for name, value in stack.env.items():
            if name.startswith("DORPSPOMP_"):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("DORPSPOMP_ROSTER", str(stack.home / "simulated.roster.yaml"))
        at = AppTest.from_file(str(APP), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.warning, [w.value for w in at.warning]
        shown = at.dataframe[-1].value.to_dict("records")  # the overview, below triage
        assert len(shown) == 60  # every simulated organisation has its row
        assert sum(row["Last hour"] for row in shown) > 0  # and they are talking now
    finally:
        up.send_signal(signal.SIGINT)
        try:
            code = up.wait(90)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    assert "stopping" in (tmp_path / "up.log").read_text()
