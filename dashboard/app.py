"""The dorpspomp dashboard: `streamlit run dashboard/app.py` (what `dorpspomp up` starts).

A multipage app: all clients at a glance, one client in depth, alerts, a
client's weekly report, and ad-hoc SQL. Each page is a module under
`dashboard/pages/` and reads the warehouse only through `dashboard.data` and
the statements in `dashboard.queries` (the report's in
`dashboard.report.queries`). With a users file, `dashboard.login` asks for a
login before any page, and every page (the SQL page too) sees only that login's
organisations.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.login import gate

PAGES = Path(__file__).resolve().parent / "pages"


def navigation() -> list[st.Page]:
    # Every page, SQL included, is limited to the session's scope (a client login's
    # organisations): the dashboard's queries by parameter, everything in the engine.
    return [
        st.Page(PAGES / "clients.py", title="All clients", icon=":material/groups:",
                url_path="clients", default=True),
        st.Page(PAGES / "client.py", title="One client", icon=":material/person_search:",
                url_path="client"),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:",
                url_path="alerts"),
        st.Page(PAGES / "report.py", title="Weekly report", icon=":material/summarize:",
                url_path="report"),
        st.Page(PAGES / "sql.py", title="SQL", icon=":material/terminal:", url_path="sql"),
    ]


def signin() -> None:
    """The only page before a login; `gate` drew the form above it."""


st.set_page_config(page_title="dorpspomp", page_icon=":material/campaign:", layout="wide")
if gate():
    st.navigation(navigation()).run()
else:
    # Not a page, nor the list of pages, before a login.
    st.navigation([st.Page(signin, title="Sign in", url_path="signin", default=True)],
                  position="hidden").run()
