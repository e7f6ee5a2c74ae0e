"""The door of the dashboard: a login form before any page, when there is a users file.

With DORPSPOMP_DASHBOARD_USERS set, nobody sees a page before signing in with
a name and password from that file (`pipelines.serving.logins`); the login's scope (every
organisation for the agency, its own for a client) goes into the session, where
every page and the SQL page's reader take it from. The file is read again when it
changes: a login removed or changed there is signed out at its next click.

Every sign-in goes through the machine's sign-in limit (`pipelines.serving.throttle`)
first: a locked name or address is refused before its password is checked.

Without a users file there are no logins: `dorpspomp up` and `dorpspomp dashboard`
then bind the dashboard to 127.0.0.1, and the sidebar says so.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import streamlit as st

from dashboard.data import Scope
from dashboard.session import LOGIN_KEY, READER_KEY, ROSTER_KEY, SCOPE_KEY, TOKEN_KEY
from pipelines.serving.logins import Login, UserBook, UsersFileError, load_users
from pipelines.serving.readapi import NotSignedIn
from pipelines.serving.readapi import sign_in as sign_in_at_worker
from pipelines.serving.throttle import LoginThrottle, ThrottleError
from pipelines.settings import Settings, SettingsError
from pipelines.warehouse import WarehouseError

NO_LOGINS = (
    "No logins: there is no users file (DORPSPOMP_DASHBOARD_USERS), so this dashboard "
    "listens on 127.0.0.1 only and everyone who opens it sees every client. "
    "`dorpspomp users add NAME --agency` creates one (README, \"Logins and access\")."
)
WRONG = "Wrong name or password."
# The browser's address when Streamlit cannot tell it (a browser on this machine, or a proxy
# here that does not send X-Forwarded-For): all such sign-ins share one address count.
UNKNOWN_ADDRESS = "unknown"


@st.cache_resource(show_spinner=False, max_entries=4)
def _users_file(path: str, modified: float, size: int) -> UserBook:
    return load_users(path)


def user_book(path: Path) -> UserBook:
    """The users file, read again whenever it changes."""
    try:
        info = path.stat()
    except OSError:
        return load_users(path)  # raises the file's own message
    return _users_file(str(path), info.st_mtime, info.st_size)


def gate() -> bool:
    """True when the pages may render for this session; otherwise it drew why not."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        st.error(f"The dashboard cannot start: {exc}")
        return False
    if settings.dashboard_users is None:
        st.sidebar.caption(":material/lock_open: " + NO_LOGINS)
        return True
    book = users_book(settings.dashboard_users)
    if book is None:
        return False
    login, changed = current_login(book)
    if login is not None:
        signed_in(login)
        return True
    if changed:
        st.info("Your login was changed or removed; sign in again.")
    login_form(book, LoginThrottle.for_settings(settings), settings)
    return False


def allowed() -> bool:
    """Every page asks this first (through `session.dashboard_data`): a page may be run on its
    own, without the app's `gate` in front of it (Streamlit runs `pages/*.py` by URL, and
    so does AppTest after a page switch), so each one checks the session's login itself."""
    try:
        settings = Settings.from_env()
    except SettingsError:
        return True  # `dashboard_data` reports the settings error itself
    if settings.dashboard_users is None:
        return True
    book = users_book(settings.dashboard_users)
    if book is None:
        return False
    login, changed = current_login(book)
    if login is not None:
        return True
    st.info("Your login was changed or removed; sign in again on [the start page](/)."
            if changed else "Sign in first, on [the start page](/).")
    return False


def users_book(path: Path) -> UserBook | None:
    """The users file; None (and the reason drawn) when it cannot be read: fail closed,
    a broken users file lets nobody in."""
    try:
        return user_book(path)
    except UsersFileError as exc:
        st.error(f"Nobody can sign in: the users file cannot be read.\n\n{exc}")
        return None


def current_login(book: UserBook) -> tuple[Login | None, bool]:
    """The session's login while the users file still has it unchanged; otherwise None,
    and True when there was one (it is signed out)."""
    login: Login | None = st.session_state.get(LOGIN_KEY)
    if login is not None and book.logins.get(login.name) == login:
        return login, False
    if login is not None:
        sign_out()
        return None, True
    return None, False


def login_form(book: UserBook, throttle: LoginThrottle, settings: Settings) -> None:
    st.title("dorpspomp")
    with st.form("login"):
        name = st.text_input("Name", key="login.name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    _log_lockouts()
    address = browser_address()
    if settings.embedded:
        # The worker checks the password (through the same throttle) and issues the
        # token that every query of this session then carries: the worker, not this
        # page, decides what the session may read (pipelines.serving.access).
        try:
            granted = sign_in_at_worker(settings, name, password, address)
        except NotSignedIn as exc:
            st.error(str(exc))
            return
        except WarehouseError as exc:
            st.error(f"Nobody can sign in right now: {exc}")
            return
        login = book.logins.get(granted.login)
        if login is None:
            st.error(WRONG)
            return
        sign_in(login, granted.token)
        st.rerun()
        return
    try:
        refusal = throttle.check(name, address)
        if refusal is not None:
            st.error(refusal.message)
            return
        login = book.authenticate(name, password)
        if login is None:
            throttle.failed(name, address)
            st.error(WRONG)
            return
        throttle.succeeded(name, address)
    except ThrottleError as exc:
        st.error(f"Nobody can sign in: {exc}")
        return
    sign_in(login)
    st.rerun()


def browser_address() -> str:
    """The address the browser's connection comes from (Streamlit's server takes it from
    X-Forwarded-For only when a proxy on this machine sends it)."""
    address = st.context.ip_address  # None for 127.0.0.1 and ::1
    return address if isinstance(address, str) and address else UNKNOWN_ADDRESS


def _log_lockouts() -> None:
    """Lockouts go to the dashboard's stderr (DORPSPOMP_HOME/logs/dashboard.log under
    `dorpspomp up`) with a time, as the worker logs; Streamlit configures no logging of ours."""
    logins = logging.getLogger("dorpspomp.logins")
    if not logins.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        logins.addHandler(handler)
        logins.setLevel(logging.INFO)


def sign_in(login: Login, token: str | None = None) -> None:
    """Remember the login, what it sees and (embedded) the worker's token for its queries."""
    sign_out()
    st.session_state[LOGIN_KEY] = login
    st.session_state[SCOPE_KEY] = Scope(login.org_ids)
    if token is not None:
        st.session_state[TOKEN_KEY] = token


def sign_out() -> None:
    """Forget everything of this session (its scope, filters, SQL results) but what a
    test put in."""
    for key in list(st.session_state):
        if key not in (READER_KEY, ROSTER_KEY):
            del st.session_state[key]


def signed_in(login: Login) -> None:
    who = "every client" if login.org_ids is None else ", ".join(sorted(login.org_ids))
    st.sidebar.caption(f"Signed in as **{login.name}** · sees {who}")
    st.sidebar.button("Log out", key="login.logout", on_click=sign_out)
