"""A small catalog for the web tests, written through the real import path (records → mapper → store).

It holds what the pages must show: a failed run with an error text and a negative result with a failure mode,
shared dataset snapshots, a parent and child run, a result informing a later experiment, a project's own
failure-mode concept, and a run whose name and parameters are hostile HTML.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from expgraph.catalog import store_batch
from expgraph.mapping import Minter
from expgraph.records import (
    Agent,
    Checksum,
    CodeVersion,
    Concept,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    ImportBatch,
    MetricHistory,
    MetricValue,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
)
from expgraph.store import Store

SOURCE = "/data/web-test-mlruns"
MINT = Minter("mlflow", SOURCE)
OOM_ERROR = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)"
HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_PARAM = "<img src=x onerror=alert('param')>"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

TRAIN_V1 = DatasetSnapshot("cifar10-train", Checksum("md5", "a" * 32), version="1", context="training")
TRAIN_V2 = DatasetSnapshot("cifar10-train", Checksum("md5", "b" * 32), version="2", context="training")
CODE = CodeVersion("0123456789abcdef0123456789abcdef01234567", repository="https://git.example.org/vision")
ENV = Environment(python_version="3.11.8", packages=("torch==2.2.0",))


def loss_points(lr: float, start: datetime) -> tuple[tuple[int, float, datetime], ...]:
    """100 logged losses (steps 1-100, one every 10 s): 2.3 falling to 0.4 + lr at step 90, then 0.5 + lr at step
    100, with a NaN at step 50 (the history summary below says the same)."""
    def value(step: int) -> float:
        if step == 50:
            return math.nan
        return 2.3 - (1.9 - lr) * (step - 1) / 89 if step <= 90 else 0.4 + lr + 0.01 * (step - 90)
    return tuple((step, round(value(step), 6), start + timedelta(seconds=10 * step)) for step in range(1, 101))


def run(native_id: str, status: RunStatus, minutes: int, lr: float, **extra) -> Run:
    defaults = dict(
        name=f"run {native_id}", started=T0 + timedelta(minutes=minutes),
        ended=T0 + timedelta(minutes=minutes + 30), agent=Agent("alice"),
        params=(ParameterSetting("lr", lr), ParameterSetting("batch_size", 64)),
        metrics=(MetricValue("loss", 0.5 + lr, step=100, history=MetricHistory(
            2.3, 0.4 + lr, 2.3, 100, points=loss_points(lr, T0 + timedelta(minutes=minutes)))),),
        datasets=(TRAIN_V1,), code=CODE, environment=ENV)
    return Run(native_id, "exp1", status, **{**defaults, **extra})


def batch() -> ImportBatch:
    runs = (
        run("r1", RunStatus.FINISHED, 0, 0.01),
        run("r2", RunStatus.FAILED, 40, 0.1, error_text=OOM_ERROR, exit_code=1,
            metrics=(MetricValue("loss", math.nan, step=3),)),
        run("r3", RunStatus.FINISHED, 80, 0.001, datasets=(TRAIN_V2,), parent_id="r1"),
        run("r4", RunStatus.KILLED, 120, 0.05, name=HOSTILE_NAME, error_text="killed by user <b>ctrl-c</b>",
            params=(ParameterSetting("note", HOSTILE_PARAM), ParameterSetting("lr", 0.05))),
        Run("r5", "exp2", RunStatus.FINISHED, name="follow-up", started=T0 + timedelta(days=2),
            agent=Agent("bob"), params=(ParameterSetting("lr", 0.01),), datasets=(TRAIN_V2,)),
    )
    results = (
        Result("nr-r2", "execution-failure", negative=True, title="r2 ran out of GPU memory", runs=("r2",),
               experiment_id="exp1", failure_mode="out-of-memory", suspected_cause="gpu-usage",
               lessons=("halve the batch size on 16 GB cards",), error_text=OOM_ERROR, informs=("exp2",)),
        Result("nr-r4", "execution-failure", negative=True, title="r4 was stopped", runs=("r4",),
               experiment_id="exp1", failure_mode="dataloader-stall"),
        Result("res-1", "refutes", title="warmup does not help", experiment_id="exp1", runs=("r1", "r3"),
               observed_outcome="accuracy unchanged within noise"),
    )
    return ImportBatch(
        "mlflow", SOURCE,
        projects=(Project("vision", title="Vision robustness", description="Robustness of small CNNs"),),
        experiments=(
            Experiment("exp1", "lr sweep", project="vision",
                       hypothesis=Hypothesis("warmup improves accuracy", "accuracy +1%")),
            Experiment("exp2", "smaller batches", project="vision"),
        ),
        runs=runs, results=results,
        concepts=(Concept("failure-mode", "dataloader-stall", "vision", "data loader stall", broader="timeout"),),
    )


def build(store: Store) -> Store:
    store_batch(store, batch(), location=SOURCE)
    return store


def iri(kind: str, native_id: str) -> str:
    return MINT.local(kind, native_id).value
