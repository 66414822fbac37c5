"""The team server for real: ``expgraph serve`` in a child process on a free loopback port, real clients (the CLI
in child processes, and in this process for further calls of a command a test has run as a child; httpx; a raw
socket that dies mid-upload)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from expgraph.store import EmbeddedStore
from expgraph.store.base import AUDIT, REGISTRY, STORE
from loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_RECORDS = ROOT / "tests" / "fixtures" / "records" / "negative-results.yaml"
CLI = [sys.executable, "-c", "from expgraph.cli import main; main()"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stops servers with SIGINT")


def expgraph(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def in_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The same command in this process (a second less than a child's start-up), for calls that succeed: a test
    still runs each command at least once as a child, and every refusal there (exit code and error line are the
    entry point's, which the in-process runner skips)."""
    from cli_inprocess import run_cli

    code, stdout, stderr = run_cli(*args, env=dict(env or {}))
    return subprocess.CompletedProcess(["expgraph", *args], code, stdout, stderr)


@contextlib.contextmanager
def served(store: Path, **settings: str) -> Iterator[str]:
    """``expgraph serve`` on ``store`` until the block ends; yields its URL once it answers."""
    port = free_port()
    env = {**os.environ, **{f"EXPGRAPH_{k.upper()}": v for k, v in settings.items()}}
    process = subprocess.Popen([*CLI, "--store", str(store), "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(url + "/api/v1/info", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # polling the server's readiness, not standing in for synchronisation
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


@pytest.fixture(scope="module")
def store(notebook_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's own copy of the session's lab-notebook store, which the module's server serves."""
    return Path(shutil.copytree(notebook_template, tmp_path_factory.mktemp("team") / "store"))


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[str]:
    with served(store, max_upload_mb="1") as url:
        yield url


def token(store: Path, name: str, role: str, *projects: str) -> str:
    """``token create`` in-process (a file beside the store, served or not); a token command in a child process:
    ``token list`` in test_backup_opens_as_a_store_with_its_tokens."""
    from cli_inprocess import run_cli

    args = [a for p in projects for a in ("--project", p)]
    code, stdout, stderr = run_cli("--store", str(store), "token", "create", name, "--role", role, *args)
    assert code == 0, stderr
    return stdout.strip()


@pytest.fixture(scope="module")
def auditor(store: Path, server: str) -> dict[str, str]:
    """Headers that may read the audit trail (contributors and above may)."""
    return {"Authorization": f"Bearer {token(store, 'auditor', 'curator')}"}


def graphs(url: str) -> dict[str, dict]:
    return {g["name"]: g for g in httpx.get(url + "/api/v1/graphs", timeout=60).json()}


def test_the_endpoint_hint_works_against_our_own_server(server: str) -> None:
    """`expgraph --endpoint URL query ...` against `expgraph serve` (it used to give 404 and a traceback)."""
    done = expgraph("--endpoint", server, "query", "failures-by-mode", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["results"]["bindings"]
    assert rows and all("failures" in row or len(row) >= 2 for row in rows)


def test_commands_on_a_served_store_go_through_the_server(store: Path, server: str) -> None:
    record = json.loads((store / "server.json").read_text())
    assert record["url"] == server
    done = expgraph("--store", str(store), "sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?r a eg:Run }",
                    "--format", "csv")
    assert done.returncode == 0, done.stderr  # no "store is in use by another process"
    assert int(done.stdout.split()[-1]) >= 1


def test_import_while_served_needs_a_token_and_goes_through_the_server(store: Path, server: str,
        auditor: dict[str, str]) -> None:
    refused = expgraph("--store", str(store), "import", "records", str(FIXTURE_RECORDS), "--no-validate")
    assert refused.returncode == 2
    assert "401" in refused.stderr and "token" in refused.stderr and "Traceback" not in refused.stderr
    secret = token(store, "importer", "contributor")
    env = {"EXPGRAPH_TOKEN": secret}
    first = in_process("--store", str(store), "import", "records", str(FIXTURE_RECORDS), "--format", "json", env=env)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert outcome["changed"] and outcome["graph"] in graphs(server)
    again = in_process("--store", str(store), "import", "records", str(FIXTURE_RECORDS), "--format", "json",
                       "--no-validate", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False
    verdict = httpx.get(server + "/api/v1/audit/verify", timeout=60, headers=auditor).json()
    assert verdict["ok"] and verdict["entries"] >= 1


NT = "application/n-triples"


def _put(url: str, graph: str, body: bytes, secret: str | None, content_type: str = NT) -> httpx.Response:
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {secret}"} if secret else {})}
    return httpx.put(url + "/api/v1/graphs", params={"graph": graph}, content=body, headers=headers, timeout=120)


def test_role_matrix_on_the_write_api(store: Path, server: str) -> None:
    base = "https://w3id.org/expgraph/id/"
    source = base + "graph/records/feedbeeffeedbeef"
    body = f'<{base}run/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" .\n'.encode()
    in_project = body + f"<{base}exp/x> <https://w3id.org/expgraph#inProject> <{base}project/vision> .\n".encode()
    reader, vision = token(store, "reader", "reader"), token(store, "vision-team", "contributor", "vision")
    contributor, curator = token(store, "anyone", "contributor"), token(store, "curator", "curator")

    assert _put(server, source, body, None).status_code == 401
    bad = _put(server, source, body, "egt_not-a-token")
    assert bad.status_code == 401 and "not valid" in bad.json()["detail"]
    refused = _put(server, source, body, reader)
    assert refused.status_code == 403 and "reader" in refused.json()["detail"]
    assert _put(server, source, body, contributor, "text/turtle").status_code == 415
    assert _put(server, source, b"<a> <b> .\n" * 200_000, contributor).status_code == 413  # max_upload_mb=1
    assert _put(server, source, b"<not an iri> <b> <c> .\n", contributor).status_code == 400
    assert _put(server, source, in_project, vision).status_code == 200
    other = in_project.replace(b"project/vision", b"project/nlp")
    outside = _put(server, source, other, vision)
    assert outside.status_code == 403 and "project" in outside.json()["detail"]
    nlp_source = source.replace("feedbeef", "0000beef")
    assert _put(server, nlp_source, other, contributor).status_code == 200
    overwrite = _put(server, nlp_source, body, vision)  # no project in the upload, but it replaces nlp's records
    assert overwrite.status_code == 403 and "project/nlp" in overwrite.json()["detail"]
    loaded = base + "graph-elsewhere/x"
    assert _put(server, loaded, body, contributor).status_code == 403  # loading RDF outside imports: curator
    assert _put(server, loaded, body, curator).status_code == 200
    registry = "https://w3id.org/expgraph/graph/registry"
    assert _put(server, registry, body, curator).status_code == 403
    assert httpx.get(server + "/api/v1/graphs", timeout=60).status_code == 200  # anonymous read on loopback


def test_a_client_killed_mid_upload_changes_nothing(store: Path, server: str, tmp_path: Path) -> None:
    secret = token(store, "dies", "contributor")
    target = next(name for name in graphs(server) if "/graph/records/" in name)
    before = graphs(server)[target]
    port = int(server.rsplit(":", 1)[1])
    client = f"""
import socket, sys, time
line = b'<https://example.org/s> <https://example.org/p> "a value long enough to make some bytes" .\\n'
body = line * 6000
sock = socket.create_connection(("127.0.0.1", {port}))
sock.sendall(b"PUT /api/v1/graphs?graph={target} HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer {secret}\\r\\n"
             b"Content-Type: application/n-triples\\r\\nContent-Length: %d\\r\\n\\r\\n" % (len(body) * 2))
sock.sendall(body)
print("half sent", flush=True)
time.sleep(600)
"""
    dying = subprocess.Popen([sys.executable, "-c", client], stdout=subprocess.PIPE, text=True)
    try:
        assert dying.stdout is not None and dying.stdout.readline().strip() == "half sent"
    finally:
        dying.kill()
        dying.communicate(timeout=30)
    after = graphs(server)[target]
    assert (after["version"], after["digest"], after["triples"]) == (
        before["version"], before["digest"], before["triples"])
    done = expgraph("--endpoint", server, "query", "failures-by-mode")
    assert done.returncode == 0, done.stderr


def test_concurrent_writes_are_serialised_and_chained(store: Path, server: str,
        auditor: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    secret = token(store, "parallel", "contributor")
    graph = "https://w3id.org/expgraph/id/graph/records/0123456789abcdef"

    def write(n: int) -> int:
        lines = "".join(f'<https://example.org/r{n}/{i}> <https://example.org/p> "{i}" .\n' for i in range(2000))
        return _put(server, graph, lines.encode(), secret).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(write, range(4))) == [200] * 4
    assert graphs(server)[graph]["triples"] == 2000
    verdict = httpx.get(server + "/api/v1/audit/verify", timeout=60, headers=auditor).json()
    assert verdict["ok"], verdict["problems"]


def test_anonymous_read_off_needs_a_reader_token(notebook_store: Path) -> None:
    store = notebook_store
    secret = token(store, "reader", "reader")
    with served(store, anonymous_read="off") as url:
        assert httpx.get(url + "/api/v1/info", timeout=60).status_code == 200  # how clients recognise us
        for path in ("/runs", "/sparql?query=ASK%7B%7D", "/api/v1/graphs"):
            answer = httpx.get(url + path, timeout=60)
            assert answer.status_code == 401, path
            assert "token" in answer.text
            assert httpx.get(url + path, headers={"Authorization": f"Bearer {secret}"},
                             timeout=60).status_code == 200, path
        refused = expgraph("--endpoint", url, "query", "failures-by-mode")
        assert refused.returncode == 2 and "401" in refused.stderr
        allowed = in_process("--endpoint", url, "--token", secret, "query", "failures-by-mode")
        assert allowed.returncode == 0, allowed.stderr
    assert not (store / "server.json").exists()  # removed when the server stops


def test_a_stale_discovery_file_is_ignored(notebook_store: Path) -> None:
    store = notebook_store
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (store / "server.json").write_text(json.dumps({"url": f"http://127.0.0.1:{free_port()}", "pid": dead.pid}))
    done = expgraph("--store", str(store), "stats", "--format", "json")
    assert done.returncode == 0, done.stderr


def test_audit_log_verify_names_an_edited_entry(notebook_store: Path) -> None:
    store = notebook_store
    secret = token(store, "writer", "contributor")
    with served(store) as url:
        for n in range(3):
            body = f'<https://example.org/s> <https://example.org/p> "{n}" .\n'.encode()
            assert _put(url, "https://w3id.org/expgraph/id/graph/records/00000000000000aa", body,
                        secret).status_code == 200
    intact = expgraph("--store", str(store), "audit-log", "verify")
    assert intact.returncode == 0 and "4 entries" in intact.stdout
    shown = json.loads(in_process("--store", str(store), "audit-log", "show", "--json").stdout)
    assert [(e["index"], e["agent"], e["action"], e.get("triples_after")) for e in shown] == [
        ("3", "writer", "replace", "1"), ("2", "writer", "replace", "1"), ("1", "writer", "replace", "1"),
        ("0", shown[3]["agent"], "token create", None)]
    assert shown[3]["agent"].startswith("local:") and shown[3]["reason"] == "role contributor"
    assert shown[0]["digest_before"] == shown[1]["digest_after"] and shown[0]["client"] == "127.0.0.1"
    import pyoxigraph

    ox = pyoxigraph.Store(str(store))
    ox.update("""PREFIX a: <https://w3id.org/expgraph/audit#>
        DELETE { GRAPH ?g { ?e a:triplesAfter ?n } } INSERT { GRAPH ?g { ?e a:triplesAfter 99 } }
        WHERE { GRAPH ?g { ?e a:index 1 ; a:triplesAfter ?n } }""")
    ox.flush()
    del ox
    broken = in_process("--store", str(store), "audit-log", "verify")
    assert broken.returncode == 1
    assert "entry 1 " in broken.stderr and "/audit/1>" in broken.stderr and "edited" in broken.stderr


def _select(url: str, query: str, headers: dict[str, str] | None = None) -> httpx.Response:
    from expgraph.namespaces import sparql_prologue

    answer = httpx.post(url + "/sparql", data={"query": sparql_prologue() + query},
                        headers={"Accept": "application/sparql-results+json", **(headers or {})}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


def _ask(url: str, query: str, headers: dict[str, str] | None = None) -> bool:
    return _select(url, query, headers).json()["boolean"]


def test_retire_and_restore_through_the_server(store: Path, server: str,
        auditor: dict[str, str]) -> None:
    run = _select(server, "SELECT ?r WHERE { ?r a eg:Run } LIMIT 1")
    iri = run.json()["results"]["bindings"][0]["r"]["value"]
    curator, contributor = token(store, "keeper", "curator"), token(store, "helper", "contributor")
    refused = expgraph("--store", str(store), "--token", contributor, "retire", iri, "--reason", "duplicate")
    assert refused.returncode == 2 and "403" in refused.stderr and "curator" in refused.stderr
    done = in_process("--store", str(store), "--token", curator, "retire", iri, "--reason", "duplicate of run 7")
    assert done.returncode == 0 and "retired" in done.stdout, done.stderr
    retired = f"""
        PREFIX a: <https://w3id.org/expgraph/audit#>
        ASK {{ <{iri}> eg:retired ?activity . ?activity a:reason "duplicate of run 7" ; a:agentName "keeper" ;
               prov:startedAtTime ?when }}"""
    assert _ask(server, retired, auditor)  # the trail is for writers; the page shows why, by whom, when to all
    assert not _ask(server, retired)
    again = in_process("--store", str(store), "--token", curator, "retire", iri, "--reason", "again")
    assert again.returncode == 0 and "already" in again.stdout
    unknown = expgraph("--store", str(store), "--token", curator, "retire", "https://example.org/nothing",
                       "--reason", "x")
    assert unknown.returncode == 2 and "404" in unknown.stderr
    assert in_process("--store", str(store), "--token", curator, "restore", iri).returncode == 0
    assert not _ask(server, f"ASK {{ <{iri}> eg:retired ?a }}")
    assert _ask(server, f"ASK {{ <{iri}> a eg:Run }}")  # retired or not, it stayed in the catalog
    restored_again = expgraph("--store", str(store), "--token", curator, "restore", iri)
    assert restored_again.returncode == 2 and "not retired" in restored_again.stderr
    verdict = httpx.get(server + "/api/v1/audit/verify", timeout=60, headers=auditor).json()
    assert verdict["ok"], verdict["problems"]


def test_backup_opens_as_a_store_with_its_tokens(store: Path, server: str, tmp_path: Path) -> None:
    admin = token(store, "admin", "admin")
    target = tmp_path / "backup"
    refused = expgraph("--store", str(store), "--token", token(store, "not-admin", "curator"), "backup", str(target))
    assert refused.returncode == 2 and "403" in refused.stderr and not target.exists()
    done = in_process("--store", str(store), "--token", admin, "backup", str(target))
    assert done.returncode == 0, done.stderr
    copied = in_process("--store", str(target), "stats", "--format", "json")
    assert copied.returncode == 0, copied.stderr
    assert {g["graph"] for g in json.loads(copied.stdout)["graphs"]} == set(graphs(server))
    names = json.loads(expgraph("--store", str(target), "token", "list", "--json").stdout)
    assert "admin" in {t["name"] for t in names}


def test_retire_on_a_local_store_is_audited_too(notebook_store: Path) -> None:
    store = notebook_store
    runs = in_process("--store", str(store), "sparql", "SELECT ?r WHERE { ?r a eg:Run } LIMIT 1", "--format", "csv")
    iri = runs.stdout.split()[-1]
    done = expgraph("--store", str(store), "retire", iri, "--reason", "bad seed")
    assert done.returncode == 0, done.stderr
    found = in_process("--store", str(store), "sparql", f"""PREFIX a: <https://w3id.org/expgraph/audit#>
        SELECT ?who WHERE {{ <{iri}> eg:retired ?act . ?act a:agentName ?who ; a:reason "bad seed" }}""",
                       "--format", "csv")
    assert found.stdout.split()[-1].startswith("local:")
    assert in_process("--store", str(store), "audit-log", "verify").returncode == 0


def test_the_fragment_form_and_the_openapi_docs(server: str) -> None:
    """The endpoint as the old hint spelled it (``#query=sparql``) also finds our server, and the write API is in
    the OpenAPI document."""
    done = expgraph("--endpoint", server + "#query=sparql", "query", "failures-by-mode")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    paths = httpx.get(server + "/openapi.json", timeout=60).json()["paths"]
    assert {"put"} <= set(paths["/api/v1/graphs"]) and "/api/v1/retire" in paths
    assert "application/n-triples" in paths["/api/v1/graphs"]["put"]["requestBody"]["content"]


def test_killing_the_server_mid_apply_keeps_the_previous_version(notebook_store: Path) -> None:
    """kill -9 while the server writes a large upload's staging version (held there by the test_hold_apply setting,
    which says so on stderr): the previous version stays active, and the restarted server sweeps every leftover."""
    store = notebook_store
    secret = token(store, "big", "contributor")
    port = free_port()
    env = {**os.environ, "EXPGRAPH_TEST_HOLD_APPLY": "250000"}
    process = subprocess.Popen([*CLI, "--store", str(store), "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    held = threading.Event()

    def watch_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("test_hold_apply: holding"):
                held.set()

    watcher = threading.Thread(target=watch_log, daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/api/v1/info", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.05)  # polling readiness
        target = next(name for name in graphs(url) if "/graph/records/" in name)
        before = graphs(url)[target]
        body = "".join(f'<https://example.org/s{i}> <https://example.org/p> "value {i}" .\n'
                       for i in range(300_000)).encode()
        client = subprocess.Popen([sys.executable, "-c", f"""
import httpx, sys
body = sys.stdin.buffer.read()
try:
    httpx.put("{url}/api/v1/graphs", params={{"graph": "{target}"}}, content=body, timeout=600,
              headers={{"Content-Type": "application/n-triples", "Authorization": "Bearer {secret}"}})
except httpx.HTTPError:
    pass
"""], stdin=subprocess.PIPE)
        assert client.stdin is not None
        client.stdin.write(body)
        client.stdin.close()
        assert held.wait(600), "the server never reached the hold"
        process.kill()  # SIGKILL: no cleanup of any kind
        process.wait(60)
        client.wait(120)
    finally:
        process.kill()
        process.wait(60)
        watcher.join(60)
        if process.stderr is not None:
            process.stderr.close()
    with EmbeddedStore(store) as crashed:  # the staging version the crash cut short is still registered
        registered = {row["v"].value for row in crashed.ox.query(
            f"SELECT ?v WHERE {{ GRAPH <{REGISTRY.value}> {{ ?v <{STORE.versionOf.value}> <{target}> }} }}")}
        assert len(registered - {before["version"]}) == 1
    with served(store) as url:  # restarting sweeps the leftovers
        after = graphs(url)[target]
        assert (after["version"], after["digest"], after["triples"]) == (
            before["version"], before["digest"], before["triples"])
    with EmbeddedStore(store) as recovered:
        active = {info.version.value for info in recovered.active_graphs().values()}
        held_graphs = {g.value for g in recovered.ox.named_graphs()}
        assert held_graphs == active | {REGISTRY.value}
        registered = {row["v"].value for row in recovered.ox.query(
            f"SELECT ?v WHERE {{ GRAPH <{REGISTRY.value}> {{ ?v <{STORE.versionOf.value}> ?g }} }}")}
        assert registered == active - {AUDIT.value}  # the audit graph is appended to, never versioned
    assert not list((store / "uploads").glob("expgraph-upload-*"))


def test_load_through_the_server_needs_a_curator(store: Path, server: str, tmp_path: Path) -> None:
    data = tmp_path / "extra.ttl"
    data.write_text('<https://example.org/thing> <http://www.w3.org/2000/01/rdf-schema#label> "a thing" .\n')
    contributor, curator = token(store, "loader", "contributor"), token(store, "librarian", "curator")
    refused = expgraph("--store", str(store), "--token", contributor, "load", str(data))
    assert refused.returncode == 2 and "403" in refused.stderr and "curator" in refused.stderr
    done = in_process("--store", str(store), "--token", curator, "load", str(data), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert _ask(server, 'ASK { <https://example.org/thing> rdfs:label "a thing" }')
    again = in_process("--store", str(store), "--token", curator, "load", str(data), "--format", "json")
    assert again.returncode == 0 and '"changed": false' in again.stdout  # same file: nothing sent, nothing written


def test_purge_is_for_admins_and_audited(store: Path, server: str,
        auditor: dict[str, str]) -> None:
    secret = token(store, "purge-writer", "contributor")
    graph = "https://w3id.org/expgraph/id/graph/records/00000000deadbeef"
    assert _put(server, graph, b'<https://example.org/gone> <https://example.org/p> "x" .\n', secret).status_code \
        == 200
    curator, admin = token(store, "purge-curator", "curator"), token(store, "purge-admin", "admin")
    refused = expgraph("--store", str(store), "--token", curator, "purge", graph, "--reason", "test data")
    assert refused.returncode == 2 and "403" in refused.stderr
    done = in_process("--store", str(store), "--token", admin, "purge", graph, "--reason", "test data")
    assert done.returncode == 0, done.stderr
    assert graph not in graphs(server)
    assert not _ask(server, "ASK { <https://example.org/gone> ?p ?o }")
    latest = httpx.get(server + "/api/v1/audit", params={"limit": 1}, timeout=60, headers=auditor).json()[0]
    assert (latest["action"], latest["graph"], latest["agent"], latest["reason"]) == (
        "purge", graph, "purge-admin", "test data")
    assert httpx.get(server + "/api/v1/audit/verify", timeout=60, headers=auditor).json()["ok"]


def test_a_write_waiting_behind_another_is_listed(notebook_store: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = notebook_store
    big, small = token(store, "big-writer", "contributor"), token(store, "small-writer", "contributor")
    graph = "https://w3id.org/expgraph/id/graph/records/"
    body = "".join(f'<https://example.org/s{i}> <https://example.org/p> "value {i}" .\n'
                   for i in range(300_000)).encode()

    def put(secret: str, suffix: str, content: bytes, write_id: str) -> tuple[int, str]:
        answer = httpx.put(url + "/api/v1/graphs", params={"graph": graph + suffix}, content=content, timeout=600,
                           headers={"Content-Type": NT, "Authorization": f"Bearer {secret}",
                                    "X-Expgraph-Write-Id": write_id})
        return answer.status_code, answer.text[:300]

    def listed() -> dict[str, dict]:
        return {w["id"]: w for w in httpx.get(url + "/api/v1/writes", timeout=60).json()}

    def until(condition, running) -> dict[str, dict]:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not running.done():
            writes = listed()
            if condition(writes):
                return writes
            time.sleep(0.05)  # the polling interval
        raise AssertionError(f"not seen; the write answered {running.result() if running.done() else 'nothing'}")

    with served(store) as url, ThreadPoolExecutor(2) as pool:
        first = pool.submit(put, big, "000000000000b1g0", body, "first")
        until(lambda w: w.get("first", {}).get("state") == "applying", first)
        line = b'<https://example.org/a> <https://example.org/b> "1" .\n'
        second = pool.submit(put, small, "000000000000sma1", line, "second")
        seen = until(lambda w: "second" in w, second)
        assert seen["second"]["state"] == "waiting" and seen["first"]["state"] == "applying"
        assert (seen["first"]["agent"], seen["first"]["action"]) == ("big-writer", "replace")
        assert first.result()[0] == 200 and second.result()[0] == 200
        assert listed() == {}
