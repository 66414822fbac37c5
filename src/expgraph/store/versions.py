"""Previous versions of a logical graph, kept for a while after a newer one replaced them (the retention policy).

When a write swaps a new version in, the version it replaces is *retained* instead of dropped: the registry entry
of the old version gets the time it was superseded, its digest, triple count and the time it became active, in
the swap's own transaction. Retained versions are never queried as part of the catalog (queries read the active
versions only); :meth:`Store.versions <expgraph.store.base.Store.versions>` lists them and
:meth:`Store.query_versions <expgraph.store.base.Store.query_versions>` reads them. After each swap the graph's
retained versions beyond :attr:`Retention.keep` or superseded more than :attr:`Retention.days` ago are released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyoxigraph import Literal, NamedNode, QuerySolution, QuerySolutions, Triple

from expgraph.namespaces import STORE, XSD
from expgraph.store.terms import REGISTRY, QueryResult, StoreError, Term, sparql_term

if TYPE_CHECKING:
    from expgraph.store.scope import GraphInfo


@dataclass(frozen=True)
class Retention:
    """How many previous versions of each graph are kept (0: none, the old version is dropped at once) and for how
    many days after they were superseded (0: no age limit)."""

    keep: int = 0
    days: float = 0.0

    def __post_init__(self) -> None:
        if self.keep < 0 or self.days < 0:
            raise ValueError(f"history_keep and history_days must not be negative (got {self.keep}, {self.days})")

    def released(self, retained: list[VersionInfo], now: datetime | None = None) -> list[VersionInfo]:
        """Which of a graph's retained versions go: beyond the newest ``keep``, or superseded too long ago."""
        ordered = sorted(retained, key=lambda v: v.superseded or "", reverse=True)
        cutoff = None
        if self.days:
            cutoff = (now or datetime.now(UTC)).timestamp() - self.days * 86400
        return [version for position, version in enumerate(ordered)
                if position >= self.keep or (cutoff is not None and _seconds(version.superseded) < cutoff)]


#: The store's own default: no history (a library user's in-memory store stays as small as before); the commands
#: use the ``history_keep`` and ``history_days`` settings.
NO_HISTORY = Retention()


@dataclass(frozen=True)
class VersionInfo:
    """One version of a logical graph: the active one (``superseded`` None) or a retained previous one."""

    name: NamedNode
    version: NamedNode
    digest: str
    triples: int
    #: When it became the active version.
    activated: str
    #: When a newer version replaced it; None for the active version.
    superseded: str | None = None
    #: The audit activities that wrote it (the import's record, the server's audit entry), when recorded.
    activities: tuple[NamedNode, ...] = ()

    @property
    def active(self) -> bool:
        return self.superseded is None


def _seconds(stamp: str | None) -> float:
    try:
        return datetime.fromisoformat((stamp or "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


_DESCRIBED = (f"<{STORE.contentDigest.value}> ?digest ; <{STORE.tripleCount.value}> ?triples ; "
              f"<{STORE.modified.value}> ?activated")

#: Every active or kept version (over the registry).
KNOWN_VERSIONS = f"""SELECT ?version WHERE {{ {{ ?name <{STORE.activeVersion.value}> ?version }}
    UNION {{ ?version <{STORE.superseded.value}> ?when }} }}"""


def versions_query(graph: str) -> str:
    """The registry query for a graph's active and kept versions (``graph`` written as a SPARQL term)."""
    return f"""SELECT ?version ?digest ?triples ?activated ?superseded ?activity WHERE {{
        {{ {graph} <{STORE.activeVersion.value}> ?version ; {_DESCRIBED} }}
        UNION {{ ?version <{STORE.versionOf.value}> {graph} ; <{STORE.superseded.value}> ?superseded ; {_DESCRIBED} }}
        OPTIONAL {{ ?version <{STORE.writtenBy.value}> ?activity }} }}"""


def read_versions(name: NamedNode, rows: Iterable[QuerySolution]) -> list[VersionInfo]:
    """The rows of :func:`versions_query` as versions, newest first (the active one first)."""
    found: dict[str, VersionInfo] = {}
    for row in rows:
        version = row["version"]
        known = found.get(version.value)
        activities = (known.activities if known else ()) + ((row["activity"],) if row["activity"] else ())
        found[version.value] = VersionInfo(
            name, version, row["digest"].value, int(row["triples"].value), row["activated"].value,
            row["superseded"].value if row["superseded"] is not None else None, activities)
    return sorted(found.values(), key=lambda v: (v.active, v.superseded or "", v.activated), reverse=True)


def kept_entry(info: GraphInfo, now: Literal) -> list[Triple]:
    """The registry statements of a version a swap supersedes and the policy keeps: as it was when active."""
    return [Triple(info.version, STORE.superseded, now),
            Triple(info.version, STORE.contentDigest, Literal(info.digest)),
            Triple(info.version, STORE.tripleCount, Literal(str(info.triples), datatype=XSD.integer)),
            Triple(info.version, STORE.modified, Literal(info.modified, datatype=XSD.dateTime))]


class KeptVersions:
    """The part of :class:`~expgraph.store.base.Store` that lists, reads and releases kept versions, built on its
    primitives; the hooks (``_keep``, ``_superseded``, ``_drop_kept``, ``_query_kept``) say where a backend keeps
    them (by default where they were written)."""

    def versions(self, name: NamedNode) -> list[VersionInfo]:
        """The versions of a logical graph the store holds, newest first: the active one, then the previous ones
        the retention policy keeps. Empty for a graph the catalog does not hold."""
        rows = self._query(versions_query(sparql_term(name)), default_graphs=[REGISTRY], named_graphs=[],
                           bindings={})
        assert isinstance(rows, QuerySolutions)
        return read_versions(name, rows)

    def query_versions(self, sparql: str, versions: Iterable[NamedNode], **bindings: Term) -> QueryResult:
        """A query whose named graphs are these versions (active or kept: see :meth:`versions`) and whose default
        graph is empty, to compare versions with ``GRAPH`` patterns. Anything but a version the registry lists is
        refused, so this never reads the registry or a graph being written."""
        wanted = list(versions)
        known = self._known_versions()
        unknown = [v.value for v in wanted if v.value not in known]
        if unknown:
            raise StoreError(f"<{unknown[0]}> is not a version of a graph this store holds")
        return self._query_kept(sparql, wanted, bindings)

    def _keep(self, version: NamedNode) -> None:
        """Called before the swap that supersedes the active ``version`` when it is to be kept: a backend whose
        inactive graphs would slow its queries copies it elsewhere here (by default it stays where it is)."""
        return None

    def _superseded(self, version: NamedNode) -> None:
        """Called after the swap that superseded a kept ``version`` (a backend that copied it drops it here)."""
        return None

    def _drop_kept(self, version: NamedNode) -> None:
        """Remove a kept previous version's content."""
        self._drop_graph(version)

    def _query_kept(self, sparql: str, versions: list[NamedNode], bindings: Mapping[str, Term]) -> QueryResult:
        """A query over these versions (active or kept) as named graphs, with an empty default graph."""
        return self._query(sparql, default_graphs=[], named_graphs=versions, bindings=bindings)

    def _known_versions(self) -> set[str]:
        """Every active or kept version's IRI."""
        rows = self._query(KNOWN_VERSIONS, default_graphs=[REGISTRY], named_graphs=[], bindings={})
        assert isinstance(rows, QuerySolutions)
        return {row["version"].value for row in rows}

    def _prune(self, name: NamedNode) -> list[NamedNode]:
        """Release the previous versions of ``name`` the retention policy no longer keeps; returns them."""
        released = self.retention.released([v for v in self.versions(name) if not v.active])
        for version in released:
            self._release(version.version)
        return [version.version for version in released]

    def _release(self, version: NamedNode) -> None:
        """Drop a kept version and forget it."""
        self._drop_kept(version)
        self._forget_version(version)

    if TYPE_CHECKING:  # provided by Store
        retention: Retention
        def _query(self, sparql: str, *, default_graphs: list[NamedNode], named_graphs: list[NamedNode],
                   bindings: Mapping[str, Term]) -> QueryResult: ...
        def _drop_graph(self, graph: NamedNode) -> None: ...
        def _forget_version(self, version: NamedNode) -> None: ...
