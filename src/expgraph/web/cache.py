"""The catalog's caches, each kept by the store's generation (:meth:`~expgraph.store.base.Store.generation`).

An import or a load changes the generation, so nothing cached is ever read stale: the next request makes a fresh
entry. Both caches belong to one app's :class:`~expgraph.web.state.WebState`, so they serve one store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from expgraph.sparql.template import Slot, SparqlTemplate
from expgraph.store import Store
from expgraph.store.base import Term
from expgraph.web.reading import Bound, bind
from expgraph.web.reading import rows as read_rows

_CACHE_SIZE = 256

Rows = list[dict[str, Term]]


class QueryCache:
    """Rows of heavy aggregate queries, by generation and bound query text (least recently used dropped)."""

    def __init__(self, store: Store, size: int = _CACHE_SIZE) -> None:
        self.store, self.size = store, size
        self._entries: OrderedDict[tuple, Rows] = OrderedDict()
        self._lock = threading.Lock()  # pages are built on several threads: an eviction must not race a read

    def select(self, template: SparqlTemplate, *, slots: Mapping[str, Slot] | None = None,
               **terms: Bound) -> Rows:
        """:func:`~expgraph.web.reading.select`'s rows, read once per generation and bound query text."""
        text = bind(template, slots, **terms)
        key = (self.store.generation(), text)
        with self._lock:
            rows = self._entries.get(key)
            if rows is not None:
                self._entries.move_to_end(key)
                return rows
        rows = read_rows(self.store, text)
        with self._lock:
            self._entries[key] = rows
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return rows


class Spec(Protocol):
    """What an index is built for: a name that tells it apart from the others in its cache."""

    @property
    def name(self) -> str: ...


SpecT = TypeVar("SpecT", bound=Spec)
IndexT = TypeVar("IndexT")


class IndexCache(Generic[SpecT, IndexT]):
    """One index per spec and store generation, made by ``make(store, spec)``; it is replaced as soon as the
    generation changes (an import, a load). Making one is cheap (the indexes fill themselves on use), and
    serialised so concurrent requests share it."""

    def __init__(self, store: Store, make: Callable[[Store, SpecT], IndexT]) -> None:
        self.store, self._make = store, make
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[tuple[str, ...], IndexT]] = {}

    def get(self, spec: SpecT) -> IndexT:
        generation = self.store.generation()
        with self._lock:
            cached = self._indexes.get(spec.name)
            if cached is None or cached[0] != generation:
                cached = (generation, self._make(self.store, spec))
                self._indexes[spec.name] = cached
            return cached[1]

    def clear(self) -> None:
        """Forget every index (the next request makes them afresh)."""
        with self._lock:
            self._indexes.clear()


K = TypeVar("K")
V = TypeVar("V")


class KeptByGeneration(Generic[K, V]):
    """Values by key for the store's current generation (charts, dashboards, the editor's terms): the first request
    after an import starts afresh, and the least recently used entry goes when ``size`` are kept.

    Why per app and not a module global: two apps (tests, or two stores served by one process) must never answer
    from each other's entries, even when their generations happen to be equal."""

    def __init__(self, store: Store, size: int) -> None:
        self.store, self.size = store, size
        self._generation: tuple[str, ...] | None = None
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()  # pages are built on several threads

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, or ``make()``'s, kept."""
        return self.many([key], lambda missing: {key: make()})[key]

    def many(self, keys: list[K], make: Callable[[list[K]], Mapping[K, V]]) -> dict[K, V]:
        """The values of ``keys``: those kept, and ``make(missing)``'s for the others (read outside the lock, so a
        slow miss does not hold up other pages), kept too."""
        generation = self.store.generation()
        found: dict[K, V] = {}
        with self._lock:
            if generation != self._generation:
                self._generation, self._entries = generation, OrderedDict()
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[key] = self._entries[key]
        missing = [key for key in keys if key not in found]
        if missing:
            made = make(missing)
            with self._lock:
                for key in missing:
                    found[key] = made[key]
                    if generation == self._generation:  # not if an import came in meanwhile
                        self._entries[key] = made[key]
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return {key: found[key] for key in keys}

    def __len__(self) -> int:
        return len(self._entries)
