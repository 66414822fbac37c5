"""Light queries under a flood of heavy ones: ``python benchmarks/load_bench.py --store DIR``.

Starts ``expgraph serve`` on the store in its own process (loopback, the limits given below as ``EXPGRAPH_*``),
then for ``--seconds``:
- ``--heavy`` threads send the security review's hostile queries (the sorted cross product, the nested CONCATs,
  a triple cross product that runs into the time limit) over and over, from ``--heavy-clients`` source addresses
  (127.0.1.x: each address is a client for the scheduler);
- one light client (127.0.0.2) sends a small /sparql query (a fresh text each time, so never from the cache) and
  a saved query with a fresh parameter, every ``--interval`` seconds;
- the server's memory (the server process and its query workers, RSS from /proc) is sampled every 0.1 s.
It prints the light queries' latencies, the heavy requests' outcomes and the peak memory against the cap
(``max_concurrent_queries`` x ``query_memory_mb`` for the workers), and with ``--save FILE`` writes them as JSON.
A catalog is built first when the store directory is empty (``--runs``). Linux only (/proc, loopback addresses).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LIGHT = "PREFIX eg: <https://w3id.org/expgraph#> SELECT (COUNT(?r) AS ?n) WHERE {{ ?r a eg:Run }} # {}"
HEAVY = [
    "SELECT ?a ?d WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f LIMIT 1",
    "SELECT (STRLEN(?s26) AS ?n) WHERE { BIND(\"xxxxxxxxxxxxxxxx\" AS ?s0) " + " ".join(
        f"BIND(CONCAT(?s{i}, ?s{i}) AS ?s{i + 1})" for i in range(26)) + " }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
]


def tree_rss(pid: int) -> tuple[int, list[int]]:
    """RSS in bytes of a process and of each of its children (the query workers), from /proc."""
    def rss(one: int) -> int:
        try:
            with open(f"/proc/{one}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError):
            return 0

    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return rss(pid), [rss(child) for child in children]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=10000, help="catalog size when the store must be built")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--heavy", type=int, default=20, help="heavy requests in flight at all times")
    parser.add_argument("--heavy-clients", type=int, default=1, help="source addresses the heavy load comes from")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--memory-mb", type=int, default=1024, help="query_memory_mb for the server")
    parser.add_argument("--workers", type=int, default=2, help="max_concurrent_queries for the server")
    parser.add_argument("--timeout", type=float, default=30, help="query_timeout for the server")
    parser.add_argument("--settle", type=float, default=30, help="seconds for the server's warm-up before the load")
    parser.add_argument("--count-only", action="store_true",
                        help="only the triple cross product count (about 1.7 GB per worker at 10k runs without a cap, "
                             "not 6 GB): to compare with code that has no memory cap")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args(argv)
    if not (args.store.exists() and any(args.store.iterdir())):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_catalog.py"), str(args.runs),
                        "--store", str(args.store)], check=True)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EXPGRAPH_STORE": str(args.store), "EXPGRAPH_PORT": str(port),
           "EXPGRAPH_QUERY_MEMORY_MB": str(args.memory_mb), "EXPGRAPH_MAX_CONCURRENT_QUERIES": str(args.workers),
           "EXPGRAPH_QUERY_TIMEOUT": str(args.timeout)}
    server = subprocess.Popen([sys.executable, "-c", "from expgraph.cli import main; main()", "serve"], env=env,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=30)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        time.sleep(args.settle)  # the server's cache warm-up first
        return run_load(args, server.pid, base)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a worker mid-query (code without the limits) holds it up
            server.kill()
            server.wait(30)


def run_load(args: argparse.Namespace, server_pid: int, base: str) -> int:
    stop = threading.Event()
    heavy_queries = HEAVY[-1:] if args.count_only else HEAVY
    heavy_outcomes: Counter[str] = Counter()
    light_seconds: list[float] = []
    saved_seconds: list[float] = []
    light_failures: list[str] = []
    memory = {"server": 0, "worker": 0, "total": 0}

    def sample() -> None:
        while not stop.is_set():
            main_rss, workers = tree_rss(server_pid)
            memory["server"] = max(memory["server"], main_rss)
            memory["worker"] = max([memory["worker"], *workers])
            memory["total"] = max(memory["total"], main_rss + sum(workers))
            time.sleep(0.1)

    def heavy(index: int) -> None:
        address = f"127.0.1.{1 + index % args.heavy_clients}"
        with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=120) as client:
            n = 0
            while not stop.is_set():
                query = heavy_queries[(index + n) % len(heavy_queries)]
                n += 1
                try:
                    response = client.get(base + "/sparql", params={"query": query})
                    heavy_outcomes[f"{response.status_code} {_reason(response.text)}"] += 1
                    if response.status_code == 503 and "retry-after" in response.headers:
                        stop.wait(min(float(response.headers["retry-after"]), 1.0))
                except httpx.HTTPError as error:
                    heavy_outcomes[type(error).__name__] += 1

    def light() -> None:
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=120) as client:
            n = 0
            while not stop.is_set():
                n += 1
                for kind, times, path, params in (
                        ("sparql", light_seconds, "/sparql", {"query": LIGHT.format(n)}),
                        ("saved", saved_seconds, "/queries/failure-causes", {"mode": f"mode-{n}", "format": "json"})):
                    started = time.perf_counter()
                    try:
                        response = client.get(base + path, params=params, headers={"Accept": "text/csv"})
                        if response.status_code != 200:
                            light_failures.append(f"{kind} {response.status_code} {response.text.strip()[:80]}")
                    except httpx.HTTPError as error:
                        light_failures.append(f"{kind} {type(error).__name__}")
                    times.append(time.perf_counter() - started)
                stop.wait(args.interval)

    threads = [threading.Thread(target=sample)]
    threads += [threading.Thread(target=heavy, args=(i,)) for i in range(args.heavy)]
    for thread in threads:
        thread.start()
    time.sleep(2)  # the flood first
    light_thread = threading.Thread(target=light)
    light_thread.start()
    time.sleep(args.seconds)
    stop.set()
    light_thread.join()
    for thread in threads:
        thread.join()
    mb = 2**20
    result = {
        "settings": {"max_concurrent_queries": args.workers, "query_memory_mb": args.memory_mb,
                     "query_timeout": args.timeout, "heavy_in_flight": args.heavy,
                     "heavy_clients": args.heavy_clients, "seconds": args.seconds,
                     "heavy_queries": len(heavy_queries)},
        "light_sparql_s": _summary(light_seconds), "light_saved_query_s": _summary(saved_seconds),
        "light_failures": light_failures, "heavy_outcomes": dict(heavy_outcomes.most_common()),
        "peak_rss_mb": {key: round(value / mb) for key, value in memory.items()},
        "worker_cap_mb": args.workers * args.memory_mb,
    }
    print(json.dumps(result, indent=2))
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3), "max": round(max(values), 3)}


def _reason(text: str) -> str:
    for word in ("memory", "query_timeout", "query_queue", "query_wait", "max_result_mb"):
        if word in text:
            return word
    return ""


if __name__ == "__main__":
    sys.exit(main())
