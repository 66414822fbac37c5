"""Data builders shared by the catalog pages: each page is one plain dict, rendered as HTML or returned as JSON.

User values reach SPARQL only as RDF terms in a ``VALUES`` block built with :func:`sparql_term` (pyoxigraph's
N-Triples form escapes them), never as text spliced into a query. ``VALUES`` rather than pyoxigraph
``substitutions`` because substitutions bind only projected variables and remote stores have none.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from pyoxigraph import Literal, NamedNode, QuerySolutions

from expgraph.namespaces import GRAPHS, XSD, sparql_prologue
from expgraph.store import Store
from expgraph.store.base import Term, sparql_term

PROLOGUE = sparql_prologue()
QUALITY_GRAPH = GRAPHS + "quality"
IMPORTS = (GRAPHS + "imports", GRAPHS + "registry")
FAILED = ("failed", "killed")
_NUMERIC = {XSD.double.value, XSD.integer.value, XSD.float.value, XSD.decimal.value}
_CACHE_SIZE = 256


class BadRequest(ValueError):
    """A request parameter the page cannot use; shown to the user as a 400."""


def values_block(terms: Mapping[str, Term | list[Term]]) -> str:
    """``VALUES`` clauses binding each variable to one term (or a list of alternatives)."""
    parts = []
    for name, term in terms.items():
        options = term if isinstance(term, list) else [term]
        parts.append(f"VALUES ?{name} {{ {' '.join(sparql_term(t) for t in options)} }}")
    return " ".join(parts)


def select(store: Store, body: str, *, graphs: list[NamedNode] | None = None,
           **terms: Term | list[Term]) -> list[dict[str, Term]]:
    """Rows of a SELECT whose ``WHERE {`` gets the bound terms as its first pattern; over ``graphs`` if given."""
    head, sep, tail = body.partition("WHERE {")
    if not sep:
        raise ValueError("query needs a WHERE clause")
    result = store.query(PROLOGUE + head + sep + " " + values_block(terms) + " " + tail, graphs=graphs)
    if not isinstance(result, QuerySolutions):
        raise ValueError("select() needs a SELECT query")
    names = [variable.value for variable in result.variables]
    # zip over the row rather than row[name]: pyoxigraph's lookup by name costs about 1 us a value, 3-5x as much
    return [{name: term for name, term in zip(names, row, strict=True) if term is not None} for row in result]


def own_graphs(store: Store, iri: NamedNode | list[NamedNode]) -> list[NamedNode] | None:
    """The graphs describing a resource (its import source) plus the shipped and computed ones (vocabularies,
    ontology, quality), or None (all graphs) when it is in none.

    Why: a node every source shares (a parameter, a measure) has its label stated once per source, so a pattern
    through it over all graphs returns each row once per source; over the resource's own graphs, once.
    """
    bound = values_block({"s": iri if isinstance(iri, list) else [iri]})
    rows = store.query(f"SELECT DISTINCT ?g WHERE {{ {bound} GRAPH ?g {{ ?s ?p ?o }} }}")
    assert isinstance(rows, QuerySolutions)
    return graphs_of(store, [row["g"] for row in rows])


def graphs_of(store: Store, versions: list[Term]) -> list[NamedNode] | None:
    """The logical graphs whose active versions are ``versions`` (from a ``GRAPH ?g`` pattern) plus the shipped
    and computed ones, or None when there are none (see :func:`own_graphs`)."""
    active = store.active_graphs()
    by_version = {info.version.value: info.name for info in active.values()}
    own = [by_version[g.value] for g in versions if g.value in by_version]
    if not own:
        return None
    furniture = [info.name for name, info in active.items() if name.startswith(GRAPHS) and name not in IMPORTS]
    return list(dict.fromkeys(own + furniture))


class QueryCache:
    """Results of heavy aggregate queries, valid while the store's active graph versions stay the same."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, list[dict[str, Term]]] = OrderedDict()
        self._lock = threading.Lock()  # pages are built on several threads: an eviction must not race a read

    def select(self, store: Store, body: str, **terms: Term | list[Term]) -> list[dict[str, Term]]:
        versions = tuple(sorted(info.version.value for info in store.active_graphs().values()))
        key = (id(store), versions, body, tuple(sorted((k, str(v)) for k, v in terms.items())))
        with self._lock:
            rows = self._entries.get(key)
            if rows is not None:
                self._entries.move_to_end(key)
                return rows
        rows = select(store, body, **terms)
        with self._lock:
            self._entries[key] = rows
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return rows


CACHE = QueryCache()


def plain(term: Term | None) -> Any:
    """A JSON-ready value: IRIs as strings, numbers as numbers (NaN and infinities as their XSD spelling)."""
    if term is None:
        return None
    if isinstance(term, Literal):
        if term.datatype.value in _NUMERIC:
            try:
                number = float(term.value) if term.datatype != XSD.integer else int(term.value)
            except ValueError:
                return term.value
            return number if not (isinstance(number, float) and not math.isfinite(number)) else term.value
        if term.datatype == XSD.boolean:
            return term.value == "true"
        return term.value
    return term.value


def node(row: Mapping[str, Term], var: str, label_var: str | None = None) -> dict[str, Any] | None:
    """``{"iri", "label"}`` for a row's IRI variable, the label falling back to the IRI's last segment."""
    term = row.get(var)
    if term is None:
        return None
    label = row.get(label_var or f"{var}Label")
    return {"iri": term.value, "label": label.value if label is not None else short(term.value)}


def short(iri: str) -> str:
    from urllib.parse import unquote

    tail = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return unquote(tail) or iri


def iri_term(value: str, what: str = "IRI") -> NamedNode:
    """A user-given IRI as a term; anything that is not a plain absolute IRI is a bad request."""
    if not value.startswith(("http://", "https://", "urn:")):
        raise BadRequest(f"{what} must be an absolute http(s) or urn IRI, got {value[:80]!r}")
    try:
        term = NamedNode(value)
        sparql_term(term)
    except Exception:
        raise BadRequest(f"{what} is not a valid IRI: {value[:80]!r}") from None
    return term


def has_quality(store: Store) -> bool:
    return QUALITY_GRAPH in store.active_graphs()
