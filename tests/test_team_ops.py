"""Team operations in-process (the app, a real store, real tokens): retired things hidden from lists, facets and
search unless asked and bannered on their page; the audit trail's page, its role matrix and its graph hidden from
non-curators; token changes in the trail.

The same routes against a server in a child process are in test_team_server.py; these are the fast checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    counted = client.get("/", params={"format": "json"}).json()["counts"]
    status_counts = {f["name"]: {v["value"]: v["count"] for v in f["values"]} for f in before["facets"]}["status"]
    label = next(item["label"] for item in before["items"] if item["iri"] == R1)
    assert client.get("/search", params={"q": label, "format": "json"}).json()["total"] >= 1
    retire(store, NamedNode(R1), "duplicate of r2", agent="keeper", client="test", base=load_settings(environ={})
           .base_iri)

    after = client.get("/runs", params={"format": "json", "limit": 200}).json()
    assert client.get("/", params={"format": "json"}).json()["counts"]["runs"] == counted["runs"] - 1
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


def test_the_audit_page_is_for_those_who_may_write(client: TestClient, secrets: dict[str, str]) -> None:
    anonymous = client.get("/audit")
    assert anonymous.status_code == 401 and "contributor" in anonymous.json()["detail"]
    refused = client.get("/audit", headers=bearer(secrets["reader"]))
    assert refused.status_code == 403 and "role reader" in refused.json()["detail"]
    assert client.get("/api/v1/audit", headers=bearer(secrets["reader"])).status_code == 403
    assert client.get("/api/v1/audit/verify", headers=bearer(secrets["reader"])).status_code == 403
    for role in ("contributor", "curator", "admin"):
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


def test_the_audit_graph_is_hidden_from_readers_and_visitors_on_sparql(client: TestClient,
                                                                       secrets: dict[str, str]) -> None:
    query = "ASK { GRAPH ?g { ?e <https://w3id.org/expgraph/audit#agentName> ?who } }"
    accept = {"Accept": "application/sparql-results+json"}
    flat = "ASK { ?e <https://w3id.org/expgraph/audit#agentName> ?who }"
    client.get("/audit", headers=bearer(secrets["admin"]))  # the token changes are in the trail now
    for role, expected in (("reader", False), ("contributor", True), ("curator", True), ("admin", True)):
        for text in (query, flat):
            answer = client.get("/sparql", params={"query": text}, headers={**accept, **bearer(secrets[role])})
            assert answer.json()["boolean"] is expected, (role, text)
    anonymous = client.get("/sparql", params={"query": flat}, headers=accept)
    assert anonymous.json()["boolean"] is False
    named = client.get("/sparql", params={"query": flat, "default-graph-uri": audit.AUDIT.value}, headers=accept)
    assert named.status_code == 400 and "not in this store" in named.text  # as if it did not exist


def test_an_audit_entry_s_own_page_is_for_those_who_may_read_the_trail(client: TestClient,
                                                                       secrets: dict[str, str]) -> None:
    client.get("/audit", headers=bearer(secrets["admin"]))  # the token changes are in the trail now
    base = load_settings(environ={}).base_iri
    entry = audit.entry_node(base, 0).value
    agent = audit.agent_node(base, "admin").value
    for thing in (entry, agent):
        path = thing.replace(base, "/id/")
        for headers in ({}, bearer(secrets["reader"])):
            for suffix, params in (("", {}), ("", {"format": "json"}), (".ttl", {})):
                hidden = client.get(path + suffix, params=params, headers=headers)
                assert hidden.status_code == 404, (thing, headers, suffix)
                assert "local:test" not in hidden.text and "token" not in hidden.text.replace(path, "")
            by_iri = client.get("/resource", params={"iri": thing, "format": "ttl"}, headers=headers)
            assert by_iri.status_code == 404
        for role in ("contributor", "curator", "admin"):
            shown = client.get(path, params={"format": "json"}, headers=bearer(secrets[role]))
            assert shown.status_code == 200, (thing, role)
        assert "local:test" in client.get(entry.replace(base, "/id/") + ".ttl",
                                          headers=bearer(secrets["contributor"])).text


RECORDS = Path(__file__).parent / "fixtures" / "records"
YAML = {"Content-Type": "application/yaml"}


def test_posting_a_record_role_by_role(client: TestClient, store: Store, secrets: dict[str, str]) -> None:
    body = (RECORDS / "negative-results.yaml").read_bytes()
    anonymous = client.post("/api/v1/records", content=body, headers=YAML)
    assert anonymous.status_code == 401 and "contributor" in anonymous.json()["detail"]
    reader = client.post("/api/v1/records", content=body, headers={**YAML, **bearer(secrets["reader"])})
    assert reader.status_code == 403 and "role reader" in reader.json()["detail"]
    tokens = client.app.state.team_tokens
    nlp = bearer(tokens.create("nlp-only", "contributor", ["nlp"]))
    outside = client.post("/api/v1/records", content=body, headers={**YAML, **nlp})
    assert outside.status_code == 403 and "nlp" in outside.json()["detail"]

    done = client.post("/api/v1/records", content=body, params={"source": "lab-notes"},
                       headers={**YAML, **bearer(secrets["contributor"])})
    assert done.status_code == 200, done.text
    assert done.json()["changed"] and done.json()["results"] == 2 and done.json()["source"] == "lab-notes"
    graph = done.json()["graph"]
    assert graph in store.active_graphs()
    again = client.post("/api/v1/records", content=body, params={"source": "lab-notes"},
                        headers={**YAML, **bearer(secrets["contributor"])})
    assert again.status_code == 200 and again.json()["changed"] is False and again.json()["graph"] == graph
    as_json = client.post("/api/v1/records", content=(RECORDS / "negative-results.json").read_bytes(),
                          params={"project": "nlp"}, headers={"Content-Type": "application/json", **nlp})
    assert as_json.status_code == 200 and as_json.json()["graph"] != graph  # its own source: the body's digest
    latest = audit.recent(store, 2)
    assert [(e["action"], e["agent"]) for e in latest] == [("record", "nlp-only"), ("record", "contributor")]


def test_a_bad_record_is_refused_in_one_line_and_changes_nothing(client: TestClient, store: Store,
                                                                  secrets: dict[str, str]) -> None:
    writer = bearer(secrets["contributor"])
    before = store.generation()
    bad = client.post("/api/v1/records", content=b"- project: vision\n  title: no id\n", headers={**YAML, **writer})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("the posted record: ")
    assert "id" in bad.json()["detail"] and "\n" not in bad.json()["detail"] and "/tmp" not in bad.json()["detail"]
    wrong = client.post("/api/v1/records", content=b"<a> <b> <c> .", headers={"Content-Type": "text/turtle", **writer})
    assert wrong.status_code == 415 and "application/yaml" in wrong.json()["detail"]
    named = client.post("/api/v1/records", content=b"[]", params={"source": "../x"},
                        headers={"Content-Type": "application/json", **writer})
    assert named.status_code == 400
    assert store.generation() == before


def test_validation_through_the_api_role_by_role(client: TestClient, secrets: dict[str, str]) -> None:
    assert client.post("/api/v1/validate").status_code == 401
    assert client.post("/api/v1/validate", headers=bearer(secrets["reader"])).status_code == 403
    done = client.post("/api/v1/validate", headers=bearer(secrets["contributor"]))
    assert done.status_code == 200, done.text
    summary = done.json()
    assert set(summary) >= {"conforms", "counts", "completeness", "results", "missing_most"}
    assert isinstance(summary["results"], int) and summary["results"] == sum(summary["counts"].values())
    bad = client.post("/api/v1/validate", params={"fail_on": "sometimes"}, headers=bearer(secrets["contributor"]))
    assert bad.status_code == 400 and "fail_on" in bad.json()["detail"]


def test_the_new_routes_are_in_the_openapi_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/records", "/api/v1/validate", "/audit"} <= set(paths)
    assert "application/yaml" in paths["/api/v1/records"]["post"]["requestBody"]["content"]


PROXY = {"proxy_user_header": "X-Forwarded-User", "proxy_addresses": "10.0.0.0/24, ::1"}


def proxied(store: Store, peer: str, **settings: str) -> TestClient:
    """The app as a peer at ``peer`` reaches it, with anonymous reading off (a team's server behind its proxy)."""
    app = create_app(store, load_settings({"anonymous_read": "off", **settings}, environ={}))
    return TestClient(app, client=(peer, 40000))


def test_the_proxy_user_header_is_trusted_from_the_proxy_only(store: Store) -> None:
    user = {"X-Forwarded-User": "alice"}
    with proxied(store, "10.0.0.7", **PROXY) as proxy:
        proxy.app.state.team_tokens.create("alice", "curator", agent="local:test")
        assert proxy.get("/runs", params={"format": "json"}, headers=user).status_code == 200
        allowed = proxy.get("/audit", params={"format": "json"}, headers=user)  # alice's token's role: curator
        assert allowed.status_code == 200
        unknown = {"X-Forwarded-User": "bob"}  # signed in, no token of that name: a reader
        assert proxy.get("/runs", params={"format": "json"}, headers=unknown).status_code == 200
        assert proxy.get("/audit", headers=unknown).status_code == 403
        assert proxy.get("/runs", params={"format": "json"}).status_code == 401  # no header: nobody
    with proxied(store, "192.168.1.9", **PROXY) as around:  # around the proxy: the header is ignored
        around.app.state.team_tokens.create("alice", "curator", agent="local:test")
        spoofed = around.get("/runs", params={"format": "json"}, headers=user)
        assert spoofed.status_code == 401
        assert around.post("/api/v1/validate", headers=user).status_code == 401


def test_the_proxy_user_header_is_off_by_default(store: Store) -> None:
    with proxied(store, "10.0.0.7") as proxy:
        proxy.app.state.team_tokens.create("alice", "admin", agent="local:test")
        assert proxy.get("/runs", headers={"X-Forwarded-User": "alice"}).status_code == 401


def test_a_proxy_header_without_proxy_addresses_fails_at_start(store: Store) -> None:
    with pytest.raises(ValueError, match="proxy_addresses"):
        create_app(store, load_settings({"proxy_user_header": "X-Forwarded-User"}, environ={}))
    with pytest.raises(ValueError, match="not an address"):
        create_app(store, load_settings({**PROXY, "proxy_addresses": "proxy.example"}, environ={}))


def test_saved_queries_listing_runs_leave_retired_runs_out(store: Store) -> None:
    from pyoxigraph import QuerySolutions

    from expgraph.sparql.saved import get_query, run_saved

    def failures() -> list[str]:
        result = run_saved(store, get_query("recent-failures"), {})
        assert isinstance(result, QuerySolutions)
        return [row["run"].value for row in result]

    before = failures()
    assert R2 in before and iri("run", "r4") in before
    retire(store, NamedNode(R2), "bad seed", agent="keeper", client="test", base=load_settings(environ={}).base_iri)
    assert failures() == [r for r in before if r != R2]


def test_a_registry_read_during_a_write_is_not_kept(tmp_path: Path) -> None:
    """Regression: a page read the registry on one thread while a retirement was written on another; the old
    registry it read was cached after the write, so the writer's own check saw no new version ("written
    concurrently by another writer") and later queries read the old version. Here the write lands between the
    registry read and its caching, deterministically."""
    from pyoxigraph import Literal, Triple

    from expgraph.store import EmbeddedStore

    store = EmbeddedStore(tmp_path / "store")
    graph = NamedNode("https://example.org/graph")
    store.replace_graph(graph, [Triple(graph, NamedNode("https://example.org/p"), Literal("one"))])
    reading = store._query
    interleaved = []

    def query_then_write(sparql: str, **kwargs):
        result = reading(sparql, **kwargs)
        if "activeVersion" in sparql and not interleaved:  # the registry as it was (the query's snapshot)
            interleaved.append(True)
            store.replace_graph(graph, [Triple(graph, NamedNode("https://example.org/p"), Literal("two"))])
        return result

    store._query = query_then_write  # type: ignore[method-assign]
    store._forget_registry()
    store.active_graphs()  # read before the write, returned after it
    store._query = reading  # type: ignore[method-assign]
    assert interleaved
    assert [t.object.value for t in store.triples(graph)] == ["two"]
    store.close()
