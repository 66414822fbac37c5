"""Serialising the active graphs: N-Quads under their logical names, other formats merged into one graph."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import pyoxigraph
from pyoxigraph import Quad, RdfFormat

from expgraph.namespaces import PREFIXES

if TYPE_CHECKING:
    from expgraph.store.base import Store

FORMATS: dict[str, RdfFormat] = {
    "nquads": RdfFormat.N_QUADS,
    "trig": RdfFormat.TRIG,
    "turtle": RdfFormat.TURTLE,
    "ntriples": RdfFormat.N_TRIPLES,
    "jsonld": RdfFormat.JSON_LD,
    "rdfxml": RdfFormat.RDF_XML,
}


def dump_graphs(store: Store, output: BinaryIO, rdf_format: str) -> int:
    """Write the catalog to ``output``; returns the number of statements written."""
    try:
        target = FORMATS[rdf_format]
    except KeyError:
        raise ValueError(f"unknown RDF format {rdf_format!r}; choose one of {', '.join(FORMATS)}") from None
    count = 0

    def quads() -> Iterator[Quad]:
        nonlocal count
        for name, info in sorted(store.active_graphs().items()):
            for triple in store.triples(info.name):
                count += 1
                yield Quad(triple.subject, triple.predicate, triple.object, pyoxigraph.NamedNode(name))

    if target.supports_datasets:
        pyoxigraph.serialize(quads(), output, target, prefixes=_prefixes(target))
    else:
        pyoxigraph.serialize((q.triple for q in quads()), output, target, prefixes=_prefixes(target))
    return count


def _prefixes(rdf_format: RdfFormat) -> dict[str, str] | None:
    return PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
