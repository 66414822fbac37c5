"""What the SPARQL editor on ``/sparql`` completes: ``/editor/terms`` gives the standard prefixes and the classes,
properties and concepts the catalog declares (its ontology, the alignment with PROV, DCAT, ML Schema..., its SKOS
vocabularies), each with its label, so a user writes ``eg:Run`` without looking it up.

Declared terms rather than every predicate in use: listing the used ones scans every statement (16.7M at 100k
runs), while the declarations are a few index seeks. Kept per store generation: a ``load`` of a project's own
vocabulary shows up at once.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pyoxigraph import NamedNode, QuerySolutions

from expgraph.namespaces import PREFIXES
from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.web.reading import PROLOGUE
from expgraph.web.state import reader_of

router = APIRouter()

#: Declared terms by kind, with an English (or untagged) label or SKOS preferred label when they have one.
DECLARED = SparqlTemplate.parse(PROLOGUE + """SELECT ?term ?kind (SAMPLE(?name) AS ?label) WHERE {
  VALUES (?type ?kind) { (owl:Class "class") (rdfs:Class "class") (owl:ObjectProperty "property")
    (owl:DatatypeProperty "property") (owl:AnnotationProperty "property") (rdf:Property "property")
    (skos:Concept "concept") }
  ?term a ?type FILTER(isIRI(?term))
  OPTIONAL { ?term rdfs:label|skos:prefLabel ?name FILTER(lang(?name) = "" || langMatches(lang(?name), "en")) }
} GROUP BY ?term ?kind ORDER BY ?term""")


#: Terms of RDF, RDFS, OWL and XSD every query uses, which the store does not declare.
BASICS = {"property": ("rdf:type", "rdfs:label", "rdfs:comment", "rdfs:subClassOf", "rdfs:subPropertyOf",
                       "rdfs:seeAlso", "owl:sameAs"),
          "datatype": ("xsd:string", "xsd:double", "xsd:integer", "xsd:boolean", "xsd:dateTime", "xsd:date")}


class TermCache:
    """The editor's terms, read once per store generation."""

    def __init__(self) -> None:
        self._key: tuple[str, ...] | None = None
        self._terms: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, store: Store) -> dict[str, Any]:
        key = store.generation()
        with self._lock:
            if key == self._key:
                return self._terms
        terms = editor_terms(store)
        with self._lock:
            self._key, self._terms = key, terms
        return terms


CACHE = TermCache()


def editor_terms(store: Store) -> dict[str, Any]:
    """``prefixes`` (name to namespace) and ``terms`` (``{"name": "eg:Run", "iri", "kind", "label"}``) for every
    declared term under one of those namespaces, shortest namespace match last so ``eg:`` wins over a broader one."""
    result = store.query(DECLARED.text)
    assert isinstance(result, QuerySolutions)
    namespaces = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))
    terms, seen = [], set()
    for term, kind, label in result:
        if not isinstance(term, NamedNode) or (term.value, kind.value) in seen:
            continue
        seen.add((term.value, kind.value))
        for prefix, namespace in namespaces:
            local = term.value[len(namespace):]
            if term.value.startswith(namespace) and local and _is_local_name(local):
                terms.append({"name": f"{prefix}:{local}", "iri": term.value, "kind": kind.value,
                              "label": label.value if label is not None else None})
                break
    for kind, names in BASICS.items():
        for name in names:
            if name not in {t["name"] for t in terms}:
                prefix, local = name.split(":")
                terms.append({"name": name, "iri": PREFIXES[prefix] + local, "kind": kind, "label": None})
    return {"prefixes": dict(PREFIXES), "terms": terms}


def _is_local_name(local: str) -> bool:
    """A local part the editor can write after ``prefix:`` as is (letters, digits, ``_``, ``-``, ``.`` inside)."""
    return all(c.isalnum() or c in "_-." for c in local) and not local.endswith(".")


@router.get("/editor/terms", summary="Prefixes and declared terms for the SPARQL editor's completion")
def terms(request: Request) -> JSONResponse:
    return JSONResponse(CACHE.get(reader_of(request).store))
