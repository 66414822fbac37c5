"""Time ``replace_graph`` on each kind of store: ``python benchmarks/store_write.py [--runs 1100]``.

The triples are a synthetic import source (about 91 triples per run), mapped once and written into the in-memory
store, the on-disk store and an Oxigraph server started on loopback; then written again unchanged (the digest
path) and replaced by a copy with one changed triple.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pyoxigraph import Literal, Triple

from expgraph.mapping import map_batch, source_graph
from expgraph.store import EmbeddedStore, Store, open_store
from synthetic import make_batch


def _server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = Path(sys.executable).parent / "oxigraph"
    server = subprocess.Popen([str(binary), "serve", "--location", str(workdir / "server"),
                               "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/query", params={"query": "ASK {}"}, timeout=1)
            return server, url
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the Oxigraph server did not start")


def _timed(store: Store, triples: list[Triple], label: str) -> None:
    graph = source_graph("synthetic", "benchmark")
    changed = [*triples[:-1], Triple(triples[-1].subject, triples[-1].predicate, Literal("changed"))]
    timings = []
    for content in (triples, triples, changed):
        started = time.perf_counter()
        store.replace_graph(graph, iter(content))
        timings.append(time.perf_counter() - started)
    count = store.active_graphs()[graph.value].triples
    print(f"{label:10} {count:>9} {timings[0]:>8.2f} s {timings[1]:>9.2f} s {timings[2]:>9.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1100, help="synthetic runs (about 91 triples each)")
    args = parser.parse_args(argv)
    triples = list(map_batch(make_batch(args.runs)))
    print(f"{'store':10} {'triples':>9} {'first':>10} {'unchanged':>11} {'replaced':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, url = _server(workdir)
        try:
            for label, store in (("memory", EmbeddedStore()), ("disk", EmbeddedStore(workdir / "disk")),
                                 ("remote", open_store(endpoint=url))):
                with store:
                    _timed(store, triples, label)
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
