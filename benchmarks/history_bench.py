"""What keeping every metric value (``eg:history``) costs an import: ``python benchmarks/history_bench.py``.

The same runs (3 metrics each, one value per step, as TensorBoard and W&B log them) mapped and written into a fresh
in-memory store through the import path (``store_batch``), once with the history summaries only (as before
``eg:history``) and once with every value kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import UTC, datetime, timedelta

from expgraph.catalog import prepare, store_batch
from expgraph.importers.series import summarise_steps
from expgraph.records import ImportBatch, Run, RunStatus
from expgraph.store import EmbeddedStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def runs(count: int, steps: int) -> tuple[Run, ...]:
    return tuple(Run(f"r{i}", "e", RunStatus.FINISHED, name=f"r{i}", metrics=tuple(
        summarise_steps(key, {s: (1.0 / (s + 1) + i * 1e-3, T0 + timedelta(seconds=s)) for s in range(steps)})
        for key in ("loss", "acc", "lr"))) for i in range(count))


def summaries_only(with_points: tuple[Run, ...]) -> tuple[Run, ...]:
    return tuple(dataclasses.replace(run, metrics=tuple(
        dataclasses.replace(m, history=dataclasses.replace(m.history, points=())) for m in run.metrics))
        for run in with_points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1000x100", "1000x1000"], help="RUNSxSTEPS")
    args = parser.parse_args()
    for size in args.sizes:
        count, steps = (int(part) for part in size.split("x"))
        full = runs(count, steps)
        for label, batch_runs in (("summaries only", summaries_only(full)), ("with eg:history", full)):
            store = prepare(EmbeddedStore())
            started = time.perf_counter()
            store_batch(store, ImportBatch("tensorboard", f"/bench/{size}", runs=batch_runs), location="/bench")
            seconds = time.perf_counter() - started
            print(f"{count} runs x 3 metrics x {steps} steps, {label}: map + write {seconds:.2f} s")
            store.close()


if __name__ == "__main__":
    main()
