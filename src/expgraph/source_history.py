"""The history of a source graph: its versions (when, by whom, how big) and what changed between two of them.

Versions are those the store keeps (:meth:`Store.versions <expgraph.store.base.Store.versions>`, the retention
settings ``history_keep`` and ``history_days``); who wrote each comes from the audit trail, through the activities
the store recorded with the version (the server's entry names the token, an import's own record the user). What
changed is computed in the store, with SPARQL over the two version graphs, both bound as terms: runs added,
runs removed, and runs changed (the same run IRI with different statements, its own or those of the nodes
minted below it: parameter settings, metric values, usages), with the properties that changed.

Used by ``expgraph history`` and the ``/history`` page (its JSON twin is what the command prints when the store is
served).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import PREFIXES, sparql_prologue
from expgraph.sparql.template import SparqlTemplate, values
from expgraph.store import Store, StoreError, VersionInfo
from expgraph.store.base import AUDIT, Term

_PROLOGUE = sparql_prologue() + "PREFIX audit: <https://w3id.org/expgraph/audit#>\n"

_WHO = SparqlTemplate.parse(_PROLOGUE + """SELECT ?activity ?token ?agent ?time WHERE {
#@activity
OPTIONAL { ?activity audit:agentName ?token }
OPTIONAL { ?activity prov:wasAssociatedWith ?who . ?who rdfs:label ?agent }
OPTIONAL { ?activity prov:startedAtTime ?time }
}""")

#: Runs in ?new that ?old does not hold (bound the other way round: runs removed).
_RUNS_ONLY_IN = SparqlTemplate.parse(_PROLOGUE + """SELECT ?run (SAMPLE(?name) AS ?label) WHERE {
#@pair
GRAPH ?new { ?run a eg:Run OPTIONAL { ?run rdfs:label ?name } }
FILTER NOT EXISTS { GRAPH ?old { ?run a eg:Run } }
} GROUP BY ?run ORDER BY ?run""")

#: Statements of a run present in both versions that one side holds and the other does not: the run's own, and
#: those of nodes minted below its IRI (reached through ?link), with the name of what such a node specifies.
_CHANGED = SparqlTemplate.parse(_PROLOGUE + """SELECT DISTINCT ?run ?link ?p ?name ?side WHERE {
#@sides
GRAPH ?a {
  ?run a eg:Run .
  { ?run ?p ?o . BIND(?run AS ?s) }
  UNION
  { ?run ?link ?s . ?s ?p ?o .
    FILTER(isIRI(?s) && STRSTARTS(STR(?s), CONCAT(STR(?run), "/")))
    OPTIONAL { ?s mls:specifiedBy ?spec . ?spec rdfs:label ?name } }
}
GRAPH ?b { ?run a eg:Run }
FILTER NOT EXISTS { GRAPH ?b { ?s ?p ?o } }
}""")

_LABELS = SparqlTemplate.parse(_PROLOGUE + """SELECT ?run (SAMPLE(?name) AS ?label) WHERE {
#@run
#@graph
GRAPH ?g { ?run rdfs:label ?name }
} GROUP BY ?run""")


@dataclass(frozen=True)
class Entry:
    """One version as the history lists it."""

    version: VersionInfo
    by: str | None  # the token's name, else the user an import's record names
    written: str | None  # when its writing started (the audit's time)

    @property
    def id(self) -> str:
        """The short name of a version: the random part of its IRI."""
        return short_id(self.version.version)

    def as_dict(self) -> dict[str, object]:
        v = self.version
        return {"id": self.id, "version": v.version.value, "active": v.active, "activated": v.activated,
                "superseded": v.superseded, "by": self.by, "written": self.written, "triples": v.triples,
                "digest": v.digest}


def short_id(version: NamedNode) -> str:
    return version.value.rsplit("/", 1)[-1]


def find_graph(store: Store, source: str, visible: dict[str, object] | None = None) -> NamedNode:
    """The logical graph ``source`` names: its IRI, or a part of it that only one graph's IRI contains."""
    names = list(visible if visible is not None else store.active_graphs())
    if source in names:
        return NamedNode(source)
    matching = [name for name in names if source and source in name]
    if len(matching) == 1:
        return NamedNode(matching[0])
    if matching:
        raise StoreError(f"{source!r} matches {len(matching)} graphs (e.g. <{matching[0]}>): give more of the IRI")
    raise StoreError(f"no graph {source!r} in {store.location} (expgraph stats lists them)")


def history(store: Store, graph: NamedNode) -> list[Entry]:
    """The graph's versions, newest first, each with who wrote it when the audit trail says."""
    versions = store.versions(graph)
    activities = [a for v in versions for a in v.activities]
    who: dict[str, dict[str, Term]] = {}
    if activities:
        text = _WHO.bind(activity=values("activity", activities))
        for row in store.select(text, graphs=[AUDIT]):
            who.setdefault(row["activity"].value, {}).update(row)
    entries = []
    for v in versions:
        found = [who.get(a.value, {}) for a in v.activities]
        token = next((r["token"].value for r in found if "token" in r), None)
        agent = next((r["agent"].value for r in found if "agent" in r), None)
        times = sorted(r["time"].value for r in found if "time" in r)
        entries.append(Entry(v, token or agent, times[0] if times else None))
    return entries


def pick(entries: list[Entry], wanted: str | None, default: int) -> Entry:
    """The entry whose id (or IRI) is ``wanted``, else the one at position ``default`` (0: the active one)."""
    if wanted:
        for entry in entries:
            if wanted in (entry.id, entry.version.version.value):
                return entry
        raise StoreError(f"no version {wanted!r} of this graph is kept (see its history)")
    if len(entries) <= default:
        raise StoreError("this graph has no previous version kept (setting history_keep)")
    return entries[default]


def changes(store: Store, old: NamedNode, new: NamedNode) -> dict[str, list[dict[str, object]]]:
    """What changed from version ``old`` to version ``new``: runs added, removed and changed (with the properties
    that changed, as prefixed names; ``link/property [name]`` for a node below the run, e.g. a parameter setting)."""
    pair = [old, new]

    def only_in(first: NamedNode, second: NamedNode) -> list[dict[str, object]]:
        text = _RUNS_ONLY_IN.bind(pair=(("old", "new"), [(first, second)]))
        return [{"run": row["run"].value, "label": row["label"].value if "label" in row else None}
                for row in _rows(store, text, pair)]

    added, removed = only_in(old, new), only_in(new, old)
    text = _CHANGED.bind(sides=(("a", "b", "side"), [(old, new, Literal("removed")),
                                                      (new, old, Literal("added"))]))
    properties: dict[str, set[str]] = defaultdict(set)
    for row in _rows(store, text, pair):
        prop = _short(row["p"].value)
        if "link" in row:
            prop = f"{_short(row['link'].value)}/{prop}" + (f" [{row['name'].value}]" if "name" in row else "")
        properties[row["run"].value].add(prop)
    labels = _labels(store, new, list(properties))
    changed = [{"run": run, "label": labels.get(run), "properties": sorted(props)}
               for run, props in sorted(properties.items())]
    return {"added": added, "removed": removed, "changed": changed}


def _labels(store: Store, version: NamedNode, runs: list[str]) -> dict[str, str]:
    if not runs:
        return {}
    text = _LABELS.bind(run=values("run", [NamedNode(r) for r in runs]), graph=values("g", [version]))
    return {row["run"].value: row["label"].value for row in _rows(store, text, [version]) if "label" in row}


def _rows(store: Store, text: str, versions: list[NamedNode]) -> list[dict[str, Term]]:
    result = store.query_versions(text, versions)
    names = [v.value for v in result.variables]  # type: ignore[union-attr]
    return [{n: t for n, t in zip(names, row, strict=True) if t is not None} for row in result]  # type: ignore[union-attr]


def _short(iri: str) -> str:
    """A prefixed name for an IRI in a known namespace, else the IRI in angle brackets."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"
