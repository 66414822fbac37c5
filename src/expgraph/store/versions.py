"""Previous versions of a logical graph, kept for a while after a newer one replaced them (the retention policy).

When a write swaps a new version in, the version it replaces is *retained* instead of dropped: the registry entry
of the old version gets the time it was superseded, its digest, triple count and the time it became active, in
the swap's own transaction. Retained versions are never queried as part of the catalog (queries read the active
versions only); :meth:`Store.versions <expgraph.store.base.Store.versions>` lists them and
:meth:`Store.query_versions <expgraph.store.base.Store.query_versions>` reads them. After each swap the graph's
retained versions beyond :attr:`Retention.keep` or superseded more than :attr:`Retention.days` ago are released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyoxigraph import NamedNode


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
