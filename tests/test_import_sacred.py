"""The Sacred importer against a FileStorageObserver directory written by Sacred (tests/fixtures/sacred/generate.py)."""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector, SourceError, build_batch
from expgraph.importers.sacred import SacredImporter, _time
from expgraph.records import ImportBatch, Liveness, Run, RunStatus
from expgraph.store import EmbeddedStore

FIXTURE = Path(__file__).parent / "fixtures" / "sacred" / "runs"


def _start_of_killed_run() -> datetime:
    return _time(json.loads((FIXTURE / "7" / "run.json").read_text())["start_time"])


def _liveness(minutes_after_start: float) -> Liveness:
    """Judged some minutes after the killed run started, with a 10-minute threshold (Sacred beats every 10 s)."""
    return Liveness(_start_of_killed_run() + timedelta(minutes=minutes_after_start), timedelta(minutes=10))


def _batch(source: Path, *, minutes_after_start: float = 60, skip_invalid: bool = False) -> ImportBatch:
    importer = SacredImporter(str(source), collector=Collector(skip_invalid=skip_invalid))
    with prepare(EmbeddedStore()) as store:
        return build_batch(importer, FailureClassifier.from_store(store), _liveness(minutes_after_start))


@pytest.fixture(scope="module")
def batch() -> ImportBatch:
    return _batch(FIXTURE)


def run(batch: ImportBatch, native_id: str) -> Run:
    return next(r for r in batch.runs if r.native_id == native_id)


def test_experiments_and_runs(batch: ImportBatch) -> None:
    assert [e.name for e in batch.experiments] == ["mnist-mlp", "ünïcode-實驗"]
    assert [r.native_id for r in batch.runs] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert run(batch, "8").experiment_id == "ünïcode-實驗"


def test_statuses(batch: ImportBatch) -> None:
    statuses = {r.native_id: r.status for r in batch.runs}
    assert statuses == {"1": RunStatus.FINISHED, "2": RunStatus.FAILED, "3": RunStatus.FAILED,
                        "4": RunStatus.KILLED, "5": RunStatus.FAILED, "6": RunStatus.QUEUED,
                        "7": RunStatus.RUNNING, "8": RunStatus.FINISHED}


def test_a_sigkilled_run_stays_running_and_is_presumed_dead_only_once_its_last_sign_of_life_is_stale() -> None:
    """Run 7's process was SIGKILLed before its first heartbeat: Sacred says RUNNING forever; its start is the last
    sign of life. The status stays what Sacred said; the negative result comes from the inference."""
    fresh = _batch(FIXTURE, minutes_after_start=1)
    assert run(fresh, "7").status is RunStatus.RUNNING
    assert not _liveness(1).presumed_dead(run(fresh, "7"))
    assert not [r for r in fresh.results if r.runs == ("7",)]
    stale = _batch(FIXTURE, minutes_after_start=11)
    assert run(stale, "7").status is RunStatus.RUNNING and run(stale, "7").error_text is None
    assert _liveness(11).presumed_dead(run(stale, "7"))
    [result] = [r for r in stale.results if r.runs == ("7",)]
    assert result.negative and result.title.startswith("presumed dead")
    assert _start_of_killed_run().isoformat() in result.observed_outcome


def test_the_heartbeat_is_the_last_sign_of_life() -> None:
    beats = {folder.name: json.loads((folder / "run.json").read_text()).get("heartbeat")
             for folder in FIXTURE.iterdir() if (folder / "run.json").is_file()}
    batch = _batch(FIXTURE)
    assert {r.native_id: r.last_seen for r in batch.runs} == {key: _time(value) for key, value in beats.items()}


def test_fail_trace_is_kept_and_classified(batch: ImportBatch) -> None:
    assert "FloatingPointError: loss became nan" in run(batch, "2").error_text
    modes = {r.runs[0]: r.failure_mode for r in batch.results}
    assert modes == {"2": "numerical-instability", "3": "out-of-memory", "4": "keyboard-interrupt",
                     "5": "timeout", "7": "killed"}


def test_config_is_flattened_and_seed_is_the_runs_seed(batch: ImportBatch) -> None:
    first = run(batch, "1")
    params = {p.key: p.value for p in first.params}
    assert params["optim.schedule.kind"] == "cosine" and params["optim.lr"] == 0.1
    assert params["model.layers"] == "[256, 128]"
    assert "seed" not in params and first.seed == 1
    assert run(batch, "3").params and {p.key: p.value for p in run(batch, "3").params}["optim.lr"] == 3.0
    assert {p.key: p.value for p in run(batch, "8").params} == {"学习率": 0.01}


def test_metrics_history_and_latest(batch: ImportBatch) -> None:
    metrics = {m.key: m for m in run(batch, "1").metrics}
    assert metrics["accuracy"].value == 0.75 and metrics["accuracy"].step == 2
    assert metrics["accuracy"].history.count == 4 and metrics["accuracy"].history.first == 0.5
    nan_loss = {m.key: m for m in run(batch, "2").metrics}["loss"]
    assert math.isnan(nan_loss.value) and nan_loss.history.minimum == 1.0


def test_code_environment_and_resources(batch: ImportBatch) -> None:
    first = run(batch, "1")
    assert first.code is not None and len(first.code.commit) == 40 and first.code.dirty is not None
    assert first.environment.python_version and any(p.startswith("sacred==") for p in first.environment.packages)
    (resource,) = first.datasets
    assert resource.name == "train.csv"
    assert (resource.checksum.algorithm, resource.checksum.value) == ("md5", "178ba85707470c41cf680fb37ff99f7f")
    (artifact,) = first.artifacts
    assert (artifact.path, artifact.location) == ("model.txt", "1/model.txt")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "runs"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.mark.parametrize("damage", ["missing-run-json", "bad-metrics", "not-an-object"])
def test_damaged_runs_name_the_file(copy: Path, damage: str) -> None:
    if damage == "missing-run-json":
        (copy / "3" / "run.json").unlink()
        culprit = copy / "3" / "run.json"
    elif damage == "bad-metrics":
        culprit = copy / "3" / "metrics.json"
        culprit.write_text(json.dumps({"loss": {"steps": [0, 1], "timestamps": [], "values": [1.0]}}))
    else:
        culprit = copy / "3" / "run.json"
        culprit.write_text("[1, 2]")
    with pytest.raises(SourceError) as error:
        _batch(copy)
    assert str(culprit) in str(error.value)
    partial = _batch(copy, skip_invalid=True)
    assert [r.native_id for r in partial.runs] == ["1", "2", "4", "5", "6", "7", "8"]
    assert any(str(culprit) in warning for warning in partial.warnings)


def test_not_a_sacred_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Sacred"):
        _batch(tmp_path)
    with pytest.raises(SourceError, match="no such"):
        _batch(tmp_path / "missing")


def test_artifact_names_cannot_escape_the_run_folder(copy: Path) -> None:
    data = json.loads((copy / "1" / "run.json").read_text())
    data["artifacts"] = ["/etc/passwd"]
    (copy / "1" / "run.json").write_text(json.dumps(data))
    with pytest.raises(SourceError, match="escapes"):
        _batch(copy)


def test_a_project_adds_its_own_failure_rule(tmp_path: Path) -> None:
    """The recipe of docs/importers.md: load a concept with an eg:errorPattern, then import."""
    rules = tmp_path / "lab-failure-modes.ttl"
    rules.write_text("""
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix eg:   <https://w3id.org/expgraph#> .
@prefix lab:  <https://example.org/our-lab/failure-mode/> .
lab:nan-after-warmup a skos:Concept ;
    skos:broader <https://w3id.org/expgraph/vocab/failure-mode/numerical-instability> ;
    skos:notation "nan-after-warmup" ;
    eg:errorPattern "loss became nan at step \\\\d" ;
    eg:rulePriority 5 .
""", encoding="utf-8")
    from expgraph.catalog import load_file

    with prepare(EmbeddedStore()) as store:
        load_file(store, rules)
        batch = build_batch(SacredImporter(str(FIXTURE)), FailureClassifier.from_store(store), _liveness(60))
    modes = {r.runs[0]: r.failure_mode for r in batch.results}
    assert modes["2"] == "https://example.org/our-lab/failure-mode/nan-after-warmup"
    assert modes["3"] == "out-of-memory"
