"""The store's public read API: queries scoped to the graphs a caller may read, and read-only snapshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Triple

from expgraph.namespaces import RDFS, Namespace
from expgraph.sparql.cache import ResultCache
from expgraph.sparql.execute import QueryJob, execute
from expgraph.store import EmbeddedStore, GraphScope, Store
from expgraph.store.scope import EVERYTHING
from expgraph.web.state import state_of

EX = Namespace("https://example.org/")
OPEN = NamedNode("https://example.org/graph/open")
PRIVATE = NamedNode("https://example.org/graph/private")
HIDE = GraphScope(frozenset({PRIVATE.value}))
SRC = Path(__file__).resolve().parents[1] / "src" / "expgraph"


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = EmbeddedStore() if request.param == "memory" else EmbeddedStore(tmp_path / "store")
    opened.replace_graph(OPEN, [Triple(EX.a, RDFS.label, Literal("open"))])
    opened.replace_graph(PRIVATE, [Triple(EX.b, RDFS.label, Literal("private"))])
    yield opened
    opened.close()


def labels(rows: list[dict]) -> set[str]:
    return {row["label"].value for row in rows}


def test_a_scope_hides_graphs_from_every_kind_of_read(store: Store) -> None:
    everything = "SELECT ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    in_graphs = "SELECT ?label WHERE { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } }"
    assert labels(store.select(everything)) == {"open", "private"}
    assert labels(store.select(everything, scope=HIDE)) == {"open"}
    assert labels(store.select(in_graphs, scope=HIDE)) == {"open"}
    # naming the hidden graph, by its logical name or its version, reaches nothing
    version = store.active_graphs()[PRIVATE.value].version
    assert labels(store.select(everything, graphs=[PRIVATE], scope=HIDE)) == set()
    assert labels(store.select(everything, graphs=[version], scope=HIDE)) == set()
    assert labels(store.select(everything, graphs=[PRIVATE])) == {"private"}
    assert set(store.visible_graphs(HIDE)) == {OPEN.value}
    assert version.value not in store.version_names(HIDE)
    # a hidden graph's name is not rewritten to its version, so GRAPH <name> finds nothing
    named = f"SELECT ?label WHERE {{ GRAPH <{PRIVATE.value}> {{ ?s ?p ?label }} }}"
    assert labels(store.select(store.scoped(named, HIDE), scope=HIDE)) == set()
    assert labels(store.select(store.scoped(named))) == {"private"}


def test_select_binds_and_narrows_to_graphs(store: Store) -> None:
    query = "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    assert labels(store.select(query, s=EX.b)) == {"private"}
    assert labels(store.select(query, graphs=[OPEN])) == {"open"}
    assert labels(store.select(query, graphs=[OPEN], s=EX.b)) == set()


def test_the_endpoint_runs_a_job_within_its_scope(store: Store) -> None:
    job = QueryJob("SELECT ?label WHERE { ?s ?p ?label }", accept="text/csv", scope=HIDE)
    outcome = execute(store, job)
    assert outcome.status == 200 and b"open" in outcome.body and b"private" not in outcome.body
    for named in (f"SELECT * FROM NAMED <{PRIVATE.value}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
                  f"SELECT * FROM <{PRIVATE.value}> WHERE {{ ?s ?p ?o }}"):
        refused = execute(store, QueryJob(named, scope=HIDE))
        assert refused.status == 400 and "not in this store" in refused.message
        assert execute(store, QueryJob(named)).status == 200
    by_parameter = execute(store, QueryJob("SELECT * WHERE { ?s ?p ?o }", default_graphs=(PRIVATE.value,),
                                           scope=HIDE))
    assert by_parameter.status == 400


def test_cached_answers_are_kept_apart_by_scope() -> None:
    job = QueryJob("SELECT * WHERE { ?s ?p ?o }")
    hidden = QueryJob("SELECT * WHERE { ?s ?p ?o }", scope=HIDE)
    assert ResultCache.key(job, ("g",)) != ResultCache.key(hidden, ("g",))
    assert ResultCache.key(hidden, ("g",)) == ResultCache.key(QueryJob(job.sparql, scope=HIDE.hiding([])), ("g",))
    assert EVERYTHING.unrestricted and not HIDE.unrestricted


def test_a_snapshot_opens_read_only_with_the_same_content(store: Store) -> None:
    snapshot = store.snapshot()
    assert snapshot is not None
    view = snapshot.open()
    try:
        assert view.active_graphs() == store.active_graphs()
        label = "SELECT ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
        assert labels(view.select(label)) == {"open", "private"}
        if isinstance(store, EmbeddedStore) and store.path is not None:
            with pytest.raises(Exception):  # noqa: B017 - RocksDB refuses writes to a read-only view
                view.replace_graph(NamedNode("https://example.org/graph/new"), [Triple(EX.c, RDFS.label, EX.d)])
    finally:
        view.close()
    free = store.snapshot(copy=False)
    assert (free is None) == (isinstance(store, EmbeddedStore) and store.path is None)


def test_nothing_outside_the_store_package_calls_its_private_methods() -> None:
    private = re.compile(r"(?<!self)\.(_query|_query_active|_update|_open|_write_graph|_write_text|_drop_graph|"
                         r"_triples|_discard|_swap|_forget_registry|_registry_cache|_is_clean|_ox)\b")
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.parent.name == "store" and path.parent.parent == SRC:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if private.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_app_hook_scopes_the_endpoint_and_its_service_description() -> None:
    from fastapi.testclient import TestClient

    from expgraph.settings import Settings
    from expgraph.web.app import create_app
    from expgraph.web.sparql import close_runner

    store = EmbeddedStore()
    store.replace_graph(OPEN, [Triple(EX.a, RDFS.label, Literal("open"))])
    store.replace_graph(PRIVATE, [Triple(EX.b, RDFS.label, Literal("private"))])
    app = create_app(store, Settings({"max_concurrent_queries": 1, "query_timeout": 120}))
    query = {"query": "SELECT ?label WHERE { GRAPH ?g { ?s ?p ?label } }"}
    try:
        with TestClient(app) as client:
            assert b"private" in client.get("/sparql", params=query, headers={"accept": "text/csv"}).content
            state_of(app).scope = HIDE
            answer = client.get("/sparql", params=query, headers={"accept": "text/csv"})
            assert answer.status_code == 200 and b"open" in answer.content and b"private" not in answer.content
            description = client.get("/sparql", headers={"accept": "application/n-triples"}).text
            assert OPEN.value in description and PRIVATE.value not in description
    finally:
        close_runner(app)
        store.close()
