"""The store as one caller may read it: a read-only view whose every read carries that caller's scope.

Code that builds pages for a caller is handed a :class:`ScopedView` instead of the store, so it cannot forget the
scope: the view's :meth:`~ScopedView.query` (and ``select``, ``triples``, ``active_graphs``, ``scoped``,
``version_names`` built on it) see only the graphs the scope leaves visible, and its :meth:`~ScopedView.generation`
names the scope too, so every cache kept by generation keeps one caller's answers apart from another's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pyoxigraph import NamedNode, Triple

from expgraph.store.base import QueryResult, Store, StoreError, Term
from expgraph.store.scope import EVERYTHING, GraphInfo, GraphScope


class ScopedView(Store):
    """``store`` as read within ``scope``: reads narrowed to the visible graphs, writes refused. The view owns
    nothing: closing it leaves the store open."""

    def __init__(self, store: Store, scope: GraphScope) -> None:
        self.store, self.scope = store, scope
        self.native_substitutions = store.native_substitutions
        self.exact_casts = store.exact_casts

    @property
    def location(self) -> str:
        return self.store.location

    def query(self, sparql: str, *, bindings: Mapping[str, Term] | None = None,
              graphs: Iterable[NamedNode] | None = None, named_graphs: Iterable[NamedNode] | None = None,
              scope: GraphScope = EVERYTHING) -> QueryResult:
        return self.store.query(sparql, bindings=bindings, graphs=graphs, named_graphs=named_graphs,
                                scope=self.scope.hiding(scope.hidden))

    def active_graphs(self) -> dict[str, GraphInfo]:
        return self.store.visible_graphs(self.scope)

    def visible_graphs(self, scope: GraphScope = EVERYTHING) -> dict[str, GraphInfo]:
        return self.store.visible_graphs(self.scope.hiding(scope.hidden))

    def generation(self) -> tuple[str, ...]:
        """The store's generation and what this view hides: a cache keyed by it never answers another scope."""
        return (*self.store.generation(), *(f"hidden {name}" for name in sorted(self.scope.hidden)))

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        # reached only through triples(), which looks the graph up in this view's active_graphs()
        return self.store._triples(graph)

    def close(self) -> None:
        """Nothing to release: the store belongs to whoever made the view."""

    def _query(self, sparql: str, *, default_graphs: list[NamedNode], named_graphs: list[NamedNode],
               bindings: Mapping[str, Term]) -> QueryResult:
        raise StoreError("a scoped view reads through query() only")

    def _update(self, sparql: str) -> None:
        raise StoreError("a scoped view is read-only")

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        raise StoreError("a scoped view is read-only")

    def _drop_graph(self, graph: NamedNode) -> None:
        raise StoreError("a scoped view is read-only")
