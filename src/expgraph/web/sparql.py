"""``/sparql``: the SPARQL 1.1 Protocol endpoint (read-only, no outbound requests, time-limited) and its page.

GET ``?query=``, form POST and direct POST (``application/sparql-query``); ``default-graph-uri`` and
``named-graph-uri`` choose the dataset; results by content negotiation; a bare GET describes the service
(``sd:Service``: Turtle and the other RDF formats by negotiation, the query page for browsers). Unknown parameters
(SPARQLWrapper's ``format=``, ``output=``, ``results=``) are ignored. Queries run in the app's
:class:`~expgraph.sparql.runner.QueryRunner`: killable, ``max_concurrent_queries`` at a time, off the event loop.
"""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pyoxigraph import BlankNode, NamedNode, Triple
from starlette.concurrency import run_in_threadpool

from expgraph.formats import GRAPH, RESULTS, by_media_type, formats, media_types, negotiate
from expgraph.namespaces import RDF, SD, sparql_prologue
from expgraph.sparql.guard import READ_ONLY
from expgraph.sparql.runner import MB, QueryJob, QueryOutcome, QueryRunner, outcome_headers
from expgraph.store.scope import GraphScope
from expgraph.team.audit import hidden_graphs
from expgraph.web.render import href, templates
from expgraph.web.state import reader_of, state_of

router = APIRouter()
FORMATS = "http://www.w3.org/ns/formats/"
EXAMPLE = """SELECT ?project (COUNT(?run) AS ?runs) WHERE {
  ?run a eg:Run ; eg:inExperiment/eg:inProject/rdfs:label ?project .
} GROUP BY ?project ORDER BY DESC(?runs) LIMIT 20"""


def query_runner(app: FastAPI) -> QueryRunner:
    """The app's runner, started on first use (its workers live as long as the app; see :func:`close_runner`)."""
    return state_of(app).runner()


def close_runner(app: FastAPI) -> None:
    """Stop the app's query workers (tests, shutdown)."""
    state_of(app).close()


@router.get("/sparql", include_in_schema=True, summary="SPARQL 1.1 query (GET) or service description")
async def sparql_get(request: Request) -> Response:
    params = request.query_params
    if "update" in params:
        return _refuse_update()
    queries = params.getlist("query")
    if not queries:
        return await run_in_threadpool(_service_description, request)
    if len(queries) > 1:
        return _one_query_only()
    return await _answer(request, queries[0], params.getlist("default-graph-uri"), params.getlist("named-graph-uri"))


@router.post("/sparql", summary="SPARQL 1.1 query by form POST or direct POST")
async def sparql_post(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params = request.query_params
    if "query" in params or "update" in params:  # the Protocol: the operation goes in the body only
        return _text(400, "POST the query in the body (as the request body or the form's 'query' field), "
                          "not in the URL")
    defaults, named = params.getlist("default-graph-uri"), params.getlist("named-graph-uri")
    if content_type == "application/sparql-update":
        return _refuse_update()
    if content_type == "application/sparql-query":
        body = await request.body()
        try:
            query = body.decode("utf-8")
        except UnicodeDecodeError:
            return _text(400, "the query is not valid UTF-8")
        return await _answer(request, query, defaults, named)
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        if "update" in form:
            return _refuse_update()
        queries = form.getlist("query")
        if len(queries) > 1:
            return _one_query_only()
        query = queries[0] if queries else None
        if not isinstance(query, str):
            return _text(400, "missing 'query' parameter")
        defaults += [str(v) for v in form.getlist("default-graph-uri")]
        named += [str(v) for v in form.getlist("named-graph-uri")]
        return await _answer(request, query, defaults, named)
    return _text(415, "POST a query as application/sparql-query or as the 'query' field of a form "
                      "(application/x-www-form-urlencoded)")


def client_of(request: Request) -> str:
    """Who is asking, for the fair scheduling of queries: the peer's address, or behind a reverse proxy the
    address it names in the ``client_header`` setting (the last entry: the one the proxy itself added)."""
    header = state_of(request).settings.client_header
    if header and (named := request.headers.get(header, "").split(",")[-1].strip()):
        return named
    return request.client.host if request.client else "unknown"


def scope_of(request: Request) -> GraphScope:
    """The graphs the caller may read: the app state's ``scope`` less the graphs of the restricted projects the
    caller's token does not name (:meth:`WebState.scope_for`). Every query a route runs for a caller carries it
    (see :class:`~expgraph.store.GraphScope`); pages get it through :func:`~expgraph.web.state.reader_of`."""
    return reader_of(request).scope.hiding(hidden_graphs(  # the audit trail: not for readers and visitors
        getattr(request.state, "token", None)))


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=headers)


def _refuse_update() -> Response:
    return _text(403, f"this endpoint is {READ_ONLY}")


def _one_query_only() -> Response:
    return _text(400, "more than one 'query' parameter: the SPARQL 1.1 Protocol allows exactly one")


def endpoint_iri(request: Request) -> str:
    """The endpoint's own URL: the service's name, and the base IRI of the queries sent to it."""
    return str(request.url).split("?")[0]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    offered = [*media_types(RESULTS), *media_types(GRAPH), "text/html"]
    return negotiate(accept, offered) == "text/html" and "text/html" in accept


async def _answer(request: Request, query: str, defaults: list[str], named: list[str]) -> Response:
    settings = state_of(request).settings
    html = _wants_html(request)
    job = QueryJob(
        sparql=query,
        accept="application/sparql-results+json, text/turtle;q=0.9" if html else request.headers.get("accept"),
        default_graphs=tuple(defaults) if defaults or named else None,
        named_graphs=tuple(named) if defaults or named else None,
        max_rows=settings.max_rows,
        max_bytes=settings.max_result_mb * MB,
        base=endpoint_iri(request),
        scope=scope_of(request),
    )
    outcome = await query_runner(request.app).run_async(job, client=client_of(request))
    if html:
        return _page(request, query, outcome)
    headers = {"Vary": "Accept", **outcome_headers(outcome)}
    if outcome.truncated:
        headers["X-Expgraph-Truncated"] = f"results cut at max_rows={settings.max_rows}"
    if outcome.status != 200:
        return _text(outcome.status, outcome.message, headers)
    return Response(outcome.body, media_type=outcome.media_type, headers=headers)


def _page(request: Request, query: str | None, outcome: QueryOutcome | None) -> Response:
    """The query page: a textarea with the prefixes filled in, and the results as a table."""
    data: dict[str, Any] = {"query": query or sparql_prologue() + "\n" + EXAMPLE, "columns": [], "rows": [],
                            "error": None, "text": None, "boolean": None, "truncated": False}
    status = 200
    if outcome is not None:
        status = outcome.status
        if outcome.status != 200:
            data["error"] = outcome.message
        elif outcome.media_type.startswith("application/sparql-results+json"):
            parsed = json.loads(outcome.body)
            if "boolean" in parsed:
                data["boolean"] = parsed["boolean"]
            else:
                data["columns"] = parsed["head"]["vars"]
                data["rows"] = [[row.get(name) for name in data["columns"]] for row in parsed["results"]["bindings"]]
                for row in data["rows"]:
                    for cell in row:
                        if cell and cell["type"] == "uri":
                            cell["href"] = href(request, cell["value"])
        else:
            data["text"] = outcome.body.decode("utf-8", "replace")
        data["truncated"] = outcome.truncated
        data["seconds"] = round(outcome.seconds, 3)
    data["max_rows"] = state_of(request).settings.max_rows
    return templates.TemplateResponse(request, "sparql.html", {"data": data}, status_code=status)


def _service_description(request: Request) -> Response:
    accept = request.headers.get("accept", "")
    media_type = negotiate(accept, [*media_types(GRAPH), "text/html"])
    if media_type == "text/html" and "text/html" in accept:
        return _page(request, None, None)
    if media_type is None or media_type == "text/html":
        media_type = "text/turtle"
    endpoint = NamedNode(endpoint_iri(request))
    dataset, default = BlankNode(), BlankNode()
    triples = [
        Triple(endpoint, RDF.type, SD.Service),
        Triple(endpoint, SD.endpoint, endpoint),
        Triple(endpoint, SD.supportedLanguage, SD.SPARQL11Query),
        Triple(endpoint, SD.feature, SD.UnionDefaultGraph),
        Triple(endpoint, SD.defaultDataset, dataset),
        Triple(dataset, RDF.type, SD.Dataset),
        Triple(dataset, SD.defaultGraph, default),
        Triple(default, RDF.type, SD.Graph),
    ]
    triples += [Triple(endpoint, SD.resultFormat, NamedNode(FORMATS + f.w3c))
                for kind in (RESULTS, GRAPH) for f in formats(kind) if f.w3c]
    for name in sorted(state_of(request).store.visible_graphs(scope_of(request))):
        node = BlankNode()
        triples += [Triple(dataset, SD.namedGraph, node), Triple(node, RDF.type, SD.NamedGraph),
                    Triple(node, SD.name, NamedNode(name))]
    chosen = by_media_type(media_type, GRAPH)
    assert chosen is not None and chosen.rdf is not None
    rdf_format = chosen.rdf
    body = pyoxigraph.serialize(triples, format=rdf_format, prefixes={"sd": str(SD)} if media_type == "text/turtle"
                                else None)
    return Response(body, media_type=rdf_format.media_type, headers={"Vary": "Accept"})
