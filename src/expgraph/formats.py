"""Every RDF and SPARQL results format expgraph reads or writes, listed once, and the one content negotiator.

The CLI (``load``, ``export``, ``sparql``), the store's export, the ``/sparql`` endpoint, the saved-query downloads
and the resource pages all pick formats from :data:`FORMATS`: a format's name (what the CLI calls it), its kind
(a ``graph`` of triples, a ``dataset`` of quads, or SPARQL ``results``), its file suffixes, its media types (the first
is the one we answer with, the others are accepted aliases), its pyoxigraph format, and its name under
``http://www.w3.org/ns/formats/`` (for the service description). The SPARQL results writers, which stop at a row
cap, are in :mod:`expgraph.sparql.formats`, keyed by the format's name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pyoxigraph import QueryResultsFormat, RdfFormat

GRAPH, DATASET, RESULTS = "graph", "dataset", "results"
#: What a browser's page or its JSON twin is asked for with; resource URLs answer these unless RDF is preferred.
PAGE_TYPES = ("text/html", "application/xhtml+xml", "application/json")


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # GRAPH, DATASET or RESULTS
    media_types: tuple[str, ...]  # the first is what responses say; the others are accepted aliases
    suffixes: tuple[str, ...] = ()
    rdf: RdfFormat | None = None
    results: QueryResultsFormat | None = None
    w3c: str | None = None  # the name under http://www.w3.org/ns/formats/
    text: bool = False  # UTF-8 text whose media type takes a charset parameter in our responses

    @property
    def media_type(self) -> str:
        return self.media_types[0]

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` of a resource's RDF in this format."""
        return f"{self.media_type}; charset=utf-8" if self.text else self.media_type


#: In this order: export lists its choices so, and the first graph and results formats are the defaults.
FORMATS: tuple[Format, ...] = (
    Format("nquads", DATASET, ("application/n-quads",), (".nq",), rdf=RdfFormat.N_QUADS, w3c="N-Quads", text=True),
    Format("trig", DATASET, ("application/trig",), (".trig",), rdf=RdfFormat.TRIG, w3c="TriG", text=True),
    Format("turtle", GRAPH, ("text/turtle", "application/x-turtle"), (".ttl", ".turtle"), rdf=RdfFormat.TURTLE,
           w3c="Turtle", text=True),
    Format("ntriples", GRAPH, ("application/n-triples", "text/plain"), (".nt",), rdf=RdfFormat.N_TRIPLES,
           w3c="N-Triples", text=True),
    Format("jsonld", GRAPH, ("application/ld+json",), (".jsonld", ".json"), rdf=RdfFormat.JSON_LD, w3c="JSON-LD"),
    Format("rdfxml", GRAPH, ("application/rdf+xml",), (".rdf", ".owl"), rdf=RdfFormat.RDF_XML, w3c="RDF_XML"),
    Format("json", RESULTS, ("application/sparql-results+json", "application/json"), (".json", ".srj"),
           results=QueryResultsFormat.JSON, w3c="SPARQL_Results_JSON"),
    Format("xml", RESULTS, ("application/sparql-results+xml", "application/xml", "text/xml"), (".srx",),
           results=QueryResultsFormat.XML, w3c="SPARQL_Results_XML"),
    Format("csv", RESULTS, ("text/csv",), (".csv",), results=QueryResultsFormat.CSV, w3c="SPARQL_Results_CSV"),
    Format("tsv", RESULTS, ("text/tab-separated-values",), (".tsv",), results=QueryResultsFormat.TSV,
           w3c="SPARQL_Results_TSV"),
)
#: The RDF forms of a resource page, in the order its ``<link rel="alternate">`` lists them (``.ttl`` etc.).
RESOURCE_FORMATS: tuple[Format, ...] = tuple(f for name in ("turtle", "jsonld", "ntriples")
                                             for f in FORMATS if f.name == name)


def formats(*kinds: str) -> list[Format]:
    """The formats of these kinds, in registry order."""
    return [f for f in FORMATS if f.kind in kinds]


def by_name(name: str, *kinds: str) -> Format | None:
    return next((f for f in formats(*kinds) if f.name == name), None)


def by_media_type(media_type: str, *kinds: str) -> Format | None:
    """The format a media type (or alias) stands for, without parameters and in any case."""
    media_type = media_type.split(";")[0].strip().lower()
    return next((f for f in formats(*kinds) if media_type in f.media_types), None)


def by_suffix(suffix: str, *kinds: str) -> Format | None:
    suffix = suffix.lower()
    return next((f for f in formats(*kinds) if suffix in f.suffixes), None)


def suffixes(*kinds: str) -> dict[str, Format]:
    """Each file suffix of these kinds and its format."""
    return {suffix: f for f in formats(*kinds) for suffix in f.suffixes}


def media_types(*kinds: str) -> list[str]:
    """What a negotiation offers for these kinds: every format's own media type first (the first is the default),
    then the aliases."""
    chosen = formats(*kinds)
    return [f.media_type for f in chosen] + [alias for f in chosen for alias in f.media_types[1:]]


# -- content negotiation -------------------------------------------------------------------------------------------


def negotiate(accept: str | None, offered: Iterable[str], *, preferred: Collection[str] = ()) -> str | None:
    """The offered media type the ``Accept`` header likes best, or None when it accepts none of them.

    Each offered type takes the q of the most specific range naming it (RFC 9110, 12.5.1), so ``*/*, x/y;q=0``
    refuses x/y; q=0 never chooses. Ties go to the higher q, then exact types over wildcards, then the
    ``preferred`` types (a resource URL prefers its page to its RDF forms), then the earlier header entry, then the
    first offered.
    """
    offered = list(offered)
    if not accept or not accept.strip():
        return offered[0]
    best, best_key = None, None
    for index, candidate in enumerate(offered):
        q, specificity, position = _preference(accept, candidate)
        if q <= 0:
            continue
        key = (q, specificity, candidate in preferred, -position, -index)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best


def acceptable_default(accept: str | None, offered: Iterable[str]) -> str:
    """:func:`negotiate`'s choice, else the first offered type the header does not refuse with q=0 (clients such as
    rdflib's ``SPARQLStore`` ask for results formats even for CONSTRUCT, and read the Content-Type they get)."""
    offered = list(offered)
    chosen = negotiate(accept, offered)
    if chosen is not None:
        return chosen

    def refused(candidate: str) -> bool:
        q, _, position = _preference(accept or "", candidate)
        return position >= 0 and q <= 0

    return next((candidate for candidate in offered if not refused(candidate)), offered[0])


def preferred_rdf(accept: str) -> Format | None:
    """The RDF form of a resource the ``Accept`` header prefers to its page (HTML or its JSON twin), if any."""
    choice = negotiate(accept, [*PAGE_TYPES, *(f.media_type for f in RESOURCE_FORMATS)], preferred=PAGE_TYPES)
    return by_media_type(choice, GRAPH) if choice is not None and choice not in PAGE_TYPES else None


def _preference(accept: str, media_type: str) -> tuple[float, int, int]:
    """(q, specificity, header position) of the most specific range matching ``media_type``; position -1 and q 0
    when no range matches."""
    found: tuple[int, int, float] | None = None  # (specificity, -position, q)
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media, q = pieces[0].lower(), 1.0
        for parameter in pieces[1:]:
            if parameter.replace(" ", "").lower().startswith("q="):
                try:
                    q = float(parameter.split("=", 1)[1])
                except ValueError:
                    q = 0.0
        if not _matches(media, media_type):
            continue
        specificity = 0 if media in ("*/*", "*") else 1 if media.endswith("/*") else 2
        if found is None or (specificity, -position) > found[:2]:
            found = (specificity, -position, q)
    if found is None:
        return 0.0, -1, -1
    return found[2], found[0], -found[1]


def _matches(pattern: str, media: str) -> bool:
    if pattern in ("*/*", "*"):
        return True
    if pattern.endswith("/*"):
        return media.startswith(pattern[:-1])
    return pattern == media
