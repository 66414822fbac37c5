"""Dereferenceable resources: one URL answers HTML, Turtle, JSON-LD and N-Triples by content negotiation.

IRIs minted under ``settings.base_iri`` are served at ``/id/{rest}`` (the raw, still percent-encoded path, so
``a%2Fb`` and ``a/b`` stay different resources); any other IRI at ``/resource?iri=...``, and so are minted IRIs
whose rest a URL path would not carry unchanged (a ``.`` or ``..`` segment, ``?``, ``#``, spaces, non-ASCII): links
to them are made by ``render.resource_url``. A ``.ttl``, ``.nt`` or ``.jsonld`` suffix picks a format when the
IRI without it is a known resource and the IRI with it is not.
The RDF view is the resource's own statements plus those of the nodes minted under its IRI (its parameter
settings, metric values, checksums, hypothesis).
"""

from __future__ import annotations

import pyoxigraph
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pyoxigraph import NamedNode, RdfFormat

from expgraph.formats import RESOURCE_FORMATS, Format, preferred_rdf
from expgraph.namespaces import PREFIXES, RDF
from expgraph.store import Store
from expgraph.team.audit import in_trail, may_read_trail
from expgraph.team.retired import retirement
from expgraph.web import lineage, resources, result_page, run_page
from expgraph.web.reading import query, select
from expgraph.web.render import resource_url, respond
from expgraph.web.state import reader_of, state_of
from expgraph.web.terms import iri_term

router = APIRouter()

#: A resource URL's format suffixes (``.ttl``, ``.jsonld``, ``.nt``) and the formats they pick.
SUFFIXES: dict[str, Format] = {f.suffixes[0]: f for f in RESOURCE_FORMATS}
_TEMPLATES = {"run": "run.html", "experiment": "experiment.html", "dataset": "dataset.html",
              "concept": "concept.html", "result": "result.html"}
_BUILDERS = {"experiment": resources.experiment, "dataset": resources.dataset,
             "concept": resources.concept}


_DESCRIBE = query("""SELECT ?x ?p ?o WHERE {
  { #@s
    ?s ?p ?o BIND(?s AS ?x) }
  UNION { #@s
    ?s ?link ?x . FILTER(isIRI(?x) && STRSTARTS(STR(?x), CONCAT(STR(?s), "/"))) ?x ?p ?o } }""")


def describe(store: Store, iri: NamedNode) -> list[pyoxigraph.Triple]:
    """The resource's statements and those of the nodes minted under its IRI."""
    rows = select(store, _DESCRIBE, s=iri)
    triples = {pyoxigraph.Triple(r["x"], r["p"], r["o"]) for r in rows}
    return sorted(triples, key=str)


def rdf_response(store: Store, iri: NamedNode, chosen: Format) -> Response:
    assert chosen.rdf is not None
    body = pyoxigraph.serialize(describe(store, iri), format=chosen.rdf,
                                **({"prefixes": PREFIXES} if chosen.rdf == RdfFormat.TURTLE else {}))
    return Response(body, media_type=chosen.content_type, headers={"Vary": "Accept"})


def _unknown(request: Request, iri: NamedNode) -> Response:
    data = {"error": f"no resource {iri.value} in this catalog", "iri": iri.value}
    return respond(request, "error.html", data, status=404)


def show(request: Request, iri: NamedNode, media: Format | None) -> Response:
    """The resource as RDF (in format ``media``) or as its page; 404 when the store knows nothing about it."""
    reader = reader_of(request)
    store: Store = reader.store
    if in_trail(reader.settings.base_iri, iri) and not may_read_trail(getattr(request.state, "token", None)):
        return _unknown(request, iri)  # as the audit graph is hidden from them on /sparql
    # The resource's statements once: its types tell the page family, and a run's page is built from them.
    statements = select(store, run_page.STATEMENTS, s=iri)
    types = {row["o"].value for row in statements if row["p"] == RDF.type}
    kind, known = resources.kind_of(store, iri, types if statements else None)
    if not known:
        return _unknown(request, iri)
    if media:
        return rdf_response(store, iri, media)
    if kind == "run":
        data = run_page.run(store, iri, statements, reader.spec_labels)
    elif kind == "result":
        data = result_page.result(store, iri, statements)
    else:
        data = _BUILDERS[kind](store, iri) if kind in _BUILDERS else resources.generic(store, iri)
    if kind in ("run", "experiment", "dataset", "result") or kind == "snapshot":
        data["lineage"] = lineage.lineage(store, iri)
    data["retired"] = retirement(store, iri)  # still resolvable, and saying so: why, by whom, when
    return respond(request, _TEMPLATES.get(kind or "", "resource.html"), data)


@router.get("/id/{path:path}", summary="A minted resource (HTML, JSON, Turtle, JSON-LD, N-Triples)")
def minted(request: Request, path: str) -> Response:
    raw = request.scope.get("raw_path", request.url.path.encode()).decode("ascii", "replace")
    rest = raw.split("/id/", 1)[1] if "/id/" in raw else path
    base = state_of(request).settings.base_iri
    iri = iri_term(base + rest)
    media = preferred_rdf(request.headers.get("accept", ""))
    for suffix, suffix_media in SUFFIXES.items():
        if rest.endswith(suffix):
            stripped = iri_term(base + rest[: -len(suffix)])
            store: Store = reader_of(request).store
            if not resources.kind_of(store, iri)[1] and resources.kind_of(store, stripped)[1]:
                return show(request, stripped, suffix_media)
    return show(request, iri, media)


@router.get("/resource", summary="Any resource by IRI (HTML, JSON, Turtle, JSON-LD, N-Triples)")
def resource(request: Request, iri: str, format: str | None = None) -> Response:
    term = iri_term(iri)
    url = resource_url(state_of(request).settings.base_iri, term.value)
    if url.startswith("/id/") and format is None:
        return RedirectResponse(url, status_code=303)
    media = SUFFIXES.get(f".{format}") if format else None
    return show(request, term, media or preferred_rdf(request.headers.get("accept", "")))
