"""Re-importing an unchanged source: first import against re-import, on a Sacred store of N runs (issue 11 item 11).

    python benchmarks/reimport_bench.py [--sizes 10000 30000] [--keep DIR] [--memory]

The store is the fixture run ``tests/fixtures/sacred/runs/2`` (written by Sacred's FileStorageObserver) cloned to
N numbered folders with fresh learning rates and seeds; one run in ten failed. Each size is imported into a fresh
on-disk catalog (``--memory``: in-memory), then imported again unchanged; prints both wall times and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from expgraph.catalog import prepare, run_import
from expgraph.importers.sacred import SacredImporter
from expgraph.store import EmbeddedStore

TEMPLATE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sacred" / "runs"


def sacred_store(root: Path, runs: int) -> Path:
    store = root / f"sacred-{runs}"
    if store.is_dir():
        return store
    store.mkdir(parents=True)
    rng = random.Random(2)
    run = json.loads((TEMPLATE / "2" / "run.json").read_text(encoding="utf-8"))
    config = json.loads((TEMPLATE / "2" / "config.json").read_text(encoding="utf-8"))
    metrics = (TEMPLATE / "2" / "metrics.json").read_text(encoding="utf-8")
    for number in range(1, runs + 1):
        folder = store / str(number)
        folder.mkdir()
        config["optim"]["lr"], config["seed"] = rng.random(), number
        run["status"] = "FAILED" if number % 10 == 0 else "COMPLETED"
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
        (folder / "metrics.json").write_text(metrics, encoding="utf-8")
    return store


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--keep", type=Path, help="Write the Sacred stores here and keep them (reused next time).")
    parser.add_argument("--memory", action="store_true", help="An in-memory catalog instead of one on disk.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="reimport-bench-"))
    try:
        for size in args.sizes:
            source = sacred_store(work, size)
            with (tempfile.TemporaryDirectory(prefix="reimport-catalog-") as catalog,
                  prepare(EmbeddedStore(None if args.memory else Path(catalog) / "store")) as store):
                first, outcome = timed(lambda s=store, src=source: run_import(s, SacredImporter(str(src))))
                assert outcome.changed and outcome.runs == size, outcome
                again, outcome = timed(lambda s=store, src=source: run_import(s, SacredImporter(str(src))))
                assert not outcome.changed and outcome.runs == size, outcome
            print(json.dumps({"runs": size, "first import s": round(first, 2), "re-import s": round(again, 2),
                              "ratio": round(again / first, 3)}), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
