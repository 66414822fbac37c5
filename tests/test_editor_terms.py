"""What the SPARQL editor completes: the standard prefixes and the terms the catalog declares (``/editor/terms``)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from expgraph.namespaces import PREFIXES
from expgraph.settings import load_settings
from expgraph.web.app import create_app
from web_data import build


def test_terms_are_the_declared_classes_and_properties_under_known_prefixes(memory_store) -> None:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        data = client.get("/editor/terms").json()
    assert data["prefixes"] == PREFIXES
    by_name = {t["name"]: t for t in data["terms"]}
    assert by_name["eg:Run"] == {"name": "eg:Run", "iri": "https://w3id.org/expgraph#Run", "kind": "class",
                                 "label": "Run"}
    assert by_name["eg:history"]["kind"] == "property"
    assert by_name["mls:hasInput"]["kind"] == "property"  # from the alignment with ML Schema
    assert by_name["rdfs:label"]["kind"] == "property"  # one of the basics the store does not declare
    assert all(t["name"].split(":")[0] in PREFIXES for t in data["terms"])
    assert len(by_name) == len(data["terms"])  # each once


def sparql_page(client: TestClient, query: str) -> str:
    answer = client.get("/sparql", params={"query": query}, headers={"accept": "text/html"})
    assert answer.status_code == 200
    return answer.text


def test_numeric_results_are_drawn_as_bars_too(memory_store) -> None:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        bars = sparql_page(client, "SELECT ?k ?v WHERE { VALUES (?k ?v) { ('a' 2) ('b' 4) ('c' -2.5) } }")
        assert "As a chart: v by k" in bars
        widths = re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', bars)
        assert [float(w) for w in widths] == [141.5, 283.1, 176.9]  # 460 px for the span from -2.5 to 4: 6.5
        text = sparql_page(client, "SELECT ?k ?v WHERE { VALUES (?k ?v) { (1 'x') (2 'y') } }")
        assert "As a chart" not in text  # the last column is not a number
