"""End to end in headless Chromium (Debian's /usr/bin/chromium through Playwright) against a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from loopback import free_port
from web_data import HOSTILE_NAME, HOSTILE_PARAM, OOM_ERROR, build

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian package `chromium`)")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The app on a free loopback port, serving the web test catalog."""
    import uvicorn

    from expgraph.web.app import create_app

    store = build(prepare(EmbeddedStore()))
    port = free_port()
    config = uvicorn.Config(create_app(store, load_settings(environ={})), host="127.0.0.1", port=port,
                            log_level="warning")
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not live.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    live.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser(chromium_path, shared_chromium):
    """Headless Chromium, one for the session (tests/browser_fixtures.py): each test has its own page."""
    return shared_chromium


@pytest.fixture
def page(browser):
    """A fresh page that records dialogs and console errors (a CSP violation is a console error)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.dialogs, tab.errors = [], []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    yield tab
    context.close()


def test_follow_a_failed_run_from_home(page, server) -> None:
    page.goto(server + "/")
    page.get_by_role("link", name="run r2").click()
    page.wait_for_url("**/run/r2")
    failure = page.locator("section.failure")
    assert OOM_ERROR in failure.locator("pre.error").inner_text()
    assert failure.locator(".failure-mode").inner_text() == "out of memory"
    assert page.locator("svg.lineage-graph").is_visible()
    assert page.errors == []


def test_search_by_error_message(page, server) -> None:
    page.goto(server + "/")
    box = page.get_by_role("searchbox", name="Search")
    box.fill("Tried to allocate 2.00 GiB")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    hits = page.locator("ol.hits > li")
    assert hits.count() == 2
    assert "run r2" in hits.first.inner_text() and "CUDA out of memory" in hits.first.inner_text()


def test_compare_two_runs(page, server) -> None:
    page.goto(server + "/runs?sort=name")
    page.get_by_role("checkbox", name="compare run r1").check()
    page.get_by_role("checkbox", name="compare run r3").check()
    page.get_by_role("button", name="Compare selected runs").click()
    page.wait_for_url("**/compare?*")
    table = page.locator("table.compare-grid.params")
    assert table.locator("thead th").count() == 3  # the names' column and one per run
    assert table.locator("tbody th").all_inner_texts() == ["lr"]  # only what differs; batch_size under "same"
    assert page.locator("table.compare-grid.metrics tbody tr:has(td.differs) th").all_inner_texts() == ["loss"]
    highlighted = table.locator("td.differs").first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert highlighted not in ("rgba(0, 0, 0, 0)", "transparent")


def test_hostile_names_and_params_render_as_text(page, server) -> None:
    page.goto(server + "/runs")
    page.get_by_role("link", name=HOSTILE_NAME).click()
    page.wait_for_url("**/run/r4")
    assert page.locator("h1").inner_text().startswith(HOSTILE_NAME)
    assert page.get_by_text(HOSTILE_PARAM).is_visible()
    assert page.locator("img[src=x]").count() == 0
    page.goto(server + "/search?q=onerror")
    assert page.get_by_text(HOSTILE_PARAM, exact=False).first.is_visible()
    assert page.dialogs == []


def test_swagger_ui_loads_from_local_files(page, server) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server + "/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=15000)
    assert "expgraph" in page.locator(".swagger-ui .info .title").inner_text()
    assert all(url.startswith(server) or url.startswith("data:") for url in requested), requested
