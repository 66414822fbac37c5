"""The embedded store: pyoxigraph on disk (the default) or in memory (tests, the demo)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from queue import Queue

import pyoxigraph
from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, Triple, Variable

from expgraph.store.base import REGISTRY, STORE, QueryResult, Store, StoreBusyError, StoreError, Term
from expgraph.store.text import CHUNK, ChunkReader

#: Graphs up to this many triples are written in one transaction (fast, and memory is no concern at that size).
_SMALL = CHUNK
#: Chunks of text per bulk load on disk: each call has a fixed cost however small, so one chunk a call was slower
#: than one call for all, and ten as fast (benchmarks/results/design-figures-store-sparql.md).
_DISK_GROUP = 10
#: The directory, inside the store's, of the store that holds kept previous versions (see :meth:`EmbeddedStore._keep`).
ARCHIVE = "history"


class EmbeddedStore(Store):
    """pyoxigraph's RocksDB store in a directory, or an in-memory store when ``path`` is None.

    Opening is lazy (the constructor does no I/O). One process may hold an on-disk store for writing; a second
    one gets :class:`StoreBusyError` with a hint instead of RocksDB's lock message. Being the sole writer, it
    caches the registry between its own writes. Any number of processes may open it ``read_only`` beside the
    writer (see :meth:`snapshot`); such a view shows the content as it was when opened.

    Previous versions kept by the retention policy live in a second store (``history/`` in the store directory, or
    in memory): with only active graphs in the main store, queries keep running over its union of all graphs, 5 to
    50x faster than over a list of graphs (docs/architecture.md).
    """

    caches_registry = True
    exact_casts = True
    shares_snapshots = True

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        if read_only and path is None:
            raise StoreError("only an on-disk store can be opened read-only; copy an in-memory one (from_nquads)")
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self._ox: pyoxigraph.Store | None = None
        self._archive: pyoxigraph.Store | None = None
        self._clean: bool | None = None

    @classmethod
    def from_nquads(cls, data: bytes) -> EmbeddedStore:
        """An in-memory store holding a copy of another store's content (as :meth:`snapshot` dumps it)."""
        store = cls()
        store._ox = pyoxigraph.Store()
        store._ox.bulk_load(data, RdfFormat.N_QUADS)
        return store

    def snapshot(self, *, copy: bool = True) -> EmbeddedSnapshot | None:
        """The on-disk store's path (opened read-only in the other process, beside this writer), or a copy of an
        in-memory store's whole content as N-Quads (``copy``; it cannot be shared otherwise)."""
        if self.path is not None:
            return EmbeddedSnapshot(path=str(self.path))
        return EmbeddedSnapshot(nquads=self.ox.dump(format=RdfFormat.N_QUADS)) if copy else None

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else "(in memory)"

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds a store already (RocksDB's ``CURRENT`` file), without creating anything."""
        return (Path(path) / "CURRENT").is_file()

    @property
    def ox(self) -> pyoxigraph.Store:
        if self._ox is None:
            self._ox = self._open()
        return self._ox

    def _open(self) -> pyoxigraph.Store:
        if self.path is None:
            return pyoxigraph.Store()
        if self.read_only:
            return _open_read_only(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} exists and is not a directory")
        try:
            return pyoxigraph.Store(str(self.path))
        except OSError as error:
            if "lock" in str(error).lower():
                raise StoreBusyError(
                    f"store {self.path} is in use by another process (is `expgraph serve` running?); "
                    "stop it, or query it through its endpoint with --endpoint URL"
                ) from None
            raise StoreError(f"cannot open store {self.path}: {error}") from None

    def close(self) -> None:
        self._forget_registry()
        if self._ox is not None:
            if self.path is not None and not self.read_only:
                self._ox.flush()
            self._ox = None
        if self._archive is not None:
            if self.path is not None:
                self._archive.flush()
            self._archive = None

    def backup(self, target: Path) -> None:
        """pyoxigraph's online backup of the store (and of its kept previous versions) into the new ``target``."""
        self.ox.backup(str(target))
        if self._has_archive():
            self.archive.backup(str(target / ARCHIVE))

    # -- kept previous versions: in a store of their own ---------------------------------------------------------

    @property
    def archive(self) -> pyoxigraph.Store:
        """The store of kept previous versions, each a graph named by its version, marked complete once copied."""
        if self._archive is None:
            if self.read_only:
                raise StoreError(f"previous versions of {self.location} are read through the process holding it")
            self._archive = pyoxigraph.Store() if self.path is None else pyoxigraph.Store(str(self.path / ARCHIVE))
        return self._archive

    def _has_archive(self) -> bool:
        return self._archive is not None or (self.path is not None and (self.path / ARCHIVE).is_dir())

    def _archived(self, version: NamedNode) -> bool:
        """Whether the archive holds a complete copy of ``version`` (the mark is added once the copy is whole)."""
        return any(True for _ in self.archive.quads_for_pattern(version, STORE.archived, None, DefaultGraph()))

    def _keep(self, version: NamedNode) -> None:
        """Copy the version about to be superseded into the archive (unless a diff already did)."""
        if not self._archived(version):
            self._copy_to_archive(version)

    def _copy_to_archive(self, version: NamedNode) -> None:
        """One version copied as N-Triples text (pyoxigraph dumps and loads it natively), then marked whole; a copy
        cut short by a crash has no mark, and is made again or swept."""
        self.archive.remove_graph(version)
        if self.path is None:
            self.archive.load(self.ox.dump(format=RdfFormat.N_TRIPLES, from_graph=version), RdfFormat.N_TRIPLES,
                              to_graph=version)
        else:
            with tempfile.TemporaryFile(dir=self.path, prefix="expgraph-archive-") as text:
                self.ox.dump(text, RdfFormat.N_TRIPLES, from_graph=version)
                text.seek(0)
                self.archive.bulk_load(text, RdfFormat.N_TRIPLES, to_graph=version)
        self.archive.add(Quad(version, STORE.archived, STORE.complete, DefaultGraph()))
        if self.path is not None:
            self.archive.flush()

    def _superseded(self, version: NamedNode) -> None:
        self._drop_graph(version)  # its copy is in the archive: the main store holds active graphs only

    def _drop_kept(self, version: NamedNode) -> None:
        self.archive.remove(Quad(version, STORE.archived, STORE.complete, DefaultGraph()))
        self.archive.remove_graph(version)

    def _query_kept(self, sparql: str, versions: list[NamedNode], bindings: Mapping[str, Term]) -> QueryResult:
        """Over the main store when every version asked for is active; otherwise over the archive, where an active
        version is copied on first use (and is then already there when it is superseded)."""
        active = {info.version.value for info in self.active_graphs().values()}
        if all(version.value in active for version in versions):
            return super()._query_kept(sparql, versions, bindings)
        for version in versions:
            if version.value in active and not self._archived(version):
                self._copy_to_archive(version)
        substitutions = {Variable(name): term for name, term in bindings.items()}
        try:
            return self.archive.query(sparql, default_graph=[], named_graphs=list(versions),
                                      substitutions=substitutions or None)
        except RuntimeError as error:
            raise _binding_error(error, bindings) from None

    def sweep(self, name: NamedNode | None = None) -> list[NamedNode]:
        """Also, without ``name``, the archive's copies of versions the registry no longer lists (a crash between
        a release and its registry update, or a copy cut short)."""
        dropped = super().sweep(name)
        if name is None and self._has_archive():
            known = self._known_versions()
            marked = {quad.subject for quad in self.archive.quads_for_pattern(None, STORE.archived, None,
                                                                               DefaultGraph())}
            held = {graph for graph in self.archive.named_graphs() if isinstance(graph, NamedNode)}
            for graph in (marked | held):
                if isinstance(graph, NamedNode) and (graph.value not in known or graph not in marked):
                    self._drop_kept(graph)
                    dropped.append(graph)
        return dropped

    def _query(
        self,
        sparql: str,
        *,
        default_graphs: list[NamedNode],
        named_graphs: list[NamedNode],
        bindings: Mapping[str, Term],
    ) -> QueryResult:
        substitutions = {Variable(name): term for name, term in bindings.items()}
        try:
            return self.ox.query(
                sparql,
                default_graph=list(default_graphs),
                named_graphs=list(named_graphs),
                substitutions=substitutions or None,
            )
        except RuntimeError as error:
            raise _binding_error(error, bindings) from None

    def _query_active(self, sparql: str, physical: list[NamedNode], bindings: Mapping[str, Term]) -> QueryResult:
        """Over pyoxigraph's union of all graphs when the store holds no other graph than the active ones and the
        registry (no import half-written, no crash leftover): the same triples plus the registry's few bookkeeping
        triples about each graph (``store:`` terms), and several times faster, as each triple pattern is then one
        index lookup instead of one per graph. Naming the graphs keeps ``GRAPH ?g`` and ``FROM`` to the active ones.
        """
        if not self._is_clean(physical):
            return super()._query_active(sparql, physical, bindings)
        substitutions = {Variable(name): term for name, term in bindings.items()}
        try:
            return self.ox.query(sparql, use_default_graph_as_union=True, named_graphs=list(physical),
                                 substitutions=substitutions or None)
        except RuntimeError as error:
            raise _binding_error(error, bindings) from None

    def _is_clean(self, physical: list[NamedNode]) -> bool:
        if self._clean is None:
            present = {g.value for g in self.ox.named_graphs() if isinstance(g, NamedNode)}
            self._clean = present - {g.value for g in physical} <= {REGISTRY.value}
        return self._clean

    def _forget_registry(self) -> None:
        super()._forget_registry()
        self._clean = None

    def _update(self, sparql: str) -> None:
        self._forget_registry()
        self.ox.update(sparql)
        self._forget_registry()  # a registry read on another thread during the update must not be kept

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        """Small graphs in one transaction; large ones through the bulk loader, which has a fixed cost per call."""
        self._forget_registry()
        quads = (Quad(t.subject, t.predicate, t.object, graph) for t in triples)
        head = list(islice(quads, _SMALL))
        if len(head) < _SMALL:
            self.ox.extend(head)
            return
        self.ox.bulk_extend(chain(head, quads))
        if self.path is not None:
            self.ox.flush()

    def _write_text(self, graph: NamedNode, chunks: Iterable[bytes], *, checked: bool = False) -> None:
        """Like :meth:`_write_graph`, from N-Triples text: pyoxigraph parses it natively, faster than building a
        ``Quad`` per triple for ``bulk_extend``. A graph of one chunk is written in one
        transaction. A larger one is loaded chunk by chunk in a writer thread while this thread maps and hashes the
        next chunk (see :func:`_load_behind`): in memory each chunk in a transaction of its own; on disk through
        the bulk loader, :data:`_DISK_GROUP` chunks a call, as each call has a fixed cost. ``checked`` text is
        loaded without checking its IRIs again (pyoxigraph's ``lenient``) nor looking for blank nodes."""
        self._forget_registry()
        pending = iter(chunks)
        head = list(islice(pending, 2))
        if len(head) < 2:
            self.ox.load(b"".join(head), RdfFormat.N_TRIPLES, to_graph=graph, lenient=checked)
            return
        if self.path is None:
            def load(data: bytes) -> None:
                self.ox.load(data, RdfFormat.N_TRIPLES, to_graph=graph, lenient=checked)
        else:
            def load(data: bytes) -> None:
                self.ox.bulk_load(data, RdfFormat.N_TRIPLES, to_graph=graph, lenient=checked)

            pending = _grouped(chain(head, pending), _DISK_GROUP)
            head = []
        rest = _load_behind(load, chain(head, pending), blank_nodes=not checked)
        if rest is not None:  # blank nodes from here on: the rest as one document
            self.ox.bulk_load(ChunkReader(rest), RdfFormat.N_TRIPLES, to_graph=graph, lenient=checked)
        if self.path is not None:
            self.ox.flush()

    def _drop_graph(self, graph: NamedNode) -> None:
        self._forget_registry()
        self.ox.remove_graph(graph)

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        for quad in self.ox.quads_for_pattern(None, None, None, graph):
            yield quad.triple


@dataclass(frozen=True)
class EmbeddedSnapshot:
    """A read-only view of an embedded store for another process (a query worker): picklable, opened there."""

    path: str | None = None
    nquads: bytes | None = None

    def open(self) -> EmbeddedStore:
        if self.path is not None:
            return EmbeddedStore(self.path, read_only=True)
        return EmbeddedStore.from_nquads(self.nquads or b"")


def _open_read_only(path: Path) -> pyoxigraph.Store:
    """The on-disk store opened read-only; retried briefly, as the writer may be swapping files underneath."""
    for attempt in range(20):
        try:
            return pyoxigraph.Store.read_only(str(path))
        except (OSError, RuntimeError):
            if attempt == 19:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def _grouped(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """``size`` chunks joined into one."""
    while group := list(islice(chunks, size)):
        yield b"".join(group)


def _load_behind(
    load: Callable[[bytes], None], chunks: Iterator[bytes], *, blank_nodes: bool
) -> Iterator[bytes] | None:
    """Load each chunk in a writer thread while this thread makes the next one (mapping and hashing, in Python).

    pyoxigraph parses and inserts ``bytes`` without holding the GIL, so the two overlap; reading from a Python
    file-like instead takes the GIL at each read, and a writer thread around that gained nothing. A failure of the
    writer is raised here once the thread has stopped, as is one of making the chunks: either way nothing is
    written after this returns. Each chunk is parsed as a document of its own, which is right only without blank
    nodes (their labels would name a new node in each chunk): unless ``blank_nodes`` is False, from the first chunk
    that may name one (any ``_:``), the chunks left are returned, for the caller to load as one document.
    """
    queue: Queue[bytes | None] = Queue(maxsize=2)
    failures: list[BaseException] = []

    def writer() -> None:
        while (chunk := queue.get()) is not None:
            if not failures:  # after a failure, drain the queue so that the producer never blocks
                try:
                    load(chunk)
                except BaseException as error:  # raised again in the calling thread
                    failures.append(error)

    thread = threading.Thread(target=writer, name="expgraph-writer", daemon=True)
    thread.start()
    rest = None
    try:
        for chunk in chunks:
            if failures:
                break
            if blank_nodes and b"_:" in chunk:
                rest = chain([chunk], chunks)
                break
            queue.put(chunk)
    finally:
        queue.put(None)
        thread.join()
    if failures:
        raise failures[0]
    return rest


def _binding_error(error: RuntimeError, bindings: Mapping[str, Term]) -> Exception:
    """pyoxigraph binds only variables a SELECT projects: say which binding failed; other errors pass as they are."""
    if bindings and "projection" in str(error):
        return StoreError(f"cannot bind {', '.join('?' + n for n in bindings)}: {error}")
    return error
