"""Who may open the dashboard, and which organisations each login sees.

The logins live in one YAML file (DORPSPOMP_DASHBOARD_USERS), written by
`dorpspomp users add`; a person can read and fix it by hand:

```yaml
users:
  - name: anna
    password_hash: scrypt$16384$8$1$<salt>$<hash>
    access: agency                    # every organisation
  - name: zutphen
    password_hash: scrypt$16384$8$1$<salt>$<hash>
    orgs: [gemeente-zutphen]          # only these organisations
```

Passwords are never stored: `password_hash` is a salted scrypt hash (stdlib
`hashlib.scrypt`) in a self-describing string, so its cost can rise later
without breaking older entries. A login is either the agency's (`access:
agency`, sees every organisation) or a client's (`orgs:`, at least one).
`clickhouse_password` is written by `dorpspomp users sync-server` for a
client login in server mode: the password of that login's own ClickHouse
user, whose row policies limit it to its organisations (see
`pipelines.serving.orgscope`). It is a machine credential, not the person's.

Every problem in the file is reported with its line and what to do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

__all__ = [
    "LOGIN_NAME",
    "Login",
    "UserBook",
    "UsersFileError",
    "hash_password",
    "load_users",
    "save_users",
    "verify_password",
]

# Login names end up in ClickHouse user names (`dorpspomp_client_<name>`).
LOGIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# The contract's org_id.
ORG_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")

# scrypt cost: 16 MiB of memory and about 50 ms per check on this kind of machine.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
MIN_PASSWORD_LENGTH = 10


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file, the line and the fix."""


# -- passwords -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    """`scrypt$N$r$p$salt$hash`: a new random salt each time, base64 without padding."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, _HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r * p + (1 << 20), dklen=length)


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(N, r, p, salt, hash) of a stored hash; ValueError saying what is wrong with it."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a dorpspomp password hash (scrypt$N$r$p$salt$hash)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("a damaged password hash (its numbers or base64 do not parse)") from None
    if n < 2 or n & (n - 1) or n > 1 << 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError(f"scrypt cost N={n}, r={r}, p={p} is out of range")
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("a password hash with a salt or hash that is too short")
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when `password` gives `stored`; compares in constant time."""
    try:
        n, r, p, salt, digest = parse_hash(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


# A hash nobody's password gives, checked for unknown names so that a wrong name
# takes as long as a wrong password.
_NOBODY = hash_password(secrets.token_urlsafe(24))


# -- logins ----------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """One person or team who may open the dashboard.

    `org_ids` None is the agency (every organisation); otherwise the client's
    organisations, never empty.
    """

    name: str
    password_hash: str
    org_ids: frozenset[str] | None = None
    clickhouse_password: str | None = None

    @property
    def agency(self) -> bool:
        return self.org_ids is None

    def describe(self) -> str:
        return "agency: every organisation" if self.org_ids is None else (
            "client: " + ", ".join(sorted(self.org_ids)))


@dataclass(frozen=True)
class UserBook:
    """The logins of one users file, by name."""

    logins: Mapping[str, Login] = field(default_factory=dict)

    def authenticate(self, name: str, password: str) -> Login | None:
        """The login when name and password match, else None (no hint which one was wrong)."""
        login = self.logins.get(name.strip())
        if login is None:
            verify_password(password, _NOBODY)
            return None
        return login if verify_password(password, login.password_hash) else None

    def with_login(self, login: Login) -> UserBook:
        return UserBook({**self.logins, login.name: login})

    def without(self, name: str) -> UserBook:
        return UserBook({k: v for k, v in self.logins.items() if k != name})

    def clients(self) -> list[Login]:
        return [self.logins[k] for k in sorted(self.logins) if not self.logins[k].agency]


def new_login(name: str, password: str, org_ids: Iterable[str] | None,
              old: Login | None = None) -> Login:
    """A login checked the way the file is; keeps the ClickHouse password of `old`."""
    if not LOGIN_NAME.fullmatch(name):
        raise UsersFileError(
            f"the login name {name!r} is not allowed: use 1-64 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsersFileError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    orgs = None
    if org_ids is not None:
        orgs = frozenset(org_ids)
        bad = sorted(o for o in orgs if not ORG_ID.fullmatch(o))
        if bad:
            raise UsersFileError(f"{', '.join(map(repr, bad))} is not an org_id "
                                 "([a-z0-9][a-z0-9._-]{0,127}, as in the roster)")
        if not orgs:
            raise UsersFileError("a client login needs at least one organisation (--org ID)")
    keep = old.clickhouse_password if old is not None and old.org_ids is not None else None
    return Login(name, hash_password(password), orgs, keep if orgs is not None else None)


# -- the file --------------------------------------------------------------------

_FIELDS = ("name", "password_hash", "access", "orgs", "clickhouse_password")


def load_users(path: str | Path) -> UserBook:
    """The logins in `path`; `UsersFileError` listing every problem with its line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersFileError(
            f"{name}: no such users file; create it with `dorpspomp users add NAME --agency` "
            "or point DORPSPOMP_DASHBOARD_USERS at yours"
        ) from None
    except OSError as e:
        raise UsersFileError(f"{name}: cannot read the users file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsersFileError(f"{name}: not UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        where = ""
        if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:
            where = f", line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e)
        raise UsersFileError(f"{name}{where}: not valid YAML: {problem}") from None
    return _parse(root, name)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _parse(root: yaml.Node | None, source: str) -> UserBook:
    problems: list[str] = []
    if root is None:
        return UserBook()
    users: yaml.Node | None = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "users":
                users = value
            else:
                problems.append(f"{source}, line {_line(key)}: unknown key {key.value!r}; "
                                "the file holds one key, `users:`, a list of logins")
    if users is None or not isinstance(users, yaml.SequenceNode):
        where = _line(users) if users is not None else _line(root)
        problems.append(f"{source}, line {where}: expected `users:` with a list of logins "
                        "(`- name: ...`)")
        raise UsersFileError("\n".join(problems))
    logins: dict[str, Login] = {}
    for entry in users.value:
        login = _parse_login(entry, source, problems)
        if login is None:
            continue
        if login.name in logins:
            problems.append(f"{source}, line {_line(entry)}: the login {login.name!r} is listed "
                            "twice; remove one of them")
            continue
        logins[login.name] = login
    if problems:
        raise UsersFileError("\n".join(problems))
    return UserBook(logins)


def _scalar(node: yaml.Node, what: str, at: str, problems: list[str]) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.value == "":
        problems.append(f"{at}, line {_line(node)}: {what} must be a text value")
        return None
    return str(node.value)


def _parse_login(entry: yaml.Node, source: str, problems: list[str]) -> Login | None:
    at = source
    if not isinstance(entry, yaml.MappingNode):
        problems.append(f"{at}, line {_line(entry)}: each login is a mapping "
                        "(`- name: ...`, `password_hash: ...`, `access: agency` or `orgs: [...]`)")
        return None
    values: dict[str, yaml.Node] = {}
    for key, value in entry.value:
        if key.value == "password":
            problems.append(f"{at}, line {_line(key)}: a password in plain text; remove the line "
                            "and set the password with `dorpspomp users add NAME ...`, which "
                            "stores only its hash")
        elif key.value not in _FIELDS:
            problems.append(f"{at}, line {_line(key)}: unknown field {key.value!r}; a login has "
                            + ", ".join(_FIELDS))
        elif key.value in values:
            problems.append(f"{at}, line {_line(key)}: the field {key.value!r} is given twice")
        else:
            values[key.value] = value
    count = len(problems)
    name_node = values.get("name")
    name = _scalar(name_node, "name", at, problems) if name_node is not None else None
    if name_node is None:
        problems.append(f"{at}, line {_line(entry)}: a login without `name:`")
    elif name is not None and not LOGIN_NAME.fullmatch(name):
        problems.append(f"{at}, line {_line(name_node)}: the login name {name!r} is not allowed; "
                        "use lower-case letters, digits, '.', '_' or '-'")
    who = f"the login {name!r}" if name else "this login"
    hash_node = values.get("password_hash")
    if hash_node is None:
        problems.append(f"{at}, line {_line(entry)}: {who} has no `password_hash:`; set one with "
                        f"`dorpspomp users add {name or 'NAME'} ...` (never write a password here)")
    else:
        stored = _scalar(hash_node, "password_hash", at, problems)
        if stored is not None:
            try:
                parse_hash(stored)
            except ValueError as e:
                problems.append(f"{at}, line {_line(hash_node)}: {who}: {e}; set the password "
                                f"again with `dorpspomp users add {name or 'NAME'} ...`")
    access, orgs_node = values.get("access"), values.get("orgs")
    org_ids: frozenset[str] | None = None
    if (access is None) == (orgs_node is None):
        problems.append(f"{at}, line {_line(entry)}: {who} needs exactly one of `access: agency` "
                        "(every organisation) or `orgs: [org-id, ...]` (a client's own)")
    elif access is not None:
        if not (isinstance(access, yaml.ScalarNode) and access.value == "agency"):
            problems.append(f"{at}, line {_line(access)}: `access:` can only be `agency`; "
                            "for a client write `orgs: [org-id, ...]` instead")
    elif orgs_node is not None:
        items = orgs_node.value if isinstance(orgs_node, yaml.SequenceNode) else None
        if not items or not all(isinstance(i, yaml.ScalarNode) for i in items):
            problems.append(f"{at}, line {_line(orgs_node)}: `orgs:` must be a non-empty list of "
                            "org_ids, e.g. `orgs: [gemeente-zutphen]`")
        else:
            found = [str(i.value) for i in items]
            for item in items:
                if not ORG_ID.fullmatch(str(item.value)):
                    problems.append(f"{at}, line {_line(item)}: {item.value!r} is not an org_id "
                                    "([a-z0-9][a-z0-9._-]{0,127}, as in the roster)")
            org_ids = frozenset(found)
    secret_node = values.get("clickhouse_password")
    secret = None
    if secret_node is not None:
        secret = _scalar(secret_node, "clickhouse_password", at, problems)
    if len(problems) > count or name is None or hash_node is None:
        return None
    return Login(name, str(hash_node.value), org_ids, secret)


HEADER = (
    "# dorpspomp dashboard logins: change them with `dorpspomp users add/remove`.\n"
    "# password_hash is a salted scrypt hash, never a password. Keep this file private\n"
    "# (dorpspomp writes it with mode 600): clickhouse_password, when present, lets the\n"
    "# dashboard connect as that client's ClickHouse user.\n"
)


def dump_users(book: UserBook) -> str:
    """The file's text: one block per login, values in double quotes (JSON strings are YAML)."""
    lines = [HEADER.rstrip("\n"), "users:"]
    for name in sorted(book.logins):
        login = book.logins[name]
        lines.append(f"  - name: {json.dumps(login.name)}")
        lines.append(f"    password_hash: {json.dumps(login.password_hash)}")
        if login.org_ids is None:
            lines.append("    access: agency")
        else:
            lines.append(f"    orgs: [{', '.join(json.dumps(o) for o in sorted(login.org_ids))}]")
        if login.clickhouse_password:
            lines.append(f"    clickhouse_password: {json.dumps(login.clickhouse_password)}")
    return "\n".join(lines) + "\n"


def save_users(path: str | Path, book: UserBook) -> None:
    """Write the file atomically, readable by its owner only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(dump_users(book))
    os.replace(tmp, target)


def with_clickhouse_passwords(book: UserBook) -> UserBook:
    """Every client login with a ClickHouse password (new ones random, old ones kept)."""
    logins = dict(book.logins)
    for login in book.clients():
        if not login.clickhouse_password:
            logins[login.name] = replace(login, clickhouse_password=secrets.token_urlsafe(24))
    return UserBook(logins)
