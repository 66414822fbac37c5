"""The run list's metric and parameter columns: per column, every run's value, read once per store generation.

A metric's value is its summary value (``mls:hasValue`` of the run's ``mls:ModelEvaluation``: the last by step,
:func:`expgraph.importers.series.summarise`); a parameter's is its setting's ``mls:hasValue``. One query per
column (the name bound in ``VALUES``) gives a table run -> value; filters (:mod:`expgraph.web.value_filters`),
sorting and the shown cells all read that one table, so what is shown, filtered and sorted on are the same
values. Why tables rather than a ``FILTER`` in SPARQL: the list's facets, counts and keyset pages already come from
the in-memory index (:mod:`expgraph.web.lists`), and a run list filtered on three metric values at 100k runs is
then set operations on dicts, not a join per request.

Sort keys are strings (the keyset cursor travels in the URL), one list per column and direction, ordered so that
runs without a value come last in both directions: numbers by an order-preserving encoding of the IEEE double,
texts after numbers, NaN after texts.
"""

from __future__ import annotations

import math
import struct
import threading
from collections import Counter
from collections.abc import Iterable

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import MLS, XSD
from expgraph.store import Store
from expgraph.web.reading import query, select
from expgraph.web.value_filters import KINDS, ColumnRef, Filter, Value

_LINK = {"metric": MLS.hasOutput, "param": MLS.hasInput}
_TYPE = {"metric": MLS.EvaluationMeasure, "param": MLS.HyperParameter}
#: The measure or parameter nodes of a kind and their names: a few nodes, each described once per import source
#: (so DISTINCT, and the nodes bound in the queries below rather than joined: joined, each value row came back
#: once per source describing its measure, 1,600 times at 100k runs).
_NODES = {kind: query(f"SELECT DISTINCT ?k ?name WHERE {{ ?k a <{_TYPE[kind].value}> ; rdfs:label ?name }}")
          for kind in KINDS}
#: Every run's value of the measures or parameters bound at ``#@k``, for the kind's link (a constant predicate).
_TABLES = {kind: query(f"SELECT ?s ?v WHERE {{\n#@k\n?m mls:specifiedBy ?k ; mls:hasValue ?v . ?s <{link.value}> ?m }}")
           for kind, link in _LINK.items()}
#: The measures or parameters of the runs bound at ``#@s`` (a filtered list of at most a few thousand runs).
_NODES_OF = {kind: query(f"SELECT DISTINCT ?s ?k WHERE {{\n#@s\n?s <{link.value}> ?m . ?m mls:specifiedBy ?k }}")
             for kind, link in _LINK.items()}
_NUMERIC = {XSD.double.value, XSD.float.value, XSD.decimal.value}


def cell(term: object) -> Value:
    """A stored value as a table cell: numbers as numbers (NaN and infinities as floats), anything else as text."""
    if isinstance(term, Literal):
        if term.datatype == XSD.integer:
            try:
                return int(term.value)
            except ValueError:
                return term.value
        if term.datatype.value in _NUMERIC:
            try:
                return float(term.value)
            except ValueError:
                return term.value
    return term.value  # type: ignore[attr-defined]


def shown(value: Value | None) -> Value | None:
    """A cell as the pages and JSON give it: non-finite numbers as their XSD spelling (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
    return value


def _ordered_bits(number: float) -> str:
    """16 hex digits that sort as the numbers do (sign bit flipped for positives, all bits for negatives)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", number + 0.0))  # + 0.0: -0.0 sorts as 0.0
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63
    return f"{bits:016x}"


class ValueTables:
    """The value columns of one store generation (kept by the run list's :class:`~expgraph.web.lists.ListIndex`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._tables: dict[ColumnRef, dict[str, Value]] = {}
        self._keys: dict[tuple[ColumnRef, bool], dict[str, str]] = {}
        self._node_names: dict[str, dict[str, str]] | None = None

    def _nodes(self) -> dict[str, dict[str, str]]:
        """kind -> measure or parameter IRI -> its name."""
        with self._lock:
            if self._node_names is None:
                self._node_names = {kind: {row["k"].value: row["name"].value
                                           for row in select(self.store, _NODES[kind])} for kind in KINDS}
            return self._node_names

    def names(self) -> dict[str, dict[str, int | None]]:
        """kind -> name -> None (not counted), over the catalog."""
        return {kind: dict.fromkeys(sorted(set(nodes.values()))) for kind, nodes in self._nodes().items()}

    def names_among(self, members: Iterable[str]) -> dict[str, dict[str, int | None]]:
        """kind -> name -> how many of ``members`` have a value (a bounded selection: one query per kind)."""
        bound = [NamedNode(m) for m in sorted(members)]
        found: dict[str, dict[str, int | None]] = {kind: {} for kind in KINDS}
        for kind, nodes in self._nodes().items():
            rows = select(self.store, _NODES_OF[kind], s=bound) if bound else []
            pairs = {(row["s"].value, nodes.get(row["k"].value)) for row in rows}  # once per run and name
            found[kind] = dict(Counter(name for _, name in pairs if name is not None))
        return found

    def table(self, column: ColumnRef) -> dict[str, Value]:
        """run -> its value of ``column`` (a resolved column), read on first use."""
        with self._lock:
            if column not in self._tables:
                nodes = [NamedNode(k) for k, name in self._nodes()[column.kind or ""].items() if name == column.name]
                rows = select(self.store, _TABLES[column.kind or ""], k=nodes) if nodes else []
                self._tables[column] = {row["s"].value: cell(row["v"]) for row in rows}
            return self._tables[column]

    def matching(self, filters: Iterable[Filter], members: Iterable[str]) -> set[str]:
        """The members passing every filter (each filter's column resolved)."""
        chosen = set(members)
        for flt in filters:
            table = self.table(flt.column)
            chosen = {m for m, value in table.items() if m in chosen and flt.matches(value)}
        return chosen

    def sort_keys(self, column: ColumnRef, descending: bool, members: Iterable[str]) -> list[tuple[str, str]]:
        """(key, member) ascending by key, which orders ``members`` by the column (``descending`` or not), runs
        without a value last either way; keyset pages then always walk forwards."""
        keys = self._key_table(column, descending)
        missing = "3"
        return sorted((keys.get(m, missing), m) for m in members)

    def _key_table(self, column: ColumnRef, descending: bool) -> dict[str, str]:
        with self._lock:
            if (column, descending) not in self._keys:
                table = self.table(column)
                texts = sorted({v.casefold() for v in table.values() if isinstance(v, str)}, reverse=True)
                rank = {text: i for i, text in enumerate(texts)}  # texts in descending order, by position
                keys = {}
                for member, value in table.items():
                    if isinstance(value, str):
                        keys[member] = f"0{rank[value.casefold()]:08d}" if descending else "1" + value.casefold()
                    elif math.isnan(value):
                        keys[member] = "2"
                    else:
                        keys[member] = ("1" if descending else "0") + _ordered_bits(-value if descending else value)
                self._keys[column, descending] = keys
            return self._keys[column, descending]
