"""TensorBoard importer, on log directories written by tensorboardX (tests/fixtures/tensorboard/generate.py)."""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector
from expgraph.importers.base import SourceError, build_batch
from expgraph.importers.tensorboard import TensorBoardImporter, _Reader
from expgraph.records import RunStatus
from expgraph.store import EmbeddedStore

pytest.importorskip("tensorboard")

LOGDIR = Path(__file__).parent / "fixtures" / "tensorboard" / "logdir"


@functools.cache
def classifier() -> FailureClassifier:
    return FailureClassifier.from_store(prepare(EmbeddedStore()))


def batch(source: Path, **kwargs):
    importer = TensorBoardImporter(str(source), collector=Collector(**kwargs))
    return build_batch(importer, classifier()), importer.collector


def runs(result):
    return {run.native_id: run for run in result.runs}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(LOGDIR, tmp_path / "logdir")
    return tmp_path / "logdir"


def test_child_directories_belong_to_their_run():
    result, _ = batch(LOGDIR)
    assert sorted(runs(result)) == ["baseline", "diverged", "group/plain", "resumed", "still-running"]
    assert {e.native_id for e in result.experiments} == {".", "group"}
    assert runs(result)["group/plain"].experiment_id == "group"


def test_baseline_scalars_hparams_and_texts():
    run = runs(batch(LOGDIR)[0])["baseline"]
    assert run.status is RunStatus.FINISHED
    metrics = {m.key: m for m in run.metrics}
    assert set(metrics) == {"loss", "accuracy", "losses/train", "losses/val", "hparam/accuracy"}
    assert metrics["loss"].value == 0.1  # float32 on disk, read back as the value logged
    assert metrics["loss"].step == 9 and metrics["loss"].history.count == 10
    assert metrics["losses/val"].history.first == 1.2
    params = {p.key: p for p in run.params}
    assert params["lr"].value == 0.1 and params["optimizer"].value == "sgd" and params["nesterov"].value is True
    assert params["batch_size"].value == 32 and params["batch_size"].original == "32.0"
    assert run.code is not None and run.code.commit == "3f2a9c1d4b5e6f708192a3b4c5d6e7f801234567"
    assert run.tags["text.notes"] == "Überprüfung — ✓ unicode"
    assert run.tags["hparams.metrics"] == "hparam/accuracy"
    assert run.started is not None and run.ended is not None and run.runtime_seconds > 0


def test_session_status_failure_and_running():
    result, _ = batch(LOGDIR)
    diverged = runs(result)["diverged"]
    assert diverged.status is RunStatus.FAILED and diverged.ended is not None
    assert math.isnan({m.key: m.value for m in diverged.metrics}["train/loss"])
    (negative,) = [r for r in result.results if r.runs == ("diverged",)]
    assert negative.failure_mode == "numerical-instability"
    running = runs(result)["still-running"]
    assert running.status is RunStatus.RUNNING and running.ended is None
    assert running.last_seen is not None and running.last_seen >= running.started  # its newest event
    assert runs(result)["group/plain"].status is RunStatus.UNKNOWN  # no hparams session: no claim


def test_resumed_run_merges_event_files_by_step():
    run_dir = LOGDIR / "resumed"
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
    importer = TensorBoardImporter(str(LOGDIR))
    data = importer.read_run(_Reader(), run_dir, {run_dir: sorted(run_dir.glob("events.out.tfevents.*"))})
    assert sorted(data.scalars["loss"]) == list(range(8))
    assert data.scalars["loss"][4][0] == 5.0  # written by both sessions: the later one wins
    loss = {m.key: m for m in runs(batch(LOGDIR)[0])["resumed"].metrics}["loss"]
    assert (loss.step, loss.value, loss.history.count) == (7, 2.0, 8)


def test_truncated_last_record_is_a_warning(copy: Path):
    (event_file,) = (copy / "diverged").glob("events.out.tfevents.*")
    event_file.write_bytes(event_file.read_bytes()[:-6])
    result, collector = batch(copy)
    run = runs(result)["diverged"]
    assert run.status is RunStatus.FAILED
    assert {m.key for m in run.metrics} == {"train/loss"}  # hparam/loss was the torn last record
    assert any("truncated last record" in w and str(event_file) in w for w in collector.warnings)


def test_corrupt_record_in_the_middle_names_the_file(copy: Path):
    event_file = next((copy / "baseline").glob("events.out.tfevents.*"))
    data = bytearray(event_file.read_bytes())
    data[60] ^= 0xFF
    event_file.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="corrupt event record") as error:
        batch(copy)
    assert error.value.path == str(event_file)
    result, collector = batch(copy, skip_invalid=True)
    assert "baseline" not in runs(result) and len(collector.skipped) == 1


def test_a_logdir_that_is_itself_a_run():
    result, _ = batch(LOGDIR / "resumed")
    assert [run.native_id for run in result.runs] == ["resumed"]


def test_no_event_files(tmp_path: Path):
    with pytest.raises(SourceError, match="no TensorBoard event files"):
        batch(tmp_path)


def test_cli_import(cli):
    code, out, _ = cli("import", "tensorboard", str(LOGDIR))
    assert code == 0, out
    # still-running's session says RUNNING and its last event is weeks old at any import from now on
    assert "5 runs (1 failed or killed, 1 presumed dead)" in out
