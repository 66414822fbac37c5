"""A free TCP port on loopback, for the real servers the tests start (uvicorn, Oxigraph, MLflow)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # polling the server's own flag, not a sleep standing in for synchronisation
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def small_catalog_endpoint() -> Iterator[str]:
    """``/sparql`` of the app on the small in-memory test catalog, served on loopback with its query worker up."""
    import httpx

    from expgraph.settings import Settings
    from expgraph.store import EmbeddedStore
    from expgraph.web.app import create_app
    from expgraph.web.sparql import close_runner
    from query_fixtures import fill

    app = create_app(fill(EmbeddedStore()), Settings({"query_timeout": 60, "max_rows": 100,
                                                      "max_concurrent_queries": 1}))
    try:
        with serve(app) as base:
            httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=60)  # the worker is up
            yield base + "/sparql"
    finally:
        close_runner(app)
