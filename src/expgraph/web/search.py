"""Full-text search and the vocabulary browser.

A search looks at labels, titles, descriptions, error texts, lessons learned, observed outcomes, research
questions, hypotheses and parameter values (a parameter hit finds its run), case-insensitively, at most
``FIELD_LIMIT`` texts per field and predicate. Once the store version's :class:`SearchIndex` is built (by the
server's warm-up, or in the background after the first search), the distinct texts of each field are matched in
Python and the things holding the matching ones are read by one query with those texts bound in ``VALUES``.
Until then, each field is scanned with ``CONTAINS(LCASE(STR(?text)), LCASE(?q))`` with the search text bound as a
literal (``?q``), which is slow on a large catalog (figures in docs/architecture.md). Either way no user text is
ever part of a query string, and both give the same hits in the same order.
"""

from __future__ import annotations

import bisect
import logging
import threading
from array import array
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import DCT, EG, MLS, RDFS
from expgraph.sparql.template import SparqlTemplate, values
from expgraph.store import Store
from expgraph.store.base import Term, sparql_term
from expgraph.team.retired import retired_things
from expgraph.web.reading import query, select
from expgraph.web.terms import BadRequest, node, plain, short

if TYPE_CHECKING:
    from expgraph.web.cache import IndexCache

log = logging.getLogger(__name__)

MAX_QUERY = 200
MAX_HITS = 100
FIELD_LIMIT = 500  # texts read per field and predicate: the first ones in the store's index order

#: (field, predicate): each searched with its own single-pattern scan, which pyoxigraph runs at index speed;
#: one big UNION with the type checks inside was orders of magnitude slower.
_FIELDS = (
    ("label", RDFS.label), ("label", DCT.title), ("description", DCT.description), ("error", EG.errorText),
    ("lesson", EG.lessonLearned), ("outcome", EG.observedOutcome), ("question", EG.researchQuestion),
    ("parameter", MLS.hasValue),
)
_SCAN = query("""SELECT ?s ?text WHERE {
  #@p
  #@q
  ?s ?p ?text FILTER(isLiteral(?text) && CONTAINS(LCASE(STR(?text)), LCASE(?q))) } LIMIT #@limit
""")
#: Things that hold a matching text on behalf of another: a parameter setting for its run, a hypothesis for its
#: experiment or result.
#: ``#@x`` inside each branch: a UNION does not see an outer VALUES early.
_OWNERS = query("""SELECT ?x ?owner WHERE { { #@x
  ?owner mls:hasInput ?x }
  UNION { #@x
  ?owner eg:hypothesis|eg:testsHypothesis ?x } }""")
_KINDS = query("SELECT ?x ?xLabel ?t WHERE {\n#@x\n?x a ?t OPTIONAL { ?x rdfs:label ?xLabel } }")
_ORDER = ["Run", "NegativeResult", "Result", "Experiment", "Project", "DatasetSeries", "Dataset", "Concept"]
_TYPES = {str(EG): ("Run", "NegativeResult", "Result", "Experiment", "Project"),
          "http://www.w3.org/ns/dcat#": ("DatasetSeries", "Dataset"),
          "http://www.w3.org/2004/02/skos/core#": ("Concept",)}
_WANTED = {ns + name: name for ns, names in _TYPES.items() for name in names}


def search(store: Store, indexes: IndexCache[SearchSpec, SearchIndex], q: str,
           include_retired: bool = False) -> dict[str, Any]:
    """Resources whose texts contain ``q`` (case-insensitive), one hit per resource with the matching snippets;
    through the app's search index (in ``indexes``) once it is built. Retired things only when asked (marked)."""
    q = q.strip()
    hits = _hits(store, indexes, q)
    retired = indexes.get(SEARCH).retired if hits else frozenset()
    if include_retired:
        for hit in hits:
            hit["retired"] = hit["resource"]["iri"] in retired
    elif retired:
        hits = [hit for hit in hits if hit["resource"]["iri"] not in retired]
    return {"q": q, "total": len(hits), "hits": hits[:MAX_HITS], "include_retired": include_retired}


def _hits(store: Store, indexes: IndexCache[SearchSpec, SearchIndex], q: str) -> list[dict[str, Any]]:
    """Every hit for ``q``, in the order shown."""
    if len(q) > MAX_QUERY:
        raise BadRequest(f"search text is limited to {MAX_QUERY} characters")
    if not q:
        return []
    matches: dict[str, list[dict[str, str]]] = {}
    index = indexes.get(SEARCH)
    rows = index.rows(q) if index.ready else None
    if rows is None:
        rows = scan_rows(store, q)
        index.build_soon()  # after the scans: a build beside them made the first search slower
    for position, row in rows:
        text = plain(row["text"])
        matches.setdefault(row["s"].value, []).append({"field": _FIELDS[position][0], "text": _snippet(str(text), q)})
    if not matches:
        return []
    subjects = [NamedNode(iri) for iri in matches if iri.startswith(("http://", "https://", "urn:"))]
    for row in select(store, _OWNERS, x=subjects):
        matches.setdefault(row["owner"].value, []).extend(matches[row["x"].value])
    kinds: dict[str, tuple[str, str | None]] = {}
    for row in select(store, _KINDS, x=[NamedNode(iri) for iri in matches]):
        kind = _WANTED.get(row["t"].value)
        known = kinds.get(row["x"].value)
        if kind and (known is None or _ORDER.index(kind) < _ORDER.index(known[0])):
            kinds[row["x"].value] = (kind, plain(row.get("xLabel")))
    hits = []
    for iri, (kind, label) in kinds.items():
        unique = [dict(t) for t in dict.fromkeys(tuple(m.items()) for m in matches[iri])]
        hits.append({"resource": {"iri": iri, "label": label or short(iri)}, "kind": kind,
                     "matches": [m for m in unique if not (m["field"] == "label" and m["text"] == label)] or unique})
    hits.sort(key=lambda h: (_ORDER.index(h["kind"]), h["resource"]["label"].lower()))
    return hits


def scan_rows(store: Store, q: str) -> list[tuple[int, dict[str, Term]]]:
    """(field position, row with ``?s`` and ``?text``) of the texts containing ``q``, by one scan per field: what
    a search costs before the index is built."""
    return [(position, row) for position, (_, predicate) in enumerate(_FIELDS)
            for row in select(store, _SCAN, slots={"limit": FIELD_LIMIT}, p=predicate, q=Literal(q))]


@dataclass(frozen=True)
class SearchSpec:
    """The searched fields, named for the index cache (see :class:`expgraph.web.cache.IndexCache`)."""

    name: str
    fields: tuple[tuple[str, NamedNode], ...]


SEARCH = SearchSpec("search", _FIELDS)
_SEPARATOR = "\0"
_DISTINCT = query("SELECT DISTINCT ?text WHERE { ?s #@p\n?text FILTER(isLiteral(?text)) }")


@cache
def _matched_query(fields: tuple[tuple[str, NamedNode], ...], positions: tuple[int, ...]) -> SparqlTemplate:
    """The holders of the matching texts of the fields at ``positions``, each field's texts bound at its
    ``#@textN`` slot, at most ``#@limit`` rows per field, tagged with the field's position (``?i``)."""
    branches = [f"{{ SELECT ?i ?s ?text WHERE {{\n#@text{position}\n?s {sparql_term(fields[position][1])} ?text "
                f"BIND({position} AS ?i) }} LIMIT #@limit\n}}" for position in positions]
    return query(f"SELECT ?i ?s ?text WHERE {{ {' UNION '.join(branches)} }}")


class _Texts:
    """The distinct texts of one field and predicate in the store's index order (the order a scan meets them).

    Lower-cased and joined into one string, so that a search is a few ``str.find`` calls, not a Python loop over
    every text; the original texts joined likewise, with each one's datatype or language as a small number, to
    make the matching terms again. Why not a list of terms: it took about three times the memory.
    """

    def __init__(self, terms: list[Literal]) -> None:
        kinds: dict[tuple[str, str | None], int] = {}
        self.kinds: list[tuple[str, str | None]] = []
        self.kind = array("H")
        self.starts, self.lowered_starts = array("q"), array("q")
        lowered, at, lowered_at = [], 0, 0
        for term in terms:
            key = (term.datatype.value, term.language)
            if key not in kinds:
                kinds[key] = len(self.kinds)
                self.kinds.append(key)
            self.kind.append(kinds[key])
            low = term.value.lower()  # each apart: a final sigma lowers by what follows it
            lowered.append(low)
            self.starts.append(at)
            self.lowered_starts.append(lowered_at)
            at += len(term.value)
            lowered_at += len(low) + 1
        self.starts.append(at)
        self.text = "".join(term.value for term in terms)
        self.lowered = _SEPARATOR.join(lowered)

    def __len__(self) -> int:
        return len(self.kind)

    def term(self, i: int) -> Literal:
        datatype, language = self.kinds[self.kind[i]]
        value = self.text[self.starts[i]: self.starts[i + 1]]
        return Literal(value, language=language) if language else Literal(value, datatype=NamedNode(datatype))

    def matching(self, lowered_q: str, limit: int) -> list[Literal]:
        """The first ``limit`` terms whose lower-cased text contains ``lowered_q`` (which has no separator)."""
        found: list[Literal] = []
        at = self.lowered.find(lowered_q)
        while at >= 0 and len(found) < limit:
            i = bisect.bisect_right(self.lowered_starts, at) - 1
            found.append(self.term(i))
            at = self.lowered.find(lowered_q, self.lowered_starts[i + 1]) if i + 1 < len(self) else -1
        return found


class SearchIndex:
    """The distinct texts of every searched field for one store version, read on :meth:`build`.

    Why: the texts repeat (parameter values, error messages), so the distinct ones are few and small, matched in
    Python in milliseconds where the scans take seconds on a large catalog. Fetching the subjects of
    the first ``FIELD_LIMIT`` matching terms in the index order gives the scan's rows in the scan's order (the
    first ``FIELD_LIMIT`` of them), since every term has at least one subject.
    """

    def __init__(self, store: Store, spec: SearchSpec) -> None:
        self.store, self.spec = store, spec
        self._lock = threading.Lock()
        self._texts: list[_Texts] | None = None
        self._started = False
        self._retired: frozenset[str] | None = None

    @property
    def retired(self) -> frozenset[str]:
        """The retired things, read once per index (that is, per store generation)."""
        if self._retired is None:
            self._retired = retired_things(self.store)
        return self._retired

    @property
    def ready(self) -> bool:
        return self._texts is not None

    def build(self) -> None:
        """Read every field's distinct texts (once; a second caller waits for the first)."""
        with self._lock:
            if self._texts is None:
                self._texts = [_Texts([text for row in select(self.store, _DISTINCT, slots={"p": p})
                                       if isinstance(text := row["text"], Literal)])
                               for _, p in self.spec.fields]

    def build_soon(self) -> None:
        """Build on a background thread, once, so that the search asking for it is not kept waiting."""
        with self._lock:
            if self._started or self._texts is not None:
                return
            self._started = True
        threading.Thread(target=self._build_quietly, name="expgraph-search-index", daemon=True).start()

    def _build_quietly(self) -> None:
        try:
            self.build()
        except Exception:  # searches keep scanning; the request path reports store errors
            log.exception("search index not built")

    def rows(self, q: str) -> list[tuple[int, dict[str, Term]]] | None:
        """The rows :func:`scan_rows` gives, from the index; None when it cannot answer (not built, or ``q``
        holds the separator)."""
        lowered = q.lower()
        if self._texts is None or _SEPARATOR in lowered:
            return None
        matched = {position: terms for position, texts in enumerate(self._texts)
                   if (terms := texts.matching(lowered, FIELD_LIMIT))}
        if not matched:
            return []
        template = _matched_query(self.spec.fields, tuple(matched))
        slots = {f"text{position}": values("text", terms) for position, terms in matched.items()}
        found = [(int(row["i"].value), row)
                 for row in select(self.store, template, slots={**slots, "limit": FIELD_LIMIT})]
        return sorted(found, key=lambda pair: pair[0])  # stable: each field's rows keep their order


def _snippet(text: str, q: str, width: int = 80) -> str:
    at = text.lower().find(q.lower())
    if at < 0 or len(text) <= 2 * width:
        return text if len(text) <= 2 * width else text[: 2 * width] + "…"
    start = max(0, at - width)
    return ("…" if start else "") + text[start: at + len(q) + width] + ("…" if at + len(q) + width < len(text) else "")


_SCHEMES = query("""SELECT ?scheme ?schemeLabel (COUNT(?c) AS ?n) WHERE { ?scheme a skos:ConceptScheme .
  OPTIONAL { ?scheme skos:prefLabel|rdfs:label|dct:title ?schemeLabel } OPTIONAL { ?c skos:inScheme ?scheme } }
  GROUP BY ?scheme ?schemeLabel ORDER BY ?schemeLabel""")

_CONCEPTS = query("""SELECT ?c ?cLabel ?notation ?definition ?broader WHERE {
  #@scheme
  ?c skos:inScheme ?scheme .
  OPTIONAL { ?c skos:prefLabel ?cLabel } OPTIONAL { ?c skos:notation ?notation }
  OPTIONAL { ?c skos:definition ?definition } OPTIONAL { ?c skos:broader ?broader } } ORDER BY ?cLabel""")


def vocab(store: Store) -> dict[str, Any]:
    """Every SKOS scheme with its concepts as a tree (top concepts first, narrower ones under them)."""
    schemes = []
    seen: set[str] = set()
    for row in select(store, _SCHEMES):
        if row["scheme"].value in seen:
            continue
        seen.add(row["scheme"].value)
        concepts: dict[str, dict[str, Any]] = {}
        for c in select(store, _CONCEPTS, scheme=row["scheme"]):
            item = concepts.setdefault(c["c"].value, {**node(c, "c"), "notation": plain(c.get("notation")),
                                                      "definition": plain(c.get("definition")), "broader": None,
                                                      "narrower": []})
            item["broader"] = item["broader"] or plain(c.get("broader"))
        top = []
        for item in concepts.values():
            parent = concepts.get(item["broader"] or "")
            (parent["narrower"] if parent else top).append(item)
        schemes.append({"scheme": node(row, "scheme"), "count": plain(row["n"]), "concepts": top})
    return {"schemes": schemes}
