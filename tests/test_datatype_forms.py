"""The compiled ``sh:datatype`` test selects exactly the terms the plain definition selects, on pyoxigraph.

On a store with exact casts the compiler avoids ``datatype(?v)`` for the common datatypes (see
``_datatype_violation``; Virtuoso gets the definition, see test_servers); the plain form is
"not a literal, or another datatype, or (for a datatype SPARQL can cast to) a lexical form the cast refuses". Both
run over the same pyoxigraph store, so literals it rewrites on the way in (``"01"^^xsd:integer``, ``xsd:int``)
are compared as stored.
"""

from __future__ import annotations

import itertools

import pyoxigraph as ox
import pytest
from rdflib.namespace import RDF, XSD

from expgraph.validation.compiler import _CASTABLE, _datatype_violation

TEXTS = [
    "1", "01", "+1", "-1", " 1 ", "1.0", "1.5", "-0", "0", "-0.0", "1E0", "1e400", "1.0E-400", "NaN", "INF",
    "-INF", "+INF", "nan", "abc", "", "true", "false", "TRUE", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05",
    "2024-01-02T03:04:05.000+01:00", "2024-01-02", "2024-01-02Z", "2024-13-02", "24:00:00", "03:04:05",
    "03:04:05.5Z", "P1Y", "P1Y2M3DT4H5M6S", "PT0S", "-P1D", "P", "PT1.5S", "99999999999999999999999", "0x10",
]
OTHER_DATATYPES = [XSD.int, XSD.byte, XSD.anyURI, XSD.gYear, XSD.dayTimeDuration, XSD.yearMonthDuration,
                   XSD.dateTimeStamp, XSD.normalizedString, XSD.token, RDF.HTML, "urn:example:custom"]
TESTED = sorted({*_CASTABLE, XSD.string, XSD.anyURI, XSD.gYear})


@pytest.fixture(scope="module")
def terms() -> ox.Store:
    """One value per subject: every text under every datatype, plain and tagged strings, an IRI, a blank node."""
    store = ox.Store()
    values = [ox.Literal(text, datatype=ox.NamedNode(str(datatype)))
              for text, datatype in itertools.product(TEXTS, [*_CASTABLE, XSD.string, *OTHER_DATATYPES])]
    values += [ox.Literal(text) for text in TEXTS] + [ox.Literal(text, language="en") for text in TEXTS[:5]]
    values += [ox.NamedNode("urn:example:x"), ox.NamedNode(str(XSD.double)), ox.BlankNode("b")]
    for i, value in enumerate(values):
        store.add(ox.Quad(ox.NamedNode(f"urn:example:s{i}"), ox.NamedNode("urn:example:p"), value))
    return store


def selected(store: ox.Store, condition: str) -> set[str]:
    rows = store.query(f"SELECT ?v WHERE {{ ?s <urn:example:p> ?v FILTER({condition}) }}")
    return {str(row["v"]) for row in rows}


@pytest.mark.parametrize("datatype", TESTED, ids=lambda d: d.rsplit("#", 1)[-1])
def test_compiled_datatype_test_selects_what_the_definition_selects(terms: ox.Store, datatype) -> None:
    plain = f"!isLiteral(?v) || datatype(?v) != <{datatype}>"
    if datatype in _CASTABLE:
        plain += f' || sameTerm(COALESCE(<{datatype}>(STR(?v)), "ill"), "ill")'
    expected = selected(terms, plain)
    assert selected(terms, _datatype_violation(datatype, "?v", exact_casts=True)) == expected
    assert 0 < len(expected) < len(selected(terms, "true"))  # the battery holds conforming and violating values
