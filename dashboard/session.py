"""What every page needs from Streamlit: its data layer, the clock, how to say "no data",
and the live switch.

The data layer is built from the session: a login (`dashboard.login`) puts its
scope into `st.session_state`, and a test may put a reader, roster or scope
there under the keys below; otherwise the dashboard reads the settings from the
environment, like every dorpspomp command, and talks to the warehouse through
`DashboardReader`, limited in the engine to the login's organisations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import streamlit as st

from dashboard.data import Clock, DashboardData, DataUnavailable, Scope, dashboard_reader
from dashboard.display import local_time
from pipelines.roster import Roster, RosterError, load_roster
from pipelines.settings import Settings, SettingsError

READER_KEY = "dorpspomp.reader"
ROSTER_KEY = "dorpspomp.roster"
SCOPE_KEY = "dorpspomp.scope"
LOGIN_KEY = "dorpspomp.login"
TOKEN_KEY = "dorpspomp.token"  # the worker's sign-in token of this session (embedded mode)

# How often the live parts of a page ask the warehouse again.
REFRESH_SECONDS = 5
# The session's live switch (True: pages refresh by themselves); kept apart from the
# toggle's own widget state, which Streamlit forgets on a page that does not draw it.
LIVE_KEY = "dorpspomp.live"
LIVE_TOGGLE = "live.toggle"

EMPTY_HINT = (
    "The warehouse holds no mentions or posts yet. Send events with "
    "`dorpspomp replay FILE.jsonl` (try `examples/sample-events.jsonl`) or point your "
    "collectors at the events topic; this page fills in as they arrive."
)


@st.cache_resource(show_spinner=False)
def _roster_file(path: str, modified: float) -> Roster:
    return load_roster(path)


def dashboard_data() -> DashboardData | None:
    """The data layer for this session, or None after telling the user why there is none."""
    from dashboard.login import allowed  # it imports this module's keys

    if not allowed():
        return None
    state = st.session_state
    reader = state.get(READER_KEY)
    schema_reader = reader
    roster = state.get(ROSTER_KEY)
    scope = state.get(SCOPE_KEY) or Scope()
    lateness = 86400
    if reader is None or roster is None:
        try:
            settings = Settings.from_env()
            if roster is None:
                roster = _load_roster(settings.roster)
        except (SettingsError, RosterError, OSError) as exc:
            st.error(f"The dashboard cannot start: {exc}")
            return None
        if reader is None:
            reader = dashboard_reader(settings, scope, state.get(LOGIN_KEY),
                                      state.get(TOKEN_KEY))
            # The schema browser's one statement (column names and types, no rows) runs
            # unscoped: a client's own reader may not read system.columns.
            schema_reader = dashboard_reader(settings)
        lateness = settings.lateness
    return DashboardData(reader, roster, scope, lateness_seconds=lateness,
                         schema_reader=schema_reader)


def _load_roster(path: Path | None) -> Roster:
    if path is None:
        return Roster.empty()
    return _roster_file(str(path), path.stat().st_mtime)


def read_clock(data: DashboardData) -> Clock | None:
    """The watermark, or None after showing why the warehouse cannot be read or is empty."""
    try:
        clock = data.clock()
    except DataUnavailable as exc:
        unavailable(exc)
        return None
    if clock.empty:
        st.info(EMPTY_HINT)
        return None
    return clock


def data_and_clock() -> tuple[DashboardData, Clock] | None:
    """The data layer and the watermark a page starts from, or None after saying why not."""
    data = dashboard_data()
    if data is None:
        return None
    clock = read_clock(data)
    if clock is None:
        return None
    return data, clock


def unavailable(exc: DataUnavailable) -> None:
    st.warning(
        f"The warehouse cannot be read right now: {exc}\n\n"
        "`dorpspomp status` shows the broker, the worker and the warehouse; once it "
        "answers, this page fills in again (reload it, or wait for its next refresh)."
    )


def show_time(t: datetime | None, zone: str = "UTC") -> str:
    """`t` as the wall clock of `zone`, without an offset ("–" without a time)."""
    return local_time(t, zone)


def now_caption(clock: Clock, zone: str = "UTC") -> str:
    return (
        f"Now = newest event time in the warehouse: **{show_time(clock.now, zone)}** "
        f"({clock.mentions:,} mentions, {clock.posts:,} posts) · times in {zone}"
    )


def refresh_every() -> int | None:
    """The sidebar's live switch, the same on every page and remembered for the session:
    seconds between a page's refreshes, or None while the person paused them."""
    state = st.session_state
    if LIVE_KEY not in state:
        state[LIVE_KEY] = True

    def keep() -> None:
        state[LIVE_KEY] = bool(state[LIVE_TOGGLE])

    st.sidebar.toggle(
        f"Live: refresh every {REFRESH_SECONDS} s", value=bool(state[LIVE_KEY]),
        key=LIVE_TOGGLE, on_change=keep,
        help="Off: the page stays as it is (to read or compare) until you switch it on "
             "again, change a choice, or reload.",
    )
    return REFRESH_SECONDS if state[LIVE_KEY] else None


def refresh_note(every: int | None) -> str:
    return (f"refreshes every {every} s" if every is not None
            else "refresh paused (switch *Live* on in the sidebar)")


def live(body: Callable[..., None], every: int | None, *args: object) -> None:
    """Run `body(*args)` as a Streamlit fragment that runs again every `every` seconds
    (never while paused): only that part of the page is redrawn."""
    st.fragment(body, run_every=every)(*args)
