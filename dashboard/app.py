"""The dorpspomp dashboard: `streamlit run dashboard/app.py` (what `dorpspomp up` starts).

A multipage app: all clients at a glance, one client in depth, alerts, and
ad-hoc SQL. Each page is a module under `dashboard/pages/` and reads the
warehouse only through `dashboard.data` and the statements in
`dashboard.queries`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.data import Scope
from dashboard.session import SCOPE_KEY

PAGES = Path(__file__).resolve().parent / "pages"


def navigation() -> list[st.Page]:
    scope: Scope = st.session_state.get(SCOPE_KEY) or Scope()
    pages = [
        st.Page(PAGES / "clients.py", title="All clients", icon=":material/groups:",
                url_path="clients", default=True),
        st.Page(PAGES / "client.py", title="One client", icon=":material/person_search:",
                url_path="client"),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:",
                url_path="alerts"),
    ]
    if scope.org_ids is None:  # ad-hoc SQL cannot be limited to some organisations
        pages.append(st.Page(PAGES / "sql.py", title="SQL", icon=":material/terminal:",
                             url_path="sql"))
    return pages


st.set_page_config(page_title="dorpspomp", page_icon=":material/campaign:", layout="wide")
st.navigation(navigation()).run()
