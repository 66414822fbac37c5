"""What every importer shares: the contract, status mapping, parsing helpers, error collection, negative results
(path safety: ``paths``; which importers exist: ``registry``).

An importer knows one tracker. It reads the tracker's store and yields plain records (projects, experiments,
runs, results); it never sees RDF. ``build_batch`` turns what it yields into one :class:`ImportBatch`, adding a
negative result for every failed or killed run that has none, so each importer gets that behaviour for free.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import yaml

from expgraph.failures import FailureClassifier, negative_result_for
from expgraph.importers.errors import MissingDependency, SourceError
from expgraph.importers.paths import PathGuard
from expgraph.lexical import typed_text
from expgraph.records import (
    Concept,
    Experiment,
    ImportBatch,
    Liveness,
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


@contextlib.contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """Trackers' libraries read their settings from the environment: set ``values`` for the block, then restore
    each variable as it was (unset ones unset again)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def require(module: str, extra: str) -> ModuleType:
    """Import a tracker's optional client, or fail with a one-line install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"this importer needs the {module!r} package: pip install 'expgraph[{extra}]'"
        ) from None


#: Exceptions a value of an unexpected type or shape raises in reading code (a ``host`` that is a string, a date
#: that is not one, a configuration nested beyond Python's recursion limit).
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)


@contextlib.contextmanager
def malformed_as_source_error(where: str | os.PathLike[str]) -> Iterator[None]:
    """Turn the exception an unexpected value raises while reading ``where`` into a one-line SourceError naming
    it, instead of a traceback: importers cannot foresee every wrong type a hand-edited store may hold."""
    try:
        yield
    except SourceError:
        raise
    except RecursionError:
        raise SourceError(where, "nested too deeply to read") from None
    except SHAPE_ERRORS as error:
        raise SourceError(where, f"unexpected content ({type(error).__name__}: {error})") from None


def expect(value: object, kind: type | tuple[type, ...], where: str | os.PathLike[str], what: str) -> Any:
    """``value`` when it is a ``kind`` (None passes as missing); otherwise a SourceError naming the file and the
    field."""
    if value is None or isinstance(value, kind):
        return value
    names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    raise SourceError(where, f"{what} should be {_JSON_NAMES.get(names, names)}, not {type(value).__name__}")


_JSON_NAMES = {"dict": "an object", "list": "a list", "str": "a string"}


def parse_json(where: str | os.PathLike[str], data: bytes | str) -> Any:
    """A JSON document, or a SourceError naming the file (also for nesting beyond the recursion limit)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise SourceError(where, "not readable JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise SourceError(where, f"not valid JSON ({error})") from None


#: How many nodes the aliases of one YAML document may expand to in all (a nested "billion laughs" document
#: expands exponentially; hand-written files reuse a few blocks).
MAX_ALIAS_NODES = 10_000


class BoundedYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with alias expansion bounded: aliases may stand for at most ``MAX_ALIAS_NODES``
    nodes in all, so a small file cannot expand to gigabytes in code that walks the document as a tree."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._expanded = 0
        self._open: list[str | None] = []  # anchors of the collections being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(None, None, "an alias inside the node it names (a recursive "
                                                              "document) is refused", event.start_mark)
            if node is not None:
                self._expanded += self._size(node)
                if self._expanded > MAX_ALIAS_NODES:
                    raise yaml.composer.ComposerError(
                        None, None, f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (refused: an alias "
                                    "bomb?)", event.start_mark)
        return super().compose_node(parent, index)

    def compose_sequence_node(self, anchor: str | None) -> Any:
        self._open.append(anchor)
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self._open.pop()

    def compose_mapping_node(self, anchor: str | None) -> Any:
        self._open.append(anchor)
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self._open.pop()

    def _size(self, node: yaml.Node) -> int:
        """Nodes in ``node`` with every alias inside it expanded (memoised, so linear in the document)."""
        known = self._sizes.get(id(node))
        if known is None:
            known = 1
            if isinstance(node, yaml.SequenceNode):
                known += sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                known += sum(self._size(key) + self._size(value) for key, value in node.value)
            self._sizes[id(node)] = known = min(known, MAX_ALIAS_NODES + 1)
        return known


def load_yaml(where: str | os.PathLike[str], text: str) -> Any:
    """A YAML document with bounded alias expansion, or a SourceError naming the file (and the line)."""
    try:
        return yaml.load(text, Loader=BoundedYamlLoader)
    except RecursionError:
        raise SourceError(where, "not readable YAML (nested too deeply)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise SourceError(where, f"not valid YAML{line}: {getattr(error, 'problem', None) or error}") from None


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
                 project: str | None = None, timeout: float | None = None):
        self.source = source
        self.collector = collector or Collector()
        self.progress = progress or (lambda done, total: None)
        #: ``--project``: every experiment of the source goes into this project, whatever the source says.
        self.project = project
        #: Seconds to wait for a tracker server to connect and answer (None: the tracker client's own default).
        self.timeout = timeout

    def identity(self) -> str:
        """A stable identity of the source (absolute path or normalised URI): the IRIs derive from it.

        Most trackers write a directory, whose absolute path is its identity; the others override this.
        """
        return str(self.source_dir())

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Yield the source's records; raise SourceError (via ``self.collector.invalid``) on bad input."""

    def source_root(self) -> Path:
        """The directory every file this importer reads must stay inside (the source directory by default)."""
        return self.source_dir()

    @functools.cached_property
    def guard(self) -> PathGuard:
        """The path-safety check of every file read from the source (see :class:`PathGuard`)."""
        return PathGuard(self.source_root(), self.collector)

    def fingerprint_roots(self) -> list[Path] | None:
        """The files and folders whose state decides what this importer reads (for :func:`fingerprint`); None
        when it cannot say (a tracking server), so that every import reads the source again."""
        return [self.source_dir()]

    def options(self) -> dict[str, object]:
        """What besides the source's files shapes the records: the plain settings this importer was given."""
        plain = {key: value for key, value in vars(self).items()
                 if not key.startswith("_") and isinstance(value, str | int | float | bool | None)}
        return plain | {"skip_invalid": self.collector.skip_invalid}

    def source_dir(self) -> Path:
        """The source as an existing directory, or a SourceError."""
        path = Path(self.source).expanduser()
        if not path.exists():
            raise SourceError(path, "no such file or directory")
        if not path.is_dir():
            raise SourceError(path, f"expected a {self.tracker} directory, found a file")
        return path.resolve()


def build_batch(importer: Importer, classifier: FailureClassifier, liveness: Liveness | None = None) -> ImportBatch:
    """Read everything, then add a negative result for each failed, killed or (by ``liveness``) presumed dead run
    that has none of its own.

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
        if run.native_id in explained or CAPTURED_TAG in run.tags:
            continue
        if run.status.is_failure:
            results.append(negative_result_for(run, classifier))
        elif liveness is not None and liveness.presumed_dead(run):
            results.append(negative_result_for(run, classifier, last_sign=liveness.last_sign(run)))
    return ImportBatch(
        tracker=importer.tracker,
        source=importer.identity(),
        projects=tuple(projects.values()),
        experiments=tuple(experiments.values()),
        runs=tuple(runs),
        results=tuple(results),
        warnings=tuple(importer.collector.warnings),
        concepts=tuple(concepts.values()),
        liveness=liveness,
    )
