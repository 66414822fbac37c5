"""The MLflow private-API adapter (importers/mlflow/private_api.py) against the installed MLflow, on stores MLflow
wrote (tests/fixtures/mlflow, generate.py): every function it offers, and the public-client fallback the readers
take when an MLflow lacks the private readers, which must give the same statements.

Run with another MLflow first on the path to check that version (docs/importers.md says which were checked).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from expgraph.failures import FailureClassifier
from expgraph.importers import build_batch
from expgraph.importers.mlflow import MlflowImporter, private_api
from expgraph.importers.mlflow.file_store import metric_points
from expgraph.importers.mlflow.local import LocalReader
from expgraph.importers.mlflow.sqlite import opened
from expgraph.mapping import batch_statements

FIXTURE = Path(__file__).parent / "fixtures" / "mlflow"


@pytest.fixture
def moved(tmp_path: Path) -> Path:
    """A copy of the fixtures elsewhere (the stores hold absolute artifact URIs of where they were written)."""
    shutil.copytree(FIXTURE / "mlruns", tmp_path / "mlruns")
    shutil.copytree(FIXTURE / "sqlite", tmp_path / "sqlite")
    return tmp_path


@pytest.fixture(autouse=True)
def _file_store_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def test_the_installed_mlflow_has_every_private_name_used() -> None:
    assert private_api.missing() == []


def test_file_store_readers(moved: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient((moved / "mlruns").as_uri())
    store = private_api.tracking_store(client)
    assert private_api.file_store(store) and not private_api.sql_store(store)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=3)]  # 3: ViewType.ALL
    runs = {run.info.run_id: run for run in client.search_runs(experiments, run_view_type=3)}
    infos = [info for experiment in experiments for info in private_api.run_infos(store, experiment)]
    assert {info.run_id for info in infos} == set(runs)
    assert private_api.reserved_folders() >= {"datasets"}
    inputs_name, datasets_name = private_api.folder_names()
    with_inputs = [info for info in infos
                   if (moved / "mlruns" / info.experiment_id / info.run_id / inputs_name).is_dir()]
    assert with_inputs
    for info in with_inputs:
        folder = moved / "mlruns" / info.experiment_id
        links = [private_api.input_link(path) for path in (folder / info.run_id / inputs_name).iterdir()]
        names = sorted(private_api.dataset(folder / datasets_name, dataset_id).name
                       for is_dataset, dataset_id, _ in links if is_dataset)
        assert names == sorted(item.dataset.name for item in runs[info.run_id].inputs.dataset_inputs)
    outputs = {info.run_id: private_api.model_output_ids(store, info) for info in infos
               if (moved / "mlruns" / info.experiment_id / info.run_id / "outputs").is_dir()}
    assert any(outputs.values())
    assert private_api.metric_from_line("r", "loss", "1000 0.5 3", "0") == (3, 1000, 0.5)
    assert metric_points(b"1000 0.5 3\n2000 0.25 4\n", "x", "r", "loss", "0") == [(3, 1000, 0.5), (4, 2000, 0.25)]


def test_sql_store_readers(moved: Path) -> None:
    from mlflow import MlflowClient
    from sqlalchemy import func, select

    database = moved / "sqlite" / "mlflow.db"
    with opened(database) as uri:
        store = private_api.tracking_store(MlflowClient(uri))
        assert private_api.sql_store(store) and not private_api.file_store(store)
        sql_run, sql_param, sql_tag, sql_metric = private_api.table_models()
        with private_api.session(store) as session:
            counts = [session.execute(select(func.count()).select_from(table)).scalar_one()
                      for table in (sql_run, sql_param, sql_tag, sql_metric)]
            run_ids = [row[0] for row in session.execute(select(sql_run.run_uuid))]
            inputs = private_api.run_inputs(store, session, run_ids)
            outputs = private_api.model_outputs(store, session, run_ids)
    with sqlite3.connect(database) as connection:
        expected = [connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("runs", "params", "tags", "metrics")]
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert counts == expected
    assert len(inputs) == len(run_ids) and any(inputs) and any(outputs.values())
    assert private_api.latest_schema_revision() == revision


def test_schema_lookup_knows_older_revisions() -> None:
    from alembic.script import ScriptDirectory

    with sqlite3.connect(FIXTURE / "sqlite-2.16" / "mlflow.db") as connection:
        old = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert ScriptDirectory.from_config(private_api.alembic_config()).get_revision(old) is not None


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_the_public_client_fallback_gives_the_same_statements(kind: str, moved: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """What an MLflow without the private bulk readers gets: ``search_runs`` and ``get_metric_history``."""
    source = str(moved / "mlruns") if kind == "file" else f"sqlite:///{moved / 'sqlite' / 'mlflow.db'}"

    def statements() -> list[str]:
        return list(batch_statements(build_batch(MlflowImporter(source), FailureClassifier([]))))

    bulk = statements()
    monkeypatch.setattr(MlflowImporter, "reader", lambda importer: LocalReader(importer))
    assert statements() == bulk
