"""Benchmark: `expgraph validate` (whole process) against the pySHACL route and pyshacl-turbo, on synthetic catalogs.

The pySHACL route is what one would do without the compiler: export the store, parse it into rdflib, validate
with pySHACL (no inference). The pyshacl-turbo route loads the export into a pyoxigraph store and validates it
with pyshacl-turbo (Rust). All must give the same (focus node, path, severity, component) set; the script fails
loudly if they do not. Each reference route runs in a child process watched for memory: above ``--max-rss-gb``
it is killed and the row records that (with the peak it reached), instead of the machine running out of memory.

    python benchmarks/validate_bench.py --runs 10000 100000 --reference-max 10000 --workdir /tmp/egbench
    python benchmarks/validate_bench.py --runs 100000 --import-runs 1000 --no-turbo --reference-max 0

``--import-runs N`` also times what an import checks: a synthetic source of N runs is written into the catalog,
validated on its own focus nodes (``summarise_import``) and dropped again. Stores are built once per size under
--workdir (with ``synthetic.build_store``) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from expgraph.store import EmbeddedStore
from expgraph.validation import summarise_import, validate
from synthetic import build_store

ROUTES = ("pyshacl", "turbo")


def ensure_store(n_runs: int, workdir: Path) -> Path:
    path = workdir / f"store-{n_runs}"
    if not (path / ".built").exists():
        started = time.perf_counter()
        store = build_store(n_runs, path)
        store.close()
        (path / ".built").write_text("ok")
        print(f"built {n_runs} runs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def watched(command: list[str], max_rss_mb: float) -> dict:
    """Run a child, sampling its memory twice a second; kill it above ``max_rss_mb``. Seconds, CPU seconds (what
    a busy shared machine distorts least), exit code, peak."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, killed = 0.0, False
    while child.poll() is None:
        peak = max(peak, rss_mb(child.pid))
        if peak > max_rss_mb:
            child.kill()
            killed = True
            break
        time.sleep(0.5)
    out, err = child.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(cpu, 2),
            "exit": child.returncode, "peak_mb": round(peak),
            "killed_over_mb": round(max_rss_mb) if killed else None, "stdout": out.decode(), "stderr": err.decode()}


def time_cli(path: Path, max_rss_mb: float) -> dict:
    """`expgraph --store PATH validate` as a separate process."""
    command = [str(Path(sys.executable).with_name("expgraph")), "--store", str(path), "validate"]
    done = watched(command, max_rss_mb)
    if done["exit"] not in (0, 1):
        raise SystemExit(f"expgraph validate failed: {done['stderr']}")
    return done


def reference_route(route: str, path: Path, out: Path) -> None:
    """Child mode: one reference route over the store at ``path``; result keys and timings as JSON into ``out``."""
    import io

    from expgraph.validation import Shapes
    from expgraph.validation.engine import export_graph, pyshacl_results

    store = EmbeddedStore(path)
    started = time.perf_counter()
    if route == "turbo":
        import pyoxigraph
        import pyshacl_turbo

        buffer = io.BytesIO()
        store.dump(buffer, "ntriples")
        store.close()
        data = pyoxigraph.Store()
        data.bulk_load(buffer.getvalue(), pyoxigraph.RdfFormat.N_TRIPLES)
        del buffer
        loaded = time.perf_counter()
        results = pyshacl_results(data, Shapes.load().graph, validator=pyshacl_turbo.validate)
    else:
        graph = export_graph(store)
        store.close()
        loaded = time.perf_counter()
        results = pyshacl_results(graph, Shapes.load().graph)
    done = time.perf_counter()
    out.write_text(json.dumps({"load_seconds": round(loaded - started, 2), "validate_seconds": round(done - loaded, 2),
                               "keys": sorted(map(list, {r.key() for r in results}), key=str)}))


def run_reference(route: str, path: Path, ours: set, cli: dict, max_rss_mb: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        done = watched([sys.executable, __file__, "--child", route, "--store", str(path), "--out", str(out)],
                       max_rss_mb)
        row = {f"{route}_seconds": done["seconds"], f"{route}_cpu_seconds": done["cpu_seconds"],
               f"{route}_peak_mb": done["peak_mb"]}
        if done["killed_over_mb"] is not None:
            row[f"{route}_killed_over_mb"] = done["killed_over_mb"]
            return row
        if done["exit"] != 0:
            raise SystemExit(f"{route} route failed: {done['stderr'][-2000:]}")
        figures = json.loads(out.read_text())
    row[f"{route}_load_seconds"] = figures["load_seconds"]
    row[f"{route}_validate_seconds"] = figures["validate_seconds"]
    row[f"{route}_identical"] = {tuple(k) for k in figures["keys"]} == ours
    row[f"{route}_ratio"] = round(done["seconds"] / cli["seconds"], 1)
    row[f"{route}_cpu_ratio"] = round(done["cpu_seconds"] / cli["cpu_seconds"], 1)
    if not row[f"{route}_identical"]:
        raise SystemExit(f"{route} results differ from expgraph's")
    return row


def time_import(path: Path, n_runs: int) -> dict:
    """An import of ``n_runs`` new runs into the catalog: validation of its focus nodes against the whole catalog
    (what `import` does) beside a whole-catalog validation; the source is dropped again afterwards."""
    from expgraph.catalog import store_batch
    from synthetic import make_batch

    store = EmbeddedStore(path)
    try:
        outcome = store_batch(store, make_batch(n_runs, seed=1, tracker="synthetic-import"), location="bench")
        started = time.perf_counter()
        summary = summarise_import(store, outcome.graph)
        scoped = time.perf_counter() - started
        started = time.perf_counter()
        whole = validate(store)
        whole_seconds = time.perf_counter() - started
        return {"import_runs": n_runs, "import_validate_seconds": round(scoped, 2),
                "whole_catalog_seconds": round(whole_seconds, 2), "import_summary": summary,
                "whole_results": len(whole.results)}
    finally:
        store.drop(outcome.graph)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--reference-max", type=int, default=10000,
                        help="run the pySHACL route only up to this many runs (it needs ~1 GB per 3k runs)")
    parser.add_argument("--turbo-max", type=int, default=100000,
                        help="run the pyshacl-turbo route only up to this many runs")
    parser.add_argument("--max-rss-gb", type=float, default=15.0, help="kill a route's process above this")
    parser.add_argument("--import-runs", type=int, default=0, help="also time an import of this many runs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/expgraph-bench"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        reference_route(args.child, args.store, args.out)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    limit = args.max_rss_gb * 1024
    rows = []
    for n_runs in args.runs:
        path = ensure_store(n_runs, args.workdir)
        cli = time_cli(path, limit)
        store = EmbeddedStore(path)
        started = time.perf_counter()
        ours = validate(store)
        in_process = time.perf_counter() - started
        store.close()
        row = {"runs": n_runs, "cli_seconds": cli["seconds"], "cli_cpu_seconds": cli["cpu_seconds"],
               "cli_exit": cli["exit"], "cli_peak_mb": cli["peak_mb"],
               "engine_seconds": round(in_process, 2), "results": len(ours.results),
               "fallback_shapes": len(ours.fallback), "load_average": round(os.getloadavg()[0], 1)}
        keys = {r.key() for r in ours.results}
        for route, most in (("turbo", args.turbo_max), ("pyshacl", args.reference_max)):
            if n_runs <= most:
                row.update(run_reference(route, path, keys, cli, limit))
                print(json.dumps(row), flush=True)
        if args.import_runs:
            row.update(time_import(path, args.import_runs))
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    for row in rows[1:]:
        growth = row["cli_seconds"] / base["cli_seconds"]
        print(f"{base['runs']} -> {row['runs']} runs ({row['runs'] / base['runs']:.0f}x): validate took "
              f"{growth:.1f}x as long (engine {row['engine_seconds'] / base['engine_seconds']:.1f}x)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
