"""Every dashboard page in Streamlit's AppTest, fed by a fake reader: no services.

The fake answers each statement of `dashboard.queries` with a small Arrow
table shaped like the warehouse's answer, so the tests check what a person
sees: the numbers in the tables and metrics, the charts, the messages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries
from dashboard.data import Scope
from dashboard.session import EMPTY_HINT, READER_KEY, ROSTER_KEY, SCOPE_KEY
from pipelines.roster import parse_roster
from pipelines.warehouse import WarehouseError

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # a Wednesday
MS = pa.timestamp("ms", tz="UTC")

ROSTER = parse_roster({
    "orgs": [
        {"id": "gemeente-zutphen", "name": "Gemeente Zutphen", "sector": "government",
         "timezone": "Europe/Amsterdam", "first_response_sla": "30m"},
        {"id": "gemeente-deventer", "name": "Gemeente Deventer", "sector": "government"},
        {"id": "bibliotheek-oost", "name": "Bibliotheek Oost", "sector": "culture",
         "timezone": "Europe/Amsterdam", "first_response_sla": "2h"},
        {"id": "vliegmaatschappij-x", "name": "Vliegmaatschappij X", "sector": "travel"},
    ],
})


def table(columns: dict[str, tuple[pa.DataType, list[Any]]]) -> pa.Table:
    return pa.table({name: pa.array(values, kind) for name, (kind, values) in columns.items()})


def scenario() -> dict[queries.Query, pa.Table]:
    """What the warehouse says at NOW, statement by statement."""
    u64, f64, s = pa.uint64(), pa.float64(), pa.string()
    return {
        queries.WATERMARK: table({"watermark": (MS, [NOW]), "mentions": (u64, [500]),
                                  "posts": (u64, [200])}),
        queries.KNOWN_ORGS: table({"org_id": (s, ["bibliotheek-oost", "gemeente-zutphen",
                                                   "telecom-west"])}),
        queries.CLIENTS_VOLUME: table({
            "org_id": (s, ["gemeente-zutphen", "bibliotheek-oost", "telecom-west"]),
            "mentions_last_hour": (u64, [30, 2, 1]),
            "same_hour_previous_days": (u64, [35, 14, 0]),
            "previous_days": (pa.uint32(), [7, 7, 3]),
            "mentions_today": (u64, [120, 20, 4]),
            "complaints_today": (u64, [30, 1, 0]),
        }),
        queries.CLIENTS_REACH: table({"org_id": (s, ["gemeente-zutphen", "bibliotheek-oost"]),
                                      "reach_today": (u64, [12345, 678])}),
        queries.CLIENTS_RESPONSES: table({
            "org_id": (s, ["gemeente-zutphen", "bibliotheek-oost"]),
            "open_mentions": (u64, [4, 0]),
            "oldest_open_at": (MS, [NOW - timedelta(hours=3), None]),
            "open_past_sla": (u64, [2, 0]),
            "answered_today": (u64, [10, 3]),
            "median_response_today": (f64, [1800.0, 600.0]),
            "median_business_response_today": (f64, [1200.0, 600.0]),
            "within_sla_today": (u64, [6, 3]),
            "sla_due_today": (u64, [8, 3]),
        }),
        queries.CLIENTS_ALERTS: table({
            "org_id": (s, ["bibliotheek-oost", "gemeente-zutphen"]),
            "open_alerts": (u64, [1, 2]), "open_surges": (u64, [1, 0]),
            "open_severity": (f64, [7.5, 5.0]),
        }),
        queries.CLIENT_SPAN: table({"first_at": (MS, [NOW - timedelta(days=20)]),
                                    "last_at": (MS, [NOW]), "mentions": (u64, [300])}),
        queries.CLIENT_ACTIVITY: table({
            "bucket": (MS, [NOW - timedelta(hours=2), NOW - timedelta(hours=1)]),
            "mentions": (u64, [40, 60]), "complaints": (u64, [5, 25]),
            "shares": (u64, [3, 4]), "potential_reach": (u64, [1000, 5000]),
        }),
        queries.CLIENT_ALERTS: table({
            "alert_id": (s, ["complaint_surge:gemeente-zutphen:1"]),
            "kind": (s, ["complaint_surge"]), "status": (s, ["open"]),
            "opened_at": (MS, [NOW - timedelta(minutes=50)]), "resolved_at": (MS, [None]),
            "severity": (f64, [7.5]), "observed": (f64, [25.0]), "expected": (f64, [4.0]),
            "summary": (s, ["Gemeente Zutphen: 25 complaints in 30 min, usually 4"]),
            "samples": (u64, [2]),
        }),
        queries.CLIENT_RESPONSE_SUMMARY: table({
            "actionable": (u64, [90]), "answered": (u64, [70]), "pending": (u64, [4]),
            "unanswered": (u64, [16]), "median_response_seconds": (f64, [2700.0]),
            "p90_response_seconds": (f64, [86400.0]), "median_business_seconds": (f64, [900.0]),
            "p90_business_seconds": (f64, [7200.0]), "within_sla": (u64, [45]),
            "breached": (u64, [15]), "sla": (f64, [1800.0]),
        }),
        queries.CLIENT_RESPONSE_HISTOGRAM: table({
            "clock": (s, ["business", "business", "calendar", "calendar", "calendar"]),
            "bin": (pa.uint32(), [1, 3, 1, 5, 0]),
            "answered": (u64, [50, 20, 30, 25, 15]),
        }),
        queries.CLIENT_RESPONSE_HEATMAP: table({
            "weekday": (pa.uint8(), [1, 3]), "hour": (pa.uint8(), [9, 22]),
            "answered": (u64, [10, 2]), "median_response_seconds": (f64, [600.0, 36000.0]),
            "median_business_seconds": (f64, [600.0, 1800.0]),
        }),
        queries.CLIENT_RESPONDERS: table({
            "role": (s, ["official", "employee"]),
            "handle": (s, ["gemeentezutphen", "marieke_zutphen"]),
            "answers": (u64, [50, 20]), "median_response_seconds": (f64, [1200.0, 5400.0]),
            "median_business_seconds": (f64, [600.0, 1800.0]), "within_sla": (u64, [40, 5]),
        }),
        queries.CLIENT_OPEN_QUEUE: table({
            "mention_id": (s, ["m-old", "m-new"]),
            "created_at": (MS, [NOW - timedelta(hours=3), NOW - timedelta(minutes=5)]),
            "status": (s, ["pending", "pending"]), "platform": (s, ["twitter", "facebook"]),
            "kind": (s, ["direct", "mention"]), "author_handle": (s, ["anna_z", "bert"]),
            "author_followers": (u64, [310, 12]), "complaint": (pa.bool_(), [True, False]),
            "sla_breached": (pa.bool_(), [True, False]),
            "sla_breach_at": (MS, [NOW - timedelta(hours=2, minutes=30),
                                   NOW + timedelta(minutes=25)]),
            "text": (s, ["Waarom is het loket dicht?", "Mooi nieuws!"]),
        }),
        queries.CLIENT_INFLUENCERS: table({
            "author_handle": (s, ["journalist_jan"]), "followers": (u64, [98000]),
            "verified": (pa.bool_(), [True]), "mentions": (u64, [3]),
            "complaints": (u64, [1]), "times_shared": (u64, [12]),
            "share_reach": (u64, [4000]), "influence": (f64, [12.5]),
            "last_seen": (MS, [NOW - timedelta(days=1)]),
        }),
        queries.SECTOR_VOICE: table({
            "org_id": (s, ["gemeente-zutphen", "gemeente-deventer", "gemeente-zutphen"]),
            "bucket": (MS, [NOW - timedelta(days=2), NOW - timedelta(days=2),
                            NOW - timedelta(days=1)]),
            "mentions": (u64, [30, 20, 50]), "complaints": (u64, [3, 2, 10]),
            "sentiment_sum": (f64, [-3.0, 2.0, -5.0]), "sentiment_n": (u64, [30, 20, 50]),
            "potential_reach": (u64, [100, 200, 300]),
        }),
        queries.ALERTS_LIST: table({
            "alert_id": (s, ["complaint_surge:bibliotheek-oost:1", "sla_breach:m-old",
                             "sla_breach:m-older"]),
            "org_id": (s, ["bibliotheek-oost", "gemeente-zutphen", "gemeente-zutphen"]),
            "kind": (s, ["complaint_surge", "sla_breach", "sla_breach"]),
            "status": (s, ["open", "open", "resolved"]),
            "opened_at": (MS, [NOW - timedelta(minutes=20), NOW - timedelta(hours=2),
                               NOW - timedelta(days=2)]),
            "resolved_at": (MS, [None, None, NOW - timedelta(days=1)]),
            "severity": (f64, [8.0, 6.0, 5.0]), "observed": (f64, [30.0, 9000.0, 5400.0]),
            "expected": (f64, [5.0, 1800.0, 1800.0]),
            "summary": (s, ["Bibliotheek Oost: 30 complaints in 30 min, usually 5",
                            "Gemeente Zutphen: mention by @anna_z unanswered for 2h30m",
                            "Gemeente Zutphen: mention by @piet answered after 1h30m"]),
            "sample_event_ids": (pa.list_(s), [["s-1", "s-2"], ["m-old"], ["m-older"]]),
            "matching": (u64, [3, 3, 3]),
        }),
        queries.ALERTS_SUMMARY: table({
            "open": (u64, [2]), "open_surges": (u64, [1]), "resolved": (u64, [1]),
            "orgs_with_open": (u64, [2]),
            "kinds": (pa.list_(s), [["complaint_surge", "sla_breach"]]),
        }),
        queries.ALERT_SAMPLES: table({
            "alert_id": (s, ["complaint_surge:bibliotheek-oost:1",
                             "complaint_surge:bibliotheek-oost:1", "sla_breach:m-old"]),
            "event_id": (s, ["s-1", "s-2", "m-old"]),
            "created_at": (MS, [NOW - timedelta(minutes=25), NOW - timedelta(minutes=22),
                                NOW - timedelta(hours=3)]),
            "platform": (s, ["twitter"] * 3), "kind": (s, ["mention", "reply", "direct"]),
            "author_handle": (s, ["boze_burger", "lezer42", "anna_z"]),
            "author_followers": (u64, [10, 20, 310]),
            "complaint": (pa.bool_(), [True, True, True]),
            "sentiment": (pa.float32(), [-0.8, -0.6, -0.4]),
            "text": (s, ["De bieb is al weken dicht!", "Geen reactie op mijn mail",
                         "Waarom is het loket dicht?"]),
        }),
        queries.PUBLIC_COLUMNS: table({
            "table": (s, ["mentions", "mentions"]), "name": (s, ["org_id", "created_at"]),
            "type": (s, ["LowCardinality(String)", "DateTime64(3, 'UTC')"]),
            "comment": (s, ["", ""]),
        }),
    }


AD_HOC_RESULT = pa.table({"org_id": ["gemeente-zutphen", "bibliotheek-oost"],
                          "mentions": pa.array([120, 20], pa.uint64())})


class FakeReader:
    """Answers the dashboard's statements from a scenario, and anything else with `ad_hoc`."""

    def __init__(self, answers: dict[queries.Query, pa.Table] | None = None,
                 failure: Exception | None = None) -> None:
        self.answers = {q.sql: t for q, t in (answers or scenario()).items()}
        self.failure = failure
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *,
              max_rows: int | None = None) -> pa.Table:
        self.calls.append((sql, parameters))
        if self.failure is not None:
            raise self.failure
        return self.answers.get(sql, AD_HOC_RESULT)

    def parameters_of(self, query: queries.Query) -> list[dict[str, Any]]:
        return [p or {} for sql, p in self.calls if sql == query.sql]


def empty_scenario() -> dict[queries.Query, pa.Table]:
    answers = scenario()
    answers[queries.WATERMARK] = table({
        "watermark": (MS, [datetime(1970, 1, 1, tzinfo=UTC)]),
        "mentions": (pa.uint64(), [0]), "posts": (pa.uint64(), [0]),
    })
    return answers


def app(reader: FakeReader, scope: Scope | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[READER_KEY] = reader
    at.session_state[ROSTER_KEY] = ROSTER
    if scope is not None:
        at.session_state[SCOPE_KEY] = scope
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    if page != "clients":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


# -- All clients -----------------------------------------------------------------------


def test_clients_page_shows_one_row_per_client_most_urgent_first() -> None:
    at = open_page(app(FakeReader()), "clients")
    shown = at.dataframe[0].value
    assert shown["Client"].tolist() == ["Bibliotheek Oost", "Gemeente Zutphen",
                                        "Gemeente Deventer", "telecom-west",
                                        "Vliegmaatschappij X"]
    zutphen = shown.iloc[1]
    assert zutphen["Last hour"] == 30
    assert zutphen["Usual"] == 5.0
    assert zutphen["Complaints %"] == 25.0
    assert zutphen["Open"] == 4
    assert zutphen["Oldest open"] == "3 h"
    assert zutphen["Median response"] == "30 min"
    assert zutphen["Within SLA %"] == 75.0
    assert zutphen["Reach today"] == 12345
    assert zutphen["Open alerts"] == 2
    assert "2 open past SLA" in zutphen["Needs attention"]
    assert "complaint surge" in shown.iloc[0]["Needs attention"]
    assert metrics(at) == {"Mentions in the last hour": "33", "Open mentions": "4",
                           "Open alerts": "3", "Clients needing attention": "2 of 5"}


def test_clients_page_measures_at_the_watermark_with_each_clients_own_day() -> None:
    reader = FakeReader()
    open_page(app(reader), "clients")
    (volume,) = reader.parameters_of(queries.CLIENTS_VOLUME)
    assert volume["now"] == "2026-03-25 12:00:00.000"
    day = dict(zip(volume["day_orgs"], volume["day_starts"], strict=True))
    assert day["gemeente-zutphen"] == "2026-03-24 23:00:00.000"  # Amsterdam midnight
    assert volume["default_day_start"] == "2026-03-25 00:00:00.000"
    assert volume["restrict"] == 0


def test_clients_page_filters_by_name() -> None:
    at = open_page(app(FakeReader()), "clients")
    at.text_input(key="clients.filter").set_value("gemeente").run()
    assert at.dataframe[0].value["Client"].tolist() == ["Gemeente Zutphen", "Gemeente Deventer"]
    at.text_input(key="clients.filter").set_value("nobody").run()
    assert not at.dataframe
    assert "No client matches" in at.info[0].value


def test_a_limited_scope_reaches_every_query_and_the_sql_page_hides_dead_letters() -> None:
    reader = FakeReader()
    at = open_page(app(reader, Scope(frozenset({"gemeente-zutphen"}))), "clients")
    assert reader.calls
    for _sql, parameters in reader.calls:
        assert parameters is not None
        assert parameters["restrict"] == 1 and parameters["org_ids"] == ["gemeente-zutphen"]
    at.switch_page("pages/sql.py").run()
    assert not at.exception
    assert "only the rows of Gemeente Zutphen" in at.info[0].value
    labels = [e.label for e in at.expander]
    assert labels and not any(label.startswith("dead_letters") for label in labels)
    assert "Rejected input by reason" not in at.selectbox(key="sql.example").options
    at.text_area(key="sql.text").set_value("SELECT table, total_rows FROM system.tables").run()
    at.button(key="sql.run").click().run()
    assert "system.tables counts and sizes the rows of every client" in at.error[0].value


# -- One client ------------------------------------------------------------------------


def test_client_page_shows_activity_responses_queue_reach_and_voice() -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    assert at.selectbox(key="client.org").value == "gemeente-zutphen"
    shown = metrics(at)
    assert shown["Mentions"] == "100"
    assert shown["Complaints"] == "30"
    assert shown["Alerts in range"] == "1"
    assert shown["Answered"] == "70"
    assert shown["Median first response"] == "45 min"
    assert shown["Median in business hours"] == "15 min"
    assert shown["Within SLA"] == "75%"  # 45 of 45 + 15
    assert shown["Potential reach in range"] == "6,000"
    # activity with alert markers, histogram, heatmap, responders, reach, share of voice x2
    assert len(charts(at)) == 7
    tables = [d.value for d in at.dataframe]
    queue = next(t for t in tables if "waiting" in t.columns)
    assert queue["mention_id"].tolist() == ["m-old", "m-new"]
    assert queue["waiting"].tolist() == ["3 h", "5 min"]
    voices = next(t for t in tables if "influence" in t.columns)
    assert voices["author_handle"].tolist() == ["journalist_jan"]
    voice = next(t for t in tables if "share %" in t.columns)
    assert voice["name"].tolist() == ["Gemeente Zutphen", "Gemeente Deventer"]
    assert voice["share %"].tolist() == [80.0, 20.0]


def test_client_page_asks_for_the_chosen_range_and_the_clients_time_zone() -> None:
    reader = FakeReader()
    at = app(reader)
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    (activity,) = reader.parameters_of(queries.CLIENT_ACTIVITY)
    assert activity["org_id"] == "gemeente-zutphen"
    assert activity["end"] == "2026-03-25 12:00:00.001"
    assert activity["start"] == "2026-03-18 12:00:00.001"
    assert activity["bucket_seconds"] == 3600
    (heatmap,) = reader.parameters_of(queries.CLIENT_RESPONSE_HEATMAP)
    assert heatmap["timezone"] == "Europe/Amsterdam"
    (voice,) = reader.parameters_of(queries.SECTOR_VOICE)
    assert voice["peer_org_ids"] == ["gemeente-deventer", "gemeente-zutphen"]
    at.segmented_control(key="client.range").set_value("24 hours").run()
    assert not at.exception
    assert reader.parameters_of(queries.CLIENT_ACTIVITY)[-1]["start"] == (
        "2026-03-24 12:00:00.001")


def test_client_page_takes_whole_dates_as_a_range() -> None:
    reader = FakeReader()
    at = app(reader)
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    at.segmented_control(key="client.range").set_value("Dates…").run()
    at.date_input(key="client.dates").set_value((date(2026, 3, 1), date(2026, 3, 3))).run()
    assert not at.exception
    last = reader.parameters_of(queries.CLIENT_RESPONSE_SUMMARY)[-1]
    assert (last["start"], last["end"]) == ("2026-03-01 00:00:00.000", "2026-03-04 00:00:00.000")


def test_client_page_without_a_sector_explains_share_of_voice() -> None:
    at = app(FakeReader())
    at.query_params["org"] = "telecom-west"
    open_page(at, "client")
    assert any("no sector in the roster" in i.value for i in at.info)


# -- Alerts --------------------------------------------------------------------------


def test_alerts_page_lists_alerts_with_their_sample_mentions() -> None:
    reader = FakeReader()
    at = open_page(app(reader), "alerts")
    assert metrics(at) == {"Open alerts": "2", "Open complaint surges": "1",
                           "Resolved in range": "1", "Clients with open alerts": "2"}
    listing = at.dataframe[0].value
    assert listing["client"].tolist() == ["Bibliotheek Oost", "Gemeente Zutphen",
                                          "Gemeente Zutphen"]
    assert listing["samples"].tolist() == [2, 1, 1]
    assert len(charts(at)) == 1
    (asked,) = reader.parameters_of(queries.ALERT_SAMPLES)
    assert asked["alert_ids"] == listing["alert_id"].tolist()
    assert len(at.expander) == 3
    surge_samples = at.expander[0].dataframe[0].value
    assert surge_samples["text"].tolist() == ["De bieb is al weken dicht!",
                                              "Geen reactie op mijn mail"]
    assert at.expander[2].caption[-1].value == "No sample mentions found in the warehouse."


def test_alerts_page_filters_in_the_warehouse() -> None:
    reader = FakeReader()
    at = open_page(app(reader), "alerts")
    first = reader.parameters_of(queries.ALERTS_LIST)[-1]
    assert (first["statuses"], first["kinds"], first["clients"]) == (["open", "resolved"], [], [])
    assert first["start"] == "2026-02-23 12:00:00.000"  # 30 days
    at.multiselect(key="alerts.status").set_value(["resolved"])
    at.multiselect(key="alerts.kind").set_value(["sla_breach"])
    at.multiselect(key="alerts.clients").set_value(["gemeente-zutphen"]).run()
    assert not at.exception
    last = reader.parameters_of(queries.ALERTS_LIST)[-1]
    assert (last["statuses"], last["kinds"], last["clients"]) == (
        ["resolved"], ["sla_breach"], ["gemeente-zutphen"])


def test_alerts_page_counts_come_from_the_whole_table_not_the_list() -> None:
    answers = scenario()
    answers[queries.ALERTS_LIST] = answers[queries.ALERTS_LIST].set_column(
        11, "matching", pa.array([5000] * 3, pa.uint64()))
    at = open_page(app(FakeReader(answers)), "alerts")
    assert any(s.value == "5,000 alerts" for s in at.subheader)
    assert any("The first 3" in c.value for c in at.caption)


# -- SQL -----------------------------------------------------------------------------


def test_sql_page_refuses_a_drop_with_a_clear_message() -> None:
    reader = FakeReader()
    at = open_page(app(reader), "sql")
    at.text_area(key="sql.text").set_value("DROP TABLE mentions")
    at.button(key="sql.run").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "refused" in at.error[0].value and "DROP" in at.error[0].value
    assert all("DROP" not in sql for sql, _ in reader.calls)
    assert not at.get("download_button")


def test_sql_page_shows_results_as_table_chart_and_downloads() -> None:
    at = open_page(app(FakeReader()), "sql")
    at.text_area(key="sql.text").set_value("SELECT org_id, count() AS mentions FROM mentions "
                                           "GROUP BY org_id")
    at.button(key="sql.run").click().run()
    assert not at.exception and not at.error
    result = at.dataframe[-1].value
    assert result["mentions"].tolist() == [120, 20]
    assert len(at.get("download_button")) == 2
    assert at.selectbox(key="sql.chart_x").value == "org_id"
    assert at.multiselect(key="sql.chart_y").value == ["mentions"]
    (chart,) = charts(at)
    assert '"type": "line"' in chart.proto.spec and '"field": "mentions"' in chart.proto.spec


def test_sql_page_examples_fill_the_editor_and_the_schema_lists_columns() -> None:
    at = open_page(app(FakeReader()), "sql")
    first = queries.EXAMPLES[0]
    at.selectbox(key="sql.example").set_value(first.title).run()
    assert at.text_area(key="sql.text").value == first.sql
    labels = [e.label for e in at.expander]
    assert "mentions (2 columns)" in labels
    assert "alerts (0 columns)" in labels


def test_sql_page_reports_a_failing_query() -> None:
    answers = scenario()
    reader = FakeReader(answers)
    at = open_page(app(reader), "sql")
    reader.failure = WarehouseError("Code: 47. Unknown expression identifier `nope`")
    at.text_area(key="sql.text").set_value("SELECT nope FROM mentions")
    at.button(key="sql.run").click().run()
    assert not at.exception
    assert "The query failed" in at.error[0].value and "nope" in at.error[0].value


# -- no data, no worker ----------------------------------------------------------------

PAGES = ("clients", "client", "alerts")


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_warehouse_says_how_to_fill_it(page: str) -> None:
    at = open_page(app(FakeReader(empty_scenario())), page)
    assert [i.value for i in at.info] == [EMPTY_HINT]
    assert not at.error


@pytest.mark.parametrize("page", [*PAGES, "sql"])
def test_a_worker_that_is_down_gives_a_message_not_a_traceback(page: str) -> None:
    failure = WarehouseError("the worker (pid 4242) did not answer on http://127.0.0.1:6066")
    at = open_page(app(FakeReader(failure=failure)), page)
    messages = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert any("did not answer" in m for m in messages), messages


def test_without_a_reader_the_app_reads_the_environment_and_explains_a_missing_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DORPSPOMP_WAREHOUSE", "DORPSPOMP_ROSTER", "DORPSPOMP_WAREHOUSE_READER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DORPSPOMP_HOME", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert "stream worker is not running" in at.warning[0].value
    assert not (tmp_path / "warehouse").exists()
