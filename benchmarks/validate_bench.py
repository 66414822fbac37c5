"""Benchmark: `expgraph validate` (whole process) against the pySHACL route and pyshacl-turbo, on synthetic catalogs.

The pySHACL route is what one would do without the compiler: export the store, parse it into rdflib, validate
with pySHACL (no inference). The pyshacl-turbo route loads the export into a pyoxigraph store and validates it
with pyshacl-turbo (Rust). All must give the same (focus node, path, severity, component) set; the script fails
loudly if they do not.

    python benchmarks/validate_bench.py --runs 10000 100000 --reference-max 10000 --workdir /tmp/egbench

Stores are built once per size under --workdir (with ``synthetic.build_store``) and reused.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from expgraph.store import EmbeddedStore
from expgraph.validation import Shapes, reference_validate, validate
from expgraph.validation.engine import pyshacl_results
from synthetic import build_store


def ensure_store(n_runs: int, workdir: Path) -> Path:
    path = workdir / f"store-{n_runs}"
    if not (path / ".built").exists():
        started = time.perf_counter()
        store = build_store(n_runs, path)
        store.close()
        (path / ".built").write_text("ok")
        print(f"built {n_runs} runs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def time_cli(path: Path) -> tuple[float, int, float]:
    """Seconds, exit code and peak RSS (MB) of `expgraph --store PATH validate` as a separate process."""
    command = [str(Path(sys.executable).with_name("expgraph")), "--store", str(path), "validate"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"expgraph validate failed: {done.stderr.decode()}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return seconds, done.returncode, peak


def turbo_route(store: EmbeddedStore) -> tuple[list, float, float]:
    """pyshacl-turbo over the whole catalog: results, seconds to load the export, seconds to validate."""
    import io

    import pyoxigraph
    import pyshacl_turbo

    started = time.perf_counter()
    buffer = io.BytesIO()
    store.dump(buffer, "ntriples")
    data = pyoxigraph.Store()
    data.bulk_load(buffer.getvalue(), pyoxigraph.RdfFormat.N_TRIPLES)
    loaded = time.perf_counter()
    results = pyshacl_results(data, Shapes.load().graph, validator=pyshacl_turbo.validate)
    return results, loaded - started, time.perf_counter() - loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--reference-max", type=int, default=10000,
                        help="run the pySHACL route only up to this many runs (it needs ~1 GB per 10k runs)")
    parser.add_argument("--turbo-max", type=int, default=100000,
                        help="run the pyshacl-turbo route only up to this many runs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/expgraph-bench"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n_runs in args.runs:
        path = ensure_store(n_runs, args.workdir)
        cli_seconds, code, cli_mb = time_cli(path)
        store = EmbeddedStore(path)
        started = time.perf_counter()
        ours = validate(store)
        in_process = time.perf_counter() - started
        row = {"runs": n_runs, "cli_seconds": round(cli_seconds, 2), "cli_exit": code, "cli_peak_mb": round(cli_mb),
               "engine_seconds": round(in_process, 2), "results": len(ours.results),
               "fallback_shapes": len(ours.fallback)}
        if n_runs <= args.turbo_max:
            turbo, load_s, validate_s = turbo_route(store)
            row["turbo_load_seconds"] = round(load_s, 2)
            row["turbo_validate_seconds"] = round(validate_s, 2)
            row["turbo_identical"] = {r.key() for r in ours.results} == {r.key() for r in turbo}
            row["turbo_ratio"] = round((load_s + validate_s) / cli_seconds, 1)
            if not row["turbo_identical"]:
                raise SystemExit(f"pyshacl-turbo results differ at {n_runs} runs")
        if n_runs <= args.reference_max:
            started = time.perf_counter()
            reference = reference_validate(store)
            row["pyshacl_route_seconds"] = round(time.perf_counter() - started, 2)
            row["pyshacl_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            identical = {r.key() for r in ours.results} == {r.key() for r in reference}
            row["identical"] = identical
            row["ratio"] = round(row["pyshacl_route_seconds"] / cli_seconds, 1)
            if not identical:
                raise SystemExit(f"results differ at {n_runs} runs")
        store.close()
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
