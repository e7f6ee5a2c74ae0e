"""The dashboard's login in Streamlit's AppTest: the form before any page, a wrong and a right
password, the login's scope on every query, logout, and the notice without a users file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.login import NO_LOGINS, WRONG
from dashboard.session import READER_KEY, ROSTER_KEY
from pipelines.serving.logins import UserBook, new_login, save_users
from tests.unit.test_dashboard_ui import APP, ROSTER, FakeReader

PASSWORD = "zutphen-aan-de-ijssel"


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.yaml"
    save_users(path, UserBook({
        "zutphen": new_login("zutphen", PASSWORD, ["gemeente-zutphen"]),
        "anna": new_login("anna", "agency-password", None),
    }))
    monkeypatch.setenv("DORPSPOMP_DASHBOARD_USERS", str(path))
    monkeypatch.setenv("DORPSPOMP_HOME", str(tmp_path))
    # Server mode: the dashboard checks passwords itself (embedded, the worker does, and
    # tests/integration/test_access.py signs in through it).
    monkeypatch.setenv("DORPSPOMP_WAREHOUSE", "http://localhost:8123/dorpspomp")
    return path


def app(reader: FakeReader) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[READER_KEY] = reader
    at.session_state[ROSTER_KEY] = ROSTER
    return at.run()


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login.name").input(name)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def test_nothing_is_shown_or_read_before_a_login(users: Path) -> None:
    reader = FakeReader()
    at = app(reader)
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Name", "Password"]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert not at.dataframe and not at.metric
    assert reader.calls == []


@pytest.mark.parametrize(("name", "password"), [("zutphen", "wrong-password-1"),
                                                ("nobody", PASSWORD), ("", "")])
def test_a_wrong_name_or_password_gets_one_message_and_no_page(
    users: Path, name: str, password: str
) -> None:
    reader = FakeReader()
    at = sign_in(app(reader), name, password)
    assert [e.value for e in at.error] == [WRONG]
    assert not at.dataframe
    assert reader.calls == []


def test_a_client_login_sees_its_organisation_on_every_query_and_can_log_out(
    users: Path
) -> None:
    reader = FakeReader()
    at = sign_in(app(reader), "zutphen", PASSWORD)
    assert not at.exception and not at.error
    assert "Signed in as **zutphen** · sees gemeente-zutphen" in [c.value for c in
                                                                  at.sidebar.caption]
    shown = at.dataframe[-1].value  # the table of every client, last on the page
    assert reader.calls
    for _sql, parameters in reader.calls:
        assert parameters is not None
        assert parameters["restrict"] == 1 and parameters["org_ids"] == ["gemeente-zutphen"]
    # The fake answers for every organisation; the page still lists only the login's own.
    assert set(shown["Details"]) <= {"client?org=gemeente-zutphen"}
    at.button(key="login.logout").click().run()
    # (AppTest runs the page itself after the first navigation; in the browser the app
    # shows the login form in front of it.)
    assert "Sign in first" in at.info[0].value
    assert not at.dataframe and not at.metric
    assert "dorpspomp.login" not in at.session_state
    assert "dorpspomp.scope" not in at.session_state


def test_the_sql_page_is_open_to_a_client_login_and_says_it_is_limited(users: Path) -> None:
    reader = FakeReader()
    at = sign_in(app(reader), "zutphen", PASSWORD)
    at.switch_page("pages/sql.py").run()
    assert not at.exception and not at.error
    assert "only the rows of Gemeente Zutphen" in at.info[0].value


def test_a_page_opened_on_its_own_without_a_login_shows_nothing(users: Path) -> None:
    reader = FakeReader()
    for page in ("clients", "client", "alerts", "sql"):
        at = AppTest.from_file(str(APP.parent / "pages" / f"{page}.py"), default_timeout=30)
        at.session_state[READER_KEY] = reader
        at.session_state[ROSTER_KEY] = ROSTER
        at.run()
        assert not at.exception
        assert "Sign in first" in at.info[0].value
        assert not at.dataframe and not at.metric
    assert reader.calls == []


def test_an_agency_login_sees_every_client(users: Path) -> None:
    reader = FakeReader()
    at = sign_in(app(reader), "anna", "agency-password")
    assert not at.error
    assert len(at.dataframe[-1].value) == 5  # the table of every client
    assert all(p is not None and p["restrict"] == 0 for _s, p in reader.calls)


def test_a_login_removed_from_the_file_is_signed_out_at_its_next_click(users: Path) -> None:
    at = sign_in(app(FakeReader()), "zutphen", PASSWORD)
    assert at.dataframe
    save_users(users, UserBook({"anna": new_login("anna", "agency-password", None)}))
    at.run()
    assert "sign in again" in at.info[0].value
    assert not at.dataframe
    at.run()
    assert "Sign in first" in at.info[0].value


def test_a_broken_users_file_lets_nobody_in(users: Path) -> None:
    users.write_text("users:\n  - name: zutphen\n    password: plain-text\n")
    at = app(FakeReader())
    assert "Nobody can sign in" in at.error[0].value
    assert "line 3: a password in plain text" in at.error[0].value
    assert not at.text_input


def test_without_a_users_file_the_dashboard_says_it_has_no_logins(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DORPSPOMP_DASHBOARD_USERS", raising=False)
    at = app(FakeReader())
    assert not at.text_input(key="clients.filter").value
    assert any(NO_LOGINS in c.value for c in at.sidebar.caption)
    assert at.dataframe
