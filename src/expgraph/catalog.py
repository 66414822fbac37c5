"""Catalog services the CLI and the web app share: opening a store ready for use, loading RDF, importing.

These are built on the store interface only, so they work the same on the embedded and the remote store.
"""

from __future__ import annotations

import contextlib
import gc
import getpass
import hashlib
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, RdfFormat

from expgraph.failures import FailureClassifier
from expgraph.formats import DATASET, GRAPH, suffixes
from expgraph.importers.base import Importer, build_batch
from expgraph.mapping import DEFAULT_BASE, Minter, batch_statements, map_import_activity, source_graph
from expgraph.namespaces import GRAPHS
from expgraph.records import ImportBatch, Liveness
from expgraph.resources import is_shipped, ontology_files, shipped_graph
from expgraph.source_digest import settled, source_digest, unchanged_counts
from expgraph.store import Store
from expgraph.store.base import ConcurrentWriteError

#: RDF formats ``load`` accepts, by file suffix.
LOAD_FORMATS: dict[str, RdfFormat] = {suffix: f.rdf for suffix, f in suffixes(GRAPH, DATASET).items() if f.rdf}


class LoadError(ValueError):
    """A file that cannot be loaded; the message names the file and the problem."""


#: Tries at loading the shipped graphs while other processes load them too (serve processes started together).
_PREPARE_TRIES = 6


def prepare(store: Store) -> Store:
    """Load (or refresh) the shipped ontology and vocabularies; cheap when they are unchanged.

    Processes that start on one store at the same moment all load them: a writer whose graph another replaced
    meanwhile changed nothing (:class:`ConcurrentWriteError`), waits a random while (two that looked again at once
    would sweep each other's graph again) and looks again, finding the other's work done."""
    for attempt in range(1, _PREPARE_TRIES + 1):
        try:
            return _load_shipped(store)
        except ConcurrentWriteError:
            if attempt == _PREPARE_TRIES:
                raise
            time.sleep(random.uniform(0.2, 1.0) * attempt)  # a backoff, not synchronisation
    return store


def _load_shipped(store: Store) -> Store:
    active = store.active_graphs()
    for path in ontology_files():
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        graph = shipped_graph(path)
        info = active.get(graph.value)
        if info is not None and info.digest == digest:
            continue
        triples = (quad.triple for quad in pyoxigraph.parse(data, RdfFormat.TURTLE, base_iri=path.as_uri()))
        store.replace_graph(graph, triples, digest=digest)
    shipped = {shipped_graph(path).value for path in ontology_files()}
    for name in active:  # a vocabulary no longer shipped must not linger in the catalog
        if is_shipped(name) and name not in shipped:
            store.drop(NamedNode(name))
    return store


def load_file(store: Store, path: Path, graph: NamedNode | None = None) -> tuple[NamedNode, int, bool]:
    """Load an RDF file into its own graph (replacing an earlier load of it); no remote fetches.

    Returns the graph, the number of triples and whether anything changed. The file is parsed completely before
    anything is written, so a syntax error anywhere leaves the store as it was. JSON-LD with a remote ``@context``
    is refused (pyoxigraph's parser never fetches). Quads in named graphs are merged into ``graph``.
    """
    suffix = path.suffix.lower()
    if suffix not in LOAD_FORMATS:
        raise LoadError(f"{path}: unknown RDF format {suffix!r} (known: {', '.join(sorted(LOAD_FORMATS))})")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    data = path.read_bytes()
    if LOAD_FORMATS[suffix] is RdfFormat.RDF_XML:
        _check_xml_entities(path, data)
    graph = graph or NamedNode(f"{GRAPHS}file/{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}")
    try:
        base = path.resolve().as_uri()
        triples = [quad.triple for quad in pyoxigraph.parse(data, LOAD_FORMATS[suffix], base_iri=base)]
    except (SyntaxError, ValueError) as error:
        if "remote context" in str(error):
            raise LoadError(f"{path}: JSON-LD with a remote @context is not loaded (expgraph fetches nothing "
                            "from the network); put the context inline") from None
        raise LoadError(f"{path}: {error}") from None
    # The file's bytes identify its content: its blank nodes get new labels at each parse, its bytes do not.
    changed = store.replace_graph(graph, triples, digest=hashlib.sha256(data).hexdigest())
    return graph, len(triples), changed


#: How many bytes the entity references of an RDF/XML file may expand to in all.
MAX_ENTITY_EXPANSION = 1 << 20
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*\[(?P<subset>.*?)\]\s*>", re.DOTALL)
_ENTITY = re.compile(rb"""<!ENTITY\s+(?P<name>[^\s%"']+)\s+(?P<quote>["'])(?P<value>.*?)(?P=quote)\s*>""", re.DOTALL)
_REFERENCE = re.compile(rb"&[^\s&;#]+;")


def _check_xml_entities(path: Path, data: bytes) -> None:
    """Refuse an RDF/XML file whose DTD entities could expand beyond reason ("billion laughs": pyoxigraph expands
    nested entities). Ontologies commonly declare entities as namespace shorthands (``&owl;Class``), so those
    stay: plain text values, no entity inside another, no parameter or external entities, and all references
    together expanding to at most ``MAX_ENTITY_EXPANSION`` bytes."""
    doctype = _DOCTYPE.search(data, 0, data.find(b"<rdf:RDF") if b"<rdf:RDF" in data else len(data))
    if doctype is None:
        if b"<!ENTITY" in data:
            raise LoadError(f"{path}: an <!ENTITY> outside a DOCTYPE's internal subset is not loaded")
        return
    subset = doctype["subset"]
    entities = {match["name"]: match["value"] for match in _ENTITY.finditer(subset)}
    if subset.count(b"<!ENTITY") != len(entities):
        raise LoadError(f"{path}: only plain internal DTD entities are loaded (no parameter or external ones)")
    if any(_REFERENCE.search(value) for value in entities.values()):
        raise LoadError(f"{path}: an entity refers to another entity (refused: nested entities can expand "
                        "exponentially)")
    body = data[doctype.end():]
    expanded = sum(len(value) * body.count(b"&" + name + b";") for name, value in entities.items())
    if expanded > MAX_ENTITY_EXPANSION:
        raise LoadError(f"{path}: its entity references would expand to {expanded:,} bytes (more than "
                        f"{MAX_ENTITY_EXPANSION:,}); refused")


@dataclass(frozen=True)
class ImportOutcome:
    graph: NamedNode
    changed: bool
    triples: int
    experiments: int
    runs: int
    failures: int
    negative_results: int
    warnings: tuple[str, ...]
    presumed_dead: int = 0  # runs still running by their tracker's word, presumed dead at this import

    def as_dict(self) -> dict[str, object]:
        return {
            "graph": self.graph.value,
            "changed": self.changed,
            "triples": self.triples,
            "experiments": self.experiments,
            "runs": self.runs,
            "failures": self.failures,
            "negative_results": self.negative_results,
            "presumed_dead": self.presumed_dead,
            "warnings": list(self.warnings),
        }


def store_batch(store: Store, batch: ImportBatch, *, location: str, base: str = DEFAULT_BASE,
                source_digest: str | None = None) -> ImportOutcome:
    """Write one import source atomically into its graph, with its audit record; unchanged content is a no-op.
    ``source_digest`` (see ``expgraph.source_digest``) is kept with the graph for the next import."""
    from expgraph._version import __version__

    started = datetime.now(UTC)
    graph = source_graph(batch.tracker, batch.source if batch.part is None else f"{batch.source}#{batch.part}", base)
    audit = map_import_activity(
        batch,
        started=started,
        ended=datetime.now(UTC),
        agent=_user(),
        tool_version=f"expgraph {__version__}",
        location=location,
        base=base,
    )
    # checked: the mapper builds every IRI from pyoxigraph terms (or from one and percent-encoded path segments)
    changed = store.replace_statements(graph, batch_statements(batch, base), audit=audit, checked=True,
                                       source_digest=source_digest)
    # The registry counts the statements as they are written (unchanged content has the same count): counting them
    # here again in a generator of our own would slow every import down.
    return ImportOutcome(
        graph=graph,
        changed=changed,
        triples=store.active_graphs()[graph.value].triples,
        experiments=len(batch.experiments),
        runs=len(batch.runs),
        failures=sum(1 for run in batch.runs if run.status.is_failure),
        negative_results=sum(1 for result in batch.results if result.negative),
        warnings=batch.warnings,
        presumed_dead=sum(1 for run in batch.runs if batch.liveness and batch.liveness.presumed_dead(run)),
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_import(store: Store, importer: Importer, *, base: str = DEFAULT_BASE,
               liveness: Liveness | None = None) -> ImportOutcome:
    """Read a tracker's source completely, then write it atomically; bad input raises before anything lands.
    A source unchanged since its last import (same source digest) is not read again; one with a run still running
    and not yet presumed dead is always read (its inferred liveness changes with time alone).
    Runs still running are judged by ``liveness`` (default: no sign of life for 24 hours before now)."""
    with collector_paused():
        classifier = FailureClassifier.from_store(store)
        liveness = liveness or Liveness(datetime.now(UTC))
        digest = source_digest(importer, classifier, base, liveness.after)
        if digest is not None and (unchanged := _unchanged(store, importer, digest, base)) is not None:
            return unchanged
        batch = build_batch(importer, classifier, liveness)
        return store_batch(store, batch, location=importer.source, base=base,
                           source_digest=digest if settled(batch) else None)


def _unchanged(store: Store, importer: Importer, digest: str, base: str) -> ImportOutcome | None:
    """The outcome of importing a source whose digest matches its graph's: nothing read, nothing written."""
    graph = source_graph(importer.tracker, importer.identity(), base)
    counts = unchanged_counts(store, graph, Minter(importer.tracker, importer.identity(), base).import_source(),
                              digest)
    if counts is None:
        return None
    return ImportOutcome(graph=graph, changed=False, triples=store.active_graphs()[graph.value].triples,
                         experiments=counts["experiments"], runs=counts["runs"], failures=counts["failures"],
                         negative_results=counts["negative"], warnings=())


_pause_lock = threading.Lock()
_pauses = 0
_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration, as it was before afterwards (also when imports in
    several threads overlap). An import builds millions of objects that all live until it ends, and the collector
    rescanned them again and again, for a sizeable share of the import's time. The few cycles an import leaves
    are collected once it is back on."""
    global _pauses, _was_enabled
    with _pause_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
