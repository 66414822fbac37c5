"""The HTML catalog through FastAPI's TestClient: mostly on each page's JSON data twin, a few checks on the HTML."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pyoxigraph
import pytest
from fastapi.testclient import TestClient
from pyoxigraph import Literal, NamedNode, Triple

from expgraph.catalog import prepare
from expgraph.mapping import DEFAULT_BASE, double
from expgraph.namespaces import DQV, EG, GRAPHS, RDF, RDFS, RUN_STATUS
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from expgraph.web import lineage, run_page
from expgraph.web.app import create_app
from web_data import HOSTILE_NAME, HOSTILE_PARAM, OOM_ERROR, build, iri

R1, R2, R3, R4 = (iri("run", f"r{i}") for i in range(1, 5))
EXP1, EXP2 = iri("experiment", "exp1"), iri("experiment", "exp2")
FAILED = RUN_STATUS.failed.value


@pytest.fixture
def client(memory_store) -> Iterator[TestClient]:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as test_client:
        yield test_client


def page(iri_value: str) -> str:
    return "/id/" + iri_value.removeprefix(DEFAULT_BASE)


def data(client: TestClient, url: str, **params: str) -> dict:
    response = client.get(url, params={**params, "format": "json"})
    assert response.status_code == 200, response.text
    return response.json()


def test_home_counts_and_recent_failures(client) -> None:
    home = data(client, "/")
    assert home["counts"] == {"projects": 1, "experiments": 2, "runs": 5, "failed_runs": 2, "datasets": 2,
                              "results": 3, "negative_results": 2}
    assert [f["run"]["iri"] for f in home["recent_failures"]] == [R4, R2]  # newest first
    assert home["recent_failures"][1]["error"] == OOM_ERROR
    assert {m["mode"]["label"] for m in home["top_failure_modes"]} == {"out of memory", "data loader stall"}
    assert home["completeness"] is None  # no quality graph yet


@pytest.mark.parametrize("name", ["projects", "experiments", "runs", "datasets", "results"])
def test_every_list_answers_json_and_html(client, name) -> None:
    listing = data(client, f"/{name}")
    assert listing["list"] == name and listing["total"] == len(listing["items"]) > 0
    html = client.get(f"/{name}", headers={"accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    as_json = client.get(f"/{name}", headers={"accept": "application/json"})
    assert as_json.json()["total"] == listing["total"]


def test_run_facets_count_and_filter(client) -> None:
    runs = data(client, "/runs")
    facets = {f["name"]: {v["label"]: v["count"] for v in f["values"]} for f in runs["facets"]}
    assert facets["status"] == {"finished": 3, "failed": 1, "killed": 1}
    assert facets["agent"] == {"alice": 4, "bob": 1}
    assert facets["tracker"] == {"mlflow": 5}
    failed = data(client, "/runs", status=FAILED)
    assert [item["iri"] for item in failed["items"]] == [R2] and failed["total"] == 1
    assert failed["items"][0]["failure_mode"]["label"] == "out of memory"
    narrowed = {f["name"]: f["values"] for f in failed["facets"]}
    assert [v["count"] for v in narrowed["agent"]] == [1]


def test_keyset_pagination_walks_every_run_once(client) -> None:
    seen, params = [], {"limit": "2", "sort": "name"}
    while True:
        listing = data(client, "/runs", **params)
        seen += [item["label"] for item in listing["items"]]
        if not listing["next"]:
            break
        params.update(listing["next"])
    assert seen == sorted(seen, key=str.lower) and len(seen) == len(set(seen)) == 5
    assert 'rel="next"' in client.get("/runs", params={"limit": "2"}).text
    newest = data(client, "/runs", sort="-started", limit="1")
    assert newest["items"][0]["label"] == "follow-up"


@pytest.mark.parametrize(("params", "problem"), [
    ({"sort": "nonsense"}, "unknown sort"),
    ({"status": "javascript:alert(1)"}, "must be an absolute"),
    ({"status": "http://x/a b>"}, "not a valid IRI"),
    ({"limit": "many"}, "limit"),
])
def test_bad_list_parameters_are_400(client, params, problem) -> None:
    response = client.get("/runs", params={**params, "format": "json"})
    assert response.status_code == 400 and problem in response.json()["error"]


def test_run_page_data(client) -> None:
    run = data(client, page(R2))
    assert run["status"] == "failed" and run["failed"] and run["error"] == OOM_ERROR
    assert run["agent"]["label"] == "alice" and run["experiment"]["iri"] == EXP1
    assert {p["key"]: p["value"] for p in run["params"]} == {"lr": 0.1, "batch_size": 64}
    assert run["metrics"][0]["value"] == "NaN"
    dataset = run["inputs"]["datasets"][0]
    assert dataset["checksum"] == "a" * 32 and dataset["algorithm"] == "md5" and dataset["role"] == "training"
    assert run["inputs"]["code"][0]["commit"].startswith("0123456789ab")
    [result] = run["results"]
    assert result["negative"] and result["failure_mode"]["label"] == "out of memory"
    assert result["lessons"] == ["halve the batch size on 16 GB cards"]
    assert run["completeness"] is None
    child = data(client, page(R3))
    assert child["parent"]["iri"] == R1
    assert [c["run"]["iri"] for c in data(client, page(R1))["children"]] == [R3]


def test_run_page_html_shows_error_and_failure_mode(client) -> None:
    html = client.get(page(R2)).text
    assert "CUDA out of memory" in html and "out of memory" in html
    assert 'rel="alternate" type="text/turtle"' in html


def test_run_page_leads_to_runs_of_the_same_configuration(client) -> None:
    configuration = data(client, page(R2))["configuration"]
    assert configuration.startswith(DEFAULT_BASE + "configuration/")
    html = client.get(page(R2)).text
    assert f'href="/queries/already-failed?run={quote(R2)}"' in html
    assert f'href="{page(configuration)}"' in html
    configuration_page = client.get(page(configuration))  # the shared node, with the runs that have it
    assert configuration_page.status_code == 200 and f'href="{page(R2)}"' in configuration_page.text


def test_completeness_shown_when_quality_graph_exists(client, memory_store) -> None:
    measurement = NamedNode(GRAPHS + "quality/measurement/test")
    memory_store.replace_graph(NamedNode(GRAPHS + "quality"), [
        Triple(measurement, DQV.computedOn, NamedNode(R2)),
        Triple(measurement, DQV.isMeasurementOf, EG.completeness),
        Triple(measurement, DQV.value, double(0.75)),
    ])
    run = data(client, page(R2))
    assert run["completeness"] == {"score": 0.75, "missing": ["random seed"]}  # what its eg:lacks states
    assert data(client, page(iri("run", "r5")))["completeness"]["missing"] == [
        "code version", "environment", "random seed", "end time"]  # finished, with no end time
    assert data(client, "/")["completeness"] == []


def test_completeness_of_a_run_loaded_as_rdf_points_to_validate(memory_store) -> None:
    """A run from an RDF file (not imported: no eg:lacks stated) is not declared complete: ``missing`` is None and
    the page says where to look instead."""
    loaded = NamedNode("https://example.org/runs/elsewhere")
    memory_store.replace_graph(NamedNode("https://example.org/graph"), [
        Triple(loaded, RDF.type, EG.Run), Triple(loaded, RDFS.label, Literal("run from elsewhere"))])
    measurement = NamedNode(GRAPHS + "quality/measurement/loaded")
    memory_store.replace_graph(NamedNode(GRAPHS + "quality"), [
        Triple(measurement, DQV.computedOn, loaded), Triple(measurement, DQV.isMeasurementOf, EG.completeness),
        Triple(measurement, DQV.value, double(0.5))])
    assert run_page.run(memory_store, loaded)["completeness"] == {"score": 0.5, "missing": None}


def test_experiment_table_marks_differing_columns(client) -> None:
    experiment = data(client, page(EXP1))
    assert experiment["hypothesis"] == {"text": "warmup improves accuracy", "expected": "accuracy +1%"}
    assert experiment["run_count"] == 4 and experiment["failed_count"] == 2
    columns = {c["key"]: c["differs"] for c in experiment["table"]["params"]}
    assert columns["lr"] is True and columns["batch_size"] is True  # r4 has no batch_size
    assert {r["result"]["label"] for r in experiment["results"]} == {
        "r2 ran out of GPU memory", "r4 was stopped", "warmup does not help"}
    assert data(client, page(EXP2))["informed_by"][0]["label"] == "r2 ran out of GPU memory"


def test_compare_runs_highlights_differences(client) -> None:
    compared = data(client, "/compare", run=[R1, R3])
    params = {c["key"]: c["differs"] for c in compared["table"]["params"]}
    assert params == {"batch_size": False, "lr": True}
    assert [r["run"]["iri"] for r in compared["table"]["rows"]] == [R1, R3]
    assert 'class="differs"' in client.get("/compare", params={"run": [R1, R3]}).text


def test_dataset_page_failure_rate_per_snapshot(client) -> None:
    dataset = data(client, "/id/dataset-series/cifar10-train")
    rates = {s["version"]: (s["run_count"], s["failed"]) for s in dataset["snapshots"]}
    assert [len(s["runs"]) for s in dataset["snapshots"]] == [3, 2]
    assert rates == {"1": (3, 2), "2": (2, 0)}
    assert dataset["failure_rate"] == pytest.approx(2 / 5)


def test_concept_page_rolls_up_narrower_concepts(client) -> None:
    timeout = data(client, "/resource", iri="https://w3id.org/expgraph/vocab/failure-mode/timeout")
    assert timeout["kind"] == "concept"
    assert [r["result"]["label"] for r in timeout["results"]] == ["r4 was stopped"]  # the project's own concept
    assert timeout["projects"] == ["vision"]
    assert any(n["label"] == "data loader stall" for n in timeout["narrower"])


def test_search_finds_error_texts_lessons_and_params(client) -> None:
    hits = data(client, "/search", q="cuda OUT of memory")["hits"]
    assert hits[0]["resource"]["iri"] == R2 and hits[0]["matches"][0]["field"] == "error"
    assert any(h["resource"]["label"] == "r2 ran out of GPU memory" for h in hits)
    lesson = data(client, "/search", q="halve the batch")["hits"]
    assert [h["matches"][0]["field"] for h in lesson] == ["lesson"]
    param = data(client, "/search", q="onerror=")["hits"]
    assert [h["resource"]["iri"] for h in param] == [R4]


@pytest.mark.parametrize("text", ['") } } DROP ALL #', "\\", "'; <x>", "\n"])
def test_search_text_is_bound_not_spliced(client, text) -> None:
    assert data(client, "/search", q=text)["total"] == 0


def test_vocab_lists_schemes_as_trees(client) -> None:
    schemes = {s["scheme"]["iri"]: s for s in data(client, "/vocab")["schemes"]}
    modes = schemes["https://w3id.org/expgraph/vocab/failure-mode"]
    tops = {c["notation"]: c for c in modes["concepts"]}
    assert "out-of-memory" in {c["notation"] for c in tops["resource-exhaustion"]["narrower"]}


def test_lineage_follows_dataset_run_result_experiment(client) -> None:
    lineage = data(client, "/lineage", iri=R2)
    depth = {n["iri"]: n["depth"] for n in lineage["nodes"]}
    assert depth[R2] == 0 and depth[EXP2] == 2 and depth[iri("result", "nr-r2")] == 1
    assert depth[DEFAULT_BASE + "dataset/md5-" + "a" * 32] == -1
    assert {"from": R2, "to": iri("result", "nr-r2")} in lineage["edges"]


@pytest.mark.parametrize(("accept", "rdf_format"), [
    ("text/turtle", pyoxigraph.RdfFormat.TURTLE),
    ("application/ld+json", pyoxigraph.RdfFormat.JSON_LD),
    ("application/n-triples", pyoxigraph.RdfFormat.N_TRIPLES),
    ("text/html;q=0.5, text/turtle", pyoxigraph.RdfFormat.TURTLE),
])
def test_resource_iris_negotiate_rdf(client, accept, rdf_format) -> None:
    response = client.get(page(R4), headers={"accept": accept})
    assert response.status_code == 200 and response.headers["content-type"].startswith(accept.split(",")[-1].strip())
    triples = {q.triple for q in pyoxigraph.parse(response.content, rdf_format)}
    assert Triple(NamedNode(R4), RDFS.label, Literal(HOSTILE_NAME)) in triples
    assert any(t.subject.value == R4 + "/param/note" for t in triples)  # nodes minted under the run come along


def test_suffixes_and_non_base_iris(client) -> None:
    turtle = client.get(page(R1) + ".ttl")
    assert turtle.headers["content-type"].startswith("text/turtle") and R1.encode() in turtle.content
    assert client.get(page(R1) + ".jsonld").headers["content-type"].startswith("application/ld+json")
    concept = "https://w3id.org/expgraph/vocab/failure-mode/out-of-memory"
    assert client.get("/resource", params={"iri": concept}, headers={"accept": "text/turtle"}).status_code == 200
    redirect = client.get("/resource", params={"iri": R1}, follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == page(R1)


def test_percent_encoded_ids_stay_distinct(client) -> None:
    assert client.get(page(R1).replace("run/r1", "run/r%2F1")).status_code == 404
    assert client.get("/id/nothing/here").status_code == 404
    assert client.get("/resource", params={"iri": "javascript:alert(1)"}).status_code == 400


def test_hostile_strings_are_escaped(client) -> None:
    html = client.get(page(R4)).text
    assert HOSTILE_NAME not in html and HOSTILE_PARAM not in html
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&#39;param&#39;)&gt;" in html
    assert "<script" not in client.get("/runs").text


def test_only_http_iris_become_links(client, memory_store) -> None:
    thing = NamedNode("https://example.org/thing")
    memory_store.replace_graph(NamedNode(GRAPHS + "file/test"), [
        Triple(thing, RDFS.label, Literal("a thing")),
        Triple(thing, RDFS.seeAlso, NamedNode("javascript:alert(1)")),
        Triple(thing, RDFS.seeAlso, NamedNode("urn:x-local:thing")),
        Triple(thing, RDFS.seeAlso, NamedNode(R1)),
    ])
    generic = data(client, "/resource", iri=thing.value)
    assert {p["value"]["iri"] for p in generic["properties"] if p["value"]} >= {"javascript:alert(1)", R1}
    html = client.get("/resource", params={"iri": thing.value}).text
    assert 'href="javascript:' not in html and 'href="urn:' not in html
    assert "javascript:alert(1)" in html  # shown as text
    assert f'href="{page(R1)}"' in html


def test_security_headers_and_local_swagger(client) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert "/runs" in client.get("/openapi.json").json()["paths"]


def test_links_use_the_configured_base(memory_store) -> None:
    build(memory_store)
    other = load_settings(environ={"EXPGRAPH_BASE_IRI": "https://example.org/other/"})
    with TestClient(create_app(memory_store, other)) as other_client:
        html = other_client.get("/runs").text
    assert f'href="/resource?iri={quote(R1, safe="")}"' in html


def test_labels_of_shared_nodes_stated_by_other_sources_do_not_repeat_rows(client, memory_store) -> None:
    """A parameter or role every source shares has its label stated by each; the run page lists it once."""
    shared = [NamedNode(DEFAULT_BASE + "parameter/lr"), NamedNode(DEFAULT_BASE + "role/training")]
    labels = {x: memory_store.select(f"SELECT ?x ?l WHERE {{ ?x <{RDFS.label.value}> ?l }}", x=x) for x in shared}
    assert all(labels.values())
    other = [Triple(x, RDFS.label, row["l"]) for x, rows in labels.items() for row in rows]
    memory_store.replace_graph(NamedNode(DEFAULT_BASE + "graph/other/source"), other)
    run = data(client, page(R2))
    assert sorted(p["key"] for p in run["params"]) == ["batch_size", "lr"]
    assert [d["role"] for d in run["inputs"]["datasets"]] == ["training"]


def test_home_builds_only_the_facets_it_shows(client) -> None:
    from expgraph.web.lists import SPECS

    indexes = client.app.state.web.lists
    data(client, "/")
    # at most these (a small filtered selection reads its members' values without building the facet)
    assert set(indexes.get(SPECS["runs"])._values) <= {"status"}
    assert set(indexes.get(SPECS["results"])._values) <= {"negative", "failure_mode"}
    data(client, "/runs")
    assert set(indexes.get(SPECS["runs"])._values) == {f.name for f in SPECS["runs"].facets}


class CountingStore(EmbeddedStore):
    """An in-memory store that counts the queries it is asked (each costs ~0.1 ms at 100k runs before reading)."""

    queries = 0

    def query(self, sparql, **kwargs):
        self.queries += 1
        return super().query(sparql, **kwargs)


def test_run_page_data_comes_from_three_queries() -> None:
    """The run page was ten queries (issue 7): its statements, its neighbourhood and the labels of shared nodes."""
    store = build(prepare(CountingStore()))
    try:
        store.queries = 0
        data = run_page.run(store, NamedNode(R1))
        assert store.queries <= 3
        assert data["metrics"] == [{"key": "loss", "value": 0.51, "step": 100, "first": 2.3, "min": 0.4 + 0.01,
                                    "max": 2.3, "count": 100}]
        assert [c["run"]["iri"] for c in data["children"]] == [R3]
        assert data["inputs"]["environments"][0]["python"] == "3.11.8"
    finally:
        store.close()


def test_cold_filtered_lists_match_the_built_index(client) -> None:
    """Before a list's facets are built, a filtered page reads only its members' facets and keys; it must show
    the same facets, rows and keyset pages as the same page from the fully built index."""
    from expgraph.web.lists import SPECS

    indexes = client.app.state.web.lists

    facets = {f["name"]: {v["label"]: v["value"] for v in f["values"]} for f in data(client, "/runs")["facets"]}
    project, alice = facets["project"]["vision"], facets["agent"]["alice"]
    cases = [("runs", {"status": FAILED}), ("runs", {"agent": alice, "sort": "name", "limit": "1"}),
             ("runs", {"project": project, "tracker": "mlflow", "sort": "-started", "limit": "2"}),
             ("runs", {"tracker": "mlflow", "agent": alice, "sort": "status", "limit": "3"}),
             ("results", {"negative": EG.NegativeResult.value, "limit": "1"}), ("experiments", {"project": project}),
             ("datasets", {"project": project})]

    def walk(name: str, params: dict[str, str]) -> list[dict]:
        pages = [data(client, f"/{name}", **params)]
        while pages[-1]["next"]:
            pages.append(data(client, f"/{name}", **{**params, **pages[-1]["next"]}))
        return pages

    indexes.clear()  # the client's warm-up may have built them
    cold = [walk(name, params) for name, params in cases]
    assert all(not indexes.get(SPECS[name])._values for name, _ in cases)  # the restricted path ran
    assert sum(len(pages) for pages in cold) > len(cases) and all(pages[0]["total"] for pages in cold)
    indexes.clear()
    for spec in SPECS.values():
        indexes.get(spec).warm()
    assert [walk(name, params) for name, params in cases] == cold


def _stepwise(store, resource: NamedNode) -> tuple[dict[str, int], set[tuple[str, str]]] | None:
    """The lineage walk one query per step, as it was before the four steps were read in one query."""
    return lineage._walk(resource, lambda frontier, forward, _level: lineage._step(store, frontier, forward))


def test_lineage_from_one_query_walks_as_step_by_step(client, memory_store) -> None:
    """The four steps read in one query give the same nodes and edges as one query per step, for every kind of
    resource in the catalog."""
    resources = [row["s"] for row in memory_store.select("SELECT DISTINCT ?s WHERE { ?s a ?t FILTER(isIRI(?s)) }")]
    assert len(resources) > 20
    for resource in resources:
        near = lineage._near(memory_store, resource)
        assert near is not None
        assert lineage._walk(resource, near) == _stepwise(memory_store, resource), resource


def test_lineage_caps_a_dataset_used_by_many_runs_as_step_by_step() -> None:
    """Where a cap bites (30 runs used the dataset, 12 are drawn), which are kept depends on the store's row order:
    the walk is then done step by step, so the picture is the one it always was."""
    store = EmbeddedStore()
    try:
        dataset = NamedNode(iri("dataset", "shared"))
        used = [Triple(NamedNode(iri("run", f"many-{i}")), NamedNode("http://www.w3.org/ns/prov#used"), dataset)
                for i in range(30)]
        store.replace_graph(NamedNode(GRAPHS + "test-many"), used)
        near = lineage._near(store, dataset)
        assert near is not None and near([dataset], True, 1) is None  # the first step's cap bites
        picture = lineage.lineage(store, dataset)
        assert len(picture["nodes"]) == 1 + lineage.MAX_PER_STEP
        walked = _stepwise(store, dataset)
        assert walked is not None
        assert {n["iri"]: n["depth"] for n in picture["nodes"]} == walked[0]
    finally:
        store.close()


def test_spec_labels_follow_a_changed_graph() -> None:
    """Parameter labels are kept by graph version: a re-import that renames a parameter shows the new name."""
    store = build(prepare(EmbeddedStore()))
    try:
        before = {p["key"] for p in run_page.run(store, NamedNode(R1))["params"]}
        assert "lr" in before
        lr = NamedNode(DEFAULT_BASE + "parameter/lr")
        renamed = 0
        for name in list(store.active_graphs()):
            triples = list(store.triples(NamedNode(name)))
            kept = [t for t in triples if not (t.subject == lr and t.predicate == RDFS.label)]
            if len(kept) < len(triples):
                store.replace_graph(NamedNode(name), [*kept, Triple(lr, RDFS.label, Literal("learning rate"))])
                renamed += 1
        assert renamed
        after = {p["key"] for p in run_page.run(store, NamedNode(R1))["params"]}
        assert after == before - {"lr"} | {"learning rate"}
    finally:
        store.close()


def test_spec_labels_evicting_old_entries_never_loses_a_page_s_labels() -> None:
    """A page naming the oldest kept spec and a new one: the new one's entry evicts the old one, which must still
    be answered (it used to raise KeyError, a 500)."""
    store = EmbeddedStore()
    try:
        graph = NamedNode("https://example.org/graph/specs")
        specs = [NamedNode(f"https://example.org/parameter/p{i}") for i in range(6)]
        store.replace_graph(graph, [Triple(spec, RDFS.label, Literal(f"p{i}")) for i, spec in enumerate(specs)])
        version = store.active_graphs()[graph.value].version
        labels = run_page.SpecLabels(size=4)
        labels.get(store, specs[:2], [version])
        labels.get(store, specs[2:4], [version])  # full: p0 is now the oldest
        found = labels.get(store, [specs[0], specs[4]], [version])
        assert {name: [label.value for label in found[name]] for name in found} == {
            specs[0].value: ["p0"], specs[4].value: ["p4"]}
        assert len(labels._entries) <= 4
    finally:
        store.close()


_SEARCHES = ("cuda OUT of memory", "r", "e", "0.001", "1", "halve", "onerror=", "straße", "STRASSE", "σας", "ΣΑΣ",
             "i̇stanbul", "İSTANBUL", "数据", '"', "'", "\\", "zzqqxx")


def _odd_texts(store) -> None:
    """Texts whose lower case differs in Python and SPARQL if either gets it wrong, in a graph of their own."""
    texts = ["Straße voll ΣΑΣ", "İstanbul run", "数据 loader", 'say "hi"', "back\\slash", "MiXeD CaSe r"]
    triples = [Triple(NamedNode(f"{DEFAULT_BASE}run/odd{i}"), RDFS.label, Literal(t)) for i, t in enumerate(texts)]
    triples += [Triple(NamedNode(f"{DEFAULT_BASE}run/odd{i}"), pyoxigraph.NamedNode(
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), NamedNode(EG.Run.value)) for i in range(len(texts))]
    triples.append(Triple(NamedNode(f"{DEFAULT_BASE}run/odd0"), RDFS.label, Literal("Straße", language="de")))
    store.replace_graph(NamedNode(DEFAULT_BASE + "graph/odd/source"), triples)


@pytest.mark.parametrize("limit", [500, 2])
def test_indexed_search_gives_the_scans_rows_in_order(disk_store, monkeypatch, limit) -> None:
    """On disk, as served: the in-memory store's DISTINCT does not keep its scan order (same rows, other order)."""
    from expgraph.web import search

    monkeypatch.setattr(search, "FIELD_LIMIT", limit)  # 2: most searches here fill a field's cap
    build(disk_store)
    _odd_texts(disk_store)
    client = TestClient(create_app(disk_store, load_settings(environ={})))
    index = client.app.state.web.search.get(search.SEARCH)
    cold = {q: data(client, "/search", q=q) for q in _SEARCHES}
    index.build()
    assert index.ready
    for q in _SEARCHES:
        scanned = [(i, row["s"], row["text"]) for i, row in search.scan_rows(disk_store, q)]
        indexed = [(i, row["s"], row["text"]) for i, row in index.rows(q)]
        assert indexed == scanned, q
        assert data(client, "/search", q=q) == cold[q], q
    assert data(client, "/search", q="ΣΑΣ")["total"] == data(client, "/search", q="straße")["total"] == 1
    assert any(m["field"] == "parameter" for h in data(client, "/search", q="0.001")["hits"] for m in h["matches"])


def test_an_import_makes_new_texts_searchable(client, memory_store) -> None:
    from expgraph.web import search

    client.app.state.web.search.get(search.SEARCH).build()
    assert data(client, "/search", q="İstanbul")["total"] == 0
    _odd_texts(memory_store)  # an import: new graph versions, so a new (empty) index
    index = client.app.state.web.search.get(search.SEARCH)
    assert [h["resource"]["label"] for h in data(client, "/search", q="STANBUL run")["hits"]] == ["İstanbul run"]
    index.build()
    assert index.ready and index.rows("STANBUL run")
    assert [h["resource"]["label"] for h in data(client, "/search", q="STANBUL run")["hits"]] == ["İstanbul run"]
