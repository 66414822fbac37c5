"""What is retired, read for the catalog's pages: the set of retired things (lists, facets and search leave them
out unless asked, ``?include=retired``) and one thing's retirement (the banner on its page).

Both read the small retirements graph (``graphs/retired``, one statement per retired thing), never the catalog:
hiding costs one set difference per list selection, whatever the catalog's size.
"""

from __future__ import annotations

from pyoxigraph import NamedNode, QuerySolutions

from expgraph.namespaces import EG, PROV
from expgraph.store import Store
from expgraph.store.base import AUDIT, sparql_term
from expgraph.team.actions import RETIRED
from expgraph.team.audit import AUDIT_TERMS

#: The query parameter and value that show retired things in lists and search.
INCLUDE = ("include", "retired")


def included(params: object) -> bool:
    """Whether a request's query parameters ask for retired things too (``?include=retired``)."""
    get = getattr(params, "get", None)
    return get is not None and get(INCLUDE[0]) == INCLUDE[1]


def retired_things(store: Store) -> frozenset[str]:
    """The IRIs of every retired thing."""
    if RETIRED.value not in store.active_graphs():
        return frozenset()
    rows = store.query(f"SELECT ?s WHERE {{ ?s {sparql_term(EG.retired)} ?a }}", graphs=[RETIRED])
    assert isinstance(rows, QuerySolutions)
    return frozenset(row["s"].value for row in rows)


def retirement(store: Store, thing: NamedNode) -> dict[str, str] | None:
    """Why, by whom and when ``thing`` was retired (from its audit entry), or None when it is not retired. The
    trail is read here whatever the caller's scope: these three facts are public on the thing's page."""
    if RETIRED.value not in store.active_graphs():
        return None
    rows = store.query(
        f"SELECT ?activity ?reason ?agent ?time WHERE {{ {sparql_term(thing)} {sparql_term(EG.retired)} ?activity "
        f"OPTIONAL {{ ?activity {sparql_term(AUDIT_TERMS.reason)} ?reason }} "
        f"OPTIONAL {{ ?activity {sparql_term(AUDIT_TERMS.agentName)} ?agent }} "
        f"OPTIONAL {{ ?activity {sparql_term(PROV.startedAtTime)} ?time }} }} LIMIT 1",
        graphs=[RETIRED, AUDIT])
    assert isinstance(rows, QuerySolutions)
    for row in rows:
        return {name: row[name].value for name in ("activity", "reason", "agent", "time") if row[name] is not None}
    return None
