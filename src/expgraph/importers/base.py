"""What every importer shares: the contract, path safety, status mapping, error collection, negative results.

An importer knows one tracker. It reads the tracker's store and yields plain records (projects, experiments,
runs, results); it never sees RDF. ``build_batch`` turns what it yields into one :class:`ImportBatch`, adding a
negative result for every failed or killed run that has none, so each importer gets that behaviour for free.
"""

from __future__ import annotations

import importlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import ClassVar

from expgraph.failures import FailureClassifier, negative_result_for
from expgraph.lexical import typed_text
from expgraph.records import (
    Concept,
    Experiment,
    ImportBatch,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
)

Record = Project | Experiment | Run | Result | Concept
#: The tag a tracker's run carries when `expgraph record` captured it (see expgraph.capturing.trackers).
CAPTURED_TAG = "expgraph.run_id"
Progress = Callable[[int, int | None], None]  # (done, total or None)


class SourceError(Exception):
    """A source that cannot be imported; the message names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class MissingDependency(Exception):
    """The tracker's client library is not installed; the message says which extra to install."""


def require(module: str, extra: str) -> ModuleType:
    """Import a tracker's optional client, or fail with a one-line install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"this importer needs the {module!r} package: pip install 'expgraph[{extra}]'"
        ) from None


def inside(root: Path, candidate: str | os.PathLike[str]) -> Path:
    """Resolve ``candidate`` (relative to ``root``) and refuse it when it escapes ``root`` (``..``, symlinks)."""
    root = root.resolve()
    path = (root / candidate).resolve()
    if path != root and root not in path.parents:
        raise SourceError(candidate, f"path escapes the source directory {root}")
    return path


def map_status(value: str | None, table: Mapping[str, RunStatus], *, where: str = "") -> RunStatus:
    """Translate a tracker's status string; unknown strings become ``unknown`` (never ``finished``)."""
    if value is None:
        return RunStatus.UNKNOWN
    return table.get(value.strip().upper(), table.get(value.strip(), RunStatus.UNKNOWN))


def parameter(key: str, value: object) -> ParameterSetting:
    """A parameter typed where the type is certain; a tracker's string keeps its original spelling.

    ``"128"`` becomes 128, ``"5e-4"`` 0.0005 (original kept), ``"True"`` True; ``"nan"``, ``"1_000"`` or
    ``"007"`` stay strings. Non-scalar values (lists, dicts, None) are kept as their JSON text (the spelling of
    the JSON and YAML configs they come from), or Python's when JSON has none.
    """
    if isinstance(value, bool | int | float):
        return ParameterSetting(key, value)
    if not isinstance(value, str):
        try:
            return ParameterSetting(key, json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError):
            return ParameterSetting(key, repr(value))
    typed = typed_text(value)
    return ParameterSetting(key, typed, original=value if typed is not value else None)


def flatten(config: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, object]]:
    """Nested configuration as dotted keys (``{"optim": {"lr": 0.1}}`` → ``optim.lr``), in sorted order."""
    for key in sorted(config, key=str):
        value = config[key]
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{dotted}.")
        else:
            yield dotted, value


@dataclass
class Collector:
    """Warnings and per-run problems gathered while reading, for the summary and for ``--skip-invalid``."""

    skip_invalid: bool = False
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def invalid(self, error: SourceError) -> None:
        """A bad run or file: fatal by default; listed and skipped with ``--skip-invalid``."""
        if not self.skip_invalid:
            raise error
        self.skipped.append(str(error))
        self.warnings.append(f"skipped {error}")


class Importer(ABC):
    """One tracker's reader. Subclasses set ``tracker`` and implement ``identity`` and ``records``."""

    tracker: ClassVar[str]
    #: What the CLI says the SOURCE argument is.
    source_help: ClassVar[str] = "Path of the tracker's store."

    def __init__(self, source: str, *, collector: Collector | None = None, progress: Progress | None = None,
                 project: str | None = None):
        self.source = source
        self.collector = collector or Collector()
        self.progress = progress or (lambda done, total: None)
        #: ``--project``: every experiment of the source goes into this project, whatever the source says.
        self.project = project

    def identity(self) -> str:
        """A stable identity of the source (absolute path or normalised URI): the IRIs derive from it.

        Most trackers write a directory, whose absolute path is its identity; the others override this.
        """
        return str(self.source_dir())

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Yield the source's records; raise SourceError (via ``self.collector.invalid``) on bad input."""

    def stays_inside(self, root: Path, path: Path, where: str = "source directory") -> bool:
        """Whether ``path`` (below ``root``) resolves inside ``root``; one that links outside is skipped with a
        warning, never read."""
        try:
            inside(root, path.relative_to(root))
        except SourceError:
            self.collector.warn(f"{path}: links outside the {where}; skipped")
            return False
        return True

    def source_dir(self) -> Path:
        """The source as an existing directory, or a SourceError."""
        path = Path(self.source).expanduser()
        if not path.exists():
            raise SourceError(path, "no such file or directory")
        if not path.is_dir():
            raise SourceError(path, f"expected a {self.tracker} directory, found a file")
        return path.resolve()


def walk_files(root: Path, collector: Collector) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` as (posix path relative to root, resolved path), sorted, each folder's files before
    its subfolders; symlinks that leave ``root`` are skipped with a warning instead of followed."""
    root = root.resolve()
    yield from _walk(root, str(root), "", collector)


def _walk(root: Path, folder: str, prefix: str, collector: Collector) -> Iterator[tuple[str, Path]]:
    """One folder of ``walk_files``, on ``os.scandir``: its entries know their type without a ``stat`` each,
    which makes walking a run's artifact folder about a third cheaper than ``os.walk`` with ``pathlib``."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:  # as os.walk: an unreadable folder is passed over
        return
    folders = []
    for entry in entries:
        if entry.is_dir():
            if entry.is_symlink():
                collector.warn(f"{entry.path}: skipped, a symlinked directory is not followed")
            else:
                folders.append(entry)
        elif entry.is_symlink():  # only links need resolving: the walk itself stays inside root
            try:
                path = inside(root, prefix + entry.name)
            except SourceError:
                collector.warn(f"{entry.path}: skipped, it links outside the source directory")
                continue
            if path.is_file():
                yield prefix + entry.name, path
        elif entry.is_file():
            yield prefix + entry.name, Path(entry.path)
    for entry in folders:
        yield from _walk(root, entry.path, f"{prefix}{entry.name}/", collector)


def build_batch(importer: Importer, classifier: FailureClassifier) -> ImportBatch:
    """Read everything, then add a negative result for each failed or killed run that has none of its own.

    With ``importer.project`` every experiment (and a records file's own concepts) goes into that project; an
    experiment that names no project otherwise goes into its source's default project (the mapper's)."""
    projects: dict[str, Project] = {}
    experiments: dict[str, Experiment] = {}
    runs: list[Run] = []
    results: list[Result] = []
    concepts: dict[tuple[str, str], Concept] = {}
    for record in importer.records():
        if isinstance(record, Project):
            projects.setdefault(record.name, record)
        elif isinstance(record, Experiment):
            if importer.project:
                record = replace(record, project=importer.project)
            experiments[record.native_id] = record
            if record.project and record.project not in projects:
                projects[record.project] = Project(record.project)
        elif isinstance(record, Run):
            runs.append(record)
        elif isinstance(record, Result):
            results.append(record)
        elif isinstance(record, Concept):
            if importer.project:
                record = replace(record, project=importer.project)
            concepts.setdefault((record.scheme, record.notation), record)
    if importer.project:  # the source's own projects give way to the one asked for (kept if it is the same)
        projects = {importer.project: projects.get(importer.project, Project(importer.project))}
    explained = {run_id for result in results for run_id in result.runs}
    for run in runs:
        # a run captured at launch (`expgraph record` tagged it) has its failure described by the capture, which
        # saw the process end: a tracker's second, usually unexplained, negative result would contradict it
        if run.status.is_failure and run.native_id not in explained and CAPTURED_TAG not in run.tags:
            results.append(negative_result_for(run, classifier))
    return ImportBatch(
        tracker=importer.tracker,
        source=importer.identity(),
        projects=tuple(projects.values()),
        experiments=tuple(experiments.values()),
        runs=tuple(runs),
        results=tuple(results),
        warnings=tuple(importer.collector.warnings),
        concepts=tuple(concepts.values()),
    )


#: Importers by tracker name, filled by ``register``; the CLI makes one ``import`` subcommand per entry.
IMPORTERS: dict[str, type[Importer]] = {}


def register(cls: type[Importer]) -> type[Importer]:
    IMPORTERS[cls.tracker] = cls
    return cls
