"""Catalog routes: home, lists, search, compare, lineage, vocabulary, API docs, settings.

Routes are thin: parse the request, call a page builder (each returns one plain dict), hand the dict to
:func:`~expgraph.web.render.respond`, which renders it as HTML or returns it as JSON. The builders live in their
own modules (:mod:`~expgraph.web.home`, :mod:`~expgraph.web.lists`, :mod:`~expgraph.web.search`,
:mod:`~expgraph.web.resources`, :mod:`~expgraph.web.lineage`) and never see the request.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from expgraph.team.retired import included
from expgraph.web import compare as compare_view
from expgraph.web import home as home_view
from expgraph.web import lineage as lineage_view
from expgraph.web import search as search_view
from expgraph.web.list_pages import SPECS, list_csv, list_page
from expgraph.web.render import respond, templates
from expgraph.web.state import reader_of, state_of
from expgraph.web.terms import BadRequest, iri_term

router = APIRouter()
MAX_COMPARE = 50


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return respond(request, "home.html", home_view.home(reader_of(request)))


def _list_route(name: str):
    def route(request: Request) -> Response:
        repeated = {key: request.query_params.getlist(key) for key in ("col", "where")}
        data = list_page(reader_of(request), SPECS[name], dict(request.query_params), repeated)
        status = 400 if data.get("errors") else 200
        if request.query_params.get("format") == "csv" and status == 200:
            return Response(list_csv(data), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return respond(request, "list.html", data, status=status)

    route.__name__ = f"list_{name}"
    route.__doc__ = (f"{SPECS[name].title}, with facets, sorting and keyset pagination (``?format=json``, "
                     "``?format=csv``); runs also with metric and parameter columns and value filters.")
    return route


for _name in SPECS:
    router.add_api_route(f"/{_name}", _list_route(_name), methods=["GET"], summary=f"List {_name}")


@router.get("/search", summary="Full-text search")
def search(request: Request, q: str = "") -> Response:
    """Labels, descriptions, error texts, lessons learned and parameter values containing ``q``; retired things
    with ``?include=retired``."""
    reader = reader_of(request)
    data = search_view.search(reader.store, reader.search, q, included(request.query_params))
    return respond(request, "search.html", data)


@router.get("/compare", summary="Compare runs")
def compare(request: Request, run: list[str] = Query(default=[])) -> Response:
    """Parameters and metrics of the given runs side by side, differences marked."""
    if len(run) > MAX_COMPARE:
        raise BadRequest(f"compare at most {MAX_COMPARE} runs at once")
    terms = [iri_term(r, "run") for r in dict.fromkeys(run)]
    return respond(request, "compare.html", compare_view.compare(reader_of(request).store, terms))


@router.get("/lineage", summary="Provenance neighbourhood")
def lineage(request: Request, iri: str) -> Response:
    return respond(request, "lineage.html", lineage_view.lineage(reader_of(request).store, iri_term(iri)))


@router.get("/vocab", summary="SKOS vocabularies")
def vocab(request: Request) -> Response:
    return respond(request, "vocab.html", search_view.vocab(reader_of(request).store))


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> Response:
    """Swagger UI from vendored files (static/vendor/swagger-ui), never from a CDN. HTML only: the page has no
    data of its own (its data is ``/openapi.json``), so it has no JSON twin."""
    return templates.TemplateResponse(request, "docs.html", {})


@router.get("/settings.json", include_in_schema=False)
def settings_json(request: Request) -> dict[str, object]:
    """The settings in effect, as data only (there is no page for them)."""
    return state_of(request).settings.as_dict()


def bad_request(request: Request, error: Exception) -> Response:
    """A :class:`BadRequest` from any route: the error page, or its JSON twin, with status 400."""
    return respond(request, "error.html", {"error": str(error)}, status=400)
