"""The embedded store: pyoxigraph on disk (the default) or in memory (tests, the demo)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, Quad, Triple, Variable

from expgraph.store.base import QueryResult, Store, StoreBusyError, StoreError, Term

#: Graphs up to this many triples are written in one transaction (fast, and memory is no concern at that size).
_SMALL = 20_000


class EmbeddedStore(Store):
    """pyoxigraph's RocksDB store in a directory, or an in-memory store when ``path`` is None.

    Opening is lazy (the constructor does no I/O). One process may hold an on-disk store for writing; a second
    one gets :class:`StoreBusyError` with a hint instead of RocksDB's lock message.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._ox: pyoxigraph.Store | None = None

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
        except RuntimeError as error:  # pyoxigraph binds only variables a SELECT projects
            if substitutions and "projection" in str(error):
                raise StoreError(f"cannot bind {', '.join('?' + n for n in bindings)}: {error}") from None
            raise

    def _update(self, sparql: str) -> None:
        self.ox.update(sparql)

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        """Small graphs in one transaction; large ones through the bulk loader, whose fixed cost is ~0.2 s on disk."""
        quads = (Quad(t.subject, t.predicate, t.object, graph) for t in triples)
        head = list(islice(quads, _SMALL))
        if len(head) < _SMALL:
            self.ox.extend(head)
            return
        self.ox.bulk_extend(chain(head, quads))
        if self.path is not None:
            self.ox.flush()

    def _drop_graph(self, graph: NamedNode) -> None:
        self.ox.remove_graph(graph)

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        for quad in self.ox.quads_for_pattern(None, None, None, graph):
            yield quad.triple
