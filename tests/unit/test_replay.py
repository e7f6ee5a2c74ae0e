"""`dorpspomp replay` without a broker: keys, reference records, chunks, resume and summary."""

from __future__ import annotations

import hashlib
import io
import time
from contextlib import redirect_stderr
from pathlib import Path

import orjson
import pytest

from pipelines.commands import cli
from pipelines.commands.replay import (
    EXIT_INTERRUPTED,
    EXIT_NOT_SENT,
    EXIT_SENT,
    EXIT_STOPPED,
    Chunk,
    NotSent,
    Pacer,
    ReplayReport,
    chunks,
    count_lines,
    locate,
    message_key,
    read_from,
    reference_record,
)
from pipelines.ingest.decode import DeadLetter, Mention, Post, Source, decode
from pipelines.roster import Roster, load_roster
from tests import eventgen

ROOT = Path(__file__).resolve().parents[2]
SRC = Source("dorpspomp.events", 0, 7)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(ROOT / "examples" / "roster.yaml")


def post(**fields: object) -> bytes:
    doc: dict[str, object] = {"type": "post", "event_id": "p1", "platform": "facebook",
                              "created_at": "2026-03-09T08:15:00Z", "text": "Dank u."}
    doc.update(fields)
    return orjson.dumps(doc)


# -- the key ----------------------------------------------------------------------------


def test_a_post_known_only_by_its_account_id_gets_its_organisations_key(roster: Roster) -> None:
    # examples/roster.yaml lists facebook id 100064512345678 for bibliotheek-oost; the
    # post names neither the handle nor org_id (the key used to be None here).
    line = post(account={"id": "100064512345678"})
    decoded = decode(line, SRC, roster)
    assert isinstance(decoded, Post) and decoded.org_id == "bibliotheek-oost"
    assert message_key(line, roster) == b"bibliotheek-oost"


def test_a_post_matched_by_handle_whatever_its_case_gets_the_owners_key(roster: Roster) -> None:
    line = post(platform="Twitter", account={"id": "9", "handle": "@Marieke_Zutphen"})
    assert message_key(line, roster) == b"gemeente-zutphen"


def test_a_posts_own_org_id_wins_as_in_the_decoder(roster: Roster) -> None:
    line = post(org_id="dagblad-noord", account={"id": "100064512345678"})
    decoded = decode(line, SRC, roster)
    assert isinstance(decoded, Post) and decoded.org_id == "dagblad-noord"
    assert message_key(line, roster) == b"dagblad-noord"


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe",
                                  post(account={"id": "nobody-knows"}),
                                  b'{"type": "mystery"}'])
def test_a_line_the_decoder_refuses_and_cannot_place_has_no_key(line: bytes,
                                                                roster: Roster) -> None:
    assert message_key(line, roster) is None


def test_every_accepted_line_is_keyed_by_the_organisation_the_decoder_gives_it(
        roster: Roster) -> None:
    events = eventgen.build(3_000, seed=5, duplicate_share=0.1, bad_per_kind=3)
    extra = [post(account={"id": "100064512345678"}, event_id=f"id-{i}") for i in range(5)]
    accepted = 0
    for line in [*events.lines, *extra]:
        decoded = decode(line, SRC, roster)
        if isinstance(decoded, Mention | Post):
            accepted += 1
            assert message_key(line, roster) == decoded.org_id.encode(), line[:200]
    assert accepted > 2_500


# -- the reference record -------------------------------------------------------------


def test_a_reference_record_becomes_a_dead_letter_that_says_which_line_and_what_to_do(
        roster: Roster) -> None:
    line = b'{"type": "mention", "text": "' + b"x" * (9 * MIB) + b'"}'
    record = reference_record("/data/events.jsonl", 5001, line, 8 * MIB - 1024)
    assert len(record) < 2_000
    doc = orjson.loads(record)
    assert doc["sha256"] == hashlib.sha256(line).hexdigest()
    assert doc["head"].startswith('{"type": "mention", "text": "xxx') and len(doc["head"]) == 1024
    assert (doc["line"], doc["bytes"], doc["file"]) == (5001, len(line), "/data/events.jsonl")

    letter = decode(record, SRC, roster)
    assert isinstance(letter, DeadLetter)
    assert letter.error_code == "unsendable"
    assert letter.payload == record
    assert letter.error.startswith("line 5,001 of /data/events.jsonl was 9.0 MiB, over the "
                                   "8.0 MiB one Kafka message may hold")
    assert "it was not sent: split it" in letter.error


def test_a_forged_or_broken_reference_record_is_still_a_readable_dead_letter() -> None:
    letter = decode(b'{"type": "dorpspomp.unsendable", "line": "seven"}', SRC, Roster.empty())
    assert isinstance(letter, DeadLetter) and letter.error_code == "unsendable"
    assert "a line of a replayed file could not be sent" in letter.error


# -- chunks, resume -----------------------------------------------------------------------


def write(path: Path, lines: list[bytes], newline: bool = True) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline else b""))
    return path


def cut(path: Path, line: int = 1, size: int = 3, limit: int = 1000) -> list[Chunk]:
    offset = locate(path, line)
    assert offset is not None
    return list(chunks(read_from(path, offset), line, offset, file=str(path), limit=limit,
                       roster=Roster.empty(), size=size))


def event(i: int) -> bytes:
    return orjson.dumps({"type": "mention", "event_id": f"e{i}", "org_id": f"org-{i % 3}"})


def test_chunks_count_lines_and_keep_each_line_once(tmp_path: Path) -> None:
    lines = [event(i) for i in range(10)]
    lines[4] = b"   "
    lines[6] = b"{broken"
    lines[8] = b'"x' + b"y" * 2000 + b'"'
    path = write(tmp_path / "e.jsonl", lines)
    parts = cut(path)
    assert [(c.first_line, c.end_line) for c in parts] == [(1, 4), (4, 8), (8, 11)]
    assert sum(c.events for c in parts) == 8
    assert sum(c.blank for c in parts) == 1 and sum(c.unparsable for c in parts) == 1
    assert [n for c in parts for n in c.not_sent] == [NotSent(9, 2003)]
    sent = [value for c in parts for _, value, _ in c.records]
    assert sent[:4] == [lines[0], lines[1], lines[2], lines[3]]
    assert orjson.loads(sent[7])["type"] == "dorpspomp.unsendable"
    assert [key for _, (key, _, _) in zip(range(3), parts[0].records, strict=False)] == [
        b"org-0", b"org-1", b"org-2"]


def test_a_chunk_ends_where_the_next_line_starts_so_a_resume_sends_the_rest(
        tmp_path: Path) -> None:
    lines = [event(i) for i in range(23)]
    path = write(tmp_path / "e.jsonl", lines, newline=False)
    report = ReplayReport(path, "t")
    first = cut(path, size=4)
    for chunk in first[:3]:  # three chunks acknowledged, then the broker went away
        report.acknowledge(chunk, time.monotonic())
    assert report.sent == 12 and report.resume_line == 13
    assert locate(path, report.resume_line) == report.resume_offset
    rest = cut(path, line=report.resume_line, size=4)
    again = [v for c in first[:3] for _, v, _ in c.records] + [
        v for c in rest for _, v, _ in c.records]
    assert again == lines


def test_locate_and_count_lines_with_and_without_a_last_newline(tmp_path: Path) -> None:
    with_nl = write(tmp_path / "a.jsonl", [b"a", b"bb", b"ccc"])
    without = write(tmp_path / "b.jsonl", [b"a", b"bb", b"ccc"], newline=False)
    assert count_lines(with_nl) == count_lines(without) == 3
    assert [locate(with_nl, n) for n in (1, 2, 3, 4, 5)] == [0, 2, 5, 9, None]
    assert [locate(without, n) for n in (1, 2, 3, 4, 5)] == [0, 2, 5, 8, None]


# -- the report ---------------------------------------------------------------------------


def test_a_stopped_replay_says_how_far_it_got_and_how_to_resume(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    report = ReplayReport(path, "dorpspomp.events", from_line=101, resume_line=101)
    report.acknowledge(Chunk(101, 0, end_line=14_906, events=14_805, blank=0), time.monotonic())
    report.stopped = "the broker at 127.0.0.1:9092 acknowledged nothing for 60 s"
    text = report.summary()
    assert "\n" not in text
    assert text.startswith(f"stopped at line 14,906 of {path}: the broker at")
    assert "sent 14,805 events" in text and "acknowledged lines 101–14,905" in text
    assert f"resume with `dorpspomp replay {path} --from-line 14906`" in text
    assert "lines 1–100 skipped (--from-line 101)" in text
    assert report.exit_code == EXIT_STOPPED


def test_exit_codes_say_whether_everything_was_sent(tmp_path: Path) -> None:
    report = ReplayReport(tmp_path / "e.jsonl", "t")
    report.acknowledge(Chunk(1, 0, end_line=11, events=10), time.monotonic())
    assert report.exit_code == EXIT_SENT
    assert report.summary().startswith("sent 10 events from")
    report.limit = 8 * MIB - 1024
    report.acknowledge(Chunk(11, 0, end_line=12, not_sent=[NotSent(11, 9 * MIB)]),
                       time.monotonic())
    assert report.exit_code == EXIT_NOT_SENT
    assert ("1 line was not sent, over the 8.0 MiB one Kafka message may hold: line 11 "
            "(9.0 MiB)") in report.summary()
    report.interrupted, report.stopped = True, "interrupted"
    assert report.exit_code == EXIT_INTERRUPTED


def test_the_pacer_keeps_the_rate_and_does_not_burst_after_a_stall() -> None:
    pacer = Pacer(1000.0)
    assert pacer.chunk_size() == 50
    assert pacer.delay(50) <= 0.0  # the first chunk goes at once
    assert 0.04 < pacer.delay(50) <= 0.05  # the second one 50 ms later
    pacer.start -= 30.0  # as if the sender had been held up for 30 s
    at_once = 0
    while pacer.delay(50) <= 0:
        at_once += 1
    assert 20 <= at_once <= 21, "it catches up one second's worth, not thirty"
    assert Pacer(None).delay(10_000) == 0.0


# -- the command --------------------------------------------------------------------------


def test_replay_of_a_directory_says_what_to_pass_instead(tmp_path: Path) -> None:
    (tmp_path / "monday.jsonl").write_bytes(event(1) + b"\n")
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(["replay", str(tmp_path), "--quiet"])
    assert code == 2
    message = err.getvalue()
    assert f"{tmp_path} is a directory; pass one .jsonl file, e.g. {tmp_path}/monday.jsonl" in (
        message)


def test_a_from_line_past_the_end_is_refused_before_connecting(tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", [event(1), event(2)])
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(["replay", str(path), "--from-line", "9", "--quiet"])
    assert code == 2 and "--from-line 9" in err.getvalue() and "has only 2 lines" in (
        err.getvalue())
    with redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        cli.main(["replay", str(path), "--from-line", "0"])


def test_every_replay_option_has_help_text() -> None:
    parser = cli.build_parser()
    replay = next(a for a in parser._subparsers._actions  # type: ignore[union-attr]
                  if a.choices and "replay" in a.choices).choices["replay"]
    options = [a for a in replay._actions if a.dest != "help"]
    assert {a.dest for a in options} >= {"file", "rate", "quiet", "from_line", "broker_wait"}
    assert all(a.help and len(a.help) > 10 for a in options), [
        a.dest for a in options if not a.help]
