"""A resource's provenance neighbourhood (dataset → run → result → informed experiment), as data and as SVG.

Two steps upstream and two downstream along ``prov:used``, ``prov:wasGeneratedBy`` and ``eg:informs``, each
frontier capped so that a dataset used by thousands of runs still draws a readable picture; the page pairs it with
a plain list. The picture is laid out here, server-side, as SVG: no JavaScript and nothing from a CDN.

Why two queries rather than five: on a large catalog each query costs a fixed amount before it reads anything,
and the walk is four steps. So all four steps are first read in one query (:data:`_NEAR`) and walked here; only
when a cap could have cut a step short (more rows or more new nodes than it allows, where which ones are kept
depends on the order the store returns them in) is the walk done again one query per step, as before. The
labels and types of the nodes reached are the second query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyoxigraph import NamedNode

from expgraph.store import Store
from expgraph.web.reading import query, select
from expgraph.web.terms import node, short

MAX_PER_STEP = 12
MAX_ROWS = MAX_PER_STEP * 8
COLUMN_WIDTH, ROW_HEIGHT, BOX_WIDTH, BOX_HEIGHT = 210, 44, 180, 30

#: ?x flows into ?y (a dataset into the run that used it, a run into what it generated, a result into the
#: experiment it informs), one step from the frontier bound at ``#@x`` (forward) or ``#@y`` (backward).
_EDGES = query("""SELECT ?x ?y WHERE {
  #@x
  #@y
  { ?y prov:used ?x } UNION { ?y prov:wasGeneratedBy ?x } UNION { ?x eg:informs ?y } } LIMIT #@limit
""")

_KINDS = {
    "https://w3id.org/expgraph#Run": "run",
    "https://w3id.org/expgraph#NegativeResult": "negative",
    "https://w3id.org/expgraph#Result": "result",
    "https://w3id.org/expgraph#Experiment": "experiment",
    "http://www.w3.org/ns/dcat#Dataset": "dataset",
    "https://schema.org/SoftwareSourceCode": "code",
    "https://w3id.org/expgraph#Environment": "environment",
}


#: The four steps in one query: edges from the resource (``f1``), from the nodes those reach (``f2``), to the
#: resource (``b1``) and to the nodes those come from (``b2``); ``?a`` is the node a second step starts from.
#: ``#@c`` binds ``?c`` to the resource. LIMIT: beyond it the walk is done step by step (see :func:`_near`).
_NEAR = query("""SELECT ?k ?a ?x ?y WHERE {
  { #@c
    BIND(?c AS ?x) { ?y prov:used ?x } UNION { ?y prov:wasGeneratedBy ?x } UNION { ?x eg:informs ?y }
    BIND("f1" AS ?k) }
  UNION { { SELECT DISTINCT ?x WHERE { #@c
                                       { ?x prov:used ?c } UNION { ?x prov:wasGeneratedBy ?c }
                                              UNION { ?c eg:informs ?x } } }
          { ?y prov:used ?x } UNION { ?y prov:wasGeneratedBy ?x } UNION { ?x eg:informs ?y } BIND(?x AS ?a)
          BIND("f2" AS ?k) }
  UNION { #@c
          BIND(?c AS ?y) { ?y prov:used ?x } UNION { ?y prov:wasGeneratedBy ?x } UNION { ?x eg:informs ?y }
          BIND("b1" AS ?k) }
  UNION { { SELECT DISTINCT ?y WHERE { #@c
                                       { ?c prov:used ?y } UNION { ?c prov:wasGeneratedBy ?y }
                                              UNION { ?y eg:informs ?c } } }
          { ?y prov:used ?x } UNION { ?y prov:wasGeneratedBy ?x } UNION { ?x eg:informs ?y } BIND(?y AS ?a)
          BIND("b2" AS ?k) }
} LIMIT #@limit
""")
_NEAR_LIMIT = 4 * MAX_ROWS + 1
_NODES = query("""SELECT ?n ?nLabel ?t WHERE {
  #@n
  OPTIONAL { ?n rdfs:label ?nLabel } OPTIONAL { ?n a ?t } }""")

#: One step of the walk: the edges (from, to) one step from the frontier (forward or not) at this level (1 or 2),
#: or None when the step cannot be told without the store's row order (see :func:`_near`).
Step = Callable[[list[NamedNode], bool, int], "list[tuple[str, str]] | None"]


def _step(store: Store, frontier: list[NamedNode], forward: bool) -> list[tuple[str, str]]:
    """Edges (from, to) one step from the frontier, at most MAX_PER_STEP new nodes."""
    if not frontier:
        return []
    start, other = ("x", "y") if forward else ("y", "x")
    rows = select(store, _EDGES, slots={"limit": MAX_ROWS}, **{start: frontier})
    edges, reached = [], []
    for row in rows:
        target = row[other].value
        if target not in reached:
            if len(reached) >= MAX_PER_STEP:
                continue
            reached.append(target)
        edges.append((row["x"].value, row["y"].value))
    return edges


def _near(store: Store, iri: NamedNode) -> Step | None:
    """The four steps from one query, or None when there were too many rows to be sure all were read.

    A step taken from these rows is the step :func:`_step` takes whenever its caps do not bite (at most
    MAX_ROWS rows and MAX_PER_STEP nodes reached): then it keeps every row, whatever their order. When they would,
    the step answers None and the caller walks step by step instead.
    """
    rows = select(store, _NEAR, slots={"limit": _NEAR_LIMIT}, c=iri)
    if len(rows) >= _NEAR_LIMIT:
        return None
    found: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        x, y = row["x"].value, row["y"].value
        found.setdefault(row["k"].value, []).append((row["a"].value if "a" in row else iri.value, x, y))

    def step(frontier: list[NamedNode], forward: bool, level: int) -> list[tuple[str, str]] | None:
        if not frontier:
            return []
        starts = {n.value for n in frontier}
        edges = [(x, y) for a, x, y in found.get(("f" if forward else "b") + str(level), []) if a in starts]
        if len(edges) > MAX_ROWS or len({y if forward else x for x, y in edges}) > MAX_PER_STEP:
            return None
        return edges

    return step


def _walk(iri: NamedNode, step: Step) -> tuple[dict[str, int], set[tuple[str, str]]] | None:
    """Nodes by depth (negative upstream) and the edges between them, two steps each way; None when a step
    answered None."""
    depth: dict[str, int] = {iri.value: 0}
    edges: set[tuple[str, str]] = set()
    for forward, sign in ((True, 1), (False, -1)):
        frontier = [iri]
        for level in (1, 2):
            found = step(frontier, forward, level)
            if found is None:
                return None
            edges.update(found)
            new = [b if forward else a for a, b in found]
            fresh = [n for n in dict.fromkeys(new) if n not in depth]
            for n in fresh:
                depth[n] = sign * level
            frontier = [NamedNode(n) for n in fresh]
    return depth, edges


def lineage(store: Store, iri: NamedNode) -> dict[str, Any]:
    """Nodes with their depth (negative upstream) and kind, and the edges between them."""
    near = _near(store, iri)
    walked = _walk(iri, near) if near is not None else None
    if walked is None:
        walked = _walk(iri, lambda frontier, forward, _level: _step(store, frontier, forward))
        assert walked is not None
    depth, edges = walked
    rows = select(store, _NODES, n=[NamedNode(n) for n in depth])
    info = {row["n"].value: row for row in rows}
    kinds: dict[str, str] = {}
    for row in rows:  # labels and types in one query: one query less per page
        kind = _KINDS.get(row["t"].value) if "t" in row else None
        if kind and (kinds.get(row["n"].value) in (None, "result")):
            kinds[row["n"].value] = kind
    nodes = []
    for n, d in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        row = info.get(n, {})
        nodes.append({**(node({"n": NamedNode(n), **row}, "n") or {"iri": n, "label": short(n)}),
                      "depth": d, "kind": kinds.get(n, "entity")})
    kept = [{"from": a, "to": b} for a, b in sorted(edges) if a in depth and b in depth]
    return {"iri": iri.value, "nodes": nodes, "edges": kept, "svg": layout(nodes, kept)}


def layout(nodes: list[dict[str, Any]], edges: list[dict[str, str]]) -> dict[str, Any]:
    """Box positions in columns by depth, and line segments; the template draws them."""
    columns: dict[int, list[dict[str, Any]]] = {}
    for item in nodes:
        columns.setdefault(item["depth"], []).append(item)
    order = sorted(columns)
    height = max((len(c) for c in columns.values()), default=1) * ROW_HEIGHT + 10
    boxes, where = [], {}
    for col, d in enumerate(order):
        items = columns[d]
        top = (height - len(items) * ROW_HEIGHT) / 2
        for row, item in enumerate(items):
            x, y = 10 + col * COLUMN_WIDTH, top + row * ROW_HEIGHT + 5
            label = item["label"] if len(item["label"]) <= 24 else item["label"][:23] + "…"
            boxes.append({"x": x, "y": y, "w": BOX_WIDTH, "h": BOX_HEIGHT, "label": label, "iri": item["iri"],
                          "kind": item["kind"], "title": item["label"], "center": item["depth"] == 0})
            where[item["iri"]] = (x, y)
    lines = []
    for edge in edges:
        (x1, y1), (x2, y2) = where[edge["from"]], where[edge["to"]]
        lines.append({"x1": x1 + BOX_WIDTH, "y1": y1 + BOX_HEIGHT / 2, "x2": x2, "y2": y2 + BOX_HEIGHT / 2})
    return {"width": max(len(order), 1) * COLUMN_WIDTH + 10, "height": height, "boxes": boxes, "lines": lines}
