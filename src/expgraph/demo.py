"""The demo catalog: small stores written by the real trackers, shipped as package data, imported the normal way.

``examples/examples.toml`` lists the bundled sources (tracker, path, what it shows). The demo copies them to a
work directory (trackers' clients may write beside their data, and the package directory can be read-only), then
imports each through its registered importer, exactly as ``expgraph import`` would. A source whose importer or
client library is missing is skipped with a message, so the demo degrades instead of failing.
"""

from __future__ import annotations

import shutil
import tarfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Literal

from expgraph.catalog import ImportOutcome, run_import
from expgraph.importers import IMPORTERS, SourceError
from expgraph.importers.base import MissingDependency
from expgraph.namespaces import sparql_prologue
from expgraph.records import FAILURE_STATUSES
from expgraph.sparql.template import SparqlTemplate, TermList
from expgraph.store import Store

EXAMPLES = Path(__file__).resolve().parent / "examples"

#: What the demo reports, each counted by a SPARQL query over the built catalog.
COUNT_QUERIES = {
    "projects": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a eg:Project }",
    "experiments": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a eg:Experiment }",
    "runs": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a eg:Run }",
    "failed_runs": SparqlTemplate.parse("""SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {
        ?x a eg:Run ; eg:status/skos:notation ?status FILTER(?status IN (#@failed
        )) }""").bind(failed=TermList.of(Literal(status) for status in FAILURE_STATUSES)),
    "negative_results": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a eg:NegativeResult }",
    "trackers": "SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { ?x a eg:Run ; eg:tracker ?t }",
}


@dataclass(frozen=True)
class ExampleSource:
    """One bundled source: ``path`` is relative to the examples folder; ``uri`` may wrap it (``sqlite:///{path}``)."""

    tracker: str
    path: str
    about: str = ""
    uri: str = "{path}"
    fixture: str = ""  # where scripts/copy_demo_examples.py copies it from, under tests/fixtures/

    def location(self, root: Path) -> str:
        """The importer's SOURCE argument; a ``.tar.gz`` example is unpacked beside itself first."""
        path = root / self.path
        if path.name.endswith(".tar.gz"):
            path = _unpack(path)
        return self.uri.format(path=path)


def _unpack(archive: Path) -> Path:
    """Unpack an archived example (a git repository, say) and return the one folder it holds."""
    target = archive.with_name(archive.name.removesuffix(".tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")  # "data" refuses absolute paths, links out and device files
    entries = list(target.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


@dataclass
class DemoReport:
    store: str
    imported: list[tuple[ExampleSource, ImportOutcome]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "counts": self.counts,
            "sources": [
                {"tracker": source.tracker, "path": source.path, "about": source.about} | outcome.as_dict()
                for source, outcome in self.imported
            ],
            "skipped": self.skipped,
        }


def example_sources(root: Path = EXAMPLES) -> list[ExampleSource]:
    """The sources the manifest lists, in its order; a broken manifest names itself and the problem."""
    manifest = root / "examples.toml"
    try:
        entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("source", [])
        return [ExampleSource(**entry) for entry in entries]
    except FileNotFoundError:
        raise SourceError(manifest, "the demo's example manifest is missing from the installation") from None
    except (tomllib.TOMLDecodeError, TypeError) as error:
        raise SourceError(manifest, f"not a valid example manifest: {error}") from None


def copy_examples(workdir: Path, root: Path = EXAMPLES) -> Path:
    """A fresh copy of the bundled examples under ``workdir/examples``; the same path every time, so that
    re-building a named demo store replaces its sources instead of adding them again."""
    target = workdir / "examples"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def build_demo(store: Store, workdir: Path, *, root: Path = EXAMPLES,
               note: Callable[[str], None] = lambda message: None) -> DemoReport:
    """Import every bundled example that this installation can read into ``store`` (prepared by the caller)."""
    copied = copy_examples(workdir, root)
    report = DemoReport(store=store.location)
    for source in example_sources(copied):
        importer_class = IMPORTERS.get(source.tracker)
        if importer_class is None:
            report.skipped.append(f"{source.tracker}: no importer for this tracker in this installation")
            continue
        if not (copied / source.path).exists():
            report.skipped.append(f"{source.tracker}: example {source.path} is missing from the installation")
            continue
        try:
            outcome = run_import(store, importer_class(source.location(copied)))
        except (SourceError, MissingDependency, tarfile.TarError) as error:
            report.skipped.append(f"{source.tracker}: {error}")
            continue
        except Exception as error:  # a tracker library failing in this environment must not stop the demo
            report.skipped.append(f"{source.tracker}: unexpected {type(error).__name__}: {error}")
            continue
        note(f"{source.tracker}: {outcome.runs} runs ({outcome.failures} failed or killed), "
             f"{outcome.negative_results} negative results")
        report.imported.append((source, outcome))
    for message in report.skipped:
        note(f"skipped {message}")
    report.counts = count(store)
    return report


def count(store: Store) -> dict[str, int]:
    """The demo's headline figures, counted in the catalog itself."""
    prologue = sparql_prologue()
    return {name: int(store.select(prologue + query)[0]["n"].value) for name, query in COUNT_QUERIES.items()}
