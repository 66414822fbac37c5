"""The MLflow importer against stores written by MLflow itself (tests/fixtures/mlflow/generate.py)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from expgraph.catalog import run_import
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector, SourceError, build_batch
from expgraph.importers.mlflow import MlflowImporter
from expgraph.records import ImportBatch, Run, RunStatus
from expgraph.store import Store
from loopback import free_port

FIXTURE = Path(__file__).parent / "fixtures" / "mlflow"
EG = "https://w3id.org/expgraph#"


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture stores copied elsewhere: their baked absolute artifact URIs now point at the old place."""
    target = tmp_path_factory.mktemp("moved") / "mlflow"
    shutil.copytree(FIXTURE, target)
    return target


def _batch(source: str) -> ImportBatch:
    from expgraph.catalog import prepare
    from expgraph.store import EmbeddedStore

    with prepare(EmbeddedStore()) as store:
        return build_batch(MlflowImporter(source), FailureClassifier.from_store(store))


@pytest.fixture(scope="module", params=["file", "sqlite"])
def batch(request: pytest.FixtureRequest, moved: Path) -> ImportBatch:
    if request.param == "file":
        return _batch(str(moved / "mlruns"))
    return _batch(f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}")


def run(batch: ImportBatch, name: str) -> Run:
    return next(r for r in batch.runs if r.name == name)


def test_experiments_and_runs(batch: ImportBatch) -> None:
    names = {e.name for e in batch.experiments}
    assert {"cifar-resnet", "ünïcode-實驗"} <= names
    vision = next(e for e in batch.experiments if e.name == "cifar-resnet")
    assert vision.project == "vision" and vision.description == "ResNet-18 on CIFAR-10, lr sweep"
    assert len(batch.runs) == 10
    assert run(batch, "baseline").agent.name == "ada"


def test_status_mapping_never_calls_a_dead_or_queued_run_finished(batch: ImportBatch) -> None:
    assert run(batch, "baseline").status is RunStatus.FINISHED
    assert run(batch, "trial-lr-10").status is RunStatus.FAILED
    assert run(batch, "bert-finetune").status is RunStatus.KILLED
    assert run(batch, "queued-job").status is RunStatus.QUEUED
    crashed = run(batch, "crashed-worker")  # its process was SIGKILLed: MLflow still says RUNNING
    assert crashed.status is RunStatus.RUNNING and crashed.ended is None


def test_latest_metric_is_highest_step_then_newest_timestamp(batch: ImportBatch) -> None:
    metrics = {m.key: m for m in run(batch, "baseline").metrics}
    assert (metrics["loss"].value, metrics["loss"].step) == (0.9, 3)  # 1.2 was written last, for step 2
    assert metrics["accuracy"].value == 0.72  # two values at step 5: the newer one
    history = metrics["loss"].history
    assert (history.first, history.minimum, history.maximum, history.count) == (2.0, 0.9, 2.0, 4)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_what_mlflows_own_client_reads_is_what_we_read(kind: str, moved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local stores are read in bulk behind the client's back: check every run against the client's answers."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (moved / "mlruns").as_uri() if kind == "file" else f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}"
    client = MlflowClient(uri)
    ours = {r.native_id: r for r in _batch(uri if kind == "sqlite" else str(moved / "mlruns")).runs}
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    theirs = client.search_runs(experiments, run_view_type=ViewType.ALL)
    assert {r.info.run_id for r in theirs} == set(ours)
    for their in theirs:
        mine = ours[their.info.run_id]
        assert {p.key: p.original or p.value for p in mine.params} == their.data.params
        assert set(mine.tags.items()) <= set(their.data.tags.items())
        assert sorted(d.version for d in mine.datasets) == sorted(i.dataset.digest for i in their.inputs.dataset_inputs)
        metrics = {m.key: m for m in mine.metrics}
        assert set(metrics) == set(their.data.metrics)
        for key, value in their.data.metrics.items():
            assert metrics[key].value == value or (math.isnan(metrics[key].value) and math.isnan(value)) or (
                kind == "sqlite" and abs(value) == sys.float_info.max and metrics[key].value == math.copysign(
                    math.inf, value))
            assert metrics[key].history.count == len(client.get_metric_history(their.info.run_id, key))


def test_nan_and_infinities_are_kept(batch: ImportBatch) -> None:
    metrics = {m.key: m.value for m in run(batch, "baseline").metrics}
    assert math.isnan(metrics["val_loss"])
    assert metrics["grad_norm"] == math.inf and metrics["neg"] == -math.inf  # sqlite stores them as ±max float


def test_nested_runs_point_at_their_own_parent(batch: ImportBatch) -> None:
    sweep, trial, fold = run(batch, "lr-sweep"), run(batch, "trial-lr-0.5"), run(batch, "trial-lr-0.5-fold-0")
    assert sweep.parent_id is None
    assert trial.parent_id == sweep.native_id
    assert fold.parent_id == trial.native_id


def test_params_unicode_slashes_and_types(batch: ImportBatch) -> None:
    params = {p.key: p for p in run(batch, "baseline").params}
    assert len(params) == 160
    assert params["layer/000/width"].value == 64
    assert params["学习率"].value == 0.01
    assert params["note"].value == "ünïcode välue ✓"
    assert params["use_amp"].value is True
    assert (params["weight_decay"].value, params["weight_decay"].original) == (0.0005, "5e-4")


def test_datasets_commit_artifacts_and_model(batch: ImportBatch) -> None:
    baseline = run(batch, "baseline")
    cifar = next(d for d in baseline.datasets if d.name == "cifar10")
    assert cifar.checksum.value == "c58f30108f718f92721af3b95e74349a"
    assert cifar.location.endswith("cifar-10-python.tar.gz") and cifar.context == "training"
    assert baseline.code.commit == "0123456789abcdef0123456789abcdef01234567"
    artifacts = {a.path: a for a in baseline.artifacts}
    summary = artifacts["reports/summary.txt"]
    assert summary.size == len("final accuracy 0.72\n")
    assert not Path(summary.location).is_absolute() and summary.location.endswith("artifacts/reports/summary.txt")
    assert artifacts["models/resnet18"].is_model


def test_deleted_run_is_kept_and_marked(batch: ImportBatch) -> None:
    assert run(batch, "mistake").deleted
    assert not run(batch, "baseline").deleted


def test_failures_are_classified(batch: ImportBatch) -> None:
    modes = {r.title.split(": ", 1)[1]: r.failure_mode for r in batch.results}
    assert modes == {"trial-lr-10": "numerical-instability", "resnet152-bs512": "out-of-memory",
                     "bert-finetune": "killed"}
    oom = next(r for r in batch.results if r.failure_mode == "out-of-memory")
    assert "CUDA out of memory" in oom.error_text


def test_file_and_sqlite_stores_give_the_same_runs(moved: Path) -> None:
    def summary(b: ImportBatch) -> set[tuple]:
        return {(r.name, r.status, len(r.params), len(r.metrics), r.deleted, len(r.artifacts)) for r in b.runs}

    assert summary(_batch(str(moved / "mlruns"))) == summary(_batch(f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}"))


def test_source_identity_is_the_absolute_store_path(moved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(moved)
    identities = {MlflowImporter(s).identity() for s in ["mlruns", "./mlruns", str(moved / "mlruns"),
                                                         (moved / "mlruns").as_uri()]}
    assert identities == {(moved / "mlruns").resolve().as_uri()}
    assert MlflowImporter("sqlite:///sqlite/mlflow.db").identity() == f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}"
    assert MlflowImporter("HTTP://Tracking:5000/").identity() == "http://tracking:5000"


def test_contract_terms_in_the_store(moved: Path, memory_store: Store) -> None:
    run_import(memory_store, MlflowImporter(f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}"))
    rows = memory_store.select(f"""
        SELECT ?key ?value WHERE {{
          ?run <{EG}status>/<http://www.w3.org/2004/02/skos/core#notation> "finished" ;
               <http://www.w3.org/2000/01/rdf-schema#label> "baseline" ;
               <http://www.w3.org/ns/mls#hasOutput> ?m .
          ?m <http://www.w3.org/ns/mls#specifiedBy>/<http://www.w3.org/2000/01/rdf-schema#label> ?key ;
             <http://www.w3.org/ns/mls#hasValue> ?value .
        }}""")
    values = {row["key"].value: row["value"].value for row in rows}
    assert values["val_loss"] == "NaN" and values["grad_norm"] == "INF" and values["neg"] == "-INF"
    deleted = memory_store.select(f'SELECT ?run WHERE {{ ?run <{EG}deleted> true }}')
    assert len(deleted) == 1


def test_works_without_the_file_store_env_var(moved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert len(_batch(str(moved / "mlruns")).runs) == 10
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set while reading only


def test_skip_invalid_imports_the_good_runs_and_lists_the_bad(tmp_path: Path, memory_store: Store) -> None:
    store_dir = tmp_path / "mlruns"
    shutil.copytree(FIXTURE / "mlruns", store_dir)
    broken = next(p for p in sorted(store_dir.glob("*/*/meta.yaml")) if len(p.parent.name) == 32)
    broken.write_text("status: [", encoding="utf-8")
    collector = Collector(skip_invalid=True)
    outcome = run_import(memory_store, MlflowImporter(str(store_dir), collector=collector))
    assert outcome.runs == 9
    assert len(collector.skipped) == 1 and str(broken.parent) in collector.skipped[0]


@pytest.mark.parametrize("make", ["missing", "empty-dir", "not-mlflow-db", "sqlite-missing", "scheme"])
def test_bad_sources_are_refused_without_writing(make: str, tmp_path: Path) -> None:
    source = {"missing": str(tmp_path / "nope"), "empty-dir": str(tmp_path),
              "sqlite-missing": f"sqlite:///{tmp_path / 'none.db'}", "scheme": "s3://bucket/mlruns"}.get(make)
    if make == "not-mlflow-db":
        with sqlite3.connect(tmp_path / "other.db") as connection:
            connection.execute("CREATE TABLE notes (x TEXT)")
        source = f"sqlite:///{tmp_path / 'other.db'}"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SourceError):
        MlflowImporter(source).identity()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # MLflow did not create a store


def test_cli_summary_as_json(cli, moved: Path) -> None:
    import json

    code, out, err = cli("import", "mlflow", str(moved / "mlruns"), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    # 3 failed or killed runs, and the SIGKILLed crashed-worker, presumed dead (its last value is from 2023)
    assert (summary["runs"], summary["failures"], summary["negative_results"]) == (10, 3, 4)
    code, out, err = cli("import", "mlflow", str(moved / "mlruns"))
    assert code == 0 and "unchanged" in out
    code, out, err = cli("import", "mlflow", str(moved / "nowhere"))
    assert code != 0  # the one-line message is printed by main(); SourceError texts are tested above


def test_cli_import_without_validation(cli, moved: Path) -> None:
    import json

    code, out, err = cli("import", "mlflow", str(moved / "mlruns"), "--no-validate", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["runs"] == 10 and summary["quality"] is None
    code, out, err = cli("import", "mlflow", str(moved / "mlruns"), "--format", "json")  # unchanged, still checked
    assert code == 0, err
    assert json.loads(out)["quality"]["runs"] == 10


@pytest.mark.parametrize(("text", "value"), [("128", 128), ("-3", -3), ("0.1", 0.1), ("1e3", 1000.0),
                                             ("True", True), ("false", False), ("007", "007"), ("nan", "nan"),
                                             ("1_000", "1_000"), ("inf", "inf"), ("", "")])
def test_parameter_typing_is_only_done_when_certain(text: str, value: object) -> None:
    from expgraph.importers.base import parameter

    setting = parameter("k", text)
    assert setting.value == value and type(setting.value) is type(value)
    assert setting.original == (None if isinstance(value, str) else text)


@pytest.mark.parametrize("damage", ["garbage", "empty"])
def test_an_experiment_mlflow_cannot_read_is_an_error_not_an_omission(tmp_path: Path, damage: str) -> None:
    store_dir = tmp_path / "mlruns"
    shutil.copytree(FIXTURE / "mlruns", store_dir)
    meta = next(p for p in sorted(store_dir.glob("*/meta.yaml")) if p.parent.name != "0")
    meta.write_text("name: [" if damage == "garbage" else "", encoding="utf-8")
    with pytest.raises(SourceError) as error:
        _batch(str(store_dir))
    assert str(meta) in str(error.value)


# -- a real tracking server ---------------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``mlflow server`` (the full ``mlflow`` package of the test extra) on a free loopback port over a copy of
    the sqlite fixture: (its URL, the copy's database). Its own process group, so that stopping it also stops
    the uvicorn worker it starts."""
    try:
        importlib.metadata.version("mlflow")  # mlflow-skinny has no server
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the MLflow tracking server is missing: pip install -e '.[test]'")
    workdir = tmp_path_factory.mktemp("mlflow-server")
    shutil.copytree(FIXTURE / "sqlite", workdir / "sqlite")
    database = workdir / "sqlite" / "mlflow.db"
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no background job runner
    with (workdir / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{database}",
             "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--workers", "1"],
            stdout=log, stderr=log, env=env, cwd=workdir, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the MLflow server did not start: {(workdir / 'server.log').read_text()}")
                time.sleep(0.05)
        yield url, database
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def test_a_tracking_server_gives_what_its_sqlite_store_gives(tracking_server: tuple[str, Path]) -> None:
    url, database = tracking_server
    served, local = _batch(url), _batch(f"sqlite:///{database}")
    assert served.source == url and len(served.runs) == len(local.runs) == 10

    def content(run: Run) -> tuple:  # repr: NaN equals NaN there
        models = sorted(a.path for a in run.artifacts if a.path.startswith("models/") and a.is_model)
        return (run.name, run.experiment_id, run.status, run.started, run.ended, run.agent, run.parent_id,
                run.deleted, run.error_text, repr(run.params), repr(run.metrics), run.datasets, run.code,
                run.tags, models)

    assert {r.native_id: content(r) for r in served.runs} == {r.native_id: content(r) for r in local.runs}
    assert {e.native_id: e for e in served.experiments} == {e.native_id: e for e in local.experiments}
    assert {m.key: m.value for m in run(served, "baseline").metrics}["grad_norm"] == math.inf


def _sql_against_summarise(database: Path) -> dict[tuple[str, str], Any]:
    """Each metric as the sqlite path reads it, checked against ``series.summarise`` over every raw row in the order
    MLflow wrote them (sqlite's rowid), every point kept, with the infinities MLflow keeps as +-max given back."""
    from collections import defaultdict

    from expgraph.importers.series import Point, summarise

    ours = {(r.native_id, m.key): m for r in _batch(f"sqlite:///{database}").runs for m in r.metrics}
    histories: dict[tuple[str, str], list] = defaultdict(list)
    with contextlib.closing(sqlite3.connect(database)) as connection:
        for run_id, key, timestamp, step, value, is_nan in connection.execute(
                "SELECT run_uuid, key, timestamp, step, value, is_nan FROM metrics ORDER BY rowid"):
            value = math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value
            histories[run_id, key].append(Point(step, timestamp, math.nan if is_nan else value))
    assert set(ours) == set(histories)
    for (run_id, key), points in histories.items():  # repr: NaN == NaN
        expected = summarise(key, points, time=lambda millis: datetime.fromtimestamp(millis / 1000, UTC), keep=True)
        assert repr(ours[run_id, key]) == repr(expected), (run_id, key, points)
    return ours


def test_sql_summaries_are_summarise_over_every_value(moved: Path) -> None:
    """The fixture: NaN and infinities, values re-logged out of order, two values at one step."""
    keys = {key for _, key in _sql_against_summarise(moved / "sqlite" / "mlflow.db")}
    assert {"loss", "accuracy", "val_loss", "grad_norm", "neg"} <= keys


def test_sql_summaries_of_edge_cases(moved: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    shutil.copytree(moved / "sqlite", tmp_path / "sqlite")
    database = tmp_path / "sqlite" / "mlflow.db"
    client = MlflowClient(f"sqlite:///{database}")
    run_id = client.create_run(client.search_experiments()[0].experiment_id, run_name="edges").info.run_id
    nan, inf = math.nan, math.inf
    logged = {
        "all_nan": [(1, 0, nan), (2, 1, nan), (3, 1, nan)],
        "nan_ties": [(1, 0, nan), (1, 0, 2.5), (5, 3, 1.5), (5, 3, nan), (4, 2, 9.0)],
        "nan_and_zero": [(7, 1, nan), (7, 1, 0.0)],
        "infinities": [(1, 0, inf), (2, 1, -inf), (3, 2, 1.0), (3, 2, -inf)],
        "inf_last": [(1, 0, 3.0), (2, 1, inf)],
        "ties_by_value": [(1, 0, 4.0), (1, 0, 3.0), (9, 5, 1.0), (9, 5, 2.0)],
    }
    client.log_batch(run_id, metrics=[Metric(key, value, timestamp, step) for key, points in logged.items()
                                      for timestamp, step, value in points])
    metrics = {key: metric for (run, key), metric in _sql_against_summarise(database).items() if run == run_id}
    assert set(metrics) == set(logged)
    history = metrics["all_nan"].history
    assert math.isnan(metrics["all_nan"].value) and history.count == 3
    assert math.isnan(history.first) and math.isnan(history.minimum) and math.isnan(history.maximum)
    # a tie of step and timestamp goes to logging order, whatever the values (NaN included)
    ties = metrics["nan_ties"]
    assert math.isnan(ties.value) and ties.step == 3 and math.isnan(ties.history.first)
    assert (ties.history.minimum, ties.history.maximum) == (1.5, 9.0)
    assert metrics["nan_and_zero"].value == 0.0 and math.isnan(metrics["nan_and_zero"].history.first)
    infinities = metrics["infinities"]
    assert (infinities.value, infinities.history.first) == (-inf, inf)
    assert (infinities.history.minimum, infinities.history.maximum) == (-inf, inf)
    assert (metrics["inf_last"].value, metrics["inf_last"].history.maximum) == (inf, inf)
    assert (metrics["ties_by_value"].value, metrics["ties_by_value"].history.first) == (2.0, 4.0)
