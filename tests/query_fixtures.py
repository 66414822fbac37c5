"""A small catalog with answers known by construction, for the saved-query and endpoint tests.

Two import sources (projects alpha and beta, different trackers, ``lr`` vs ``learning_rate``) written through
``catalog.store_batch``, so the data takes the same path as a real import. The expected answers in the tests
follow from the records below, not from running the queries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from expgraph.catalog import store_batch
from expgraph.mapping import Minter
from expgraph.records import (
    Agent,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    ImportBatch,
    Liveness,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
)
from expgraph.store import Store

H1 = Hypothesis("Dropout 0.3 beats dropout 0.1", "val loss lower")
ENV = Environment(python_version="3.11.9", packages=("torch==2.3.1",))
ALPHA = ImportBatch(tracker="mlflow", source="file:///lab/alpha/mlruns")
BETA = ImportBatch(tracker="wandb", source="/lab/beta/wandb")
GAMMA = ImportBatch(tracker="sacred", source="/lab/gamma/runs")


def when(month: int, day: int) -> datetime:
    return datetime(2024, month, day, 12, 0, tzinfo=UTC)


def config(lr_key: str, lr: float, batch: int = 32, optimizer: str = "adam", model: str = "resnet18",
           seed: int = 1) -> tuple[ParameterSetting, ...]:
    return (ParameterSetting(lr_key, lr), ParameterSetting("batch_size", batch),
            ParameterSetting("optimizer", optimizer), ParameterSetting("model", model), ParameterSetting("seed", seed))


def mnist(checksum: str) -> DatasetSnapshot:
    return DatasetSnapshot("mnist", Checksum("md5", checksum), version=checksum[:2], context="training")


def alpha_batch() -> ImportBatch:
    run = Run
    runs = (
        run("a1", "alpha/e1", RunStatus.FINISHED, started=when(1, 1), ended=when(1, 2), agent=Agent("ana"),
            params=config("lr", 0.001), datasets=(mnist("aa" * 16),), code=CodeVersion("c1" * 20), environment=ENV),
        run("a2", "alpha/e1", RunStatus.FAILED, started=when(1, 2), ended=when(1, 3), agent=Agent("ana"),
            params=config("lr", 0.001, seed=2), datasets=(mnist("aa" * 16),), code=CodeVersion("c1" * 20),
            environment=ENV, error_text="RuntimeError: CUDA out of memory"),
        run("a3", "alpha/e1", RunStatus.FAILED, started=when(2, 1), ended=when(2, 2), agent=Agent("ana"),
            params=config("lr", 0.01, seed=3), datasets=(mnist("bb" * 16),), environment=ENV,
            error_text="FloatingPointError: Loss is nan"),
        run("a4", "alpha/e2", RunStatus.FINISHED, started=when(2, 10), agent=Agent("ana"),
            params=config("lr", 0.1, batch=64, optimizer="sgd", model="vit"),
            datasets=(DatasetSnapshot("cifar", version="v1"),), code=CodeVersion("c2" * 20)),
    )
    results = (
        Result("run-a2", "execution-failure", negative=True, runs=("a2",), experiment_id="alpha/e1",
               failure_mode="out-of-memory", suspected_cause="gpu-memory-management",
               lessons=("Halve the batch size on 16 GB cards",)),
        Result("run-a3", "execution-failure", negative=True, runs=("a3",), experiment_id="alpha/e1",
               failure_mode="numerical-instability", suspected_cause="hyperparameters"),
        Result("outcome-e1", "refutes", negative=True, runs=("a1",), experiment_id="alpha/e1", hypothesis=H1,
               failure_mode="overfitting", suspected_cause="training-data-quality", informs=("alpha/e2",)),
    )
    return ImportBatch(
        tracker=ALPHA.tracker, source=ALPHA.source, projects=(Project("alpha"),),
        experiments=(Experiment("alpha/e1", "alpha e1", project="alpha", hypothesis=H1),
                     Experiment("alpha/e2", "alpha e2", project="alpha")),
        runs=runs, results=results,
    )


def beta_batch() -> ImportBatch:
    imagenet = DatasetSnapshot("imagenet", Checksum("md5", "cc" * 16), version="2012")
    runs = (
        Run("b1", "beta/e3", RunStatus.KILLED, started=when(3, 5), ended=when(3, 6), agent=Agent("bo"),
            params=config("learning_rate", 0.001, seed=7), datasets=(imagenet,), code=CodeVersion("d1" * 20),
            environment=ENV, error_text="Killed (signal 9): out of memory"),
        Run("b2", "beta/e3", RunStatus.FINISHED, started=when(3, 6), ended=when(3, 7), agent=Agent("bo"),
            params=config("learning_rate", 0.001, seed=8), datasets=(imagenet,), code=CodeVersion("d1" * 20),
            environment=ENV),
    )
    results = (
        Result("run-b1", "execution-failure", negative=True, runs=("b1",), experiment_id="beta/e3",
               failure_mode="out-of-memory", suspected_cause="gpu-memory-management"),
    )
    return ImportBatch(tracker=BETA.tracker, source=BETA.source, projects=(Project("beta"),),
                       experiments=(Experiment("beta/e3", "beta e3", project="beta"),), runs=runs, results=results)


def gamma_batch() -> ImportBatch:
    """A Sacred source without a project: one run whose process died (RUNNING, heartbeat stopped on April 1st),
    imported on April 3rd, so presumed dead, and one still alive then. Not part of ``fill``: added where needed."""
    runs = (
        Run("g1", "gamma", RunStatus.RUNNING, started=when(4, 1), last_seen=when(4, 1)),
        Run("g2", "gamma", RunStatus.RUNNING, started=when(4, 1), last_seen=when(4, 3)),
    )
    results = (
        Result("run-g1", "execution-failure", negative=True, runs=("g1",), experiment_id="gamma",
               failure_mode="killed"),
    )
    return ImportBatch(tracker=GAMMA.tracker, source=GAMMA.source, experiments=(Experiment("gamma", "gamma"),),
                       runs=runs, results=results, liveness=Liveness(when(4, 3)))


def fill(store: Store) -> Store:
    """Write both sources into a prepared store."""
    for batch in (alpha_batch(), beta_batch()):
        store_batch(store, batch, location=batch.source)
    return store


def run_iri(source: ImportBatch, native_id: str) -> str:
    return Minter(source.tracker, source.source).run(native_id).value


def experiment_iri(source: ImportBatch, native_id: str) -> str:
    return Minter(source.tracker, source.source).experiment(native_id).value


def project_iri(name: str) -> str:
    return Minter("x", "y").shared("project", name).value
