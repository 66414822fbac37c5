"""The saved queries on a catalog whose experiments name no project, against the same catalog with projects.

Experiments that name no project go into their import source's default project (``eg:DefaultProject``), so the
per-project queries keep their plain joins. This measures that they cost the same either way: the same synthetic
runs written twice into on-disk stores, once as generated (a project per experiment) and once with every project
removed (as a Sacred or TensorBoard store), each saved query run with its default parameters (``already-failed``
given a failed run), every row read, the median of ``--repeats`` runs. Usage::

    python benchmarks/projectless_bench.py --runs 10000 --save benchmarks/results/projectless-10k.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from expgraph.catalog import prepare
from expgraph.mapping import Minter
from expgraph.records import ImportBatch
from expgraph.sparql.saved import load_queries, run_saved
from expgraph.store import EmbeddedStore, Store
from synthetic import import_sources, make_batch, write_sources


def without_projects(batch: ImportBatch) -> ImportBatch:
    return replace(batch, projects=(), experiments=tuple(replace(e, project=None) for e in batch.experiments),
                   concepts=())


def timed(store: Store, name: str, params: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    rows = sum(1 for _ in run_saved(store, load_queries()[name], params))
    return (time.perf_counter() - started) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    batch = make_batch(args.runs, 0)
    variants = {"with projects": batch, "no projects": without_projects(batch)}
    failed = next(run for run in batch.runs if run.status.is_failure)
    params = {"already-failed": {"run": Minter(batch.tracker, batch.source).run(failed.native_id).value}}
    with tempfile.TemporaryDirectory() as directory:
        stores = {}
        try:
            for label, variant in variants.items():
                stores[label] = prepare(EmbeddedStore(Path(directory) / label.replace(" ", "-")))
                write_sources(stores[label], import_sources(variant) if variant.projects else [variant])
            # each query on both catalogs in turn, so that a busy moment of the machine hits both alike
            times: dict[str, dict[str, list[float]]] = {label: {} for label in variants}
            rows: dict[str, dict[str, int]] = {label: {} for label in variants}
            for name in sorted(load_queries()):
                for _ in range(args.repeats):
                    for label, store in stores.items():
                        elapsed, count = timed(store, name, params.get(name, {}))
                        times[label].setdefault(name, []).append(elapsed)
                        rows[label][name] = count
        finally:
            for store in stores.values():
                store.close()
    results = {label: {name: {"ms": round(statistics.median(values), 1), "rows": rows[label][name]}
                       for name, values in times[label].items()} for label in variants}
    print(f"{args.runs} runs: median ms of {args.repeats} (rows), with projects | no projects")
    for name in results["with projects"]:
        a, b = results["with projects"][name], results["no projects"][name]
        print(f"  {name:32s} {a['ms']:8.1f} ({a['rows']:5d}) | {b['ms']:8.1f} ({b['rows']:5d})")
    if args.save:
        args.save.write_text(json.dumps({"runs": args.runs, **results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
