"""The list pages: one builder for every list spec, on the list's in-memory index (:mod:`expgraph.web.lists`).

A page's members come from the index (facets, counts, sort and keyset pagination); its columns are then read with
the page's IRIs bound in a ``VALUES`` block, count columns apart and cached by the store's generation.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyoxigraph import NamedNode

from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.team.retired import included
from expgraph.web.list_specs import SPECS, ListSpec
from expgraph.web.reading import FAILED_TERMS, query, select
from expgraph.web.terms import BadRequest, iri_term, node, plain, short

if TYPE_CHECKING:
    from expgraph.web.state import WebState

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_LABELS = query("SELECT ?f ?l WHERE {\n#@f\n?f skos:prefLabel|rdfs:label ?l }")
#: Constant terms some column patterns name.
_CONSTANTS = {"failed": FAILED_TERMS}


def _constant(text: str) -> SparqlTemplate:
    """A query of the page with the constants it names filled in and its other slots left open."""
    template = query(text)
    return template.fill(**{name: term for name, term in _CONSTANTS.items() if name in template.slots})


def _columns_query(spec: ListSpec) -> SparqlTemplate:
    """Label and plain columns of the members bound at ``#@s``, each a ``UNION`` branch tagged ``?column``."""
    patterns = [(0, "?s rdfs:label ?v")] + [(i, c.pattern) for i, c in enumerate(spec.columns, 1) if not c.count]
    branches = " UNION ".join(f"{{\n#@s\n{pattern} BIND({i} AS ?column) }}" for i, pattern in patterns)
    return _constant(f"SELECT ?column ?s ?v ?vLabel WHERE {{ {branches} }}")


_COLUMNS = {name: _columns_query(spec) for name, spec in SPECS.items()}
_COUNTS = {(name, c.name): _constant(f"SELECT ?s ?v WHERE {{\n#@s\n{c.pattern} }}")
           for name, spec in SPECS.items() for c in spec.columns if c.count}


def _filters(spec: ListSpec, params: Mapping[str, str]) -> dict[str, str]:
    """The facet values the request selects (``?project=IRI`` ...); IRIs must look like IRIs."""
    chosen = {}
    for facet in spec.facets:
        raw = params.get(facet.name)
        if raw:
            chosen[facet.name] = raw if facet.literal else iri_term(raw, facet.name).value
    return chosen


def _sort(spec: ListSpec, raw: str | None) -> tuple[str, bool]:
    raw = raw or spec.default_sort
    descending = raw.startswith("-")
    name = raw.lstrip("-")
    if name not in spec.sorts:
        raise BadRequest(f"unknown sort {name!r} for {spec.name} (known: {', '.join(spec.sorts)})")
    return name, descending


def page_keys(keys: list[tuple[str, str]], chosen: set[str], cursor: tuple[str, str] | None, descending: bool,
          limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` keys after the cursor, in order, among the chosen members."""
    if descending:
        end = bisect.bisect_left(keys, cursor) if cursor else len(keys)
        candidates = (keys[i] for i in range(end - 1, -1, -1))
    else:
        start = bisect.bisect_right(keys, cursor) if cursor else 0
        candidates = (keys[i] for i in range(start, len(keys)))
    found = []
    for key in candidates:
        if key[1] in chosen:
            found.append(key)
            if len(found) == limit:
                break
    return found


def list_page(state: WebState, spec: ListSpec, params: Mapping[str, str]) -> dict[str, Any]:
    """One page of a list with its facets; ``params`` are the request's query parameters."""
    filters = _filters(spec, params)
    sort, descending = _sort(spec, params.get("sort"))
    try:
        limit = max(1, min(MAX_PAGE_SIZE, int(params.get("limit") or PAGE_SIZE)))
    except ValueError:
        raise BadRequest(f"limit must be a number, got {params.get('limit')!r}") from None
    index = state.lists.get(spec)
    retired = included(params)  # ?include=retired: retired members listed too, and marked
    chosen = index.select(filters, retired)
    tops = {facet.name: index.top(filters, facet.name, retired) for facet in spec.facets}
    cursor = None
    if params.get("after") is not None and params.get("after_key") is not None:
        cursor = (params["after_key"], params["after"])
    keys = page_keys(index.ordered(filters, sort, retired), chosen, cursor, descending, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    items = _columns(state, spec, [NamedNode(iri) for _, iri in keys])
    for item in items if retired else ():
        item["retired"] = item["iri"] in index.retired
    return {
        "list": spec.name,
        "title": spec.title,
        "total": len(chosen),
        "sort": ("-" if descending else "") + sort,
        "sorts": list(spec.sorts),
        "columns": [{"name": c.name, "title": c.title, "link": c.link} for c in spec.columns],
        "filters": filters,
        "facets": _facets(state.store, spec, tops),
        "items": items,
        "include_retired": retired,
        "next": {"after": keys[-1][1], "after_key": keys[-1][0]} if more else None,
        "limit": limit,
    }


def _columns(state: WebState, spec: ListSpec, subjects: list[NamedNode]) -> list[dict[str, Any]]:
    """Label and columns of the given resources, in the given order (first value per column).

    One query over the union of the active graphs: each column is a ``UNION`` branch tagged with its position
    (``?column``; 0 is the label), the page's ``VALUES`` repeated inside each branch because pyoxigraph
    evaluates a branch before joining an outer binding; one query per column over the resources' own graphs
    (one index seek per graph and pattern) was several times slower. Count columns are read apart and cached
    by generation: counting the runs of a page of datasets reads every usage of their snapshots.
    """
    if not subjects:
        return []
    found: dict[str, dict[str, Any]] = {s.value: {"iri": s.value, "label": None} for s in subjects}
    tagged = [(int(row["column"].value), row) for row in select(state.store, _COLUMNS[spec.name], s=subjects)]
    for i, column in enumerate(spec.columns, 1):
        if column.count:
            tagged += [(i, row) for row in state.queries.select(_COUNTS[spec.name, column.name], s=subjects)]
    for position, row in tagged:
        item = found[row["s"].value]
        if position == 0:
            item["label"] = item["label"] or row["v"].value
            continue
        column = spec.columns[position - 1]
        if item.get(column.name) is None:
            item[column.name] = node(row, "v") if column.link else plain(row["v"])
    for item in found.values():
        item["label"] = item["label"] or short(item["iri"])
    # keys in the spec's column order, not the order the store happened to return the rows in
    names = [column.name for column in spec.columns]
    return [{"iri": item["iri"], "label": item["label"], **{n: item[n] for n in names if n in item}}
            for item in (found[s.value] for s in subjects)]


def _facets(store: Store, spec: ListSpec, tops: dict[str, list[tuple[str, int]]]) -> list[dict[str, Any]]:
    """Each facet's most frequent values with their labels."""
    iris = sorted({v for f in spec.facets if not f.literal for v, _ in tops[f.name]})
    labels: dict[str, str] = {}
    if iris:
        for row in select(store, _LABELS, f=[NamedNode(i) for i in iris]):
            labels.setdefault(row["f"].value, row["l"].value)
    return [{"name": f.name, "title": f.title,
             "values": [{"value": v, "label": v if f.literal else labels.get(v, short(v)), "count": n}
                        for v, n in tops[f.name]]} for f in spec.facets]
