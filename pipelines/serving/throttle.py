"""Failed sign-ins counted per login name and per address, so that guessing passwords stops.

Without a limit, the dashboard let an attacker try 200 passwords in 382 s and
then sign in with the right one. Every process on this machine that checks a
password (the dashboard's login form, and any other door to the same logins)
counts failures in one small state file, DORPSPOMP_HOME/login-throttle.json,
so a name locked by one process is locked in all of them, and a restart
forgets nothing.

The policy (`ThrottlePolicy`, from the DORPSPOMP_LOGIN_* settings): after
`name_failures` failed sign-ins for one name within `window` seconds, that name
is locked for `lockout` seconds, whether or not a login of that name exists
(so a lock tells nobody which names exist); after `address_failures` from one
address within the window, that address is locked too. While locked, an
attempt is refused *before* its password is checked, so a refusal says nothing
about the password. A successful sign-in clears its name's count but not its
address's: an attacker with one valid login cannot wipe their address's record
by signing in to it between guesses.

How to use it, in every place that checks a password::

    throttle = LoginThrottle.for_settings(settings)
    refusal = throttle.check(name, address)
    if refusal is not None:
        ...  # show refusal.message; do not check the password
    elif (login := book.authenticate(name, password)) is None:
        throttle.failed(name, address)
    else:
        throttle.succeeded(name, address)

`check` also counts the attempt as in flight until `failed` or `succeeded`
reports how it went (or `IN_FLIGHT_SECONDS` pass), so that many attempts
started at the same moment, each passing `check` before any of them failed,
still cannot exceed the limit.

The file is JSON, read and rewritten under an exclusive `flock` on a lock file
beside it (which also serialises threads of one process: each transaction opens
its own descriptor), written to a temporary file and renamed over the old one,
mode 600. A missing file is an empty record; a damaged one is logged and
started afresh rather than stopping anyone from signing in. A file that cannot
be read or written at all raises `ThrottleError`: then nobody can sign in until
it is fixed, as with a broken users file (fail closed).

Every lockout is logged by the `dorpspomp.logins` logger at WARNING with the
name and the address, never a password (this module never sees one).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from pipelines.settings import Settings

__all__ = [
    "THROTTLE_FILE",
    "LoginThrottle",
    "Refusal",
    "ThrottleError",
    "ThrottlePolicy",
]

log = logging.getLogger("dorpspomp.logins")

THROTTLE_FILE = "login-throttle.json"
# An attempt that passed `check` but was never reported (its process died between the two)
# stops counting after this long.
IN_FLIGHT_SECONDS = 60.0
# Most names (and most addresses) the file remembers; beyond it the longest-quiet unlocked
# ones are forgotten first, so a flood of made-up names cannot grow the file without end.
MAX_KEYS = 10_000
# Names longer than any login name (64) are cut here: they can never sign in anyway.
_MAX_KEY_LENGTH = 128

Kind = Literal["name", "address"]
# Each kind's key in the file.
_SECTIONS: dict[Kind, str] = {"name": "names", "address": "addresses"}
T = TypeVar("T")


class ThrottleError(RuntimeError):
    """The sign-in record cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures lock a name or an address, within what time, and for how long.

    `address_failures` 0 switches the per-address limit off (for a proxy that does not
    pass the browser's address on, where every sign-in would share one address)."""

    name_failures: int = 5
    address_failures: int = 20
    window: float = 900.0
    lockout: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(settings.login_failures, settings.login_address_failures,
                   settings.login_window, settings.login_lockout)

    def limit(self, kind: Kind) -> int:
        return self.name_failures if kind == "name" else self.address_failures


@dataclass(frozen=True)
class Refusal:
    """An attempt refused without looking at its password: what is locked and for how long."""

    locked: Kind
    retry_after: float  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def message(self) -> str:
        who = "for this name" if self.locked == "name" else "from this address"
        return f"Too many failed sign-ins {who}; try again in {self.minutes} min."


# -- the record, pure ----------------------------------------------------------------


@dataclass
class Tally:
    """Recent failures of one name or address, attempts in flight, and its lock."""

    failures: list[float] = field(default_factory=list)
    in_flight: list[float] = field(default_factory=list)
    locked_until: float = 0.0

    def tidy(self, now: float, policy: ThrottlePolicy) -> None:
        """Forget what no longer counts: an ended lock starts afresh."""
        if self.locked_until and self.locked_until <= now:
            self.locked_until, self.failures = 0.0, []
        self.failures = [t for t in self.failures if t > now - policy.window]
        self.in_flight = [t for t in self.in_flight if t > now - IN_FLIGHT_SECONDS]

    def refusal(self, kind: Kind, now: float, limit: int) -> Refusal | None:
        if self.locked_until > now:
            return Refusal(kind, self.locked_until - now)
        if len(self.failures) + len(self.in_flight) >= limit:
            # Not locked yet, but the attempts in flight would lock it if they fail.
            return Refusal(kind, max(1.0, min(self.in_flight, default=now) + IN_FLIGHT_SECONDS
                                     - now))
        return None

    def landed(self) -> None:
        """An attempt in flight has been reported."""
        if self.in_flight:
            self.in_flight.pop(0)

    @property
    def quiet_since(self) -> float:
        return max([*self.failures, *self.in_flight, 0.0])

    @property
    def empty(self) -> bool:
        return not (self.failures or self.in_flight or self.locked_until)

    def as_json(self) -> dict[str, Any]:
        return {"failures": [round(t, 3) for t in self.failures],
                "in_flight": [round(t, 3) for t in self.in_flight],
                "locked_until": round(self.locked_until, 3)}

    @classmethod
    def from_json(cls, data: Any) -> Tally:
        if not isinstance(data, dict):
            raise ValueError("an entry is not an object")
        failures, in_flight = data.get("failures", []), data.get("in_flight", [])
        locked = data.get("locked_until", 0.0)
        times = [*failures, *in_flight, locked] if isinstance(failures, list) and isinstance(
            in_flight, list) else None
        if times is None or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)
                for t in times):
            raise ValueError("an entry's times are not numbers")
        return cls([float(t) for t in failures], [float(t) for t in in_flight], float(locked))


@dataclass
class Record:
    """Every tally, by kind and key: what the file holds."""

    tallies: dict[Kind, dict[str, Tally]] = field(
        default_factory=lambda: {"name": {}, "address": {}})

    def tally(self, kind: Kind, key: str) -> Tally:
        return self.tallies[kind].setdefault(key, Tally())

    def tidy(self, now: float, policy: ThrottlePolicy) -> None:
        for kind, tallies in self.tallies.items():
            for key in list(tallies):
                tallies[key].tidy(now, policy)
                if tallies[key].empty:
                    del tallies[key]
            if len(tallies) > MAX_KEYS:
                keep = sorted(tallies, key=lambda k: (tallies[k].locked_until > now,
                                                      tallies[k].quiet_since))[-MAX_KEYS:]
                self.tallies[kind] = {k: tallies[k] for k in keep}

    def as_json(self) -> dict[str, Any]:
        return {"version": 1, **{_SECTIONS[kind]: {k: t.as_json() for k, t in tallies.items()}
                                 for kind, tallies in self.tallies.items()}}

    @classmethod
    def from_json(cls, data: Any) -> Record:
        if not isinstance(data, dict):
            raise ValueError("the file does not hold a JSON object")
        record = cls()
        for kind, name in _SECTIONS.items():
            entries = data.get(name, {})
            if not isinstance(entries, dict):
                raise ValueError(f"{name!r} is not an object")
            record.tallies[kind] = {str(k): Tally.from_json(v) for k, v in entries.items()}
        return record


# -- the shared file -------------------------------------------------------------------


class LoginThrottle:
    """The sign-in limit of one machine, kept in `path` (see the module's docstring)."""

    def __init__(self, path: str | Path, policy: ThrottlePolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.policy = policy or ThrottlePolicy()
        self.clock = clock

    @classmethod
    def for_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(settings.home / THROTTLE_FILE, ThrottlePolicy.from_settings(settings))

    def check(self, user: str, address: str) -> Refusal | None:
        """A refusal while the name or the address is locked (the longer lock when both are);
        otherwise None, and the attempt counts as in flight until it is reported."""
        def change(record: Record, now: float) -> Refusal | None:
            refusals = [r for kind, key, limit in self._keys(user, address)
                        if (r := record.tally(kind, key).refusal(kind, now, limit))]
            if refusals:
                return max(refusals, key=lambda r: r.retry_after)
            for kind, key, _limit in self._keys(user, address):
                record.tally(kind, key).in_flight.append(now)
            return None
        return self._transact(change)

    def failed(self, user: str, address: str) -> None:
        """A wrong name or password: count it, and lock what reaches its limit."""
        def change(record: Record, now: float) -> list[tuple[Kind, str]]:
            locked: list[tuple[Kind, str]] = []
            for kind, key, limit in self._keys(user, address):
                tally = record.tally(kind, key)
                tally.landed()
                tally.failures.append(now)
                if tally.locked_until <= now and len(tally.failures) >= limit:
                    tally.locked_until = now + self.policy.lockout
                    locked.append((kind, key))
            return locked
        for kind, _key in self._transact(change):
            self._log_lockout(kind, user, address)

    def succeeded(self, user: str, address: str) -> None:
        """A right password: the name's count starts again; the address's failures stay."""
        def change(record: Record, now: float) -> None:
            for kind, key, _limit in self._keys(user, address):
                if kind == "name":
                    record.tallies["name"].pop(key, None)
                else:
                    record.tally(kind, key).landed()
        self._transact(change)

    def _keys(self, user: str, address: str) -> Iterator[tuple[Kind, str, int]]:
        # The name as `UserBook.authenticate` looks it up.
        yield "name", user.strip()[:_MAX_KEY_LENGTH], self.policy.name_failures
        if self.policy.address_failures > 0:
            yield "address", (address.strip() or "unknown")[:_MAX_KEY_LENGTH], \
                self.policy.address_failures

    def _log_lockout(self, kind: Kind, user: str, address: str) -> None:
        p = self.policy
        if kind == "name":
            log.warning("sign-ins for the name %r locked for %d s after %d failures within %d s "
                        "(the last from address %s)", user.strip(), p.lockout, p.name_failures,
                        p.window, address)
        else:
            log.warning("sign-ins from address %s locked for %d s after %d failures within %d s "
                        "(the last for the name %r)", address, p.lockout, p.address_failures,
                        p.window, user.strip())

    # -- I/O -------------------------------------------------------------------------

    def _transact(self, change: Callable[[Record, float], T]) -> T:
        """Read the record, apply `change`, write it back: all under the file's lock."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._error("open", lock_path, exc) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            now = self.clock()
            record = self._read()
            record.tidy(now, self.policy)
            result = change(record, now)
            record.tidy(now, self.policy)
            self._write(record)
            return result
        finally:
            os.close(lock)  # releases the flock

    def _read(self) -> Record:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Record()
        except OSError as exc:
            raise self._error("read", self.path, exc) from None
        try:
            return Record.from_json(json.loads(raw))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("the sign-in record %s is damaged (%s); starting it afresh, with no "
                        "failed sign-ins counted", self.path, exc)
            return Record()

    def _write(self, record: Record) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps(record.as_json(), separators=(",", ":")).encode()
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                os.fchmod(fd, 0o600)
                out.write(data)
            os.replace(temporary, self.path)
        except OSError as exc:
            raise self._error("write", self.path, exc) from None

    @staticmethod
    def _error(verb: str, path: Path, exc: OSError) -> ThrottleError:
        return ThrottleError(
            f"cannot {verb} the sign-in record {path}: {exc.strerror or exc}; make "
            "DORPSPOMP_HOME writable for the user that runs dorpspomp (nobody can sign in "
            "until then)")
