"""The sign-in limit on a fake clock: lockout per name and per address, shared through the
file by every process, and a damaged file that starts afresh instead of stopping sign-ins."""

from __future__ import annotations

import logging
import multiprocessing
import stat
from pathlib import Path

import pytest

from pipelines.serving.logins import UserBook, new_login
from pipelines.serving.throttle import (
    THROTTLE_FILE,
    LoginThrottle,
    Refusal,
    ThrottleError,
    ThrottlePolicy,
)
from pipelines.settings import Settings, SettingsError

PASSWORD = "zutphen-aan-de-ijssel"
ATTACKER = "203.0.113.9"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / THROTTLE_FILE


def attempt(throttle: LoginThrottle, book: UserBook, name: str, password: str,
            address: str = ATTACKER) -> str:
    """One sign-in as the dashboard does it: "refused", "wrong" or "signed in"."""
    if throttle.check(name, address) is not None:
        return "refused"
    if book.authenticate(name, password) is None:
        throttle.failed(name, address)
        return "wrong"
    throttle.succeeded(name, address)
    return "signed in"


def test_the_201st_attempt_after_200_failures_is_refused_until_the_lockout_ends(
    path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    book = UserBook({"zutphen": new_login("zutphen", PASSWORD, ["gemeente-zutphen"])})
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    outcomes = []
    with caplog.at_level(logging.WARNING, logger="dorpspomp.logins"):
        for i in range(200):  # the finding: 200 wrong passwords in 382 s
            outcomes.append(attempt(throttle, book, "zutphen", f"guess-number-{i}"))
            clock.advance(1.91)
    assert outcomes[:5] == ["wrong"] * 5
    assert set(outcomes[5:]) == {"refused"}
    locked_at = clock.now - 196 * 1.91  # the 5th failure
    refusal = throttle.check("zutphen", ATTACKER)
    assert refusal is not None and refusal.locked == "name"
    assert refusal.message == "Too many failed sign-ins for this name; try again in 9 min."
    assert attempt(throttle, book, "zutphen", PASSWORD) == "refused"
    clock.now = locked_at + 900 - 1
    assert attempt(throttle, book, "zutphen", PASSWORD) == "refused"
    clock.now = locked_at + 900 + 1
    assert attempt(throttle, book, "zutphen", PASSWORD) == "signed in"
    lockouts = [r for r in caplog.records if r.name == "dorpspomp.logins"]
    assert [r.levelno for r in lockouts] == [logging.WARNING]
    assert "'zutphen'" in lockouts[0].getMessage() and ATTACKER in lockouts[0].getMessage()
    assert "guess-number" not in caplog.text


def test_a_name_that_does_not_exist_is_locked_the_same_way(path: Path, clock: Clock) -> None:
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    for _ in range(5):
        assert throttle.check("nobody", ATTACKER) is None
        throttle.failed("nobody", ATTACKER)
    refusal = throttle.check("nobody", ATTACKER)
    assert refusal == Refusal("name", 900.0)
    assert refusal.message == "Too many failed sign-ins for this name; try again in 15 min."


def test_failures_older_than_the_window_do_not_count(path: Path, clock: Clock) -> None:
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    for _ in range(4):
        throttle.check("zutphen", ATTACKER)
        throttle.failed("zutphen", ATTACKER)
    clock.advance(901)
    for _ in range(4):
        assert throttle.check("zutphen", ATTACKER) is None
        throttle.failed("zutphen", ATTACKER)
    assert throttle.check("zutphen", ATTACKER) is None


def test_a_success_clears_the_names_count_but_not_the_addresss(path: Path,
                                                              clock: Clock) -> None:
    throttle = LoginThrottle(path, ThrottlePolicy(name_failures=5, address_failures=6), clock)
    for _ in range(4):
        throttle.check("zutphen", ATTACKER)
        throttle.failed("zutphen", ATTACKER)
    throttle.check("zutphen", ATTACKER)
    throttle.succeeded("zutphen", ATTACKER)
    for _ in range(2):  # 4 more on the name would lock it, had the success not cleared it
        throttle.check("zutphen", ATTACKER)
        throttle.failed("zutphen", ATTACKER)
    refusal = throttle.check("zutphen", ATTACKER)
    assert refusal is not None and refusal.locked == "address"


def test_one_address_trying_many_names_is_locked(path: Path, clock: Clock,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    book = UserBook({"zutphen": new_login("zutphen", PASSWORD, ["gemeente-zutphen"])})
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    with caplog.at_level(logging.WARNING, logger="dorpspomp.logins"):
        outcomes = [attempt(throttle, book, f"name-{i}", "password-guess") for i in range(30)]
    assert outcomes == ["wrong"] * 20 + ["refused"] * 10
    refusal = throttle.check("zutphen", ATTACKER)
    assert refusal is not None
    assert refusal.message == "Too many failed sign-ins from this address; try again in 15 min."
    # Refused without its password being checked: the right one changes nothing.
    assert attempt(throttle, book, "zutphen", PASSWORD) == "refused"
    # Another address signs in to the same name.
    assert attempt(throttle, book, "zutphen", PASSWORD, "198.51.100.4") == "signed in"
    clock.advance(901)
    assert attempt(throttle, book, "zutphen", PASSWORD) == "signed in"
    assert any(ATTACKER in r.getMessage() and "'name-19'" in r.getMessage()
               for r in caplog.records if r.name == "dorpspomp.logins")


def test_no_per_address_limit_when_it_is_zero(path: Path, clock: Clock) -> None:
    throttle = LoginThrottle(path, ThrottlePolicy(address_failures=0), clock)
    for i in range(50):
        assert throttle.check(f"name-{i}", ATTACKER) is None
        throttle.failed(f"name-{i}", ATTACKER)


def test_attempts_in_flight_count_so_a_burst_cannot_pass_the_limit(path: Path,
                                                                   clock: Clock) -> None:
    # A burst of sessions that all pass `check` before any of them reports a failure.
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    passed = [throttle.check("zutphen", ATTACKER) is None for _ in range(50)]
    assert sum(passed) == 5
    refusal = throttle.check("zutphen", ATTACKER)
    assert refusal is not None and refusal.message.endswith("try again in 1 min.")
    for _ in range(5):
        throttle.failed("zutphen", ATTACKER)
    assert throttle.check("zutphen", ATTACKER) == Refusal("name", 900.0)
    # An attempt whose process died before reporting stops counting after a minute.
    other = [throttle.check("anna", ATTACKER) is None for _ in range(5)]
    assert all(other) and throttle.check("anna", ATTACKER) is not None
    clock.advance(61)
    assert throttle.check("anna", ATTACKER) is None


def _fail_from_another_process(path: str, now: float, times: int) -> None:
    throttle = LoginThrottle(path, ThrottlePolicy(), lambda: now)
    for _ in range(times):
        throttle.check("zutphen", ATTACKER)
        throttle.failed("zutphen", ATTACKER)


def test_two_processes_share_one_count(path: Path, clock: Clock) -> None:
    dashboard = LoginThrottle(path, ThrottlePolicy(), clock)
    for _ in range(2):
        dashboard.check("zutphen", ATTACKER)
        dashboard.failed("zutphen", ATTACKER)
    worker = multiprocessing.get_context("spawn").Process(
        target=_fail_from_another_process, args=(str(path), clock.now, 3))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    assert dashboard.check("zutphen", ATTACKER) == Refusal("name", 900.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_throttles_on_one_file_count_every_failure_of_many_threads(path: Path,
                                                                        clock: Clock) -> None:
    import threading

    policy = ThrottlePolicy(name_failures=1000, address_failures=1000)
    throttles = [LoginThrottle(path, policy, clock) for _ in range(2)]

    def fail(throttle: LoginThrottle) -> None:
        for _ in range(25):
            throttle.failed("zutphen", ATTACKER)

    threads = [threading.Thread(target=fail, args=(throttles[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 200 failures, none lost to a read-modify-write race: 800 more would lock.
    lower = LoginThrottle(path, ThrottlePolicy(name_failures=200, address_failures=1000), clock)
    assert lower.check("zutphen", ATTACKER) is not None
    higher = LoginThrottle(path, ThrottlePolicy(name_failures=201, address_failures=1000),
                           clock)
    assert higher.check("zutphen", ATTACKER) is None


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[1, 2]",
                                     b'{"names": {"zutphen": {"failures": ["x"]}}}',
                                     b'{"names": []}'])
def test_a_damaged_file_starts_afresh(path: Path, clock: Clock, content: bytes,
                                      caplog: pytest.LogCaptureFixture) -> None:
    path.write_bytes(content)
    throttle = LoginThrottle(path, ThrottlePolicy(), clock)
    with caplog.at_level(logging.WARNING, logger="dorpspomp.logins"):
        assert throttle.check("zutphen", ATTACKER) is None
    assert "damaged" in caplog.text and "starting it afresh" in caplog.text
    for _ in range(5):
        throttle.failed("zutphen", ATTACKER)
    assert throttle.check("zutphen", ATTACKER) is not None


def test_a_missing_home_is_created(tmp_path: Path, clock: Clock) -> None:
    throttle = LoginThrottle(tmp_path / "new-home" / THROTTLE_FILE, ThrottlePolicy(), clock)
    assert throttle.check("zutphen", ATTACKER) is None
    assert (tmp_path / "new-home" / THROTTLE_FILE).is_file()


def test_a_record_that_cannot_be_read_says_what_to_do(path: Path, clock: Clock) -> None:
    path.mkdir()  # something in the way that no one can read as a file, root included
    with pytest.raises(ThrottleError, match=r"cannot read the sign-in record .*"
                                            "make DORPSPOMP_HOME writable"):
        LoginThrottle(path, ThrottlePolicy(), clock).check("zutphen", ATTACKER)


def test_a_flood_of_names_keeps_the_file_bounded_and_the_locks(path: Path, clock: Clock,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setattr("pipelines.serving.throttle.MAX_KEYS", 50)
    throttle = LoginThrottle(path, ThrottlePolicy(address_failures=0), clock)
    for _ in range(5):
        throttle.failed("zutphen", ATTACKER)
    for i in range(200):
        clock.advance(0.01)
        throttle.failed(f"made-up-{i}", f"198.51.100.{i % 250}")
    assert path.stat().st_size < 50 * 200
    assert throttle.check("zutphen", ATTACKER) is not None


def test_the_settings_give_the_policy_and_the_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path),
                                  "DORPSPOMP_LOGIN_FAILURES": "3",
                                  "DORPSPOMP_LOGIN_ADDRESS_FAILURES": "0",
                                  "DORPSPOMP_LOGIN_WINDOW": "60",
                                  "DORPSPOMP_LOGIN_LOCKOUT": "120"})
    throttle = LoginThrottle.for_settings(settings)
    assert throttle.path == tmp_path / THROTTLE_FILE
    assert throttle.policy == ThrottlePolicy(3, 0, 60.0, 120.0)
    assert ThrottlePolicy.from_settings(Settings.from_env({})) == ThrottlePolicy()


@pytest.mark.parametrize(("variable", "value"), [("DORPSPOMP_LOGIN_FAILURES", "0"),
                                                 ("DORPSPOMP_LOGIN_ADDRESS_FAILURES", "-1"),
                                                 ("DORPSPOMP_LOGIN_LOCKOUT", "0")])
def test_a_policy_that_locks_nothing_or_everything_is_refused(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})
