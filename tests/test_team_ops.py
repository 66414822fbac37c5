"""Team operations in-process (the app, a real store, real tokens): retired things hidden from lists, facets and
search unless asked and bannered on their page; the audit trail's page, its role matrix and its graph hidden from
non-curators; token changes in the trail.

The same routes against a server in a child process are in test_team_server.py; these are the fast checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pyoxigraph import NamedNode

from expgraph.settings import load_settings
from expgraph.store import Store
from expgraph.team import audit
from expgraph.team.actions import retire
from expgraph.web.app import create_app
from web_data import build, iri

R1, R2 = iri("run", "r1"), iri("run", "r2")
ROLES = ("reader", "contributor", "curator", "admin")


@pytest.fixture
def store(memory_store: Store) -> Store:
    return build(memory_store)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, load_settings(environ={}))) as test_client:
        yield test_client


@pytest.fixture
def secrets(client: TestClient) -> dict[str, str]:
    """A token per role, made on the server's token table (in memory, as for an in-memory store)."""
    tokens = client.app.state.team_tokens
    return {role: tokens.create(role, role, agent="local:test") for role in ROLES}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def run_iris(answer) -> list[str]:
    return [item["iri"] for item in answer.json()["items"]]


def test_a_retired_run_leaves_lists_facets_and_search_but_keeps_its_page(client: TestClient, store: Store) -> None:
    before = client.get("/runs", params={"format": "json", "limit": 200}).json()
    status_counts = {f["name"]: {v["value"]: v["count"] for v in f["values"]} for f in before["facets"]}["status"]
    label = next(item["label"] for item in before["items"] if item["iri"] == R1)
    assert client.get("/search", params={"q": label, "format": "json"}).json()["total"] >= 1
    retire(store, NamedNode(R1), "duplicate of r2", agent="keeper", client="test", base=load_settings(environ={})
           .base_iri)

    after = client.get("/runs", params={"format": "json", "limit": 200}).json()
    assert R1 not in run_iris(client.get("/runs", params={"format": "json", "limit": 200}))
    assert after["total"] == before["total"] - 1
    status_after = {f["name"]: {v["value"]: v["count"] for v in f["values"]} for f in after["facets"]}["status"]
    assert sum(status_after.values()) == sum(status_counts.values()) - 1
    assert all(h["resource"]["iri"] != R1 for h in client.get("/search", params={"q": label, "format": "json"})
               .json()["hits"])

    shown = client.get("/runs", params={"format": "json", "limit": 200, "include": "retired"}).json()
    assert shown["total"] == before["total"]
    marked = {item["iri"]: item["retired"] for item in shown["items"]}
    assert marked[R1] is True and marked[R2] is False
    hits = client.get("/search", params={"q": label, "format": "json", "include": "retired"}).json()["hits"]
    assert any(h["resource"]["iri"] == R1 and h["retired"] for h in hits)
    assert "Include retired" in client.get("/runs").text and "badge retired" in client.get(
        "/runs", params={"include": "retired"}).text

    page = client.get(R1.replace(load_settings(environ={}).base_iri, "/id/"), params={"format": "json"})
    assert page.status_code == 200
    assert {k: page.json()["retired"][k] for k in ("reason", "agent")} == {"reason": "duplicate of r2",
                                                                           "agent": "keeper"}
    html = client.get(R1.replace(load_settings(environ={}).base_iri, "/id/")).text
    assert "Retired" in html and "duplicate of r2" in html and "keeper" in html
    assert client.get(R2.replace(load_settings(environ={}).base_iri, "/id/"), params={"format": "json"}).json()[
        "retired"] is None


def test_the_audit_page_is_for_curators_and_admins(client: TestClient, secrets: dict[str, str]) -> None:
    anonymous = client.get("/audit")
    assert anonymous.status_code == 401 and "curator" in anonymous.json()["detail"]
    for role in ("reader", "contributor"):
        refused = client.get("/audit", headers=bearer(secrets[role]))
        assert refused.status_code == 403 and f"role {role}" in refused.json()["detail"]
        assert client.get("/api/v1/audit", headers=bearer(secrets[role])).status_code == 403
        assert client.get("/api/v1/audit/verify", headers=bearer(secrets[role])).status_code == 403
    for role in ("curator", "admin"):
        page = client.get("/audit", headers=bearer(secrets[role]))
        assert page.status_code == 200 and "Audit trail" in page.text
        assert client.get("/api/v1/audit", headers=bearer(secrets[role])).status_code == 200


def test_token_changes_are_audit_entries_newest_first_and_paged(client: TestClient, store: Store,
                                                                secrets: dict[str, str]) -> None:
    client.app.state.team_tokens.revoke("reader", agent="local:test")
    admin = bearer(secrets["admin"])
    first = client.get("/audit", params={"format": "json", "limit": 3}, headers=admin).json()
    assert [(e["index"], e["action"], e["agent"]) for e in first["entries"]] == [
        ("4", "token revoke", "local:test"), ("3", "token create", "local:test"), ("2", "token create", "local:test")]
    assert first["entries"][1]["reason"] == "role admin"
    rest = client.get("/audit", params={"format": "json", "before": first["next"]["before"]}, headers=admin).json()
    assert [e["index"] for e in rest["entries"]] == ["1", "0"] and rest["next"] is None
    assert audit.verify(store).ok and audit.verify(store).entries == 5
    # recorded once, however often the trail is read
    client.get("/audit", headers=admin)
    assert audit.verify(store).entries == 5


def test_the_audit_graph_is_hidden_from_sparql_below_curator(client: TestClient, secrets: dict[str, str]) -> None:
    query = "ASK { GRAPH ?g { ?e <https://w3id.org/expgraph/audit#agentName> ?who } }"
    accept = {"Accept": "application/sparql-results+json"}
    flat = "ASK { ?e <https://w3id.org/expgraph/audit#agentName> ?who }"
    client.get("/audit", headers=bearer(secrets["admin"]))  # the token changes are in the trail now
    for role, expected in (("reader", False), ("contributor", False), ("curator", True), ("admin", True)):
        for text in (query, flat):
            answer = client.get("/sparql", params={"query": text}, headers={**accept, **bearer(secrets[role])})
            assert answer.json()["boolean"] is expected, (role, text)
    anonymous = client.get("/sparql", params={"query": flat}, headers=accept)
    assert anonymous.json()["boolean"] is False
    named = client.get("/sparql", params={"query": flat, "default-graph-uri": audit.AUDIT.value}, headers=accept)
    assert named.status_code == 400 and "not in this store" in named.text  # as if it did not exist
