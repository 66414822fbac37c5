"""The same synthetic catalog on each store: ``python benchmarks/servers_bench.py --runs 1000 --save FILE``.

For the embedded store (in memory), Oxigraph server (pip ``oxigraph``) and Virtuoso (Debian
``virtuoso-opensource-7-bin``), each started on loopback in a temporary directory as the tests do
(``tests/loopback.py``; Virtuoso with ``ResultSetMaxRows`` above the catalog's largest answer), it measures:
- load: the catalog written through the import path (map, stage, swap), in triples per second;
- saved queries: each saved query run once to warm up, then the median of ``--repeats`` runs, every row read;
- validate: the whole-catalog SHACL validation, read through the store interface;
- the server process's resident memory (now and peak, from /proc) and its directory's size on disk, after each step.

At 100k runs and above (``--on-disk``, ``--buffers``): the embedded store in a directory as ``expgraph --store``
keeps it, and Virtuoso with a page cache sized for the catalog. ``--save`` is rewritten after each store and during
each load, so a run stopped early still says how far it got.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import loopback  # noqa: E402
from expgraph.catalog import prepare  # noqa: E402
from expgraph.sparql.saved import load_queries, run_saved  # noqa: E402
from expgraph.store import EmbeddedStore, Store  # noqa: E402
from expgraph.store.remote import RemoteStore  # noqa: E402
from expgraph.validation.engine import validate  # noqa: E402
from synthetic import ImportBatch, import_sources, make_batch, write_sources  # noqa: E402

FAILED_RUN = """PREFIX eg: <https://w3id.org/expgraph#>
SELECT ?run WHERE { ?run a eg:Run ; eg:status ?status FILTER(STRENDS(STR(?status), "failed")) } ORDER BY ?run LIMIT 1"""


@contextlib.contextmanager
def opened(kind: str, workdir: Path, args: argparse.Namespace) -> Iterator[tuple[Store, int]]:
    """The store, and the id of the process that holds its data (this one for the embedded store)."""
    if kind == "embedded":
        store: Store = EmbeddedStore(workdir / "store" if args.on_disk else None)
        yield store, os.getpid()
        store.close()
        return
    # Virtuoso's row cap above the largest answer (validation results, saved-query rows) of catalogs measured here
    start = loopback.oxigraph_server if kind == "oxigraph" else functools.partial(
        loopback.virtuoso_server, max_rows=10_000_000, buffers=args.buffers, max_seconds=3600)
    with start(workdir) as server:
        server_pid = int(Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()[0])  # the only
        # a whole-catalog query at 100k runs takes minutes; past --query-timeout it is recorded as stopped
        store = RemoteStore(server.endpoint, timeout=3600, query_timeout=args.query_timeout)
        yield store, server_pid
        store.close()


def footprint(pid: int, workdir: Path) -> dict[str, int]:
    """Resident memory now and at its peak (MB) of process ``pid``, and the size of ``workdir`` on disk (MB)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    disk = sum(path.stat().st_blocks * 512 for path in workdir.rglob("*") if path.is_file())
    return {"rss_mb": int(status["VmRSS"].split()[0]) // 1024, "peak_rss_mb": int(status["VmHWM"].split()[0]) // 1024,
            "disk_mb": disk // 2**20}


def rows_of(result: object) -> int:
    return sum(1 for row in result for _ in row)  # type: ignore[attr-defined]  # every term read


def measure(kind: str, sources: list[ImportBatch], args: argparse.Namespace,
            save: Callable[[dict[str, object]], None]) -> dict[str, object]:
    """The figures of one store; ``save`` is given them so far after each step."""
    result: dict[str, object] = {}
    with (tempfile.TemporaryDirectory(prefix=f"bench-{kind}-", dir=args.workdir) as tmp,
          opened(kind, Path(tmp), args) as (store, pid)):
        prepare(store)
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            result["load_progress"] = {"runs": done, "of": total, "elapsed_s": round(elapsed, 1),
                                       **footprint(pid, Path(tmp))}
            print(f"{kind}: {done}/{total} runs in {elapsed:.0f} s {result['load_progress']}", flush=True)
            save(result)

        write_sources(store, sources, progress)
        load_s = time.perf_counter() - started
        triples = sum(info.triples for info in store.active_graphs().values())
        result.update(triples=triples, load_s=round(load_s, 2), triples_per_s=round(triples / load_s),
                      after_load=footprint(pid, Path(tmp)))
        save(result)
        print(f"{kind}: loaded {triples} triples in {load_s:.1f} s", flush=True)
        failed = store.select(FAILED_RUN)
        queries: dict[str, object] = {}
        result["saved_queries"] = queries
        for name, query in load_queries().items():
            params = {"run": failed[0]["run"].value} if name == "already-failed" and failed else {}
            samples = []
            try:
                for _ in range(args.repeats + 1):
                    begun = time.perf_counter()
                    count = rows_of(run_saved(store, query, params))
                    samples.append(time.perf_counter() - begun)
                # the first run warms up, unless it is the only one (--repeats 0, for catalogs where one takes minutes)
                queries[name] = {"median_ms": round(statistics.median(samples[1:] or samples) * 1000, 1), "rows": count}
            except Exception as error:  # a server's refusal is a result too
                queries[name] = {"error": str(error).splitlines()[0][:200]}
            print(f"  {name:32s} {queries[name]}", flush=True)
            save(result)
        result["after_queries"] = footprint(pid, Path(tmp))
        started = time.perf_counter()
        try:
            report = validate(store)
            validated: dict[str, object] = {"validate_s": round(time.perf_counter() - started, 2),
                                            "validate_results": len(report.results)}
        except Exception as error:
            validated = {"validate_error": str(error).splitlines()[0][:200]}
        print(f"  validate {validated}", flush=True)
        result.update(validated, after_validate=footprint(pid, Path(tmp)))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="embedded,oxigraph,virtuoso")
    parser.add_argument("--on-disk", action="store_true", help="the embedded store in a directory, not in memory")
    parser.add_argument("--buffers", type=int, default=20_000, help="Virtuoso's NumberOfBuffers (8 kB pages)")
    parser.add_argument("--query-timeout", type=float, help="seconds a query may run on a server (default: no limit)")
    parser.add_argument("--workdir", type=Path, help="where the stores' directories go (default: the system's temp)")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    out: dict[str, object] = {"runs": args.runs, "machine": f"{platform.machine()} {platform.python_version()}",
                              "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                              "options": {"on_disk": args.on_disk, "virtuoso_buffers": args.buffers,
                                          "repeats": args.repeats, "query_timeout_s": args.query_timeout}, "stores": {}}

    def save(kind: str, figures: dict[str, object]) -> None:
        out["stores"][kind] = figures  # type: ignore[index]
        if args.save:
            args.save.write_text(json.dumps(out, indent=1) + "\n")

    sources = import_sources(make_batch(args.runs))
    for kind in args.stores.split(","):
        save(kind, measure(kind, sources, args, functools.partial(save, kind)))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
