"""Import throughput on synthetic MLflow and Sacred stores, against MLflow's own client reading the same store.

    python benchmarks/import_bench.py [--sizes 1000 10000] [--keep DIR] [--repeat N]

With ``--keep DIR`` the stores are written under DIR and kept, and stores a previous run kept there are reused
(making the 10k stores takes minutes).

Stores are made with the trackers' own layouts: a few template runs are written by MLflow's client (and by
Sacred's FileStorageObserver), then cloned with fresh ids and values (folders for the MLflow file store and
Sacred, table rows for the MLflow sqlite store), because creating 10k runs through the client takes minutes of
writes that measure nothing of ours. Each MLflow run has 10 params, 3 metrics of 20 steps, 3 tags, one dataset
input and one artifact; one run in ten failed. Reported, for the MLflow file store (``mlflow``), the MLflow
sqlite store (``mlflow-sqlite``) and Sacred: runs/s for reading (importer to records), for the whole import
(read, map, write into an in-memory store) and for ``MlflowClient.search_runs`` paging over all runs; each the
best of ``--repeat`` timings; every import timing starts from a fresh store (a first import, not a no-op).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from expgraph.catalog import prepare, run_import
from expgraph.failures import FailureClassifier
from expgraph.importers import build_batch
from expgraph.importers.mlflow import MlflowImporter
from expgraph.importers.sacred import SacredImporter
from expgraph.store import EmbeddedStore

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"


def _mlflow_templates(client, experiment: str) -> list[str]:
    """Ten runs written by MlflowClient: 10 params, 3 metrics of 20 steps, 3 tags, one dataset input, one
    artifact; the first one failed."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    dataset = DatasetInput(Dataset("train", "d41d8cd9", "local", '{"uri": "/data/train.csv"}'),
                           [InputTag("mlflow.data.context", "training")])
    run_ids = []
    for index in range(10):
        run_id = client.create_run(experiment, run_name=f"template-{index}").info.run_id
        metrics = [Metric(key, 1.0 / (step + 1), 1_700_000_000_000 + step, step)
                   for key in ("loss", "accuracy", "val_loss") for step in range(20)]
        client.log_batch(run_id, metrics=metrics, params=[Param(f"p{i}", str(i * index)) for i in range(10)],
                         tags=[RunTag("team", "bench"), RunTag("mlflow.user", "bench"), RunTag("k", str(index))])
        client.log_inputs(run_id, [dataset])
        client.log_text(run_id, f"run {index}\n", "reports/summary.txt")
        client.set_terminated(run_id, "FAILED" if index == 0 else "FINISHED")
        run_ids.append(run_id)
    return run_ids


def mlflow_store(root: Path, runs: int) -> Path:
    """A file store: 10 template runs through MlflowClient, cloned to ``runs`` with new ids and values."""
    from mlflow import MlflowClient

    store = root / "mlruns"
    if store.is_dir():  # kept by an earlier run (--keep)
        return store
    client = MlflowClient(store.as_uri(), registry_uri=(root / "registry").as_uri())
    experiment = client.create_experiment("bench")
    templates = [store / experiment / run_id for run_id in _mlflow_templates(client, experiment)]
    rng = random.Random(1)
    for index in range(runs - len(templates)):
        source = templates[index % len(templates)]
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        target = store / experiment / run_id
        shutil.copytree(source, target)
        for meta in [target / "meta.yaml", *target.glob("inputs/*/meta.yaml")]:
            meta.write_text(meta.read_text().replace(source.name, run_id))
        (target / "tags" / "mlflow.runName").write_text(f"run-{index}")
        (target / "params" / "p0").write_text(str(rng.random()))
    return store


def mlflow_sqlite_store(root: Path, runs: int) -> str:
    """A sqlite store (artifacts under ``root/mlruns/bench``): 10 template runs through MlflowClient, their rows
    cloned to ``runs`` with new ids and values in one transaction."""
    import sqlite3

    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    if (root / "mlflow.db").is_file():  # kept by an earlier run (--keep)
        return uri
    root.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(uri)
    artifacts = root / "mlruns" / "bench"
    experiment = client.create_experiment("bench", artifact_location=artifacts.as_uri())
    templates = _mlflow_templates(client, experiment)
    rng = random.Random(1)
    with sqlite3.connect(root / "mlflow.db") as db:
        columns = {table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                   for table in ("runs", "params", "tags", "metrics", "latest_metrics", "inputs", "input_tags")}

        def clone(table: str, where: str, key: str, *replace: tuple[str, object]) -> None:
            names = columns[table]
            for row in db.execute(f"SELECT {', '.join(names)} FROM {table} WHERE {where} = ?", (key,)).fetchall():
                values = dict(zip(names, row, strict=True))
                for column, value in replace:
                    values[column] = value(values[column]) if callable(value) else value
                db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                           list(values.values()))

        for index in range(runs - len(templates)):
            source = templates[index % len(templates)]
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            clone("runs", "run_uuid", source, ("run_uuid", run_id), ("name", f"run-{index}"),
                  ("artifact_uri", lambda u, s=source, r=run_id: u.replace(s, r)))
            clone("params", "run_uuid", source, ("run_uuid", run_id))
            db.execute("UPDATE params SET value = ? WHERE run_uuid = ? AND key = 'p0'", (str(rng.random()), run_id))
            clone("tags", "run_uuid", source, ("run_uuid", run_id),
                  ("value", lambda v, s=source, r=run_id: v.replace(s, r)))
            db.execute("UPDATE tags SET value = ? WHERE run_uuid = ? AND key = 'mlflow.runName'",
                       (f"run-{index}", run_id))
            clone("metrics", "run_uuid", source, ("run_uuid", run_id))
            clone("latest_metrics", "run_uuid", source, ("run_uuid", run_id))
            for (input_uuid,) in db.execute("SELECT input_uuid FROM inputs WHERE destination_id = ?",
                                            (source,)).fetchall():
                new_input = uuid.UUID(int=rng.getrandbits(128)).hex
                clone("inputs", "input_uuid", input_uuid, ("input_uuid", new_input), ("destination_id", run_id))
                clone("input_tags", "input_uuid", input_uuid, ("input_uuid", new_input))
            shutil.copytree(artifacts / source, artifacts / run_id)
    return uri


def sacred_store(root: Path, runs: int) -> Path:
    """A FileStorageObserver directory: one run written by Sacred, cloned to ``runs`` numbered folders."""
    from sacred import Experiment
    from sacred.observers import FileStorageObserver

    store = root / "sacred"
    if store.is_dir():  # kept by an earlier run (--keep)
        return store
    ex = Experiment("bench", save_git_info=False)
    ex.observers.append(FileStorageObserver(str(store)))

    @ex.config
    def config():
        optim = {"lr": 0.1, "momentum": 0.9}  # noqa: F841
        layers = [64, 64]  # noqa: F841

    @ex.main
    def main(_run):
        for step in range(20):
            for key in ("loss", "accuracy", "val_loss"):
                _run.log_scalar(key, 1.0 / (step + 1), step)

    ex.run(options={"--loglevel": "ERROR"})
    template = store / "1"
    rng = random.Random(2)
    for number in range(2, runs + 1):
        target = store / str(number)
        shutil.copytree(template, target)
        settings = json.loads((target / "config.json").read_text())
        settings["optim"]["lr"] = rng.random()
        settings["seed"] = number
        (target / "config.json").write_text(json.dumps(settings))
        if number % 10 == 0:
            data = json.loads((target / "run.json").read_text())
            data["status"], data["fail_trace"] = "FAILED", ["RuntimeError: CUDA out of memory\n"]
            (target / "run.json").write_text(json.dumps(data))
    return store


REPEAT = 2


def timed(action) -> tuple[float, object]:
    """Best of REPEAT runs: the first pass over a fresh store also pays for a cold file cache."""
    best, value = math.inf, None
    for _ in range(REPEAT):
        start = time.perf_counter()
        value = action()
        best = min(best, time.perf_counter() - start)
    return best, value


def search_all(uri: str) -> int:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    total, token = 0, None
    while True:
        page = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=50_000, page_token=token)
        total += len(page)
        token = page.token
        if not token:
            return total


def bench(size: int, work: Path) -> dict[str, float]:
    row: dict[str, float] = {"runs": size}
    with prepare(EmbeddedStore()) as store:
        classifier = FailureClassifier.from_store(store)
        for name, source, uri in [("mlflow", *(2 * [mlflow_store(work / f"m{size}", size).as_uri()])),
                                  ("mlflow-sqlite", *(2 * [mlflow_sqlite_store(work / f"q{size}", size)]))]:
            seconds, count = timed(lambda u=uri: search_all(u))
            assert count == size, count
            row[f"{name} search_runs"] = size / seconds
            seconds, batch = timed(lambda s=source: build_batch(MlflowImporter(s), classifier))
            assert len(batch.runs) == size
            row[f"{name} read"] = size / seconds
            seconds, _ = timed(lambda s=source: run_import(prepare(EmbeddedStore()), MlflowImporter(s)))
            row[f"{name} import"] = size / seconds
        if importlib.util.find_spec("sacred") is None:  # it only writes the template run
            print("sacred is not installed: no Sacred figures", flush=True)
            return row
        sacred = sacred_store(work / f"s{size}", size)
        seconds, batch = timed(lambda: build_batch(SacredImporter(str(sacred)), classifier))
        assert len(batch.runs) == size
        row["sacred read"] = size / seconds
        seconds, _ = timed(lambda: run_import(prepare(EmbeddedStore()), SacredImporter(str(sacred))))
        row["sacred import"] = size / seconds
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, help="Write the stores here and keep them; reuse those kept there.")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="Best of this many timings (default 2).")
    args = parser.parse_args()
    globals()["REPEAT"] = args.repeat
    work = args.keep or Path(tempfile.mkdtemp(prefix="import-bench-"))
    rows = []
    try:
        for size in args.sizes:
            rows.append(bench(size, work))
            print(json.dumps({k: round(v, 1) for k, v in rows[-1].items()}), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    columns = [k for k in rows[0] if k != "runs"]
    print(f"\n{'runs/s':>8} " + " ".join(f"{c:>26}" for c in columns))
    for row in rows:
        print(f"{int(row['runs']):>8} " + " ".join(f"{row[c]:>26.0f}" for c in columns))
    for name in ("mlflow", "mlflow-sqlite"):
        last = rows[-1]
        print(f"{name}, ours / search_runs: read {last[f'{name} read'] / last[f'{name} search_runs']:.2f}, "
              f"full import {last[f'{name} import'] / last[f'{name} search_runs']:.2f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["runs"] / first["runs"]
        for column in columns:  # time ratio over size ratio: 1.0 is linear
            print(f"{column}: time grows {growth * first[column] / last[column]:.1f}x for {growth:.0f}x runs")


if __name__ == "__main__":
    main()
