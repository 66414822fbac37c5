"""What the SPARQL editor completes: the standard prefixes and the terms the catalog declares (``/editor/terms``)."""

from __future__ import annotations

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
