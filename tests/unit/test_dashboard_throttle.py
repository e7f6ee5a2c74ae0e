"""The dashboard's login form behind the sign-in limit, in Streamlit's AppTest: a locked name
is refused even with the right password and says when to try again; failures counted by
another process lock the dashboard too; the lockout is logged without the password."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from dashboard.login import UNKNOWN_ADDRESS, WRONG
from pipelines.serving.throttle import THROTTLE_FILE, LoginThrottle, ThrottlePolicy
from tests.unit.test_dashboard_login import PASSWORD, app, sign_in, users
from tests.unit.test_dashboard_ui import FakeReader

__all__ = ["users"]  # the fixture, used by name

NAME_LOCKED = "Too many failed sign-ins for this name; try again in 15 min."


def test_after_five_wrong_passwords_the_right_one_is_refused(
    users: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = FakeReader()
    at = app(reader)
    with caplog.at_level(logging.WARNING, logger="dorpspomp.logins"):
        for i in range(5):
            at = sign_in(at, "zutphen", f"wrong-password-{i}")
            assert [e.value for e in at.error] == [WRONG]
        at = sign_in(at, "zutphen", PASSWORD)
    assert [e.value for e in at.error] == [NAME_LOCKED]
    assert not at.dataframe and not at.metric
    assert reader.calls == []
    assert "dorpspomp.login" not in at.session_state
    lockouts = [r.getMessage() for r in caplog.records if r.name == "dorpspomp.logins"]
    assert len(lockouts) == 1
    assert "'zutphen'" in lockouts[0] and UNKNOWN_ADDRESS in lockouts[0]
    assert "wrong-password" not in caplog.text and PASSWORD not in caplog.text
    # Another login is not locked by this name's failures.
    at = sign_in(at, "anna", "agency-password")
    assert not at.error and at.dataframe


def test_the_name_signs_in_again_once_the_lockout_is_over(
    users: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DORPSPOMP_LOGIN_LOCKOUT", "2")
    at = app(FakeReader())
    for i in range(5):
        at = sign_in(at, "zutphen", f"wrong-password-{i}")
    at = sign_in(at, "zutphen", PASSWORD)
    assert [e.value for e in at.error] == [
        "Too many failed sign-ins for this name; try again in 1 min."]
    time.sleep(2.1)
    at = sign_in(at, "zutphen", PASSWORD)
    assert not at.error and at.dataframe


def test_failures_counted_by_another_process_lock_the_dashboard(users: Path,
                                                                tmp_path: Path) -> None:
    # users() points DORPSPOMP_HOME at tmp_path: the worker's /login would count here too.
    other = LoginThrottle(tmp_path / THROTTLE_FILE, ThrottlePolicy())
    for _ in range(5):
        other.failed("zutphen", "198.51.100.4")
    at = sign_in(app(FakeReader()), "zutphen", PASSWORD)
    assert [e.value for e in at.error] == [NAME_LOCKED]
    assert not at.dataframe


def test_one_address_guessing_many_names_is_locked(users: Path) -> None:
    at = app(FakeReader())
    for i in range(20):
        at = sign_in(at, f"guess-{i}", "password-guess")
        assert [e.value for e in at.error] == [WRONG]
    at = sign_in(at, "anna", "agency-password")
    assert [e.value for e in at.error] == [
        "Too many failed sign-ins from this address; try again in 15 min."]
    assert not at.dataframe


def test_a_sign_in_record_in_the_way_lets_nobody_in(users: Path, tmp_path: Path) -> None:
    (tmp_path / THROTTLE_FILE).mkdir()
    at = sign_in(app(FakeReader()), "anna", "agency-password")
    assert "Nobody can sign in: cannot read the sign-in record" in at.error[0].value
    assert not at.dataframe
