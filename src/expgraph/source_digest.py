"""Recognising an unchanged import source before reading it (issue 11: re-importing an unchanged 30k-run Sacred
store took three times as long as the first import, all of it spent reading, mapping and writing to find out
that nothing changed).

An import's *source digest* covers everything its graph is made from: the state of the source's files (a
``stat`` each, see ``importers.paths.fingerprint``), the importer's settings, the failure rules in the catalog
(they classify failed runs), the base IRI, and the code and ontology files that turn records into statements (so
a new expgraph version, or an edited mapper, re-imports). The store keeps it beside the graph's content digest;
when the next import's digest is the same, nothing is read. A batch with runs still running, not yet presumed dead,
keeps no source digest: their inferred status can change with time alone (a heartbeat that stops), so such a source
is read again; a run already presumed dead stays so until its files change, and the threshold is in the digest.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import cache
from pathlib import Path

from pyoxigraph import NamedNode, QuerySolutions

from expgraph.failures import FailureClassifier
from expgraph.importers.base import Importer
from expgraph.importers.paths import fingerprint
from expgraph.records import PRESUMED_DEAD_AFTER, ImportBatch, RunStatus
from expgraph.resources import ontology_files
from expgraph.store import Store
from expgraph.store.base import AUDIT

#: Statuses that time alone may change (a heartbeat that stops makes a running run killed): not a settled source.
#: A queued run changes only when its tracker writes (as the importers read it today).
UNSETTLED = (RunStatus.RUNNING,)

_LAST_COUNTS = """
PREFIX eg: <https://w3id.org/expgraph#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?source ?experiments ?runs ?failures ?negative WHERE {
  ?activity prov:used ?source ; prov:startedAtTime ?started ; eg:experimentCount ?experiments ;
            eg:runCount ?runs ; eg:failureCount ?failures ; eg:negativeResultCount ?negative .
} ORDER BY DESC(?started) LIMIT 1"""


@cache
def code_digest() -> str:
    """The expgraph version and the bytes of the code and ontology files that may shape an import's statements:
    every module at the top of the package (records, lexical forms, completeness, failure rules, ...), the mapper's
    and the importers' packages. Generous on purpose: a change there costs one re-read, a missed one a stale
    catalog."""
    from expgraph._version import __version__

    package = Path(__file__).resolve().parent
    code = [*package.glob("*.py"), *(package / "importers").rglob("*.py"), *(package / "mapping").rglob("*.py")]
    files = sorted(code) + sorted(ontology_files())
    digest = hashlib.sha256(__version__.encode())
    for path in files:
        name = path.relative_to(package).as_posix() if package in path.parents else path.name
        digest.update(f"\0{name}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def source_digest(importer: Importer, classifier: FailureClassifier, base: str,
                  presumed_dead_after: timedelta = PRESUMED_DEAD_AFTER) -> str | None:
    """The digest of what an import of ``importer`` would be made from; None when the source cannot tell (a
    tracking server or database), so that it is read every time. The liveness threshold counts: another one may
    presume other runs dead."""
    roots = importer.fingerprint_roots()
    if roots is None:
        return None
    parts = [code_digest(), base, importer.tracker, importer.identity(), repr(sorted(importer.options().items())),
             repr(classifier.rules), repr(presumed_dead_after.total_seconds()), fingerprint(roots)]
    return "source-sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


def settled(batch: ImportBatch) -> bool:
    """Whether a batch's content depends on its source alone: no run whose status may change with time. A run
    already presumed dead stays so until its files change (time only moves on), so it does not unsettle."""
    liveness = batch.liveness
    return not any(run.status in UNSETTLED and not (liveness is not None and liveness.presumed_dead(run))
                   for run in batch.runs)


def unchanged_counts(store: Store, graph: NamedNode, source: NamedNode, digest: str) -> dict[str, int] | None:
    """When ``graph`` was made from a source with this digest: the counts its import recorded in the audit trail
    (experiments, runs, failures, negative results); None otherwise, or when the trail does not say."""
    info = store.active_graphs().get(graph.value)
    if info is None or info.source_digest != digest or AUDIT.value not in store.active_graphs():
        return None
    rows = store.query(_LAST_COUNTS, bindings={"source": source}, graphs=[AUDIT])
    assert isinstance(rows, QuerySolutions)
    for row in rows:
        return {name: int(row[name].value) for name in ("experiments", "runs", "failures", "negative")}
    return None
