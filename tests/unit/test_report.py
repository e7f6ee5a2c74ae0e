"""The weekly client report without services: weeks, figures, words, the HTML and PDF files,
and the dashboard page, fed by a fake reader that answers each statement like the warehouse."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from dashboard import queries
from dashboard.data import DashboardData, Scope
from dashboard.report import ReportFormatError, file_name, format_of, render
from dashboard.report import queries as report_queries
from dashboard.report.lines import (
    count_change,
    duration_change,
    key_figures,
    share_change,
    surge_heading,
)
from dashboard.report.model import Change, UnknownOrg, WeeklyReport, collect_report
from dashboard.report.pdf import printable
from dashboard.report.week import IsoWeek, WeekError
from dashboard.session import READER_KEY, ROSTER_KEY, SCOPE_KEY
from pipelines.roster import parse_roster
from pipelines.serving.sqlguard import check_read_only

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "report.py"
MS = pa.timestamp("ms", tz="UTC")
U64, F64, S = pa.uint64(), pa.float64(), pa.string()
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # Wednesday of 2026-W11
WEEK = IsoWeek(2026, 10)  # Mon 2 Mar – Sun 8 Mar 2026
ORG = "gemeente-zutphen"
ROSTER = parse_roster({"orgs": [
    {"id": ORG, "name": "Gemeente Zutphen", "sector": "government",
     "timezone": "Europe/Amsterdam", "first_response_sla": "30m"},
    {"id": "vliegmaatschappij-x", "name": "Vliegmaatschappij X", "sector": "travel"},
]})
SURGE_ID = "complaint_surge:gemeente-zutphen:29543520"
SURGE_OPENED = datetime(2026, 3, 3, 13, 20, tzinfo=UTC)  # 14:20 in Zutphen


def table(columns: dict[str, tuple[pa.DataType, list[Any]]]) -> pa.Table:
    return pa.table({name: pa.array(values, kind) for name, (kind, values) in columns.items()})


def scenario() -> dict[queries.Query, pa.Table]:
    """Zutphen's week 2026-W10 and the week before, statement by statement."""
    return {
        queries.WATERMARK: table({"watermark": (MS, [NOW]), "mentions": (U64, [900]),
                                  "posts": (U64, [300])}),
        queries.KNOWN_ORGS: table({"org_id": (S, [ORG, "telecom-west"])}),
        queries.CLIENT_SPAN: table({"first_at": (MS, [NOW - timedelta(days=30)]),
                                    "last_at": (MS, [NOW]), "mentions": (U64, [900])}),
        report_queries.REPORT_DAYS: table({
            "day": (pa.date32(), [date(2026, 2, 23), date(2026, 2, 25), date(2026, 3, 2),
                                  date(2026, 3, 4), date(2026, 3, 8)]),
            "mentions": (U64, [6, 4, 40, 20, 5]), "complaints": (U64, [2, 0, 10, 5, 0]),
            "shares": (U64, [1, 0, 4, 2, 0]), "posts": (U64, [3, 1, 12, 6, 1]),
            "replies": (U64, [2, 1, 10, 5, 1]),
            "potential_reach": (U64, [300, 100, 1000, 500, 2**64 - 10]),
        }),
        report_queries.REPORT_AUDIENCE: table({
            "authors": (U64, [30]), "previous_authors": (U64, [8]),
            "average_sentiment": (F64, [-0.25]), "previous_average_sentiment": (F64, [None]),
        }),
        report_queries.REPORT_RESPONSES: table({
            "this_week": (pa.uint8(), [0, 1]), "actionable": (U64, [8, 58]),
            "answered": (U64, [6, 50]), "pending": (U64, [0, 3]), "unanswered": (U64, [2, 5]),
            "median_response_seconds": (F64, [3600.0, 2700.0]),
            "p90_response_seconds": (F64, [90000.0, 86400.0]),
            "median_business_seconds": (F64, [1200.0, 900.0]),
            "p90_business_seconds": (F64, [7200.0, 5400.0]),
            "within_sla": (U64, [3, 40]), "breached": (U64, [5, 14]),
            "by_official": (U64, [6, 35]), "by_employee": (U64, [0, 15]),
        }),
        report_queries.REPORT_ALERT_COUNTS: table({
            "kind": (S, ["complaint_surge", "sla_breach"]), "opened": (U64, [1, 14]),
            "previous_opened": (U64, [0, 5]),
        }),
        report_queries.REPORT_SURGES: table({
            "alert_id": (S, [SURGE_ID]), "status": (S, ["resolved"]),
            "opened_at": (MS, [SURGE_OPENED]),
            "resolved_at": (MS, [SURGE_OPENED + timedelta(minutes=45)]),
            "severity": (F64, [6.24]), "observed": (F64, [42.0]), "expected": (F64, [6.5]),
            "summary": (S, ["Gemeente Zutphen: 42 complaints in 10 min, 6.5× the usual 6.5 "
                            "for a Tuesday 14:20"]),
            "sample_event_ids": (pa.list_(S), [["tw-1", "tw-2"]]),
        }),
        report_queries.REPORT_SURGE_SAMPLES: table({
            "alert_id": (S, [SURGE_ID, SURGE_ID]), "event_id": (S, ["tw-1", "tw-2"]),
            "created_at": (MS, [SURGE_OPENED - timedelta(minutes=3),
                                SURGE_OPENED - timedelta(minutes=1)]),
            "platform": (S, ["twitter", "twitter"]), "kind": (S, ["mention", "reply"]),
            "author_handle": (S, ["boze_burger", "anna_z"]),
            "author_followers": (U64, [120, 98000]),
            "complaint": (pa.bool_(), [True, True]), "sentiment": (pa.float32(), [-0.9, -0.6]),
            "text": (S, ["Het loket is wéér dicht 😡", "Al drie weken geen reactie!"]),
        }),
        report_queries.REPORT_VOICES: table({
            "author_handle": (S, ["journalist_jan", "anna_z"]),
            "followers": (U64, [98000, 310]), "verified": (pa.bool_(), [True, False]),
            "influence": (F64, [14.25, 6.5]), "mentions_all_time": (U64, [12, 30]),
            "times_shared": (U64, [40, 2]), "mentions": (U64, [2, 7]),
            "complaints": (U64, [0, 4]),
        }),
    }


class FakeReader:
    """Answers the report's statements (and the clock, the organisations, the span) from a
    scenario, and refuses any other: the report must not run statements of its own."""

    def __init__(self, answers: dict[queries.Query, pa.Table]) -> None:
        self.answers = {q.sql: t for q, t in answers.items()}
        self.names = {q.sql: q.name for q in answers}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        assert sql in self.answers, f"a statement the scenario does not know:\n{sql}"
        self.calls.append((self.names[sql], parameters or {}))
        return self.answers[sql]

    def parameters_of(self, query: queries.Query) -> list[dict[str, Any]]:
        return [p for name, p in self.calls if name == query.name]


def empty_answers() -> dict[queries.Query, pa.Table]:
    """A week in which nothing happened: the statements answer with no rows."""
    answers = scenario()
    for query in report_queries.REPORT_QUERIES:
        answers[query] = answers[query].schema.empty_table()
    answers[report_queries.REPORT_AUDIENCE] = table({
        "authors": (U64, [0]), "previous_authors": (U64, [0]),
        "average_sentiment": (F64, [None]), "previous_average_sentiment": (F64, [None])})
    return answers


def make(answers: dict[queries.Query, pa.Table] | None = None, *, scope: Scope | None = None,
         org_id: str = ORG, week: IsoWeek = WEEK) -> tuple[WeeklyReport, FakeReader]:
    reader = FakeReader(answers or scenario())
    data = DashboardData(reader, ROSTER, scope)
    return collect_report(data, org_id, week), reader


# -- the statements ----------------------------------------------------------------------


@pytest.mark.parametrize("query", report_queries.REPORT_QUERIES, ids=lambda q: q.name)
def test_every_report_statement_is_read_only_and_carries_the_access_filter(
        query: queries.Query) -> None:
    check_read_only(query.sql)
    assert query.filtered
    assert query.parameters["org_id"] == "String"
    assert not set(query.sql.split()) & {"FROM mention_responses_state", "FINAL"}


def test_report_statements_have_unique_names_and_are_all_listed() -> None:
    names = [q.name for q in report_queries.REPORT_QUERIES]
    assert len(names) == len(set(names))
    constants = {v for v in vars(report_queries).values() if isinstance(v, queries.Query)}
    assert constants == set(report_queries.REPORT_QUERIES)
    assert not {q.name for q in queries.ALL_QUERIES} & set(names)


# -- weeks -------------------------------------------------------------------------------


def test_iso_weeks_are_read_in_their_usual_spellings_and_refused_with_the_way_to_write_them(
) -> None:
    assert IsoWeek.parse("2026-W10") == IsoWeek.parse("2026w10") == IsoWeek(2026, 10)
    assert IsoWeek.parse(" 2026-W01 ").label == "2026-W01"
    for bad in ("2026-10", "W10", "2026-W", "10-2026", "2026-W10-1", ""):
        with pytest.raises(WeekError, match=r"e\.g\. 2026-W10"):
            IsoWeek.parse(bad)
    with pytest.raises(WeekError, match="2025 has no week 53: its ISO weeks are W01 to W52"):
        IsoWeek.parse("2025-W53")
    with pytest.raises(WeekError, match="no week 0"):
        IsoWeek.parse("2026-W00")
    assert IsoWeek.parse("2026-W53").days[-1] == date(2027, 1, 3)  # 2026 has 53 weeks
    assert IsoWeek(2026, 1).previous() == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).following() == IsoWeek(2027, 1)


def test_a_week_runs_from_local_monday_midnight_and_keeps_daylight_saving_hours() -> None:
    start, end = WEEK.span("Europe/Amsterdam")
    assert (start, end) == (datetime(2026, 3, 1, 23, tzinfo=UTC),
                            datetime(2026, 3, 8, 23, tzinfo=UTC))
    # Summer time starts on Sunday 29 March 2026 in Amsterdam: that week has 167 hours.
    start, end = IsoWeek(2026, 13).span("Europe/Amsterdam")
    assert end - start == timedelta(hours=167)
    start, end = IsoWeek(2026, 43).span("Europe/Amsterdam")  # winter time: Sun 25 Oct
    assert end - start == timedelta(hours=169)
    start, _ = WEEK.span("America/New_York")
    assert start == datetime(2026, 3, 2, 5, tzinfo=UTC)
    # Sunday 23:30 in Amsterdam is still the week, Monday 00:30 the next.
    assert IsoWeek.containing(datetime(2026, 3, 8, 22, 30, tzinfo=UTC),
                              "Europe/Amsterdam") == WEEK
    assert IsoWeek.containing(datetime(2026, 3, 8, 23, 30, tzinfo=UTC),
                              "Europe/Amsterdam") == IsoWeek(2026, 11)


# -- the figures -------------------------------------------------------------------------


def test_the_report_asks_for_the_clients_own_week_and_the_week_before() -> None:
    _, reader = make()
    (days,) = reader.parameters_of(report_queries.REPORT_DAYS)
    assert days == {
        "org_id": ORG, "timezone": "Europe/Amsterdam", "restrict": 0, "org_ids": [],
        "previous_start": "2026-02-22 23:00:00.000", "end": "2026-03-08 23:00:00.000"}
    (surges,) = reader.parameters_of(report_queries.REPORT_SURGES)
    assert (surges["start"], surges["end"]) == ("2026-03-01 23:00:00.000",
                                                "2026-03-08 23:00:00.000")
    (samples,) = reader.parameters_of(report_queries.REPORT_SURGE_SAMPLES)
    assert samples["alert_ids"] == [SURGE_ID]
    # A client without a time zone in the roster has the defaults' (UTC).
    _, reader = make(org_id="vliegmaatschappij-x")
    (days,) = reader.parameters_of(report_queries.REPORT_DAYS)
    assert days["previous_start"] == "2026-02-23 00:00:00.000"


def test_the_report_holds_the_weeks_figures_and_their_change() -> None:
    report, _ = make()
    assert report.state == "complete" and report.has_data
    assert [d.day for d in report.days] == list(WEEK.days)
    assert [d.mentions for d in report.days] == [40, 0, 20, 0, 0, 0, 5]
    assert [d.mentions for d in report.previous_days] == [6, 0, 4, 0, 0, 0, 0]
    v, pv = report.volume, report.previous_volume
    assert (v.mentions, v.complaints, v.shares, v.posts, v.replies) == (65, 15, 6, 19, 16)
    assert v.potential_reach == 2**64 - 1  # stops at the top, like the warehouse's sums
    assert (pv.mentions, pv.complaints, pv.potential_reach) == (10, 2, 400)
    assert (v.authors, pv.authors, v.sentiment, pv.sentiment) == (30, 8, -0.25, None)
    r, pr = report.responses, report.previous_responses
    assert (r.actionable, r.answered, r.within_sla, r.breached) == (58, 50, 40, 14)
    assert r.within_sla_share == pytest.approx(40 / 54)
    assert pr.within_sla_share == pytest.approx(3 / 8)
    assert report.surge_count == Change(1, 0)
    (surge,) = report.surges
    assert surge.alert_id == SURGE_ID and surge.lasted_seconds(NOW) == 45 * 60
    assert [m.event_id for m in surge.samples] == ["tw-1", "tw-2"]
    assert [v.author_handle for v in report.voices] == ["journalist_jan", "anna_z"]
    assert report.alerts_opened["sla_breach"] == (14, 5)


def test_key_figures_read_as_the_client_reads_them() -> None:
    report, _ = make()
    rows = {f.label: (f.current, f.previous, f.change) for f in key_figures(report)}
    assert rows["Mentions"] == ("65", "10", "+55 (+550.0%)")
    assert rows["Complaints"] == ("15", "2", "+13 (+650.0%)")
    assert rows["Complaint share"] == ("23.1%", "20.0%", "+3.1 pts")
    assert rows["Distinct authors"] == ("30", "8", "+22 (+275.0%)")
    assert rows["Average sentiment"] == ("-0.25", "–", "–")
    assert rows["Median first response"] == ("45 min", "1 h", "-15 min")
    assert rows["Median first response, business hours"] == ("15 min", "20 min", "-5 min")
    assert rows["Within SLA"] == ("74.1%", "37.5%", "+36.6 pts")
    assert rows["Complaint surges"] == ("1", "0", "+1 (new)")
    assert surge_heading(report.surges[0], report) == (
        "Tue 3 Mar 14:20 – 15:05 (45 min) · severity 6.2")


def test_changes_in_words() -> None:
    assert count_change(Change(8, 10)) == "-2 (-20.0%)"
    assert count_change(Change(10, 10)) == "0"
    assert count_change(Change(3, 0)) == "+3 (new)"
    assert count_change(Change(None, 4)) == "–"
    assert share_change(Change(0.25, 0.5)) == "-25.0 pts"
    assert duration_change(Change(3600, 600)) == "+50 min"
    assert duration_change(Change(5400, 5400.2)) == "0"


def test_an_unknown_client_and_another_clients_week_are_refused_with_the_known_ids() -> None:
    with pytest.raises(UnknownOrg, match=r"no client 'gemeente-zutfen'.*known clients: "
                                         r"gemeente-zutphen, telecom-west, vliegmaatschappij-x"):
        make(org_id="gemeente-zutfen")
    limited = Scope(frozenset({"telecom-west"}))
    with pytest.raises(UnknownOrg, match="known clients: telecom-west \\("):
        make(scope=limited)
    report, reader = make(scope=Scope(frozenset({ORG})))
    assert report.volume.mentions == 65
    assert all(p["restrict"] == 1 and p["org_ids"] == [ORG] for _, p in reader.calls)


def test_a_week_without_data_makes_a_report_that_says_so() -> None:
    report, _ = make(empty_answers())
    assert not report.has_data
    assert [d.mentions for d in report.days] == [0] * 7
    assert report.responses.within_sla_share is None
    rows = {f.label: (f.current, f.change) for f in key_figures(report)}
    assert rows["Mentions"] == ("0", "0")
    assert rows["Median first response"] == ("–", "–")
    html = render(report, ".html").decode()
    assert "No mentions, posts or alerts of Gemeente Zutphen in week 2026-W10." in html
    assert "No complaint surge opened this week." in html
    text = pdf_text(render(report, ".pdf"))
    assert "No mentions, posts or alerts of Gemeente Zutphen in week 2026-W10." in text


def test_a_week_still_running_or_not_begun_says_so() -> None:
    report, _ = make(week=IsoWeek(2026, 11))
    assert report.state == "in progress"
    assert "still in progress: figures up to Wed 11 Mar 13:00" in render(report, ".html").decode()
    report, _ = make(week=IsoWeek(2026, 12))
    assert report.state == "not started"


# -- the files ---------------------------------------------------------------------------


class Page(HTMLParser):
    """What a browser would show and fetch: the text, every tag, every attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.cells: list[list[str]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.cells.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parsed(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"[ \t]+", " ", "\n".join(p.extract_text() or "" for p in reader.pages))


def test_the_html_file_is_self_contained_and_holds_the_figures() -> None:
    report, _ = make()
    html = render(report, ".html").decode("utf-8")
    page = parsed(html)
    assert page.tags[:2] == ["html", "head"] and "svg" in page.tags
    # Nothing to fetch: no script, no linked style, image or font, no remote address.
    assert not {"script", "link", "img", "iframe", "object"} & set(page.tags)
    assert not [v for n, v in page.attributes if n in ("src", "href")]
    assert "url(" not in html and "@import" not in html
    rows = {r[0]: r[1:] for r in page.cells if r}
    mentions = next(v for k, v in rows.items() if k == "Mentions")
    assert mentions == ["65", "10", "+55 (+550.0%)"]
    within = next(v for k, v in rows.items() if k.startswith("Within SLA"))
    assert within == ["74.1%", "37.5%", "+36.6 pts"]
    assert rows["Mon 2 Mar"] == ["40", "10", "4", "12", "10", "1,000"]
    assert rows["@journalist_jan (verified)"] == ["98,000", "14.2", "2", "0", "12"]
    text = " ".join(page.text)
    assert "Gemeente Zutphen: 42 complaints in 10 min" in text
    assert "Het loket is wéér dicht 😡" in text  # the HTML keeps every character
    assert "Tue 3 Mar 14:20 – 15:05 (45 min) · severity 6.2" in text
    assert "SLA alerts (mentions waiting past the response SLA): 14" in text
    # The chart: one bar per day for last week's mentions, this week's mentions, complaints.
    assert page.tags.count("rect") == 21 + 3  # and three legend keys


def test_the_pdf_has_the_figures_as_extractable_text() -> None:
    report, _ = make()
    content = render(report, ".pdf")
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)
    assert "Weekly report: Gemeente Zutphen" in text
    assert "Mentions 65 10 +55 (+550.0%)" in text
    assert "Within SLA 74.1% 37.5% +36.6 pts" in text
    assert "Mon 2 Mar 40 10 4 12 10 1,000" in text
    assert "Gemeente Zutphen: 42 complaints in 10 min" in text
    assert "Het loket is wéér dicht ?" in text  # the emoji is beyond the PDF's font
    assert "@journalist_jan (verified) 98,000 14.2 2 0 12" in text


def test_printable_keeps_western_text_and_marks_the_rest() -> None:
    assert printable("Café – “zó” … 5 €") == 'Café - "zó" ... 5 EUR'
    assert printable("Спасибо 👍") == "??????? ?"


def test_the_file_format_comes_from_the_extension() -> None:
    assert format_of(Path("out/Week.PDF")) == ".pdf"
    assert format_of(Path("report.html")) == ".html"
    for bad in ("report.docx", "report"):
        with pytest.raises(ReportFormatError, match=r"name the file \.html or \.pdf"):
            format_of(Path(bad))
    report, _ = make()
    assert file_name(report, ".pdf") == "gemeente-zutphen-2026-W10.pdf"


# -- the dashboard page ------------------------------------------------------------------


def page(reader: FakeReader, scope: Scope | None = None, **params: str) -> AppTest:
    """The page on its own, as Streamlit runs it by its URL (the app's navigation lists it:
    the integration test opens it from there)."""
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.session_state[READER_KEY] = reader
    at.session_state[ROSTER_KEY] = ROSTER
    if scope is not None:
        at.session_state[SCOPE_KEY] = scope
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error and not at.warning
    return at


def test_the_report_page_shows_the_week_and_offers_both_files() -> None:
    at = page(FakeReader(scenario()), org=ORG)
    # The last week that is over on the client's clock is the one shown first.
    assert at.selectbox(key="report.org").value == ORG
    assert at.selectbox(key=f"report.week.{ORG}").value == WEEK
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown["Mentions"] == ("65", "+55 (+550.0%)")
    assert shown["Within SLA"] == ("74.1%", "+36.6 pts")
    assert shown["Complaint surges"] == ("1", "+1 (new)")
    figures, days, voices = (d.value for d in at.dataframe if "Text" not in d.value.columns)
    assert figures.iloc[0].tolist()[:4] == ["Mentions", "65", "10", "+55 (+550.0%)"]
    assert days["Mentions"].tolist() == ["40", "0", "20", "0", "0", "0", "5"]
    assert voices["Author"].tolist() == [
        "@journalist_jan (verified)", "@anna_z"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download HTML", "Download PDF"]
    assert "Tue 3 Mar 14:20" in at.expander[0].label


def test_the_report_page_follows_the_week_in_the_address_and_the_logins_scope() -> None:
    reader = FakeReader(scenario())
    at = page(reader, Scope(frozenset({ORG})), org="telecom-west", week="2026-W09")
    assert at.selectbox(key="report.org").options == ["Gemeente Zutphen"]
    assert at.selectbox(key=f"report.week.{ORG}").value == IsoWeek(2026, 9)
    assert all(p["restrict"] == 1 and p["org_ids"] == [ORG] for _, p in reader.calls)


def test_the_report_page_says_so_for_a_week_without_data() -> None:
    at = page(FakeReader(empty_answers()), org=ORG)
    assert "No mentions, posts or alerts of Gemeente Zutphen" in at.info[0].value


def test_the_week_picker_lists_the_clients_weeks_newest_first() -> None:
    from dashboard.pages.report import default_week, week_choices

    weeks = week_choices(datetime(2025, 12, 20, tzinfo=UTC), NOW, "Europe/Amsterdam")
    assert [w.label for w in weeks[:3]] == ["2026-W11", "2026-W10", "2026-W09"]
    assert weeks[-1] == IsoWeek(2025, 51) and len(weeks) == 13
    assert default_week(weeks, None) == 1  # the last week that is over
    assert default_week(weeks, "2026-W02") == weeks.index(IsoWeek(2026, 2))
    assert default_week(weeks, "2024-W02") == 1 and default_week(weeks, "soon") == 1
    assert week_choices(None, NOW, "UTC") == [IsoWeek(2026, 11), IsoWeek(2026, 10)]
