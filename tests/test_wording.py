"""Counts worded right: "1 run", "2 runs", on the pages and in the demo's summary."""

from __future__ import annotations

from fastapi.testclient import TestClient

from expgraph.settings import load_settings
from expgraph.web.app import create_app
from expgraph.wording import noun, plural
from web_data import build, iri


def test_plural_and_noun() -> None:
    assert [plural(n, "run") for n in (0, 1, 2)] == ["0 runs", "1 run", "2 runs"]
    assert plural(1, "query", "queries") == "1 query" and plural(3, "query", "queries") == "3 queries"
    assert noun(1, "value") == "value" and noun(10, "value") == "values"


def test_pages_say_one_thing_in_the_singular(memory_store) -> None:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        home = client.get("/").text
        assert "<strong>1</strong> project</a>" in home  # the web test catalog has one project
        assert "<strong>5</strong> runs</a>" in home
        search = client.get("/search", params={"q": "ctrl-c"}).text
        assert "1 resource matches" in search
        sparql = client.get("/sparql", params={"query": "SELECT ?x WHERE { VALUES ?x { 1 } }"},
                            headers={"accept": "text/html"}).text
        assert "1 row" in sparql and "1 rows" not in sparql
        run = client.get("/compare", params={"run": [iri("run", "r1")]}).text
        assert "Compare 1 run<" in run


def test_breadcrumbs_leave_out_what_a_run_or_experiment_does_not_have(memory_store, tmp_path) -> None:
    from expgraph.catalog import load_file

    build(memory_store)
    loaded = tmp_path / "loose.ttl"
    loaded.write_text("""@prefix eg: <https://w3id.org/expgraph#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/run/loose> a eg:Run ; rdfs:label "loose run" .
<https://example.org/experiment/loose> a eg:Experiment ; rdfs:label "loose experiment" .
""")
    load_file(memory_store, loaded)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        run = client.get("/resource", params={"iri": "https://example.org/run/loose"}).text
        assert '<p class="crumbs">run</p>' in run
        experiment = client.get("/resource", params={"iri": "https://example.org/experiment/loose"}).text
        assert '<p class="crumbs">experiment</p>' in experiment
        with_project = client.get("/resource", params={"iri": iri("run", "r1")}).text
        assert '">vision</a> › <a href="' in with_project and '">lr sweep</a> › run</p>' in with_project
