"""A captured run that also logs to MLflow or W&B is one run in the catalog.

``expgraph record`` (and ``expgraph.capture()``) put ``{"expgraph.run_id": "<id>"}`` into ``MLFLOW_RUN_CONTEXT``,
MLflow's documented variable of tags added to every run a process starts (its ``SystemEnvironmentContext``),
merged with any context already set. No change to the training code is needed. ``MLFLOW_RUN_ID`` is not used: it
makes ``start_run()`` resume a run that must already exist on the tracking server.

When the command has ended, the tracking store it used (``MLFLOW_TRACKING_URI``, else MLflow's default in the
working directory: ``./mlruns`` when it holds experiments, else ``./mlflow.db``) is searched for the run carrying
that tag; file stores and sqlite are read directly (fast, read-only, without importing MLflow), a tracking server
through MLflow's client when it is installed. The captured run is then described with the MLflow run's native id
and the source identity the MLflow importer gives the store, so the mapper mints the MLflow run's IRI, and a
later ``expgraph import mlflow`` adds params and metrics to the same node.

W&B takes the id of the run ``wandb.init()`` creates from ``WANDB_RUN_ID``: ``record`` sets it to the captured
run's id (unless the environment already sets one), finds the run's folder in ``wandb/`` afterwards, and
describes the run under the IRI the W&B importer mints for ``expgraph import wandb ./wandb``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from expgraph.importers.base import CAPTURED_TAG as TAG
from expgraph.records import SourceRef


def mlflow_context(run_id: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``MLFLOW_RUN_CONTEXT`` with the run id tag added to whatever context the environment already sets."""
    try:
        context = json.loads(environ.get("MLFLOW_RUN_CONTEXT") or "{}")
    except ValueError:
        context = {}
    if not isinstance(context, dict):
        context = {}
    return {"MLFLOW_RUN_CONTEXT": json.dumps({**context, TAG: run_id})}


def tracking_uri(cwd: Path, environ: Mapping[str, str]) -> str | None:
    """The tracking store the command used, or None when there is none to look in."""
    uri = environ.get("MLFLOW_TRACKING_URI")
    if uri:
        parsed = urlparse(uri)
        if not parsed.scheme or len(parsed.scheme) == 1:  # a plain (or Windows) path, relative to the command
            return str((cwd / uri).resolve())
        if parsed.scheme == "file":
            return str((cwd / unquote(parsed.path)).resolve())
        if parsed.scheme == "sqlite" and not unquote(parsed.path).startswith("//"):  # sqlite:///relative.db
            return f"sqlite:///{(cwd / unquote(parsed.path)[1:]).resolve()}"
        return uri
    if any(cwd.joinpath("mlruns").glob("*/meta.yaml")):
        return str(cwd / "mlruns")
    if cwd.joinpath("mlflow.db").is_file():
        return f"sqlite:///{cwd / 'mlflow.db'}"
    return None


def _in_file_store(root: Path, run_id: str) -> tuple[str, str] | None:
    for tag in sorted(root.glob(f"*/*/tags/{TAG}")):
        try:
            if tag.read_text(encoding="utf-8").strip() == run_id:
                return tag.parent.parent.name, tag.parent.parent.parent.name
        except OSError:
            continue
    return None


def _in_sqlite(db: Path, run_id: str) -> tuple[str, str] | None:
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as connection:
            row = connection.execute(
                "SELECT r.run_uuid, r.experiment_id FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "
                "WHERE t.key = ? AND t.value = ? ORDER BY r.start_time LIMIT 1", (TAG, run_id)).fetchone()
    except sqlite3.Error:
        return None
    return (row[0], str(row[1])) if row else None


def _on_server(uri: str, run_id: str) -> tuple[str, str] | None:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    client = MlflowClient(tracking_uri=uri)
    try:
        experiments = [e.experiment_id for e in client.search_experiments()]
        # run_id is our own uuid4 hex: nothing in it can change the filter's meaning
        runs = client.search_runs(experiments, filter_string=f"tags.`{TAG}` = '{run_id}'", max_results=1)
    except Exception:
        return None
    return (runs[0].info.run_id, runs[0].info.experiment_id) if runs else None


def mlflow_run(run_id: str, cwd: Path, environ: Mapping[str, str] | None = None) -> tuple[SourceRef, str, str] | None:
    """The MLflow run the captured run logged to: (its source, run id, experiment id), or None."""
    uri = tracking_uri(cwd, os.environ if environ is None else environ)
    if uri is None:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        found = _in_sqlite(Path(unquote(parsed.path)[1:]), run_id)
    elif parsed.scheme in ("http", "https"):
        found = _on_server(uri, run_id)
    elif Path(uri).is_dir():
        found = _in_file_store(Path(uri), run_id)
    else:
        return None
    if found is None:
        return None
    from expgraph.importers.mlflow import MlflowImporter

    return SourceRef("mlflow", MlflowImporter(uri).identity()), found[0], found[1]


def wandb_context(run_id: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``WANDB_RUN_ID`` for the command, unless the environment already chose one."""
    return {} if environ.get("WANDB_RUN_ID") else {"WANDB_RUN_ID": run_id}


def wandb_run(run_id: str, cwd: Path, environ: Mapping[str, str] | None = None) -> tuple[SourceRef, str, str] | None:
    """The W&B run the command started with our id: (the ``wandb/`` folder's source, run id, experiment id)."""
    environ = os.environ if environ is None else environ
    root = (cwd / environ.get("WANDB_DIR", ".")).resolve() / "wandb"
    folders = sorted(root.glob(f"*run-*-{run_id}")) if root.is_dir() else []
    if not folders:
        return None
    from expgraph.importers.base import SourceError
    from expgraph.importers.wandb import WandbImporter
    from expgraph.records import Run

    try:  # the importer itself reads the run, so the experiment id is the one it gives
        run = next(item for item in WandbImporter(str(folders[-1])).records() if isinstance(item, Run))
    except (SourceError, StopIteration, OSError):
        return None
    return SourceRef("wandb", WandbImporter(str(root)).identity()), run.native_id, run.experiment_id
