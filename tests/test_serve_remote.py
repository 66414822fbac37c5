"""The web tier scales out: two ``expgraph serve --endpoint URL`` processes over one Oxigraph server answer pages and
/sparql alike, and an import through the remote store is seen by both."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopback import SparqlServer, free_port

RECORDS = Path(__file__).parent / "fixtures" / "records" / "negative-results.csv"
RESULTS = """PREFIX eg: <https://w3id.org/expgraph#>
SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a eg:NegativeResult }"""


def expgraph(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})


@pytest.fixture
def two_servers(oxigraph: SparqlServer, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``serve`` processes on their own ports, both over the one Oxigraph server."""
    oxigraph.reset()
    processes, urls = [], []
    try:
        # Both at once, as a deployment starts them: both prepare the empty store, and a writer whose ontology graph
        # the other swept or replaced meanwhile looks again instead of exiting ("written concurrently")
        logs = []
        for index in range(2):
            port = free_port()
            logs.append(tmp_path / f"serve{index}.log")
            with logs[-1].open("wb") as out:
                processes.append(subprocess.Popen(
                    [sys.executable, "-c", "from expgraph.cli import main; main()", "--endpoint",
                     oxigraph.endpoint, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=tmp_path, stdout=out, stderr=out, stdin=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for process, url, log in zip(processes, urls, logs, strict=True):
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/", timeout=30).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {log.read_text()}")
                time.sleep(0.1)  # polling the server's answer, not a sleep standing in for synchronisation
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def count(url: str) -> int:
    response = httpx.get(url + "/sparql", params={"query": RESULTS},
                         headers={"Accept": "application/sparql-results+json"}, timeout=120)
    response.raise_for_status()
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_two_serve_processes_over_one_store_see_the_same_catalog(two_servers: list[str], oxigraph: SparqlServer,
                                                                  tmp_path: Path) -> None:
    assert [count(url) for url in two_servers] == [0, 0]
    shutil.copy(RECORDS, tmp_path / "records.csv")
    result = expgraph("--endpoint", oxigraph.endpoint, "import", "records", "records.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = [count(url) for url in two_servers]
    assert counts == [2, 2]  # the two negative results of the records file
    pages = [httpx.get(url + "/", timeout=120) for url in two_servers]
    assert [page.status_code for page in pages] == [200, 200]
    listing = [httpx.get(url + "/", headers={"Accept": "application/json"}, timeout=120) for url in two_servers]
    assert listing[0].status_code == 200 and listing[0].text == listing[1].text
