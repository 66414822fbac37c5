"""SPARQL results and graphs as bytes, with a row cap, and content negotiation between the standard formats.

pyoxigraph serialises whole result sets only; the endpoint must stop at ``max_rows``, so the four W3C results
formats (JSON, XML, CSV, TSV) are written here from the solutions taken, and graphs go through pyoxigraph's own
serialiser once capped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph
from pyoxigraph import BlankNode, Literal, NamedNode, QueryBoolean, QuerySolutions, QueryTriples, RdfFormat

from expgraph.namespaces import PREFIXES

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

#: Results formats for SELECT and ASK, by media type (first is the default).
RESULT_TYPES: dict[str, str] = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
}
#: RDF formats for CONSTRUCT and DESCRIBE, by media type (first is the default).
GRAPH_TYPES: dict[str, RdfFormat] = {
    "text/turtle": RdfFormat.TURTLE,
    "application/n-triples": RdfFormat.N_TRIPLES,
    "application/ld+json": RdfFormat.JSON_LD,
    "application/rdf+xml": RdfFormat.RDF_XML,
    "application/x-turtle": RdfFormat.TURTLE,
    "text/plain": RdfFormat.N_TRIPLES,
}
_CANONICAL = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
              "csv": "text/csv", "tsv": "text/tab-separated-values"}


@dataclass(frozen=True)
class Serialized:
    body: bytes
    media_type: str
    truncated: bool = False
    rows: int = 0


def negotiate(accept: str | None, offered: Iterable[str]) -> str | None:
    """The offered media type the ``Accept`` header likes best, or None when it accepts none of them.

    Each offered type takes the q of the most specific range naming it (RFC 9110, 12.5.1), so ``*/*, x/y;q=0``
    refuses x/y; q=0 never chooses. Ties go to the higher q, then exact types over wildcards, then the earlier
    header entry, then the first offered.
    """
    offered = list(offered)
    if not accept or not accept.strip():
        return offered[0]
    best, best_key = None, None
    for index, candidate in enumerate(offered):
        q, specificity, position = _preference(accept, candidate)
        if q <= 0:
            continue
        key = (q, specificity, -position, -index)
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


def serialize(result: QuerySolutions | QueryBoolean | QueryTriples, media_type: str, max_rows: int,
              rename: Mapping[str, NamedNode] | None = None) -> Serialized:
    """Write a result in the given (negotiated) media type, taking at most ``max_rows`` rows or triples.

    ``rename`` maps IRIs to the IRIs to show instead (a graph version to its logical name)."""
    swap = _renamer(rename)
    if isinstance(result, QueryTriples):
        triples = []
        for triple in result:
            if len(triples) == max_rows:
                return _graph(triples, media_type, truncated=True)
            triples.append(pyoxigraph.Triple(*map(swap, triple)) if rename else triple)
        return _graph(triples, media_type, truncated=False)
    fmt = RESULT_TYPES[media_type]
    if isinstance(result, QueryBoolean):
        return Serialized(_boolean(bool(result), fmt), _CANONICAL[fmt], rows=1)
    variables = [v.value for v in result.variables]
    rows: list[list[object]] = []
    truncated = False
    for solution in result:
        if len(rows) == max_rows:
            truncated = True
            break
        rows.append([swap(solution[name]) for name in variables] if rename else [solution[name] for name in variables])
    body = {"json": _json, "xml": _xml, "csv": _csv, "tsv": _tsv}[fmt](variables, rows)
    return Serialized(body, _CANONICAL[fmt], truncated, len(rows))


def _renamer(rename: Mapping[str, NamedNode] | None) -> Callable[[Any], Any]:
    def swap(term: Any) -> Any:
        return rename.get(term.value, term) if rename and isinstance(term, NamedNode) else term

    return swap


def rename_result(result: QuerySolutions | QueryBoolean | QueryTriples,
                  rename: Mapping[str, NamedNode]) -> QuerySolutions | QueryBoolean | QueryTriples:
    """The whole result again with IRIs renamed, as pyoxigraph objects (for printers that take those)."""
    if isinstance(result, QueryBoolean) or not rename:
        return result
    if isinstance(result, QueryTriples):
        store = pyoxigraph.Store()
        store.extend(pyoxigraph.Quad(*map(_renamer(rename), triple)) for triple in result)
        return store.query("CONSTRUCT WHERE { ?s ?p ?o }")  # type: ignore[return-value]
    body = serialize(result, "application/sparql-results+json", max_rows=2**62, rename=rename).body
    return pyoxigraph.parse_query_results(body, pyoxigraph.QueryResultsFormat.JSON)  # type: ignore[return-value]


def _graph(triples: list[pyoxigraph.Triple], media_type: str, truncated: bool) -> Serialized:
    rdf_format = GRAPH_TYPES[media_type]
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.RDF_XML) else None
    if rdf_format is RdfFormat.RDF_XML:
        triples = [_xml_safe(triple) for triple in triples]
    body = pyoxigraph.serialize(triples, format=rdf_format, prefixes=prefixes) or b""
    if rdf_format is RdfFormat.RDF_XML:  # pyoxigraph writes CR raw; only literals can hold one
        body = body.replace(b"\r", b"&#13;")
    return Serialized(body, rdf_format.media_type, truncated, len(triples))


def _xml_safe(triple: pyoxigraph.Triple) -> pyoxigraph.Triple:
    """The triple with characters XML 1.0 cannot carry in its literal replaced by U+FFFD (see :func:`xml_text`)."""
    value = triple.object
    if not isinstance(value, Literal) or not _NOT_XML.search(value.value):
        return triple
    text = _NOT_XML.sub("\ufffd", value.value)
    replaced = (Literal(text, language=value.language) if value.language
                else Literal(text, datatype=value.datatype))
    return pyoxigraph.Triple(triple.subject, triple.predicate, replaced)


def _boolean(value: bool, fmt: str) -> bytes:
    word = "true" if value else "false"
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt == "xml":
        return (f'<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{word}</boolean></sparql>\n").encode()
    return f"{'_askResult' if fmt == 'csv' else '?_askResult'}\r\n{word}\r\n".encode()


def term_json(term: object) -> dict[str, str]:
    """One term in the SPARQL 1.1 JSON results form."""
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "literal", "value": str(term)}  # RDF-star triples: not in SPARQL 1.1, shown as text


def _json(variables: list[str], rows: list[list[object]]) -> bytes:
    bindings = [{name: term_json(term) for name, term in zip(variables, row, strict=True) if term is not None}
                for row in rows]
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                      ensure_ascii=False).encode()


#: Characters XML 1.0 cannot carry at all, not even as references (section 2.2): written as U+FFFD instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text for XML: markup escaped, CR kept as ``&#13;`` (a parser would turn a raw one into LF), and characters
    XML 1.0 cannot carry replaced by U+FFFD, so the document always parses; JSON, CSV and TSV keep the exact text."""
    return _NOT_XML.sub("\ufffd", escape(value)).replace("\r", "&#13;")


def _xml_term(term: object) -> str:
    if isinstance(term, NamedNode):
        return f"<uri>{xml_text(term.value)}</uri>"
    if isinstance(term, BlankNode):
        return f"<bnode>{xml_text(term.value)}</bnode>"
    if isinstance(term, Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{xml_text(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{xml_text(term.value)}</literal>"
        return f"<literal>{xml_text(term.value)}</literal>"
    return f"<literal>{xml_text(str(term))}</literal>"


def _xml(variables: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    out.write('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>')
    out.write("".join(f"<variable name={quoteattr(name)}/>" for name in variables))
    out.write("</head>\n<results>\n")
    for row in rows:
        out.write("<result>")
        for name, term in zip(variables, row, strict=True):
            if term is not None:
                out.write(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
        out.write("</result>\n")
    out.write("</results>\n</sparql>\n")
    return out.getvalue().encode()


def _csv(variables: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow(["" if t is None else f"_:{t.value}" if isinstance(t, BlankNode) else getattr(t, "value", t)
                         for t in row])
    return out.getvalue().encode()


def _tsv(variables: list[str], rows: list[list[object]]) -> bytes:
    lines = ["\t".join(f"?{name}" for name in variables)]
    lines += ["\t".join("" if term is None else str(term) for term in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()
