"""Writes that are not imports: retire and restore a thing (an IRI; curators), purge a graph and back up the store
(admins); and restoring a backup into a new store directory.

A retired thing keeps its IRI and its statements; the graph of retirements (``graphs/retired``) states
``<thing> eg:retired <activity>``, the audit entry of the retirement, which says why, by whom and when. Restore
removes that statement (its own audit entry says who restored it). Both are one stage-and-swap of the
retirements graph with the audit entry in the same transaction, the same way the server applies an upload, here
or in the server (whichever holds the store).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from pyoxigraph import NamedNode, QueryBoolean, Triple

from expgraph.namespaces import EG, GRAPHS
from expgraph.store import EmbeddedStore, Store, StoreError
from expgraph.store.base import sparql_term
from expgraph.team import audit
from expgraph.team.discovery import FILE_NAME as DISCOVERY_FILE
from expgraph.team.tokens import FILE_NAME as TOKENS_FILE

RETIRED = NamedNode(GRAPHS + "retired")


class NotFound(StoreError):
    """The thing to retire or restore is not in the catalog (or not retired)."""


def content_digest(triples: list[Triple]) -> str:
    """The digest the store computes over this content (so the audit entry names the version it becomes)."""
    content = hashlib.sha256()
    for triple in triples:
        content.update(f"{triple}\n".encode())
    return content.hexdigest()


def _known(visible: Store, thing: NamedNode) -> bool:
    known = visible.query(f"ASK {{ {sparql_term(thing)} ?p ?o }}")
    return isinstance(known, QueryBoolean) and bool(known)


def retire(store: Store, thing: NamedNode, reason: str, *, agent: str, client: str, base: str,
           visible: Store | None = None) -> bool:
    """Mark ``thing`` retired; False when it is retired already. Call under the store's write lock. ``visible`` is
    the store as the caller may read it (a private project's graphs hidden): what it cannot see is not found, so
    retiring is no way to learn whether a thing exists in a project the caller may not read."""
    if not reason.strip():
        raise ValueError("give a reason for retiring it (--reason TEXT)")
    if not _known(visible or store, thing):
        raise NotFound(f"<{thing.value}> is not in the catalog")
    current = list(store.triples(RETIRED))
    if any(t.subject == thing and t.predicate == EG.retired for t in current):
        return False
    before = store.active_graphs().get(RETIRED.value)
    index, _ = audit.chain_head(store)
    activity = audit.entry_node(base, index)
    new = [*current, Triple(thing, EG.retired, activity)]
    change = audit.Change("retire", RETIRED, before, content_digest(new), len(new), reason=reason, subject=thing)
    trail = audit.entry(store, change, agent=agent, client=client, base=base)
    return store.replace_graph(RETIRED, new, audit=trail)


def restore(store: Store, thing: NamedNode, *, agent: str, client: str, base: str,
            visible: Store | None = None) -> bool:
    """Undo a retirement; NotFound when ``thing`` is not retired, or not in ``visible`` (see :func:`retire`). Call
    under the store's write lock."""
    current = list(store.triples(RETIRED))
    kept = [t for t in current if not (t.subject == thing and t.predicate == EG.retired)]
    if len(kept) == len(current) or (visible is not None and not _known(visible, thing)):
        raise NotFound(f"<{thing.value}> is not retired")
    before = store.active_graphs().get(RETIRED.value)
    change = audit.Change("restore", RETIRED, before, content_digest(kept), len(kept), subject=thing)
    trail = audit.entry(store, change, agent=agent, client=client, base=base)
    return store.replace_graph(RETIRED, kept, audit=trail)


def purge(store: Store, graph: NamedNode, reason: str, *, agent: str, client: str, base: str) -> None:
    """Remove a graph from the catalog for good (admins only: retiring is the usual way). Its content is first
    replaced by nothing, with the audit entry in that swap's transaction, then the empty graph is forgotten: a crash
    between the two leaves an empty graph, never a removal without its entry. Call under the store's write lock."""
    if not reason.strip():
        raise ValueError("give a reason for purging it (--reason TEXT)")
    before = store.active_graphs().get(graph.value)
    if before is None:
        raise NotFound(f"<{graph.value}> is not a graph of the catalog")
    change = audit.Change("purge", graph, before, content_digest([]), 0, reason=reason)
    store.replace_graph(graph, [], audit=audit.entry(store, change, agent=agent, client=client, base=base))
    store.drop(graph)


def backup(store: Store, target: Path) -> None:
    """pyoxigraph's online backup of an on-disk store into ``target`` (a new directory; hard links where the file
    system allows), with its kept previous versions and the token table beside it; the backup opens as a store of
    its own (``--store TARGET``), or is restored into a new one (:func:`restore_backup`)."""
    path = getattr(store, "path", None)
    if path is None or not isinstance(store, EmbeddedStore):
        raise StoreError("only an embedded on-disk store can be backed up this way")
    if target.exists():
        raise StoreError(f"{target} exists already: give a new directory")
    store.backup(target)
    tokens = Path(path) / TOKENS_FILE
    if tokens.is_file():
        source = sqlite3.connect(tokens)
        copy = sqlite3.connect(target / TOKENS_FILE)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()


def restore_backup(backup_dir: Path, target: Path) -> int:
    """Copy a backup (see :func:`backup`) into ``target``, a new or empty directory, and open it to check it is a
    whole store; returns its number of graphs. Never writes over a directory holding anything: restoring is for a
    new store (stop the server, then serve the restored directory, or move it into place)."""
    if not EmbeddedStore.exists(backup_dir):
        raise StoreError(f"{backup_dir} is not a backup of an expgraph store (no store files in it)")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StoreError(f"{target} is not empty: restore into a new directory (a catalog is never overwritten)")
    try:
        shutil.copytree(backup_dir, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(DISCOVERY_FILE))
        with EmbeddedStore(target) as restored:
            return len(restored.active_graphs())
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def recover(store: Store) -> list[str]:
    """What a server does as it starts on an on-disk store it alone writes: remove what writes cut short by a crash
    left behind (staging versions, copies of previous versions, spooled uploads). Returns what went, for the log."""
    if not isinstance(store, EmbeddedStore) or store.path is None:
        return []
    gone = [version.value for version in store.sweep()]
    spool = store.path / "uploads"
    for leftover in spool.glob("expgraph-upload-*") if spool.is_dir() else ():
        leftover.unlink(missing_ok=True)
        gone.append(str(leftover))
    return gone
