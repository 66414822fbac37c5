"""MLflow import cost as CPU time (process time, all threads) and wall time, best of 3 imports of each kept 1k-run
store into an in-memory store: CPU time is less disturbed than wall time on a shared, loaded machine.

    python benchmarks/import_bench.py --sizes 1000 --keep DIR     # makes DIR/m1000 (file store), DIR/q1000 (sqlite)
    python benchmarks/mlflow_import_cpu.py DIR
"""

from __future__ import annotations

import json
import os
import sys
import time

from expgraph.catalog import prepare, run_import
from expgraph.importers.mlflow import MlflowImporter
from expgraph.store import EmbeddedStore


def main(root: str) -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    out = {}
    for name, source in (("file", f"{root}/m1000/mlruns"), ("sqlite", f"sqlite:///{root}/q1000/mlflow.db")):
        best = None
        for _ in range(3):
            with prepare(EmbeddedStore()) as store:
                cpu, wall = time.process_time(), time.perf_counter()
                outcome = run_import(store, MlflowImporter(source))
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best = (cpu, wall, outcome.triples) if best is None or cpu < best[0] else best
        out[name] = {"cpu_s": round(best[0], 2), "wall_s": round(best[1], 2), "triples": best[2]}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
