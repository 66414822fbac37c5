"""``expgraph serve``: the catalog, the SPARQL endpoint and saved queries over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from expgraph.cli.common import CliError, err, state
from expgraph.settings import Settings
from expgraph.store import Store

HostOption = Annotated[str | None, typer.Option(help="Address to listen on (env EXPGRAPH_HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (env EXPGRAPH_PORT).")]


def run_server(store: Store, settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve ``store`` until interrupted; shared by ``serve`` and ``demo``. The caller closes the store."""
    import threading

    import uvicorn

    from expgraph.web.app import create_app
    from expgraph.web.sparql import close_runner
    from expgraph.web.warmup import warm_up

    given = {name: value for name, value in (("host", host), ("port", port)) if value is not None}
    if given:  # so that /settings.json shows the values in effect
        settings = Settings({**settings.values, **given},
                            {**settings.sources, **dict.fromkeys(given, "command line")})
    app = create_app(store, settings)
    host, port = settings.host, settings.port
    err.print(f"serving {store.location} at http://{host}:{port}/ (Ctrl+C to stop)", highlight=False)
    stop = threading.Event()
    warming = warm_up(app, stop)
    from expgraph.team.discovery import announced  # server.json: commands on this store go through the server

    try:
        with announced(getattr(store, "path", None), host, port):
            uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        close_runner(app)  # also ends a warm-up query in progress
        warming.join(5)


def serve(ctx: typer.Context, host: HostOption = None, port: PortOption = None) -> None:
    """Serve the HTML catalog, /sparql, /queries and the write API (/api/v1). The server owns an embedded store
    while it runs: other commands on the store go through it."""
    store = state(ctx).store()
    if getattr(store, "served", False):
        raise CliError(f"the store is served already by {store.location}")
    from expgraph.team.actions import recover

    swept = recover(store)  # leftovers of writes a crash cut short
    if swept:
        err.print(f"swept {len(swept)} leftovers of interrupted writes", highlight=False)
    run_server(store, state(ctx).settings, host, port)


def register(app: typer.Typer) -> None:
    app.command()(serve)
