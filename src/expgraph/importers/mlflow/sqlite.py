"""MLflow's sqlite store, opened strictly read-only.

Given ``sqlite:///mlflow.db``, MLflow opens the file for writing: it creates missing tables and runs its alembic
migrations in place when the schema is older than the installed MLflow (after which the MLflow that wrote it
refuses the file), and it creates the default experiment when that is missing. An importer must leave the user's
store as it found it, so the schema is checked first (a mismatch is an error naming both versions) and MLflow is
handed a URI that makes sqlite itself refuse every write. A database in WAL mode would still get ``-wal`` and
``-shm`` files from a read-only connection: it is read from a private copy instead.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from expgraph.importers.base import SourceError, require
from expgraph.importers.mlflow import private_api

#: Bytes 18 and 19 of a sqlite database header: 2 when the database is in WAL mode (1 for a rollback journal).
_WAL = b"\x02\x02"


def check_database(db: Path) -> None:
    """An MLflow tracking database whose schema the installed MLflow reads, or a SourceError saying why not."""
    try:
        with private(db) as path, contextlib.closing(sqlite3.connect(read_only_uri(path, "sqlite"), uri=True)) \
                as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in tables else None
    except sqlite3.DatabaseError as error:
        raise SourceError(db, f"not a readable sqlite database ({error})") from None
    if not {"experiments", "runs", "alembic_version"} <= tables:
        raise SourceError(db, "not an MLflow tracking database (no experiments/runs tables)")
    problem = schema_problem(found[0] if found else None)
    if problem:
        raise SourceError(db, problem)


def schema_problem(revision: str | None) -> str | None:
    """Why the installed MLflow cannot read a database at this schema revision without migrating it, or None."""
    head = _head_revision()
    if revision == head:
        return None
    mlflow = require("mlflow", "mlflow")
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        known = ScriptDirectory.from_config(private_api.alembic_config()).get_revision(revision) is not None
    except CommandError:
        known = False
    age = "an older" if known else "a newer (or unknown)"
    return (f"database schema revision {revision} is from {age} MLflow than the installed MLflow "
            f"{mlflow.__version__} (schema revision {head}); expgraph reads tracking stores without migrating them: "
            f"import it with the MLflow version that wrote it, or run 'mlflow db upgrade' on a copy and import that")


@functools.cache
def _head_revision() -> str:
    """The schema revision the installed MLflow reads (parsing its migration scripts is slow: once)."""
    require("mlflow.store.db.utils", "mlflow")
    return private_api.latest_schema_revision()


def read_only_uri(db: Path, flavour: str = "mlflow") -> str:
    """A URI that opens ``db`` with sqlite's ``mode=ro``: for ``sqlite3.connect``, or as an MLflow tracking URI.

    For MLflow the text after ``sqlite:///`` must hold no ``/``: MLflow creates the parent folders of whatever
    follows it. So the sqlite ``file:`` URI encodes the path's slashes (sqlite decodes ``%2F``), and is
    percent-encoded once more for a SQLAlchemy that unquotes the database part of a URL (2.1) but not for one that
    does not (2.0): given the other's form, SQLAlchemy 2.0 passed sqlite a relative file name, and MLflow created
    an empty store of that name in the working directory and read it, importing nothing. The URI is checked by
    SQLAlchemy's own parser: what it will hand sqlite must be the ``file:`` URI meant.
    """
    if flavour == "sqlite":
        return f"file:{quote(str(db.resolve()))}?mode=ro"
    from sqlalchemy.engine import make_url

    sqlite_uri = "file:" + quote(str(db.resolve()), safe="")
    unquotes = make_url("sqlite:///a%2Fb").database == "a/b"
    uri = f"sqlite:///{quote(sqlite_uri, safe='') if unquotes else sqlite_uri}?mode=ro&uri=true"
    if make_url(uri).database != sqlite_uri:
        raise SourceError(db, "cannot open this database read-only with the installed SQLAlchemy")
    return uri


@contextlib.contextmanager
def opened(db: Path) -> Iterator[str]:
    """The read-only tracking URI to give MLflow while reading ``db``."""
    with private(db) as path:
        yield read_only_uri(path)


@contextlib.contextmanager
def private(db: Path) -> Iterator[Path]:
    """``db`` itself, or a private copy of it (and its ``-wal``) when it is in WAL mode."""
    with db.open("rb") as handle:
        header = handle.read(20)
    if header[18:20] != _WAL:
        yield db.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="expgraph-mlflow-") as scratch:
        copy = Path(scratch) / "mlflow.db"
        shutil.copyfile(db, copy)
        wal = db.with_name(db.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        yield copy
