"""/sparql against a live uvicorn server on a loopback port, with real clients: SPARQLWrapper, rdflib, httpx."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyoxigraph
import pytest
import rdflib
import uvicorn
from pyoxigraph import NamedNode, Triple
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, POST, POSTDIRECTLY, TSV, SPARQLWrapper

from expgraph import resources
from expgraph.catalog import prepare
from expgraph.namespaces import EG, RDF, RDFS
from expgraph.settings import Settings
from expgraph.sparql.runner import QueryJob, QueryRunner
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.queries_routes import library, saved_job
from expgraph.web.sparql import close_runner, query_runner
from expgraph.web.state import state_of
from expgraph.web.warmup import warm_up
from loopback import free_port
from query_fixtures import fill

TIMEOUT = 3.0
MAX_ROWS = 50
COUNT_RUNS = "PREFIX eg: <https://w3id.org/expgraph#> SELECT (COUNT(?r) AS ?n) WHERE { ?r a eg:Run }"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # ~10^10 rows: never finishes
VOCAB = "https://w3id.org/expgraph/graph/vocab/failure-mode"



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, EmbeddedStore]]:
    """The app on an on-disk store (workers open it read-only), served by uvicorn in a thread."""
    store = fill(prepare(EmbeddedStore(Path(tmp_path_factory.mktemp("endpoint")) / "store")))
    settings = Settings({"query_timeout": TIMEOUT, "max_rows": MAX_ROWS, "max_concurrent_queries": 2})
    app = create_app(store, settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}/sparql"
    httpx.get(url, params={"query": "ASK {}"}, timeout=30)  # warm the workers up
    yield url, store
    server.should_exit = True
    thread.join(10)
    close_runner(app)
    store.close()


def _parse(data: bytes, rdflib_format: str) -> rdflib.Graph:
    """rdflib's parsers, except JSON-LD (rdflib's warns about its own ConjunctiveGraph): pyoxigraph's, via N-Triples."""
    if rdflib_format == "json-ld":
        data = pyoxigraph.serialize(pyoxigraph.parse(data, pyoxigraph.RdfFormat.JSON_LD),
                                    format=pyoxigraph.RdfFormat.N_QUADS)
        rdflib_format = "nt"
    return rdflib.Graph().parse(data=data, format=rdflib_format)


def vocabulary_concepts() -> int:
    """Concepts in the shipped failure-mode vocabulary, counted from the file itself."""
    graph = rdflib.Graph().parse(resources.data_dir("ontology") / "vocab" / "failure-mode.ttl")
    return len(set(graph.subjects(rdflib.RDF.type, rdflib.SKOS.Concept)))


def runs_in(store: EmbeddedStore) -> int:
    return int(store.select(COUNT_RUNS)[0]["n"].value)


# -- real clients --------------------------------------------------------------------------------------------------


def test_sparqlwrapper_default_xml(server):
    url, store = server
    client = SPARQLWrapper(url)
    client.setQuery(COUNT_RUNS)
    document = client.query().convert()  # XML by default: a DOM document
    values = [node.firstChild.data for node in document.getElementsByTagName("literal")]
    assert values == [str(runs_in(store))] == ["6"]


@pytest.mark.parametrize("method", [None, POST, POSTDIRECTLY])
def test_sparqlwrapper_json_by_get_form_post_and_direct_post(server, method):
    url, _ = server
    client = SPARQLWrapper(url)
    client.setQuery(COUNT_RUNS)
    client.setReturnFormat(JSON)
    if method == POSTDIRECTLY:
        client.setMethod(POST)
        client.setRequestMethod(POSTDIRECTLY)
    elif method:
        client.setMethod(method)
    result = client.query().convert()
    assert result["results"]["bindings"][0]["n"]["value"] == "6"


@pytest.mark.parametrize(("fmt", "expected"), [(CSV, b"n\r\n6\r\n"), (TSV, b"?n\n\"6\"^^<http://www.w3.org/2001/XMLSchema#integer>\n")])
def test_sparqlwrapper_csv_tsv(server, fmt, expected):
    client = SPARQLWrapper(server[0])
    client.setQuery(COUNT_RUNS)
    client.setReturnFormat(fmt)
    assert client.query().convert() == expected


def test_rdflib_sparqlstore_select_and_construct(server):
    graph = rdflib.Graph(store=SPARQLStore(server[0], returnFormat="json"))
    rows = list(graph.query("SELECT ?label WHERE { ?r a <https://w3id.org/expgraph#Run> ; "
                            "<http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?label"))
    assert [str(row[0]) for row in rows] == ["a1", "a2", "a3", "a4", "b1", "b2"]
    built = graph.query("CONSTRUCT { ?r a <urn:x:Run> } WHERE { ?r a <https://w3id.org/expgraph#Run> }")
    assert len(built.graph) == 6


# -- protocol ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "rdflib_format"), [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml")])
def test_construct_in_each_rdf_format(server, accept, rdflib_format):
    query = "CONSTRUCT { ?r <urn:x:label> ?l } WHERE { ?r a <https://w3id.org/expgraph#Run> ; " \
            "<http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    response = httpx.get(server[0], params={"query": query}, headers={"Accept": accept}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    assert sorted(str(o) for o in _parse(response.content, rdflib_format).objects()) == [
        "a1", "a2", "a3", "a4", "b1", "b2"]


@pytest.mark.parametrize(("accept", "start"), [
    ("application/sparql-results+json", b"{"), ("application/sparql-results+xml", b"<?xml"),
    ("text/csv", b"n\r\n"), ("text/tab-separated-values", b"?n\n"), ("*/*", b"{")])
def test_results_by_content_negotiation(server, accept, start):
    response = httpx.get(server[0], params={"query": COUNT_RUNS}, headers={"Accept": accept}, timeout=30)
    assert response.status_code == 200 and response.content.startswith(start)


def test_unacceptable_type_gets_the_default_format(server):
    response = httpx.get(server[0], params={"query": COUNT_RUNS}, headers={"Accept": "image/png"}, timeout=30)
    assert response.headers["content-type"].startswith("application/sparql-results+json")


def test_service_description_on_bare_get(server):
    response = httpx.get(server[0], timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (rdflib.URIRef(server[0]), rdflib.RDF.type, sd.Service) in graph
    assert rdflib.URIRef(VOCAB) in set(graph.objects(None, sd.name))
    as_jsonld = httpx.get(server[0], headers={"Accept": "application/ld+json"}, timeout=30)
    assert len(_parse(as_jsonld.content, "json-ld")) == len(graph)
    page = httpx.get(server[0], headers={"Accept": "text/html,*/*;q=0.8"}, timeout=30)
    assert "<textarea" in page.text and "PREFIX eg: &lt;https://w3id.org/expgraph#&gt;" in page.text


def test_default_and_named_graph_uri(server):
    url = server[0]
    concepts = "SELECT (COUNT(?c) AS ?n) WHERE { ?c a <http://www.w3.org/2004/02/skos/core#Concept> }"
    everything = httpx.get(url, params={"query": concepts}, timeout=30).json()
    only = httpx.get(url, params={"query": concepts, "default-graph-uri": VOCAB}, timeout=30).json()
    assert int(only["results"]["bindings"][0]["n"]["value"]) == vocabulary_concepts()
    assert int(everything["results"]["bindings"][0]["n"]["value"]) > vocabulary_concepts()
    named = httpx.get(url, params={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
                                   "named-graph-uri": VOCAB}, timeout=30).json()
    in_default = httpx.get(url, params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                                        "default-graph-uri": VOCAB}, timeout=30).json()
    assert named["results"]["bindings"][0]["n"] == in_default["results"]["bindings"][0]["n"]
    form = httpx.post(url, data={"query": concepts, "default-graph-uri": VOCAB}, timeout=30).json()
    assert form == only
    unknown = httpx.get(url, params={"query": concepts, "default-graph-uri": "http://example.org/remote"}, timeout=30)
    assert unknown.status_code == 400 and "not in this store" in unknown.text


def test_extra_parameters_are_ignored(server):
    response = httpx.get(server[0], params={"query": COUNT_RUNS, "format": "xml", "output": "xml", "results": "xml",
                                            "timeout": "0"}, headers={"Accept": "text/csv"}, timeout=30)
    assert response.status_code == 200 and response.text == "n\r\n6\r\n"


def test_malformed_query_is_400_with_the_parsers_message(server):
    response = httpx.get(server[0], params={"query": "SELECT ?x WHERE { ?x ?y "}, timeout=30)
    assert response.status_code == 400
    assert "malformed query" in response.text and "at the end of the query" in response.text


@pytest.mark.parametrize("request_kind", ["get", "form-query", "form-update", "direct-update"])
def test_updates_are_forbidden(server, request_kind):
    url, store = server
    update = "DELETE WHERE { ?s ?p ?o }"
    if request_kind == "get":
        response = httpx.get(url, params={"query": update}, timeout=30)
    elif request_kind == "form-query":
        response = httpx.post(url, data={"query": update}, timeout=30)
    elif request_kind == "form-update":
        response = httpx.post(url, data={"update": update}, timeout=30)
    else:
        response = httpx.post(url, content=update, headers={"Content-Type": "application/sparql-update"}, timeout=30)
    assert response.status_code == 403 and "read-only" in response.text
    assert runs_in(store) == 6


@pytest.mark.parametrize(("query", "message"), [
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * WHERE { OPTIONAL { SERVICE SILENT <http://example.org/> { ?s ?p ?o } } }", "SERVICE"),
    ("LOAD <http://example.org/data.ttl>", "LOAD"),
    ("SELECT * FROM <http://example.org/remote.ttl> WHERE { ?s ?p ?o }", "not in this store"),
    ("SELECT * FROM NAMED <http://example.org/remote.ttl> WHERE { GRAPH ?g { ?s ?p ?o } }", "not in this store"),
])
def test_outbound_requests_are_refused(server, query, message):
    response = httpx.get(server[0], params={"query": query}, timeout=30)
    assert response.status_code == 400 and message in response.text


def test_from_a_local_graph_is_allowed(server):
    query = f"SELECT (COUNT(?c) AS ?n) FROM <{VOCAB}> WHERE {{ ?c a <http://www.w3.org/2004/02/skos/core#Concept> }}"
    response = httpx.get(server[0], params={"query": query}, headers={"Accept": "text/csv"}, timeout=30)
    assert response.text == f"n\r\n{vocabulary_concepts()}\r\n"


def test_row_cap(server):
    response = httpx.get(server[0], params={"query": "SELECT * WHERE { ?s ?p ?o }"}, timeout=30)
    assert len(response.json()["results"]["bindings"]) == MAX_ROWS
    assert "max_rows" in response.headers["x-expgraph-truncated"]


def test_workers_see_writes_made_by_the_server(server):
    url, store = server
    graph = NamedNode("https://example.org/extra")
    store.replace_graph(graph, [Triple(NamedNode("https://example.org/r"), RDFS.label, EG.marker)])
    try:
        query = "ASK { <https://example.org/r> ?p ?o }"
        assert httpx.get(url, params={"query": query}, timeout=30).json()["boolean"] is True
    finally:
        store.drop(graph)
    assert httpx.get(url, params={"query": query}, timeout=30).json()["boolean"] is False


def test_a_repeated_query_is_answered_from_the_cache_until_the_store_changes(tmp_path: Path) -> None:
    store = fill(prepare(EmbeddedStore(tmp_path / "store")))
    runner = QueryRunner(store, size=1, timeout=30)
    job = QueryJob(COUNT_RUNS, accept="application/sparql-results+json")
    try:
        first, second = runner.run(job), runner.run(job)
        assert (first.cached, second.cached) == (False, True) and first.body == second.body
        before = int(json.loads(first.body)["results"]["bindings"][0]["n"]["value"])
        store.replace_graph(NamedNode("https://example.org/extra"), [Triple(NamedNode("https://example.org/r"),
                                                                          RDF.type, EG.Run)])
        third = runner.run(job)
        assert not third.cached
        assert int(json.loads(third.body)["results"]["bindings"][0]["n"]["value"]) == before + 1
    finally:
        runner.close()
        store.close()


def test_workers_outlive_the_thread_that_started_the_runner(tmp_path: Path) -> None:
    # The server starts its runner on first use, often on the warm-up thread, which then ends. Workers die with
    # the thread that spawned them (Linux's parent-death signal is per thread): they must not be spawned there.
    store = fill(prepare(EmbeddedStore(tmp_path / "store")))
    made: list[QueryRunner] = []

    def start() -> None:  # as the warm-up does: start the runner, use both workers, end
        runner = QueryRunner(store, size=2, timeout=30)
        made.append(runner)
        with ThreadPoolExecutor(2) as pool:
            jobs = [QueryJob(f"ASK {{ ?s ?p ?o }} # warm {i}") for i in range(2)]
            assert [outcome.status for outcome in pool.map(runner.run, jobs)] == [200, 200]

    starter = threading.Thread(target=start)
    starter.start()
    starter.join()
    runner = made[0]
    try:
        time.sleep(1.0)  # time for the kernel's signal to land, were the workers tied to that thread
        for i in range(4):  # both workers, and a fresh text each time so that nothing comes from the cache
            outcome = runner.run(QueryJob(f"ASK {{ ?s ?p ?o }} # {i}", accept="application/sparql-results+json"))
            assert outcome.status == 200, outcome.message
    finally:
        runner.close()
        store.close()


def test_the_server_warms_its_caches_up_in_the_background(tmp_path: Path) -> None:
    store = fill(prepare(EmbeddedStore(tmp_path / "store")))
    app = create_app(store, Settings({"max_concurrent_queries": 1}))
    try:
        warm_up(app).join(60)
        settings, runner = state_of(app).settings, query_runner(app)
        saved = library()["failures-by-mode"]
        outcome = runner.run(saved_job(saved.bind({}), settings))
        assert outcome.status == 200 and outcome.cached
    finally:
        close_runner(app)
        store.close()


def test_timeout_stops_a_heavy_query_while_a_light_one_answers(server):
    url = server[0]
    other_client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30)
    with ThreadPoolExecutor(2) as pool, other_client:
        started = time.monotonic()
        heavy = pool.submit(httpx.get, url, params={"query": HEAVY}, timeout=60)
        time.sleep(0.3)
        light = other_client.get(url, params={"query": COUNT_RUNS}, headers={"Accept": "text/csv"})
        light_before_heavy = not heavy.done()
        heavy_response = heavy.result()
        heavy_seconds = time.monotonic() - started
    assert light.text == "n\r\n6\r\n" and light_before_heavy
    assert heavy_response.status_code == 503 and "limit" in heavy_response.text
    assert TIMEOUT <= heavy_seconds < TIMEOUT + 5
    again = httpx.get(url, params={"query": COUNT_RUNS}, headers={"Accept": "text/csv"}, timeout=30)
    assert again.text == "n\r\n6\r\n"  # the killed worker was replaced


def test_html_results_page(server):
    response = httpx.post(server[0], data={"query": "SELECT ?label WHERE { ?r a <https://w3id.org/expgraph#Run> ; "
                                                    "<http://www.w3.org/2000/01/rdf-schema#label> ?label }"},
                          headers={"Accept": "text/html"}, timeout=30)
    assert response.status_code == 200 and "<table" in response.text and ">b2<" in response.text
    bad = httpx.post(server[0], data={"query": "SELECT <script>"}, headers={"Accept": "text/html"}, timeout=30)
    assert bad.status_code == 400 and "<script>" not in bad.text.split("<main>")[1]


# -- saved queries on the web --------------------------------------------------------------------------------------


def test_saved_queries_web_and_api(server):
    base = server[0].removesuffix("/sparql")
    listed = httpx.get(base + "/queries", params={"format": "json"}, timeout=30).json()
    assert {"failures-by-mode", "already-failed"} <= {q["name"] for q in listed["queries"]}
    data = httpx.get(base + "/queries/failure-causes", params={"mode": "out-of-memory", "format": "json"},
                     timeout=30).json()
    assert data["rows"] == [{"mode": "out-of-memory", "cause": "gpu-memory-management", "results": "2"}]
    csv = httpx.get(base + "/queries/failure-causes", params={"mode": "out-of-memory", "format": "csv"}, timeout=30)
    assert csv.text.splitlines() == ["mode,cause,results", "out-of-memory,gpu-memory-management,2"]
    assert "attachment" in csv.headers["content-disposition"]
    page = httpx.get(base + "/queries/failures-by-mode", timeout=30)
    assert page.status_code == 200 and "<svg" in page.text and "resource exhaustion" in page.text
    bad = httpx.get(base + "/queries/failures-by-mode", params={"project": "x\"><script>"}, timeout=30)
    assert bad.status_code == 400 and "<script>" not in bad.text
    missing = httpx.get(base + "/queries/no-such-query", timeout=30)
    assert missing.status_code == 404
    assert json.loads(io.BytesIO(httpx.get(base + "/queries/failures-by-mode", params={"format": "srj"},
                                           timeout=30).content).read())["head"]["vars"][0] == "project"
