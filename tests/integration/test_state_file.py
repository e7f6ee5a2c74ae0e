"""A clean stop leaves the processors' state in the worker's data folder; the next start
loads it instead of replaying the answer window, and the public tables end as in a run that
never stopped. A start that cannot trust the file (a SIGKILL after it was used, offsets in
it that are not the warehouse's, a damaged or truncated file) replays and says why in its
log (`pipelines.ingest.statefile`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest import statefile
from tests import eventgen
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

COMPARED = {
    "mention_responses": "SELECT * FROM mention_responses ORDER BY mention_id",
    "alerts": "SELECT * FROM alerts ORDER BY alert_id",
}
LOADED = "restore steps: state file loaded"
NOT_LOADED = "restore steps: state file not loaded: "


def compared(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    return {name: stack.sql(query) for name, query in COMPARED.items()}


def state_file(stack: Stack) -> Path:
    return stack.home / statefile.FILE_NAME


def restore_line(stack: Stack) -> str:
    lines = [line for line in stack.log.read_text(errors="replace").splitlines()
             if "restore steps: " in line]
    assert len(lines) == 1, lines
    return lines[0]


def halves(tmp_path: Path) -> tuple[Path, Path, Path]:
    lines = eventgen.conversations(2400, seed=41)
    cut = len(lines) // 2
    paths = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "all.jsonl"
    for path, part in zip(paths, (lines[:cut], lines[cut:], lines), strict=True):
        path.write_bytes(b"\n".join(part) + b"\n")
    return paths


def test_a_clean_stop_is_loaded_at_restart_and_ends_as_one_run(kafka_broker: Any,
                                                                tmp_path: Path) -> None:
    first, second, whole = halves(tmp_path)

    stopped = Stack.fresh("sf", tmp_path / "stopped", kafka_broker.bootstrap)
    stopped.start_worker()
    try:
        stopped.cli("replay", str(first), "--quiet")
        stopped.wait_caught_up()
        assert stopped.stop_worker() == 0
        assert state_file(stopped).exists(), stopped.log.read_text()[-3000:]
        stopped.start_worker()
        assert LOADED in restore_line(stopped)
        # used once: a crash from now on must replay
        assert not state_file(stopped).exists()
        stopped.cli("replay", str(second), "--quiet")
        stopped.wait_caught_up()
        after_restart = compared(stopped)
    finally:
        stopped.stop_worker()

    once = Stack.fresh("sf", tmp_path / "once", kafka_broker.bootstrap)
    once.start_worker()
    try:
        once.cli("replay", str(whole), "--quiet")
        once.wait_caught_up()
        in_one_go = compared(once)
    finally:
        once.stop_worker()
    assert any(r["status"] == "answered" for r in in_one_go["mention_responses"])
    assert any(r["status"] == "unanswered" for r in in_one_go["mention_responses"])
    assert any(a["kind"] == "sla_breach" for a in in_one_go["alerts"])
    assert after_restart == in_one_go


def retag(path: Path, **changes: Any) -> None:
    """Rewrite the state file's tag with `changes` (its sections as they were)."""
    header, body = statefile.split(path.read_bytes())
    sections = {name: bytes(body[at:at + size])
                for name, (at, size, _) in header["sections"].items()}
    statefile.write(path, statefile.StateTag.from_json({**header, **changes}), sections)


def test_a_start_that_cannot_trust_the_file_replays_and_says_why(kafka_broker: Any,
                                                                   tmp_path: Path) -> None:
    first, second, _ = halves(tmp_path)
    stack = Stack.fresh("sf", tmp_path / "home", kafka_broker.bootstrap)
    path = state_file(stack)
    stack.start_worker()
    try:
        assert "state file not loaded: there is none" in restore_line(stack)
        stack.cli("replay", str(first), "--quiet")
        stack.wait_caught_up()
        expected = compared(stack)

        # SIGKILL after the file was loaded: nothing to load at the next start
        stack.stop_worker()
        stack.start_worker()
        assert LOADED in restore_line(stack)
        stack.kill_worker()
        assert not path.exists()
        stack.start_worker()
        assert f"{NOT_LOADED}there is none" in restore_line(stack)

        # offsets in the file that the warehouse did not record
        stack.stop_worker()
        positions = statefile.StateTag.from_json(statefile.split(path.read_bytes())[0]).positions
        partition = min(p for p, (offset, _) in positions.items() if offset > 0)
        moved = {str(p): [at[0] - (p == partition), at[1]] for p, at in positions.items()}
        retag(path, positions=moved)
        stack.start_worker()
        line = restore_line(stack)
        assert f"{NOT_LOADED}partition {partition}'s recorded offset moved" in line
        assert not path.exists()

        # a damaged file: a byte of its state changed
        stack.stop_worker()
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
        stack.start_worker()
        assert NOT_LOADED in restore_line(stack)
        assert "fails its checksum" in restore_line(stack)

        # a truncated one
        stack.stop_worker()
        path.write_bytes(path.read_bytes()[:-1000])
        stack.start_worker()
        assert "truncated" in restore_line(stack)

        # every replayed start agrees with the state the first run left
        assert compared(stack) == expected
        stack.cli("replay", str(second), "--quiet")
        stack.wait_caught_up()
        assert len(compared(stack)["mention_responses"]) > len(expected["mention_responses"])
    finally:
        stack.stop_worker()

