"""The history of a source graph, on a real Sacred file store imported, edited and imported again: the versions
kept, who wrote them, and what changed between two versions (runs added, removed, changed and how)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from expgraph.catalog import prepare, run_import
from expgraph.importers.sacred import SacredImporter
from expgraph.settings import Settings
from expgraph.source_history import changes, find_graph, history, pick
from expgraph.store import EmbeddedStore, GraphScope, Retention, Store, StoreError
from expgraph.web.app import create_app
from expgraph.web.state import state_of

FIXTURE = Path(__file__).parent / "fixtures" / "sacred"


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    """A store holding two versions of one Sacred source: as generated, then with run 8 deleted, run 3's learning
    rate changed and run 5 copied as run 99."""
    source = tmp_path_factory.mktemp("sacred") / "sacred"
    shutil.copytree(FIXTURE, source)
    store = prepare(EmbeddedStore(tmp_path_factory.mktemp("store") / "store"))
    store.retention = Retention(keep=3)
    run_import(store, SacredImporter(str(source / "runs")))
    shutil.rmtree(source / "runs" / "8")
    config = json.loads((source / "runs" / "3" / "config.json").read_text())
    config["optim"]["lr"] = 0.5
    (source / "runs" / "3" / "config.json").write_text(json.dumps(config))
    shutil.copytree(source / "runs" / "5", source / "runs" / "99")
    outcome = run_import(store, SacredImporter(str(source / "runs")))
    assert outcome.changed
    yield store, source
    store.close()


def test_both_versions_are_listed_with_who_wrote_them(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    graph = find_graph(store, "/graph/sacred/")
    entries = history(store, graph)
    assert len(entries) == 2 and entries[0].version.active and not entries[1].version.active
    assert all(entry.by and entry.written for entry in entries)  # the import's own record names the user
    assert entries[0].version.triples != entries[1].version.triples


def test_what_changed_between_the_two_versions(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    entries = history(store, find_graph(store, "/graph/sacred/"))
    diff = changes(store, pick(entries, None, 1).version.version, pick(entries, None, 0).version.version)
    assert [run["run"].rsplit("/", 1)[-1] for run in diff["added"]] == ["99"]
    assert [run["run"].rsplit("/", 1)[-1] for run in diff["removed"]] == ["8"]
    changed = {run["run"].rsplit("/", 1)[-1]: run["properties"] for run in diff["changed"]}
    assert set(changed) == {"3"}
    assert "mls:hasInput/mls:hasValue [optim.lr]" in changed["3"]
    # the other way round, the same runs swap sides
    back = changes(store, entries[0].version.version, entries[1].version.version)
    assert (back["added"], back["removed"]) == (diff["removed"], diff["added"])


def test_unknown_graphs_and_versions_are_one_line_errors(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    with pytest.raises(StoreError, match="no graph"):
        find_graph(store, "https://example.org/nothing")
    entries = history(store, find_graph(store, "/graph/sacred/"))
    with pytest.raises(StoreError, match="no version 'nope'"):
        pick(entries, "nope", 0)


def test_the_history_page_and_its_json_twin(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    graph = find_graph(store, "/graph/sacred/")
    client = TestClient(create_app(store, Settings()))
    data = client.get("/history", params={"source": graph.value, "format": "json"}).json()
    assert [v["active"] for v in data["versions"]] == [True, False]
    assert [r["run"].rsplit("/", 1)[-1] for r in data["changes"]["added"]] == ["99"]
    page = client.get("/history", params={"source": graph.value})
    assert page.status_code == 200 and "optim.lr" in page.text and "1 run added" in page.text
    old, new = data["versions"][1]["id"], data["versions"][0]["id"]
    swapped = client.get("/history", params={"source": graph.value, "from": new, "to": old, "format": "json"})
    assert [r["run"].rsplit("/", 1)[-1] for r in swapped.json()["changes"]["removed"]] == ["99"]
    assert client.get("/history", params={"source": "https://example.org/none"}).status_code == 404
    hostile = client.get("/history", params={"source": graph.value, "from": '"} UNION {', "format": "json"})
    assert hostile.status_code == 404 and "no version" in hostile.json()["error"]


def test_a_graph_the_callers_scope_hides_has_no_history_page(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    graph = find_graph(store, "/graph/sacred/")
    app = create_app(store, Settings())
    state_of(app).scope = GraphScope(frozenset({graph.value}))
    hidden = TestClient(app).get("/history", params={"source": graph.value, "format": "json"})
    assert hidden.status_code == 404 and "no graph" in hidden.json()["error"]


def test_a_run_page_leads_to_its_source_s_history(edited: tuple[Store, Path]) -> None:
    store, _ = edited
    graph = find_graph(store, "/graph/sacred/")
    client = TestClient(create_app(store, Settings()))
    run = next(iri for iri in client.get("/runs", params={"format": "json"}).json()["items"]
               for iri in [iri["iri"]] if iri.endswith("/run/3"))
    page = client.get("/resource", params={"iri": run, "format": "json"}, follow_redirects=True)
    assert page.json()["sources"] == [graph.value]  # not the quality graph, which also states the run
    html = client.get("/resource", params={"iri": run}, follow_redirects=True).text
    link = re.search(r'class="source-history" href="([^"]+)"', html)
    assert link is not None
    changed = client.get(unescape(link.group(1)) + "&format=json").json()["changes"]["changed"]
    assert [r["run"] for r in changed] == [run]
