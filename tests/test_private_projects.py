"""Private projects for real: ``expgraph serve`` on loopback, restricted through its API by a CLI subprocess, read
by httpx as an anonymous caller, a reader, a reader whose token names the project, and an admin.

The catalog: Sacred runs imported into project ``secret``, TensorBoard runs into ``open``, and one records file
holding a result of each (a graph holding two projects). Every route a reader uses must show ``open`` and nothing
of ``secret``; every hostile query must find nothing of it, while the same query finds it for an admin (so each
check can fail).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from expgraph.namespaces import sparql_prologue
from test_team_server import expgraph, served

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BASE = "https://w3id.org/expgraph/id/"
SECRET_PROJECT = BASE + "project/secret"
#: What only the secret project's data contains: its run names, its IRIs and graphs, its result's title.
SECRET = ("mnist-mlp", "id/sacred/", "graph/sacred/", "project/secret", "Kestrel")
BOTH = """- project: secret
  id: secret-finding
  title: Kestrel schedule does not converge
  result_kind: refutes
- project: open
  id: open-finding
  title: Public baseline holds
  result_kind: supports
"""


def leaked(text: str) -> list[str]:
    return [marker for marker in SECRET if marker in text]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The store (built in-process: faster than three CLI processes) and a token per kind of caller."""
    from expgraph.cli import app
    from expgraph.team.tokens import TokenStore

    where = tmp_path_factory.mktemp("private")
    store, both = where / "store", where / "both.yaml"
    both.write_text(BOTH)
    runner = CliRunner()
    for args in (["import", "sacred", str(FIXTURES / "sacred" / "runs"), "--project", "secret"],
                 ["import", "tensorboard", str(FIXTURES / "tensorboard"), "--project", "open"],
                 ["import", "records", str(both)]):
        done = runner.invoke(app, ["--store", str(store), *args, "--no-validate"], env={**os.environ})
        assert done.exit_code == 0, done.output
    tokens = TokenStore.beside(store)
    secrets = {name: tokens.create(name, role, projects) for name, role, projects in (
        ("admin", "admin", ()), ("reader", "reader", ()), ("insider", "reader", ("secret",)),
        ("outsider", "curator", ("open",)), ("writer", "contributor", ()))}
    return {"store": store, **secrets}


@pytest.fixture(scope="module")
def server(catalog: dict) -> Iterator[str]:
    """The server, with ``secret`` restricted through it by ``expgraph project restrict`` (a CLI subprocess)."""
    store = catalog["store"]
    with served(store) as url:
        done = expgraph("--store", str(store), "--token", catalog["admin"], "project", "restrict", "secret")
        assert done.returncode == 0, done.stderr
        assert "restricted <" + SECRET_PROJECT + ">" in done.stdout
        yield url


def get(url: str, path: str, secret: str | None = None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.get(url + path, params=params, headers=headers, timeout=120)


def sparql(url: str, query: str, secret: str | None = None, accept: str = "text/csv", prologue: bool = True,
           **params: str | list[str]) -> httpx.Response:
    headers = {"Accept": accept, **({"Authorization": f"Bearer {secret}"} if secret else {})}
    text = (sparql_prologue() + query) if prologue else query
    return httpx.post(url + "/sparql", params=params, data={"query": text}, headers=headers, timeout=120)


def graph_names(url: str, secret: str | None = None) -> dict[str, dict]:
    return {g["name"]: g for g in get(url, "/api/v1/graphs", secret).json()}


def secret_runs(url: str, admin: str) -> list[str]:
    """The secret project's runs, those of its "mnist-mlp" experiment first (the tests look for its name)."""
    query = (f"SELECT ?r WHERE {{ ?r eg:inExperiment ?e . ?e eg:inProject <{SECRET_PROJECT}> "
             'OPTIONAL { ?e rdfs:label ?l } } ORDER BY DESC(COALESCE(?l = "mnist-mlp", false)) ?r')
    answer = sparql(url, query, admin)
    runs = list(dict.fromkeys(answer.text.split()[1:]))
    assert runs and all("/id/sacred/" in run for run in runs)
    return runs


# -- the command and its API ----------------------------------------------------------------------------------------


def test_restricting_is_for_admins_and_audited(catalog: dict, server: str) -> None:
    body = {"project": "open"}
    assert httpx.post(server + "/api/v1/projects/restrict", json=body, timeout=60).status_code == 401
    refused = httpx.post(server + "/api/v1/projects/restrict", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {catalog['outsider']}"})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert get(server, "/api/v1/projects/restricted", catalog["insider"]).status_code == 403
    listed = get(server, "/api/v1/projects/restricted", catalog["admin"]).json()
    assert [entry["project"] for entry in listed] == [SECRET_PROJECT]
    assert {name.split("/graph/")[1].split("/")[0] for name in listed[0]["graphs"]} == {"sacred", "records"}
    latest = get(server, "/api/v1/audit", catalog["admin"], limit="1").json()[0]
    assert (latest["action"], latest["agent"], latest["thing"]) == ("restrict", "admin", SECRET_PROJECT)
    assert get(server, "/api/v1/audit", catalog["reader"]).status_code == 403  # the trail is for writers
    assert get(server, "/api/v1/audit/verify", catalog["admin"]).json()["ok"]


def test_unrestrict_needs_a_restricted_project(catalog: dict, server: str) -> None:
    answer = httpx.post(server + "/api/v1/projects/unrestrict", json={"project": "open"}, timeout=60,
                        headers={"Authorization": f"Bearer {catalog['admin']}"})
    assert answer.status_code == 404 and "not restricted" in answer.json()["detail"]


def test_only_tokens_naming_a_restricted_project_write_into_it(catalog: dict, server: str) -> None:
    """A contributor whose token names no project may write into any project, but not into a restricted one:
    neither replacing a graph that holds it nor uploading records into it."""
    before = graph_names(server, catalog["admin"])
    hidden = next(name for name in before if "/graph/sacred/" in name)
    plain = b'<https://example.org/s> <https://example.org/p> "x" .\n'
    into = f"<{BASE}records/x/experiment/e> <https://w3id.org/expgraph#inProject> <{SECRET_PROJECT}> .\n".encode()
    for target, body in ((hidden, plain), (BASE + "graph/records/0000000000000777", into)):
        answer = httpx.put(server + "/api/v1/graphs", params={"graph": target}, content=body, timeout=120,
                           headers={"Content-Type": "application/n-triples",
                                    "Authorization": f"Bearer {catalog['writer']}"})
        assert answer.status_code == 403 and "restricted" in answer.json()["detail"]
    assert graph_names(server, catalog["admin"]) == before


# -- pages ------------------------------------------------------------------------------------------------------------

PAGES = ("/", "/runs", "/experiments", "/projects", "/results", "/datasets", "/search?q=mnist", "/search?q=Kestrel",
         "/dashboard", "/queries/recent-failures", "/queries/failures-by-mode", "/editor/terms",
         "/runs?project=" + quote(SECRET_PROJECT, safe=""))


@pytest.mark.parametrize("caller", [None, "outsider"])  # anonymous; a curator whose token names another project
def test_pages_show_nothing_of_a_restricted_project(catalog: dict, server: str, caller: str | None) -> None:
    secret = catalog[caller] if caller else None
    for page in PAGES:
        for fmt in ("html", "json"):
            answer = get(server, page + ("&" if "?" in page else "?") + f"format={fmt}", secret)
            assert answer.status_code == 200, (page, answer.text[:300])
            assert leaked(answer.text) == [], (caller, page, fmt)
    runs = get(server, "/runs", secret, format="json").json()
    assert runs["total"] == 5  # the open project's TensorBoard runs only
    counts = get(server, "/", secret, format="json").json()["counts"]
    assert (counts["runs"], counts["projects"], counts["experiments"]) == (5, 1, 2)
    assert "Public baseline holds" not in get(server, "/results", secret, format="json").text  # shared graph


def test_a_restricted_run_is_not_found_as_if_it_did_not_exist(catalog: dict, server: str) -> None:
    run = secret_runs(server, catalog["admin"])[0]
    path = "/id/" + run[len(BASE):]
    never = "/id/sacred/0000000000000000/run/1"
    for secret in (None, catalog["reader"]):
        for suffix in ("", ".ttl", ".jsonld"):
            hidden, absent = get(server, path + suffix, secret), get(server, never + suffix, secret)
            assert hidden.status_code == absent.status_code == 404  # not 403: nothing says it exists
            assert hidden.text.replace(run, "X") == absent.text.replace(BASE + never[4:], "X")
        for page, params in (("/compare", {"run": run}), ("/lineage", {"iri": run}), ("/charts/runs", {"run": run}),
                             ("/resource", {"iri": run, "format": "ttl"})):
            answer = get(server, page, secret, **params)
            assert leaked(answer.text.replace(run[len(BASE):], "")) == [], page  # the IRI asked for, echoed
    for secret in (catalog["insider"], catalog["admin"]):
        page = get(server, path, secret, format="json")  # any of its runs: the answer's order is the engine's
        assert page.status_code == 200 and page.json()["iri"] == run and leaked(page.text)


def test_a_curator_kept_from_the_project_cannot_probe_it_by_retiring(catalog: dict, server: str) -> None:
    run = secret_runs(server, catalog["admin"])[0]
    never = BASE + "sacred/0000000000000000/run/1"
    outsider = {"Authorization": f"Bearer {catalog['outsider']}"}  # a curator of the open project only
    admin = {"Authorization": f"Bearer {catalog['admin']}"}

    def answer(action: str, thing: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{server}/api/v1/{action}", json={"iri": thing, "reason": "probe"}, headers=headers,
                          timeout=60)

    hidden, absent = answer("retire", run, outsider), answer("retire", never, outsider)
    assert hidden.status_code == absent.status_code == 404  # as if it did not exist
    assert hidden.json()["detail"].replace(run, "X") == absent.json()["detail"].replace(never, "X")
    assert get(server, "/id/" + run[len(BASE):], catalog["admin"], format="json").json()["retired"] is None
    assert answer("retire", run, admin).json()["changed"] is True
    try:
        hidden, absent = answer("restore", run, outsider), answer("restore", never, outsider)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["detail"].replace(run, "X") == absent.json()["detail"].replace(never, "X")
        assert get(server, "/id/" + run[len(BASE):], catalog["admin"], format="json").json()["retired"]
    finally:
        assert answer("restore", run, admin).json()["changed"] is True


def test_a_token_naming_the_project_and_an_admin_see_it(catalog: dict, server: str) -> None:
    for caller in ("insider", "admin"):
        runs = get(server, "/runs", catalog[caller], format="json").json()
        assert runs["total"] == 13
        counts = get(server, "/", catalog[caller], format="json").json()["counts"]
        assert (counts["runs"], counts["projects"]) == (13, 2)
        assert "Kestrel" in get(server, "/search", catalog[caller], q="Kestrel", format="json").text
        assert "Public baseline holds" in get(server, "/results", catalog[caller], format="json").text
        assert "id/sacred/" in get(server, "/queries/recent-failures", catalog[caller], format="json").text
        assert any("/graph/sacred/" in name for name in graph_names(server, catalog[caller]))


# -- /sparql, the service description, the registry -------------------------------------------------------------------


def test_the_graph_listings_leave_it_out(catalog: dict, server: str) -> None:
    for secret in (None, catalog["reader"]):
        names = graph_names(server, secret)
        assert names and not any("/graph/sacred/" in n or "/graph/records/" in n for n in names)
        assert "https://w3id.org/expgraph/graph/imports" not in names  # the audit trail gathers every project
        description = get(server, "/sparql", secret)
        assert description.status_code == 200 and leaked(description.text) == []
        assert "graph/tensorboard/" in description.text
    assert "graph/sacred/" in get(server, "/sparql", catalog["admin"]).text


def hostile_queries(url: str, admin: str) -> list[tuple[str, str, dict]]:
    """Tricks to reach the secret graphs, each a valid query that finds the secret data for an admin."""
    graphs = graph_names(url, admin)
    name = next(n for n in graphs if "/graph/sacred/" in n)
    version = graphs[name]["version"]
    key = name.rsplit("/", 1)[1]
    escaped = "".join(f"\\u{ord(c):04X}" if c in "hs" else c for c in name)
    run = secret_runs(url, admin)[0]
    label = "?s rdfs:label ?l"
    return [
        ("GRAPH ?g over every graph", f"SELECT ?l WHERE {{ GRAPH ?g {{ {label} }} }}", {}),
        ("FROM NAMED the logical name", f"SELECT ?l FROM NAMED <{name}> WHERE {{ GRAPH ?g {{ {label} }} }}", {}),
        ("FROM the guessed version IRI", f"SELECT ?l FROM <{version}> WHERE {{ {label} }}", {}),
        ("GRAPH the version IRI", f"SELECT ?l WHERE {{ GRAPH <{version}> {{ {label} }} }}", {}),
        ("GRAPH the name, \\u-escaped", f"SELECT ?l WHERE {{ GRAPH <{escaped}> {{ {label} }} }}", {}),
        ("GRAPH a prefixed name", f"PREFIX secret: <{name[: -len(key)]}> "
                                  f"SELECT ?l WHERE {{ GRAPH secret:{key} {{ {label} }} }}", {}),
        ("BASE and a relative IRI", f"BASE <{name[: -len(key)]}> SELECT ?l WHERE {{ GRAPH <{key}> {{ {label} }} }}",
         {}),
        ("VALUES ?g with name and version", f"SELECT ?l WHERE {{ VALUES ?g {{ <{name}> <{version}> }} "
                                            f"GRAPH ?g {{ {label} }} }}", {}),
        ("a property path from the project", f"SELECT ?l WHERE {{ <{SECRET_PROJECT}> "
                                             f"^eg:inProject/^eg:inExperiment/rdfs:label ?l }}", {}),
        ("a negated property set path", f"SELECT ?l WHERE {{ <{run}> !(rdf:type)* ?x . ?x rdfs:label ?l }}", {}),
        ("a nested subquery with GRAPH", f"SELECT ?l WHERE {{ {{ SELECT ?g WHERE {{ GRAPH ?g {{ }} }} }} "
                                         f"{{ SELECT ?l ?g WHERE {{ GRAPH ?g {{ {label} }} }} }} }}", {}),
        ("a subquery naming the graph", f"SELECT ?l WHERE {{ {{ SELECT ?l WHERE {{ GRAPH <{name}> {{ {label} }} }} "
                                        f"}} }}", {}),
        ("FILTER on the graph's text", f"SELECT ?l WHERE {{ GRAPH ?g {{ {label} }} FILTER(CONTAINS(STR(?g), "
                                       f"\"{key}\")) }}", {}),
        ("default-graph-uri of the version", f"SELECT ?l WHERE {{ {label} }}", {"default-graph-uri": version}),
        ("named-graph-uri of the name", f"SELECT ?l WHERE {{ GRAPH ?g {{ {label} }} }}",
         {"named-graph-uri": name}),
        ("DESCRIBE a run", f"DESCRIBE <{run}>", {}),
        ("CONSTRUCT from the project", f"CONSTRUCT {{ ?e ?p ?o }} WHERE {{ ?e eg:inProject <{SECRET_PROJECT}> ; "
                                       "?p ?o }", {}),
        ("the audit trail", "SELECT ?x WHERE { GRAPH <https://w3id.org/expgraph/graph/imports> { ?a ?p ?x } }", {}),
        ("the restrictions graph", "SELECT ?x WHERE { GRAPH <https://w3id.org/expgraph/graph/restricted> "
                                   "{ ?x ?p ?o } }", {}),
    ]


def test_hostile_sparql_finds_nothing_of_it(catalog: dict, server: str) -> None:
    for title, query, params in hostile_queries(server, catalog["admin"]):
        for secret in (None, catalog["outsider"]):
            answer = sparql(server, query, secret, accept="text/csv, text/turtle;q=0.9", **params)
            assert answer.status_code in (200, 400), (title, answer.text[:300])
            text = answer.text
            for given in [*re.findall(r"<([^<>]*)>", query), *params.values()]:
                text = text.replace(given, "")  # a refusal may quote the graph asked for, as for any unknown one
            assert leaked(text) == [], (title, answer.text[:300])


def test_the_same_queries_find_it_for_an_admin(catalog: dict, server: str) -> None:
    """The control: every hostile query above is one that reaches the secret data when the caller may see it."""
    for title, query, params in hostile_queries(server, catalog["admin"]):
        answer = sparql(server, query, catalog["admin"], accept="text/csv, text/turtle;q=0.9", **params)
        assert answer.status_code == 200 and leaked(answer.text), (title, answer.text[:300])
    insider = sparql(server, "SELECT ?l WHERE { GRAPH ?g { ?s rdfs:label ?l } }", catalog["insider"])
    assert "mnist-mlp" in insider.text


def test_a_client_through_the_server_sees_what_its_token_may(catalog: dict, server: str) -> None:
    query = "SELECT ?l WHERE { ?r a eg:Run ; rdfs:label ?l }"
    anonymous = expgraph("--endpoint", server, "sparql", query, "--format", "csv")
    assert anonymous.returncode == 0 and leaked(anonymous.stdout) == [] and "baseline" in anonymous.stdout


def test_relative_graph_names_are_resolved_against_base() -> None:
    """``BASE`` then a relative graph name reaches the graph (for a caller who may read it), as the engine
    resolves it: the logical name is found after resolution, also in a ``PREFIX`` written relative to the base."""
    from pyoxigraph import NamedNode

    from expgraph.store.scope import logical_to_versions

    versions = {"https://example.org/graph/a": NamedNode("https://example.org/graph/a/version/1")}
    for query in ("BASE <https://example.org/graph/> SELECT * { GRAPH <a> { ?s ?p ?o } }",
                  "BASE <https://example.org/> PREFIX g: <graph/> SELECT * { GRAPH g:a { ?s ?p ?o } }"):
        assert "<https://example.org/graph/a/version/1>" in logical_to_versions(query, versions)
    unresolved = "SELECT * { GRAPH <a> { ?s ?p ?o } }"  # no BASE: relative to the endpoint, not a graph name
    assert logical_to_versions(unresolved, versions) == unresolved


# -- the rules, on a small in-memory store ----------------------------------------------------------------------------


def _tiny_store():
    """Three sources: one per project, and one holding both; plus the audit trail (written by the restriction)."""
    from pyoxigraph import Literal, NamedNode, Triple

    from expgraph.namespaces import EG, RDFS
    from expgraph.store import EmbeddedStore

    store = EmbeddedStore()
    for source, projects in (("a", ["secret"]), ("b", ["open"]), ("c", ["secret", "open"])):
        store.replace_graph(NamedNode(f"{BASE}graph/records/{source}"), [
            Triple(NamedNode(f"{BASE}records/{source}/experiment/{p}"), EG.inProject, NamedNode(f"{BASE}project/{p}"))
            for p in projects] + [Triple(NamedNode(f"{BASE}records/{source}/x"), RDFS.label, Literal(source))])
    return store


def test_what_a_restriction_hides_from_whom() -> None:
    from expgraph.store.base import AUDIT
    from expgraph.team import projects
    from expgraph.team.tokens import Token

    store = _tiny_store()
    where = {"agent": "ops", "client": "local", "base": BASE}
    assert projects.Restrictions.read(store).hidden_from(frozenset()) == frozenset()  # nothing restricted
    assert projects.restrict(store, projects.project_iri("secret", BASE), **where)
    assert not projects.restrict(store, projects.project_iri(SECRET_PROJECT, BASE), **where)  # by IRI: the same
    rules = projects.Restrictions.read(store)
    hidden = rules.hidden_from(projects.allowed_projects(None, BASE))
    assert hidden == {f"{BASE}graph/records/a", f"{BASE}graph/records/c", AUDIT.value, projects.RESTRICTED.value}
    reader = Token("r", "reader", ("open",), "")
    assert rules.hidden_from(projects.allowed_projects(reader, BASE)) == hidden
    for allowed in (Token("i", "reader", ("secret",), ""), Token("a", "admin", (), "")):
        assert rules.hidden_from(projects.allowed_projects(allowed, BASE)) == frozenset()
    assert projects.listing(store) == [{"project": SECRET_PROJECT, "graphs": [f"{BASE}graph/records/a",
                                                                              f"{BASE}graph/records/c"]}]
    assert projects.unrestrict(store, projects.project_iri("secret", BASE), **where)
    assert projects.Restrictions.read(store).hidden_from(frozenset()) == frozenset()
    with pytest.raises(projects.NotFound):
        projects.unrestrict(store, projects.project_iri("secret", BASE), **where)
    from expgraph.team.audit import recent, verify

    assert [(e["action"], e["thing"]) for e in recent(store)] == [("unrestrict", SECRET_PROJECT),
                                                                  ("restrict", SECRET_PROJECT)]
    assert verify(store).ok


def test_a_project_restricted_before_its_first_import_is_private_from_the_start() -> None:
    from pyoxigraph import NamedNode, Triple

    from expgraph.namespaces import EG
    from expgraph.team import projects

    store = _tiny_store()
    projects.restrict(store, projects.project_iri("later", BASE), agent="ops", client="local", base=BASE)
    assert projects.Restrictions.read(store).holding == {BASE + "project/later": frozenset()}
    source = NamedNode(f"{BASE}graph/records/d")
    later = NamedNode(BASE + "project/later")
    store.replace_graph(source, [Triple(NamedNode(f"{BASE}records/d/e"), EG.inProject, later)])
    assert source.value in projects.Restrictions.read(store).hidden_from(frozenset())


def test_page_state_per_scope_and_a_read_only_view() -> None:
    from pyoxigraph import NamedNode, Triple

    from expgraph.settings import Settings
    from expgraph.store import GraphScope, StoreError
    from expgraph.store.view import ScopedView
    from expgraph.web.state import WebState

    store = _tiny_store()
    state = WebState(store, Settings({}))
    hide = GraphScope(frozenset({f"{BASE}graph/records/a"}))
    assert state.within(state.scope) is state
    child = state.within(hide)
    assert child is state.within(hide) and isinstance(child.store, ScopedView)
    assert child.store.generation() != store.generation()  # so every cache kept by generation keeps them apart
    assert f"{BASE}graph/records/a" not in child.store.active_graphs()
    query = "SELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    labels = {row["l"].value for row in child.store.select(query)}
    assert labels == {"b", "c"}
    assert list(child.store.triples(NamedNode(f"{BASE}graph/records/a"))) == []
    with pytest.raises(StoreError):
        child.store.replace_graph(NamedNode(f"{BASE}graph/records/z"), [Triple(NamedNode(BASE + "s"),
                                                                              NamedNode(BASE + "p"),
                                                                              NamedNode(BASE + "o"))])


def test_page_routes_read_through_the_callers_state() -> None:
    """No route of the catalog reads the app's own store or caches without the caller's scope: pages go through
    ``reader_of(request)``, so a new page cannot forget it; the few routes that need the store itself (the endpoint,
    the history page reading old versions) pass ``scope_of(request)`` explicitly."""
    offenders = []
    for path in sorted((ROOT / "src" / "expgraph" / "web").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"state_of\(request\)\.(store|queries|lists|search|spec_labels)", line) \
                    and "scope_of(request)" not in text:
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_project_commands_on_a_local_store(cli) -> None:
    import json

    code, out, err = cli("project", "restrict", "secret")
    assert code == 0 and f"restricted <{SECRET_PROJECT}>" in out, err
    code, out, _ = cli("project", "list", "--json")
    assert code == 0 and json.loads(out) == [{"project": SECRET_PROJECT, "graphs": []}]
    code, out, _ = cli("audit-log", "show", "--json")
    assert [(e["action"], e["agent"].startswith("local:")) for e in json.loads(out)] == [("restrict", True)]
    assert cli("project", "unrestrict", "secret")[0] == 0
    assert cli("project", "unrestrict", "secret")[0] != 0  # NotFound, as a CliError (its wording: tested above)


def test_the_write_list_does_not_name_a_hidden_graph() -> None:
    from fastapi.testclient import TestClient

    from expgraph.settings import Settings
    from expgraph.team import projects
    from expgraph.web.app import create_app

    store = _tiny_store()
    projects.restrict(store, projects.project_iri("secret", BASE), agent="ops", client="local", base=BASE)
    app = create_app(store, Settings({}))
    seen = []
    with TestClient(app) as client:
        for target in (f"{BASE}graph/records/a", f"{BASE}graph/records/b"):  # hidden, then visible
            with app.state.team_writes.turn("ops", "replace", target):
                seen += [w["target"] for w in client.get("/api/v1/writes").json()]
    assert seen == ["(not visible to this token)", f"{BASE}graph/records/b"]


def test_the_warm_up_fills_anonymous_visitors_caches_too() -> None:
    from expgraph.settings import Settings
    from expgraph.team import projects
    from expgraph.web.app import create_app
    from expgraph.web.queries_routes import library, saved_job
    from expgraph.web.search import SEARCH
    from expgraph.web.sparql import close_runner
    from expgraph.web.state import state_of
    from expgraph.web.warmup import warm_up

    store = _tiny_store()
    projects.restrict(store, projects.project_iri("secret", BASE), agent="ops", client="local", base=BASE)
    app = create_app(store, Settings({"max_concurrent_queries": 1}))
    try:
        warm_up(app).join(120)
        state = state_of(app)
        anonymous = state.within(state.scope_for(None))
        assert anonymous is not state and anonymous.search.get(SEARCH).ready
        job = saved_job(library()["failures-by-mode"].bind({}), state.settings, scope=anonymous.scope)
        assert state.runner().run(job).cached
    finally:
        close_runner(app)
        store.close()
