"""One meaning of a metric's first and last value for every tracker: by step, then timestamp, then logging order.

Before, ``eg:firstValue`` was the earliest timestamp for MLflow and Sacred and the lowest step for W&B and
TensorBoard: a value logged for step 0 after one for step 1 (an evaluation redone) made them disagree. Each tracker
case below logs exactly that with the tracker's own writer (or, for Sacred, which is not installed here, edits a
copy of the store Sacred wrote), and the importer must call the step-0 value first. W&B refuses a step lower than
one already logged; its resumed runs merge by step (tests/test_import_wandb.py::
test_resumed_run_merges_its_directories_by_step).
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from expgraph.failures import FailureClassifier
from expgraph.importers import IMPORTERS, Collector, build_batch
from expgraph.importers.series import Point, summarise, summarise_steps
from expgraph.records import ImportBatch, MetricValue

FIXTURES = Path(__file__).parent / "fixtures"


def _metric(batch: ImportBatch, key: str) -> MetricValue:
    (metric,) = [m for run in batch.runs for m in run.metrics if m.key == key]
    return metric


def _batch(tracker: str, source: str) -> ImportBatch:
    return build_batch(IMPORTERS[tracker](source, collector=Collector()), FailureClassifier([]))


# -- the definition ---------------------------------------------------------------------------------------------


def test_step_decides_before_timestamp() -> None:
    metric = summarise("m", [Point(1, 1000.0, 5.0), Point(0, 2000.0, 7.0)])
    assert (metric.history.first, metric.value, metric.step) == (7.0, 5.0, 1)
    assert metric.timestamp == datetime.fromtimestamp(1000.0, UTC)


def test_timestamp_decides_within_a_step_then_logging_order() -> None:
    metric = summarise("m", [Point(3, 20.0, 1.0), Point(3, 10.0, 2.0), Point(3, 20.0, 3.0)])
    assert (metric.history.first, metric.value) == (2.0, 3.0)  # ts 10 first; at ts 20 the later logged is last
    tie = summarise("m", [Point(0, None, 9.0), Point(0, None, math.nan)])
    assert tie.history.first == 9.0 and math.isnan(tie.value)  # no value preference: NaN may be last


def test_minimum_and_maximum_ignore_nan_unless_all_are() -> None:
    metric = summarise("m", [Point(0, 1.0, math.nan), Point(1, 2.0, -math.inf), Point(2, 3.0, 4.0)])
    assert (metric.history.minimum, metric.history.maximum, metric.history.count) == (-math.inf, 4.0, 3)
    empty = summarise("m", [Point(0, 1.0, math.nan)]).history
    assert math.isnan(empty.minimum) and math.isnan(empty.maximum) and empty.count == 1


def test_a_trackers_own_final_value() -> None:
    """W&B keeps a summary value of its own."""
    metric = summarise("m", [Point(0, 1.0, 2.0), Point(1, 2.0, 3.0)], final=8.0)
    assert (metric.value, metric.step, metric.history.first) == (8.0, 1, 2.0)
    assert (metric.history.minimum, metric.history.maximum, metric.history.count) == (2.0, 3.0, 2)


def test_histories_by_step_are_summarised_alike() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert summarise_steps("m", {1: (5.0, when), 0: (7.0, None)}) == summarise(
        "m", [Point(1, when, 5.0), Point(0, None, 7.0)])


# -- every tracker ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_mlflow(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri() if kind == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("redo")).info.run_id
    client.log_metric(run, "val_loss", 5.0, timestamp=1_000, step=1)
    client.log_metric(run, "val_loss", 7.0, timestamp=2_000, step=0)  # step 0 evaluated again, later
    client.set_terminated(run, "FINISHED")
    metric = _metric(_batch("mlflow", uri), "val_loss")
    assert (metric.history.first, metric.value, metric.step) == (7.0, 5.0, 1)


def test_sacred(tmp_path: Path) -> None:
    """The fixture's run 1 with a loss for step -1 appended after the others (the latest timestamp)."""
    shutil.copytree(FIXTURES / "sacred" / "runs", tmp_path / "runs")
    path = tmp_path / "runs" / "1" / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    loss = metrics["loss"]
    loss["steps"].append(min(loss["steps"]) - 1)
    loss["timestamps"].append("2099-01-01T00:00:00")
    loss["values"].append(42.0)
    path.write_text(json.dumps(metrics), encoding="utf-8")
    batch = _batch("sacred", str(tmp_path / "runs"))
    (run,) = [run for run in batch.runs if run.native_id == "1"]
    (metric,) = [m for m in run.metrics if m.key == "loss"]
    assert metric.history.first == 42.0 and metric.value == loss["values"][-2] and metric.history.count == 4


def test_tensorboard(tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path / "logs" / "redo"))
    for step, wall_time, value in [(1, 1000.0, 5.0), (0, 2000.0, 7.0)]:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="val_loss", simple_value=value)])
        writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=summary))
    writer.close()
    metric = _metric(_batch("tensorboard", str(tmp_path / "logs")), "val_loss")
    assert (metric.history.first, metric.value, metric.step) == (7.0, 5.0, 1)

