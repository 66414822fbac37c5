"""The web wing's rooms: one state object per app (no caches shared between apps or stores), queries only as
templates filled through their slots, and the one definition of a failed run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyoxigraph import Literal, NamedNode, Triple

from expgraph.catalog import prepare
from expgraph.namespaces import RDFS
from expgraph.records import RunStatus
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.lists import SPECS
from expgraph.web.reading import FAILED
from web_data import build, iri

WEB = Path(__file__).resolve().parents[1] / "src" / "expgraph" / "web"
HOSTILE = ['" } SERVICE <http://127.0.0.1:1/> { "', "#@s\n} LIMIT 0 #", "x\r\nSERVICE <http://127.0.0.1:1/> {}",
           "\\u0022 } SERVICE <http://127.0.0.1:1/> { \\u0022"]


def _json(client: TestClient, url: str, **params: str) -> dict:
    response = client.get(url, params={**params, "format": "json"})
    assert response.status_code == 200, response.text
    return response.json()


def test_two_apps_keep_their_own_caches(memory_store) -> None:
    """Caches belong to the app's state: a second app over an empty store neither sees nor fills the first's."""
    build(memory_store)
    other = prepare(EmbeddedStore())
    try:
        with TestClient(create_app(memory_store, load_settings(environ={}))) as full, \
                TestClient(create_app(other, load_settings(environ={}))) as empty:
            full.app.state.web.lists.clear()
            empty.app.state.web.lists.clear()
            assert _json(full, "/runs")["total"] == 5
            assert _json(empty, "/runs")["total"] == 0
            assert _json(full, "/runs")["total"] == 5
            assert full.app.state.web.lists.get(SPECS["runs"]) is not empty.app.state.web.lists.get(SPECS["runs"])
            assert full.app.state.web.store is memory_store and empty.app.state.web.store is other
    finally:
        other.close()


def test_an_import_makes_a_new_list_index(client_store) -> None:
    """The index is kept by the store's generation: a new source graph gives a new one, never a stale count."""
    client, store = client_store
    before = client.app.state.web.lists.get(SPECS["runs"])
    assert _json(client, "/runs")["total"] == 5
    store.replace_graph(NamedNode("https://example.org/graph/other/source"),
                        [Triple(NamedNode("https://example.org/x"), RDFS.label, Literal("x"))])  # an import
    assert client.app.state.web.lists.get(SPECS["runs"]) is not before


@pytest.fixture
def client_store(memory_store):
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        yield client, memory_store


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_request_values_stay_terms_on_every_slot_kind(client_store, value) -> None:
    """A literal facet value (a term slot), a search text (a VALUES block) and an IRI that is not one."""
    client, _ = client_store
    assert _json(client, "/runs", tracker=value)["total"] == 0
    assert _json(client, "/search", q=value)["total"] == 0
    assert client.get("/runs", params={"project": "urn:x> } SERVICE <http://127.0.0.1:1/"}).status_code == 400


def test_failed_means_what_the_run_status_says() -> None:
    assert set(FAILED) == {status.value for status in RunStatus if status.is_failure} == {"failed", "killed"}


def test_no_query_text_is_made_by_replacing_placeholders() -> None:
    """Every query of the web wing is a template filled through its slots."""
    for module in WEB.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"%[A-Z_]+%", text), module.name
        assert not re.search(r"\.replace\(\s*[\"']", text), module.name
        assert 'partition("WHERE {")' not in text, module.name


def test_charts_and_dashboards_are_kept_per_app_even_when_generations_coincide(memory_store, monkeypatch) -> None:
    """Chart data, dashboards and the editor's terms live in each app's state: an app over another store answers
    from its own store, even when both stores report the same generation (the cache key)."""
    build(memory_store)
    other = prepare(EmbeddedStore())
    for store in (memory_store, other):
        monkeypatch.setattr(store, "generation", lambda: ("same generation",))
    run = iri("run", "r1")
    try:
        with TestClient(create_app(memory_store, load_settings(environ={}))) as full, \
                TestClient(create_app(other, load_settings(environ={}))) as empty:
            (charted,) = full.get("/charts/runs", params={"run": run}).json()["runs"]
            assert [m["key"] for m in charted["metrics"]] == ["loss"]
            (blank,) = empty.get("/charts/runs", params={"run": run}).json()["runs"]
            assert blank["metrics"] == [] and blank["label"] is None
            assert _json(full, "/dashboard")["failed_runs"] == 2
            assert _json(empty, "/dashboard")["failed_runs"] == 0
            assert empty.get("/editor/terms").status_code == 200
            for name in ("charts", "dashboards", "editor_terms"):
                assert getattr(full.app.state.web, name) is not getattr(empty.app.state.web, name)
            assert len(full.app.state.web.charts) == len(empty.app.state.web.charts) == 1
    finally:
        other.close()
