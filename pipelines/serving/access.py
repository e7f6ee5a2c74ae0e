"""Who is asking: the worker's key and the sign-in tokens that carry a login's scope.

The worker's `/query` answers only callers that show who they are:

- **the operator**, with the worker's key: a random secret in
  `DORPSPOMP_HOME/worker.key` (mode 600, made on first use). Whoever can read it
  runs the stack on this machine (`dorpspomp sql`, the dashboard without logins)
  and sees every client;
- **a login**, with a token the worker itself issued at `/login` after checking
  the login's password against the users file (and the login throttle). The
  token names the login, not its organisations: at every query the worker looks
  the login up in the users file again and takes the scope from there, so a
  login that was removed, or whose password or organisations changed, is
  refused (the token binds the login's password hash, and the scope is read
  fresh). The dashboard holds the token in the browser session's state; a
  caller cannot name a scope of its own.

A token is `v1.<payload>.<signature>`: the payload is base64url JSON
(`{"login": …, "pw": <digest of the password hash>, "exp": <unix time>}`) and the
signature an HMAC-SHA256 of it under the worker's key. Pure functions, no I/O
but the key file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from pipelines.serving.logins import Login, UserBook

__all__ = ["Caller", "Unauthorized", "issue_token", "read_key", "verify"]

CallerKind = Literal["operator", "agency", "client"]


class Unauthorized(Exception):
    """The request did not show a valid key or token; the message says what to do."""


@dataclass(frozen=True)
class Caller:
    """Who a query runs for: the operator, an agency login (every client) or a client login."""

    kind: CallerKind
    name: str | None = None
    org_ids: frozenset[str] | None = None

    @property
    def scoped(self) -> bool:
        return self.org_ids is not None

    @classmethod
    def of(cls, login: Login) -> Caller:
        if login.org_ids is None:
            return cls("agency", login.name)
        return cls("client", login.name, frozenset(login.org_ids))


def read_key(path: Path, *, create: bool = False) -> str:
    """The worker's key; with `create`, made (random, mode 600) when there is none yet."""
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        if not create:
            raise
    if not create:
        raise FileNotFoundError(f"{path} is empty")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _password_digest(login: Login) -> str:
    return hashlib.sha256(login.password_hash.encode()).hexdigest()[:16]


def _sign(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest())


def issue_token(key: str, login: Login, *, hours: float, now: float | None = None) -> str:
    """A token for `login`, valid for `hours`, signed with the worker's key."""
    expires = int((time.time() if now is None else now) + hours * 3600)
    payload = _b64(orjson.dumps({"login": login.name, "pw": _password_digest(login),
                                 "exp": expires}))
    return f"v1.{payload}.{_sign(key, payload)}"


def verify(
    key: str, presented: str | None, book: UserBook | None, *, now: float | None = None
) -> Caller:
    """Who shows `presented` (the key itself or a token); Unauthorized when nobody valid."""
    if not presented:
        raise Unauthorized(
            "this endpoint needs a key or a sign-in token (header `Authorization: Bearer …`): "
            "`dorpspomp sql` reads the key from DORPSPOMP_HOME/worker.key, the dashboard "
            "gets a token when someone signs in")
    if hmac.compare_digest(presented.encode(), key.encode()):
        return Caller("operator")
    parts = presented.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise Unauthorized("not a dorpspomp key or sign-in token")
    payload, signature = parts[1], parts[2]
    if not hmac.compare_digest(signature.encode(), _sign(key, payload).encode()):
        raise Unauthorized("the sign-in token was not issued by this worker (or the worker's "
                           "key changed); sign in again")
    try:
        claims = orjson.loads(_unb64(payload))
        name, digest, expires = str(claims["login"]), str(claims["pw"]), float(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("the sign-in token cannot be read; sign in again") from exc
    if expires < (time.time() if now is None else now):
        raise Unauthorized("the sign-in has expired; sign in again")
    login = book.logins.get(name) if book is not None else None
    if login is None or not hmac.compare_digest(_password_digest(login), digest):
        raise Unauthorized("this login was removed or its password changed; sign in again")
    return Caller.of(login)
