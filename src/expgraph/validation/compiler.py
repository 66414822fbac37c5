"""SHACL shapes → SPARQL SELECT queries that find the violations, run inside the store.

Absence is tested with ``MINUS`` rather than ``FILTER NOT EXISTS``: both mean the same here (the right side
shares only ``?this`` or ``?value`` with the left), and pyoxigraph evaluates ``MINUS`` once as an anti-join
instead of once per focus node — 20 to 50 times faster on a 10k-run catalog. The same forms serve a validation
of the focus nodes of one graph (``within``: what an import checks): starting from those focus nodes and looking
up each one's values and absences (``FILTER NOT EXISTS``, values joined to the target first) was measured 1.5x
slower at 1k runs and over 2x slower at 100k, as pyoxigraph evaluates such filters row by row at a high cost.

pySHACL is the reference, but it walks an rdflib graph one node at a time, which at catalog scale means minutes and
gigabytes. The shapes we ship use a small part of SHACL Core; each top-level constraint of that part becomes one
SELECT returning ``?this`` (the focus node) and ``?value`` for each violation. A node shape using anything outside
the part this module knows is not compiled: it is listed in ``CompiledShapes.fallback`` with the reason, and the
engine validates it with pySHACL instead, so nothing is ever silently skipped.

Supported: targets (class, node, subjectsOf, objectsOf, implicit class targets); top-level node and property
shapes, named by IRI or blank node (``_:label``, see ``shape_key``); paths (predicate, inverse, sequence, alternative,
zero/one-or-more); ``minCount``, ``maxCount``, ``datatype``, ``class``, ``nodeKind``, ``in``, ``hasValue``,
``pattern``/``flags``, ``min/maxInclusive``, ``min/maxExclusive``, ``min/maxLength``, ``node``, ``or``, ``and``,
``not``, ``languageIn``, ``uniqueLang``, ``qualifiedValueShape`` with ``qualifiedMinCount``/``qualifiedMaxCount``;
``deactivated``. Everything else (``xone``, ``closed``, ``equals``, ``disjoint``, ``lessThan``,
``lessThanOrEquals``, ``qualifiedValueShapesDisjoint``, SPARQL constraints, nested property shapes, ...) is
delegated, whole shape by whole shape, and named.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from expgraph.validation.shapes_graph import SHAPE_TARGETS, Unsupported, is_class, node_shapes, path_key, shape_key

#: Predicates of a shape that do not constrain anything.
_NON_VALIDATING = {
    RDF.type, RDFS.label, RDFS.comment, RDFS.isDefinedBy, SH.name, SH.description, SH.message, SH.severity,
    SH.group, SH.order, SH.defaultValue, SH.deactivated, SH.flags, SH.path, SH.property, *SHAPE_TARGETS,
    SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.qualifiedValueShapesDisjoint,
}
_VALUE_COMPARISONS = {
    SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<",
    SH.minLength: ">=", SH.maxLength: "<=",
}
_NODE_KINDS = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
#: Datatypes whose lexical forms SPARQL can check with a cast (an ill-formed literal violates sh:datatype).
_CASTABLE = {XSD.dateTime, XSD.integer, XSD.double, XSD.decimal, XSD.boolean, XSD.float, XSD.date, XSD.time,
             XSD.duration}
#: Datatypes the store never keeps for a well-formed literal ("5"^^xsd:byte is stored as "5"^^xsd:integer): a
#: stored literal of one of these is ill-formed, and every value violates sh:datatype with them, as stored.
_REWRITTEN = {XSD.byte, XSD.short, XSD.int, XSD.long, XSD.unsignedByte, XSD.unsignedShort, XSD.unsignedInt,
              XSD.unsignedLong, XSD.nonNegativeInteger, XSD.positiveInteger, XSD.negativeInteger,
              XSD.nonPositiveInteger, XSD.dateTimeStamp}


@dataclass(frozen=True)
class Check:
    """One compiled constraint: ``sparql`` selects ``?this`` (and ``?value``) for every violation."""

    node_shape: str
    shape: str  # the source shape (a property shape, or the node shape itself)
    component: str
    path: str | None
    severity: str
    sparql: str
    #: whether the query tests the types of value nodes (sh:class), which may need the ontology and vocabularies
    needs_furniture: bool = True


@dataclass
class CompiledShapes:
    checks: list[Check] = field(default_factory=list)
    #: node shape IRI → a SPARQL group pattern binding ``?this`` to each focus node.
    targets: dict[str, str] = field(default_factory=dict)
    #: node shapes left to pySHACL, with the reason.
    fallback: dict[str, str] = field(default_factory=dict)


def _term(node: Node, *, exact: bool = True) -> str:
    """A constant of the shapes graph in SPARQL. Where it must be the very term (``exact``: sh:in, sh:hasValue,
    sh:targetNode), refused when the store would read it as another literal."""
    if isinstance(node, BNode):
        raise Unsupported("blank node as a constraint parameter")
    if exact and isinstance(node, Literal) and not _canonical(node):
        raise Unsupported(f"the store would rewrite the literal {node.n3()}")
    return node.n3()


def _same(variable: str, node: Node) -> str:
    """``variable`` is the very term ``node``. For an IRI that is ``=`` (never an error between an IRI and any
    term); Virtuoso answers ``sameTerm(?v, <iri>)`` with an error, which would make every value a violation."""
    if isinstance(node, URIRef):
        return f"({variable} = {_term(node)})"
    return f"sameTerm({variable}, {_term(node)})"


def _canonical(literal: Literal) -> bool:
    """Whether the store keeps this literal as written (it rewrites "4.0"^^xsd:decimal as "4", xsd:byte as
    xsd:integer, ...): a literal it rewrites would not be the same term as the one the shapes name."""
    import pyoxigraph

    datatype = None if literal.datatype is None or literal.language else pyoxigraph.NamedNode(str(literal.datatype))
    term = pyoxigraph.Literal(str(literal), language=literal.language, datatype=datatype)
    store = pyoxigraph.Store()
    store.add(pyoxigraph.Quad(pyoxigraph.NamedNode("urn:s"), pyoxigraph.NamedNode("urn:p"), term))
    return str(next(iter(store)).object) == str(term)


def _datatype_violation(datatype: Node, v: str, exact_casts: bool = False) -> str:
    """True when ``v`` is not a well-formed literal of ``datatype``.

    The definition asks ``datatype(?v)``, which pyoxigraph pays for on every value (it builds the IRI term each
    time). On a store with ``exact_casts`` (``Store.exact_casts``: pyoxigraph's), a cast to a castable datatype
    gives back the very term for a well-formed literal of it, fails on an ill-formed one and yields another term for
    anything else, and ``STR(?v)`` is ``?v`` exactly for an xsd:string literal: one cheap test says it all
    (``tests/test_datatype_forms.py`` checks that it selects what the definition selects)."""
    if datatype in _REWRITTEN:
        return "true"
    if exact_casts and datatype == XSD.string:
        return f"!COALESCE(sameTerm(STR({v}), {v}), false)"
    if exact_casts and datatype in _CASTABLE:
        return f"!COALESCE(sameTerm({_term(datatype)}({v}), {v}), false)"
    plain = f"(!isLiteral({v}) || datatype({v}) != {_term(datatype)}"
    if datatype in _CASTABLE:
        plain += f' || sameTerm(COALESCE({_term(datatype)}(STR({v})), "ill"), "ill")'
    return plain + ")"


class _Compiler:
    def __init__(self, graph: Graph, subclasses: Callable[[str], list[str]], within: str | None = None,
                 few: Callable[[str, str], bool] | None = None, exact_casts: bool = False) -> None:
        self.g = graph
        self.subclasses = subclasses
        self.within = within
        self.few = few
        self.exact_casts = exact_casts
        self._fresh = itertools.count()

    def var(self) -> str:
        return f"?_v{next(self._fresh)}"

    def one(self, subject: Node, predicate: URIRef) -> Node | None:
        values = list(self.g.objects(subject, predicate))
        if len(values) > 1:
            raise Unsupported(f"{predicate.n3()} given more than once")
        return values[0] if values else None

    def check_known(self, shape: Node) -> None:
        for predicate in set(self.g.predicates(shape)):
            known = predicate in _NON_VALIDATING or predicate in CONSTRAINT_PARAMETERS
            if predicate.startswith(str(SH)) and not known:
                raise Unsupported(f"{predicate.n3(self.g.namespace_manager)} is not compiled")
        if (shape, SH.qualifiedValueShapesDisjoint, Literal(True)) in self.g:
            raise Unsupported("sh:qualifiedValueShapesDisjoint is not compiled")

    # -- value-level violations: an expression true when the value node violates the constraint ---------------

    def typed(self, v: str, cls: Node, *, lookup: bool = False) -> str:
        """A pattern matching when ``v`` is a SHACL instance of ``cls``: a constant when it has no subclasses. Where
        it is tested per value node (``lookup``: inside EXISTS), one branch per class:
        pyoxigraph evaluated a VALUES join there about 200 times slower (all instances of the classes each time)."""
        classes = self.subclasses(str(cls)) or [str(cls)]
        if len(classes) == 1:
            return f"{v} a <{classes[0]}> ."
        if lookup:
            return " UNION ".join(f"{{ {v} a <{c}> }}" for c in classes)
        t = self.var()
        return f"{v} a {t} . VALUES {t} {{ {self.class_set(cls)} }}"

    def class_set(self, cls: Node) -> str:
        return " ".join(f"<{c}>" for c in self.subclasses(str(cls)) or [str(cls)])

    def violation(self, component: URIRef, param: Node, v: str, shape: Node) -> str:
        if component == SH["class"]:
            return f"NOT EXISTS {{ {self.typed(v, param, lookup=True)} }}"
        if component == SH.datatype:
            return _datatype_violation(param, v, self.exact_casts)
        if component == SH.nodeKind:
            if param not in _NODE_KINDS:
                raise Unsupported(f"node kind {param}")
            return "!" + _NODE_KINDS[param].format(v=v)
        if component == SH["in"]:
            members = list(Collection(self.g, param))
            if not members:
                return "true"
            return "!(" + " || ".join(_same(v, m) for m in members) + ")"
        if component == SH.pattern:
            flags = self.one(shape, SH.flags)
            args = f"{Literal(str(param)).n3()}" + (f", {Literal(str(flags)).n3()}" if flags is not None else "")
            return f"(isBlank({v}) || !REGEX(STR({v}), {args}))"
        if component in (SH.minLength, SH.maxLength):
            op = _VALUE_COMPARISONS[component]
            return f"(isBlank({v}) || !COALESCE(STRLEN(STR({v})) {op} {int(param)}, false))"
        if component in _VALUE_COMPARISONS:
            return f"!COALESCE({v} {_VALUE_COMPARISONS[component]} {_term(param, exact=False)}, false)"
        if component == SH.node:
            return f"!({self.conforms(param, v)})"
        if component == SH["not"]:
            return f"({self.conforms(param, v)})"
        if component in (SH["or"], SH["and"]):
            joiner = " || " if component == SH["or"] else " && "
            members = [self.conforms(m, v) for m in Collection(self.g, param)]
            return "!(" + (joiner.join(members) or ("false" if component == SH["or"] else "true")) + ")"
        if component == SH.languageIn:
            tags = [f"langMatches(lang({v}), {Literal(str(t)).n3()})" for t in Collection(self.g, param)]
            return f"(!isLiteral({v}) || !({' || '.join(tags) or 'false'}))"
        if component == SH.hasValue:  # node-level only; property-level hasValue is a count-like check
            return f"!{_same(v, param)}"
        raise Unsupported(f"{component} is not compiled")

    def conforms(self, shape: Node, v: str) -> str:
        """An expression true when ``v`` conforms to ``shape`` (for sh:node, sh:or, sh:and, sh:not members)."""
        self.check_known(shape)
        if (shape, SH.deactivated, Literal(True)) in self.g:
            return "true"
        parts = []
        path = self.one(shape, SH.path)
        for predicate, param in self.constraints(shape):
            if path is None:
                parts.append(f"!({self.violation(predicate, param, v, shape)})")
                continue
            p, w = path_key(self.g, path), self.var()
            if predicate == SH.minCount and int(param) <= 1:
                parts.append(f"EXISTS {{ {v} {p} {w} }}" if int(param) == 1 else "true")
            elif predicate == SH.hasValue:
                parts.append(f"EXISTS {{ {v} {p} {w} FILTER({_same(w, param)}) }}")
            elif predicate in _COUNTS or predicate == SH.uniqueLang:
                raise Unsupported(f"{predicate} inside sh:node/sh:or/sh:and/sh:not")
            else:
                parts.append(f"NOT EXISTS {{ {v} {p} {w} FILTER({self.violation(predicate, param, w, shape)}) }}")
        for prop in self.g.objects(shape, SH.property):
            parts.append(f"({self.conforms(prop, v)})")
        return " && ".join(parts) or "true"

    def existence(self, shape: Node) -> tuple[bool, str] | None:
        """``(True, P)`` when ``?this`` conforms to ``shape`` exactly when the pattern P matches, ``(False, P)`` when
        exactly when it does not; None when the shape is more than one such test (a minCount 1 or hasValue on a
        path, possibly under sh:not, sh:node or a single sh:property)."""
        self.check_known(shape)
        if (shape, SH.deactivated, Literal(True)) in self.g:
            return None
        constraints, nested = list(self.constraints(shape)), list(self.g.objects(shape, SH.property))
        if len(constraints) + len(nested) != 1:
            return None
        path = self.one(shape, SH.path)
        if path is not None:
            if nested:
                return None
            predicate, param = constraints[0]
            if predicate == SH.minCount and int(param) == 1:
                return True, f"?this {path_key(self.g, path)} {self.var()} ."
            if predicate == SH.hasValue:
                return True, f"?this {path_key(self.g, path)} {_term(param)} ."
            return None
        if nested:
            return self.existence(nested[0])
        predicate, param = constraints[0]
        inner = self.existence(param) if predicate in (SH["not"], SH.node) else None
        if inner is None:
            return None
        return (not inner[0], inner[1]) if predicate == SH["not"] else inner

    def violating(self, component: URIRef, param: Node) -> str | None:
        """For sh:or, sh:not and sh:node made of existence tests on the focus node (see :meth:`existence`), the
        patterns a violating focus node matches (joins) and must not match (``MINUS``): evaluated once over the
        catalog instead of EXISTS filters evaluated per focus node (1.6x faster at 100k runs). None otherwise."""
        if component not in (SH["or"], SH["not"], SH.node):
            return None
        if component == SH["or"]:
            members = [self.existence(m) for m in Collection(self.g, param)]
            if not members or None in members:
                return None
            needed = [(not positive, pattern) for positive, pattern in members]  # each member fails
        else:
            tested = self.existence(param)
            if tested is None:
                return None
            needed = [tested if component == SH["not"] else (not tested[0], tested[1])]
        return " ".join([pattern for must, pattern in needed if must]
                        + [f"MINUS {{ {pattern} }}" for must, pattern in needed if not must])

    def constraints(self, shape: Node) -> Iterable[tuple[URIRef, Node]]:
        for predicate, param in sorted(self.g.predicate_objects(shape)):
            if predicate in CONSTRAINT_PARAMETERS:
                yield predicate, param

    # -- top level ---------------------------------------------------------------------------------------------

    def target(self, shape: Node) -> str:
        branches = []
        for cls in self.g.objects(shape, SH.targetClass):
            t = self.var()
            branches.append(f"{{ ?this a {t} . VALUES {t} {{ {self.class_set(cls)} }} }}")
        nodes = list(self.g.objects(shape, SH.targetNode))
        if nodes:
            branches.append("{ VALUES ?this { " + " ".join(_term(n) for n in nodes) + " } }")
        for predicate in self.g.objects(shape, SH.targetSubjectsOf):
            branches.append(f"{{ ?this {_term(predicate)} {self.var()} }}")
        for predicate in self.g.objects(shape, SH.targetObjectsOf):
            branches.append(f"{{ {self.var()} {_term(predicate)} ?this }}")
        classes = list(self.g.objects(shape, SH.targetClass))
        if is_class(self.g, shape) and isinstance(shape, URIRef):  # an implicit class target
            t = self.var()
            branches.append(f"{{ ?this a {t} . VALUES {t} {{ {self.class_set(shape)} }} }}")
            classes.append(shape)
        if len(branches) == 1 and len(classes) == 1 and len(self.subclasses(str(classes[0]))) <= 1:
            return f"?this a <{classes[0]}> ."  # the common case, and much faster than a sub-select
        return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(branches) + " } }"

    def severity(self, shape: Node) -> str:
        return str(self.g.value(shape, SH.severity) or SH.Violation)

    def node_shape(self, shape: URIRef | BNode) -> tuple[str, list[Check]]:
        """The checks of a top-level shape: a node shape, or a property shape with targets of its own."""
        self.check_known(shape)
        target = self.target(shape)
        if self.within is not None:  # only the focus nodes a graph describes (the graph an import just wrote)
            target = f"{{ SELECT DISTINCT ?this WHERE {{ GRAPH <{self.within}> {{ ?this ?_fp ?_fo }} }} }} {target}"
        if (shape, SH.path, None) in self.g:
            return target, self.property_shape(shape, shape, target)
        checks = []
        for predicate, param in self.constraints(shape):
            if predicate in _COUNTS or predicate == SH.uniqueLang:
                raise Unsupported(f"{predicate} on a node shape")
            value = "" if predicate == SH.hasValue else "(?this AS ?value)"  # sh:hasValue results have no value
            patterns = self.violating(predicate, param)
            if patterns is not None:
                # the target as a sub-select: pyoxigraph then joins it to the patterns with one hash table instead
                # of one index lookup per focus node (a loop it prefers for a bare pattern, several times slower)
                query = f"SELECT DISTINCT ?this {value} WHERE {{ {{ SELECT ?this WHERE {{ {target} }} }} {patterns} }}"
            else:
                violation = self.violation(predicate, param, "?this", shape)
                query = f"SELECT ?this {value} WHERE {{ {target} FILTER({violation}) }}"
            checks.append(_check(shape_key(shape), shape_key(shape), component_iri(predicate), None,
                                 self.severity(shape), query, target))
        for prop in self.g.objects(shape, SH.property):
            checks += self.property_shape(shape, prop, target)
        return target, checks

    def property_shape(self, node_shape: Node, shape: Node, target: str) -> list[Check]:
        self.check_known(shape)
        if (shape, SH.deactivated, Literal(True)) in self.g:
            return []
        path = self.one(shape, SH.path)
        if path is None:
            raise Unsupported(f"property shape {shape} has no sh:path")
        p = path_key(self.g, path)
        checks = []

        def add(predicate: URIRef, query: str) -> None:
            checks.append(_check(shape_key(node_shape), shape_key(shape), component_iri(predicate), p,
                                 self.severity(shape), query, target))

        # Value-level checks (and maxCount) on a plain predicate find the offending values first, over the whole
        # predicate, and only then join the few offenders to the target: checking every focus node's values one
        # lookup at a time was twice as slow in total at 10k and 100k runs, with identical results. (A path such as
        # p* would match every node when read on its own, so other paths start from the target.) Where the target
        # has far fewer focus nodes than the predicate has triples (``few``: a dozen environments, thousands of
        # labels), looking up each focus node's values is the cheaper plan, for minCount too.
        lookup = isinstance(path, URIRef) and self.few is not None and self.few(target, str(path))
        whole_predicate = isinstance(path, URIRef) and not lookup

        def values(constraint: str) -> str:
            """The target's (?this, ?value) pairs where ``constraint`` (a pattern or FILTER on ?value) holds."""
            if whole_predicate:
                return f"{{ SELECT ?this ?value WHERE {{ ?this {p} ?value {constraint} }} }} {target}"
            return f"{target} ?this {p} ?value . {constraint}"

        for predicate, param in self.constraints(shape):
            if predicate == SH.minCount:
                n = int(param)
                if n == 1 and lookup:  # a left join pyoxigraph evaluates as one lookup per focus node
                    add(predicate, f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {p} ?_any }} "
                                   "FILTER(!BOUND(?_any)) }")
                elif n == 1:
                    add(predicate, f"SELECT ?this WHERE {{ {target} MINUS {{ ?this {p} ?_any }} }}")
                elif n > 1:
                    add(predicate, f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {p} ?value }} }} "
                                   f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})")
            elif predicate == SH.maxCount:
                too_many = f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {int(param)})"
                if whole_predicate:
                    add(predicate, f"SELECT ?this WHERE {{ {{ SELECT ?this WHERE {{ ?this {p} ?value }} {too_many} }} "
                                   f"{target} }}")
                else:
                    add(predicate, f"SELECT ?this WHERE {{ {target} ?this {p} ?value }} {too_many}")
            elif predicate == SH.hasValue:
                add(predicate, f"SELECT ?this WHERE {{ {target} MINUS "
                               f"{{ ?this {p} ?_any FILTER({_same('?_any', param)}) }} }}")
            elif predicate == SH.uniqueLang:
                # only the literal true activates it (not "1"^^xsd:boolean: W3C test uniqueLang-002, where pySHACL
                # differs); one result per language tag (case-insensitive) used twice or more
                if param == Literal("true", datatype=XSD.boolean) and str(param) == "true":
                    add(predicate, f"SELECT ?this ?_lang WHERE {{ {target} ?this {p} ?value "
                                   "FILTER(lang(?value) != \"\") } GROUP BY ?this (LCASE(lang(?value)) AS ?_lang) "
                                   "HAVING (COUNT(DISTINCT ?value) > 1)")
            elif predicate in (SH.qualifiedValueShape,):
                checks += self.qualified(node_shape, shape, p, param, target)
            elif predicate == SH["class"]:
                untyped = "MINUS { " + self.typed("?value", param) + " }"
                add(predicate, f"SELECT DISTINCT ?this ?value WHERE {{ {values(untyped)} }}")
            else:
                offending = "FILTER(" + self.violation(predicate, param, "?value", shape) + ")"
                add(predicate, f"SELECT DISTINCT ?this ?value WHERE {{ {values(offending)} }}")
        for nested in self.g.objects(shape, SH.property):
            raise Unsupported(f"property shape {nested} nested in a property shape")
        return checks

    def qualified(self, node_shape: Node, shape: Node, p: str, qshape: Node, target: str) -> list[Check]:
        conforming = f"?this {p} ?value . FILTER({self.conforms(qshape, '?value')})"
        only = set(self.g.predicate_objects(qshape)) - {(RDF.type, SH.NodeShape)}
        if len(only) == 1 and next(iter(only))[0] == SH["class"]:  # a join is much faster than a filter
            conforming = f"?this {p} ?value . {self.typed('?value', next(iter(only))[1])}"
        checks = []
        low, high = self.one(shape, SH.qualifiedMinCount), self.one(shape, SH.qualifiedMaxCount)
        if low is not None:
            query = (f"SELECT ?this WHERE {{ {target} OPTIONAL {{ {conforming} }} }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {int(low)})")
            if int(low) == 1:
                query = f"SELECT ?this WHERE {{ {target} MINUS {{ {conforming} }} }}"
            checks.append(_check(shape_key(node_shape), shape_key(shape),
                                 str(SH.QualifiedMinCountConstraintComponent), p, self.severity(shape), query, target))
        if high is not None:
            query = (f"SELECT ?this WHERE {{ {target} {conforming} }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {int(high)})")
            checks.append(_check(shape_key(node_shape), shape_key(shape),
                                 str(SH.QualifiedMaxCountConstraintComponent), p, self.severity(shape), query, target))
        return checks


def _check(node_shape: str, shape: str, component: str, path: str | None, severity: str, query: str,
           target: str) -> Check:
    """A Check, noting whether its constraint (beyond the target) tests the rdf:type of value nodes."""
    constraint = query.replace(target, "")
    needs_furniture = " a ?_v" in constraint or " a <" in constraint
    return Check(node_shape, shape, component, path, severity, query, needs_furniture)


_COUNTS = {SH.minCount, SH.maxCount, SH.qualifiedValueShape}
CONSTRAINT_PARAMETERS = {
    SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.pattern, SH.node, SH["not"], SH["or"],
    SH["and"], SH.hasValue, SH.languageIn, SH.uniqueLang, *_VALUE_COMPARISONS, *_COUNTS,
}
_COMPONENTS = {SH["class"]: "Class", SH["in"]: "In", SH["not"]: "Not", SH["or"]: "Or", SH["and"]: "And"}


def component_iri(predicate: URIRef) -> str:
    """sh:minCount → sh:MinCountConstraintComponent."""
    local = _COMPONENTS.get(predicate) or predicate[len(str(SH)):][0].upper() + predicate[len(str(SH)) + 1:]
    return f"{SH}{local}ConstraintComponent"


def compile_shapes(graph: Graph, subclasses: Callable[[str], list[str]], within: str | None = None,
                   few: Callable[[str, str], bool] | None = None, *, exact_casts: bool = False) -> CompiledShapes:
    """Compile every targeted shape of ``graph``; ``subclasses(C)`` lists C and its subclasses in the data.

    With ``within`` (a named graph of the store, as queries see it), only the focus nodes that graph describes (its
    subjects) are checked, with the whole catalog as data. ``few(target, predicate)`` says whether a target pattern
    has so few focus nodes, next to the predicate's triples, that looking up each one's values is cheaper than
    reading the whole predicate: it chooses between plans with the same results; ``exact_casts``: see
    :func:`_datatype_violation`."""
    compiled = CompiledShapes()
    for shape in node_shapes(graph):
        if (shape, SH.deactivated, Literal(True)) in graph:
            continue
        compiler = _Compiler(graph, subclasses, within, few, exact_casts)
        try:
            target, checks = compiler.node_shape(shape)
        except Unsupported as reason:
            compiled.fallback[shape_key(shape)] = str(reason)
            continue
        compiled.targets[shape_key(shape)] = target
        compiled.checks += checks
    return compiled
