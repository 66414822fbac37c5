"""The run page's data from three queries: the run's own statements, its neighbourhood, and the labels of the
parameters, measures and roles it names.

Why so few: on a large catalog each query costs a fixed amount before it reads anything (one per named graph)
and a query with many ``OPTIONAL`` patterns as much again to plan, while reading a node's statements is one index
seek. So the neighbourhood is read as whole nodes (``?x ?p ?o`` for the nodes the run's statements name) plus a
few fixed paths, in one query of ``UNION`` branches, and shaped here into the rows the former
one-query-per-section page had (the same values, the same order). The figures are in docs/architecture.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from itertools import product
from typing import Any

from pyoxigraph import Literal, NamedNode

from expgraph.completeness import LABELS as LACK_LABELS
from expgraph.namespaces import DCAT, DCT, EG, GRAPHS, MLS, PROV, RDF, RDFS, SCHEMA, SKOS, SPDX
from expgraph.sparql.template import SparqlTemplate, TermList, values
from expgraph.store import Store
from expgraph.store.base import Term
from expgraph.web.reading import FAILED, graphs_of, has_quality, query, select
from expgraph.web.terms import node, plain, short

#: The run's own statements and in which graphs (its own graphs give the labels of shared nodes, see
#: :data:`_LABELS`); also what :func:`expgraph.web.rdf.show` tells the page family from.
STATEMENTS = query("SELECT ?g ?p ?o WHERE {\n#@s\nGRAPH ?g { ?s ?p ?o } }")

_HEAD = {"label": RDFS.label, "id": DCT.identifier, "started": PROV.startedAtTime, "ended": PROV.endedAtTime,
         "error": EG.errorText, "exit": EG.exitCode, "runtime": EG.runtimeSeconds, "seed": EG.seed,
         "tracker": EG.tracker, "description": DCT.description, "lastSign": EG.lastSignOfLife}
_LINKS = {"status": EG.status, "inferred": EG.inferredStatus, "agent": PROV.wasAssociatedWith,
          "experiment": EG.inExperiment, "parent": EG.parentRun}
_NAMED = (MLS.hasInput, MLS.hasOutput, PROV.qualifiedUsage, PROV.used, PROV.generated, *_LINKS.values())
_INPUT_KINDS = {DCAT.Dataset.value: "datasets", "https://schema.org/SoftwareSourceCode": "code",
                EG.Environment.value: "environments"}
_INPUT_VALUES = {"commit": EG.commitHash, "repo": SCHEMA.codeRepository,
                 "python": EG.pythonVersion, "image": EG.containerImage}
#: What the page shows of the named nodes: reading only these, not every statement about them, halves the query
#: (decoding the values read is most of its cost).
_WANTED = (RDF.type, RDFS.label, SKOS.notation, MLS.specifiedBy, MLS.hasValue, EG.originalValue, EG.step,
           EG.firstValue, EG.minValue, EG.maxValue, EG.valueCount, PROV.entity, PROV.hadRole, DCAT.version,
           SPDX.checksum, EG.commitHash, SCHEMA.codeRepository, EG.pythonVersion, EG.containerImage, EG.location,
           DCAT.byteSize)
MAX_CHILDREN = 200

#: The nodes the run's statements name, whole (``d``); the projects of the linked nodes with their labels (``p``);
#: the checksums of its inputs (``c``); what it generated, and the results naming it as ``tracker:id`` (``ref``, how a
#: hand-written record names runs of other sources), with the labels of the concepts those name (``r``); its
#: child runs (``k``); its completeness score (``q``, the :data:`_QUALITY` fragment, when there is a quality
#: graph). The slots are VALUES blocks (``s`` the run; ``named`` the named nodes; ``linked`` the linked ones;
#: ``inputs`` the inputs), repeated inside each branch because pyoxigraph evaluates a branch before joining an
#: outer binding. DISTINCT: a node every source shares (an agent, a code version) comes back once per source
#: otherwise.
_NEIGHBOURHOOD = query("""SELECT DISTINCT ?k ?x ?p ?o ?ol WHERE {
  { #@named
    ?x ?p ?o FILTER(?p IN (#@wanted
    )) BIND("d" AS ?k) }
  UNION { #@linked
    ?x eg:inProject ?o OPTIONAL { ?o rdfs:label ?ol } BIND("p" AS ?k) }
  UNION { #@inputs
    ?i spdx:checksum ?x . ?x ?p ?o BIND("c" AS ?k) }
  UNION { #@s
    ?x prov:wasGeneratedBy ?s . ?x ?p ?o OPTIONAL { ?o skos:prefLabel ?ol } BIND("r" AS ?k) }
  UNION { #@ref
    ?x eg:refersToRun ?ref . ?x ?p ?o OPTIONAL { ?o skos:prefLabel ?ol } BIND("r" AS ?k) }
  UNION { #@s
    ?x eg:parentRun ?s OPTIONAL { ?x rdfs:label ?o } OPTIONAL { ?x eg:status/skos:notation ?ol }
          BIND("k" AS ?k) }
  #@quality
}""").fill(wanted=TermList.of(_WANTED))
_QUALITY = SparqlTemplate.parse("""UNION { #@s
  ?x dqv:computedOn ?s ; dqv:isMeasurementOf eg:completeness ; dqv:value ?o
  BIND("q" AS ?k) }""")
#: A branch with nothing to describe is left out rather than given an empty VALUES block.
_NOTHING = SparqlTemplate.parse("FILTER(false)")

#: Parameters, metrics and roles name nodes every source shares (``parameter/lr``), whose label each source
#: states again: read over the run's own graphs, so that each comes once (over all graphs, once per source).
_LABELS = query("SELECT ?x ?label WHERE {\n#@x\n?x rdfs:label ?label }")


class Nodes:
    """Statements about several nodes, by node and predicate, each object list in the order read."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, list[Term]]] = {}

    def add(self, subject: Term, predicate: Term, obj: Term) -> None:
        objects = self._objects.setdefault(subject.value, {}).setdefault(predicate.value, [])
        if obj not in objects:
            objects.append(obj)

    def all(self, subject: Term, predicate: NamedNode | str) -> list[Term]:
        key = predicate if isinstance(predicate, str) else predicate.value
        return self._objects.get(subject.value, {}).get(key, [])

    def subjects(self) -> list[NamedNode]:
        return [NamedNode(iri) for iri in self._objects]

    def first(self, subject: Term, predicate: NamedNode | str) -> Term | None:
        objects = self.all(subject, predicate)
        return objects[0] if objects else None

    def optional(self, subject: Term, predicate: NamedNode | str) -> list[Term | None]:
        """The objects, or one None: what an ``OPTIONAL`` gives a row."""
        return list(self.all(subject, predicate)) or [None]


def run(store: Store, iri: NamedNode, statements: list[dict[str, Term]] | None = None,
        spec_labels: SpecLabels | None = None) -> dict[str, Any]:
    """Everything the run page shows; completeness findings only when the quality graph exists.

    ``statements`` are the rows of :data:`STATEMENTS` for the run when the caller has read them already;
    ``spec_labels`` the app's cache of labels (see :class:`~expgraph.web.state.WebState`), else a fresh one.
    """
    if statements is None:
        statements = select(store, STATEMENTS, s=iri)
    own = Nodes()
    for statement in statements:
        own.add(iri, statement["p"], statement["o"])
    quality = has_quality(store)
    around, linked_projects, generated, children, scores = _neighbourhood(store, iri, own, quality)
    row = _head(iri, own, around, linked_projects)
    data: dict[str, Any] = {
        "kind": "run", "iri": iri.value, "label": plain(row.get("label")) or iri.value,
        "identifier": plain(row.get("id")), "status": plain(row.get("status")),
        # beside the tracker's status, never instead of it: "presumed-dead" for a running run gone silent
        "inferred_status": plain(row.get("inferred")), "last_sign_of_life": plain(row.get("lastSign")),
        "failed": plain(row.get("status")) in FAILED or row.get("inferred") is not None,
        "started": plain(row.get("started")),
        "ended": plain(row.get("ended")), "agent": node(row, "agent"), "experiment": node(row, "experiment"),
        "project": node(row, "project"), "error": plain(row.get("error")), "exit_code": plain(row.get("exit")),
        "runtime_seconds": plain(row.get("runtime")), "seed": plain(row.get("seed")),
        "tracker": plain(row.get("tracker")), "description": plain(row.get("description")),
        "parent": node(row, "parent"),
        # the way into "has this already failed elsewhere?": runs of the same settings meet on this node
        "configuration": plain(own.first(iri, EG.hasConfiguration)),
    }
    params = [{"spec": spec, "value": value, **({"original": original} if original is not None else {})}
              for setting in _unique(own.all(iri, MLS.hasInput))
              for spec, value, original in product(around.all(setting, MLS.specifiedBy),
                                                   around.all(setting, MLS.hasValue),
                                                   around.optional(setting, EG.originalValue))]
    metrics = [_present(spec=spec, value=value, step=step, first=first, min=low, max=high, count=count)
               for m in _unique(own.all(iri, MLS.hasOutput)) if MLS.ModelEvaluation in around.all(m, RDF.type)
               for spec, value, step, first, low, high, count in product(
                   around.all(m, MLS.specifiedBy), around.all(m, MLS.hasValue), around.optional(m, EG.step),
                   around.optional(m, EG.firstValue), around.optional(m, EG.minValue),
                   around.optional(m, EG.maxValue), around.optional(m, EG.valueCount))]
    roles = [{"x": x, "spec": spec} for usage in _unique(own.all(iri, PROV.qualifiedUsage))
             for x, spec in product(around.all(usage, PROV.entity), around.all(usage, PROV.hadRole))]
    specs = list(dict.fromkeys(row["spec"] for row in params + metrics + roles))
    versions = [statement["g"] for statement in statements]
    labels = (spec_labels or SpecLabels()).get(store, specs, versions) if specs else {}
    data["params"] = [{"key": r["key"].value, "value": plain(r["value"]), "original": plain(r.get("original"))}
                      for r in _labelled(params, labels, "key")]
    data["metrics"] = [_metric(r) for r in _labelled(metrics, labels, "key")]
    data["inputs"] = _inputs(_unique(own.all(iri, PROV.used)), around, _labelled(roles, labels, "role", False))
    data["outputs"] = _outputs(_unique(own.all(iri, PROV.generated)), around)
    data["children"] = [{"run": node(r, "x"), "status": plain(r.get("status"))} for r in children]
    data["results"] = _results(generated)
    data["completeness"] = _completeness(scores, own.all(iri, EG.lacks), data) if quality else None
    data["sources"] = _sources(store, versions)
    return data


def _sources(store: Store, versions: Iterable[Term]) -> list[str]:
    """The import sources stating the run (usually one; a hand-written record may state it too), the way to what
    changed in them (``/history``); the catalog's own graphs (completeness, retirements) are not sources."""
    names = {info.version.value: name for name, info in store.active_graphs().items()}
    return sorted({names[v.value] for v in versions if v.value in names and not names[v.value].startswith(GRAPHS)})


class SpecLabels:
    """The labels of parameters, measures and roles over a run's own graphs, kept by the graphs' versions.

    Why: the labels query costs one index seek per spec and graph on every page, while a catalog names few specs,
    and each source's runs the same ones. A graph's version is minted
    afresh (a random id) whenever its content changes, so labels read over the same versions stay right.
    """

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[tuple[str, ...], str], list[Term]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Store, specs: list[Term], versions: list[Term]) -> dict[str, list[Term]]:
        """Each spec's labels (in the order the store gives them) over the graphs whose active versions are
        ``versions`` and the shipped ones; specs without a label are left out."""
        graphs = graphs_of(store, versions)
        if graphs is None:  # in no active graph: over all graphs, not kept
            return _read_labels(store, specs, None)
        active = store.active_graphs()
        key = tuple(active[g.value].version.value if g.value in active else g.value for g in graphs)
        with self._lock:  # pages are built on several threads
            known = {spec.value: self._entries.get((key, spec.value)) for spec in specs}
            for name, entry in known.items():
                if entry is not None:
                    self._entries.move_to_end((key, name))
        missing = [spec for spec in specs if known[spec.value] is None]
        if missing:  # read outside the lock, so that one page's miss does not hold up the others
            found = _read_labels(store, missing, graphs)
            with self._lock:
                for spec in missing:
                    known[spec.value] = self._entries[(key, spec.value)] = found.get(spec.value, [])
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return {name: entry for name, entry in known.items() if entry}


def _read_labels(store: Store, specs: list[Term], graphs: list[NamedNode] | None) -> dict[str, list[Term]]:
    labels: dict[str, list[Term]] = {}
    for found in select(store, _LABELS, graphs=graphs, x=specs):
        labels.setdefault(found["x"].value, []).append(found["label"])
    return labels


def _neighbourhood(store: Store, iri: NamedNode, own: Nodes, quality: bool) -> tuple[
        Nodes, Nodes, Nodes, list[dict[str, Term]], list[Term]]:
    """One query for everything around the run: the named nodes, the linked nodes' projects, what the run
    generated (with the concepts' labels), its children (label and status, sorted by label, the first 200) and its
    completeness score."""
    named = [o for p in _NAMED for o in own.all(iri, p) if isinstance(o, NamedNode)]
    linked = [o for p in _LINKS.values() for o in own.all(iri, p) if isinstance(o, NamedNode)]
    inputs = [o for o in own.all(iri, PROV.used) if isinstance(o, NamedNode)]
    tracker, native_id = own.first(iri, EG.tracker), own.first(iri, DCT.identifier)
    refs = [Literal(f"{tracker.value}:{native_id.value}")] if tracker is not None and native_id is not None else []
    slots = {slot: values(var, list(dict.fromkeys(terms))) if terms else _NOTHING
             for slot, var, terms in (("named", "x", named), ("linked", "x", linked), ("inputs", "i", inputs),
                                      ("ref", "ref", refs))}
    around, projects, generated = Nodes(), Nodes(), Nodes()
    children: list[dict[str, Term]] = []
    scores: list[Term] = []
    for row in select(store, _NEIGHBOURHOOD, slots={**slots, "quality": _QUALITY if quality else None}, s=iri):
        kind, x = row["k"].value, row["x"]
        if kind in ("d", "c"):
            around.add(x, row["p"], row["o"])
        elif kind == "p":
            projects.add(x, EG.inProject, row["o"])
            if "ol" in row:
                projects.add(row["o"], RDFS.label, row["ol"])
        elif kind == "r":
            generated.add(x, row["p"], row["o"])
            if "ol" in row:
                generated.add(row["o"], SKOS.prefLabel, row["ol"])
        elif kind == "k":
            children.append({"x": x, **({"xLabel": row["o"]} if "o" in row else {}),
                             **({"status": row["ol"]} if "ol" in row else {})})
        elif kind == "q":
            scores.append(row["o"])
    children.sort(key=lambda child: _order_key(child.get("xLabel")))
    return around, projects, generated, children[:MAX_CHILDREN], scores


def _unique(terms: Iterable[Term]) -> list[Term]:
    return list(dict.fromkeys(terms))


def _present(**values: Term | None) -> dict[str, Term]:
    return {name: value for name, value in values.items() if value is not None}


def _order_key(term: Term | None) -> tuple[int, str]:
    """SPARQL's ``ORDER BY`` of an optional plain literal: unbound first, then by string."""
    return (0, "") if term is None else (1, term.value)


def _labelled(rows: list[dict[str, Term]], labels: dict[str, list[Term]], name: str,
              ordered: bool = True) -> list[dict[str, Term]]:
    """Rows joined with their ``?spec``'s labels as ``name`` (one row per label, none without one), as a path
    ``?x mls:specifiedBy/rdfs:label ?key`` gave them; sorted by the label like ``ORDER BY ?key``."""
    joined = [{**row, name: label} for row in rows for label in labels.get(row["spec"].value, [])]
    return sorted(joined, key=lambda row: row[name].value) if ordered else joined


def _head(iri: NamedNode, own: Nodes, around: Nodes, projects: Nodes) -> dict[str, Term]:
    """The head of the run page as one row: the first value of each property, and of the linked nodes their label
    (the status: its notation; the experiment: its project and the project's label too)."""
    row = {name: own.first(iri, p) for name, p in _HEAD.items()}
    row = {name: value for name, value in row.items() if value is not None}
    linked = {name: own.all(iri, p) for name, p in _LINKS.items()}
    for name in ("status", "inferred"):
        notations = [notation for o in linked[name] if isinstance(o, NamedNode)
                     for notation in around.all(o, SKOS.notation)[:1]]
        if notations:
            row[name] = notations[0]
    for name in ("agent", "experiment", "parent"):
        if linked[name]:
            target = linked[name][0]
            row[name] = target
            label = around.first(target, RDFS.label) if isinstance(target, NamedNode) else None
            if label is not None:
                row[f"{name}Label"] = label
    if "experiment" in row and isinstance(row["experiment"], NamedNode):
        project = projects.first(row["experiment"], EG.inProject)
        if project is not None:
            row["project"] = project
            label = projects.first(project, RDFS.label)
            if label is not None:
                row["projectLabel"] = label
    return row


def _metric(row: dict) -> dict[str, Any]:
    return {"key": row["key"].value, "value": plain(row["value"]), "step": plain(row.get("step")),
            "first": plain(row.get("first")), "min": plain(row.get("min")), "max": plain(row.get("max")),
            "count": plain(row.get("count"))}


def _inputs(used: list[Term], around: Nodes, roles: list[dict[str, Term]]) -> dict[str, list[dict[str, Any]]]:
    """Inputs grouped by kind (a dataset snapshot, code, an environment, other), each with the first of its values
    and the role it was used in."""
    groups: dict[str, dict[str, dict[str, Any]]] = {"datasets": {}, "code": {}, "environments": {}, "other": {}}
    for x in used:
        kinds = [_INPUT_KINDS[t.value] for t in around.all(x, RDF.type) if t.value in _INPUT_KINDS] or ["other"]
        label = around.first(x, RDFS.label)
        checksums = [(value, algorithm) for c in around.all(x, SPDX.checksum)
                     for value in around.all(c, SPDX.checksumValue)
                     for algorithm in around.optional(c, SPDX.algorithm)]
        algorithm = next((a for _, a in checksums if a is not None), None)
        values = {"version": plain(around.first(x, DCAT.version)),
                  "checksum": plain(checksums[0][0]) if checksums else None,
                  "algorithm": plain(algorithm).rsplit("_", 1)[-1] if algorithm is not None else None,
                  **{key: plain(around.first(x, p)) for key, p in _INPUT_VALUES.items()}}
        for kind in dict.fromkeys(kinds):
            item = groups[kind].setdefault(x.value, {"entity": {"iri": x.value, "label": label.value if label
                                                                 else short(x.value)}})
            item["role"] = next((r["role"].value for r in roles if r["x"] == x), None)
            item.update({key: value for key, value in values.items() if value is not None})
    return {name: list(items.values()) for name, items in groups.items()}


def _outputs(generated: list[Term], around: Nodes) -> list[dict[str, Any]]:
    rows = [(x, label, location, size) for x in generated
            for label, location, size in product(around.optional(x, RDFS.label), around.optional(x, EG.location),
                                                 around.optional(x, DCAT.byteSize))]
    rows.sort(key=lambda row: _order_key(row[1]))
    return [{"entity": {"iri": x.value, "label": label.value if label is not None else short(x.value)},
             "location": plain(location), "size": plain(size)} for x, label, location, size in rows]


def _results(generated: Nodes) -> list[dict[str, Any]]:
    """The results the run generated: one entry each, lessons (the only many-valued field) gathered."""
    results = []
    for x in generated.subjects():
        types = generated.all(x, RDF.type)
        if EG.Result not in types:
            continue
        concepts = {}
        for name, p in (("kind", EG.resultKind), ("failure_mode", EG.failureMode), ("cause", EG.suspectedCause)):
            concept = generated.first(x, p)
            label = generated.first(concept, SKOS.prefLabel) if concept is not None else None
            concepts[name] = {"iri": concept.value, "label": label.value if label is not None
                              else short(concept.value)} if concept is not None else None
        label = generated.first(x, RDFS.label)
        results.append({
            "result": {"iri": x.value, "label": label.value if label is not None else short(x.value)},
            "negative": EG.NegativeResult in types, "kind": concepts["kind"],
            "failure_mode": concepts["failure_mode"], "suspected_cause": concepts["cause"],
            "observed": plain(generated.first(x, EG.observedOutcome)),
            "error": plain(generated.first(x, EG.errorText)),
            "lessons": list(dict.fromkeys(plain(lesson) for lesson in generated.all(x, EG.lessonLearned)
                                          if plain(lesson)))})
    return results


def _completeness(scores: list[Term], lacks: Iterable[Term], data: dict[str, Any]) -> dict[str, Any]:
    """The stored completeness score and what this run lacks: the ``eg:lacks`` its import stated, from the one
    definition ``validate``'s should-shapes check too (``expgraph.completeness``). A run that came in as RDF from
    elsewhere (no tracker) has no such statements: ``missing`` is None and the page points to ``validate``."""
    stated = {term.value for term in lacks}
    missing = [label for term, label in LACK_LABELS.items() if term in stated]  # in the definition's order
    missing += sorted(short(term) for term in stated - LACK_LABELS.keys())
    return {"score": plain(scores[0]) if scores else None,
            "missing": missing if missing or data["tracker"] else None}
