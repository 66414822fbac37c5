"""DVC importer, on a git + DVC repository made by real DVC and dvclive (tests/fixtures/dvc/generate.py)."""

from __future__ import annotations

import functools
import hashlib
import tarfile
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector
from expgraph.importers.base import SourceError, build_batch
from expgraph.importers.dvc import DvcImporter
from expgraph.records import RunStatus
from expgraph.store import EmbeddedStore

pytest.importorskip("dvc.repo")

ARCHIVE = Path(__file__).parent / "fixtures" / "dvc" / "repo.tar.gz"


@functools.cache
def classifier() -> FailureClassifier:
    return FailureClassifier.from_store(prepare(EmbeddedStore()))


def unpack(target: Path) -> Path:
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(target, filter="data")
    return target / "repo"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(tmp_path_factory.mktemp("dvc"))


@pytest.fixture(scope="module")
def imported(repo: Path):
    importer = DvcImporter(str(repo), collector=Collector())
    return build_batch(importer, classifier()), importer.collector


def runs(result):
    return {run.native_id: run for run in result.runs}


def test_every_experiment_is_a_run_with_its_state(imported):
    result, _ = imported
    assert {name: run.status for name, run in runs(result).items()} == {
        "exp-lr-02": RunStatus.FINISHED,  # run in the workspace: no executor
        "exp-lr-03": RunStatus.FINISHED,  # through the queue: executor state success
        "exp-fails": RunStatus.FAILED,
        "exp-waiting": RunStatus.QUEUED,
    }


def test_succeeded_experiment(imported, repo: Path):
    result, _ = imported
    run = runs(result)["exp-lr-02"]
    params = {p.key: p.value for p in run.params}
    assert params == {"lr": 0.2, "fail": False, "model.name": "résumé-net", "model.layers": 2}
    metrics = {m.key: m for m in run.metrics}
    assert metrics["accuracy"].value == pytest.approx(0.9) and metrics["accuracy"].step == 2
    assert run.code is not None and run.code.commit == run.experiment_id and len(run.code.commit) == 40
    assert run.code.repository == "https://example.org/lab/dvc-demo.git" and run.code.branch == "main"
    (dataset,) = run.datasets  # train.py is a dependency too, but code
    assert dataset.name == "data/train.csv"
    assert dataset.checksum.value == hashlib.md5((repo / "data" / "train.csv").read_bytes()).hexdigest()
    (model,) = run.artifacts
    assert model.checksum.value == hashlib.md5(b"model lr=0.2\n").hexdigest()
    assert run.ended is not None and run.ended.tzinfo is not None


def test_failed_experiment_gets_no_workspace_metrics(imported):
    result, collector = imported
    run = runs(result)["exp-fails"]
    assert run.metrics == () and run.artifacts == ()
    assert run.exit_code == 1  # DVC says 255; its log says the script exited with 1
    assert "loss diverged to NaN" in run.error_text
    assert {p.key: p.value for p in run.params}["lr"] == 9.0
    (negative,) = [r for r in result.results if r.runs == ("exp-fails",)]
    assert negative.negative
    assert any("exp-fails" in warning and "not attached" in warning for warning in collector.warnings)


def test_queued_experiment_has_params_only(imported):
    run = runs(imported[0])["exp-waiting"]
    assert {p.key: p.value for p in run.params}["lr"] == 0.05
    assert run.metrics == () and run.datasets == () and run.artifacts == () and run.exit_code is None
    assert not any(r.runs == ("exp-waiting",) for r in imported[0].results)


def test_not_a_dvc_repository(tmp_path: Path):
    with pytest.raises(SourceError, match="not a DVC repository"):
        build_batch(DvcImporter(str(tmp_path)), classifier())


def test_cli_import(cli, repo: Path):
    code, out, _ = cli("import", "dvc", str(repo))
    assert code == 0, out
    assert "4 runs (1 failed or killed)" in out
