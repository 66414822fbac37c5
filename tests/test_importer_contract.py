"""The one contract every importer passes, run against each tracker's real fixture store.

To add a tracker, append a ``Case`` to ``CASES``: the fixture (under tests/fixtures/, copied to a temporary
directory for each test), how to break one of its files, and optionally how to plant a path that escapes it.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import contract_trackers as ct
from expgraph.catalog import run_import
from expgraph.importers import IMPORTERS, Collector, SourceError
from expgraph.store import Store
from source_snapshot import changes, snapshot

FIXTURES = Path(__file__).parent / "fixtures"


def _break_json(name: str) -> Callable[[Path], Path]:
    def corrupt(copy: Path) -> Path:
        target = sorted(copy.rglob(name))[0]
        target.write_text(target.read_text(encoding="utf-8")[:-20], encoding="utf-8")  # truncated mid-write
        return target

    return corrupt


def _break_mlflow_run(copy: Path) -> Path:
    """A run whose meta.yaml is garbage: MLflow's file store skips such a run with a debug log line only."""
    target = next(p for p in sorted(copy.glob("*/*/meta.yaml")) if len(p.parent.name) == 32)
    target.write_text("run_id: [unclosed\n", encoding="utf-8")
    return target


def _break_sqlite(copy: Path) -> Path:
    target = copy / "mlflow.db"
    data = bytearray(target.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # clobber the schema page
    target.write_bytes(bytes(data))
    return target


def _break_records(copy: Path) -> Path:
    target = copy / "negative-results.yaml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("result_kind: null-effect", "result_kind: [null-effect"), encoding="utf-8")
    return target


def _escape_mlflow(copy: Path, secret: Path) -> Path:
    """A param file linking outside the store (the review's finding): read by us, so skipped with a warning."""
    params = next(p for p in sorted(copy.glob("*/*/params")) if p.is_dir() and any(p.iterdir()))
    (params / "leaked_param").symlink_to(secret)
    return params / "leaked_param"


def _escape_mlflow_read_by_mlflow(copy: Path, secret: Path) -> Path:
    """A dataset's meta.yaml linking outside: MLflow's own reader would follow it, so the import is refused."""
    meta = next(p for p in sorted(copy.glob("*/datasets/*/meta.yaml")))
    meta.unlink()
    meta.symlink_to(secret)
    return meta


def _escape_mlflow_artifacts(copy: Path, secret: Path) -> Path:
    artifacts = next(p for p in sorted(copy.rglob("artifacts")) if p.is_dir() and any(p.iterdir()))
    (artifacts / "leak.txt").symlink_to(secret)
    return artifacts / "leak.txt"


def _escape_sacred(copy: Path, secret: Path) -> Path:
    config = copy / "1" / "config.json"
    config.unlink()
    config.symlink_to(secret)
    return config


@dataclass(frozen=True)
class Case:
    tracker: str
    fixture: str  # a directory or file under tests/fixtures/
    corrupt: Callable[[Path], Path]  # breaks the copy in place, returns the broken file
    source: Callable[[Path], str] = str  # the SOURCE argument for the copy
    escape: Callable[[Path, Path], Path] | None = None  # plants a link to ``secret`` in the layout, returns it
    copy_parent: bool = False  # copy the fixture's folder (for single-file sources)

    @property
    def id(self) -> str:
        planted = f":{self.escape.__name__.removeprefix('_')}" if self.escape else ""
        return f"{self.tracker}:{self.fixture}{planted}"


CASES = [
    Case("mlflow", "mlflow/mlruns", _break_mlflow_run, escape=_escape_mlflow),
    Case("mlflow", "mlflow/mlruns", _break_mlflow_run, escape=_escape_mlflow_read_by_mlflow),
    Case("mlflow", "mlflow/sqlite", _break_sqlite, source=lambda p: f"sqlite:///{p / 'mlflow.db'}",
         escape=_escape_mlflow_artifacts),
    Case("sacred", "sacred/runs", _break_json("run.json"), escape=_escape_sacred),
    Case("records", "records", _break_records, source=lambda p: str(p / "negative-results.yaml")),
    Case("wandb", "wandb/wandb", ct.corrupt_wandb_log, escape=ct.escape_wandb_run),
    Case("wandb", "wandb/wandb", ct.corrupt_wandb_log, escape=ct.escape_wandb_file),
    Case("tensorboard", "tensorboard/logdir", ct.corrupt_event_file, escape=ct.escape_event_file),
    Case("dvc", "dvc", ct.corrupt_dvc_config, source=ct.dvc_source, escape=ct.escape_dvc_params),
]


def test_every_registered_importer_has_a_contract_case() -> None:
    """An importer added to the registry (BUILT_IN, or a plugin installed here) without a case here fails."""
    assert set(IMPORTERS) - {case.tracker for case in CASES} == set()


@pytest.fixture(params=CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def copy(case: Case, tmp_path: Path) -> Path:
    """A private copy of the fixture, at a different path than where it was generated (moved store)."""
    target = tmp_path / "source"
    shutil.copytree(FIXTURES / case.fixture, target, symlinks=True)
    return target


def _import(store: Store, case: Case, copy: Path, *, skip_invalid: bool = False):
    importer = IMPORTERS[case.tracker](case.source(copy), collector=Collector(skip_invalid=skip_invalid))
    return run_import(store, importer), importer


def _dump(store: Store) -> bytes:
    buffer = io.BytesIO()
    store.dump(buffer)
    return buffer.getvalue()


def test_reimport_changes_nothing(case: Case, copy: Path, memory_store: Store) -> None:
    first, _ = _import(memory_store, case, copy)
    assert first.changed and first.triples > 0
    before = _dump(memory_store)
    again, _ = _import(memory_store, case, copy)
    assert not again.changed
    assert again.triples == first.triples
    assert _dump(memory_store) == before


def test_corrupt_source_writes_nothing_and_keeps_the_previous_import(case: Case, copy: Path,
                                                                      memory_store: Store) -> None:
    _import(memory_store, case, copy)
    before = _dump(memory_store)
    broken = case.corrupt(copy)
    with pytest.raises(SourceError) as error:
        _import(memory_store, case, copy)
    assert broken.name in str(error.value)
    assert _dump(memory_store) == before


def test_corrupt_source_into_an_empty_catalog_leaves_it_empty(case: Case, copy: Path, memory_store: Store) -> None:
    before = _dump(memory_store)
    case.corrupt(copy)
    with pytest.raises(SourceError):
        _import(memory_store, case, copy)
    assert _dump(memory_store) == before


def test_failures_become_negative_results(case: Case, copy: Path, memory_store: Store) -> None:
    outcome, _ = _import(memory_store, case, copy)
    assert outcome.negative_results >= max(outcome.failures, 1)
    unexplained = memory_store.select("""
        PREFIX eg: <https://w3id.org/expgraph#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?run WHERE {
          ?run a eg:Run ; eg:status/skos:notation ?status .
          FILTER(?status IN ("failed", "killed"))
          FILTER NOT EXISTS { ?result a eg:NegativeResult ; prov:wasGeneratedBy ?run ; eg:failureMode ?mode }
        }""")
    assert unexplained == []


def test_paths_never_escape_the_source(case: Case, copy: Path, tmp_path: Path, memory_store: Store) -> None:
    """A link to a secret file outside the source, planted where the tracker's layout has files: never read into
    the catalog, and named by a warning (file skipped) or by the error (import refused)."""
    if case.escape is None:
        pytest.skip(f"{case.tracker} sources are one file named by the user")
    secret = tmp_path / "secret-outside.txt"
    secret.write_text('{"token": "TOP SECRET CONTENT"}\n', encoding="utf-8")
    link = case.escape(copy, secret)
    try:
        _, importer = _import(memory_store, case, copy)
    except SourceError as error:
        assert str(link) in str(error) and "outside" in str(error)
    else:
        assert any(str(link) in warning and "outside" in warning for warning in importer.collector.warnings)
    dump = _dump(memory_store)
    assert b"TOP SECRET" not in dump and b"secret-outside" not in dump
    assert link.name.encode() not in dump


def test_import_leaves_the_source_byte_identical(case: Case, copy: Path, memory_store: Store) -> None:
    """Importers only read: no migration, journal, lock, cache or default folder is left in the user's store."""
    source = case.source(copy)  # (unpacks the DVC repository first: that is the fixture, not the import)
    before = snapshot(copy)
    run_import(memory_store, IMPORTERS[case.tracker](source, collector=Collector()))
    assert changes(before, snapshot(copy)) == []
