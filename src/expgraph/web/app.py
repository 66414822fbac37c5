"""The one FastAPI app factory: catalog pages, the SPARQL endpoint and saved queries on one app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from expgraph import __version__
from expgraph.settings import Settings, load_settings
from expgraph.store import Store

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
TEMPLATES = WEB / "templates"


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """An app serving ``store``; the caller owns the store and closes it (see ``expgraph serve``)."""
    settings = settings or load_settings()
    app = FastAPI(
        title="expgraph",
        version=__version__,
        description="A knowledge-graph catalog of experiments, runs, datasets and negative results.",
        docs_url=None,  # Swagger UI is served from local files, never from a CDN
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    from expgraph.web.pages import install as install_catalog  # catalog pages, resource IRIs, CSP headers

    install_catalog(app)
    from expgraph.web import queries_routes, sparql  # /sparql endpoint and page; /queries library

    app.include_router(sparql.router)
    app.include_router(queries_routes.router)
    from expgraph.web.limits import RequestLimits  # 413 / 414 before any route reads the request

    app.add_middleware(RequestLimits, max_body=settings.max_body_kb * 1024, max_target=settings.max_url_length)
    from expgraph.team.api import install as install_team  # /api/v1 writes, tokens, audit (outermost gate)

    install_team(app)

    @app.get("/settings.json", include_in_schema=False)
    def settings_json() -> dict[str, object]:
        return settings.as_dict()

    return app
