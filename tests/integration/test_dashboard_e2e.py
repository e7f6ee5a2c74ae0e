"""The dashboard in a real browser: a simulated day, the real stack, headless Chromium.

`dorpspomp simulate` writes a day of a synthetic world (with its roster beside
it); a real worker using that roster takes it from the real broker after
`dorpspomp replay`; the dashboard runs as `dorpspomp up` runs it (`streamlit
run dashboard/app.py`, same environment, so it reads the warehouse through the
worker's /query endpoint). Debian's Chromium, driven by Selenium through
Debian's chromedriver, opens every page and checks what a user would see: the
charts are drawn with marks, the numbers are the simulated day's, there is no
exception or error box, and a query typed on the SQL page shows its result.

A full-page screenshot of every page (and of each tab of "One client") lands in
`test-artifacts/screenshots/` (`$DORPSPOMP_ARTIFACTS/screenshots/` when that
is set), which CI keeps; a failed check saves `<page>-FAILED.png` there too.
Without Chromium the tests are skipped, except under CI (`CI=true`), where
that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from pipelines.commands.stack import dashboard_cmd
from pipelines.roster import load_roster
from pipelines.serving.readapi import WarehouseReader
from pipelines.settings import Settings
from tests.integration.harness import ROOT, Stack, free_port

pytestmark = pytest.mark.integration

# A smaller-than-default world keeps the whole module well within two minutes on two cores.
SIMULATION = ["--days", "1", "--start", "2026-03-02", "--seed", "7", "--orgs", "50",
              "--scale", "0.3", "--quiet"]
ARTIFACTS = Path(os.environ.get("DORPSPOMP_ARTIFACTS") or ROOT / "test-artifacts")
SCREENSHOTS = ARTIFACTS / "screenshots"
WINDOW = (1400, 1000)
PAGE_TIMEOUT = 45.0      # a page's first render, while the machine is busy
STEP_TIMEOUT = 20.0      # a click's rerun

T = TypeVar("T")


# --------------------------------------------------------------------------- the browser


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Chromium:
    browser: str
    driver: str


@pytest.fixture(scope="module")
def chromium() -> Chromium:
    """Debian's chromium and chromedriver (infra/setup.sh --test installs them)."""
    browser = shutil.which(os.environ.get("DORPSPOMP_CHROMIUM") or "chromium")
    driver = shutil.which(os.environ.get("DORPSPOMP_CHROMEDRIVER") or "chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromium-driver", driver))
               if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the dev extra)")
    if missing:
        reason = (f"the browser test needs {', '.join(missing)}: run infra/setup.sh --test "
                  "(apt-get install chromium chromium-driver; pip install -e '.[dev]')")
        if running_in_ci():
            pytest.fail(reason + " — CI must run this test, so this is a failure", pytrace=False)
        pytest.skip(reason)
    assert browser is not None and driver is not None
    return Chromium(browser, driver)


@pytest.fixture(scope="module")
def browser(chromium: Chromium) -> Iterator[Any]:
    """Headless Chromium through Selenium; the paths are given, so Selenium Manager
    (which would download a browser or driver) never runs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium.browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--hide-scrollbars", "--lang=en-GB",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=chromium.driver))
    try:
        yield driver
    finally:
        driver.quit()


# ------------------------------------------------------------------ the day and the stack


@dataclass(frozen=True)
class SimulatedDay:
    events: Path
    roster: Path
    mentions: int
    posts: int


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> SimulatedDay:
    out = tmp_path_factory.mktemp("e2e-day") / "day.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.commands.cli", "simulate", "--out", str(out),
         *SIMULATION],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout + result.stderr
    counts = re.search(r"([\d,]+) mentions, ([\d,]+) posts", summary)
    assert counts, f"no counts in the summary of dorpspomp simulate: {summary}"
    roster = out.with_name("day.roster.yaml")
    assert roster.is_file(), f"dorpspomp simulate wrote no roster beside {out}"
    return SimulatedDay(out, roster, int(counts[1].replace(",", "")),
                        int(counts[2].replace(",", "")))


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, simulated_day: SimulatedDay,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A worker with the simulation's roster that has taken in the whole replayed day."""
    name = f"e2e{uuid.uuid4().hex[:8]}"
    s = Stack(home=tmp_path_factory.mktemp("e2e") / "home", bootstrap=kafka_broker.bootstrap,
              topic=f"{name}.events", group=f"{name}-worker", roster=simulated_day.roster)
    s.start_worker()
    try:
        s.cli("replay", str(simulated_day.events), "--quiet")
        s.wait_caught_up(timeout=120)
        yield s
    finally:
        s.stop_worker()


@pytest.fixture(scope="module")
def warehouse(stack: Stack) -> Iterator[WarehouseReader]:
    """Our own reader, for the numbers the pages should show."""
    reader = WarehouseReader(Settings.from_env(stack.env))
    yield reader
    reader.close()


def one_row(reader: WarehouseReader, sql: str, **parameters: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = reader.query(sql, parameters or None).to_pylist()
    assert len(rows) == 1, (sql, rows)
    return rows[0]


@pytest.fixture(scope="module")
def dashboard_url(stack: Stack) -> Iterator[str]:
    """The dashboard as `dorpspomp up` starts it, on a free port, with the stack's settings."""
    port = free_port()
    command = dashboard_cmd(Settings.from_env(stack.env, dashboard_port=port))
    log = stack.home / "dashboard.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=stack.env, cwd=ROOT, stdout=handle,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not streamlit_healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"the dashboard did not come up at {url} (exit code {process.poll()}):\n"
                    + log.read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def streamlit_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# -------------------------------------------------------------------- reading the pages

# Every chart's renderer, size, axis labels and number of drawn data marks (Vega's
# `role-mark` groups; legends and axes are not counted). Streamlit draws Vega-Lite with
# SVG, and with canvas for large data, where the count of coloured pixels stands in.
CHARTS_JS = """
const root = arguments[0] || document;
return Array.from(root.querySelectorAll('[data-testid="stVegaLiteChart"]')).map(chart => {
  const svg = chart.querySelector('svg.marks');
  const canvas = chart.querySelector('canvas.marks');
  const box = (svg || canvas || chart).getBoundingClientRect();
  let marks = 0;
  if (svg) {
    for (const group of svg.querySelectorAll('g.role-mark')) {
      for (const item of group.children) {
        const d = item.getAttribute('d');
        if (item.tagName !== 'path' || (d && d.length > 4)) marks += 1;
      }
    }
  } else if (canvas && canvas.width && canvas.height) {
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      const spread = Math.max(pixels[i], pixels[i + 1], pixels[i + 2])
                   - Math.min(pixels[i], pixels[i + 1], pixels[i + 2]);
      if (pixels[i + 3] > 0 && spread > 40) marks += 1;
    }
  }
  // Labels Vega left out for want of room stay in the SVG, with opacity 0.
  const labels = svg ? Array.from(svg.querySelectorAll('g.role-axis-label text'))
    .filter(t => t.getAttribute('opacity') !== '0').map(t => t.textContent) : [];
  return {renderer: svg ? 'svg' : canvas ? 'canvas' : 'none', marks: marks, labels: labels,
          width: Math.round(box.width), height: Math.round(box.height)};
});
"""

# Each data grid (st.dataframe draws on a canvas; its accessible table holds the header
# and the cells of the rows in view).
GRIDS_JS = """
const root = arguments[0] || document;
return Array.from(root.querySelectorAll('[data-testid="stDataFrame"]')).map(frame => {
  const table = frame.querySelector('table[role="grid"]');
  if (!table) return null;
  const header = Array.from(table.querySelectorAll('th')).map(th => th.textContent);
  const rows = Array.from(table.querySelectorAll('tbody tr')).map(
    tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent));
  return {rows: Number(table.getAttribute('aria-rowcount')) - 1, header: header, cells: rows,
          height: Math.round(frame.getBoundingClientRect().height)};
});
"""

# Each static table (st.table): its header and every cell's text, as drawn.
TABLES_JS = """
const root = arguments[0] || document;
return Array.from(root.querySelectorAll('[data-testid="stTable"] table')).map(table => ({
  header: Array.from(table.querySelectorAll('thead th')).map(th => th.innerText.trim()),
  cells: Array.from(table.querySelectorAll('tbody tr')).map(
    tr => Array.from(tr.querySelectorAll('td, th')).map(td => td.innerText.trim()))}));
"""

METRICS_JS = """
return Object.fromEntries(Array.from(
  document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]')).map(m => [
    m.querySelector('[data-testid="stMetricLabel"]').textContent.trim(),
    m.querySelector('[data-testid="stMetricValue"]').textContent.trim()]));
"""

PROBLEMS_JS = """
return Array.from(document.querySelectorAll(
  '[data-testid="stException"], [data-testid="stAlertContentError"], '
  + '[data-testid="stAlertContentWarning"]')).map(e => e.innerText.slice(0, 600));
"""

# True while the script runs or elements wait for their first render.
BUSY_JS = """
return !!document.querySelector('[data-testid="stStatusWidget"]')
    || !!document.querySelector('[data-testid="stSkeleton"]')
    || !document.querySelector('[data-testid="stMain"] h1');
"""


class Dashboard:
    """The pages as a user opens them. `open` is the one place a login step would go."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        self.url = url
        self.page = "start"

    # navigation ------------------------------------------------------------------------

    def open(self, page: str, path: str, title: str) -> None:
        """Go to `path` (e.g. "alerts", "client?org=x") and wait until `title` is drawn."""
        self.page = page
        self.driver.set_window_size(*WINDOW)
        self.driver.get(f"{self.url}/{path}")
        self.wait(f"the page titled {title!r}", lambda: title in self.heading(), PAGE_TIMEOUT)
        self.settle()

    def toolbar(self) -> tuple[str | None, int]:
        """The toolbar's text (None: no toolbar) and how many Deploy buttons it has."""
        from selenium.webdriver.common.by import By

        bars = self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stToolbar"]')
        deploy = self.driver.find_elements(By.CSS_SELECTOR,
                                           '[data-testid="stAppDeployButton"]')
        return (bars[0].text if bars else None), len(deploy)

    def heading(self) -> str:
        heading = self.driver.execute_script(
            "const h = document.querySelector('[data-testid=\"stMain\"] h1');"
            "return h ? h.textContent : '';")
        return str(heading)

    def click_tab(self, label: str) -> Any:
        """Select the tab called `label`; returns its panel."""
        from selenium.webdriver.common.by import By

        tab = self.wait(f"a tab {label!r}", lambda: next(
            (t for t in self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stTab"]')
             if t.text.strip() == label), None))
        tab.click()
        panel = self.wait(f"the panel of the tab {label!r}", lambda: next(
            (p for p in self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stTabPanel"]')
             if p.is_displayed()), None))
        self.settle()
        return panel

    def click_button(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        button = self.wait(f"a button {label!r}", lambda: next(
            (b for b in self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMain"] button')
             if b.text.strip() == label), None))
        button.click()

    # what is on the page ---------------------------------------------------------------

    def text(self) -> str:
        text = self.driver.execute_script(
            "const m = document.querySelector('[data-testid=\"stMain\"]');"
            "return m ? m.innerText : '';")
        return str(text)

    def charts(self, within: Any = None) -> list[dict[str, Any]]:
        charts: list[dict[str, Any]] = self.driver.execute_script(CHARTS_JS, within)
        return charts

    def grids(self, within: Any = None) -> list[dict[str, Any] | None]:
        grids: list[dict[str, Any] | None] = self.driver.execute_script(GRIDS_JS, within)
        return grids

    def metrics(self) -> dict[str, str]:
        metrics: dict[str, str] = self.driver.execute_script(METRICS_JS)
        return metrics

    def tables(self, within: Any = None) -> list[dict[str, Any]]:
        tables: list[dict[str, Any]] = self.driver.execute_script(TABLES_JS, within)
        return tables

    def mark_page(self) -> None:
        """A mark in the page's window that only a reload would take away."""
        self.driver.execute_script("window.dorpspompNoReload = true;")

    def reloaded(self) -> bool:
        return not self.driver.execute_script("return window.dorpspompNoReload === true;")

    def assert_readable(self) -> None:
        """Issue 13's polish, as the browser draws it: headers in words, no `None`, no raw
        UTC offsets in any table."""
        for grid in self.grids():
            if grid is None:
                continue
            assert not [h for h in grid["header"] if "_" in h], grid["header"]
            cells = [c for row in grid["cells"] for c in row]
            assert not [c for c in cells if c == "None" or "+00:00" in c], grid["header"]
        for table in self.tables():
            cells = [c for row in table["cells"] for c in row]
            assert "None" not in cells and not [c for c in cells if "+00:00" in c], table

    # waiting and checking --------------------------------------------------------------

    def wait(self, what: str, found: Callable[[], T | bool | None],
             timeout: float = STEP_TIMEOUT) -> T:
        """Poll `found` until it gives something truthy; on timeout, fail saying what was
        expected on which page, with a screenshot."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                value = found()
                if value:
                    return value  # type: ignore[return-value]
            except Exception as exc:  # a stale element while Streamlit redraws
                last_error = exc
            if time.monotonic() > deadline:
                shot = self.screenshot(f"{self.page}-FAILED")
                raise AssertionError(
                    f"on the {self.page!r} page, waited {timeout:.0f} s for {what}"
                    + (f" (last error: {last_error})" if last_error else "")
                    + f"; screenshot: {shot}\npage text:\n{self.text()[:2000]}")
            time.sleep(0.25)

    def settle(self, timeout: float = PAGE_TIMEOUT) -> None:
        """Until the script run is over and nothing waits to be drawn, then no problems."""
        self.wait("the page to finish running", lambda: not self.driver.execute_script(BUSY_JS),
                  timeout)
        self.assert_no_problems()

    def assert_no_problems(self) -> None:
        problems = self.driver.execute_script(PROBLEMS_JS)
        if problems:
            shot = self.screenshot(f"{self.page}-FAILED")
            raise AssertionError(f"the {self.page!r} page shows an exception, error or "
                                 f"warning: {problems}; screenshot: {shot}")

    def drawn_charts(self, what: str, count: int, within: Any = None) -> list[dict[str, Any]]:
        """Wait for at least `count` charts (in `within`), each drawn with data marks."""
        def ready() -> list[dict[str, Any]] | None:
            charts = self.charts(within)
            drawn = [c for c in charts if c["marks"] > 0 and c["width"] > 50
                     and c["height"] > 50]
            return charts if len(charts) >= count and len(drawn) == len(charts) else None

        try:
            return self.wait(f"{count} chart(s) {what}, each with data marks", ready)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncharts found: {self.charts(within)}") from None

    def screenshot(self, name: str) -> Path:
        """The whole page, not only the window: the window grows to the page's height."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        height = self.driver.execute_script(
            "const b = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
            "return b ? b.scrollHeight + 160 : 0;")
        try:
            if height and height > WINDOW[1]:
                self.driver.set_window_size(WINDOW[0], min(int(height), 12000))
                time.sleep(0.6)  # the charts follow the new size
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(*WINDOW)
        return path

    @contextmanager
    def checking(self, page: str) -> Iterator[None]:
        """A check of `page`: any failure leaves a screenshot of what the browser showed."""
        self.page = page
        (SCREENSHOTS / f"{page}-FAILED.png").unlink(missing_ok=True)
        try:
            yield
        except Exception:
            if not (SCREENSHOTS / f"{page}-FAILED.png").exists():
                self.screenshot(f"{page}-FAILED")
            raise


@pytest.fixture(scope="module")
def dashboard(browser: Any, dashboard_url: str) -> Dashboard:
    return Dashboard(browser, dashboard_url)


def number(text: str) -> int:
    return int(text.replace(",", ""))


# --------------------------------------------------------------------------------- pages


def test_all_clients_page_shows_the_simulated_day(
    dashboard: Dashboard, simulated_day: SimulatedDay, warehouse: WarehouseReader
) -> None:
    with dashboard.checking("all-clients"):
        dashboard.open("all-clients", "", "All clients")
        day = f"({simulated_day.mentions:,} mentions, {simulated_day.posts:,} posts)"
        dashboard.wait(f"the caption with the day's counts {day}",
                       lambda: day in dashboard.text())
        expected = one_row(
            warehouse,
            "SELECT (SELECT count() FROM alerts WHERE status = 'open') AS open_alerts, "
            "(SELECT count() FROM mention_responses WHERE status = 'pending') AS open_mentions, "
            "(SELECT uniqExact(org_id) FROM mentions) AS orgs")
        metrics = dashboard.metrics()
        assert number(metrics["Open alerts"]) == expected["open_alerts"], metrics
        assert number(metrics["Open mentions"]) == expected["open_mentions"], metrics
        assert number(metrics["Mentions in the last hour"]) > 0, metrics

        grid = dashboard.wait("the table of every client", lambda: next(
            (g for g in dashboard.grids() if g and g["header"][:2] == ["Client", "Urgency"]),
            None))
        assert grid["rows"] >= expected["orgs"], grid["rows"]
        assert grid["cells"] and all(row[0] for row in grid["cells"]), grid["cells"][:3]
        # Every client on the page: the table is as tall as its rows, nothing scrolls inside.
        assert grid["height"] >= (grid["rows"] + 1) * 30, grid["height"]
        # "Which one first": the top rows say why, and the headline counts only those.
        (first,) = dashboard.tables()
        assert first["header"] == ["Rank", "Client", "Urgency", "Why"], first["header"]
        assert first["cells"] and all(row[3] for row in first["cells"]), first["cells"][:3]
        needing = number(metrics["Clients needing attention"].split(" of ")[0])
        assert needing == len(first["cells"]), (metrics, len(first["cells"]))
        urgency = [number(row[2]) for row in first["cells"]]
        assert urgency == sorted(urgency, reverse=True) and urgency[-1] > 0, urgency
        dashboard.assert_readable()
        # Viewers get no developer options (Deploy, Rerun, Clear cache) in the toolbar.
        toolbar, deploy = dashboard.toolbar()
        assert toolbar is not None and "Deploy" not in toolbar, toolbar
        assert deploy == 0
        dashboard.screenshot("1-all-clients")


def test_one_client_page_draws_every_chart(
    dashboard: Dashboard, warehouse: WarehouseReader
) -> None:
    # The client that answered most: it has data on every tab.
    org = one_row(warehouse, "SELECT org_id, count() AS answered FROM mention_responses "
                             "WHERE status = 'answered' GROUP BY org_id "
                             "ORDER BY answered DESC, org_id LIMIT 1")["org_id"]
    expected = one_row(
        warehouse,
        "SELECT count() AS mentions, countIf(complaint) AS complaints, "
        "countIf(kind = 'share') AS shares FROM mentions WHERE org_id = {o:String}", o=org)
    with dashboard.checking("one-client"):
        dashboard.open("one-client", f"client?org={org}", "One client")
        activity = dashboard.click_tab("Activity")
        dashboard.drawn_charts("on the Activity tab (mentions and complaints over time)", 1,
                               activity)
        metrics = dashboard.metrics()
        assert number(metrics["Mentions"]) == expected["mentions"], (org, metrics)
        assert number(metrics["Complaints"]) == expected["complaints"], (org, metrics)
        assert number(metrics["Shares"]) == expected["shares"], (org, metrics)
        dashboard.screenshot("2-one-client-activity")

        for tab, count, about in (
            ("Responses", 3, "response times, the weekday × hour heatmap, who answers"),
            ("Reach and voices", 1, "potential reach over time"),
            ("Share of voice", 2, "the sector's share of voice and its course"),
        ):
            panel = dashboard.click_tab(tab)
            charts = dashboard.drawn_charts(f"on the {tab} tab ({about})", count, panel)
            dashboard.screenshot(f"2-one-client-{tab.lower().replace(' ', '-')}")
            if tab == "Responses":
                # Every responder in the table has its labelled bar in "Who answers".
                table = next(g for g in dashboard.grids(panel)
                             if g and g["header"][:2] == ["Role", "Account"])
                handles = {row[1] or "(unknown)" for row in table["cells"]}
                assert handles and handles <= set(charts[2]["labels"]), (handles, charts[2])
        # Every client of the sector has its labelled bar (none squashed out of the chart).
        peers = re.search(r"Clients in the sector '[^']+': (.+)", dashboard.text())
        assert peers, "no list of the sector's clients on the Share of voice tab"
        names = peers[1].strip().split(", ")
        assert len(names) >= 2 and set(names) <= set(charts[0]["labels"]), (names, charts[0])

        queue = dashboard.click_tab("Open queue")
        grid = dashboard.wait("the open queue table", lambda: (dashboard.grids(queue)
                                                               or [None])[0])
        pending = one_row(warehouse, "SELECT count() AS n FROM mention_responses "
                                     "WHERE org_id = {o:String} AND status = 'pending'", o=org)
        assert grid["rows"] == min(pending["n"], 200), (grid["rows"], pending)
        dashboard.assert_readable()
        dashboard.screenshot("2-one-client-open-queue")


def test_alerts_page_draws_the_timeline(
    dashboard: Dashboard, stack: Stack, warehouse: WarehouseReader
) -> None:
    now = one_row(warehouse, "SELECT greatest((SELECT max(created_at) FROM mentions), "
                             "(SELECT max(created_at) FROM posts)) AS now")["now"]
    expected = one_row(
        warehouse,
        "SELECT countIf(status = 'open') AS open, countIf(status = 'resolved' "
        "AND opened_at >= {s:DateTime64(3, 'UTC')}) AS resolved FROM alerts",
        s=(now - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
    assert expected["open"] + expected["resolved"] > 0, "the simulated day should raise alerts"
    with dashboard.checking("alerts"):
        dashboard.open("alerts", "alerts", "Alerts")
        metrics = dashboard.metrics()
        assert number(metrics["Open alerts"]) == expected["open"], metrics
        assert number(metrics["Resolved in range"]) == expected["resolved"], metrics
        (timeline,) = dashboard.drawn_charts("on the Alerts page (the alerts timeline)", 1)
        assert timeline["marks"] >= min(300, expected["open"] + expected["resolved"]), timeline
        total = expected["open"] + expected["resolved"]
        dashboard.wait(f"the heading '{total:,} alerts'",
                       lambda: f"{total:,} alerts" in dashboard.text())

        # The first alert's sample mentions.
        from selenium.webdriver.common.by import By

        first = dashboard.wait("an expander with an alert's sample mentions", lambda: (
            dashboard.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stExpander"]')
            or [None])[0])
        first.find_element(By.TAG_NAME, "summary").click()
        dashboard.wait("the sample mentions of the first alert", lambda: any(
            g and g["rows"] > 0 and "Text" in g["header"] for g in dashboard.grids(first)))
        dashboard.assert_no_problems()
        dashboard.assert_readable()
        dashboard.screenshot("3-alerts")


def test_sql_page_runs_a_query_typed_in_the_browser(
    dashboard: Dashboard, warehouse: WarehouseReader
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    query = ("SELECT platform, count() AS mentions FROM mentions "
             "GROUP BY platform ORDER BY mentions DESC, platform")
    expected = warehouse.query(query).to_pylist()
    with dashboard.checking("sql"):
        dashboard.open("sql", "sql", "SQL")
        editor = dashboard.wait("the query editor", lambda: dashboard.driver.find_element(
            By.CSS_SELECTOR, '[data-testid="stTextArea"] textarea'))
        editor.click()
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(Keys.DELETE)
        editor.send_keys(query)
        editor.send_keys(Keys.CONTROL, Keys.ENTER)  # commits the text, as leaving it does
        dashboard.settle()
        dashboard.click_button("Run")
        dashboard.wait(f"'{len(expected)} rows in' above the result",
                       lambda: re.search(rf"\b{len(expected)} rows in [\d.]+ s",
                                         dashboard.text()))
        dashboard.settle()

        def result_grid() -> dict[str, Any] | None:
            return next((g for g in dashboard.grids()
                         if g and g["header"] == ["platform", "mentions"]), None)

        grid = dashboard.wait("the result table (platform, mentions)", result_grid)
        assert grid["rows"] == len(expected), grid
        shown = [(row[0], number(row[1])) for row in grid["cells"]]
        assert shown == [(r["platform"], r["mentions"]) for r in expected][:len(shown)]
        dashboard.screenshot("4-sql-table")

        chart_tab = dashboard.click_tab("Chart")
        dashboard.drawn_charts("on the result's Chart tab", 1, chart_tab)
        dashboard.screenshot("4-sql-chart")


# ------------------------------------------------------------- pages that follow the events


def mention_line(org_id: str, event_id: str, at: datetime, kind: str = "direct") -> bytes:
    return orjson.dumps({
        "type": "mention", "event_id": event_id, "org_id": org_id, "platform": "twitter",
        "created_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"), "kind": kind,
        "author": {"id": f"{event_id}-author", "handle": f"live_{event_id}", "followers": 42},
        "text": "Waarom krijg ik nog steeds geen antwoord?",
    })


def first_expander(dashboard: Dashboard) -> str:
    from selenium.webdriver.common.by import By

    found = dashboard.driver.find_elements(By.CSS_SELECTOR, '[data-testid="stExpander"] summary')
    # The summary's text starts with its icon's name (keyboard_arrow_right); the label is last.
    return str(found[0].text).strip().splitlines()[-1] if found else ""


def send(stack: Stack, lines: list[bytes], name: str) -> None:
    path = stack.home / f"{name}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    stack.cli("replay", str(path), "--quiet")
    stack.wait_caught_up(timeout=120)


def test_one_client_and_alerts_follow_the_events_without_a_reload(
    dashboard: Dashboard, stack: Stack, simulated_day: SimulatedDay,
    warehouse: WarehouseReader,
) -> None:
    """Issue 13's acceptance: while events flow, One client and Alerts change on their own
    (a fragment that reruns every few seconds), with no reload of the page. Runs last: it
    moves the warehouse's clock on."""
    org = one_row(warehouse, "SELECT org_id, count() AS answered FROM mention_responses "
                             "WHERE status = 'answered' GROUP BY org_id "
                             "ORDER BY answered DESC, org_id LIMIT 1")["org_id"]
    now: datetime = one_row(warehouse, "SELECT greatest((SELECT max(created_at) FROM mentions),"
                                       " (SELECT max(created_at) FROM posts)) AS now")["now"]

    def mentions_in_week() -> int:
        latest: datetime = one_row(
            warehouse, "SELECT greatest((SELECT max(created_at) FROM mentions), "
                       "(SELECT max(created_at) FROM posts)) AS now")["now"]
        start = latest + timedelta(milliseconds=1) - timedelta(days=7)
        n: int = one_row(warehouse, "SELECT count() AS n FROM mentions WHERE org_id = {o:String}"
                                    " AND created_at >= {s:DateTime64(3, 'UTC')}", o=org,
                         s=start.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])["n"]
        return n

    with dashboard.checking("live-one-client"):
        dashboard.open("live-one-client", f"client?org={org}", "One client")
        dashboard.click_tab("Activity")
        before = number(dashboard.metrics()["Mentions"])
        assert before == mentions_in_week()
        dashboard.mark_page()
        dashboard.screenshot("5-live-one-client-before")
        send(stack, [mention_line(org, f"live-{i}", now + timedelta(minutes=1 + i))
                     for i in range(5)], "live-mentions")
        after = mentions_in_week()
        assert after == before + 5
        dashboard.wait(f"the Mentions figure to go from {before:,} to {after:,} by itself",
                       lambda: number(dashboard.metrics()["Mentions"]) == after, 60)
        assert not dashboard.reloaded(), "the page was reloaded"
        dashboard.assert_no_problems()
        dashboard.screenshot("5-live-one-client-after")

    # A client of its own (SLA alerts are one per client: the busiest one may have its
    # open already): five mentions wait for an answer; an event of the same client after
    # their SLA ran out moves its partition's clock past it, and the worker opens the
    # client's SLA alert.
    quiet = "live-klant"
    deadline = load_roster(simulated_day.roster).org(quiet).sla_deadline(
        now + timedelta(minutes=5))
    send(stack, [mention_line(quiet, f"quiet-{i}", now + timedelta(minutes=1 + i))
                 for i in range(5)], "quiet-mentions")
    with dashboard.checking("live-alerts"):
        dashboard.open("live-alerts", "alerts", "Alerts")
        opened = number(dashboard.metrics()["Open alerts"])
        dashboard.mark_page()
        dashboard.screenshot("5-live-alerts-before")
        send(stack, [mention_line(quiet, "live-later", deadline + timedelta(minutes=2),
                                  kind="share")], "live-later")
        expected = one_row(warehouse, "SELECT count() AS n FROM alerts "
                                      "WHERE status = 'open'")["n"]
        assert one_row(warehouse, "SELECT count() AS n FROM alerts WHERE org_id = "
                                  "{o:String} AND kind = 'sla_breach' AND status = 'open'",
                       o=quiet)["n"] == 1
        dashboard.wait(f"Open alerts to go from {opened:,} to {expected:,} by itself",
                       lambda: number(dashboard.metrics()["Open alerts"]) == expected, 60)
        # Newest first: the first alert listed is the newest in the warehouse, at the
        # agency's clock (the roster's default zone).
        roster = load_roster(simulated_day.roster)
        newest = one_row(warehouse, "SELECT org_id, kind, formatDateTime(opened_at, "
                                    "'%Y-%m-%d %H:%i', {z:String}) AS opened FROM alerts "
                                    "ORDER BY opened_at DESC, alert_id LIMIT 1",
                         z=roster.defaults.timezone)
        label = f"{roster.org(newest['org_id']).name} · "
        dashboard.wait(f"the newest alert ({label}…{newest['opened']}) first in the list",
                       lambda: first_expander(dashboard).startswith(label)
                       and newest["opened"] in first_expander(dashboard), 30)
        assert not dashboard.reloaded(), "the page was reloaded"
        dashboard.assert_no_problems()
        dashboard.screenshot("5-live-alerts-after")
