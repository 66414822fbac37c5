"""``expgraph serve``: the catalog, the SPARQL endpoint and saved queries over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from expgraph.cli.common import err, state


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (env EXPGRAPH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (env EXPGRAPH_PORT).")] = None,
) -> None:
    """Serve the HTML catalog, /sparql and /queries. The server owns an embedded store while it runs."""
    import uvicorn

    from expgraph.web.app import create_app

    settings = state(ctx).settings
    app = create_app(state(ctx).store(), settings)
    host = host or settings.host
    port = port or settings.port
    err.print(f"serving {state(ctx).store().location} at http://{host}:{port}/ (Ctrl+C to stop)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
