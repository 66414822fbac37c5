"""Benchmark: two checkouts' `validate` side by side on one store, alternating, with their results compared.

Each round runs the old and then the new code (``PYTHONPATH=<checkout>/src``) in a child process that opens the
store, validates the whole catalog and prints its CPU and wall seconds and a digest of every result (focus node,
path, severity, component, source shape, value: the multiset, not only the keys). On a shared machine compare the
CPU seconds, and the figures of one round with each other. The run fails loudly if the results differ.

    python benchmarks/validate_ab.py --old /tmp/main-checkout --new . --store /tmp/egbench/store-10000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import collections, hashlib, json, resource, sys, time
from expgraph.store import EmbeddedStore
from expgraph.validation import validate
store = EmbeddedStore(sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
report = validate(store, workers=int(sys.argv[2]))
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
rows = sorted(json.dumps([r.focus, r.path, r.severity, r.component, r.shape, r.value]) for r in report.results)
print(json.dumps({"cpu_seconds": round(cpu, 2), "seconds": round(wall, 2), "results": len(rows),
                  "digest": hashlib.sha256("\\n".join(rows).encode()).hexdigest(),
                  "by_component": collections.Counter(r.component.rsplit("#", 1)[-1] for r in report.results),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def run(checkout: Path, store: Path, workers: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve() / "src")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(store), str(workers)], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"validate under {checkout} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="checkout of the code before")
    parser.add_argument("--new", type=Path, default=Path("."), help="checkout of the code after")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rounds = []
    for number in range(args.rounds):
        old, new = run(args.old, args.store, args.workers), run(args.new, args.store, args.workers)
        row = {"round": number + 1, "load_average": round(os.getloadavg()[0], 1), "old": old, "new": new}
        print(json.dumps(row), flush=True)
        if old["digest"] != new["digest"]:
            raise SystemExit(f"results differ: {old['by_component']} vs {new['by_component']}")
        rounds.append(row)
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=2) + "\n")


if __name__ == "__main__":
    main()
