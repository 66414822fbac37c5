"""Full-text search and the vocabulary browser.

The search text is bound as a literal (``?q``) and compared with ``CONTAINS(LCASE(?text), LCASE(?q))``: no
user text is ever part of the query string. It looks at labels, titles, descriptions, error texts, lessons
learned, observed outcomes, research questions, hypotheses and parameter values (a parameter hit finds its run).
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import DCT, EG, MLS, RDFS
from expgraph.store import Store
from expgraph.web.views import BadRequest, node, plain, select, short, values_block

MAX_QUERY = 200
MAX_HITS = 100

#: (field, predicate): each searched with its own single-pattern scan, which pyoxigraph runs at index speed;
#: one big UNION with the type checks inside took 37 s at 10k runs.
_FIELDS = (
    ("label", RDFS.label), ("label", DCT.title), ("description", DCT.description), ("error", EG.errorText),
    ("lesson", EG.lessonLearned), ("outcome", EG.observedOutcome), ("question", EG.researchQuestion),
    ("parameter", MLS.hasValue),
)
_SCAN = """SELECT ?s ?text WHERE { ?s ?p ?text FILTER(isLiteral(?text) && CONTAINS(LCASE(STR(?text)), LCASE(?q))) }
  LIMIT 500"""
#: Things that hold a matching text on behalf of another: a parameter setting for its run, a hypothesis for its
#: experiment or result.
_OWNERS = """SELECT ?x ?owner WHERE { { %VALUES% ?owner mls:hasInput ?x }
  UNION { %VALUES% ?owner eg:hypothesis|eg:testsHypothesis ?x } }"""
_KINDS = """SELECT ?x ?xLabel ?t WHERE { ?x a ?t OPTIONAL { ?x rdfs:label ?xLabel } }"""
_ORDER = ["Run", "NegativeResult", "Result", "Experiment", "Project", "DatasetSeries", "Dataset", "Concept"]
_TYPES = {str(EG): ("Run", "NegativeResult", "Result", "Experiment", "Project"),
          "http://www.w3.org/ns/dcat#": ("DatasetSeries", "Dataset"),
          "http://www.w3.org/2004/02/skos/core#": ("Concept",)}
_WANTED = {ns + name: name for ns, names in _TYPES.items() for name in names}


def search(store: Store, q: str) -> dict[str, Any]:
    """Resources whose texts contain ``q`` (case-insensitive), one hit per resource with the matching snippets."""
    q = q.strip()
    if len(q) > MAX_QUERY:
        raise BadRequest(f"search text is limited to {MAX_QUERY} characters")
    if not q:
        return {"q": q, "hits": [], "total": 0}
    matches: dict[str, list[dict[str, str]]] = {}
    for field, predicate in _FIELDS:
        for row in select(store, _SCAN, p=predicate, q=Literal(q)):
            text = plain(row["text"])
            matches.setdefault(row["s"].value, []).append({"field": field, "text": _snippet(str(text), q)})
    if not matches:
        return {"q": q, "hits": [], "total": 0}
    subjects = [NamedNode(iri) for iri in matches if iri.startswith(("http://", "https://", "urn:"))]
    bound = values_block({"x": subjects})  # inside each branch: a UNION does not see an outer VALUES early
    for row in select(store, _OWNERS.replace("%VALUES%", bound)):
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
    return {"q": q, "total": len(hits), "hits": hits[:MAX_HITS]}


def _snippet(text: str, q: str, width: int = 80) -> str:
    at = text.lower().find(q.lower())
    if at < 0 or len(text) <= 2 * width:
        return text if len(text) <= 2 * width else text[: 2 * width] + "…"
    start = max(0, at - width)
    return ("…" if start else "") + text[start: at + len(q) + width] + ("…" if at + len(q) + width < len(text) else "")


_SCHEMES = """SELECT ?scheme ?schemeLabel (COUNT(?c) AS ?n) WHERE { ?scheme a skos:ConceptScheme .
  OPTIONAL { ?scheme skos:prefLabel|rdfs:label|dct:title ?schemeLabel } OPTIONAL { ?c skos:inScheme ?scheme } }
  GROUP BY ?scheme ?schemeLabel ORDER BY ?schemeLabel"""

_CONCEPTS = """SELECT ?c ?cLabel ?notation ?definition ?broader WHERE { ?c skos:inScheme ?scheme .
  OPTIONAL { ?c skos:prefLabel ?cLabel } OPTIONAL { ?c skos:notation ?notation }
  OPTIONAL { ?c skos:definition ?definition } OPTIONAL { ?c skos:broader ?broader } } ORDER BY ?cLabel"""


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
