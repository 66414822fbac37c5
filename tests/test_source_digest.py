"""An unchanged source is recognised before it is read (issue 11, item 11): same outcome, nothing read or
written, the audit trail as before; any change to the files, the importer's settings, the failure rules or the
code that maps records is noticed."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import expgraph
import expgraph._version
from expgraph import source_digest as digests
from expgraph.catalog import load_file, run_import
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector
from expgraph.importers.sacred import SacredImporter
from expgraph.importers.tensorboard import TensorBoardImporter
from expgraph.mapping import DEFAULT_BASE, source_graph
from expgraph.records import Liveness
from expgraph.store import Store
from expgraph.store.base import AUDIT

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sacred(tmp_path: Path) -> Path:
    target = tmp_path / "sacred"
    shutil.copytree(FIXTURES / "sacred" / "runs", target)
    return target


def _import(store: Store, source: Path, *, skip_invalid: bool = False, importer=SacredImporter):
    """An import, and how many runs it read (its progress reports)."""
    read = []
    outcome = run_import(store, importer(str(source), collector=Collector(skip_invalid=skip_invalid),
                                         progress=lambda done, total: read.append(done)))
    return outcome, len(read)


def _activities(store: Store) -> int:
    return sum(1 for triple in store.triples(AUDIT)
               if triple.object.value == "https://w3id.org/expgraph#ImportActivity")


def test_unchanged_source_is_not_read_and_reports_the_same_outcome(sacred: Path, memory_store: Store) -> None:
    first, read = _import(memory_store, sacred)
    assert first.changed and read == first.runs > 0
    activities = _activities(memory_store)
    again, read = _import(memory_store, sacred)
    assert read == 0 and not again.changed
    assert (again.graph, again.triples, again.experiments, again.runs, again.failures, again.negative_results) == \
        (first.graph, first.triples, first.experiments, first.runs, first.failures, first.negative_results)
    assert _activities(memory_store) == activities  # as before: an unchanged import appends no audit record


def test_a_changed_file_is_read_and_imported(sacred: Path, memory_store: Store) -> None:
    _import(memory_store, sacred)
    config = sacred / "2" / "config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["epochs"] = 4  # same length as before: only the times tell
    config.write_text(json.dumps(data, indent=2), encoding="utf-8")
    outcome, read = _import(memory_store, sacred)
    assert read > 0 and outcome.changed


def test_a_touched_file_is_read_once_then_recognised_again(sacred: Path, memory_store: Store) -> None:
    first, _ = _import(memory_store, sacred)
    activities = _activities(memory_store)
    os.utime(sacred / "3" / "run.json")  # same content, new time: read again, found unchanged
    touched, read = _import(memory_store, sacred)
    assert read > 0 and not touched.changed and touched.triples == first.triples
    assert _activities(memory_store) == activities
    again, read = _import(memory_store, sacred)
    assert read == 0 and not again.changed


def test_a_new_run_folder_is_noticed(sacred: Path, memory_store: Store) -> None:
    first, _ = _import(memory_store, sacred)
    shutil.copytree(sacred / "2", sacred / "9")
    outcome, read = _import(memory_store, sacred)
    assert read > 0 and outcome.changed and outcome.runs == first.runs + 1


def test_other_importer_settings_are_a_different_source_state(sacred: Path, memory_store: Store) -> None:
    _import(memory_store, sacred)
    _, read = _import(memory_store, sacred, skip_invalid=True)
    assert read > 0


def test_a_new_failure_rule_in_the_catalog_is_noticed(sacred: Path, memory_store: Store, tmp_path: Path) -> None:
    _import(memory_store, sacred)
    rules = tmp_path / "rules.ttl"
    rules.write_text("""
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix eg: <https://w3id.org/expgraph#> .
<https://example.org/lab/fm/sensor-glitch> a skos:Concept ; skos:notation "sensor-glitch" ;
    skos:prefLabel "sensor glitch"@en ; eg:errorPattern "CUDA" ; eg:rulePriority -1 .
""", encoding="utf-8")
    load_file(memory_store, rules)
    _, read = _import(memory_store, sacred)
    assert read > 0


def test_a_new_expgraph_version_is_noticed(sacred: Path, memory_store: Store,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    importer = SacredImporter(str(sacred))
    classifier = FailureClassifier.from_store(memory_store)
    before = digests.source_digest(importer, classifier, DEFAULT_BASE)
    digests.code_digest.cache_clear()
    monkeypatch.setattr(expgraph._version, "__version__", expgraph.__version__ + ".post1")
    try:
        assert digests.source_digest(importer, classifier, DEFAULT_BASE) != before
    finally:
        digests.code_digest.cache_clear()


def test_a_source_with_running_runs_is_read_every_time(tmp_path: Path, memory_store: Store) -> None:
    """A running run's status may change with no file changing (its heartbeat stops): no shortcut while it is not
    yet presumed dead; once it is, it stays so until its files change, and the shortcut applies."""
    source = tmp_path / "logdir"
    shutil.copytree(FIXTURES / "tensorboard" / "logdir", source)
    graph = source_graph("tensorboard", str(source.resolve()))
    alive = Liveness(datetime.now(UTC), after=timedelta(days=365 * 100))  # the fixture's running run still lives

    def reimport(liveness: Liveness) -> tuple[bool, int]:
        read: list[int] = []
        outcome = run_import(memory_store, TensorBoardImporter(str(source), collector=Collector(),
                                                               progress=lambda done, total: read.append(done)),
                             liveness=liveness)
        return outcome.changed, len(read)

    reimport(alive)
    assert memory_store.active_graphs()[graph.value].source_digest is None
    changed, read = reimport(alive)
    assert read > 0 and not changed
    dead = Liveness(datetime.now(UTC))  # the default 24 h: the fixture's running run is long presumed dead
    changed, read = reimport(dead)
    assert changed and read > 0 and memory_store.active_graphs()[graph.value].source_digest is not None
    changed, read = reimport(dead)
    assert read == 0 and not changed
