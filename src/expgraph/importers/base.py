"""What every importer shares: the contract, path safety, status mapping, error collection, negative results.

An importer knows one tracker. It reads the tracker's store and yields plain records (projects, experiments,
runs, results); it never sees RDF. ``build_batch`` turns what it yields into one :class:`ImportBatch`, adding a
negative result for every failed or killed run that has none, so each importer gets that behaviour for free.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
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


class SourceError(Exception):
    """A source that cannot be imported; the message names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class MissingDependency(Exception):
    """The tracker's client library is not installed; the message says which extra to install."""


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


def inside(root: Path, candidate: str | os.PathLike[str]) -> Path:
    """Resolve ``candidate`` (relative to ``root``) and refuse it when it escapes ``root`` (``..``, symlinks).

    For names a source's own metadata gives (an artifact name in a run's record): such a name leading out is bad
    metadata, an error. Files found on disk go through :class:`PathGuard`, which skips those leading out."""
    root = root.resolve()
    path = (root / candidate).resolve()
    if path != root and root not in path.parents:
        raise SourceError(candidate, f"path escapes the source directory {root}")
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PathGuard:
    """The one path-safety check every file an importer reads goes through: a file is read only when it resolves
    inside the source's root. A symlink (or ``..``) leading out is skipped with a warning naming it, never read.

    Cheap enough for every small file of a store: each directory is checked once (one ``lstat`` a component
    below the root, a full resolve only for links), and a file is opened with ``O_NOFOLLOW`` so that only a
    file that is itself a link is resolved."""

    def __init__(self, root: Path, collector: Collector, where: str = "source directory") -> None:
        self.root = root.resolve()
        self.collector = collector
        self.where = where
        self._prefix = str(self.root).rstrip(os.sep) + os.sep
        self._dirs: dict[str, bool] = {str(self.root): True}

    def _contains(self, real: str) -> bool:
        return real == str(self.root) or real.startswith(self._prefix)

    def _dir_inside(self, directory: str) -> bool:
        known = self._dirs.get(directory)
        if known is None:
            parent, name = os.path.split(directory)
            if parent == directory or not self._contains(directory) or name in ("", ".", ".."):
                known = self._contains(os.path.realpath(directory))
            else:
                known = self._dir_inside(parent) and (
                    not os.path.islink(directory) or self._contains(os.path.realpath(directory)))
            self._dirs[directory] = known
        return known

    def check(self, path: str | os.PathLike[str]) -> Path | None:
        """``path`` (absolute, or relative to the root) when it stays inside the root; None, with a warning
        naming it, when it leads out. Need not exist."""
        text = os.path.join(self.root, path)
        directory, name = os.path.split(text)
        if self._dir_inside(directory) and name not in ("..", ".") and (
                not os.path.islink(text) or self._contains(os.path.realpath(text))):
            return Path(text)
        return self._refuse(path)

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes | None:
        """The whole file, or None (with a warning) when it leads outside the root; a missing file raises
        ``OSError`` as ``open`` does. ``os.read`` on a descriptor: a store holds many small files, and this reads
        each about 40% faster than ``open()``, which builds a buffered file object for one read."""
        text = os.path.join(self.root, path)
        directory, name = os.path.split(text)
        if not self._dir_inside(directory) or name in ("..", "."):
            return self._refuse(path)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
        try:
            handle = os.open(text, flags | _NOFOLLOW)
        except OSError:
            if not os.path.islink(text):
                raise
            # the file itself is a link (O_NOFOLLOW refused it): read it only when it leads to a file inside
            real = os.path.realpath(text)
            if not self._contains(real):
                return self._refuse(path)
            handle = os.open(real, flags)
        try:
            parts = []
            while data := os.read(handle, 1 << 16):
                parts.append(data)
        finally:
            os.close(handle)
        return b"".join(parts)

    def links_leaving(self, folder: str | os.PathLike[str] | None = None,
                      skip: Callable[[str, str], bool] = lambda parent, name: False) -> Iterator[Path]:
        """Links below ``folder`` (the root by default) that lead outside the root, found without following any:
        for trees a tracker's own library reads (it follows links), checked before handing them over. A folder
        for which ``skip(parent folder name, name)`` holds is not entered (one this importer reads itself,
        through the guard)."""
        try:
            with os.scandir(os.path.join(self.root, folder or "")) as scan:
                entries = list(scan)
        except (NotADirectoryError, FileNotFoundError):
            return
        parent = os.path.basename(os.path.join(self.root, folder or ""))
        for entry in entries:
            if entry.is_symlink():
                if not self._contains(os.path.realpath(entry.path)):
                    yield Path(entry.path)
            elif entry.is_dir() and not skip(parent, entry.name):
                yield from self.links_leaving(entry.path, skip)

    def _refuse(self, path: str | os.PathLike[str]) -> None:
        self.collector.warn(f"{path}: skipped, it links outside the {self.where} {self.root}")
        return None


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


def fingerprint(paths: list[Path]) -> str:
    """A digest of the state of every file under ``paths`` (relative name, size, modification and change times
    in nanoseconds), found without following linked folders: what ``git status``, ``make`` and ``rsync`` trust
    to say a file is unchanged. Taken before an import reads anything, it lets an unchanged source be recognised
    at the cost of a ``stat`` per file instead of reading and parsing it (see ``catalog.run_import``)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path}\0".encode())
        if path.is_dir():
            _fingerprint_folder(str(path), "", digest)
        else:
            _fingerprint_entry(path, "", digest)
    return digest.hexdigest()


def _fingerprint_entry(entry: os.DirEntry[str] | Path, name: str, digest: Any) -> None:
    try:
        stat = entry.stat()
    except OSError:  # a dangling link, or a file gone meanwhile: its name still counts
        digest.update(f"{name}\0-\n".encode())
        return
    digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\n".encode())


def _fingerprint_folder(folder: str, prefix: str, digest: Any) -> None:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _fingerprint_folder(entry.path, f"{prefix}{entry.name}/", digest)
        else:
            _fingerprint_entry(entry, prefix + entry.name, digest)


def walk_files(root: Path, collector: Collector) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` as (posix path relative to root, resolved path), sorted, each folder's files before
    its subfolders; links are checked by a :class:`PathGuard` of ``root``: those leading out are skipped with a
    warning instead of followed."""
    guard = PathGuard(root, collector)
    yield from _walk(guard, str(guard.root), "")


def _walk(guard: PathGuard, folder: str, prefix: str) -> Iterator[tuple[str, Path]]:
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
                guard.collector.warn(f"{entry.path}: skipped, a symlinked directory is not followed")
            else:
                folders.append(entry)
        elif entry.is_symlink():  # only links need resolving: the walk itself stays inside root
            if guard.check(entry.path) is not None and (path := Path(os.path.realpath(entry.path))).is_file():
                yield prefix + entry.name, path
        elif entry.is_file():
            yield prefix + entry.name, Path(entry.path)
    for entry in folders:
        yield from _walk(guard, entry.path, f"{prefix}{entry.name}/")


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
