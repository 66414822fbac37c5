"""The same synthetic catalog on each store: ``python benchmarks/servers_bench.py --runs 1000 --save FILE``.

For the embedded store (in memory), Oxigraph server (pip ``oxigraph``) and Virtuoso (Debian
``virtuoso-opensource-7-bin``), each started on loopback in a temporary directory as the tests do
(``tests/loopback.py``; Virtuoso with ``ResultSetMaxRows`` above the catalog's largest answer), it measures:
- load: the catalog written through the import path (map, stage, swap), in triples per second;
- saved queries: each saved query run once to warm up, then the median of ``--repeats`` runs, every row read;
- validate: the whole-catalog SHACL validation, read through the store interface.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import loopback  # noqa: E402
from expgraph.catalog import prepare  # noqa: E402
from expgraph.sparql.saved import load_queries, run_saved  # noqa: E402
from expgraph.store import EmbeddedStore, Store, open_store  # noqa: E402
from expgraph.validation.engine import validate  # noqa: E402
from synthetic import import_sources, make_batch, write_sources  # noqa: E402

FAILED_RUN = """PREFIX eg: <https://w3id.org/expgraph#>
SELECT ?run WHERE { ?run a eg:Run ; eg:status ?status FILTER(STRENDS(STR(?status), "failed")) } ORDER BY ?run LIMIT 1"""


@contextlib.contextmanager
def opened(kind: str, workdir: Path) -> Iterator[Store]:
    if kind == "embedded":
        store: Store = EmbeddedStore()
        yield store
        store.close()
        return
    # Virtuoso's row cap above the largest answer (validation results, saved-query rows) of catalogs measured here
    start = loopback.oxigraph_server if kind == "oxigraph" else functools.partial(loopback.virtuoso_server,
                                                                                  max_rows=10_000_000)
    with start(workdir) as server:
        store = open_store(endpoint=server.endpoint)
        yield store
        store.close()


def rows_of(result: object) -> int:
    return sum(1 for row in result for _ in row)  # type: ignore[attr-defined]  # every term read


def measure(kind: str, runs: int, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp, opened(kind, Path(tmp)) as store:
        prepare(store)
        sources = import_sources(make_batch(runs))
        started = time.perf_counter()
        write_sources(store, sources)
        load_s = time.perf_counter() - started
        triples = sum(info.triples for info in store.active_graphs().values())
        print(f"{kind}: loaded {triples} triples in {load_s:.1f} s", flush=True)
        failed = store.select(FAILED_RUN)
        queries: dict[str, object] = {}
        for name, query in load_queries().items():
            params = {"run": failed[0]["run"].value} if name == "already-failed" and failed else {}
            samples = []
            try:
                for attempt in range(repeats + 1):
                    begun = time.perf_counter()
                    count = rows_of(run_saved(store, query, params))
                    if attempt:
                        samples.append(time.perf_counter() - begun)
                queries[name] = {"median_ms": round(statistics.median(samples) * 1000, 1), "rows": count}
            except Exception as error:  # a server's refusal is a result too
                queries[name] = {"error": str(error).splitlines()[0][:200]}
            print(f"  {name:32s} {queries[name]}", flush=True)
        started = time.perf_counter()
        try:
            report = validate(store)
            validated: dict[str, object] = {"validate_s": round(time.perf_counter() - started, 2),
                                            "validate_results": len(report.results)}
        except Exception as error:
            validated = {"validate_error": str(error).splitlines()[0][:200]}
        print(f"  validate {validated}", flush=True)
        return {"triples": triples, "load_s": round(load_s, 2), "triples_per_s": round(triples / load_s),
                "saved_queries": queries, **validated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="embedded,oxigraph,virtuoso")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    out = {"runs": args.runs, "machine": f"{platform.machine()} {platform.python_version()}",
           "stores": {kind: measure(kind, args.runs, args.repeats) for kind in args.stores.split(",")}}
    print(json.dumps(out, indent=1))
    if args.save:
        args.save.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
