"""Chart data: metric histories read back from the store (``/charts/runs``) and downsampled on the server."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from expgraph.settings import load_settings
from expgraph.web.app import create_app
from expgraph.web.charts import downsample
from web_data import build, iri

R1, R2, R3 = (iri("run", f"r{i}") for i in range(1, 4))


@pytest.fixture
def client(memory_store) -> Iterator[TestClient]:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as test_client:
        yield test_client


def test_a_run_history_comes_back_whole_with_nan_as_a_marker(client) -> None:
    answer = client.get("/charts/runs", params={"run": R1})
    assert answer.status_code == 200
    (run,) = answer.json()["runs"]
    assert run["run"] == R1 and run["label"] == "run r1"
    (loss,) = run["metrics"]
    assert loss["key"] == "loss" and loss["count"] == 100 and not loss["downsampled"]
    assert loss["step"] == list(range(1, 101))
    assert loss["value"][0] == 2.3 and loss["value"][49] is None and loss["value"][-1] == 0.51
    assert loss["special"] == [{"step": 50, "time": loss["time"][49], "value": "NaN"}]
    assert loss["time"][1] - loss["time"][0] == 10


def test_runs_without_history_have_no_metrics_and_several_runs_come_in_order(client) -> None:
    runs = client.get("/charts/runs", params={"run": [R3, R2, R1]}).json()["runs"]
    assert [r["run"] for r in runs] == [R3, R2, R1]
    assert [len(r["metrics"]) for r in runs] == [1, 0, 1]  # r2 logged only a final NaN


def test_bad_chart_requests_are_refused(client) -> None:
    assert client.get("/charts/runs").status_code == 400
    assert client.get("/charts/runs", params={"run": "javascript:alert(1)"}).status_code == 400
    many = [f"https://example.org/run/{i}" for i in range(51)]
    assert client.get("/charts/runs", params={"run": many}).status_code == 400


def test_a_long_history_keeps_its_extremes_and_every_kind_of_non_finite_value() -> None:
    count = 100_000
    steps = list(range(count))
    values = [math.sin(i / 500) for i in steps]
    values[12_345] = 7.5  # one spike
    values[54_321] = -9.0  # one dip
    values[70_000] = math.nan
    values[70_001] = math.inf
    values[99_999] = -math.inf
    series = downsample(steps, values, [None] * count, buckets=500)
    assert series["downsampled"] and series["count"] == count
    assert len(series["step"]) <= 2 * 500 + 3
    assert series["step"] == sorted(series["step"])
    kept = dict(zip(series["step"], series["value"], strict=True))
    assert kept[12_345] == 7.5 and kept[54_321] == -9.0
    assert [(s["step"], s["value"]) for s in series["special"]] == [(70_000, "NaN"), (70_001, "INF"),
                                                                    (99_999, "-INF")]
    finite = [v for v in series["value"] if v is not None]
    assert max(finite) == 7.5 and min(finite) == -9.0


def test_a_short_history_is_not_downsampled() -> None:
    series = downsample([1, 2, 3], [0.5, math.nan, 0.25], [10.0, 20.0, None], buckets=10)
    assert series == {"step": [1, 2, 3], "time": [10.0, 20.0, None], "value": [0.5, None, 0.25],
                      "special": [{"step": 2, "time": 20.0, "value": "NaN"}], "count": 3, "downsampled": False}


def test_runs_overlaid_get_fewer_points_each(memory_store) -> None:
    from expgraph.catalog import store_batch
    from expgraph.importers.series import summarise_steps
    from expgraph.mapping import Minter
    from expgraph.records import ImportBatch, Run, RunStatus

    source = "/data/long-histories"
    runs = tuple(Run(f"h{i}", "e", RunStatus.FINISHED, name=f"h{i}", metrics=(
        summarise_steps("loss", {step: (1.0 / (step + 1) + i, None) for step in range(1000)}),))
        for i in range(12))
    store_batch(memory_store, ImportBatch("tensorboard", source, runs=runs), location=source)
    iris = [Minter("tensorboard", source).local("run", f"h{i}").value for i in range(12)]
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        (one,) = client.get("/charts/runs", params={"run": iris[0]}).json()["runs"]
        assert len(one["metrics"][0]["step"]) == 1000 and not one["metrics"][0]["downsampled"]  # 600 buckets
        twelve = client.get("/charts/runs", params={"run": iris}).json()["runs"]
        assert [r["label"] for r in twelve] == [f"h{i}" for i in range(12)]
        for run in twelve:  # 1200 / 12 = 100 buckets, at most 2 points each
            (loss,) = run["metrics"]
            assert loss["downsampled"] and loss["count"] == 1000 and len(loss["step"]) <= 200
            assert loss["step"][0] == 0 and loss["value"][0] == max(v for v in loss["value"])  # the peak kept
        custom = client.get("/charts/runs", params={"run": iris[0], "buckets": 10}).json()["runs"]
        assert len(custom[0]["metrics"][0]["step"]) <= 20


def test_histories_written_by_tensorboard_come_back_as_charts(memory_store) -> None:
    """The TensorBoard fixture (written by tensorboardX): a diverged loss ending in NaN, and a resumed run that
    logged step 4 twice (the later write wins)."""
    from pathlib import Path

    from expgraph.catalog import prepare, run_import
    from expgraph.importers.tensorboard import TensorBoardImporter

    logdir = Path(__file__).parent / "fixtures" / "tensorboard" / "logdir"
    run_import(prepare(memory_store), TensorBoardImporter(str(logdir)))
    by_id = {row["id"].value: row["r"].value for row in memory_store.select(
        "SELECT ?r ?id WHERE { ?r a <https://w3id.org/expgraph#Run> ; <http://purl.org/dc/terms/identifier> ?id }")}
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        runs = client.get("/charts/runs", params={"run": [by_id["diverged"], by_id["resumed"]]}).json()["runs"]
    diverged = {m["key"]: m for m in runs[0]["metrics"]}["train/loss"]
    assert diverged["step"] == [0, 1, 2] and diverged["value"] == [1.0, 5.0, None]
    assert [s["value"] for s in diverged["special"]] == ["NaN"] and diverged["special"][0]["step"] == 2
    assert all(isinstance(t, float) for t in diverged["time"])  # TensorBoard logs wall time
    resumed = {m["key"]: m for m in runs[1]["metrics"]}["loss"]
    assert resumed["step"] == list(range(8)) and resumed["count"] == 8
    assert resumed["value"][4] == 5.0  # 10 - 4 - 1: the second writer's value at step 4


def test_a_history_cut_at_import_still_says_how_many_values_were_logged(memory_store) -> None:
    from expgraph.catalog import store_batch
    from expgraph.importers.series import summarise_steps
    from expgraph.mapping import Minter
    from expgraph.records import ImportBatch, Run, RunStatus

    source = "/data/very-long"
    metric = summarise_steps("loss", {step: (1.0 / (step + 1), None) for step in range(30_000)})
    run = Run("v", "e", RunStatus.FINISHED, metrics=(metric,))
    store_batch(memory_store, ImportBatch("wandb", source, runs=(run,)), location=source)
    iri_v = Minter("wandb", source).local("run", "v").value
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        (run,) = client.get("/charts/runs", params={"run": iri_v}).json()["runs"]
    (loss,) = run["metrics"]
    assert loss["count"] == 30_000 and loss["downsampled"] and len(loss["step"]) <= 1200
    assert loss["step"][0] == 0 and loss["value"][0] == 1.0


@pytest.mark.parametrize("store_kind", ["file", "sqlite"])
def test_histories_written_by_mlflow_come_back_as_charts(memory_store, store_kind) -> None:
    """The MLflow fixtures (file store and sqlite, written by MLflow): every logged value is kept as the metric's
    history, in step order, the sqlite store's +-max floats given back as infinities, NaN as a marker."""
    from pathlib import Path

    from expgraph.catalog import prepare, run_import
    from expgraph.importers.mlflow import MlflowImporter

    fixture = Path(__file__).parent / "fixtures" / "mlflow"
    source = str(fixture / "mlruns") if store_kind == "file" else f"sqlite:///{fixture / 'sqlite' / 'mlflow.db'}"
    run_import(prepare(memory_store), MlflowImporter(source))
    by_name = {row["l"].value: row["r"].value for row in memory_store.select(
        "SELECT ?r ?l WHERE { ?r a <https://w3id.org/expgraph#Run> ; "
        "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")}
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        baseline, diverged = client.get("/charts/runs", params={
            "run": [by_name["baseline"], by_name["trial-lr-10"]]}).json()["runs"]
    metrics = {m["key"]: m for m in baseline["metrics"]}
    assert metrics["loss"]["step"] == [0, 1, 2, 3] and metrics["loss"]["value"] == [2.0, 1.5, 1.2, 0.9]
    assert [t - metrics["loss"]["time"][0] for t in metrics["loss"]["time"]] == [0.0, 1.0, 8.0, 2.0]
    assert metrics["accuracy"]["step"] == [5, 5] and metrics["accuracy"]["value"] == [0.7, 0.72]
    assert [s["value"] for s in metrics["grad_norm"]["special"]] == ["INF"]
    assert [s["value"] for s in metrics["neg"]["special"]] == ["-INF"]
    assert [s["value"] for s in metrics["val_loss"]["special"]] == ["NaN"]
    (loss,) = diverged["metrics"]
    assert loss["value"] == [2.3, 1e30, None] and loss["special"][0]["step"] == 2
