"""Shared fixtures: stores of each kind, ready with the ontology and vocabularies, and a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import loopback
from browser_fixtures import shared_chromium  # noqa: F401 (a fixture for every browser test)
from cli_inprocess import run_cli
from expgraph.catalog import prepare
from expgraph.store import EmbeddedStore, Store
from loopback import SparqlServer

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOK = Path(__file__).resolve().parents[1] / "src" / "expgraph" / "examples" / "records" / "lab-notebook.yaml"


@pytest.fixture
def memory_store() -> Iterator[Store]:
    """An in-memory store with the shipped ontology and vocabularies loaded."""
    store = prepare(EmbeddedStore())
    yield store
    store.close()


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[Store]:
    store = prepare(EmbeddedStore(tmp_path / "store"))
    yield store
    store.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``expgraph`` in-process against a fresh on-disk store; returns (exit code, stdout, stderr)."""
    prepare(EmbeddedStore(tmp_path / "cli-store")).close()  # read commands refuse a store that does not exist
    monkeypatch.setenv("EXPGRAPH_STORE", str(tmp_path / "cli-store"))
    monkeypatch.delenv("EXPGRAPH_ENDPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    from expgraph.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        result = runner.invoke(app, list(args), input=input, env={"COLUMNS": "200", **os.environ})
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture(scope="session")
def notebook_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the bundled lab notebook (``import records``), built once: tests copy it."""
    path = tmp_path_factory.mktemp("notebook") / "store"
    with pytest.MonkeyPatch.context() as patch:  # no expgraph.toml of the working directory applies
        patch.chdir(path.parent)
        code, _, stderr = run_cli("--store", str(path), "import", "records", str(NOTEBOOK), "--no-validate")
    assert code == 0, stderr
    return path


@pytest.fixture
def notebook_store(notebook_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the lab-notebook store at ``tmp_path / "store"`` (a copy of a closed store directory
    is the same store, and much cheaper than importing again in a child process)."""
    return Path(shutil.copytree(notebook_template, tmp_path / "store"))


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The demo catalog as ``expgraph demo --no-serve --store DIR --format json`` builds it, once for the session
    (building it imports every bundled tracker store): (DIR, the command's report). Tests that change the store
    work on a copy; test_demo builds it again in place to show that a rebuild changes nothing."""
    path = tmp_path_factory.mktemp("demo") / "demo-store"
    with pytest.MonkeyPatch.context() as patch:  # no expgraph.toml of the working directory applies
        patch.chdir(path.parent)
        code, stdout, stderr = run_cli("demo", "--no-serve", "--store", str(path), "--format", "json")
    assert code == 0, stderr
    return path, json.loads(stdout)


# Git keeps no empty folders, but an MLflow file store has one per run for metrics, params, tags and artifacts
# (and a .trash folder), and MLflow refuses to find a run whose folder lacks them. Put back what the tracker wrote
# before any test copies the fixture.
_MLFLOW_RUN_FOLDERS = ("metrics", "params", "tags", "artifacts")


def pytest_sessionstart(session: pytest.Session) -> None:
    (FIXTURES / "mlflow" / "mlruns" / ".trash").mkdir(exist_ok=True)  # MLflow makes it when it opens a file store
    for meta in (FIXTURES / "mlflow" / "mlruns").glob("*/*/meta.yaml"):
        for folder in _MLFLOW_RUN_FOLDERS:
            (meta.parent / folder).mkdir(exist_ok=True)


def _oxigraph(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[SparqlServer]:
    try:
        with loopback.oxigraph_server(tmp_path_factory.mktemp(name)) as server:
            yield server
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlServer]:
    """A real Oxigraph server on loopback for the whole session (the `oxigraph` package of the test extra)."""
    yield from _oxigraph(tmp_path_factory, "oxigraph")


@pytest.fixture(scope="module")
def own_oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlServer]:
    """An Oxigraph server of the module's own (about a second to start): for tests that check every graph the server
    holds, which a graph another module's writers left behind (an empty one, which reset does not see) would fail."""
    yield from _oxigraph(tmp_path_factory, "own-oxigraph")


@pytest.fixture(scope="session")
def oxigraph_server(oxigraph: SparqlServer) -> str:
    """The Oxigraph server's endpoint URL."""
    return oxigraph.endpoint


@pytest.fixture(scope="session")
def small_catalog_endpoint() -> Iterator[str]:
    """``/sparql`` of the app on the small in-memory test catalog, on loopback for the whole session (read only:
    the modules that query it never write)."""
    with loopback.small_catalog_endpoint() as url:
        yield url


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlServer]:
    """Virtuoso Open Source on loopback for the whole session (started in about 10 s)."""
    try:
        with loopback.virtuoso_server(tmp_path_factory.mktemp("virtuoso")) as server:
            yield server
    except RuntimeError as error:
        pytest.fail(str(error))
