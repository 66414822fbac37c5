"""The browser tests' costly parts, started once per session and shared by every browser test module: headless
Chromium (Debian's /usr/bin/chromium through Playwright) and the app serving the web test catalog on loopback.
Test modules reach them through their own ``browser`` and ``server`` fixtures (tests/test_web_browser.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def shared_chromium() -> Iterator:
    """One headless Chromium for the session (each test gets a fresh context and page)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def web_catalog_server() -> Iterator[str]:
    """The app on a free loopback port, serving the web test catalog (read only: the tests never write to it)."""
    import uvicorn

    from expgraph.catalog import prepare
    from expgraph.settings import load_settings
    from expgraph.store import EmbeddedStore
    from expgraph.web.app import create_app
    from loopback import free_port
    from web_data import build

    store = build(prepare(EmbeddedStore()))
    port = free_port()
    config = uvicorn.Config(create_app(store, load_settings(environ={})), host="127.0.0.1", port=port,
                            log_level="warning")
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not live.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)  # polling the server's own flag, not a sleep standing in for synchronisation
    yield f"http://127.0.0.1:{port}"
    live.should_exit = True
    thread.join(timeout=10)
    store.close()
