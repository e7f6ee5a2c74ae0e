"""What every page needs from Streamlit: its data layer, the clock, and how to say "no data".

The data layer is built from the session: a login (`dashboard.login`) puts its
scope into `st.session_state`, and a test may put a reader, roster or scope
there under the keys below; otherwise the dashboard reads the settings from the
environment, like every dorpspomp command, and talks to the warehouse through
`DashboardReader`, limited in the engine to the login's organisations.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import streamlit as st

from dashboard.data import Clock, DashboardData, DataUnavailable, Scope, dashboard_reader
from pipelines.roster import Roster, RosterError, load_roster
from pipelines.settings import Settings, SettingsError

READER_KEY = "dorpspomp.reader"
ROSTER_KEY = "dorpspomp.roster"
SCOPE_KEY = "dorpspomp.scope"
LOGIN_KEY = "dorpspomp.login"
TOKEN_KEY = "dorpspomp.token"  # the worker's sign-in token of this session (embedded mode)

# How often the live parts of a page ask the warehouse again.
REFRESH_SECONDS = 5

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


def show_time(t: datetime | None) -> str:
    if t is None:
        return "–"
    return t.strftime("%Y-%m-%d %H:%M UTC")


def now_caption(clock: Clock) -> str:
    return (
        f"Now = newest event time in the warehouse: **{show_time(clock.now)}** "
        f"({clock.mentions:,} mentions, {clock.posts:,} posts)"
    )
