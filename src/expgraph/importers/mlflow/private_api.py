"""Every call into MLflow's private API, in one place.

The public client reads one run, or one metric history, per request: an import of a local store through it was
several times slower than ``search_runs`` alone, quadratic on sqlite (docs/importers.md). So the local
readers use what ``search_runs`` itself uses inside MLflow: the tracking store object behind the client, its
listing of run folders, its line parser and dataset readers (file store), its table models, session and bulk
readers (SQL store), and its alembic helpers (the schema check of ``sqlite``). None of it is promised to stay.

Checked against MLflow 3.17.2 (the installed version when this was written; ``tests/test_mlflow_private.py`` runs
every function here on stores that version wrote). The sqlite store MLflow 2.16 wrote
(``tests/fixtures/mlflow/sqlite-2.16``) is refused by the schema check before any reader runs. When an MLflow
lacks a bulk reader (:func:`missing` names them), the readers fall back to the public client, slower but the same
records; a changed signature fails the import with MLflow's error, and the test above, rather than silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Private names this module uses, by the module or class they live in (what :func:`missing` checks; the client's
#: ``_tracking_client`` and the SQL store's ``ManagedSessionMaker`` are set per instance: the tests use them).
USED = {
    "mlflow.store.tracking.file_store.FileStore": [
        "_list_run_infos", "_get_all_outputs", "_get_metric_from_line", "_FileStoreInput", "_get_dataset_from_dir",
        "RESERVED_EXPERIMENT_FOLDERS", "INPUTS_FOLDER_NAME", "DATASETS_FOLDER_NAME", "META_DATA_FILE_NAME"],
    "mlflow.store.tracking.sqlalchemy_store.SqlAlchemyStore": [
        "_get_run_inputs", "_get_model_outputs_bulk"],
    "mlflow.store.tracking.dbmodels.models": ["SqlRun", "SqlParam", "SqlTag", "SqlMetric"],
    "mlflow.store.db.utils": ["_get_alembic_config", "_get_latest_schema_revision"],
}


def _resolve(dotted: str) -> Any:
    """A module, or a class of a module, by its dotted name."""
    import importlib

    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def missing() -> list[str]:
    """The private names of :data:`USED` the installed MLflow lacks (empty on the versions checked)."""
    gaps = []
    for owner, names in USED.items():
        try:
            target = _resolve(owner)
        except (ImportError, AttributeError):
            gaps.append(owner)
            continue
        gaps += [f"{owner}.{name}" for name in names if not hasattr(target, name)]
    return gaps


# -- the store behind the client ----------------------------------------------------------------------------------


def tracking_store(client: Any) -> Any:
    """The tracking store object the client opened (``FileStore``, ``SqlAlchemyStore``, a REST store)."""
    return client._tracking_client.store


def file_store(store: Any) -> bool:
    """A file store whose bulk readers this module knows."""
    from mlflow.store.tracking.file_store import FileStore

    return isinstance(store, FileStore) and hasattr(store, "_list_run_infos") and hasattr(store, "_get_all_outputs")


def sql_store(store: Any) -> bool:
    """A SQL store whose bulk readers this module knows (by name: importing its module needs sqlalchemy)."""
    return (type(store).__name__ == "SqlAlchemyStore" and hasattr(store, "_get_run_inputs")
            and hasattr(store, "_get_model_outputs_bulk"))


# -- file store ---------------------------------------------------------------------------------------------------


def reserved_folders() -> frozenset[str]:
    """Folders of an experiment folder that are not runs (datasets, models, tags, ...)."""
    from mlflow.store.tracking.file_store import FileStore

    return frozenset(FileStore.RESERVED_EXPERIMENT_FOLDERS)


def folder_names() -> tuple[str, str]:
    """The file store's names of a run's inputs folder and an experiment's datasets folder."""
    from mlflow.store.tracking.file_store import FileStore

    return FileStore.INPUTS_FOLDER_NAME, FileStore.DATASETS_FOLDER_NAME


def run_infos(store: Any, experiment_id: str) -> list[Any]:
    """Every run of an experiment folder (active and deleted) as MLflow's ``RunInfo``, with its skip rules."""
    from mlflow.entities import ViewType

    return store._list_run_infos(experiment_id, ViewType.ALL)


def model_output_ids(store: Any, info: Any) -> list[str]:
    """The logged models a file-store run output."""
    return [output.model_id for output in store._get_all_outputs(info).model_outputs]


def metric_from_line(run_id: str, key: str, line: str, experiment_id: str) -> tuple[int, int, float]:
    """(step, timestamp, value) of a metric file's line in a shape other than ``timestamp value step``, by
    MLflow's own parser, which also rejects malformed lines."""
    from mlflow.store.tracking.file_store import FileStore

    metric = FileStore._get_metric_from_line(run_id, key, line, experiment_id)
    return metric.step, metric.timestamp, metric.value


def input_link(path: Path) -> tuple[bool, str, dict[str, str]]:
    """A run's ``inputs/<id>/meta.yaml``: whether it links a dataset, the dataset's id, and the link's tags."""
    from mlflow.protos.internal_pb2 import InputVertexType
    from mlflow.store.tracking.file_store import FileStore

    link = FileStore._FileStoreInput.from_yaml(str(path), FileStore.META_DATA_FILE_NAME)
    return link.source_type == InputVertexType.DATASET, link.source_id, dict(link.tags)


def dataset(datasets_folder: Path, dataset_id: str) -> Any:
    """An experiment's dataset (``mlflow.entities.Dataset``) from its folder."""
    from mlflow.store.tracking.file_store import FileStore

    return FileStore._get_dataset_from_dir(str(datasets_folder), dataset_id)


# -- SQL store ----------------------------------------------------------------------------------------------------


def session(store: Any) -> Any:
    """A session of the SQL store's own engine (a context manager)."""
    return store.ManagedSessionMaker()


def table_models() -> tuple[Any, Any, Any, Any]:
    """MLflow's table models of runs, params, tags and metrics."""
    from mlflow.store.tracking.dbmodels.models import SqlMetric, SqlParam, SqlRun, SqlTag

    return SqlRun, SqlParam, SqlTag, SqlMetric


def run_inputs(store: Any, db_session: Any, run_ids: list[str]) -> list[Any]:
    """The dataset inputs (``DatasetInput`` lists) of each of ``run_ids``, in their order."""
    return store._get_run_inputs(db_session, run_ids)


def model_outputs(store: Any, db_session: Any, run_ids: list[str]) -> dict[str, list[str]]:
    """The logged models each of ``run_ids`` output (runs without any left out)."""
    found = store._get_model_outputs_bulk(run_ids, db_session)
    return {run_id: [output.model_id for output in outputs] for run_id, outputs in found.items()}


# -- schema -------------------------------------------------------------------------------------------------------


def latest_schema_revision() -> str:
    """The database schema revision the installed MLflow reads."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def alembic_config() -> Any:
    """MLflow's alembic configuration (its migration scripts), for looking up a revision without a database."""
    from mlflow.store.db.utils import _get_alembic_config

    return _get_alembic_config("sqlite://")
