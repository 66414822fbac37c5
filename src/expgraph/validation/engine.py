"""Run the shipped SHACL shapes over the store: compiled SPARQL where possible, pySHACL for the rest.

The results of both routes are the same kind of record, keyed by (focus node, path, severity, constraint
component): what the parity tests compare. Validation runs on the data as stored, before any inference, because
inferred types could hide ``sh:class`` violations. The ontology and vocabulary graphs are part of the data graph
(``sh:class`` needs their ``rdfs:subClassOf`` and ``skos:Concept`` typing) on both routes alike.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TypeVar

import pyoxigraph
import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, QuerySolutions
from rdflib.namespace import RDFS, SH
from rdflib.util import guess_format

from expgraph.namespaces import GRAPHS
from expgraph.resources import SHIPPED_PREFIXES, shape_files
from expgraph.store import Store
from expgraph.validation.compiler import CONSTRAINT_PARAMETERS, Check, compile_shapes, component_iri
from expgraph.validation.shapes_graph import extract_shapes, node_shapes, path_key, shape_key

SEVERITIES = {"violation": str(SH.Violation), "warning": str(SH.Warning), "info": str(SH.Info)}
RANK = {str(SH.Violation): 3, str(SH.Warning): 2, str(SH.Info): 1}
#: Graphs whose data is furniture, not catalog content: kept in scope of a scoped validation.
FURNITURE_PREFIXES = SHIPPED_PREFIXES
#: Graphs loaded under this prefix (``expgraph load --graph <prefix>NAME shapes.ttl``) hold a project's own shapes:
#: every validation of the store uses them next to the shipped ones.
SHAPES_GRAPH_PREFIX = f"{GRAPHS}shapes/"
#: Checks run at once: one per core (pyoxigraph evaluates queries outside the GIL), a few at most.
WORKERS = min(4, os.cpu_count() or 1)
T = TypeVar("T")
#: A lookup per focus node costs about as much as hashing ten triples of the predicate (pyoxigraph 0.5, measured at
#: 10k and 100k runs): below that ratio, and for targets of up to this many focus nodes, checks look values up.
LOOKUP_RATIO = 10
LOOKUP_AT_MOST = 20_000


def severity_name(severity: str) -> str:
    """``http://www.w3.org/ns/shacl#Warning`` → ``warning``."""
    return severity.rsplit("#", 1)[-1].lower()


@dataclass(frozen=True)
class ValidationResult:
    focus: str  # an IRI, or a blank node or literal in N-Triples syntax
    path: str | None  # SPARQL property-path syntax, e.g. ``<http://www.w3.org/ns/prov#used>``
    severity: str
    component: str
    shape: str  # the source shape: an IRI, or ``_:label`` for a blank node of the shapes graph
    value: str | None = None  # the value node in N-Triples syntax, when there is one

    def key(self) -> tuple[str, str | None, str, str]:
        """What the parity with pySHACL compares (pySHACL may name nested shapes differently)."""
        return (self.focus, self.path, self.severity, self.component)


@dataclass(frozen=True)
class ShapeInfo:
    """What a report says about a shape: its name, message, group and order."""

    iri: str
    name: str
    description: str
    message: str
    severity: str
    group: str
    group_order: int
    order: float


@contextmanager
def _exact_literals() -> Iterator[None]:
    """Parse literals as written: rdflib would read "1"^^xsd:boolean as "true", but only the literal true turns
    sh:uniqueLang on (and sh:in, sh:hasValue name exact terms)."""
    before, rdflib.NORMALIZE_LITERALS = rdflib.NORMALIZE_LITERALS, False
    try:
        yield
    finally:
        rdflib.NORMALIZE_LITERALS = before


class Shapes:
    """The shapes graph (rdflib: it is small) and what reports need to know about each shape."""

    def __init__(self, graph: rdflib.Graph) -> None:
        self.graph = graph

    @classmethod
    def load(cls, paths: Iterable | None = None, *, defaults: bool = True, store: Store | None = None) -> Shapes:
        """The shipped shapes (unless ``defaults`` is false), the RDF files ``paths`` (any format rdflib knows,
        by suffix) and the shapes graphs kept in ``store`` (see ``SHAPES_GRAPH_PREFIX``)."""
        graph = rdflib.Graph()
        for path in [*(shape_files() if defaults else []), *(paths or [])]:
            try:
                with _exact_literals():
                    graph.parse(path, format=guess_format(str(path)) or "turtle")
            except FileNotFoundError:
                raise ValueError(f"{path}: no such shapes file") from None
            except Exception as error:  # rdflib raises several unrelated types for bad RDF
                raise ValueError(f"{path}: cannot parse shapes: {error}".splitlines()[0]) from None
        if store is not None:
            for name in sorted(store.active_graphs()):
                if name.startswith(SHAPES_GRAPH_PREFIX):
                    text = "\n".join(f"{t} ." for t in store.triples(NamedNode(name)))
                    graph.parse(data=text, format="nt")
        return cls(graph)

    def _text(self, node: rdflib.term.Node, predicate: rdflib.URIRef) -> str:
        values = list(self.graph.objects(node, predicate))
        english = [v for v in values if getattr(v, "language", None) in ("en", None)]
        return str((english or values or [""])[0])

    @cached_property
    def info(self) -> dict[str, ShapeInfo]:
        infos = {}
        shapes = set(node_shapes(self.graph)) | set(self.graph.objects(None, SH.property))
        for shape in shapes:
            group = self.graph.value(shape, SH.group)
            infos[shape_key(shape)] = ShapeInfo(
                iri=shape_key(shape),
                name=self._text(shape, SH.name) or shape_key(shape),
                description=self._text(shape, SH.description),
                message=self._text(shape, SH.message),
                severity=str(self.graph.value(shape, SH.severity) or SH.Violation),
                group=self._text(group, RDFS.label) if group is not None else "Other",
                group_order=int(self.graph.value(group, SH.order) or 99) if group is not None else 99,
                order=float(self.graph.value(shape, SH.order) or 0),
            )
        return infos

    def node(self, shape: str) -> rdflib.term.Node:
        """The shapes-graph node a result's ``shape`` names."""
        return rdflib.BNode(shape[2:]) if shape.startswith("_:") else rdflib.URIRef(shape)

    def describe(self, shape: str) -> ShapeInfo:
        return self.info.get(shape) or ShapeInfo(shape, shape, "", "", str(SH.Violation), "Other", 99, 0)


@dataclass(frozen=True)
class CheckTiming:
    """What one compiled check cost: its thread's CPU seconds (the query runs on that thread, so a busy machine
    distorts them least), wall seconds and results. What ``expgraph validate --timings`` lists."""

    shape: str
    component: str
    path: str | None
    cpu_seconds: float
    seconds: float
    results: int


@dataclass
class ValidationReport:
    results: list[ValidationResult]
    shapes: Shapes
    #: node shape → its focus nodes (only shapes with warnings: what the completeness score needs).
    focus_nodes: dict[str, list[str]] = field(default_factory=dict)
    #: node shape → constraints it declares, as (source shape, component, severity).
    constraints: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    #: top-level shapes the compiler delegated whole, with the reason, and the engine that validated them.
    fallback: dict[str, str] = field(default_factory=dict)
    fallback_engine: str | None = None
    seconds: float = 0.0
    #: the compiled checks' costs, in the checks' order
    timings: list[CheckTiming] = field(default_factory=list)

    def conforms(self, fail_on: str = "violation") -> bool:
        """True when no result is at or above ``fail_on`` (violation, warning or info)."""
        threshold = RANK[SEVERITIES[fail_on]]
        return all(RANK.get(r.severity, 3) < threshold for r in self.results)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for result in self.results:
            counts[severity_name(result.severity)] = counts.get(severity_name(result.severity), 0) + 1
        return counts

    def filtered(self, *, severities: Iterable[str] | None = None, focus: Iterable[str] | None = None
                 ) -> ValidationReport:
        """The same report with fewer results (the scores are unaffected: they are computed on all)."""
        wanted = {SEVERITIES[s] for s in severities} if severities else None
        nodes = set(focus) if focus is not None else None
        results = [r for r in self.results
                   if (wanted is None or r.severity in wanted) and (nodes is None or r.focus in nodes)]
        return ValidationReport(results, self.shapes, self.focus_nodes, self.constraints, self.fallback,
                                self.fallback_engine, self.seconds, self.timings)


def declared_constraints(graph: rdflib.Graph, node_shape: rdflib.term.Node) -> list[tuple[str, str, str]]:
    """(source shape, component, severity) of each constraint a node shape declares, itself or via sh:property."""
    out = []
    for shape in [node_shape, *graph.objects(node_shape, SH.property)]:
        severity = str(graph.value(shape, SH.severity) or SH.Violation)
        for predicate in sorted(set(graph.predicates(shape))):
            if predicate == SH.qualifiedValueShape:
                if graph.value(shape, SH.qualifiedMinCount) is not None:
                    out.append((shape_key(shape), str(SH.QualifiedMinCountConstraintComponent), severity))
                if graph.value(shape, SH.qualifiedMaxCount) is not None:
                    out.append((shape_key(shape), str(SH.QualifiedMaxCountConstraintComponent), severity))
            elif predicate in CONSTRAINT_PARAMETERS:
                out.append((shape_key(shape), component_iri(predicate), severity))
    return out


def data_graphs(store: Store, graphs: list[NamedNode] | None) -> list[NamedNode] | None:
    """The logical graphs a scoped validation sees: the given ones plus the ontology and vocabularies."""
    if graphs is None:
        return None
    furniture = [NamedNode(name) for name in store.active_graphs() if name.startswith(FURNITURE_PREFIXES)]
    return list(graphs) + [g for g in furniture if g not in graphs]


def _rows(store: Store, sparql: str, graphs: list[NamedNode] | None, **bindings) -> QuerySolutions:
    result = store.query(sparql, bindings=bindings or None, graphs=graphs)
    assert isinstance(result, QuerySolutions)
    return result


def validate(store: Store, shapes: Shapes | None = None, *, graphs: list[NamedNode] | None = None,
             focus_graph: NamedNode | None = None, workers: int = WORKERS) -> ValidationReport:
    """Validate the active graphs (or ``graphs`` plus the furniture) against the shapes (by default the shipped
    ones and the store's shapes graphs). With ``focus_graph``, only the focus nodes that graph describes (its
    subjects) are validated, with the whole catalog as data: what an import checks. ``workers``: checks run at
    once (see :func:`_in_parallel`)."""
    started = time.perf_counter()
    shapes = shapes or Shapes.load(store=store)
    within = None
    if focus_graph is not None:
        active = store.active_graphs()
        within = active[focus_graph.value].version.value if focus_graph.value in active else focus_graph.value
    scope = data_graphs(store, graphs)
    cache: dict[str, list[str]] = {}

    def subclasses(cls: str) -> list[str]:
        if cls not in cache:
            rows = _rows(store, f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* <{cls}> }}", scope)
            cache[cls] = sorted({row["c"].value for row in rows if isinstance(row["c"], NamedNode)} | {cls})
        return cache[cls]

    # an import's focus nodes are few, but looking their values up was measured slower than the set-at-a-time
    # forms there (docs/validation.md, Performance): lookups only for small targets of a whole-catalog validation
    few = _few(store, scope) if within is None else None
    compiled = compile_shapes(shapes.graph, subclasses, within, few, exact_casts=store.exact_casts)
    # The whole catalog is validated over all active graphs at once (the store answers that fastest: one union
    # instead of a list of graphs). A scoped validation looks for focus nodes and their own triples in the given
    # graphs only; checks that test a value's type (or follow an inverse path) also see the furniture.
    catalog = None if graphs is None else list(graphs)
    # A shape whose targets also occur in the furniture (say, prov:Agent) sees it too.
    auxiliary = [] if catalog is None or scope is None else [g for g in scope if g not in catalog]
    seen_elsewhere = {shape for shape, target in compiled.targets.items()
                    if auxiliary and store.query(f"ASK {{ {target} }}", graphs=auxiliary)}
    jobs = [(check, scope if check.needs_furniture or check.node_shape in seen_elsewhere or "^" in (check.path or "")
             else catalog) for check in compiled.checks]
    # The focus nodes of shapes with warnings (what the scores need), one query per distinct target and scope,
    # run on the same threads as the checks.
    constraints = {shape_key(shape): declared_constraints(shapes.graph, shape) for shape in node_shapes(shapes.graph)}
    warned = {key: (compiled.targets[key], scope if key in seen_elsewhere else catalog)
              for key, declared in constraints.items()
              if key in compiled.targets and any(c[2] == str(SH.Warning) for c in declared)}
    targets = list(dict.fromkeys((target, tuple(where) if where is not None else None)
                                 for target, where in warned.values()))
    grouped = [number for number, (check, _) in enumerate(jobs) if "GROUP BY" in check.sparql]  # counts: costly
    done = _in_parallel(workers, store, [partial(_run_check, store, *job) for job in jobs]
                        + [partial(_focus_nodes, store, *target) for target in targets], first=grouped)
    results = [result for batch, _ in done[:len(jobs)] for result in batch]
    focus = dict(zip(targets, done[len(jobs):], strict=True))
    engine = None
    if compiled.fallback:
        delegated, engine = delegate(store, scope, shapes.graph, list(compiled.fallback))
        if focus_graph is not None:
            mentioned = {_text(row["n"]) for row in _rows(
                store, "SELECT DISTINCT ?n WHERE { ?n ?p ?o }", [focus_graph])}
            delegated = [r for r in delegated if r.focus in mentioned]
        results += delegated
    report = ValidationReport(results, shapes, fallback=compiled.fallback, fallback_engine=engine,
                              constraints=constraints, timings=[timing for _, timing in done[:len(jobs)]])
    for key, (target, where) in warned.items():
        report.focus_nodes[key] = focus[target, tuple(where) if where is not None else None]
    report.seconds = time.perf_counter() - started
    return report


def _few(store: Store, scope: list[NamedNode] | None) -> Callable[[str, str], bool]:
    """Whether a target has under ``LOOKUP_AT_MOST`` focus nodes and its predicate over ``LOOKUP_RATIO`` times as
    many triples: then one lookup per focus node costs less than reading the whole predicate. Counted with LIMITs,
    so a large catalog is never read whole for this."""
    counts: dict[str, int] = {}

    def count(sparql: str) -> int:
        if sparql not in counts:
            rows = _rows(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ {sparql} }}", scope)
            counts[sparql] = int(next(iter(rows))["n"].value)
        return counts[sparql]

    def few(target: str, predicate: str) -> bool:
        focus = count(f"SELECT ?this WHERE {{ {target} }} LIMIT {LOOKUP_AT_MOST}")
        if focus >= LOOKUP_AT_MOST:
            return False
        limit = LOOKUP_RATIO * focus + 1
        return count(f"SELECT ?s WHERE {{ ?s <{predicate}> ?o }} LIMIT {limit}") >= limit

    return few


def _in_parallel(workers: int, store: Store, calls: list[Callable[[], T]], first: Iterable[int] = ()) -> list[T]:
    """Each call's answer, in order. pyoxigraph evaluates a query without holding the GIL, so the calls (each
    running and reading its own queries) run on ``workers`` threads at once; the calls numbered ``first`` (the
    likely longest) start first, so that no long one is left running alone at the end."""
    if workers <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    order = list(dict.fromkeys([*first, *range(len(calls))]))
    store.active_graphs()  # the registry read once, before the threads share it
    with ThreadPoolExecutor(workers) as pool:
        answers = dict(zip(order, pool.map(lambda number: calls[number](), order), strict=True))
    return [answers[number] for number in range(len(calls))]


def _focus_nodes(store: Store, target: str, scope: tuple[NamedNode, ...] | None) -> list[str]:
    """The focus nodes of a target pattern, sorted."""
    rows = _rows(store, f"SELECT ?this WHERE {{ {target} }}", list(scope) if scope is not None else None)
    return sorted({_text(row["this"]) for row in rows})


def _run_check(store: Store, check: Check, scope: list[NamedNode] | None
               ) -> tuple[list[ValidationResult], CheckTiming]:
    """One result per distinct row: duplicates within a check (a triple held by two graphs) go; identical
    results of two constraints (two sh:class of one shape) or two rows (sh:uniqueLang's languages) stay."""
    cpu, wall = time.thread_time(), time.perf_counter()
    rows = _rows(store, check.sparql, scope)
    names = [variable.value for variable in rows.variables]
    this_at, value_at = names.index("this"), names.index("value") if "value" in names else None
    results = []
    # a row as a tuple of terms: they hash and compare as the very terms, without writing each out as text
    for row in dict.fromkeys(map(tuple, rows)):
        value = row[value_at] if value_at is not None else None
        results.append(ValidationResult(_text(row[this_at]), check.path, check.severity, check.component,
                                        check.shape, str(value) if value is not None else None))
    return results, CheckTiming(check.shape, check.component, check.path, time.thread_time() - cpu,
                                time.perf_counter() - wall, len(results))


def _text(term: NamedNode | BlankNode | Literal) -> str:
    """A focus node as results hold it: an IRI as is, anything else in N-Triples syntax."""
    return term.value if isinstance(term, NamedNode) else str(term)


# -- the reference route: pySHACL on an rdflib graph -------------------------------------------------------------


def export_graph(store: Store, graphs: list[NamedNode] | None = None) -> rdflib.Graph:
    """The data as one rdflib graph (what pySHACL validates): all active graphs merged, or the given ones."""
    graph = rdflib.Graph()
    if graphs is None:
        buffer = io.BytesIO()
        store.dump(buffer, "ntriples")
        graph.parse(data=buffer.getvalue(), format="nt")
        return graph
    for name in graphs:
        text = "\n".join(f"{t} ." for t in store.triples(name))
        graph.parse(data=text, format="nt")
    return graph


def delegate(store: Store, graphs: list[NamedNode] | None, shapes: rdflib.Graph, use_shapes: list[str]
             ) -> tuple[list[ValidationResult], str]:
    """Validate the shapes the compiler delegated, and say with what: pyshacl-turbo (a Rust engine with pySHACL's
    results, validating a pyoxigraph store without the rdflib parse) when installed, else pySHACL."""
    try:
        import pyshacl_turbo
    except ImportError:
        return pyshacl_results(export_graph(store, graphs), shapes, use_shapes=use_shapes), "pySHACL"
    buffer = io.BytesIO()
    if graphs is None:
        store.dump(buffer, "ntriples")
    else:
        buffer.write("\n".join(f"{t} ." for name in graphs for t in store.triples(name)).encode())
    data = pyoxigraph.Store()
    data.bulk_load(buffer.getvalue(), pyoxigraph.RdfFormat.N_TRIPLES)
    return pyshacl_results(data, shapes, use_shapes=use_shapes, validator=pyshacl_turbo.validate), "pyshacl-turbo"


def pyshacl_results(data: rdflib.Graph | pyoxigraph.Store, shapes: rdflib.Graph, *,
                    use_shapes: list[str] | None = None, validator: Callable | None = None
                    ) -> list[ValidationResult]:
    """Validate with pySHACL (no inference) and read its report into our result records.

    With ``use_shapes``, only those top-level shapes are validated: pySHACL gets them and what they refer to,
    and the results of any other targeted shape among those (a shape used through ``sh:node`` may have targets
    of its own, validated elsewhere) are dropped.
    """
    import pyshacl

    if use_shapes is not None:
        roots = [Shapes(shapes).node(s) for s in use_shapes]
        mine = {shape_key(s) for s in _property_closure(shapes, roots)}
        shapes = extract_shapes(shapes, roots)
    # inplace: pySHACL would otherwise copy the data graph first (pyshacl-turbo reads the store as it is)
    _, report, _ = (validator or pyshacl.validate)(data, shacl_graph=shapes, inference="none", allow_infos=True,
                                                   allow_warnings=True, inplace=validator is None)
    results = read_report(report)
    return results if use_shapes is None else [r for r in results if r.shape in mine]


def ntriples(node: rdflib.term.Node) -> str:
    """An rdflib node in N-Triples syntax, as the store writes it (rdflib's n3() may use long quotes)."""
    if isinstance(node, rdflib.Literal):
        datatype = None if node.datatype is None or node.language else NamedNode(str(node.datatype))
        return str(Literal(str(node), language=node.language, datatype=datatype))
    return f"_:{node}" if isinstance(node, rdflib.BNode) else f"<{node}>"


def _property_closure(shapes: rdflib.Graph, roots: list[rdflib.term.Node]) -> set[rdflib.term.Node]:
    """``roots`` and the property shapes under them, nested or not: the sources of their top-level results."""
    seen, todo = set(), list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += shapes.objects(node, SH.property)
    return seen


def read_report(report: rdflib.Graph) -> list[ValidationResult]:
    """The results of a standard ``sh:ValidationReport`` graph (its ``sh:result``s: not the ``sh:detail``s)."""
    results = []
    for node in report.objects(None, SH.result):
        path = report.value(node, SH.resultPath)
        value = report.value(node, SH.value)
        focus = report.value(node, SH.focusNode)
        results.append(ValidationResult(
            focus=str(focus) if isinstance(focus, rdflib.URIRef) else ntriples(focus),
            path=path_key(report, path) if path is not None else None,
            severity=str(report.value(node, SH.resultSeverity)),
            component=str(report.value(node, SH.sourceConstraintComponent)),
            shape=shape_key(report.value(node, SH.sourceShape)),
            value=ntriples(value) if value is not None else None,
        ))
    return results


def reference_validate(store: Store, shapes: Shapes | None = None) -> list[ValidationResult]:
    """The pySHACL route: export the store, parse it into rdflib, validate. Slow; for parity tests and benchmarks."""
    shapes = shapes or Shapes.load()
    return pyshacl_results(export_graph(store), shapes.graph)
