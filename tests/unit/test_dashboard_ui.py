"""Every dashboard page in Streamlit's AppTest, fed by a fake reader: no services.

The fake answers each statement of `dashboard.queries` with a small Arrow
table shaped like the warehouse's answer, so the tests check what a person
sees: the numbers in the tables and metrics, the charts, the messages.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries
from dashboard.data import Scope
from dashboard.session import (
    EMPTY_HINT,
    LIVE_KEY,
    LIVE_TOGGLE,
    READER_KEY,
    ROSTER_KEY,
    SCOPE_KEY,
)
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
            "open_past_sla": (u64, [3, 0]),
            "oldest_past_sla_at": (MS, [NOW - timedelta(hours=2, minutes=30), None]),
            "answered_today": (u64, [10, 3]),
            "median_response_today": (f64, [1800.0, 600.0]),
            "median_business_response_today": (f64, [1200.0, 600.0]),
            "within_sla_today": (u64, [6, 3]),
            "sla_due_today": (u64, [8, 3]),
        }),
        queries.CLIENTS_ALERTS: table({
            "org_id": (s, ["bibliotheek-oost", "gemeente-zutphen", "vliegmaatschappij-x"]),
            "open_alerts": (u64, [1, 2, 1]), "open_surges": (u64, [1, 0, 0]),
            "open_severity": (f64, [7.5, 5.0, 3.0]), "open_silences": (u64, [0, 0, 1]),
            "silence_summary": (s, ["", "", "Vliegmaatschappij X: no post for 5 h while "
                                            "40 mentions came in"]),
        }),
        queries.CLIENTS_SURGES: table({
            "org_id": (s, ["bibliotheek-oost"]), "open_surges": (u64, [1]),
            "surge_severity": (f64, [7.5]),
            "surge_opened_at": (MS, [NOW - timedelta(minutes=20)]),
            "surge_summary": (s, ["Bibliotheek Oost: 30 complaints in 10 min, 6.0× the usual "
                                  "5.0 for a Wednesday 12:40"]),
            "surge_reach": (u64, [50000]),
        }),
        queries.CLIENTS_SILENCE: table({
            # telecom-west (roster defaults: UTC, Mon-Fri 09:00-17:00) has not posted since
            # yesterday noon: 5 + 3 business hours; Zutphen posted, then 2 mentions came.
            "org_id": (s, ["telecom-west", "gemeente-zutphen"]),
            "mentions_since_post": (u64, [12, 2]),
            "last_mention_at": (MS, [NOW - timedelta(minutes=10), NOW - timedelta(minutes=5)]),
            "last_post_at": (MS, [NOW - timedelta(days=1), NOW - timedelta(minutes=30)]),
        }),
        queries.CLIENTS_WAITING: table({
            "org_id": (s, ["gemeente-zutphen", "bibliotheek-oost"]),
            "mention_id": (s, ["m-old", "b-1"]),
            "created_at": (MS, [NOW - timedelta(hours=3), NOW - timedelta(hours=1)]),
            "platform": (s, ["twitter", "instagram"]), "kind": (s, ["direct", "comment"]),
            "author_handle": (s, ["anna_z", "lezer42"]),
            "author_followers": (u64, [896037, 12]),
            "complaint": (pa.bool_(), [True, False]),
            "sla_breached": (pa.bool_(), [True, False]),
            "sla_breach_at": (MS, [NOW - timedelta(hours=2, minutes=30),
                                   NOW + timedelta(minutes=40)]),
            "text": (s, ["Waarom is het loket dicht?", "Wanneer gaat de bieb open?"]),
        }),
        queries.CLIENT_SPAN: table({"first_at": (MS, [NOW - timedelta(days=20)]),
                                    "last_at": (MS, [NOW]), "mentions": (u64, [300])}),
        queries.CLIENT_ACTIVITY: table({
            "bucket": (MS, [NOW - timedelta(hours=2), NOW - timedelta(hours=1)]),
            "mentions": (u64, [40, 60]), "complaints": (u64, [5, 25]),
            "shares": (u64, [3, 4]), "potential_reach": (u64, [1000, 5000]),
        }),
        queries.CLIENT_ALERTS: table({
            "alert_id": (s, ["complaint_surge:gemeente-zutphen:1", "sla_breach:m-older"]),
            "kind": (s, ["complaint_surge", "sla_breach"]), "status": (s, ["open", "resolved"]),
            "opened_at": (MS, [NOW - timedelta(minutes=50), NOW - timedelta(days=2)]),
            "resolved_at": (MS, [None, NOW - timedelta(days=1)]),
            "severity": (f64, [7.5, 5.0]), "observed": (f64, [25.0, 5400.0]),
            "expected": (f64, [4.0, 1800.0]),
            "summary": (s, ["Gemeente Zutphen: 25 complaints in 30 min, usually 4",
                            "Gemeente Zutphen: mention by @piet answered after 1h30m"]),
            "samples": (u64, [2, 1]),
            # The surge's details as the pipeline writes them; the older alert has none.
            "details": (s, [json.dumps({
                "terms": [{"term": "#loket", "complaints": 12, "share": 0.5,
                           "usual_share": 0.04}],
                "top_authors": [{"author_id": "u1", "handle": "anna_z",
                                 "followers": 896037}], "posts": []}), ""]),
        }),
        queries.CLIENT_RESPONSE_SUMMARY: table({
            "actionable": (u64, [90]), "answered": (u64, [70]), "pending": (u64, [4]),
            "unanswered": (u64, [16]), "median_response_seconds": (f64, [2700.0]),
            "p90_response_seconds": (f64, [86400.0]), "median_business_seconds": (f64, [900.0]),
            "p90_business_seconds": (f64, [7200.0]), "within_sla": (u64, [45]),
            "breached": (u64, [35]), "sla": (f64, [1800.0]),
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
            "role": (s, ["official", "employee", "unknown"]),
            "handle": (s, ["gemeentezutphen", "marieke_zutphen", ""]),
            "answers": (u64, [50, 20, 1]),
            "median_response_seconds": (f64, [1200.0, 5400.0, 60.0]),
            "median_business_seconds": (f64, [600.0, 1800.0, 60.0]),
            "within_sla": (u64, [40, 5, 0]),
        }),
        queries.CLIENT_OPEN_QUEUE: table({
            "mention_id": (s, ["m-old", "m-new"]),
            "created_at": (MS, [NOW - timedelta(hours=3), NOW - timedelta(minutes=5)]),
            "status": (s, ["pending", "pending"]), "platform": (s, ["twitter", "facebook"]),
            "kind": (s, ["direct", "mention"]), "author_handle": (s, ["anna_z", "bert"]),
            "author_followers": (u64, [896037, 12]), "complaint": (pa.bool_(), [True, False]),
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
            # As the pipelines write them; the resolved one is from before migration 0006.
            "details": (s, [json.dumps({
                "terms": [{"term": "#bieb", "complaints": 20, "share": 0.667,
                           "usual_share": 0.05}],
                "share": 0.9, "usual_share": 0.2,
                "top_authors": [{"author_id": "u7", "handle": "lezer42", "followers": 1200}],
                "posts": [{"event_id": "s-1", "author": "lezer42", "followers": 1200,
                           "text": "De bieb is al weken dicht!"}]}),
                json.dumps({"past_sla": 4, "complaints_past_sla": 2,
                            "oldest_mention_id": "m-old",
                            "oldest_created_at": "2026-03-25T09:00:00.000Z",
                            "oldest_business_seconds": 9000.0, "sla_seconds": 1800.0,
                            "confirmed": True}), ""]),
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


# -- how every page shows values -------------------------------------------------------


def headers(frame: Any) -> list[str]:
    """The headers a person sees on a st.dataframe: each column's label, else its name."""
    config = json.loads(frame.proto.columns) if frame.proto.columns else {}
    shown = []
    for name in frame.value.columns:
        column = config.get(str(name)) or {}
        if not column.get("hidden"):
            shown.append(column.get("label") or str(name))
    return shown


def assert_readable(at: AppTest) -> None:
    """What issue 13 found on the pages: snake_case headers, `None` beside `–`, raw UTC
    times with `+00:00`. Every table has readable headers, shows a missing value as `–`
    and times as text without an offset; no text on the page says None or +00:00."""
    assert at.dataframe
    for frame in at.dataframe:
        assert frame.proto.placeholder == "–", headers(frame)
        assert not any("_" in h for h in headers(frame)), headers(frame)
        values = frame.value
        assert not [c for c in values.columns if str(values[c].dtype).startswith("datetime")]
        for column in values.columns:
            for cell in values[column]:
                assert not (isinstance(cell, str) and ("+00:00" in cell or cell == "None")), (
                    column, cell)
    for grid in at.get("table"):
        assert "None" not in grid.value.to_string()
    texts = ([m.value for m in at.metric] + [c.value for c in at.caption]
             + [e.label for e in at.expander])
    assert not [t for t in texts if "+00:00" in t or "None" in t], texts


@pytest.mark.parametrize("page", ["clients", "client", "alerts"])
def test_every_table_has_readable_headers_one_no_value_and_local_times(page: str) -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"
    assert_readable(open_page(at, page))


# -- All clients -----------------------------------------------------------------------


def test_clients_page_answers_which_client_first_with_every_reason_in_full() -> None:
    at = open_page(app(FakeReader()), "clients")
    first = at.get("table")[0].value
    # The surge, then the silence (8 business hours), then the SLA queue (3 waiting), then
    # the silent_org alert; Gemeente Deventer has no reason.
    assert [re.sub(r"\]\(.*", "", c).lstrip("[") for c in first["Client"]] == [
        "Bibliotheek Oost", "telecom-west", "Gemeente Zutphen", "Vliegmaatschappij X"]
    assert first["Urgency"].tolist() == [48, 15, 11, 10]
    assert first["Client"][0] == "[Bibliotheek Oost](client?org=bibliotheek-oost)"
    why = first["Why"].tolist()
    assert why[0] == ("complaint surge (severity 7.5, open 20 min): 30 complaints in 10 min, "
                      "6.0× the usual 5.0 for a Wednesday 12:40; the complainers reach "
                      "50,000 people")
    assert why[1] == "no post for 8 h of business hours, while 12 mentions came in"
    assert why[2] == ("3 mentions wait past the 30 min SLA, the oldest 2 h 30 min of business "
                      "hours past it")
    assert why[3] == "silent (alert): no post for 5 h while 40 mentions came in"
    # The headline counts exactly the clients with a reason.
    assert metrics(at)["Clients needing attention"] == f"{first.shape[0]} of 5"

    every = at.dataframe[1].value
    assert every["Client"].tolist() == ["Bibliotheek Oost", "telecom-west", "Gemeente Zutphen",
                                        "Vliegmaatschappij X", "Gemeente Deventer"]
    assert every["Urgency"].tolist() == [48, 15, 11, 10, 0]
    assert at.dataframe[1].proto.row_height == 30
    zutphen = every.iloc[2]
    assert zutphen["Last hour"] == 30
    assert zutphen["Usual"] == 5.0
    assert zutphen["Complaints %"] == 25.0
    assert zutphen["Open"] == 4
    assert zutphen["Past SLA"] == 3
    assert zutphen["Oldest open"] == "3 h"
    assert zutphen["Median response"] == "30 min"
    assert zutphen["Within SLA %"] == 75.0
    assert zutphen["Reach today"] == 12345
    assert zutphen["Open alerts"] == 2
    assert metrics(at) == {"Mentions in the last hour": "33", "Open mentions": "4",
                           "Open alerts": "4", "Clients needing attention": "4 of 5"}


def test_clients_page_without_a_reason_says_so_and_counts_nobody() -> None:
    answers = scenario()
    for query in (queries.CLIENTS_SURGES, queries.CLIENTS_SILENCE):
        answers[query] = answers[query].slice(0, 0)
    answers[queries.CLIENTS_ALERTS] = answers[queries.CLIENTS_ALERTS].slice(0, 0)
    responses = answers[queries.CLIENTS_RESPONSES]
    answers[queries.CLIENTS_RESPONSES] = responses.set_column(
        responses.schema.get_field_index("open_past_sla"), "open_past_sla",
        pa.array([0, 0], pa.uint64()))
    at = open_page(app(FakeReader(answers)), "clients")
    assert metrics(at)["Clients needing attention"] == "0 of 5"
    assert not at.get("table")
    assert any("No client needs attention now" in s.value for s in at.success)


def test_clients_page_lists_the_oldest_waiting_mentions_of_every_client() -> None:
    reader = FakeReader()
    at = open_page(app(reader), "clients")
    (asked,) = reader.parameters_of(queries.CLIENTS_WAITING)
    assert (asked["per_client"], asked["limit"]) == (3, 20)
    assert asked["since"] == "2026-03-17 12:00:00.000"  # answer window 7 d + lateness 1 d
    queue = at.dataframe[0]
    assert headers(queue)[:4] == ["Client", "Posted", "Waiting", "Past SLA by"]
    shown = queue.value
    assert shown["client"].tolist() == ["Gemeente Zutphen", "Bibliotheek Oost"]
    assert shown["posted"].tolist() == ["2026-03-25 09:00", "2026-03-25 11:00"]  # UTC here
    assert shown["waiting"].tolist() == ["3 h", "1 h"]
    assert shown["past_sla_by"].tolist() == ["2 h 30 min", "–"]
    followers = json.loads(queue.proto.columns)["author_followers"]
    assert followers["type_config"]["format"] == "localized"  # 896,037


def test_clients_page_measures_at_the_watermark_with_each_clients_own_day() -> None:
    reader = FakeReader()
    open_page(app(reader), "clients")
    (volume,) = reader.parameters_of(queries.CLIENTS_VOLUME)
    assert volume["now"] == "2026-03-25 12:00:00.000"
    day = dict(zip(volume["day_orgs"], volume["day_starts"], strict=True))
    assert day["gemeente-zutphen"] == "2026-03-24 23:00:00.000"  # Amsterdam midnight
    assert volume["default_day_start"] == "2026-03-25 00:00:00.000"
    assert volume["restrict"] == 0
    (silence,) = reader.parameters_of(queries.CLIENTS_SILENCE)
    assert (silence["now"], silence["since"]) == ("2026-03-25 12:00:00.000",
                                                  "2026-03-18 12:00:00.000")


def test_clients_page_filters_by_name() -> None:
    at = open_page(app(FakeReader()), "clients")
    at.text_input(key="clients.filter").set_value("gemeente").run()
    assert at.dataframe[-1].value["Client"].tolist() == ["Gemeente Zutphen",
                                                         "Gemeente Deventer"]
    assert metrics(at)["Clients needing attention"] == "1 of 2"
    assert at.dataframe[0].value["client"].tolist() == ["Gemeente Zutphen"]
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
    assert [str(c) for c in at.get("table")[0].value["Client"]] == [
        "[Gemeente Zutphen](client?org=gemeente-zutphen)"]
    at.switch_page("pages/sql.py").run()
    assert not at.exception
    assert "only the rows of Gemeente Zutphen" in at.info[0].value
    labels = [e.label for e in at.expander]
    assert labels and not any(label.startswith("dead_letters") for label in labels)
    assert "Rejected input by reason" not in at.selectbox(key="sql.example").options
    at.text_area(key="sql.text").set_value("SELECT table, total_rows FROM system.tables").run()
    at.button(key="sql.run").click().run()
    assert "system.tables counts and sizes the rows of every client" in at.error[0].value


# -- live pages --------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["clients", "client", "alerts"])
def test_every_live_page_can_be_paused_and_the_session_remembers_it(page: str) -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, page)
    assert at.toggle(key=LIVE_TOGGLE).value is True
    assert any("refreshes every 5 s" in c.value for c in at.caption)
    at.toggle(key=LIVE_TOGGLE).set_value(False).run()
    assert at.session_state[LIVE_KEY] is False
    assert any("refresh paused" in c.value for c in at.caption)
    assert not any("refreshes every" in c.value for c in at.caption)
    other = "alerts" if page != "alerts" else "clients"
    at.switch_page(f"pages/{other}.py").run()
    assert at.toggle(key=LIVE_TOGGLE).value is False
    assert any("refresh paused" in c.value for c in at.caption)


# -- One client ------------------------------------------------------------------------


def test_client_page_shows_activity_responses_queue_reach_and_voice() -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    assert at.selectbox(key="client.org").value == "gemeente-zutphen"
    shown = metrics(at)
    assert shown["Mentions"] == "100"
    assert shown["Complaints"] == "30"
    assert shown["Alerts in range"] == "2"
    assert shown["Answered"] == "70"
    assert shown["Median first response"] == "45 min"
    assert shown["Median in business hours"] == "15 min"
    assert shown["Within SLA"] == "56%"  # 45 of 45 + 35
    assert shown["Potential reach in range"] == "6,000"
    # activity with alert markers, histogram, heatmap, responders, reach, share of voice x2
    assert len(charts(at)) == 7
    tables = [d.value for d in at.dataframe]
    queue = next(t for t in tables if "waiting" in t.columns)
    assert queue["mention_id"].tolist() == ["m-old", "m-new"]
    assert queue["waiting"].tolist() == ["3 h", "5 min"]
    voices = next(t for t in tables if "influence" in t.columns)
    assert voices["author_handle"].tolist() == ["journalist_jan"]
    voice = next(t for t in tables if "share_pct" in t.columns)
    assert voice["name"].tolist() == ["Gemeente Zutphen", "Gemeente Deventer"]
    assert voice["share_pct"].tolist() == [80.0, 20.0]


def test_client_page_shows_times_in_the_clients_zone_and_alerts_newest_first() -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"  # Europe/Amsterdam: UTC+1 in March
    open_page(at, "client")
    caption = at.caption[0].value
    assert "**2026-03-25 13:00**" in caption and "times in Europe/Amsterdam" in caption
    assert "range 2026-03-18 13:00 – 2026-03-25 13:00" in caption
    frames = list(at.dataframe)
    alerts = next(f for f in frames if "Severity" in headers(f))
    assert alerts.value["opened_at"].tolist() == ["2026-03-25 12:10", "2026-03-23 13:00"]
    assert alerts.value["kind"].tolist() == ["complaint surge", "SLA breach"]
    assert alerts.value["observed"].tolist() == ["25 complaints", "1 h 30 min business"]
    assert alerts.value["about"].tolist() == [
        "#loket in 50% of its complaints (usually 4%); loudest @anna_z (896,037 followers)",
        "–"]
    assert json.loads(alerts.proto.columns)["severity"]["type_config"]["format"] == "%.1f"
    queue = next(f for f in frames if "Waiting" in headers(f))
    assert queue.value["created_at"].tolist() == ["2026-03-25 10:00", "2026-03-25 12:55"]
    assert headers(queue)[:4] == ["Posted", "Waiting", "Status", "Past SLA"]


def test_client_page_explains_calendar_vs_business_and_headline_vs_responders() -> None:
    at = app(FakeReader())
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    explained = next(c.value for c in at.caption if "Calendar vs business hours" in c.value)
    assert "SLA of 30 min counts only the client's business hours (Mon–Fri 09:00-17:00, " \
           "Europe/Amsterdam)" in explained
    # 70 answered, 45 in time: 25 late; 35 breached, so 10 late ones were never answered.
    assert "45 answered in time out of 80, where 10 of the 35 late ones are still not " \
           "answered" in explained
    responders = next(f for f in at.dataframe if "Within SLA %" in headers(f))
    assert responders.value["within_sla_pct"].tolist() == [80.0, 25.0, 0.0]
    assert responders.value["handle"].tolist()[-1] == "(unknown)"


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
    # The influential voices follow the range picker.
    (voices,) = reader.parameters_of(queries.CLIENT_INFLUENCERS)
    assert (voices["start"], voices["end"]) == (activity["start"], activity["end"])
    at.segmented_control(key="client.range").set_value("24 hours").run()
    assert not at.exception
    assert reader.parameters_of(queries.CLIENT_ACTIVITY)[-1]["start"] == (
        "2026-03-24 12:00:00.001")
    assert reader.parameters_of(queries.CLIENT_INFLUENCERS)[-1]["start"] == (
        "2026-03-24 12:00:00.001")


def test_client_page_takes_whole_dates_in_the_clients_zone_as_a_range() -> None:
    reader = FakeReader()
    at = app(reader)
    at.query_params["org"] = "gemeente-zutphen"
    open_page(at, "client")
    at.segmented_control(key="client.range").set_value("Dates…").run()
    assert at.date_input(key="client.dates").label == "Dates (Europe/Amsterdam)"
    at.date_input(key="client.dates").set_value((date(2026, 3, 1), date(2026, 3, 3))).run()
    assert not at.exception
    last = reader.parameters_of(queries.CLIENT_RESPONSE_SUMMARY)[-1]
    # Amsterdam's midnights of 1 and 4 March, in UTC.
    assert (last["start"], last["end"]) == ("2026-02-28 23:00:00.000", "2026-03-03 23:00:00.000")


def test_client_page_remembers_the_last_client_in_the_session_and_the_url() -> None:
    reader = FakeReader()
    at = app(reader)
    at.run()
    at.switch_page("pages/client.py").run()
    # Nothing chosen yet: the most urgent client, not the alphabetically first one.
    assert at.selectbox(key="client.org").value == "bibliotheek-oost"
    at.selectbox(key="client.org").set_value("vliegmaatschappij-x").run()
    assert at.query_params["org"] == "vliegmaatschappij-x"  # a reload keeps it
    at.switch_page("pages/alerts.py").run()
    at.query_params.clear()
    at.switch_page("pages/client.py").run()
    assert not at.exception
    assert at.selectbox(key="client.org").value == "vliegmaatschappij-x"
    assert reader.parameters_of(queries.CLIENT_SPAN)[-1]["org_id"] == "vliegmaatschappij-x"
    # A link with ?org= wins over the memory.
    at.query_params["org"] = "gemeente-zutphen"
    at.switch_page("pages/alerts.py").run()
    at.query_params["org"] = "gemeente-zutphen"
    at.switch_page("pages/client.py").run()
    assert at.selectbox(key="client.org").value == "gemeente-zutphen"


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
    # Newest first, in the agency's zone (the roster's default, UTC here), as text.
    assert listing["opened_at"].tolist() == ["2026-03-25 11:40", "2026-03-25 10:00",
                                             "2026-03-23 12:00"]
    assert listing["severity"].tolist() == [8.0, 6.0, 5.0]
    assert json.loads(at.dataframe[0].proto.columns)["severity"]["type_config"]["format"] == (
        "%.1f")
    assert len(charts(at)) == 1
    (asked,) = reader.parameters_of(queries.ALERT_SAMPLES)
    assert asked["alert_ids"] == listing["alert_id"].tolist()
    assert len(at.expander) == 3
    assert at.expander[0].label == ("Bibliotheek Oost · complaint surge · open · "
                                    "2026-03-25 11:40 (20 min)")
    surge_samples = at.expander[0].dataframe[0].value
    assert surge_samples["text"].tolist() == ["De bieb is al weken dicht!",
                                              "Geen reactie op mijn mail"]
    assert at.expander[2].caption[-1].value == "No sample mentions found in the warehouse."
    # What each alert is about, from its details; none for the one written before them.
    assert listing["about"].tolist() == [
        "#bieb in 67% of its complaints (usually 5%); loudest @lezer42 (1,200 followers)",
        "4 mentions wait past the 30 min SLA (2 of them complaints); the oldest since "
        "2026-03-25 09:00, 2 h 30 min of business time",
        "–"]
    surge = at.expander[0].markdown[1].value  # under the summary
    assert "Complaints were 90% of its mentions \\(usually 20%\\)" in surge
    assert "@lezer42 \\(1,200 followers\\): “De bieb is al weken dicht\\!”" in surge
    assert [m.value for m in at.expander[2].markdown] == [
        "Gemeente Zutphen: mention by @piet answered after 1h30m"]


def test_alerts_timeline_reads_times_of_the_agency_zone() -> None:
    at = open_page(app(FakeReader()), "alerts")
    (chart,) = charts(at)
    spec = json.loads(chart.proto.spec)
    x = spec["encoding"]["x"]
    assert x["scale"] == {"type": "utc"}
    assert x["axis"]["format"] == "%a %H:%M"  # two days: a label every 12 hours
    assert x["axis"]["tickCount"] == 4
    assert x["title"] == "time (UTC)"


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
        answers[queries.ALERTS_LIST].column_names.index("matching"), "matching",
        pa.array([5000] * 3, pa.uint64()))
    at = open_page(app(FakeReader(answers)), "alerts")
    assert any(s.value == "5,000 alerts" for s in at.subheader)
    assert any("The newest 3" in c.value for c in at.caption)


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
