"""``expgraph load`` (catalog.load_file) on hostile files (issue 11, item 6): entity expansion in RDF/XML is
bounded, JSON-LD contexts are never fetched, and every refusal is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expgraph.catalog import MAX_ENTITY_EXPANSION, LoadError, load_file
from expgraph.store import Store

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _rdf_xml(entities: str, value: str) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ {entities} ]>
<rdf:RDF xmlns:rdf="{RDF}" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/s"><ex:p>{value}</ex:p></rdf:Description>
</rdf:RDF>
"""


def _laughs(levels: int) -> str:
    declared = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        declared.append(f'<!ENTITY lol{level} "' + f"&lol{level - 1};" * 10 + '">')
    return " ".join(declared)


def _file_graphs(store: Store) -> list[str]:
    return [name for name in store.active_graphs() if "/graph/file/" in name]


def test_rdf_xml_billion_laughs_is_refused_naming_the_file(tmp_path: Path, memory_store: Store) -> None:
    """A 100 MB literal and 353 MB peak before: pyoxigraph expands nested entities."""
    path = tmp_path / "laughs.rdf"
    path.write_text(_rdf_xml(_laughs(9), "&lol8;"), encoding="utf-8")
    with pytest.raises(LoadError, match=r"laughs\.rdf: an entity refers to another entity"):
        load_file(memory_store, path)
    assert _file_graphs(memory_store) == []


def test_rdf_xml_many_references_to_a_big_entity_are_refused(tmp_path: Path, memory_store: Store) -> None:
    path = tmp_path / "wide.owl"
    path.write_text(_rdf_xml(f'<!ENTITY big "{"x" * 10_000}">', "&big;" * 200), encoding="utf-8")
    with pytest.raises(LoadError, match=rf"wide\.owl: .*would expand to 2,000,000 bytes .*{MAX_ENTITY_EXPANSION:,}"):
        load_file(memory_store, path)


@pytest.mark.parametrize("entity", ['<!ENTITY ext SYSTEM "file:///etc/passwd">', '<!ENTITY % p "x">'])
def test_rdf_xml_external_and_parameter_entities_are_refused(tmp_path: Path, memory_store: Store,
                                                              entity: str) -> None:
    path = tmp_path / "external.rdf"
    path.write_text(_rdf_xml(entity, "plain"), encoding="utf-8")
    with pytest.raises(LoadError, match=r"external\.rdf: only plain internal DTD entities"):
        load_file(memory_store, path)


def test_rdf_xml_namespace_entities_of_ontologies_still_load(tmp_path: Path, memory_store: Store) -> None:
    """The shorthand Protégé writes: an entity per namespace, used in attributes."""
    path = tmp_path / "onto.owl"
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
    <!ENTITY owl "http://www.w3.org/2002/07/owl#" >
    <!ENTITY ex "http://example.org/" >
]>
<rdf:RDF xmlns:rdf="{RDF}">
  <rdf:Description rdf:about="&ex;Thing"><rdf:type rdf:resource="&owl;Class"/></rdf:Description>
</rdf:RDF>
""", encoding="utf-8")
    _, triples, changed = load_file(memory_store, path)
    assert triples == 1 and changed
    rows = memory_store.select("SELECT ?c WHERE { <http://example.org/Thing> a ?c }")
    assert [row["c"].value for row in rows] == ["http://www.w3.org/2002/07/owl#Class"]


@pytest.mark.parametrize("context", ["file:///etc/passwd", "context.jsonld", {"@import": "https://schema.org/"},
                                     ["https://schema.org/", {"name": "http://schema.org/name"}]])
def test_json_ld_contexts_are_never_fetched(tmp_path: Path, memory_store: Store, context: object) -> None:
    (tmp_path / "context.jsonld").write_text(json.dumps({"@context": {"name": "http://example.org/secret"}}))
    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps({"@context": context, "@id": "http://example.org/x", "name": "x"}), encoding="utf-8")
    with pytest.raises(LoadError, match=r"doc\.jsonld: JSON-LD with a remote @context is not loaded"):
        load_file(memory_store, path)
    assert _file_graphs(memory_store) == []
