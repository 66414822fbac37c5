"""The store layer: the only code that knows pyoxigraph's store or a remote SPARQL endpoint."""

from __future__ import annotations

from pathlib import Path

from expgraph.store.base import GraphInfo, Store, StoreBusyError, StoreError
from expgraph.store.embedded import EmbeddedStore
from expgraph.store.scope import EVERYTHING, GraphScope
from expgraph.store.versions import NO_HISTORY, Retention, VersionInfo


def open_store(location: str | Path | None = None, *, endpoint: str | None = None,
               timeout: float | None = None, retention: Retention = NO_HISTORY) -> Store:
    """An embedded store at ``location`` (in memory when None and no endpoint), or a remote SPARQL store that
    must connect and first answer within ``timeout`` seconds (default: the remote store's own); either keeps
    previous versions of its graphs as ``retention`` says."""
    if endpoint:
        from expgraph.store.remote import RemoteStore

        store: Store = RemoteStore(endpoint) if timeout is None else RemoteStore(endpoint, connect_timeout=timeout)
    else:
        store = EmbeddedStore(location)
    store.retention = retention
    return store


__all__ = ["EVERYTHING", "EmbeddedStore", "GraphInfo", "GraphScope", "Retention", "Store", "StoreBusyError",
           "StoreError", "VersionInfo", "open_store"]
