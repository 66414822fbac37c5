"""Recent answers of the query runner, kept while the store's content stays the same."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from expgraph.sparql.execute import MB, QueryJob, QueryOutcome


class ResultCache:
    """Recent successful outcomes, valid while the store's content (its generation) stays the same.

    Saved queries over a large catalog take seconds (aggregates over every run); the catalog changes only when
    something is imported, so the second ask of the same query is answered from here. Keys are digests, so a
    long query text is not kept; the budget counts every entry's body and message plus a fixed overhead.
    """

    OVERHEAD = 512  # bytes per entry for the key, the outcome object and the dictionary slot

    def __init__(self, max_bytes: int = 64 * MB) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, QueryOutcome] = OrderedDict()
        self._bytes = 0
        self._generation: bytes | None = None
        self._lock = threading.Lock()

    @staticmethod
    def key(job: QueryJob, current: tuple[str, ...]) -> bytes:
        """A digest of the store's generation and everything about the job that changes its answer."""
        bindings = sorted((name, str(term)) for name, term in job.bindings.items())
        parts = (current, job.sparql, job.accept, bindings, job.default_graphs, job.named_graphs, job.untrusted,
                 job.base, job.max_rows, job.max_bytes, sorted(job.scope.hidden))
        return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).digest()

    @staticmethod
    def _size(outcome: QueryOutcome) -> int:
        return len(outcome.body) + len(outcome.message) + ResultCache.OVERHEAD

    def get(self, key: bytes) -> QueryOutcome | None:
        with self._lock:
            outcome = self._items.get(key)
            if outcome is not None:
                self._items.move_to_end(key)
            return outcome

    def put(self, key: bytes, generation_: tuple[str, ...], outcome: QueryOutcome) -> None:
        size = self._size(outcome)
        if outcome.status != 200 or size > self.max_bytes // 8:
            return
        marker = hashlib.sha256(repr(generation_).encode()).digest()
        with self._lock:
            if marker != self._generation:  # the store changed: everything remembered is stale
                self._items.clear()
                self._bytes, self._generation = 0, marker
            if key in self._items:
                self._bytes -= self._size(self._items.pop(key))
            self._items[key] = outcome
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= self._size(dropped)

    @property
    def bytes(self) -> int:
        return self._bytes
