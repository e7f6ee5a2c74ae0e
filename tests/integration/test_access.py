"""Acceptance 3: a client login cannot see another client's data in any page or query.

A real worker fills an embedded warehouse (chDB) from replayed conversations of
six organisations plus rejected lines; then, as the client login of
gemeente-zutphen:

- every ad-hoc route to the rows (tables, views, database-qualified names, FINAL,
  subqueries, CTEs, JOINs, IN, UNION/INTERSECT/EXCEPT, the view() table function)
  gives only its rows, through the worker's `/query` and so through the engine's
  own filters, also when the request skips dorpspomp's Python checks;
- the routes that would leak (merge(), mergeTreeIndex(), system.parts,
  system.tables, information_schema, EXPLAIN, the _part_offset column, a
  SETTINGS clause) are refused, and tables without organisations read empty;
- every dashboard page, after signing in with the form, names no other client;
- the oracles of issue 10 (an expression that fails or sleeps on another client's rows,
  in PREWHERE, WHERE or SELECT) learn nothing: the engine's row policies hide those rows
  before any expression of the client runs, and engine errors never quote a row;
- `/query` answers only the worker's key or a token from `/login`, and the scope comes
  from the token's login; reads are fair (a client's long queries leave the agency's
  quick), bounded (bytes, not only rows) and start clean after a failure; sign-ins lock
  after repeated failures.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.roster import load_roster
from pipelines.serving.logins import UserBook, load_users, new_login, save_users
from pipelines.serving.readapi import NotSignedIn, ReaderBusy, WarehouseReader, sign_in
from pipelines.serving.sqlguard import ForbiddenQuery
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseError
from tests import eventgen
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration

APP = ROOT / "dashboard" / "app.py"
CLIENT = "gemeente-zutphen"
PASSWORD = "zutphen-aan-de-ijssel"
START = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)


OTHER = "bibliotheek-oost"
OTHER_PASSWORD = "boeken-in-oost-99"
TARGET_PASSWORD = "brute-force-target-77"


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("access")
    users = home / "users.yaml"
    save_users(users, UserBook({
        "zutphen": new_login("zutphen", PASSWORD, [CLIENT]),
        "oost": new_login("oost", OTHER_PASSWORD, [OTHER]),
        "target": new_login("target", TARGET_PASSWORD, [OTHER]),
        "anna": new_login("anna", "agency-password", None)}))
    s = Stack.fresh("a", home / "home", kafka_broker.bootstrap, extra_env={
        "DORPSPOMP_DASHBOARD_USERS": str(users), "DORPSPOMP_QUERY_TIMEOUT": "8",
        "DORPSPOMP_LOGIN_LOCKOUT": "6"})
    s.start_worker()
    try:
        import random

        rng = random.Random(3)
        lines = list(eventgen.conversations(600, seed=5, days=4, start=START))
        lines += [eventgen.bad_line(kind, i, START + timedelta(hours=i), rng)
                  for i, kind in enumerate(("broken_json", "missing_field", "bad_org_id"))]
        path = home / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        s.cli("replay", str(path), "--quiet")
        s.wait_caught_up()
        yield s
    finally:
        s.stop_worker()


@pytest.fixture
def env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The stack's settings in this process, users file included."""
    for name in [n for n in os.environ if n.startswith("DORPSPOMP_")]:
        monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("DORPSPOMP_"):
            monkeypatch.setenv(name, value)
    return Settings.from_env()


@pytest.fixture
def agency(env: Settings) -> Iterator[WarehouseReader]:
    """The operator: `dorpspomp sql`, with the worker's key."""
    reader = WarehouseReader(env)
    yield reader
    reader.close()


def signed_in(env: Settings, name: str, password: str) -> WarehouseReader:
    """A reader that holds the worker's token for `name`, as the dashboard's session does."""
    granted = sign_in(env, name, password, "192.0.2.10")
    return WarehouseReader(env, granted.org_ids, token=granted.token)


@pytest.fixture
def client(env: Settings) -> Iterator[WarehouseReader]:
    reader = signed_in(env, "zutphen", PASSWORD)
    assert reader.org_ids == frozenset({CLIENT})
    yield reader
    reader.close()


def rows(reader: WarehouseReader, sql: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = reader.query(sql).to_pylist()
    return result


def org_ids(table: pa.Table) -> set[str]:
    found = set()
    for name in table.column_names:
        if name.endswith("org_id"):
            found |= {v for v in table.column(name).to_pylist() if v is not None}
    return found


# Every way to the rows that the engine takes; each must give the client's rows only.
ROUTES = {
    "table": "SELECT org_id FROM mentions",
    "database-qualified": "SELECT org_id FROM dorpspomp.mentions",
    "quoted names": "SELECT org_id FROM `dorpspomp`.`posts`",
    "view mention_responses": "SELECT org_id FROM mention_responses",
    "view alerts": "SELECT org_id FROM alerts",
    "view org_activity_1m": "SELECT org_id FROM org_activity_1m",
    "view influencers": "SELECT org_id FROM influencers",
    "view post_reach": "SELECT org_id FROM post_reach",
    "state table FINAL": "SELECT org_id FROM mention_responses_state FINAL",
    "alerts_state FINAL": "SELECT org_id FROM alerts_state FINAL",
    "subquery": "SELECT org_id FROM (SELECT * FROM mentions WHERE 1)",
    "CTE": "WITH m AS (SELECT org_id FROM mentions) SELECT org_id FROM m",
    "scalar subquery": "SELECT arrayJoin((SELECT groupUniqArray(org_id) FROM posts)) AS org_id",
    "join": "SELECT m.org_id AS m_org_id, p.org_id AS p_org_id FROM mentions AS m "
            "FULL OUTER JOIN posts AS p ON m.event_id = p.in_reply_to",
    "comma join": "SELECT a.org_id AS a_org_id, r.org_id AS r_org_id "
                  "FROM alerts AS a, mention_responses AS r LIMIT 100000",
    "in subquery": "SELECT DISTINCT org_id FROM mentions WHERE event_id IN "
                   "(SELECT in_reply_to FROM posts)",
    "union, table second": "SELECT 'zzz-nobody' AS x, '' AS org_id "
                           "UNION ALL SELECT 'row', org_id FROM mentions",
    "union of tables": "SELECT org_id FROM mentions UNION DISTINCT SELECT org_id FROM posts",
    "intersect": "SELECT org_id FROM mentions INTERSECT SELECT org_id FROM posts",
    "except": "SELECT org_id FROM mentions EXCEPT SELECT 'zzz-nobody'",
    "view() table function": "SELECT org_id FROM view(SELECT org_id FROM mentions)",
    "group by with totals": "SELECT org_id, count() AS n FROM mentions GROUP BY org_id "
                            "WITH TOTALS",
}


@pytest.mark.parametrize("sql", list(ROUTES.values()), ids=list(ROUTES))
def test_every_route_to_the_rows_gives_the_clients_rows_only(
    agency: WarehouseReader, client: WarehouseReader, sql: str
) -> None:
    everyone = org_ids(agency.query(sql))
    assert len(everyone - {""}) > 1, "the agency should see several organisations here"
    assert org_ids(client.query(sql)) - {""} == {CLIENT}


def test_every_table_with_organisations_is_filtered(
    agency: WarehouseReader, client: WarehouseReader
) -> None:
    tables = [r["table"] for r in rows(agency, "SELECT table FROM system.columns "
                                       "WHERE database = currentDatabase() AND name = 'org_id'")]
    assert {"mentions", "posts", "mention_responses", "alerts", "alerts_state"} <= set(tables)
    for table in tables:
        seen = {r["org_id"] for r in rows(client, f"SELECT DISTINCT org_id FROM `{table}`")}
        assert seen <= {CLIENT}, table


def test_the_client_sees_the_same_numbers_for_itself_as_the_agency(
    agency: WarehouseReader, client: WarehouseReader
) -> None:
    """Filtering inside the views does not change the client's own figures."""
    questions = [
        "SELECT count() AS n, countIf(complaint) AS c, sum(author_followers) AS f "
        "FROM mentions {where}",
        "SELECT status, count() AS n, countIf(sla_breached) AS b FROM mention_responses "
        "{where} GROUP BY status ORDER BY status",
        "SELECT author_id, mentions, times_shared, round(influence, 6) AS i FROM influencers "
        "{where} ORDER BY author_id",
        "SELECT sum(mentions) AS m, sum(replies) AS r, sum(potential_reach) AS p "
        "FROM org_activity_1m {where}",
        "SELECT event_id, shares, potential_reach FROM post_reach {where} ORDER BY event_id",
    ]
    for question in questions:
        mine = rows(client, question.format(where=""))
        theirs = rows(agency, question.format(where=f"WHERE org_id = '{CLIENT}'"))
        assert mine == theirs and mine, question
    statuses = {r["status"] for r in rows(client, "SELECT DISTINCT status FROM mention_responses")}
    assert "unanswered" in statuses  # the shared event clock reaches the view


def test_tables_without_organisations_read_empty(
    agency: WarehouseReader, client: WarehouseReader
) -> None:
    for table in ("dead_letters", "ingest_offsets", "schema_migrations", "alert_deliveries"):
        assert rows(agency, f"SELECT count() AS n FROM {table}")[0]["n"] >= (
            1 if table != "alert_deliveries" else 0), table
        assert rows(client, f"SELECT count() AS n FROM {table}")[0]["n"] == 0, table


LEAKS = {
    "merge()": "SELECT org_id FROM merge(currentDatabase(), '^mentions$')",
    "mergeTreeIndex()": "SELECT * FROM mergeTreeIndex('dorpspomp', 'mentions')",
    "cluster()": "SELECT org_id FROM cluster('default', dorpspomp.mentions)",
    "remote()": "SELECT org_id FROM remote('127.0.0.1', dorpspomp.mentions)",
    "loop()": "SELECT org_id FROM loop('dorpspomp', 'mentions') LIMIT 5",
    "system.parts": "SELECT table, rows FROM system.parts",
    "system.query_log": "SELECT query FROM system.query_log",
    "system.tables": "SELECT name, total_rows FROM system.tables",
    "system.columns": "SELECT table, data_compressed_bytes FROM system.columns",
    "information_schema": "SELECT table_name, table_rows FROM information_schema.tables",
    "EXPLAIN ESTIMATE": "EXPLAIN ESTIMATE SELECT * FROM mentions",
    "_part_offset": "SELECT _part_offset FROM mentions",
    "SETTINGS": "SELECT org_id FROM mentions SETTINGS additional_table_filters = {}",
    "default database": "SELECT * FROM default.mentions",
}


@pytest.mark.parametrize("sql", list(LEAKS.values()), ids=list(LEAKS))
def test_routes_past_the_filters_are_refused_with_a_reason(
    client: WarehouseReader, sql: str
) -> None:
    with pytest.raises(ForbiddenQuery, match="refused: "):
        client.query(sql)


def raw_query(stack: Stack, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """POST to the worker's /query as any local program could, without dorpspomp's reader."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}/query", data=json.dumps(body).encode(), method="POST",
        headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, pa.ipc.open_stream(response.read()).read_all()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_worker_answers_only_its_key_or_its_tokens_and_takes_the_scope_from_the_login(
    stack: Stack, env: Settings, client: WarehouseReader
) -> None:
    sql = "SELECT org_id, count() AS n FROM mentions GROUP BY org_id"
    status, answer = raw_query(stack, {"sql": sql})
    assert status == 401 and "worker.key" in answer["error"]
    status, answer = raw_query(stack, {"sql": sql, "scope": {"org_ids": [CLIENT]}})
    assert status == 401  # naming a scope is no way in
    assert client.token is not None
    forged = client.token[:-4] + ("AAAA" if not client.token.endswith("AAAA") else "BBBB")
    status, answer = raw_query(stack, {"sql": sql}, forged)
    assert status == 401 and "sign in again" in answer["error"]
    status, table = raw_query(stack, {"sql": sql}, client.token)
    assert status == 200 and org_ids(table) == {CLIENT}
    status, answer = raw_query(stack, {"sql": sql, "scope": {"org_ids": [OTHER]}}, client.token)
    assert status == 403 and "cannot name a scope" in answer["error"]
    for leak in (LEAKS["system.tables"], LEAKS["merge()"], LEAKS["EXPLAIN ESTIMATE"]):
        status, answer = raw_query(stack, {"sql": leak}, client.token)
        assert status == 403 and answer["error"].startswith("refused: "), answer
    # The operator may narrow its own view, and only to real organisation lists.
    key = (Path(env.home) / "worker.key").read_text().strip()
    status, table = raw_query(stack, {"sql": sql, "scope": {"org_ids": [OTHER]}}, key)
    assert status == 200 and org_ids(table) == {OTHER}
    status, answer = raw_query(stack, {"sql": "SELECT 1", "scope": {"org_ids": []}}, key)
    assert status == 400


def test_a_removed_login_token_stops_working(stack: Stack, env: Settings) -> None:
    reader = signed_in(env, "target", TARGET_PASSWORD)
    assert reader.query("SELECT count() AS n FROM mentions").to_pylist()[0]["n"] > 0
    users = Path(stack.env["DORPSPOMP_DASHBOARD_USERS"])
    before = users.read_bytes()
    book = load_users(users)
    save_users(users, book.without("target"))
    try:
        with pytest.raises(NotSignedIn, match="removed or its password changed"):
            reader.query("SELECT 1")
    finally:
        users.write_bytes(before)


# -- the oracles of issue 10: nothing of another client reaches a client's expressions ------

ORACLES = {
    "PREWHERE cast": "SELECT count() AS n FROM mentions PREWHERE org_id = '{other}' AND "
                     "toUInt64(concat(org_id, ' | ', author_handle, ' | ', text)) = 1",
    "WHERE cast": "SELECT count() AS n FROM mentions WHERE org_id = '{other}' AND "
                  "toUInt64(concat(org_id, ' | ', author_handle, ' | ', text)) = 1",
    "PREWHERE throwIf": "SELECT count() AS n FROM mentions PREWHERE throwIf(org_id = '{other}')",
    "WHERE throwIf": "SELECT count() AS n FROM mentions WHERE throwIf(org_id = '{other}')",
    "throwIf in a view": "SELECT count() AS n FROM mention_responses "
                         "WHERE throwIf(org_id = '{other}')",
    "throwIf in a join": "SELECT count() AS n FROM mentions AS m JOIN posts AS p "
                         "ON m.event_id = p.in_reply_to WHERE throwIf(p.org_id = '{other}')",
    "throwIf in SELECT": "SELECT sum(throwIf(org_id = '{other}')) AS n FROM posts",
}


@pytest.mark.parametrize("sql", list(ORACLES.values()), ids=list(ORACLES))
def test_an_expression_that_fails_on_another_clients_rows_never_runs_on_them(
    agency: WarehouseReader, client: WarehouseReader, sql: str
) -> None:
    question = sql.format(other=OTHER)
    with pytest.raises(WarehouseError):  # the other client's rows exist, and trip it
        agency.query(question)
    assert client.query(question).to_pylist() == [{"n": 0}]


def test_an_engine_error_on_the_clients_own_rows_quotes_none_of_them(
    agency: WarehouseReader, client: WarehouseReader
) -> None:
    texts = {r["text"][:20] for r in rows(agency, "SELECT text FROM mentions WHERE text != ''")}
    with pytest.raises(WarehouseError) as failed:
        client.query("SELECT toUInt64(concat(org_id, ' | ', author_handle, ' | ', text)) "
                     "FROM mentions")
    message = str(failed.value)
    assert "CANNOT_PARSE" in message
    assert not [t for t in texts if t and t in message]
    assert not [o for o in eventgen.ORGS if o in message]
    assert "readonly" not in message and "log_comment" not in message


def test_sleeping_on_every_row_takes_as_long_as_on_the_clients_own_rows(
    client: WarehouseReader, agency: WarehouseReader
) -> None:
    """Timing shows nothing either: the client's expressions see only its own rows."""
    own = rows(agency, f"SELECT count() AS n FROM mentions WHERE org_id = '{CLIENT}'")[0]["n"]
    every = rows(agency, "SELECT count() AS n FROM mentions")[0]["n"]
    assert every > 3 * own > 0
    per_row = min(0.002, 2.0 / every)

    def timed(sql: str) -> float:
        started = time.monotonic()
        client.query(sql)
        return time.monotonic() - started

    everyone = min(timed(f"SELECT count() FROM mentions WHERE sleepEachRow({per_row}) = 0")
                   for _ in range(2))
    only_own = min(timed(f"SELECT count() FROM mentions WHERE org_id = '{CLIENT}' "
                         f"AND sleepEachRow({per_row}) = 0") for _ in range(2))
    # Had every client's rows been slept on, it would take (every - own) * per_row longer.
    assert everyone - only_own < 0.5 * (every - own) * per_row, (everyone, only_own)


# -- fair and bounded reads ----------------------------------------------------------------

LONG = "SELECT sum(cityHash64(number)) AS n FROM numbers(100000000000)"


def test_two_long_client_queries_leave_the_agency_quick_and_a_third_is_refused(
    env: Settings, agency: WarehouseReader
) -> None:
    import threading

    zutphen, oost = signed_in(env, "zutphen", PASSWORD), signed_in(env, "oost", OTHER_PASSWORD)
    failures: list[str] = []

    def long(reader: WarehouseReader) -> None:
        try:
            reader.query(LONG)
        except WarehouseError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=long, args=(r,)) for r in (zutphen, oost)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # both are running in the engine now
    try:
        started = time.monotonic()
        assert agency.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
        agency_seconds = time.monotonic() - started
        with pytest.raises(ReaderBusy, match="queries running"):
            zutphen.query("SELECT 1")
    finally:
        for thread in threads:
            thread.join(60)
    assert agency_seconds < 2, agency_seconds
    assert len(failures) == 2 and all("TIMEOUT_EXCEEDED" in f for f in failures), failures


def test_a_failed_query_does_not_spoil_the_next_ones_of_anyone(
    env: Settings, agency: WarehouseReader, client: WarehouseReader
) -> None:
    oost = signed_in(env, "oost", OTHER_PASSWORD)
    expected = {
        "agency": rows(agency, "SELECT count() AS n FROM mentions")[0]["n"],
        "zutphen": rows(agency, f"SELECT count() AS n FROM mentions "
                                f"WHERE org_id = '{CLIENT}'")[0]["n"],
        "oost": rows(agency, f"SELECT count() AS n FROM mentions "
                             f"WHERE org_id = '{OTHER}'")[0]["n"],
    }
    readers = {"agency": agency, "zutphen": client, "oost": oost}
    for failing in ("zutphen", "agency"):
        with pytest.raises(WarehouseError):
            readers[failing].query("SELECT toUInt64(text) FROM mentions WHERE text != ''")
        for i in range(20):
            who = ("agency", "oost", "zutphen")[i % 3]
            got = readers[who].query("SELECT count() AS n FROM mentions").to_pylist()
            assert got == [{"n": expected[who]}], (failing, i, who)


def test_a_huge_result_is_refused_by_its_size_not_sent(client: WarehouseReader) -> None:
    with pytest.raises(WarehouseError, match="larger than 256 MiB"):
        client.query("SELECT repeat('x', 1000) FROM numbers(999999)")


def test_max_rows_can_only_lower_the_limit_and_names_as_parameters_are_refused(
    stack: Stack, client: WarehouseReader
) -> None:
    status, answer = raw_query(stack, {"sql": "SELECT number FROM numbers(10)",
                                       "max_rows": "lots"}, client.token)
    assert status == 403 and "max_rows" in answer["error"]
    status, answer = raw_query(stack, {"sql": "SELECT number FROM numbers(2000000)",
                                       "max_rows": 10**12}, client.token)
    assert status == 400 and "TOO_MANY_ROWS_OR_BYTES" in answer["error"]
    status, answer = raw_query(stack, {
        "sql": "SELECT count() FROM {d:Identifier}.{t:Identifier}",
        "parameters": {"d": "system", "t": "parts"}}, client.token)
    assert status == 403 and "Identifier" in answer["error"]


def test_the_201st_sign_in_after_200_failures_is_refused_until_the_lockout_ends(
    env: Settings, stack: Stack
) -> None:
    address = "203.0.113.9"
    for _ in range(200):
        with pytest.raises(NotSignedIn):
            sign_in(env, "target", "not-the-password", address)
    with pytest.raises(NotSignedIn, match="Too many failed sign-ins"):
        sign_in(env, "target", TARGET_PASSWORD, address)
    time.sleep(6.5)  # DORPSPOMP_LOGIN_LOCKOUT of this stack
    assert sign_in(env, "target", TARGET_PASSWORD, address).org_ids == frozenset({OTHER})
    log = stack.log.read_text(errors="replace")
    assert "locked" in log and "target" in log


# -- the pages, signed in as the client ----------------------------------------------------


def visible_text(at: AppTest) -> str:
    """Everything a person reads on the page: tables, metrics, texts, choices."""
    parts: list[str] = []
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for metric in at.metric:
        parts += [metric.label, str(metric.value)]
    for kind in ("caption", "markdown", "info", "success", "warning", "title", "subheader",
                 "text", "expander"):
        for element in at.get(kind):
            parts.append(str(getattr(element, "value", "") or getattr(element, "label", "")))
    for kind in ("selectbox", "multiselect"):
        for element in at.get(kind):
            parts += [str(o) for o in element.options]
    for chart in at.get("vega_lite_chart"):
        parts.append(json.dumps(chart.proto.spec if hasattr(chart, "proto") else ""))
        parts.append(str(chart.proto.datasets))
    return "\n".join(parts)


def others(settings: Settings) -> list[str]:
    roster = load_roster(settings.roster)
    names = [o.name for o in roster.orgs.values() if o.id != CLIENT and o.name]
    ids = [o for o in {*eventgen.ORGS, *roster.orgs} if o != CLIENT]
    return sorted(set(names) | set(ids))


def signed_in_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.text_input(key="login.name").input("zutphen")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_every_page_shows_the_client_only_its_own_organisation(
    env: Settings, agency: WarehouseReader
) -> None:
    forbidden = others(env)
    assert rows(agency, "SELECT count(DISTINCT org_id) AS n FROM mentions")[0]["n"] >= 5
    at = signed_in_app()
    pages = {"clients": at}
    shown = visible_text(at)
    assert "Gemeente Zutphen" in shown
    for page in ("client", "alerts", "sql"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not at.error, (page, [e.value for e in at.error])
        pages[page] = at
        text = visible_text(at)
        leaked = [o for o in forbidden if o in text]
        assert not leaked, (page, leaked)
    leaked = [o for o in forbidden if o in shown]
    assert not leaked, ("clients", leaked)

    # The SQL page: an ad-hoc question over every organisation answers for the client only.
    at.text_area(key="sql.text").set_value(
        "SELECT org_id, count() AS mentions FROM mentions GROUP BY org_id "
        "UNION ALL SELECT org_id, count() FROM posts GROUP BY org_id").run()
    at.button(key="sql.run").click().run()
    assert not at.error, [e.value for e in at.error]
    result = next(d.value for d in at.dataframe if list(d.value.columns) == ["org_id",
                                                                             "mentions"])
    assert set(result["org_id"]) == {CLIENT} and len(result) == 2
    assert not [o for o in forbidden if o in visible_text(at)]
    at.text_area(key="sql.text").set_value("SELECT * FROM merge(currentDatabase(), 'mentions')")
    at.run()
    at.button(key="sql.run").click().run()
    assert "This query was refused" in at.error[0].value


def test_dorpspomp_sql_with_a_client_login_reads_its_rows_only(stack: Stack) -> None:
    import subprocess
    import sys

    def sql(login: str, password: str, query: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipelines.commands.cli", "sql", query, "--format", "json",
             "--login", login, "--password-stdin"],
            input=password + "\n", env=stack.env, cwd=ROOT, capture_output=True, text=True,
            timeout=120)

    done = sql("zutphen", PASSWORD, "SELECT DISTINCT org_id FROM mentions")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"org_id": CLIENT}]
    oracle = ORACLES["PREWHERE throwIf"].format(other=OTHER)
    assert json.loads(sql("zutphen", PASSWORD, oracle).stdout) == [{"n": 0}]
    refused = sql("zutphen", "wrong", "SELECT 1")
    assert refused.returncode == 2 and "Wrong name or password" in refused.stderr
