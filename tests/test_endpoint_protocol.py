"""/sparql against the Protocol and real clients: one query per request, the endpoint as base IRI, output writers
that stay parsable (control characters, CR), q=0 honoured, no links to non-http(s) IRIs, errors people can act on.
"""

from __future__ import annotations

import io
import json
import xml.dom.minidom
from pathlib import Path

import httpx
import pytest
import rdflib
from pyoxigraph import NamedNode, Triple
from SPARQLWrapper import JSON, XML, SPARQLWrapper

from expgraph.settings import Settings
from expgraph.sparql.guard import READ_ONLY
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.sparql import close_runner
from loopback import serve
from query_fixtures import fill
from test_cli_core import expgraph, one_error_line

#: A literal with ESC (which XML 1.0 cannot carry at all) and CR (which an XML parser turns into LF unless escaped).
ODD = 'SELECT ?x WHERE { BIND("a\\u001Bb\\rc" AS ?x) }'
ODD_GRAPH = 'CONSTRUCT { <urn:s> <urn:p> "a\\u001Bb\\rc" } WHERE {}'


@pytest.fixture(scope="module")
def endpoint(small_catalog_endpoint: str) -> str:
    """The app on a small in-memory catalog, served by uvicorn on loopback (one for the session: conftest.py)."""
    return small_catalog_endpoint


def test_two_query_parameters_are_a_400(endpoint):
    both = [("query", "ASK {}"), ("query", "SELECT * {}")]
    assert httpx.get(endpoint, params=both, timeout=60).status_code == 400
    response = httpx.post(endpoint, data={"query": ["ASK {}", "SELECT * {}"]}, timeout=60)
    assert response.status_code == 400 and "exactly one" in response.text


def test_relative_iris_resolve_against_the_endpoint(endpoint):
    response = httpx.get(endpoint, params={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"},
                         headers={"Accept": "application/n-triples"}, timeout=60)
    assert response.status_code == 200
    base = endpoint.rsplit("/", 1)[0]
    assert response.text.strip() == f'<{base}/s> <{base}/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .'


def test_xml_results_with_a_control_character_parse_and_keep_cr(endpoint):
    client = SPARQLWrapper(endpoint)
    client.setQuery(ODD)
    client.setReturnFormat(XML)
    document = client.query().convert()  # SPARQLWrapper parses the XML itself
    assert isinstance(document, xml.dom.minidom.Document)
    value = document.getElementsByTagName("literal")[0].firstChild.data
    assert value == "a\ufffdb\rc"
    client.setReturnFormat(JSON)  # JSON carries the exact text
    assert client.query().convert()["results"]["bindings"][0]["x"]["value"] == "a\x1bb\rc"


def test_rdf_xml_with_a_control_character_parses_and_keeps_cr(endpoint):
    response = httpx.get(endpoint, params={"query": ODD_GRAPH}, headers={"Accept": "application/rdf+xml"},
                         timeout=60)
    assert response.headers["content-type"].startswith("application/rdf+xml")
    graph = rdflib.Graph().parse(io.BytesIO(response.content), format="xml")
    assert [str(o) for o in graph.objects()] == ["a\ufffdb\rc"]


@pytest.mark.parametrize(("accept", "refused"), [
    ("application/sparql-results+xml;q=0", "xml"),
    ("*/*, application/sparql-results+xml;q=0", "xml"),
    ("application/sparql-results+json;q=0, text/csv;q=0.1", "json"),
    ("application/sparql-results+json;q=0", "json"),
])
def test_q_zero_refuses_a_type(endpoint, accept, refused):
    response = httpx.get(endpoint, params={"query": "ASK {}"}, headers={"Accept": accept}, timeout=60)
    assert response.status_code == 200 and refused not in response.headers["content-type"]


def test_result_tables_never_link_a_non_http_iri(endpoint):
    query = 'SELECT ?x WHERE { VALUES ?x { <javascript:alert(1)> <data:text/html,x> <https://example.org/a> } }'
    response = httpx.get(endpoint, params={"query": query}, headers={"Accept": "text/html"}, timeout=60)
    assert response.status_code == 200 and "javascript:alert(1)" in response.text
    assert 'href="javascript:' not in response.text and 'href="data:text' not in response.text
    assert "/resource?iri=https%3A%2F%2Fexample.org%2Fa" in response.text


@pytest.mark.parametrize(("query", "expected"), [
    ("SELECT * WHERE { ?s foo:bar ?o }", "unknown prefix foo:"),
    ("SELECT ?x (COUNT(?s) AS ?n) WHERE { ?s ?p ?o }", "SELECT names ?x"),
    ("SELECT ?p ?x (COUNT(?s) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p", "SELECT names ?x,"),
    ("DELETE WHERE { ?s ?p ?o }", READ_ONLY),
])
def test_errors_a_person_can_act_on_with_the_same_words_in_the_cli(endpoint, cli_store, query, expected):
    response = httpx.get(endpoint, params={"query": query}, timeout=60)
    assert response.status_code in (400, 403) and expected in response.text
    assert "expected one of" not in response.text
    line = one_error_line(expgraph("sparql", "--no-prefixes", query))
    assert expected in line and "expected one of" not in line


def test_a_syntax_error_names_the_line_and_column_as_sent(cli_store):
    line = one_error_line(expgraph("sparql", "--no-prefixes", "SELECT ?x WHERE {\n  ?x <a b> ?z }"))
    assert "not a valid IRI at line 2" in line
    line = one_error_line(expgraph("sparql", "--no-prefixes", "SELECT ?x WHERE {\n  ?x ?y"))
    assert "at the end of the query" in line


@pytest.fixture
def cli_store(cli, tmp_path: Path) -> Path:
    """The store the ``cli`` fixture points the CLI at, made to exist (read commands refuse a missing store)."""
    path = tmp_path / "cli-store"
    fill(EmbeddedStore(path)).close()
    return path


def _described_graphs(endpoint: str) -> set[str]:
    description = rdflib.Graph().parse(data=httpx.get(endpoint, timeout=60).text, format="turtle")
    return {str(name) for name in description.objects(None, rdflib.URIRef("http://www.w3.org/ns/sparql-service-description#name"))}


def _select(endpoint: str, query: str) -> list[dict]:
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(JSON)
    return client.query().convert()["results"]["bindings"]


def test_graphs_go_by_the_names_the_service_description_lists(endpoint):
    names = _described_graphs(endpoint)
    assert len(names) >= 2
    assert "https://w3id.org/expgraph/graph/imports" not in names  # the audit trail: not for anonymous visitors
    found = _select(endpoint, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert {row["g"]["value"] for row in found} == names  # no /version/ IRIs
    for name in names:
        rows = _select(endpoint, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}")
        same = _select(endpoint, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
                                 f"FILTER(?g = <{name}>) }}")
        assert int(rows[0]["n"]["value"]) > 0 and rows == same
    prefix, local = sorted(names)[0].rsplit("/", 1)
    rows = _select(endpoint, f"PREFIX gr: <{prefix}/> SELECT ?g WHERE {{ VALUES ?g {{ gr:{local} }} GRAPH ?g {{ }} }}")
    assert rows == [{"g": {"type": "uri", "value": f"{prefix}/{local}"}}]


def test_the_cli_names_graphs_as_the_endpoint_does(cli_store):
    result = expgraph("sparql", "--format", "json", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    found = {row["g"]["value"] for row in json.loads(result.stdout)["results"]["bindings"]}
    with EmbeddedStore(cli_store) as store:
        assert found == set(store.active_graphs()) and not any("/version/" in name for name in found)
        name = sorted(found)[0]
        expected = sum(1 for _ in store.triples(NamedNode(name)))
    result = expgraph("sparql", "--format", "csv", f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}")
    assert result.stdout.split() == ["n", str(expected)]


def test_saved_query_tables_never_link_a_non_http_iri():
    """A run whose IRI is ``javascript:`` (as a loaded RDF file may hold) is listed as text on /queries pages."""
    store = fill(EmbeddedStore())
    eg, hostile = "https://w3id.org/expgraph#", NamedNode("javascript:alert(1)")
    store.replace_graph(NamedNode("https://example.org/graph/hostile"), [
        Triple(hostile, NamedNode(eg + "lacks"), NamedNode("http://spdx.org/rdf/terms#Checksum")),
        Triple(hostile, NamedNode(eg + "inExperiment"), NamedNode("https://example.org/x")),
        Triple(NamedNode("https://example.org/x"), NamedNode(eg + "inProject"), NamedNode("https://example.org/p")),
    ])
    app = create_app(store, Settings({"query_timeout": 60, "max_concurrent_queries": 1}))
    with serve(app) as base:
        response = httpx.get(base + "/queries/runs-missing-provenance", timeout=60)
    close_runner(app)
    assert response.status_code == 200 and "javascript:alert(1)" in response.text
    assert 'href="javascript:' not in response.text
