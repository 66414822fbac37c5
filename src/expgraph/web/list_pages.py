"""The list pages: one builder for every list spec, on the list's in-memory index (:mod:`expgraph.web.lists`).

A page's members come from the index (facets, counts, sort and keyset pagination); its columns are then read with
the page's IRIs bound in a ``VALUES`` block, count columns apart and cached by the store's generation. The run list
also has metric and parameter columns chosen in the URL (``col=metric:val_loss``), value filters
(``where=val_loss < 0.3``) and sorts (``sort=-metric:val_loss``), read from the index's value tables
(:mod:`expgraph.web.list_values`); :func:`list_csv` writes exactly the rows and columns a page shows.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyoxigraph import NamedNode

from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.team.retired import included
from expgraph.web.list_specs import SPECS, ListSpec
from expgraph.web.list_values import shown
from expgraph.web.lists import ListIndex
from expgraph.web.reading import FAILED_TERMS, query, select
from expgraph.web.terms import BadRequest, iri_term, node, plain, short
from expgraph.web.value_filters import (
    ColumnRef,
    Filter,
    FilterError,
    number,
    parse_column,
    parse_filters,
    resolve,
)

if TYPE_CHECKING:
    from expgraph.web.state import WebState

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_VALUE_COLUMNS = 12

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
    if name not in spec.sorts and not (spec.value_columns and name.startswith(("metric:", "param:"))):
        raise BadRequest(f"unknown sort {name!r} for {spec.name} (known: {', '.join(spec.sorts)})")
    return name, descending


class _Values:
    """What a run list request asks of its value columns: the columns shown (those ticked, then those filtered
    or sorted on), the value filters, and what could not be used (each error one line)."""

    def __init__(self, index: ListIndex, lists: Mapping[str, Sequence[str]], sort: str) -> None:
        names = {kind: set(found) for kind, found in index.columns.names().items()}
        self.errors: list[str] = []
        self.texts = [text for text in lists.get("where", ()) if text.strip()]  # as written
        self.where: tuple[Filter, ...] = ()
        try:
            self.where = tuple(Filter(resolve(f.column, names), f.op, f.operands) for f in parse_filters(self.texts))
        except FilterError as error:
            self.errors.append(str(error))
        ticked = list(dict.fromkeys(lists.get("col", ())))
        if len(ticked) > MAX_VALUE_COLUMNS:
            self.errors.append(f"at most {MAX_VALUE_COLUMNS} value columns at once, got {len(ticked)}")
            ticked = ticked[:MAX_VALUE_COLUMNS]
        columns = [self._column(text, names) for text in ticked]
        self.sort = self._column(sort, names) if ":" in sort else None
        shown = [*columns, *(f.column for f in self.where), self.sort]
        self.columns = list(dict.fromkeys(c for c in shown if c is not None))[:MAX_VALUE_COLUMNS]

    def _column(self, text: str, names: dict[str, set[str]]) -> ColumnRef | None:
        """The column a ``col`` or ``sort`` value names, or None with the error noted."""
        try:
            return resolve(parse_column(text), names)
        except FilterError as error:
            self.errors.append(str(error))
            return None


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


def list_page(state: WebState, spec: ListSpec, params: Mapping[str, str],
              lists: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """One page of a list with its facets; ``params`` are the request's query parameters, ``lists`` those that
    repeat (``col``, ``where``: the run list's value columns and filters)."""
    filters = _filters(spec, params)
    sort, descending = _sort(spec, params.get("sort"))
    try:
        limit = max(1, min(MAX_PAGE_SIZE, int(params.get("limit") or PAGE_SIZE)))
    except ValueError:
        raise BadRequest(f"limit must be a number, got {params.get('limit')!r}") from None
    index = state.lists.get(spec)
    asked = _Values(index, lists or {}, sort) if spec.value_columns else None
    where = asked.where if asked and not asked.errors else ()
    if asked and ":" in sort and asked.sort is None:
        sort, descending = spec.default_sort.lstrip("-"), spec.default_sort.startswith("-")
    retired = included(params)  # ?include=retired: retired members listed too, and marked
    chosen = index.select(filters, where, retired)
    tops = {facet.name: index.top(filters, facet.name, where, retired) for facet in spec.facets}
    cursor = None
    if params.get("after") is not None and params.get("after_key") is not None:
        cursor = (params["after_key"], params["after"])
    if asked and asked.sort is not None:  # value sorts walk forwards in either direction
        keys = page_keys(index.ordered_by_value(filters, asked.sort, descending, where, retired), chosen, cursor,
                         False, limit + 1)
    else:
        keys = page_keys(index.ordered(filters, sort, where, retired), chosen, cursor, descending, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    items = _columns(state, spec, [NamedNode(iri) for _, iri in keys])
    for item in items if retired else ():
        item["retired"] = item["iri"] in index.retired
    values = _value_data(index, asked, items, filters, where) if asked else {}
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
        **values,
    }


def _value_data(index: ListIndex, asked: _Values, items: list[dict[str, Any]], filters: Mapping[str, str],
                where: tuple[Filter, ...]) -> dict[str, Any]:
    """The value columns' part of a run list page: each item's ``values``, the columns, the filters as written
    back, the errors, and the names the picker offers with how many listed runs have each
    (:meth:`ListIndex.value_names`)."""
    for item in items:
        item["values"] = {c.key: shown(index.columns.table(c).get(item["iri"])) for c in asked.columns}
    available, scope = index.value_names(filters, where)
    return {
        "value_columns": [{"key": c.key, "kind": c.kind, "name": c.name} for c in asked.columns],
        "where": asked.texts if asked.errors else [f.text() for f in asked.where],
        "errors": asked.errors,
        "names": {kind: [{"name": name, "key": f"{kind}:{name}", "count": count}
                         for name, count in sorted(found.items(), key=lambda pair: pair[0].casefold())]
                  for kind, found in available.items()},
        "names_scope": scope,
    }


#: Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """A cell as text; a text starting like a formula is prefixed with ``'`` (a number, ``-INF`` too, is not a
    formula and stays as it is)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("label") or value.get("iri", "")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) and number(text) is None else text


def list_csv(data: dict[str, Any]) -> str:
    """A list page as CSV: the same rows in the same order and the same columns (name, the list's columns, the
    value columns), links as their labels, plus each row's IRI last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    value_keys = [c["key"] for c in data.get("value_columns", [])]
    writer.writerow([_csv_cell(h) for h in ["name", *(c["name"] for c in data["columns"]), *value_keys, "iri"]])
    for item in data["items"]:
        values = item.get("values", {})
        writer.writerow([_csv_cell(item["label"]), *(_csv_cell(item.get(c["name"])) for c in data["columns"]),
                         *(_csv_cell(values.get(key)) for key in value_keys), _csv_cell(item["iri"])])
    return out.getvalue()


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
