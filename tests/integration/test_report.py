"""The weekly client report on a replayed fortnight: replay → worker → chDB → report.

A worker fills an embedded warehouse with generated conversations over the
weeks 2026-W09 and 2026-W10 (and a little beyond), a complaint burst at
Gemeente Zutphen in W10, and mentions placed on the edges of the week on the
client's clock (Europe/Amsterdam). The report of W10 is then made three ways
— the model through `DashboardData`, `dorpspomp report` to .html and .pdf
while the worker runs, and the dashboard page — and every figure is checked
against SQL written here, independently of `dashboard.report.queries`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from dashboard.data import DashboardData
from dashboard.figures import format_seconds
from dashboard.report.model import WeeklyReport, collect_report
from dashboard.report.week import IsoWeek
from pipelines.roster import load_roster
from pipelines.serving.readapi import WarehouseReader
from pipelines.settings import Settings
from tests import eventgen
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

APP = ROOT / "dashboard" / "app.py"
ORG = "gemeente-zutphen"  # Europe/Amsterdam in examples/roster.yaml, SLA 30 min
WEEK = "2026-W10"
# Monday 2 March 00:00 to Monday 9 March 00:00 in Amsterdam (UTC+1 in March before the 29th).
START = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
END = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
PREVIOUS_START = START - timedelta(days=7)
BURST_START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _mention(event_id: str, at: datetime, **extra: Any) -> bytes:
    doc = {"type": "mention", "event_id": event_id, "org_id": ORG, "platform": "twitter",
           "created_at": _ts(at), "kind": "mention", "text": "Wanneer is het loket open?",
           "author": {"id": f"edge-{event_id}", "handle": f"edge_{event_id}",
                      "followers": 1000}}
    doc.update(extra)
    return orjson.dumps(doc)


def events() -> list[bytes]:
    """Conversations from 19 February (the surge detector's warm-up) to 11 March, a burst of
    complaints on Wednesday of W10, and one mention on each side of both week edges."""
    timed = [(datetime.fromisoformat(orjson.loads(line)["created_at"].replace("Z", "+00:00")),
              line)
             for line in eventgen.conversations(1500, seed=23, days=20,
                                                start=datetime(2026, 2, 19, 6, tzinfo=UTC))]
    for i in range(200):
        at = BURST_START + timedelta(seconds=3 * i)
        timed.append((at, _mention(
            f"burst-{i}", at, text="Het loket is al de hele week dicht, schandalig!",
            complaint=True, sentiment=-0.8,
            author={"id": f"burst{i % 90}", "handle": f"boos{i % 90}", "followers": 50 + i})))
    ms = timedelta(milliseconds=1)
    for name, at in (("sun-before", START - ms), ("mon-first", START),
                     ("sun-last", END - ms), ("mon-after", END)):
        timed.append((at, _mention(name, at)))
    timed.sort(key=lambda pair: pair[0])
    return [line for _, line in timed]


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("report")
    s = Stack.fresh("r", home / "home", kafka_broker.bootstrap)
    s.start_worker()
    try:
        path = home / "events.jsonl"
        path.write_bytes(b"\n".join(events()) + b"\n")
        s.cli("replay", str(path), "--quiet")
        s.wait_caught_up()
        yield s
    finally:
        s.stop_worker()


@pytest.fixture
def reader(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseReader]:
    """The stack's settings in this process's environment (as `dorpspomp up` gives the
    dashboard), and a reader of our own for the expected figures."""
    for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
        monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("DORPSPOMP_"):
            monkeypatch.setenv(name, value)
    own = WarehouseReader(Settings.from_env())
    yield own
    own.close()


def text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def rows(reader: WarehouseReader, sql: str, **parameters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = reader.query(sql, parameters or None).to_pylist()
    return found


def one(reader: WarehouseReader, sql: str, start: datetime, end: datetime) -> dict[str, Any]:
    (row,) = rows(reader, sql, o=ORG, s=text(start), e=text(end))
    return row


IN_RANGE = ("org_id = {o:String} AND created_at >= {s:DateTime64(3, 'UTC')} "
            "AND created_at < {e:DateTime64(3, 'UTC')}")


def expected_week(reader: WarehouseReader, start: datetime, end: datetime) -> dict[str, Any]:
    """A week's figures, straight from the tables."""
    volume = one(reader, "SELECT count() AS mentions, countIf(complaint) AS complaints, "
                         "countIf(kind = 'share') AS shares, uniqExact(author_id) AS authors "
                         f"FROM mentions WHERE {IN_RANGE}", start, end)
    posts = one(reader, "SELECT count() AS posts, countIf(kind = 'reply' OR in_reply_to IS NOT "
                        f"NULL) AS replies FROM posts WHERE {IN_RANGE}", start, end)
    # potential_reach: per minute, the followers of that minute's distinct authors.
    reach = one(reader, "SELECT sum(f) AS reach FROM (SELECT toStartOfMinute(created_at) AS m, "
                        "author_id, max(author_followers) AS f FROM mentions "
                        f"WHERE {IN_RANGE} GROUP BY m, author_id)", start, end)
    responses = one(
        reader,
        "SELECT count() AS actionable, countIf(status = 'answered') AS answered, "
        "quantileExactIf(0.5)(response_seconds, status = 'answered') AS median, "
        "quantileExactIf(0.5)(business_response_seconds, status = 'answered') AS business, "
        "countIf(status = 'answered' AND NOT sla_breached) AS within, "
        "countIf(sla_breached) AS breached "
        f"FROM mention_responses WHERE {IN_RANGE}", start, end)
    surges = one(reader, "SELECT count() AS surges FROM alerts WHERE org_id = {o:String} "
                         "AND kind = 'complaint_surge' AND opened_at >= {s:DateTime64(3, 'UTC')} "
                         "AND opened_at < {e:DateTime64(3, 'UTC')}", start, end)
    return {**volume, **posts, **reach, **responses, **surges}


def expected_days(reader: WarehouseReader) -> dict[date, dict[str, int]]:
    found = rows(reader, "SELECT toDate(created_at, 'Europe/Amsterdam') AS day, count() AS n, "
                         f"countIf(complaint) AS c FROM mentions WHERE {IN_RANGE} GROUP BY day",
                 o=ORG, s=text(START), e=text(END))
    return {r["day"]: {"mentions": r["n"], "complaints": r["c"]} for r in found}


def expected_surges(reader: WarehouseReader) -> list[dict[str, Any]]:
    return rows(reader, "SELECT alert_id, summary, sample_event_ids FROM alerts "
                        "WHERE org_id = {o:String} AND kind = 'complaint_surge' "
                        "AND opened_at >= {s:DateTime64(3, 'UTC')} "
                        "AND opened_at < {e:DateTime64(3, 'UTC')} ORDER BY opened_at, alert_id",
                o=ORG, s=text(START), e=text(END))


def expected_voices(reader: WarehouseReader) -> list[str]:
    found = rows(reader, "SELECT author_handle FROM influencers WHERE org_id = {o:String} "
                         "AND author_id IN (SELECT author_id FROM mentions "
                         f"WHERE {IN_RANGE}) ORDER BY influence DESC, author_handle LIMIT 10",
                 o=ORG, s=text(START), e=text(END))
    return [r["author_handle"] for r in found]


def within_share(figures: dict[str, Any]) -> float:
    return float(figures["within"] / (figures["within"] + figures["breached"]))


def made(reader: WarehouseReader) -> WeeklyReport:
    settings = Settings.from_env()
    data = DashboardData(reader, load_roster(settings.roster))
    return collect_report(data, ORG, IsoWeek.parse(WEEK))


# -- the model ---------------------------------------------------------------------------


def test_the_reports_figures_equal_the_warehouses(reader: WarehouseReader) -> None:
    report = made(reader)
    week = expected_week(reader, START, END)
    before = expected_week(reader, PREVIOUS_START, START)
    assert week["mentions"] > 100 and before["mentions"] > 50 and week["surges"] >= 1

    assert (report.start, report.end, report.state) == (START, END, "complete")
    for volume, figures in ((report.volume, week), (report.previous_volume, before)):
        assert (volume.mentions, volume.complaints, volume.shares, volume.authors) == (
            figures["mentions"], figures["complaints"], figures["shares"], figures["authors"])
        assert (volume.posts, volume.replies) == (figures["posts"], figures["replies"])
        assert volume.potential_reach == figures["reach"]
    for responses, figures in ((report.responses, week), (report.previous_responses, before)):
        assert (responses.actionable, responses.answered) == (figures["actionable"],
                                                              figures["answered"])
        assert responses.median_response_seconds == figures["median"]
        assert responses.median_business_seconds == figures["business"]
        assert responses.within_sla_share == pytest.approx(within_share(figures))
    assert report.surge_count.current == week["surges"]

    days = expected_days(reader)
    assert [d.day for d in report.days] == [date(2026, 3, 2) + timedelta(days=i)
                                            for i in range(7)]
    for day in report.days:
        found = days.get(day.day, {"mentions": 0, "complaints": 0})
        assert (day.mentions, day.complaints) == (found["mentions"], found["complaints"])
    # The edges: Monday 00:00 local is the week's, Sunday 23:59:59.999 the week before's.
    edges = rows(reader, "SELECT event_id, toDate(created_at, 'Europe/Amsterdam') AS day "
                         "FROM mentions WHERE event_id IN ('sun-before', 'mon-first', "
                         "'sun-last', 'mon-after') ORDER BY created_at")
    assert [str(r["day"]) for r in edges] == ["2026-03-01", "2026-03-02", "2026-03-08",
                                              "2026-03-09"]

    surges = expected_surges(reader)
    assert [s.alert_id for s in report.surges] == [s["alert_id"] for s in surges]
    assert [s.summary for s in report.surges] == [s["summary"] for s in surges]
    for surge, found in zip(report.surges, surges, strict=True):
        assert sorted(m.event_id for m in surge.samples) == sorted(found["sample_event_ids"])
    assert any(m.event_id.startswith("burst-") for s in report.surges for m in s.samples)
    assert [v.author_handle for v in report.voices] == expected_voices(reader)


# -- the command and its files -----------------------------------------------------------


class Page(HTMLParser):
    """The text of an HTML file and its table rows as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).split("\n")[0].strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def test_dorpspomp_report_writes_the_same_figures_to_html_and_pdf(
        stack: Stack, reader: WarehouseReader, tmp_path: Path) -> None:
    week = expected_week(reader, START, END)
    before = expected_week(reader, PREVIOUS_START, START)
    surges = expected_surges(reader)
    html_file, pdf_file = tmp_path / "zutphen.html", tmp_path / "zutphen.pdf"

    done = stack.cli("report", "--org", ORG, "--week", WEEK, "--out", str(html_file))
    assert f"wrote {html_file}: Gemeente Zutphen, week {WEEK} (complete)" in done.stdout
    page = Page()
    page.feed(html_file.read_text(encoding="utf-8"))
    page.close()
    assert "svg" in page.tags and not {"script", "link", "img"} & page.tags
    figures = {r[0]: r[1:] for r in page.rows if r}
    assert figures["Mentions"][:2] == [f"{week['mentions']:,}", f"{before['mentions']:,}"]
    assert figures["Complaints"][:2] == [f"{week['complaints']:,}", f"{before['complaints']:,}"]
    assert figures["Potential reach"][:2] == [f"{week['reach']:,}", f"{before['reach']:,}"]
    assert figures["Actionable mentions"][:2] == [f"{week['actionable']:,}",
                                                  f"{before['actionable']:,}"]
    assert figures["Median first response"][:2] == [format_seconds(week["median"]),
                                                    format_seconds(before["median"])]
    assert figures["Median first response, business hours"][0] == format_seconds(
        week["business"])
    assert figures["Within SLA"][:2] == [f"{within_share(week):.1%}",
                                         f"{within_share(before):.1%}"]
    assert figures["Complaint surges"][0] == f"{week['surges']:,}"
    days = expected_days(reader)
    assert figures["Wed 4 Mar"][:2] == [f"{days[date(2026, 3, 4)]['mentions']:,}",
                                        f"{days[date(2026, 3, 4)]['complaints']:,}"]
    shown = " ".join(page.text)
    for surge in surges:
        assert surge["summary"] in shown
    for handle in expected_voices(reader):
        assert f"@{handle}" in shown

    stack.cli("report", "--org", ORG, "--week", WEEK, "--out", str(pdf_file))
    pdf = PdfReader(io.BytesIO(pdf_file.read_bytes()))
    extracted = re.sub(r"[ \t]+", " ", "\n".join(p.extract_text() or "" for p in pdf.pages))
    assert f"Mentions {week['mentions']:,} {before['mentions']:,}" in extracted
    assert f"Complaints {week['complaints']:,} {before['complaints']:,}" in extracted
    assert (f"Within SLA {within_share(week):.1%} {within_share(before):.1%}") in extracted
    assert "Weekly report: Gemeente Zutphen" in extracted
    assert surges[0]["summary"].split(",")[0] in extracted


def test_dorpspomp_report_says_what_is_wrong_and_reports_an_empty_week(
        stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    wrong = stack.cli("report", "--org", "gemeente-zutfen", "--week", WEEK, "--out", str(out),
                      check=False)
    assert wrong.returncode == 2 and not out.exists()
    assert "no client 'gemeente-zutfen' in the roster or the warehouse" in wrong.stderr
    assert "gemeente-zutphen" in wrong.stderr
    bad = stack.cli("report", "--org", ORG, "--week", "2026-10", "--out", str(out), check=False)
    assert bad.returncode == 2 and "is not an ISO week" in bad.stderr and "2026-W10" in bad.stderr
    docx = stack.cli("report", "--org", ORG, "--week", WEEK, "--out", str(tmp_path / "r.docx"),
                     check=False)
    assert docx.returncode == 2 and "name the file .html or .pdf" in docx.stderr

    empty = stack.cli("report", "--org", ORG, "--week", "2026-W02", "--out", str(out))
    assert "no mentions, posts or alerts in this week" in empty.stdout
    assert "No mentions, posts or alerts of Gemeente Zutphen in week 2026-W02." in (
        out.read_text(encoding="utf-8"))


# -- the page ----------------------------------------------------------------------------


def test_the_report_page_shows_the_warehouses_figures(reader: WarehouseReader) -> None:
    week = expected_week(reader, START, END)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["org"] = ORG
    at.query_params["week"] = WEEK
    at.run()
    at.switch_page("pages/report.py").run()  # as the app's navigation lists it
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning and not at.error
    shown = {m.label: m.value for m in at.metric}
    assert shown["Mentions"] == f"{week['mentions']:,}"
    assert shown["Complaints"] == f"{week['complaints']:,}"
    assert shown["Within SLA"] == f"{within_share(week):.1%}"
    assert shown["Complaint surges"] == f"{week['surges']:,}"
    assert len(at.get("download_button")) == 2
