"""The embedded store: pyoxigraph on disk (the default) or in memory (tests, the demo)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, Quad, RdfFormat, Triple, Variable

from expgraph.store.base import CHUNK, REGISTRY, ChunkReader, QueryResult, Store, StoreBusyError, StoreError, Term

#: Graphs up to this many triples are written in one transaction (fast, and memory is no concern at that size).
_SMALL = CHUNK


class EmbeddedStore(Store):
    """pyoxigraph's RocksDB store in a directory, or an in-memory store when ``path`` is None.

    Opening is lazy (the constructor does no I/O). One process may hold an on-disk store for writing; a second
    one gets :class:`StoreBusyError` with a hint instead of RocksDB's lock message. Being the sole writer, it
    caches the registry between its own writes.
    """

    caches_registry = True

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._ox: pyoxigraph.Store | None = None
        self._clean: bool | None = None

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else "(in memory)"

    @property
    def ox(self) -> pyoxigraph.Store:
        if self._ox is None:
            self._ox = self._open()
        return self._ox

    def _open(self) -> pyoxigraph.Store:
        if self.path is None:
            return pyoxigraph.Store()
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
            if self.path is not None:
                self._ox.flush()
            self._ox = None

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
        triples about each graph (``store:`` terms), and 3-10x faster, as each triple pattern is then one index
        lookup instead of one per graph. Naming the graphs keeps ``GRAPH ?g`` and ``FROM`` to the active ones.
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

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        """Small graphs in one transaction; large ones through the bulk loader, whose fixed cost is ~0.2 s on disk."""
        self._forget_registry()
        quads = (Quad(t.subject, t.predicate, t.object, graph) for t in triples)
        head = list(islice(quads, _SMALL))
        if len(head) < _SMALL:
            self.ox.extend(head)
            return
        self.ox.bulk_extend(chain(head, quads))
        if self.path is not None:
            self.ox.flush()

    def _write_text(self, graph: NamedNode, chunks: Iterable[bytes]) -> None:
        """Like :meth:`_write_graph`, from N-Triples text: pyoxigraph parses it natively, which at 10k runs was 2x
        faster than building a ``Quad`` per triple for ``bulk_extend``. A graph of one chunk is written in one
        transaction; a larger one is streamed through the bulk loader as one document."""
        self._forget_registry()
        pending = iter(chunks)
        head = list(islice(pending, 2))
        if len(head) < 2:
            self.ox.load(b"".join(head), RdfFormat.N_TRIPLES, to_graph=graph)
            return
        self.ox.bulk_load(ChunkReader(chain(head, pending)), RdfFormat.N_TRIPLES, to_graph=graph)
        if self.path is not None:
            self.ox.flush()

    def _drop_graph(self, graph: NamedNode) -> None:
        self._forget_registry()
        self.ox.remove_graph(graph)

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        for quad in self.ox.quads_for_pattern(None, None, None, graph):
            yield quad.triple


def _binding_error(error: RuntimeError, bindings: Mapping[str, Term]) -> Exception:
    """pyoxigraph binds only variables a SELECT projects: say which binding failed; other errors pass as they are."""
    if bindings and "projection" in str(error):
        return StoreError(f"cannot bind {', '.join('?' + n for n in bindings)}: {error}")
    return error
