"""The one FastAPI app factory: catalog pages, resource pages, the SPARQL endpoint and saved queries on one app.

The app's state is one :class:`~expgraph.web.state.WebState` (store, settings, query runner, caches) at
``app.state.web``; every route reaches it through :func:`~expgraph.web.state.state_of`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from expgraph._version import __version__
from expgraph.settings import Settings, load_settings
from expgraph.store import Store

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
TEMPLATES = WEB / "templates"


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """An app serving ``store``; the caller owns the store and closes it (see ``expgraph serve``)."""
    from expgraph.web import pages, queries_routes, rdf, sparql
    from expgraph.web.middleware import RequestLimits, SecurityHeaders
    from expgraph.web.state import WebState
    from expgraph.web.terms import BadRequest

    settings = settings or load_settings()
    app = FastAPI(
        title="expgraph",
        version=__version__,
        description="A knowledge-graph catalog of experiments, runs, datasets and negative results.",
        docs_url=None,  # Swagger UI is served from local files, never from a CDN
        redoc_url=None,
    )
    app.state.web = WebState(store, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)  # home, lists, search, compare, lineage, vocabulary, docs
    app.include_router(rdf.router)  # resource pages and their RDF: /id/..., /resource
    app.include_router(sparql.router)  # the /sparql endpoint and page
    app.include_router(queries_routes.router)  # the /queries library
    from expgraph.web import charts, dashboards, editor  # chart data; /dashboard; the SPARQL editor's terms

    app.include_router(charts.router)
    app.include_router(dashboards.router)
    app.include_router(editor.router)
    from expgraph.web import history_page  # /history: a source graph's versions and what changed

    app.include_router(history_page.router)
    app.add_exception_handler(BadRequest, pages.bad_request)
    app.add_middleware(SecurityHeaders)
    # added last, so it runs first: 413 / 414 before any route (or header) is looked at
    app.add_middleware(RequestLimits, max_body=settings.max_body_kb * 1024, max_target=settings.max_url_length)
    from expgraph.team.server import install as install_team  # /api/v1 writes, tokens, audit (outermost gate)

    install_team(app)
    return app
