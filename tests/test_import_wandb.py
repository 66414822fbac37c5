"""W&B offline importer, on runs written by the real SDK (tests/fixtures/wandb/generate.py)."""

from __future__ import annotations

import functools
import math
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector
from expgraph.importers.base import SourceError, build_batch
from expgraph.importers.wandb import WandbImporter
from expgraph.importers.wandb_log import BLOCK, chunks, replay
from expgraph.records import Liveness, RunStatus
from expgraph.store import EmbeddedStore

pytest.importorskip("wandb.proto.wandb_internal_pb2")

FIXTURE = Path(__file__).parent / "fixtures" / "wandb"
OLD_SDK = FIXTURE / "sdk-0.16" / "wandb"


@functools.cache
def classifier() -> FailureClassifier:
    """The shipped failure-mode rules (read once: the vocabulary does not change here)."""
    return FailureClassifier.from_store(prepare(EmbeddedStore()))


def batch(source: Path, **kwargs):
    importer = WandbImporter(str(source), collector=Collector(**kwargs))
    return build_batch(importer, classifier()), importer.collector


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "wandb"
    shutil.copytree(FIXTURE / "wandb", target)
    return target


def runs_by_id(result):
    return {run.native_id: run for run in result.runs}


def log_of(root: Path, run_id: str) -> Path:
    return sorted(root.glob(f"*-{run_id}/run-{run_id}.wandb"))[-1]


def test_finished_run_recovers_everything():
    result, _ = batch(FIXTURE)
    run = runs_by_id(result)["fin00001"]
    assert run.status is RunStatus.FINISHED and run.exit_code == 0
    assert run.name == "résumé-β run ✓"
    assert run.description == "first try — with unicode"
    assert run.tags["wandb.tags"] == "baseline, données"
    assert run.experiment_id == "vision/baseline"
    params = {p.key: p.value for p in run.params}
    assert params["optimizer.name"] == "adam" and params["optimizer.lr"] == 0.001
    assert params["épochs"] == 3 and params["use_amp"] is True
    assert params["optimizer.betas"] == "[0.9, 0.999]"
    assert sum(key.startswith("key_") for key in params) == 60
    assert "_wandb" not in params
    metrics = {m.key: m for m in run.metrics}
    assert metrics["loss"].value == pytest.approx(0.2) and metrics["loss"].step == 4
    assert metrics["loss"].history.count == 5 and metrics["loss"].history.maximum == 1.0
    assert metrics["best_acc"].value == 0.9 and metrics["best_acc"].history is None
    assert run.started is not None and run.ended is not None and run.ended > run.started
    assert run.runtime_seconds is not None and run.runtime_seconds > 0
    assert run.code is not None and len(run.code.commit) == 40
    assert run.code.repository == "https://example.org/lab/vision.git"
    assert run.environment.python_version.count(".") == 2
    assert any(p.startswith("wandb==") for p in run.environment.packages)
    (dataset,) = run.datasets
    assert dataset.name == "mnist-small" and dataset.checksum and len(dataset.checksum.value) == 32
    (model,) = run.artifacts
    assert model.is_model and model.size == 7
    assert model.checksum.value == "63f4f1e9b725370f459720575cd5f953"  # md5(b"weights")
    assert not any(r.runs == ("fin00001",) for r in result.results)


def test_crashed_run_is_failed_with_its_traceback():
    result, _ = batch(FIXTURE)
    run = runs_by_id(result)["crash001"]
    assert run.status is RunStatus.FAILED and run.exit_code == 1
    assert "CUDA out of memory" in run.error_text
    assert math.isnan({m.key: m.value for m in run.metrics}["loss"])
    (negative,) = [r for r in result.results if r.runs == ("crash001",)]
    assert negative.negative and negative.failure_mode == "out-of-memory"


def test_killed_run_has_no_exit_record_stays_running_and_is_presumed_dead_once_silent():
    """Its process was SIGKILLed: W&B writes no exit record and shows the run running; its newest history row is
    its last sign of life, and a day later it is presumed dead (a negative result, failure mode killed)."""
    result, collector = batch(FIXTURE)
    run = runs_by_id(result)["kill0001"]
    assert run.status is RunStatus.RUNNING and run.exit_code is None and run.ended is None
    assert {m.key: m for m in run.metrics}["loss"].history.count == 150
    assert any("kill0001" in w and "no exit record" in w for w in collector.warnings)
    assert run.last_seen == max(m.timestamp for m in run.metrics if m.timestamp) and run.last_seen > run.started
    assert not [r for r in result.results if r.runs == ("kill0001",)]  # no liveness given: nothing inferred
    soon = Liveness(run.last_seen + timedelta(hours=1))
    later = Liveness(run.last_seen + timedelta(hours=25))
    assert not soon.presumed_dead(run) and later.presumed_dead(run)
    judged = build_batch(WandbImporter(str(FIXTURE)), classifier(), later)
    assert [r.failure_mode for r in judged.results if r.runs == ("kill0001",)] == ["killed"]


def test_resumed_run_merges_its_directories_by_step():
    result, _ = batch(FIXTURE)
    assert sorted(runs_by_id(result)) == ["crash001", "fin00001", "kill0001", "resum001"]
    run = runs_by_id(result)["resum001"]
    loss = {m.key: m for m in run.metrics}["loss"]
    assert loss.step == 5 and loss.history.count == 6 and loss.history.first == 1.0
    assert run.status is RunStatus.FINISHED


def test_torn_tail_is_a_warning_and_keeps_the_complete_records(copy: Path):
    log = log_of(copy, "fin00001")
    data = log.read_bytes()
    log.write_bytes(data[:-5])
    result, collector = batch(copy)
    run = runs_by_id(result)["fin00001"]
    assert run.status is RunStatus.RUNNING  # the exit record was in the torn tail: as W&B itself would show it
    assert {m.key for m in run.metrics} >= {"loss", "acc"}
    assert any("torn tail" in w and str(log) in w for w in collector.warnings)


def test_empty_log_is_unknown_not_finished(copy: Path):
    log = log_of(copy, "crash001")
    log.write_bytes(log.read_bytes()[:7])
    run = runs_by_id(batch(copy)[0])["crash001"]
    assert run.status is RunStatus.UNKNOWN


def test_corrupt_record_names_the_file(copy: Path):
    log = log_of(copy, "fin00001")
    data = bytearray(log.read_bytes())
    data[40] ^= 0xFF  # inside the first records, far from the tail
    log.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="checksum mismatch") as error:
        batch(copy)
    assert error.value.path == str(log)
    result, collector = batch(copy, skip_invalid=True)
    assert "fin00001" not in runs_by_id(result) and collector.skipped


def test_not_a_wandb_log(copy: Path):
    log = log_of(copy, "fin00001")
    log.write_bytes(b"PK\x03\x04 not a log at all")
    with pytest.raises(SourceError, match="bad file header"):
        batch(copy)


def test_records_spanning_blocks_are_reassembled():
    """The killed run's log is longer than one 32 KiB block, so some record crosses a block boundary."""
    log = log_of(FIXTURE / "wandb", "kill0001")
    data = log.read_bytes()
    assert len(data) > BLOCK
    payloads, torn = chunks(log, data)
    assert torn is None
    assert len(replay(log).records) == len(payloads) > 300


def test_sdk_016_run_reads_log_and_metadata():
    """SDK 0.16 wrote wandb-metadata.json (user, host, start) beside the log; its log lacks an environment."""
    result, _ = batch(OLD_SDK)
    (run,) = result.runs
    assert run.native_id == "old00001" and run.status is RunStatus.FINISHED
    assert {p.key: p.value for p in run.params} == {"lr": 0.5, "net.depth": 4}
    assert {m.key: m.value for m in run.metrics} == {"loss": 0.7, "best_loss": 0.7}
    assert run.agent is not None and run.agent.name  # username from wandb-metadata.json
    assert run.environment.python_version.count(".") == 2 and run.tags["wandb.tags"] == "v016"


def test_sdk_016_files_without_a_log_are_unknown(tmp_path: Path):
    shutil.copytree(OLD_SDK, tmp_path / "wandb")
    for log in (tmp_path / "wandb").rglob("*.wandb"):
        log.unlink()
    result, collector = batch(tmp_path)
    (run,) = result.runs
    assert run.status is RunStatus.UNKNOWN and run.started is not None and run.agent is not None
    assert run.metrics == () and any("no records" in w for w in collector.warnings)


def test_config_yaml_and_summary_files_fill_a_run_without_a_log(tmp_path: Path):
    """config.yaml as SDK 0.16 wrote it for online runs (no offline fixture has one: written here by hand)."""
    run_dir = tmp_path / "wandb" / "run-20240101_120000-old00002"
    files = run_dir / "files"
    files.mkdir(parents=True)
    (files / "config.yaml").write_text("wandb_version: 1\n_wandb:\n  desc: null\n  value: {}\nlr:\n  desc: null\n"
                                       "  value: 0.5\n")
    (files / "wandb-summary.json").write_text('{"loss": 0.25, "_runtime": 12, "_wandb": {"runtime": 12}}')
    result, _ = batch(tmp_path)
    (run,) = result.runs
    assert run.status is RunStatus.UNKNOWN
    assert {p.key: p.value for p in run.params} == {"lr": 0.5}
    assert {m.key: m.value for m in run.metrics} == {"loss": 0.25}
    assert run.runtime_seconds == 12


def test_bad_config_yaml_names_the_file(tmp_path: Path):
    files = tmp_path / "run-20240101_120000-bad00001" / "files"
    files.mkdir(parents=True)
    (files / "config.yaml").write_text("lr: [unclosed\n")
    with pytest.raises(SourceError, match="not valid YAML") as error:
        batch(tmp_path)
    assert error.value.path.endswith("config.yaml")


def test_files_linking_outside_are_not_read(copy: Path, tmp_path: Path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"username": "LEAKED"}')
    files = next(copy.glob("*-kill0001")) / "files"
    (files / "wandb-metadata.json").symlink_to(secret)
    result, collector = batch(copy)
    assert runs_by_id(result)["kill0001"].agent is None
    assert any("outside the source" in w for w in collector.warnings)


def test_no_run_directories(tmp_path: Path):
    with pytest.raises(SourceError, match="no W&B run directories"):
        batch(tmp_path)


def test_cli_import_is_idempotent(cli):
    code, out, _ = cli("import", "wandb", str(FIXTURE / "wandb"))
    assert code == 0, out
    assert "4 runs" in out and "(1 failed or killed, 1 presumed dead)" in out  # the fixture is from 2026-11-23
    code, out, _ = cli("import", "wandb", str(FIXTURE / "wandb"))
    assert code == 0 and "unchanged" in out
