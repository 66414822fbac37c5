"""Write a synthetic catalog of N runs into an embedded store: ``python benchmarks/make_catalog.py 10000 --store DIR``.

Catalogs over 10k runs are written as one import source per project (see ``synthetic.build_store``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from synthetic import build_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int, help="number of runs")
    parser.add_argument("--store", type=Path, required=True, help="store directory (created; must not be in use)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same catalog)")
    parser.add_argument("--projects", type=int, default=None, help="number of projects (default: N/2500, >= 3)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} runs written, {time.perf_counter() - started:.1f} s", end="", file=sys.stderr)

    store = build_store(args.runs, args.store, args.seed, projects=args.projects, progress=progress)
    try:
        graphs = store.active_graphs()
        triples = sum(info.triples for info in graphs.values())
    finally:
        store.close()
    print(file=sys.stderr)
    print(f"{args.runs} runs, {triples} triples in {len(graphs)} graphs at {args.store} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
