"""Reading a shapes graph: which shapes validation starts from, how results name shapes and paths, and the part of
a shapes graph some shapes need; shared by the compiler, the engine (its pySHACL route) and the reports."""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH
from rdflib.term import Node

SHAPE_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)


class Unsupported(Exception):
    """A shape feature outside the compiled subset; the shape goes to pySHACL."""


def shape_key(node: Node) -> str:
    """How results name a shape: its IRI, or ``_:label`` for a blank node of the shapes graph."""
    return f"_:{node}" if isinstance(node, BNode) else str(node)


def is_class(graph: Graph, node: Node) -> bool:
    """Whether the shapes graph says ``node`` is an rdfs:Class (what makes a shape target its own instances)."""
    classes = set(graph.transitive_subjects(RDFS.subClassOf, RDFS.Class))
    return any(t in classes for t in graph.objects(node, RDF.type))


def path_key(graph: Graph, path: Node) -> str:
    """A SHACL path in SPARQL property-path syntax: how results name their path, on both sides of the parity."""
    if isinstance(path, URIRef):
        return f"<{path}>"
    if (path, RDF.first, None) in graph:
        return "(" + "/".join(path_key(graph, p) for p in Collection(graph, path)) + ")"
    for predicate, template in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                                (SH.zeroOrOnePath, "{}?")):
        inner = graph.value(path, predicate)
        if inner is not None:
            return "(" + template.format(path_key(graph, inner)) + ")"
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(path_key(graph, p) for p in Collection(graph, alternatives)) + ")"
    raise Unsupported(f"unknown path {path!r}")


def node_shapes(graph: Graph) -> list[URIRef | BNode]:
    """The shapes validation starts from: those with a target (explicit, or implicit: a shape that is also an
    rdfs:Class), node shapes or property shapes alike, in a stable order."""
    shapes = {s for target in SHAPE_TARGETS for s in graph.subjects(target, None)}
    for kind in (SH.NodeShape, SH.PropertyShape):
        shapes |= {s for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef) and is_class(graph, s)}
    return sorted(shapes, key=shape_key)


def extract_shapes(graph: Graph, roots: Iterable[Node]) -> Graph:
    """The part of a shapes graph that ``roots`` need (their property shapes, lists, nested shapes).

    Used to hand pySHACL just the shapes it must check: its own ``use_shapes`` option proved unreliable here
    (pySHACL 0.40 reported nothing for property shapes of a selected node shape).
    """
    out = Graph()
    seen: set[Node] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for predicate, obj in graph.predicate_objects(node):
            out.add((node, predicate, obj))
            if (obj, None, None) in graph:
                todo.append(obj)
    return out
