"""What keeping previous versions costs: a changed re-import with history_keep 0 against 5, and the comparison
of the two versions (runs added, removed, changed), on an on-disk catalog of N synthetic runs.

    python benchmarks/versions_bench.py [--runs 2000] [--repeats 2]

The second import drops one run in a hundred and renames one in a hundred (same IRIs otherwise), so the source's
graph changes a little, as a real re-import does. Prints wall times per setting; the saved-query fast path
(the main store holding active graphs only) is checked, not timed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from expgraph.catalog import prepare, store_batch
from expgraph.source_history import changes, history
from expgraph.store import EmbeddedStore, Retention
from expgraph.store.base import REGISTRY
from synthetic import make_batch


def edited(batch):
    runs = [run for index, run in enumerate(batch.runs) if index % 100 != 7]
    runs = [dataclasses.replace(run, name=f"{run.name} (renamed)") if index % 100 == 3 else run
            for index, run in enumerate(runs)]
    return dataclasses.replace(batch, runs=tuple(runs))


def once(runs: int, keep: int, root: Path) -> dict[str, float]:
    batch = make_batch(runs)
    second = edited(batch)
    root.mkdir(parents=True, exist_ok=True)
    store = prepare(EmbeddedStore(root / f"keep{keep}"))
    store.retention = Retention(keep=keep)
    store_batch(store, batch, location=batch.source)
    started = time.perf_counter()
    outcome = store_batch(store, second, location=second.source)
    reimport = time.perf_counter() - started
    result = {"keep": keep, "triples": outcome.triples, "changed re-import s": round(reimport, 2)}
    held = {graph.value for graph in store.ox.named_graphs()}  # active graphs only: the union fast path stays
    assert held == {REGISTRY.value} | {info.version.value for info in store.active_graphs().values()}
    if keep:
        entries = history(store, outcome.graph)
        started = time.perf_counter()
        found = changes(store, entries[1].version.version, entries[0].version.version)
        result["compare s (first, copies the active version)"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        changes(store, entries[1].version.version, entries[0].version.version)
        result["compare s (again)"] = round(time.perf_counter() - started, 2)
        result.update({k: len(v) for k, v in found.items()})
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for keep in (0, 5):
                print(json.dumps({"runs": args.runs, **once(args.runs, keep, Path(tmp) / f"r{repeat}")}), flush=True)


if __name__ == "__main__":
    main()
