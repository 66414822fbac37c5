"""The lists' in-memory indexes (projects, experiments, runs, datasets, results); the pages built on them are in
:mod:`expgraph.web.list_pages`.

Facets, counts, sorting and keyset pagination work on a small in-memory index per list: for every member, its
facet values and sort keys. The index is built from single-pattern queries (``?a <p> ?b``), which pyoxigraph
answers at index speed, where the same facets as SPARQL joins with ``GROUP BY`` are slow on a large catalog. It
is kept by the store's generation (an import, a load make a new one), so it is never stale. Until a facet or sort
key is built (the server's warm-up builds them all), a filtered page that matches few members finds them by one
query from the chosen values and reads their facets and keys alone, with the members bound in ``VALUES`` (user
values reach SPARQL only through template slots): the same counts and rows, without waiting for a whole facet. A
page's columns are then read with the page's IRIs bound in a ``VALUES`` block. Pagination is by keyset (the last
row's sort key and IRI, :func:`expgraph.web.list_pages.page_keys`), so a page is stable while imports add rows,
and costs a binary search, not an ``OFFSET`` scan. The measurements behind these choices are in
docs/architecture.md ("The list pages").
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from pyoxigraph import Literal, NamedNode

from expgraph.sparql.template import SparqlTemplate, values, values_block
from expgraph.store import Store
from expgraph.store.base import Term, sparql_term
from expgraph.team.retired import retired_things
from expgraph.web.list_specs import SPECS, Facet, ListSpec, Step
from expgraph.web.list_values import ValueTables
from expgraph.web.reading import query, select
from expgraph.web.value_filters import ColumnRef, Filter

FACET_LIMIT = 15
SELECTION_CACHE = 64
RESTRICT_LIMIT = 2000  # at most this many nodes in a VALUES block restricting a facet hop


def _path(facet: Facet, end: str = "?v", prefix: str = "h") -> str:
    """Triple patterns from ``?s`` along a facet's path to ``end`` (fresh ``?{prefix}N`` variables between)."""
    parts, here = [], "?s"
    for i, step in enumerate(facet.path):
        there = end if i == len(facet.path) - 1 else f"?{prefix}{i}"
        subject, obj = (there, here) if step.inverse else (here, there)
        if step.objects:
            parts.append(values_block(*values(obj[1:], step.objects)))
        parts.append(f"{subject} {sparql_term(step.predicate)} {obj} .")
        here = there
    return " ".join(parts)


#: The lists' queries. Those made from a spec (its type, predicates, columns) are made once per spec and shape;
#: request values only ever fill their slots.
_MEMBERS = query("SELECT ?s WHERE {\n#@t\n?s a ?t }")
#: The predicate is written into the query as a term (a constant of the spec): bound by ``VALUES`` instead,
#: pyoxigraph took longer, and with ``?b`` bound too it scanned the whole predicate.
_HOP = query("SELECT ?a ?b WHERE {\n#@a\n#@b\n?a #@p\n?b }")



@cache
def _restricted_query(pattern: str) -> SparqlTemplate:
    """What ``pattern`` (made from a spec's terms) binds to ``?v`` for the members bound at ``#@s``."""
    return query(f"SELECT ?s ?v WHERE {{\n#@s\n{pattern} }}")


@cache
def _matching_query(list_name: str, facets: tuple[tuple[str, bool], ...]) -> SparqlTemplate:
    """The members of a list reaching a value along each facet's path; each value at slot ``#@fN`` (a literal
    facet's value a term compared as a string, as the index compares them; an IRI's a ``VALUES`` block)."""
    spec = SPECS[list_name]
    patterns = []
    for i, (name, literal) in enumerate(facets):
        path = _path(next(f for f in spec.facets if f.name == name), f"?f{i}", f"h{i}")
        patterns.append(f"{path} FILTER(STR(?f{i}) = #@f{i}\n)" if literal else f"#@f{i}\n{path}")
    return query(f"SELECT DISTINCT ?s WHERE {{ {' '.join(patterns)} ?s a {sparql_term(spec.type)} }}")



@dataclass
class _Selection:
    """The members matching some filters, with their facet counts and sort keys as far as made."""

    chosen: set[str]
    small: bool  # filtered to few members: facets and keys not built yet are read for these members only
    tops: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    keys: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    names: tuple[dict[str, dict[str, int | None]], str] | None = None  # see ListIndex.value_names


class ListIndex:
    """Members of one list with their facet values and sort keys, for one version of the store.

    Facets and sort keys are computed on first use, so the overview page, which needs two of them, does not pay
    for all of them.
    """

    def __init__(self, store: Store, spec: ListSpec) -> None:
        self.store, self.spec = store, spec
        self._lock = threading.RLock()
        self._pairs: dict[tuple, dict[str, set[str]]] = {}
        self._values: dict[str, dict[str, set[str]]] = {}
        self._keys: dict[str, list[tuple[str, str]]] = {}
        self._selections: OrderedDict[tuple, _Selection] = OrderedDict()
        self._members: list[str] | None = None
        #: Metric and parameter columns (the run list's): values read per column on first use.
        self.columns = ValueTables(store)
        self._value_keys: dict[tuple[ColumnRef, bool], list[tuple[str, str]]] = {}
        self._retired: frozenset[str] | None = None

    @property
    def retired(self) -> frozenset[str]:
        """The retired things (of any list), left out of selections unless asked for: read once per index."""
        with self._lock:
            if self._retired is None:
                self._retired = retired_things(self.store)
            return self._retired

    @property
    def members(self) -> list[str]:
        """Every member, read on first use: a small filtered page does not need them."""
        with self._lock:
            if self._members is None:
                self._members = [row["s"].value for row in select(self.store, _MEMBERS, t=self.spec.type)]
            return self._members

    def _hop(self, step: Step, towards: set[str] | None = None) -> dict[str, set[str]]:
        """from -> to along one step, for all pairs or only those reaching ``towards`` (uncached, then)."""
        key = (step.predicate.value, step.inverse, step.objects)
        if towards is None and key in self._pairs:
            return self._pairs[key]
        table: dict[str, set[str]] = {}
        bound: dict[str, list[Term]] = {"b": list(step.objects)} if step.objects else {}
        if towards is not None:
            bound["a" if step.inverse else "b"] = [NamedNode(iri) for iri in towards]
        for row in select(self.store, _HOP, slots={"p": step.predicate}, **bound):
            a, b = (row["b"], row["a"]) if step.inverse else (row["a"], row["b"])
            table.setdefault(a.value, set()).add(b.value)
        if towards is None:
            self._pairs[key] = table
        return table

    def values(self, name: str) -> dict[str, set[str]]:
        """member -> the values of facet ``name`` reached from it.

        The hops are read from the last one back, each restricted to the nodes from which the next one leads on
        when those are few: a run's datasets are its usages of the snapshots in a series, not all its usages
        (code, environments), about half the time on a large catalog.
        """
        with self._lock:
            if name not in self._values:
                facet = next(f for f in self.spec.facets if f.name == name)
                tables: list[dict[str, set[str]]] = []
                for step in reversed(facet.path):
                    onward = set(tables[0]) if tables else None
                    if onward is not None and len(onward) > RESTRICT_LIMIT:
                        onward = None
                    tables.insert(0, self._hop(step, onward))
                reached = {m: {m} for m in self.members}
                for table in tables:
                    reached = {m: set().union(*(table.get(v, ()) for v in vs)) for m, vs in reached.items()}
                self._values[name] = reached
            return self._values[name]

    def select(self, filters: Mapping[str, str], where: tuple[Filter, ...] = (), retired: bool = False) -> set[str]:
        """The members matching all filters and value filters ``where``, retired ones only if asked (memoised with
        their facet counts, see :meth:`top`)."""
        return self._selection(filters, where, retired).chosen

    def top(self, filters: Mapping[str, str], name: str, where: tuple[Filter, ...] = (),
            retired: bool = False) -> list[tuple[str, int]]:
        """Facet ``name``'s most frequent values among the members matching ``filters`` (ties by value).

        Per facet, because building a facet over the whole catalog reads a predicate for every member and the
        home page needs three facets of the eleven; for a small filtered selection whose facet is not built yet,
        only the selection's values are read (see :meth:`_restricted`), which keeps a cold filtered list fast.
        """
        selection = self._selection(filters, where, retired)
        if name not in selection.tops:
            if name in self._values or not selection.small:
                values = self.values(name)
            else:
                values = self._restricted(_restricted_query(_path(self._facet(name))), selection.chosen)
            counted = Counter(v for m in selection.chosen for v in values.get(m, ()))
            ranked = sorted(counted.items(), key=lambda pair: (-pair[1], pair[0]))[:FACET_LIMIT]
            with self._lock:
                selection.tops[name] = ranked
        return selection.tops[name]

    def ordered(self, filters: Mapping[str, str], name: str, where: tuple[Filter, ...] = (),
                retired: bool = False) -> list[tuple[str, str]]:
        """(key, member) for sort ``name``, ascending, of at least the members matching ``filters``: all
        members once that sort is built, else, for a small filtered selection, only the selection's (the same
        keys, so keyset pages are the same either way)."""
        selection = self._selection(filters, where, retired)
        if name in self._keys or not selection.small:
            return self.keys(name)
        if name not in selection.keys:
            table = self._restricted(_restricted_query(f"?s {sparql_term(self.spec.sorts[name])} ?v"),
                                     selection.chosen)
            ordered = sorted((min(table.get(m, {""})).lower(), m) for m in selection.chosen)
            with self._lock:
                selection.keys[name] = ordered
        return selection.keys[name]

    def ordered_by_value(self, filters: Mapping[str, str], column: ColumnRef, descending: bool,
                         where: tuple[Filter, ...] = (), retired: bool = False) -> list[tuple[str, str]]:
        """(key, member) in the order of a value column (:meth:`ValueTables.sort_keys`: walk forwards, whatever
        the direction) of at least the selected members: every member's, kept; a small selection's alone."""
        selection = self._selection(filters, where, retired)
        if selection.small:
            return self.columns.sort_keys(column, descending, selection.chosen)
        with self._lock:
            if (column, descending) not in self._value_keys:
                self._value_keys[column, descending] = self.columns.sort_keys(column, descending, self.members)
            return self._value_keys[column, descending]

    def value_names(self, filters: Mapping[str, str],
                    where: tuple[Filter, ...] = ()) -> tuple[dict[str, dict[str, int | None]], str]:
        """The metric and parameter names for the selected members (kind -> name -> members with a value) and
        where they come from: ``"list"`` for a filtered selection of at most :data:`RESTRICT_LIMIT` members, with
        counts; else ``"catalog"``, the catalog's names, not counted. Memoised with the selection."""
        selection = self._selection(filters, where)
        if selection.names is None:
            if (filters or where) and len(selection.chosen) <= RESTRICT_LIMIT:
                found = (self.columns.names_among(selection.chosen), "list")
            else:
                found = (self.columns.names(), "catalog")
            with self._lock:
                selection.names = found
        return selection.names

    def _restricted(self, template: SparqlTemplate, members: set[str]) -> dict[str, set[str]]:
        """member -> the values ``template`` binds to ``?v`` for ``?s``, for the given members only.

        Why: a few hundred members bound in ``VALUES`` are one index seek per member and hop, while a whole facet
        costs a row per member of the catalog in Python.
        """
        table: dict[str, set[str]] = {}
        if members:
            for row in select(self.store, template, s=[NamedNode(m) for m in sorted(members)]):
                table.setdefault(row["s"].value, set()).add(row["v"].value)
        return table

    def _facet(self, name: str) -> Facet:
        return next(f for f in self.spec.facets if f.name == name)

    def _selection(self, filters: Mapping[str, str], where: tuple[Filter, ...] = (),
                   retired: bool = False) -> _Selection:
        """Members matching the filters and the facet counts and sort keys made so far for them (memoised:
        filtering and counting every member of a large catalog is slow in Python).

        With filters on facets not built yet, the matching members are found by one query that follows the
        filters' paths from the chosen values (an experiment's runs, not every run's experiment). Value filters
        (``where``) then keep the members whose metric or parameter values pass (:class:`ValueTables`).
        """
        key = (tuple(sorted(filters.items())), where, retired)
        with self._lock:
            if key in self._selections:
                self._selections.move_to_end(key)
                return self._selections[key]
        if filters and not all(name in self._values for name in filters):
            chosen = self._matching(filters)
        else:
            chosen = set(self.members)
            for name, value in filters.items():
                values = self.values(name)
                chosen = {m for m in chosen if value in values[m]}
        if where:
            chosen = self.columns.matching(where, chosen)
        if not retired:
            chosen -= self.retired
        with self._lock:
            selection = self._selections.setdefault(key, _Selection(chosen, bool(filters or where)
                                                                    and len(chosen) <= RESTRICT_LIMIT))
            if len(self._selections) > SELECTION_CACHE:
                self._selections.popitem(last=False)
        return selection

    def _matching(self, filters: Mapping[str, str]) -> set[str]:
        """The members reaching each filter's value along its facet's path, by one query (values compared as
        strings, as the index compares them)."""
        chosen = sorted(filters.items())
        facets = tuple((name, self._facet(name).literal) for name, _ in chosen)
        slots = {f"f{i}": Literal(value) if literal else values(f"f{i}", NamedNode(value))
                 for i, ((_, value), (_, literal)) in enumerate(zip(chosen, facets, strict=True))}
        return {row["s"].value for row in select(self.store, _matching_query(self.spec.name, facets), slots=slots)}

    def warm(self, stop: threading.Event | None = None) -> None:
        """Build every facet and sort key now (the server's warm-up), so that no visitor waits for them."""
        steps = [(self.values, f.name) for f in self.spec.facets] + [(self.keys, name) for name in self.spec.sorts]
        for build, name in steps:
            if stop is not None and stop.is_set():
                return
            build(name)
        if self.spec.value_columns:
            self.columns.names()

    def keys(self, name: str) -> list[tuple[str, str]]:
        """(key, member) for sort ``name``, ascending; a missing value sorts as the empty string."""
        with self._lock:
            if name not in self._keys:
                table = self._hop(Step(self.spec.sorts[name]))
                self._keys[name] = sorted((min(table.get(m, {""})).lower(), m) for m in self.members)
            return self._keys[name]


