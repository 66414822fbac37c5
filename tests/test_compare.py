"""The compare page's data: runs as columns, only the differing parameters in the table, configurations with
their way into ``already-failed``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from expgraph.settings import load_settings
from expgraph.web.app import create_app
from web_data import build, iri

R1, R2, R3, R4 = (iri("run", f"r{i}") for i in range(1, 5))


@pytest.fixture
def client(memory_store) -> Iterator[TestClient]:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as test_client:
        yield test_client


def compare(client: TestClient, *runs: str) -> dict:
    answer = client.get("/compare", params={"run": list(runs), "format": "json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_only_differing_parameters_are_rows_and_the_rest_is_listed_once(client) -> None:
    data = compare(client, R1, R3)
    assert [c["run"]["iri"] for c in data["columns"]] == [R1, R3]
    assert data["params"]["differing"] == [{"key": "lr", "values": [0.01, 0.001]}]
    assert data["params"]["same"] == [{"key": "batch_size", "value": 64}]
    assert data["metrics"] == [{"key": "loss", "differs": True, "values": [0.51, 0.501]}]


def test_a_parameter_one_run_lacks_differs(client) -> None:
    data = compare(client, R1, R4)
    assert [p["key"] for p in data["params"]["differing"]] == ["batch_size", "lr", "note"]
    assert data["params"]["differing"][0]["values"] == [64, None]


def test_each_configuration_links_to_already_failed(client) -> None:
    data = compare(client, R1, R2, R3)
    groups = data["configurations"]
    assert len(groups) == 3 and [g["runs"][0]["iri"] for g in groups] == [R1, R2, R3]
    assert all(g["already_failed"].startswith("/queries/already-failed?run=https%3A") for g in groups)
    answer = client.get(groups[0]["already_failed"])
    assert answer.status_code == 200


def test_up_to_fifty_runs_compare_and_more_are_refused(client) -> None:
    fifty = [R1, R2, R3, R4] + [f"https://example.org/run/{i}" for i in range(46)]
    assert client.get("/compare", params={"run": fifty, "format": "json"}).status_code == 200
    assert client.get("/compare", params={"run": [*fifty, "https://example.org/run/x"]}).status_code == 400


def test_compare_reads_the_runs_heads_in_one_query_whatever_their_number() -> None:
    """Fifty runs were fifty head queries (66 ms at 10k runs): now one, plus the values and the configurations."""
    from pyoxigraph import NamedNode

    from expgraph.catalog import prepare
    from expgraph.web import compare as compare_page
    from test_web_pages import CountingStore

    store = build(prepare(CountingStore()))
    try:
        runs = [NamedNode(iri("run", f"r{i}")) for i in range(1, 6)]
        store.queries = 0
        data = compare_page.compare(store, runs)
        assert store.queries == 3
        assert [(c["run"]["label"], c["status"], (c["experiment"] or {}).get("label")) for c in data["columns"]] == [
            ("run r1", "finished", "lr sweep"), ("run r2", "failed", "lr sweep"), ("run r3", "finished", "lr sweep"),
            ("<script>alert('name')</script>", "killed", "lr sweep"), ("follow-up", "finished", "smaller batches")]
        unknown = NamedNode("https://example.org/no-such-run")
        assert compare_page.compare(store, [unknown, runs[0]])["columns"][0]["run"]["iri"] == unknown.value
    finally:
        store.close()
