"""`dorpspomp users`: the dashboard's logins (add, remove, list, check) and, in server
mode, the ClickHouse users and row policies that limit each client login (sync-server).

Passwords are read from a prompt without echo (twice), or from one line of stdin
with `--password-stdin`; never from the command line, where `ps` and the shell
history would keep them. The file is written with mode 600.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlsplit

from pipelines.serving.logins import (
    UserBook,
    UsersFileError,
    load_users,
    new_login,
    save_users,
    with_clickhouse_passwords,
)
from pipelines.serving.orgscope import client_user, removed_user_statements, row_policy_statements
from pipelines.settings import Settings

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser(
        "users", help="dashboard logins: add, remove, list, check; sync-server (row policies)",
        description="Logins of the dashboard, kept in DORPSPOMP_DASHBOARD_USERS "
        "(or --file). An agency login sees every organisation, a client login only its own.",
    )
    users.add_argument("--file", type=Path, default=None,
                       help="the users file (default: DORPSPOMP_DASHBOARD_USERS)")
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create a login or set its password and access")
    add.add_argument("name", help="the login's name, as typed at the dashboard's sign-in")
    access = add.add_mutually_exclusive_group(required=True)
    access.add_argument("--agency", action="store_true", help="sees every organisation")
    access.add_argument("--org", action="append", metavar="ORG_ID", dest="orgs",
                        help="a client organisation this login sees (repeat for more)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin instead of a prompt")
    remove = actions.add_parser("remove", help="delete a login")
    remove.add_argument("name", help="the login to delete; its sign-in tokens end with it")
    actions.add_parser("list", help="the logins and what each sees (no hashes)")
    actions.add_parser("check", help="read the file and report every problem with its line")
    sync = actions.add_parser(
        "sync-server",
        help="server mode: create or update a ClickHouse user with row policies per client login",
    )
    sync.add_argument("--print", action="store_true", dest="print_only",
                      help="print the statements (passwords included) instead of running them")


def run(settings: Settings, args: argparse.Namespace, *, stdin: TextIO | None = None,
        out: TextIO | None = None) -> int:
    out = out or sys.stdout
    path = args.file or settings.dashboard_users
    if path is None:
        raise UsersFileError(
            "no users file: set DORPSPOMP_DASHBOARD_USERS=PATH (the dashboard reads it too) "
            "or pass --file PATH"
        )
    if args.action == "add":
        return _add(settings, path, args, stdin or sys.stdin, out)
    book = load_users(path)
    if args.action == "remove":
        if args.name not in book.logins:
            raise UsersFileError(f"{path}: there is no login {args.name!r}")
        save_users(path, book.without(args.name))
        print(f"removed {args.name} from {path}", file=out)
    elif args.action == "list":
        for name in sorted(book.logins):
            print(f"{name}\t{book.logins[name].describe()}", file=out)
    elif args.action == "check":
        print(f"{path}: {len(book.logins)} logins, "
              f"{len(book.clients())} of them clients", file=out)
    elif args.action == "sync-server":
        return _sync(settings, path, book, args.print_only, out)
    return 0


def _read_password(stdin: TextIO, from_stdin: bool) -> str:
    if from_stdin:
        line = stdin.readline()
        return line.rstrip("\r\n")
    if not stdin.isatty():
        raise UsersFileError("no terminal to ask for the password: pass it on stdin with "
                             "--password-stdin (e.g. from a password manager)")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UsersFileError("the two passwords differ; nothing was changed")
    return first


def _add(settings: Settings, path: Path, args: argparse.Namespace, stdin: TextIO,
         out: TextIO) -> int:
    book = load_users(path) if path.exists() else UserBook()
    password = _read_password(stdin, args.password_stdin)
    old = book.logins.get(args.name)
    login = new_login(args.name, password, None if args.agency else args.orgs, old)
    save_users(path, book.with_login(login))
    print(f"{'updated' if old else 'added'} {login.name} ({login.describe()}) in {path}",
          file=out)
    unknown = _not_in_roster(settings, login.org_ids)
    if unknown:
        print(f"note: {', '.join(unknown)} is not in the roster "
              f"({settings.roster or 'DORPSPOMP_ROSTER unset'}); the login sees its rows "
              "once events for it arrive", file=out)
    if not settings.embedded and login.org_ids is not None:
        print("server mode: run `dorpspomp users sync-server` to give this login its "
              "ClickHouse user and row policies", file=out)
    return 0


def _not_in_roster(settings: Settings, org_ids: frozenset[str] | None) -> list[str]:
    if org_ids is None or settings.roster is None:
        return []
    from pipelines.roster import RosterError, load_roster

    try:
        roster = load_roster(settings.roster)
    except RosterError:
        return []
    return sorted(o for o in org_ids if o not in roster.orgs)


def _dsn_user(dsn: str | None) -> str | None:
    if not dsn:
        return None
    user = urlsplit(dsn).username
    return unquote(user) if user else "default"


def _sync(settings: Settings, path: Path, book: UserBook, print_only: bool, out: TextIO) -> int:
    if settings.embedded:
        raise UsersFileError(
            "sync-server is for a ClickHouse server (DORPSPOMP_WAREHOUSE=http://…); the "
            "embedded warehouse needs no users: the worker filters each client's queries itself"
        )
    from pipelines.warehouse import Warehouse

    book = with_clickhouse_passwords(book)
    save_users(path, book)  # new passwords are kept before any user is made with them
    agency = {u for u in (_dsn_user(settings.warehouse), _dsn_user(settings.warehouse_reader))
              if u}
    warehouse = Warehouse(settings)
    try:
        catalog = warehouse.catalog()
        if not catalog:
            raise UsersFileError(f"the database {warehouse.database!r} has no tables yet; "
                                 "run `dorpspomp migrate` first")
        wanted = {client_user(login) for login in book.clients()}
        existing = {str(r[0]) for r in warehouse.client.query(
            "SELECT name FROM system.users WHERE startsWith(name, 'dorpspomp_client_')"
        ).result_rows} if not print_only else set()
        statements = row_policy_statements(book, warehouse.database, catalog,
                                           agency_users=sorted(agency),
                                           time_limit_s=settings.query_timeout,
                                           max_rows=settings.query_max_rows)
        statements += removed_user_statements(existing - wanted, warehouse.database, catalog)
        if print_only:
            print(";\n".join(statements) + ";", file=out)
            return 0
        for statement in statements:
            warehouse.client.command(statement)
    finally:
        warehouse.close()
    print(f"{len(wanted)} client users with row policies on {len(catalog)} tables; "
          f"agency users {', '.join(sorted(agency))} see every row", file=out)
    return 0
