"""Catalog routes: home, lists, search, compare, lineage, vocabulary, API docs; and the security headers.

Routes are thin: parse the request, call a data builder, hand the dict to :func:`respond`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expgraph.store import Store
from expgraph.web import compare as compare_view
from expgraph.web import home as home_view
from expgraph.web import lineage as lineage_view
from expgraph.web import search as search_view
from expgraph.web.lists import SPECS, list_page
from expgraph.web.rdf import router as rdf_router
from expgraph.web.render import respond, templates, wants_json
from expgraph.web.views import BadRequest, iri_term

router = APIRouter()

#: Scripts and styles only from this server; no inline script, no framing, no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
MAX_COMPARE = 50


def store_of(request: Request) -> Store:
    return request.app.state.store


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return respond(request, "home.html", home_view.home(store_of(request)))


def _list_route(name: str):
    def route(request: Request) -> Response:
        data = list_page(store_of(request), SPECS[name], dict(request.query_params))
        return respond(request, "list.html", data)

    route.__name__ = f"list_{name}"
    route.__doc__ = f"{SPECS[name].title}, with facets, sorting and keyset pagination (``?format=json``)."
    return route


for _name in SPECS:
    router.add_api_route(f"/{_name}", _list_route(_name), methods=["GET"], summary=f"List {_name}")


@router.get("/search", summary="Full-text search")
def search(request: Request, q: str = "") -> Response:
    """Labels, descriptions, error texts, lessons learned and parameter values containing ``q``."""
    return respond(request, "search.html", search_view.search(store_of(request), q))


@router.get("/compare", summary="Compare runs")
def compare(request: Request, run: list[str] = Query(default=[])) -> Response:
    """Parameters and metrics of the given runs side by side, differences marked."""
    if len(run) > MAX_COMPARE:
        raise BadRequest(f"compare at most {MAX_COMPARE} runs at once")
    terms = [iri_term(r, "run") for r in dict.fromkeys(run)]
    return respond(request, "compare.html", compare_view.compare(store_of(request), terms))


@router.get("/lineage", summary="Provenance neighbourhood")
def lineage(request: Request, iri: str) -> Response:
    return respond(request, "lineage.html", lineage_view.lineage(store_of(request), iri_term(iri)))


@router.get("/vocab", summary="SKOS vocabularies")
def vocab(request: Request) -> Response:
    return respond(request, "vocab.html", search_view.vocab(store_of(request)))


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI from vendored files (static/vendor/swagger-ui), never from a CDN."""
    return templates.TemplateResponse(request, "docs.html", {})


def _bad_request(request: Request, error: Exception) -> Response:
    data = {"error": str(error)}
    if wants_json(request):
        return JSONResponse(data, status_code=400)
    return respond(request, "error.html", data, status=400)


def install(app: FastAPI) -> None:
    """Add the catalog's routes, its error page and the security headers to the app."""
    app.include_router(router)
    app.include_router(rdf_router)
    app.add_exception_handler(BadRequest, _bad_request)

    app.add_middleware(SecurityHeaders)


_SECURITY_HEADERS = ((b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                     (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"))


class SecurityHeaders:
    """Adds the security headers a response does not set itself. Plain ASGI rather than ``@app.middleware``,
    whose request/response wrapping cost about 0.4 ms per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
