"""How the catalog pages read the store: query constants with slots, the one row reader, the graphs of a resource.

Every query of the pages is a module-level :class:`~expgraph.sparql.template.SparqlTemplate` made by
:func:`query` (the catalog's prefixes added, its slots found once), next to the builder that uses it. User values
reach SPARQL only through its slots, as terms written by ``sparql_term``: a one-variable ``VALUES`` block per
keyword of :func:`select` (``s=iri`` binds ``?s`` at the ``#@s`` slot), other slot kinds through ``slots``.
``VALUES`` rather than pyoxigraph ``substitutions`` because substitutions bind only projected variables and
remote stores have none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import GRAPHS, sparql_prologue
from expgraph.records import FAILURE_STATUSES
from expgraph.sparql.template import Slot, SparqlTemplate, TermList, values
from expgraph.store import Store
from expgraph.store.base import Term

PROLOGUE = sparql_prologue()
QUALITY_GRAPH = GRAPHS + "quality"
#: The graphs a catalog's imports are recorded in, shipped with every catalog; not a resource's own graphs.
IMPORTS = (GRAPHS + "imports", GRAPHS + "registry")
#: The notations of the run statuses that count as failed (:attr:`expgraph.records.RunStatus.is_failure`).
FAILED = FAILURE_STATUSES
#: The same, as literals for a ``FILTER(?status IN (...))`` slot.
FAILED_TERMS = TermList.of(Literal(status) for status in FAILURE_STATUSES)

Bound = Term | Sequence[Term]


def query(text: str) -> SparqlTemplate:
    """A page's query constant: the text with the catalog's prefixes, its slots found once."""
    return SparqlTemplate.parse(PROLOGUE + text)


def bind(template: SparqlTemplate, slots: Mapping[str, Slot] | None = None, **terms: Bound) -> str:
    """The query text with each keyword's terms as a ``VALUES`` block at its slot, and ``slots`` filled."""
    return template.bind(**(slots or {}), **{name: values(name, bound) for name, bound in terms.items()})


def select(store: Store, template: SparqlTemplate, *, graphs: list[NamedNode] | None = None,
           slots: Mapping[str, Slot] | None = None, **terms: Bound) -> list[dict[str, Term]]:
    """Rows of a SELECT with the given terms bound (see :func:`bind`); over ``graphs`` if given."""
    return rows(store, bind(template, slots, **terms), graphs)


def rows(store: Store, text: str, graphs: list[NamedNode] | None = None) -> list[dict[str, Term]]:
    """Rows of a bound SELECT text, unbound variables left out (the store's one row reader)."""
    return store.select(text, graphs=graphs)


_GRAPHS_OF = query("SELECT DISTINCT ?g WHERE {\n#@s\nGRAPH ?g { ?s ?p ?o } }")


def own_graphs(store: Store, iri: NamedNode | list[NamedNode]) -> list[NamedNode] | None:
    """The graphs describing a resource (its import source) plus the shipped and computed ones (vocabularies,
    ontology, quality), or None (all graphs) when it is in none.

    Why: a node every source shares (a parameter, a measure) has its label stated once per source, so a pattern
    through it over all graphs returns each row once per source; over the resource's own graphs, once.
    """
    return graphs_of(store, [row["g"] for row in select(store, _GRAPHS_OF, s=iri)])


def graphs_of(store: Store, versions: list[Term]) -> list[NamedNode] | None:
    """The logical graphs whose active versions are ``versions`` (from a ``GRAPH ?g`` pattern) plus the shipped
    and computed ones, or None when there are none (see :func:`own_graphs`)."""
    active = store.active_graphs()
    by_version = {info.version.value: info.name for info in active.values()}
    own = [by_version[g.value] for g in versions if g.value in by_version]
    if not own:
        return None
    furniture = [info.name for name, info in active.items() if name.startswith(GRAPHS) and name not in IMPORTS]
    return list(dict.fromkeys(own + furniture))


def has_quality(store: Store) -> bool:
    return QUALITY_GRAPH in store.active_graphs()
