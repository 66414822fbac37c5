"""Saved-query and endpoint benchmark on synthetic catalogs (on-disk embedded store).

For each catalog size: the median latency of every saved query (its default parameters; ``already-failed`` given
a failed run), measured inside a query worker so that a runaway query is stopped at ``--timeout`` instead of
hanging the benchmark (the result written as SPARQL JSON, as the endpoint sends it), and again directly on the
embedded store in this process with every row read (``store_ms``); and the endpoint's overhead: the same light
query directly on the store versus through ``/sparql`` on a live uvicorn server (HTTP, guard, worker IPC,
serialisation), with the guard's parse cached (the same text again) and uncached (a fresh text each time).
Usage::

    python benchmarks/query_bench.py                       # 10k runs
    python benchmarks/query_bench.py --runs 10000 100000 --save benchmarks/results/queries.json
    python benchmarks/query_bench.py --store /tmp/cat100k  # a catalog made by make_catalog.py (saves ~7 min)
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from expgraph.settings import Settings
from expgraph.sparql.runner import QueryJob, QueryRunner
from expgraph.sparql.saved import load_queries
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.sparql import close_runner
from synthetic import build_store

LIGHT = "PREFIX eg: <https://w3id.org/expgraph#> SELECT ?run WHERE { ?run a eg:Run } LIMIT 10"
FAILED_RUN = """PREFIX eg: <https://w3id.org/expgraph#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?run WHERE { ?run eg:status/skos:notation "failed" } LIMIT 1"""


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def saved_queries(store: EmbeddedStore, repeats: int, timeout: float) -> dict[str, dict[str, object]]:
    failed_run = store.select(FAILED_RUN)[0]["run"].value
    runner = QueryRunner(store, size=1, timeout=timeout, cache_mb=0)  # every run really runs
    out: dict[str, dict[str, object]] = {}
    try:
        for name, query in load_queries().items():
            text = query.bind({"run": failed_run} if name == "already-failed" else {})
            job = QueryJob(text, accept="application/sparql-results+json", untrusted=False, max_rows=10**9)
            samples, rows, status = [], 0, 200
            for attempt in range(repeats + 1):
                outcome = runner.run(job)
                status, rows = outcome.status, outcome.rows
                if status != 200:
                    break
                if attempt:  # the first run warms the worker's store and caches up
                    samples.append(outcome.seconds)
            out[name] = {"median_ms": median_ms(samples) if samples else None, "rows": rows, "status": status,
                         "store_ms": direct_ms(store, text, repeats) if samples else None}
            shown = f"{out[name]['median_ms']:>9} ms" if samples else f"  > {timeout:g} s"
            print(f"  {name:32s} {shown} {rows:>7} rows   on the store {out[name]['store_ms']} ms", flush=True)
    finally:
        runner.close()
    return out


def direct_ms(store: EmbeddedStore, text: str, repeats: int) -> float:
    """The same query on the embedded store in this process, every term of every row read: the answer in hand,
    without the worker's serialisation (which for tens of thousands of rows is a good part of the time)."""
    samples = []
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        result = store.query(text)
        width = range(len(result.variables))
        for solution in result:
            for index in width:
                solution[index]
        if attempt:
            samples.append(time.perf_counter() - started)
    return median_ms(samples)


def endpoint_overhead(store: EmbeddedStore, repeats: int) -> dict[str, float]:
    """Median latency of a light query on the store directly and through /sparql."""
    direct = []
    for _ in range(repeats):
        started = time.perf_counter()
        list(store.query(LIGHT))
        direct.append(time.perf_counter() - started)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(store, Settings({"max_concurrent_queries": 2}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}/sparql"
    cached, uncached = [], []
    try:
        with httpx.Client(timeout=60) as client:
            for _ in range(3):
                client.get(url, params={"query": LIGHT})
            for index in range(repeats):
                started = time.perf_counter()
                client.get(url, params={"query": LIGHT}).raise_for_status()
                cached.append(time.perf_counter() - started)
                fresh = f"{LIGHT}\n# {index}"  # a new text: the guard parses it again
                started = time.perf_counter()
                client.get(url, params={"query": fresh}).raise_for_status()
                uncached.append(time.perf_counter() - started)
    finally:
        server.should_exit = True
        thread.join(10)
        close_runner(app)
    result = {"direct_ms": median_ms(direct), "endpoint_cached_ms": median_ms(cached),
              "endpoint_uncached_ms": median_ms(uncached)}
    result["overhead_cached_ms"] = round(result["endpoint_cached_ms"] - result["direct_ms"], 2)
    result["overhead_uncached_ms"] = round(result["endpoint_uncached_ms"] - result["direct_ms"], 2)
    print(f"  endpoint: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0, help="stop a saved query after this many seconds")
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    parser.add_argument("--store", type=Path, help="measure this existing catalog instead of building new ones")
    args = parser.parse_args()
    report: dict[str, object] = {"python": sys.version.split()[0]}
    if args.store:
        store = EmbeddedStore(args.store)
        runs = store.select("PREFIX eg: <https://w3id.org/expgraph#> SELECT (COUNT(*) AS ?n) WHERE { ?r a eg:Run }")
        n_runs = int(runs[0]["n"].value)
        print(f"{n_runs} runs at {args.store}", flush=True)
        report[str(n_runs)] = {"queries": saved_queries(store, args.repeats, args.timeout),
                               "endpoint": endpoint_overhead(store, args.repeats * 10)}
        store.close()
    for n_runs in [] if args.store else args.runs:
        folder = Path(tempfile.mkdtemp(prefix="expgraph-qbench-"))
        try:
            started = time.perf_counter()
            store = build_store(n_runs, folder / "store")
            built = round(time.perf_counter() - started, 1)
            print(f"{n_runs} runs: store built in {built} s", flush=True)
            report[str(n_runs)] = {"build_s": built, "queries": saved_queries(store, args.repeats, args.timeout),
                                   "endpoint": endpoint_overhead(store, args.repeats * 10)}
            store.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
