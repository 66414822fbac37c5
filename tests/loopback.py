"""Real servers on loopback for the tests: free ports, uvicorn, and the SPARQL servers a remote store runs on
(Oxigraph server and Virtuoso), each started in a temporary directory and stopped after."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # polling the server's own flag, not a sleep standing in for synchronisation
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def small_catalog_endpoint() -> Iterator[str]:
    """``/sparql`` of the app on the small in-memory test catalog, served on loopback with its query worker up."""
    import httpx

    from expgraph.settings import Settings
    from expgraph.store import EmbeddedStore
    from expgraph.web.app import create_app
    from expgraph.web.sparql import close_runner
    from query_fixtures import fill

    app = create_app(fill(EmbeddedStore()), Settings({"query_timeout": 60, "max_rows": 100,
                                                      "max_concurrent_queries": 1}))
    try:
        with serve(app) as base:
            httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=60)  # the worker is up
            yield base + "/sparql"
    finally:
        close_runner(app)


# -- SPARQL servers ------------------------------------------------------------------------------------------------


@dataclass
class SparqlServer:
    """A SPARQL server started by a test fixture: the endpoint to give expgraph, and its raw protocol URLs."""

    name: str
    endpoint: str
    query_url: str
    update_url: str
    #: Graphs the server holds of its own (Virtuoso's system graphs): never dropped by :meth:`reset`.
    own_graphs: set[str] = field(default_factory=set)

    def graphs(self) -> set[str]:
        import httpx

        # GROUP BY, not DISTINCT: Virtuoso 7.2 takes minutes for DISTINCT ?g over some 50k quads, ms for this
        query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        response = httpx.post(self.query_url, data={"query": query},
                              headers={"Accept": "application/sparql-results+json"}, timeout=60)
        response.raise_for_status()
        return {row["g"]["value"] for row in response.json()["results"]["bindings"]}

    def reset(self) -> None:
        """Drop every graph the tests wrote (on Virtuoso, ``DROP ALL`` would also drop the server's own)."""
        import httpx

        for graph in sorted(self.graphs() - self.own_graphs):
            httpx.post(self.update_url, data={"update": f"DROP SILENT GRAPH <{graph}>"},
                       timeout=300).raise_for_status()


def _wait_until_ready(name: str, url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Poll ``url`` (an ``ASK {}`` query) until it answers 200; fail with the server's log if it dies or stalls."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {name} server did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)  # polling the server's own answer, not a sleep standing in for synchronisation


@contextlib.contextmanager
def _running(command: list[str], workdir: Path, name: str, probe: str,
             setup: Callable[[], None] = lambda: None) -> Iterator[None]:
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    try:
        _wait_until_ready(name, probe, process, log)
        setup()
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def oxigraph_server(workdir: Path) -> Iterator[SparqlServer]:
    """The Oxigraph server of the ``oxigraph`` package (test extra), its database in ``workdir``."""
    binary = Path(sys.executable).parent / "oxigraph"
    if not binary.exists():
        raise RuntimeError("the Oxigraph server is missing: pip install -e '.[test]'")
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(binary), "serve", "--location", str(workdir / "data"), "--bind", url.removeprefix("http://")]
    with _running(command, workdir, "Oxigraph", f"{url}/query"):
        yield SparqlServer("oxigraph", url, f"{url}/query", f"{url}/update")


#: Rows Virtuoso returns at most per SELECT in the test server (its ``ResultSetMaxRows``, the shipped ini's 10,000):
#: above the largest answer of the contract tests run on it, so that only the cap tests meet it.
VIRTUOSO_MAX_ROWS = 10_000


@contextlib.contextmanager
def virtuoso_server(workdir: Path, max_rows: int = VIRTUOSO_MAX_ROWS, *, buffers: int = 20_000,
                    max_seconds: int = 120) -> Iterator[SparqlServer]:
    """Virtuoso Open Source 7 (Debian's ``virtuoso-opensource-7-bin``) in the foreground with a database in
    ``workdir`` and an ini written here: loopback ports only, no system service. The anonymous SPARQL user is
    granted updates and Graph Store Protocol writes, as a deployment behind an authenticating proxy would.
    ``buffers``: its page cache in 8 kB pages (the benchmark gives it more at 100k runs); ``max_seconds``: its
    ``MaxQueryExecutionTime``."""
    binary = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt")
    if binary is None or isql is None:
        raise RuntimeError("Virtuoso is missing: apt-get install virtuoso-opensource-7-bin (scripts/test.sh does)")
    sql_port, http_port = free_port(), free_port()
    (workdir / "db").mkdir()
    (workdir / "virtuoso.ini").write_text(textwrap.dedent(f"""\
        [Database]
        DatabaseFile = db/virtuoso.db
        ErrorLogFile = db/virtuoso.log
        LockFile = db/virtuoso.lck
        TransactionFile = db/virtuoso.trx
        xa_persistent_file = db/virtuoso.pxa
        Striping = 0
        TempStorage = TempDatabase

        [TempDatabase]
        DatabaseFile = db/virtuoso-temp.db
        TransactionFile = db/virtuoso-temp.trx
        Striping = 0

        [Parameters]
        ServerPort = 127.0.0.1:{sql_port}
        ServerThreads = 10
        CheckpointInterval = 60
        NumberOfBuffers = {buffers}
        MaxDirtyBuffers = {buffers * 3 // 4}
        DirsAllowed = .

        [HTTPServer]
        ServerPort = 127.0.0.1:{http_port}
        ServerThreads = 10
        MaxClientConnections = 10
        EnabledDavVSP = 0

        [SPARQL]
        ResultSetMaxRows = {max_rows}
        MaxQueryExecutionTime = {max_seconds}
        """))
    url = f"http://127.0.0.1:{http_port}"

    def grant() -> None:
        statements = 'GRANT SPARQL_UPDATE TO "SPARQL"; DB.DBA.RDF_DEFAULT_USER_PERMS_SET (\'nobody\', 7);'
        subprocess.run([isql, f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={statements}"], cwd=workdir,
                       check=True, capture_output=True, timeout=60)

    with _running([binary, "-f", "-c", "virtuoso.ini"], workdir, "Virtuoso", f"{url}/sparql", grant):
        server = SparqlServer("virtuoso", f"{url}/sparql", f"{url}/sparql", f"{url}/sparql")
        server.own_graphs = server.graphs()
        yield server
