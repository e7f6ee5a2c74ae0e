"""The worker's decode step as columns: the same labels as the per-mention step, the same
batch from a decode process as from the worker itself, the first copy of an event kept."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from pipelines.ingest.batch import mention_objects
from pipelines.ingest.batchconsumer import RawMessages
from pipelines.ingest.columnar import decode_batch
from pipelines.ingest.decoder import BatchDecoder, FallbackClassifier, decode_messages
from pipelines.ingest.enrich import label_mentions, label_table
from pipelines.ingest.seenids import digests
from pipelines.ingest.sink import first_copies, mentions_table
from pipelines.roster import Roster, load_roster
from pipelines.textmodel.classify import load_classifier
from tests import eventgen

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "dorpspomp.events"
NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(ROOT / "examples" / "roster.yaml")


def messages(lines: list[bytes], partitions: int = 3) -> list[tuple[int, int, bytes | None]]:
    return [(i % partitions, i // partitions, line) for i, line in enumerate(lines)]


def test_labels_as_columns_are_the_labels_of_the_per_mention_step(roster: Roster) -> None:
    """Upstream labels win, each of the two on its own; the model fills the rest, and
    `labels_source` says who set them."""
    rng = eventgen.random.Random(3)
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    docs = []
    texts = ["Al drie dagen geen reactie, waardeloze service!", "Dank jullie, top geholpen",
             "What time does the library open on Sunday?", "Worst airline ever, lost my bag"]
    for i in range(600):
        doc = eventgen.mention(f"lab-{i}", "gemeente-zutphen", t + timedelta(seconds=i), rng,
                               text=texts[i % 4], lang=("nl", "en", None)[i % 3])
        doc.pop("sentiment", None)
        doc.pop("complaint", None)
        if i % 5 == 1:
            doc["sentiment"] = -0.5
        if i % 5 == 2:
            doc["complaint"] = False
        if i % 5 == 3:
            doc["sentiment"], doc["complaint"] = 0.25, True
        docs.append(orjson.dumps(doc))
    stamps = [1_798_000_000_000] * len(docs)
    decoded = decode_batch(TOPIC, [0] * len(docs), list(range(len(docs))), docs, stamps, roster,
                           ingested_at=NOW)
    classifier = load_classifier()
    labelled = label_table(decoded.mentions, classifier)
    expected = mention_objects(decoded.mentions, TOPIC)
    label_mentions(expected, classifier)
    assert labelled.schema == decoded.mentions.schema
    got = mention_objects(labelled, TOPIC)
    assert [(m.sentiment, m.complaint, m.labels_source) for m in got] == [
        (pytest.approx(m.sentiment, abs=1e-6), m.complaint, m.labels_source) for m in expected]
    sources = {m.labels_source for m in got}
    assert sources == {"model", "mixed", "upstream"}
    assert got[3].sentiment == 0.25 and got[3].complaint is True  # upstream kept
    assert got[1].sentiment == -0.5 and got[2].complaint is False


def test_a_repeated_text_gets_the_labels_the_classifier_gives_it_in_the_whole_batch(
        roster: Roster) -> None:
    """Labels as columns score each distinct (text, lang) once: every row still gets exactly
    the labels of one classifier call over all of them, a text under two language tags (or
    none, or none at all) its own for each."""
    rng = eventgen.random.Random(8)
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    texts = ["Al drie dagen geen reactie, waardeloze service!", "Dank jullie, top geholpen",
             "Storing bij KPN, alweer. Hoe lang nog?!", "Worst airline ever, lost my bag", ""]
    docs = []
    for i in range(900):
        doc = eventgen.mention(f"rep-{i}", "gemeente-zutphen", t + timedelta(seconds=i), rng,
                               text=rng.choice(texts), lang=rng.choice(("nl", "en", None)))
        if i % 7 == 0:
            doc.pop("text")
        if i % 11 == 0:
            doc["text"] = f"een eigen tekst {i}"
        docs.append(orjson.dumps(doc))
    decoded = decode_batch(TOPIC, [0] * len(docs), list(range(len(docs))), docs,
                           [1_798_000_000_000] * len(docs), roster, ingested_at=NOW)
    classifier = load_classifier()
    flags, scores = classifier.score(decoded.mentions["text"].to_pylist(),
                                     decoded.mentions["lang"].to_pylist())
    labelled = label_table(decoded.mentions, classifier)
    assert labelled["complaint"].to_pylist() == flags
    assert labelled["sentiment"].to_pylist() == np.asarray(scores, np.float32).tolist()
    assert set(labelled["labels_source"].to_pylist()) == {"model"}


def test_a_decode_process_gives_the_batch_the_worker_would_decode(roster: Roster) -> None:
    events = eventgen.build(1500, seed=11, bad_per_kind=2)
    batch = messages(events.lines)
    stamps: list[float | None] = [1_798_000_000.0] * len(batch)
    stamps[5] = None
    decoder = BatchDecoder(roster, load_classifier(), timedelta(days=1), processes=1)
    try:
        decoder.start()
        remote = decoder.submit(TOPIC, batch, stamps).result(timeout=120)
    finally:
        decoder.close()
    here = decode_messages(TOPIC, batch, stamps, roster, load_classifier(), timedelta(days=1))
    assert remote.mentions.num_rows + remote.posts.num_rows > 1000
    for name in ("mentions", "posts"):
        a, b = getattr(remote, name), getattr(here, name)
        # ingested_at (and the fallback Kafka time of the unstamped message) is each
        # process's own clock
        keep = [c for c in a.column_names if c not in ("ingested_at", "kafka_timestamp")]
        assert a.select(keep).equals(b.select(keep)), name
    assert [(d.source, d.error_code, d.error) for d in remote.dead_letters] == [
        (d.source, d.error_code, d.error) for d in here.dead_letters]
    assert len(remote.dead_letters) == sum(events.bad.values()) + events.blank
    ids = remote.mentions["event_id"].to_pylist() + remote.posts["event_id"].to_pylist()
    assert remote.digests is not None and remote.digests.tolist() == digests(ids).tolist()
    assert remote.next_offsets == here.next_offsets == {
        p: max(o for q, o, _ in batch if q == p) + 1 for p in range(3)}


def test_a_batch_handed_over_as_columns_decodes_as_its_messages_one_by_one(
        roster: Roster) -> None:
    """The batch consumer hands over `RawMessages` (values joined in one buffer) and the
    timestamps as an array: the same rows and dead letters as the (partition, offset,
    value) list, through a decode process too; bad lines, an absent value and line breaks
    inside values included."""
    events = eventgen.build(1200, seed=5, bad_per_kind=2)
    batch = messages(events.lines)
    batch[7] = (batch[7][0], batch[7][1], None)
    batch[9] = (batch[9][0], batch[9][1], b'{"type": "mention",\n "event_id": "x"}')
    stamps: list[float | None] = [1_798_000_000.0 + i / 1000 for i in range(len(batch))]
    stamps[4], stamps[6] = None, -1.0
    columns = RawMessages.of(batch)
    assert list(columns) == [(p, o, v if v is not None else b"") for p, o, v in batch]
    assert columns[2:4] == [columns[2], columns[3]]
    seconds = np.array([np.nan if t is None else t for t in stamps])
    here = decode_messages(TOPIC, batch, stamps, roster, load_classifier(), timedelta(days=1))
    decoder = BatchDecoder(roster, load_classifier(), timedelta(days=1), processes=1)
    try:
        remote = decoder.submit(TOPIC, columns, seconds).result(timeout=120)
    finally:
        decoder.close()
    for got in (remote, decode_messages(TOPIC, columns, seconds, roster, load_classifier(),
                                        timedelta(days=1))):
        for name in ("mentions", "posts"):
            a, b = getattr(got, name), getattr(here, name)
            keep = [c for c in a.column_names if c not in ("ingested_at", "kafka_timestamp")]
            assert a.select(keep).equals(b.select(keep)), name
        assert [(d.source, d.payload, d.error_code, d.error) for d in got.dead_letters] == [
            (d.source, d.payload, d.error_code, d.error) for d in here.dead_letters]
        assert got.next_offsets == here.next_offsets
        assert got.digests is not None and here.digests is not None
        assert got.digests.tolist() == here.digests.tolist()
    codes = [d.error_code for d in here.dead_letters]
    assert "empty" in codes and len(codes) == sum(events.bad.values()) + events.blank + 2


def test_a_decoder_without_processes_decodes_in_place(roster: Roster) -> None:
    events = eventgen.build(50, seed=2, bad_per_kind=0, duplicate_share=0)
    decoder = BatchDecoder(roster, load_classifier(), timedelta(days=1))
    assert decoder.pool is None
    batch = decoder.submit(TOPIC, messages(events.lines), None).result()
    assert batch.mentions.num_rows + batch.posts.num_rows == len(events.mentions) + len(
        events.posts)


def test_the_fallback_classifier_loads_at_its_first_batch_and_labels_as_the_model(
        roster: Roster) -> None:
    """A worker with a decode process keeps no model of its own until it has to label (its
    decode process died); then its labels are the model's."""
    loads: list[int] = []

    def load() -> object:
        loads.append(1)
        return load_classifier()

    fallback = FallbackClassifier(load)  # type: ignore[arg-type]
    decoder = BatchDecoder(roster, fallback, timedelta(days=1), processes=0)
    assert not fallback.loaded and loads == []
    events = eventgen.build(300, seed=4, bad_per_kind=0, duplicate_share=0)
    stamps: list[float | None] = [1_798_000_000.0] * len(events.lines)
    first = decoder.decode(TOPIC, messages(events.lines), stamps)
    decoder.decode(TOPIC, messages(events.lines), stamps)
    assert fallback.loaded and loads == [1]
    model = decode_messages(TOPIC, messages(events.lines), stamps, roster, load_classifier(),
                            timedelta(days=1))
    assert first.mentions.num_rows > 100
    for column in ("complaint", "sentiment"):
        assert first.mentions[column].to_pylist() == model.mentions[column].to_pylist()


def test_the_first_copy_by_partition_and_offset_is_kept_across_mentions_and_posts(
        roster: Roster) -> None:
    rng = eventgen.random.Random(5)
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    first = eventgen.mention("dup-1", "gemeente-zutphen", t, rng, text="first copy")
    later = dict(first, text="later copy")
    as_post = eventgen.post("dup-2", "gemeente-zutphen", t, rng)
    as_mention = eventgen.mention("dup-2", "gemeente-zutphen", t, rng, text="mention copy")
    lines = [(1, 7, orjson.dumps(later)), (0, 3, orjson.dumps(as_post)),
             (1, 2, orjson.dumps(first)), (0, 9, orjson.dumps(as_mention)),
             (0, 4, orjson.dumps(eventgen.mention("solo", "gemeente-zutphen", t, rng)))]
    decoded = decode_batch(TOPIC, [m[0] for m in lines], [m[1] for m in lines],
                           [m[2] for m in lines], [1_798_000_000_000] * len(lines), roster,
                           per_message_below=0)
    mentions, posts, dropped = first_copies(decoded.mentions, decoded.posts)
    assert dropped == 2
    # in (partition, offset) order; the later copy of dup-1 (1, 7) and the mention copy of
    # dup-2 (0, 9), after its post (0, 3), are gone
    assert mentions["event_id"].to_pylist() == ["solo", "dup-1"]
    assert mentions["text"][1].as_py() == "first copy"
    assert posts["event_id"].to_pylist() == ["dup-2"]
    assert first_copies(mentions_table([], NOW), posts) == (mentions_table([], NOW), posts, 0)


PARENT = """
import sys
from datetime import timedelta
from pipelines.textmodel.classify import LexiconClassifier
from pipelines.ingest.decoder import BatchDecoder
from pipelines.roster import Roster
decoder = BatchDecoder(Roster.empty(), LexiconClassifier(), timedelta(days=1), processes=1)
decoder.submit("t", [], None).result(timeout=120)
print(*decoder.pool._processes, flush=True)
sys.stdin.read()
"""


def test_a_decode_process_ends_when_its_worker_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        (child,) = (int(pid) for pid in parent.stdout.readline().split())
        assert Path(f"/proc/{child}").exists()
    finally:
        parent.kill()  # SIGKILL: no pool shutdown, no atexit
        parent.wait()
    for _ in range(100):
        if not alive(child):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"decode process {child} outlived its killed worker")


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False
