"""SPARQL results and graphs as bytes, with a row cap, in the formats :mod:`expgraph.formats` lists.

pyoxigraph serialises whole result sets only; the endpoint must stop at ``max_rows``, so the four W3C results
formats (JSON, XML, CSV, TSV) are written here from the solutions taken, and graphs go through pyoxigraph's own
serialiser once capped. Which format is chosen is up to :func:`expgraph.formats.negotiate`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph
from pyoxigraph import BlankNode, Literal, NamedNode, QueryBoolean, QuerySolutions, QueryTriples, RdfFormat

from expgraph.formats import GRAPH, RESULTS, by_media_type
from expgraph.namespaces import PREFIXES

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@dataclass(frozen=True)
class Serialized:
    body: bytes
    media_type: str
    truncated: bool = False
    rows: int = 0


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
    fmt = by_media_type(media_type, RESULTS)
    assert fmt is not None, media_type  # the caller negotiated among the results formats
    if isinstance(result, QueryBoolean):
        return Serialized(_boolean(bool(result), fmt.name), fmt.media_type, rows=1)
    variables = [v.value for v in result.variables]
    rows: list[list[object]] = []
    truncated = False
    for solution in result:
        if len(rows) == max_rows:
            truncated = True
            break
        rows.append([swap(solution[name]) for name in variables] if rename else [solution[name] for name in variables])
    body = _WRITERS[fmt.name](variables, rows)
    return Serialized(body, fmt.media_type, truncated, len(rows))


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
    chosen = by_media_type(media_type, GRAPH)
    assert chosen is not None and chosen.rdf is not None, media_type  # negotiated among the graph formats
    rdf_format = chosen.rdf
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


#: The SPARQL results writers, by the name of their format in :data:`expgraph.formats.FORMATS`.
_WRITERS: dict[str, Callable[[list[str], list[list[object]]], bytes]] = {"json": _json, "xml": _xml, "csv": _csv,
                                                                          "tsv": _tsv}
