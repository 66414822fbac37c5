"""MLflow's sqlite store is read strictly read-only: no migration, no journal, no new file, whatever its state.

The contract suite (tests/test_importer_contract.py) checks every tracker's fixture; these are the sqlite cases
MLflow itself would write to: an older schema (MLflow 3 migrates it in place, after which MLflow 2 refuses it), a
database in WAL mode, and a path sqlite or SQLAlchemy would read as URI syntax.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from expgraph.catalog import run_import
from expgraph.importers import SourceError
from expgraph.importers.mlflow import MlflowImporter
from expgraph.store import Store
from source_snapshot import changes, snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "mlflow"


def _runs(db: Path) -> int:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]


def _revision(db: Path) -> str:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_an_older_schema_is_refused_naming_both_versions_and_left_as_it_was(tmp_path: Path,
                                                                          memory_store: Store) -> None:
    """tests/fixtures/mlflow/sqlite-2.16 was written by MLflow 2.16 (generate_mlflow216.py)."""
    folder = tmp_path / "old"
    shutil.copytree(FIXTURE / "sqlite-2.16", folder)
    db = folder / "mlflow.db"
    old = _revision(db)
    before = snapshot(folder)
    with pytest.raises(SourceError) as error:
        run_import(memory_store, MlflowImporter(f"sqlite:///{db}"))
    message = str(error.value)
    assert str(db) in message and old in message and "older" in message
    assert importlib.metadata.version("mlflow") in message  # the installed MLflow, and the schema it reads
    from mlflow.store.db.utils import _get_latest_schema_revision

    assert _get_latest_schema_revision() in message
    assert changes(before, snapshot(folder)) == []
    assert _revision(db) == old


def test_a_schema_newer_than_the_installed_mlflow_is_refused(tmp_path: Path, memory_store: Store) -> None:
    folder = tmp_path / "new"
    shutil.copytree(FIXTURE / "sqlite", folder)
    db = folder / "mlflow.db"
    with sqlite3.connect(db) as connection:  # a revision this MLflow has never heard of: a later release's
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    connection.close()
    before = snapshot(folder)
    with pytest.raises(SourceError, match=r"f00dfeedbeef.*newer"):
        run_import(memory_store, MlflowImporter(f"sqlite:///{db}"))
    assert changes(before, snapshot(folder)) == []


def test_a_database_in_wal_mode_is_read_from_a_private_copy(tmp_path: Path, memory_store: Store) -> None:
    """A read-only connection to a WAL database leaves ``-wal`` and ``-shm`` files behind."""
    folder = tmp_path / "wal"
    shutil.copytree(FIXTURE / "sqlite", folder)
    db = folder / "mlflow.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    connection.close()
    before = snapshot(folder)
    outcome = run_import(memory_store, MlflowImporter(f"sqlite:///{db}"))
    assert outcome.runs == _runs(FIXTURE / "sqlite" / "mlflow.db")
    assert changes(before, snapshot(folder)) == []


@pytest.mark.parametrize("name", ["my db?mode=rw#x%41.db", "plain.db"])
def test_uri_syntax_in_the_path_opens_that_file_and_creates_nothing(name: str, tmp_path: Path,
                                                                    memory_store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite reads ``?`` and ``#`` in a ``file:`` URI, SQLAlchemy decodes ``%``, and MLflow creates the folders
    of the path it is given: none of them may open or create another file."""
    folder = tmp_path / "odd"
    folder.mkdir()
    shutil.copyfile(FIXTURE / "sqlite" / "mlflow.db", folder / name)
    shutil.copytree(FIXTURE / "sqlite" / "mlruns", folder / "mlruns")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before, around = snapshot(folder), snapshot(work)
    outcome = run_import(memory_store, MlflowImporter(f"sqlite:///{quote(str(folder / name))}"))
    assert outcome.runs == _runs(FIXTURE / "sqlite" / "mlflow.db")
    assert changes(before, snapshot(folder)) == []
    assert changes(around, snapshot(work)) == []
