"""The store interface: a handful of primitives per backend, with staging and swapping built on them once.

Each logical graph (one per import source, plus the ontology and vocabularies) is written into a fresh physical
graph with the backend's fast, non-transactional bulk write, then made active in one small transaction that
rewrites its entry in the registry graph. Queries see only active graphs (passed as the query's default and named
graphs), so a crash mid-import leaves the previous version in place. Every version is listed in the registry before
its first triple is written, so leftovers of a crash are known to be ours and are swept by a later write.
"""

from __future__ import annotations

import contextlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import BinaryIO, Protocol

import pyoxigraph
from pyoxigraph import (
    Literal,
    NamedNode,
    Quad,
    QuerySolutions,
    RdfFormat,
    Triple,
)

from expgraph.formats import DATASET, GRAPH, by_name, formats
from expgraph.namespaces import PREFIXES, PROV, RDF, STORE, XSD
from expgraph.store.scope import EVERYTHING, GraphInfo, GraphScope, logical_to_versions, physical_graphs
from expgraph.store.terms import (
    AUDIT,
    REGISTRY,
    ConcurrentWriteError,
    QueryResult,
    StoreBusyError,
    StoreError,
    Term,
    sparql_term,
)
from expgraph.store.text import CHUNK, ChunkReader, ContentDigest
from expgraph.store.versions import NO_HISTORY, KeptVersions, Retention, VersionInfo, kept_entry

__all__ = ["AUDIT", "CHUNK", "REGISTRY", "STORE", "ChunkReader", "ConcurrentWriteError", "ContentDigest",
           "GraphScope", "QueryResult", "Retention", "Snapshot", "Store", "StoreBusyError", "StoreError", "Term",
           "VersionInfo", "logical_to_versions", "sparql_term"]

_VERSION_MARK = "/version/"


class Snapshot(Protocol):
    """What another process needs to open a read-only view of a store's content (see :meth:`Store.snapshot`)."""

    def open(self) -> Store: ...


class Store(KeptVersions, ABC):
    """A quad store holding expgraph's graphs. Subclasses implement the primitives marked abstract."""

    #: Whether SPARQL ``substitutions`` are supported natively (else a ``VALUES`` clause binds parameters).
    native_substitutions = True
    #: Seconds after which another writer's unfinished version counts as a crash leftover (see :meth:`sweep`).
    stale_after = 6 * 3600.0
    #: Whether the registry may be cached between writes: only when this process is the store's sole writer.
    caches_registry = False
    #: Whether :meth:`snapshot` gives views other processes can open (the query runner then uses worker processes).
    shares_snapshots = False
    #: Whether a cast to a datatype gives back the very term of a well-formed literal of it, and STR() the very
    #: term of an xsd:string literal, as pyoxigraph's do (validation then tests sh:datatype that way; Virtuoso's
    #: keep "x"^^xsd:string apart from "x" and rewrite cast xsd:dateTime values).
    exact_casts = False
    #: Whether :meth:`patch_statements` may change a graph in place (a served store is written through its API).
    patchable = True
    _registry_cache: dict[str, GraphInfo] | None = None
    #: Counts the writes that made the cache stale: a registry read while one happened is not kept.
    _registry_epoch = 0
    #: How many previous versions of each graph are kept, and how long (see :mod:`expgraph.store.versions`).
    retention: Retention = NO_HISTORY

    # -- primitives ---------------------------------------------------------------------------------------------

    @abstractmethod
    def _query(
        self,
        sparql: str,
        *,
        default_graphs: list[NamedNode],
        named_graphs: list[NamedNode],
        bindings: Mapping[str, Term],
    ) -> QueryResult:
        """Run a query over exactly these graphs."""

    @abstractmethod
    def _update(self, sparql: str) -> None:
        """Run a SPARQL update in one transaction."""

    @abstractmethod
    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        """Bulk-write triples into a (fresh) physical graph; need not be transactional."""

    def _write_text(self, graph: NamedNode, chunks: Iterable[bytes], *, checked: bool = False) -> None:
        """Bulk-write N-Triples text into a (fresh) physical graph; by default parsed here and passed on as triples,
        backends that load text natively override it (and may trust ``checked`` text, see
        :meth:`replace_statements`)."""
        parsed = pyoxigraph.parse(ChunkReader(chunks), RdfFormat.N_TRIPLES)
        self._write_graph(graph, (quad.triple for quad in parsed))

    @abstractmethod
    def _drop_graph(self, graph: NamedNode) -> None:
        """Remove a physical graph and all its triples."""

    @abstractmethod
    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        """Every triple of one physical graph."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend (files, connections)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store lives, for messages."""

    # -- public interface ---------------------------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        bindings: Mapping[str, Term] | None = None,
        graphs: Iterable[NamedNode] | None = None,
        named_graphs: Iterable[NamedNode] | None = None,
        scope: GraphScope = EVERYTHING,
    ) -> QueryResult:
        """Run a SPARQL query, with variables pre-bound, over the active graphs ``scope`` lets the caller read.

        ``graphs`` (logical names or active versions) narrows the default graph to those, and the named graphs too
        unless ``named_graphs`` names others. Every read goes through here: this is where a query is scoped."""
        visible = self.active_graphs() if scope.unrestricted else self.visible_graphs(scope)
        everything = [info.version for info in visible.values()]
        if graphs is None and named_graphs is None:
            if scope.unrestricted:  # the backend may read all active graphs faster than by listing them
                return self._query_active(sparql, everything, bindings or {})
            return self._query(sparql, default_graphs=everything, named_graphs=everything, bindings=bindings or {})
        restricted = not scope.unrestricted
        default = everything if graphs is None else physical_graphs(graphs, visible, restricted=restricted)
        named = default if named_graphs is None else physical_graphs(named_graphs, visible, restricted=restricted)
        return self._query(sparql, default_graphs=default, named_graphs=named, bindings=bindings or {})

    def select(self, sparql: str, *, graphs: Iterable[NamedNode] | None = None, scope: GraphScope = EVERYTHING,
               **bindings: Term) -> list[dict[str, Term]]:
        """A SELECT query's rows as plain dicts (unbound variables left out), over the graphs :meth:`query` would
        read; for small results. The one row reader."""
        result = self.query(sparql, bindings=bindings, graphs=graphs, scope=scope)
        if not isinstance(result, QuerySolutions):
            raise StoreError("select() needs a SELECT query")
        names = [variable.value for variable in result.variables]
        # zip over the row rather than row[name]: pyoxigraph's lookup by name is slower per value
        return [{name: term for name, term in zip(names, row, strict=True) if term is not None} for row in result]

    def visible_graphs(self, scope: GraphScope = EVERYTHING) -> dict[str, GraphInfo]:
        """The active logical graphs ``scope`` lets a caller read, by IRI: what it may query, name and list."""
        return scope.visible(self.active_graphs())

    def scoped(self, sparql: str, scope: GraphScope = EVERYTHING) -> str:
        """The query with every logical graph name (as the service description lists them) replaced by its active
        version's IRI, so that ``GRAPH <name>``, ``VALUES ?g { <name> }`` and ``FILTER(?g = <name>)`` find the
        graph; :meth:`version_names` maps the versions in the results back. Logical names never occur in the data,
        so this changes nothing else. Used where people write queries (``/sparql``, ``expgraph sparql``)."""
        return logical_to_versions(sparql, {name: info.version for name, info in self.visible_graphs(scope).items()})

    def generation(self) -> tuple[str, ...]:
        """What identifies the store's current content (each active version, its digest and modification time):
        the one key every cache of query answers is kept by, so that an import or a load makes them all stale."""
        return tuple(sorted(f"{info.version.value} {info.digest} {info.modified}"
                            for info in self.active_graphs().values()))

    def version_names(self, scope: GraphScope = EVERYTHING) -> dict[str, NamedNode]:
        """Each active version's IRI and the logical graph name it stands for, to show results under stable names."""
        return {info.version.value: info.name for info in self.visible_graphs(scope).values()}

    def snapshot(self, *, copy: bool = True) -> Snapshot | None:
        """A read-only view of the current content that another process can open (the query workers do), or None
        when this store has none (a remote store is read where it lives). ``copy=False`` asks for a view that
        costs nothing to make, so an in-memory store, which can only be copied, gives None then."""
        return None

    def _query_active(self, sparql: str, physical: list[NamedNode], bindings: Mapping[str, Term]) -> QueryResult:
        """A query over every active graph; backends that can do this faster than by listing them override it."""
        return self._query(sparql, default_graphs=physical, named_graphs=physical, bindings=bindings)

    def active_graphs(self) -> dict[str, GraphInfo]:
        """The logical graphs queries see, by IRI."""
        if self._registry_cache is not None:
            return dict(self._registry_cache)
        epoch = self._registry_epoch
        rows = self._query(
            f"""SELECT ?name ?version ?digest ?triples ?modified ?source WHERE {{
                ?name <{STORE.activeVersion.value}> ?version ;
                      <{STORE.contentDigest.value}> ?digest ;
                      <{STORE.tripleCount.value}> ?triples ;
                      <{STORE.modified.value}> ?modified .
                OPTIONAL {{ ?name <{STORE.sourceDigest.value}> ?source }} }}""",
            default_graphs=[REGISTRY],
            named_graphs=[],
            bindings={},
        )
        assert isinstance(rows, QuerySolutions)
        infos = {}
        for row in rows:
            info = GraphInfo(row["name"], row["version"], row["digest"].value, int(row["triples"].value),
                             row["modified"].value, row["source"].value if row["source"] is not None else None)
            infos[info.name.value] = info
        if self.caches_registry and epoch == self._registry_epoch:  # else a write came in meanwhile: maybe stale
            self._registry_cache = dict(infos)
        return infos

    def _forget_registry(self) -> None:
        """Called by a caching backend on every write, before and after it."""
        self._registry_epoch += 1
        self._registry_cache = None

    def replace_graph(
        self,
        name: NamedNode,
        triples: Iterable[Triple],
        *,
        digest: str | None = None,
        audit: Iterable[Triple] = (),
    ) -> bool:
        """Atomically replace a logical graph; return False (and change nothing) when its content is unchanged.

        ``digest`` identifies the content when the caller knows it (a file hash), so unchanged content is not
        even read; otherwise the digest is computed over the triples as they stream into the staging graph.
        ``audit`` triples are appended to the import audit graph in the same transaction as the swap.
        """
        return self._replace(name, lambda staging, counter: self._write_graph(staging, counter.feed(triples)),
                             digest, audit)

    def replace_statements(
        self,
        name: NamedNode,
        statements: Iterable[str],
        *,
        audit: Iterable[Triple] = (),
        checked: bool = False,
        source_digest: str | None = None,
    ) -> bool:
        """:meth:`replace_graph` for content written as N-Triples statements (each as ``str(Triple)`` prints it,
        without the final `` .``), as the mapper writes an import: the embedded store loads the text without
        building a term object per triple. The same content has the same digest either way.

        ``checked`` says that the text names no blank node and that every IRI in it was built from terms pyoxigraph
        has already checked (as the mapper writes an import), so the embedded store loads it without checking IRIs
        again and without looking for blank nodes, both a large share of its load time. Text that is not valid may
        then be stored as it is; leave it False for text from elsewhere.

        ``source_digest`` identifies what the content was made from (an import's source fingerprint): it is kept
        in the registry beside the content digest, also when the content turns out unchanged, so that the next
        import of an unchanged source can be recognised before it is read (``GraphInfo.source_digest``).
        """
        return self._replace(
            name,
            lambda staging, counter: self._write_text(staging, counter.chunks(statements), checked=checked),
            None,
            audit,
            source_digest,
        )

    def _replace(
        self,
        name: NamedNode,
        write: Callable[[NamedNode, ContentDigest], None],
        digest: str | None,
        audit: Iterable[Triple],
        source_digest: str | None = None,
    ) -> bool:
        """Stage, digest, swap: the body of :meth:`replace_graph`, whatever form the content comes in."""
        current = self.active_graphs().get(name.value)
        if digest is not None and current is not None and current.digest == digest:
            return False
        self.sweep(name)
        staging = NamedNode(f"{name.value}{_VERSION_MARK}{uuid.uuid4().hex[:12]}")
        # Registered before the first triple is written, so that a crash leaves a leftover sweep() knows is ours.
        self._update(f"INSERT DATA {{ GRAPH {sparql_term(REGISTRY)} {{ {sparql_term(staging)} "
                     f"{sparql_term(STORE.versionOf)} {sparql_term(name)} ; "
                     f"{sparql_term(STORE.started)} {sparql_term(_now())} }} }}")
        counter = ContentDigest()
        keep = current is not None and self.retention.keep > 0
        try:
            write(staging, counter)
            content_digest = digest or counter.hexdigest()
            unchanged = current is not None and current.digest == content_digest
            if not unchanged:
                if keep:
                    self._keep(current.version)
                self._swap(name, staging, content_digest, counter.count, list(audit), source_digest,
                           retained=current if keep else None)
        except BaseException:
            with contextlib.suppress(Exception):  # the original error matters more; sweep() retries later
                self._discard(staging)
            raise
        if unchanged:
            self._discard(staging)
            if current.source_digest != source_digest:  # same content from a touched source: remember it
                self._set_source_digest(name, source_digest)
            return False
        if current is not None:
            if keep:
                self._superseded(current.version)
                self._prune(name)
            else:
                self._discard(current.version)
        return True

    def append_audit(self, audit: Iterable[Triple]) -> None:
        """Append to the audit trail alone, in one transaction: the record of a write that changes no graph of the
        catalog (a token created or revoked)."""
        registered = ""
        if AUDIT.value not in self.active_graphs():
            registered = f"GRAPH {sparql_term(REGISTRY)} {{ {_triples_text(_entry(AUDIT, AUDIT, 'appendable', 0))} }}"
        self._update(f"INSERT DATA {{ GRAPH {sparql_term(AUDIT)} {{ {_triples_text(audit)} }} {registered} }}")

    def patch_statements(self, name: NamedNode, removed: Iterable[str], added: Iterable[str], *, digest: str,
                         count: int, source_digest: str | None = None) -> bool:
        """Change an active graph in place: remove and add these statements (as ``str(Triple)`` prints them, no
        blank nodes) and record its new content digest, size and source digest, in one transaction; False (and
        nothing changed) when the graph does not exist or this store is written otherwise (a served store).

        For a large derived graph that changes a little (the quality graph after an import): replacing it drops
        the whole previous version, which pyoxigraph does one quad at a time. The caller vouches that ``digest``
        and ``count`` describe the patched content, as :meth:`replace_statements` would have computed them."""
        current = self.active_graphs().get(name.value)
        if current is None or not self.patchable:
            return False
        version, registry, graph = sparql_term(current.version), sparql_term(REGISTRY), sparql_term(name)
        gone, new = " .\n".join(removed), " .\n".join(added)
        entry = _entry(name, current.version, digest, count, source_digest)
        self._update((f"DELETE DATA {{ GRAPH {version} {{ {gone} . }} }} ;\n" if gone else "")
                     + (f"INSERT DATA {{ GRAPH {version} {{ {new} . }} }} ;\n" if new else "")
                     + f"DELETE WHERE {{ GRAPH {registry} {{ {graph} ?p ?o }} }} ;\n"
                     f"INSERT DATA {{ GRAPH {registry} {{ {_triples_text(entry)} }} }}")
        return True

    def drop(self, name: NamedNode) -> bool:
        """Remove a logical graph from the catalog; False when there was no such graph."""
        current = self.active_graphs().get(name.value)
        if current is None:
            return False
        self._update(f"DELETE WHERE {{ GRAPH {sparql_term(REGISTRY)} {{ {sparql_term(name)} ?p ?o }} }}")
        self._discard(current.version)
        for kept in self.versions(name):
            self._release(kept.version)
        return True

    def triples(self, name: NamedNode) -> Iterator[Triple]:
        """The triples of one active logical graph."""
        info = self.active_graphs().get(name.value)
        return iter(()) if info is None else self._triples(info.version)

    def sweep(self, name: NamedNode | None = None) -> list[NamedNode]:
        """Drop versions left behind by crashed writes; returns what was dropped.

        Only graphs the registry lists as versions are touched, never anything else on a shared server. Without
        ``name`` every inactive version goes; with it, those of that graph plus any older than ``stale_after``
        seconds, so that a writer does not sweep away another writer's graph while it is still being written.
        Previous versions kept by the retention policy are not leftovers (see :meth:`versions`).
        """
        rows = self._query(
            f"""SELECT ?version ?name ?started WHERE {{
                ?version <{STORE.versionOf.value}> ?name .
                OPTIONAL {{ ?version <{STORE.started.value}> ?started }}
                FILTER NOT EXISTS {{ ?any <{STORE.activeVersion.value}> ?version }}
                FILTER NOT EXISTS {{ ?version <{STORE.superseded.value}> ?when }} }}""",
            default_graphs=[REGISTRY],
            named_graphs=[],
            bindings={},
        )
        assert isinstance(rows, QuerySolutions)
        cutoff = datetime.now(UTC).timestamp() - self.stale_after
        stale = [
            row["version"]
            for row in rows
            if name is None or row["name"] == name or _timestamp(row["started"]) < cutoff
        ]
        for version in stale:
            self._discard(version)
        return stale

    def quads(self) -> Iterator[Quad]:
        """Every statement of the active graphs, under their logical names, graph by graph in name order."""
        for name, info in sorted(self.active_graphs().items()):
            graph = NamedNode(name)
            for triple in self._triples(info.version):
                yield Quad(triple.subject, triple.predicate, triple.object, graph)

    def dump(self, output: BinaryIO, rdf_format: str = "nquads") -> int:
        """Write every active graph under its logical name in the formats that hold datasets (N-Quads, TriG,
        JSON-LD), merged into one graph in the others; returns the number of statements written."""
        target = by_name(rdf_format, GRAPH, DATASET)
        if target is None or target.rdf is None:
            known = ", ".join(f.name for f in formats(GRAPH, DATASET))
            raise ValueError(f"unknown RDF format {rdf_format!r}; choose one of {known}")
        count = 0

        def counted() -> Iterator[Quad]:
            nonlocal count
            for quad in self.quads():
                count += 1
                yield quad

        prefixes = PREFIXES if target.rdf in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
        statements = counted() if target.rdf.supports_datasets else (quad.triple for quad in counted())
        pyoxigraph.serialize(statements, output, target.rdf, prefixes=prefixes)
        return count

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------------

    def _swap(self, name: NamedNode, version: NamedNode, digest: str, count: int, audit: list[Triple],
              source_digest: str | None = None, retained: GraphInfo | None = None) -> None:
        """Make ``version`` the active content of ``name`` (and append the audit record) in one transaction.

        Both steps are conditional on ``version`` still being registered: if a concurrent sweep discarded it, the
        swap changes nothing and the writer is told, rather than a partial graph becoming active.
        """
        registry, graph, versioned = sparql_term(REGISTRY), sparql_term(name), sparql_term(version)
        registered = f"GRAPH {registry} {{ {versioned} {sparql_term(STORE.versionOf)} {graph} }}"
        entry = _entry(name, version, digest, count, source_digest)
        # which audit activities wrote this version (the import's record, the server's entry): its history says who
        entry += [Triple(version, STORE.writtenBy, t.subject) for t in audit
                  if t.predicate == RDF.type and t.object == PROV.Activity and isinstance(t.subject, NamedNode)]
        if retained is not None:  # the version this swap supersedes stays, described as it was when active
            entry += kept_entry(retained, _now())
        audit_block = ""
        if audit:
            audit_block = f"GRAPH {sparql_term(AUDIT)} {{ {_triples_text(audit)} }}"
            if AUDIT.value not in self.active_graphs():
                entry += _entry(AUDIT, AUDIT, "appendable", 0)
        self._update(
            f"DELETE {{ GRAPH {registry} {{ {graph} ?p ?o }} }} "
            f"WHERE {{ {registered} GRAPH {registry} {{ {graph} ?p ?o }} }} ;\n"
            f"INSERT {{ GRAPH {registry} {{ {_triples_text(entry)} }} {audit_block} }} WHERE {{ {registered} }}"
        )
        info = self.active_graphs().get(name.value)
        if info is None or info.version != version:
            raise ConcurrentWriteError(f"graph <{name.value}> was being written concurrently by another writer; "
                                       "nothing changed here, retry")

    def _set_source_digest(self, name: NamedNode, source_digest: str | None) -> None:
        """Replace the source digest of an active graph's registry entry (none: forget it)."""
        registry, graph, predicate = sparql_term(REGISTRY), sparql_term(name), sparql_term(STORE.sourceDigest)
        insert = f"INSERT DATA {{ GRAPH {registry} {{ {graph} {predicate} {sparql_term(Literal(source_digest))} }} }}"
        self._update(f"DELETE WHERE {{ GRAPH {registry} {{ {graph} {predicate} ?old }} }}"
                     + (f" ;\n{insert}" if source_digest is not None else ""))

    def _discard(self, version: NamedNode) -> None:
        """Drop one version graph and forget it."""
        self._drop_graph(version)
        self._forget_version(version)

    def _forget_version(self, version: NamedNode) -> None:
        self._update(f"DELETE WHERE {{ GRAPH {sparql_term(REGISTRY)} {{ {sparql_term(version)} ?p ?o }} }}")


def _now() -> Literal:
    return Literal(datetime.now(UTC).isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def _timestamp(term: Term | None) -> float:
    """Seconds since the epoch of an ``xsd:dateTime`` literal; 0 (very old) when missing or unreadable."""
    try:
        return datetime.fromisoformat(term.value.replace("Z", "+00:00")).timestamp() if term is not None else 0.0
    except ValueError:
        return 0.0


def _entry(name: NamedNode, version: NamedNode, digest: str, count: int,
           source_digest: str | None = None) -> list[Triple]:
    return [
        Triple(name, STORE.activeVersion, version),
        Triple(name, STORE.contentDigest, Literal(digest)),
        Triple(name, STORE.tripleCount, Literal(str(count), datatype=XSD.integer)),
        Triple(name, STORE.modified, _now()),
    ] + ([Triple(name, STORE.sourceDigest, Literal(source_digest))] if source_digest is not None else [])


def _triples_text(triples: Iterable[Triple]) -> str:
    return " ".join(
        f"{sparql_term(t.subject)} {sparql_term(t.predicate)} {sparql_term(t.object)} ." for t in triples
    )
