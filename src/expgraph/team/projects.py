"""Private projects: which projects are restricted, which graphs hold them, and the scope each caller reads in.

A restriction is a statement in the catalog's own graph of restrictions (``graphs/restricted``):
``<project> audit:restricted <activity>``, the audit entry that restricted it, written in the same transaction as
that entry (as a retirement is). Kept in the store rather than beside it, so it is backed up, restored and shown
in the history with the data it protects; the graph itself is one of those hidden below, so the names of restricted
projects are not readable by the callers they are hidden from.

What a caller who may not see a restricted project cannot read (:meth:`Restrictions.hidden_from`):

- every graph holding that project: a graph stating ``?x eg:inProject <project>`` (an import source's graph, a
  captured run's graph, a loaded file). A graph holding two projects is hidden unless the caller may see both.
- the graphs the catalog keeps over every source (the audit trail, completeness scores, retirements, link audits,
  the restrictions themselves): they describe the hidden project's runs too, so they are hidden as a whole.

Admins see everything; a token naming the project (``--project``) sees it; everyone else, anonymous callers
included, does not. The result is a :class:`~expgraph.store.GraphScope`, and the store enforces it on every read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pyoxigraph import NamedNode, Triple

from expgraph.mapping import segment
from expgraph.namespaces import EG, GRAPHS
from expgraph.sparql.template import SparqlTemplate, values
from expgraph.store import GraphScope, Store
from expgraph.store.base import AUDIT
from expgraph.team import audit
from expgraph.team.actions import RETIRED, NotFound, content_digest
from expgraph.team.tokens import Token

RESTRICTED = NamedNode(GRAPHS + "restricted")
#: Graphs the catalog keeps over every source (besides those below ``graphs/audit/``, the link audits).
GATHERING = (AUDIT.value, GRAPHS + "quality", RETIRED.value, RESTRICTED.value)
_LINK_AUDITS = GRAPHS + "audit/"
#: The graphs stating that something is in one of the projects bound at the slot.
_HOLDING = SparqlTemplate.parse(f"SELECT DISTINCT ?g ?project WHERE {{ #@projects\n"
                                f"GRAPH ?g {{ ?x {EG.inProject} ?project }} }}")


def project_iri(name: str, base: str) -> NamedNode:
    """A project by its name (as ``--project`` gives it: ``{base}project/{name}``) or by its full IRI."""
    return NamedNode(name) if "://" in name else NamedNode(f"{base}project/{segment(name)}")


def restricted(store: Store) -> list[NamedNode]:
    """The restricted projects, by IRI, in order."""
    return sorted({t.subject for t in store.triples(RESTRICTED) if t.predicate == audit.AUDIT_TERMS.restricted
                   and isinstance(t.subject, NamedNode)}, key=lambda node: node.value)


def listing(store: Store) -> list[dict[str, object]]:
    """The restricted projects and the graphs each one hides (``project list``, ``/api/v1/projects/restricted``)."""
    holding = Restrictions.read(store).holding
    return [{"project": p.value, "graphs": sorted(holding.get(p.value, ()))} for p in restricted(store)]


def _change(store: Store, action: str, project: NamedNode, *, agent: str, client: str, base: str) -> bool:
    current = list(store.triples(RESTRICTED))
    mine = [t for t in current if t.subject == project and t.predicate == audit.AUDIT_TERMS.restricted]
    if (action == "restrict") == bool(mine):
        return False
    if action == "restrict":
        index, _ = audit.chain_head(store)
        new = [*current, Triple(project, audit.AUDIT_TERMS.restricted, audit.entry_node(base, index))]
    else:
        new = [t for t in current if t not in mine]
    change = audit.Change(action, RESTRICTED, store.active_graphs().get(RESTRICTED.value), content_digest(new),
                          len(new), subject=project)
    trail = audit.entry(store, change, agent=agent, client=client, base=base)
    return store.replace_graph(RESTRICTED, new, audit=trail)


def restrict(store: Store, project: NamedNode, *, agent: str, client: str, base: str) -> bool:
    """Restrict a project (False when it is already); audited. Call under the store's write lock. A project the
    catalog does not hold yet may be restricted too, so that its first import is private from the start."""
    return _change(store, "restrict", project, agent=agent, client=client, base=base)


def unrestrict(store: Store, project: NamedNode, *, agent: str, client: str, base: str) -> bool:
    """Lift a restriction; NotFound when the project is not restricted. Call under the store's write lock."""
    if project not in restricted(store):
        raise NotFound(f"project <{project.value}> is not restricted")
    return _change(store, "unrestrict", project, agent=agent, client=client, base=base)


@dataclass(frozen=True)
class Restrictions:
    """The restricted projects of one store generation and the graphs holding each."""

    holding: dict[str, frozenset[str]] = field(default_factory=dict)  # project IRI -> logical graph names
    gathering: frozenset[str] = frozenset()  # the catalog-wide graphs present

    @classmethod
    def read(cls, store: Store) -> Restrictions:
        projects = restricted(store)
        if not projects:
            return cls()
        active = store.active_graphs()
        names = {info.version.value: name for name, info in active.items()}
        holding: dict[str, set[str]] = {project.value: set() for project in projects}
        for row in store.select(_HOLDING.bind(projects=values("project", projects))):
            if row["g"].value in names:
                holding[row["project"].value].add(names[row["g"].value])
        gathering = frozenset(name for name in active if name in GATHERING or name.startswith(_LINK_AUDITS))
        return cls({project: frozenset(graphs) for project, graphs in holding.items()}, gathering)

    def hidden_from(self, allowed: frozenset[str] | None) -> frozenset[str]:
        """The graphs a caller may not read, who may see the restricted projects in ``allowed`` (IRIs; None: all)."""
        unseen = [project for project in self.holding if allowed is not None and project not in allowed]
        if not unseen:
            return frozenset()
        return self.gathering.union(*(self.holding[project] for project in unseen))


def allowed_projects(token: Token | None, base: str) -> frozenset[str] | None:
    """The restricted projects a caller may see, as IRIs: all (None) for an admin, those a token names, none for an
    anonymous caller."""
    if token is not None and token.allows("admin"):
        return None
    return frozenset(project_iri(name, base).value for name in (token.projects if token is not None else ()))


def may_write(store: Store, token: Token, base: str, touched: set[str]) -> bool:
    """Whether ``token`` may write content that holds (or replaces content holding) the projects ``touched``
    (IRIs): a restricted project is written only by admins and tokens naming it, whatever their role."""
    allowed = allowed_projects(token, base)
    return allowed is None or not any(p.value in touched and p.value not in allowed for p in restricted(store))


class RestrictionCache:
    """:class:`Restrictions` read once per store generation (a restriction, like an import, makes a new one)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._kept: tuple[tuple[str, ...], Restrictions] | None = None
        self._lock = threading.Lock()

    def scope(self, token: Token | None, base: str, within: GraphScope) -> GraphScope:
        """``within`` with the graphs hidden from this caller hidden too."""
        generation = self.store.generation()
        with self._lock:
            kept = self._kept
        if kept is None or kept[0] != generation:
            kept = (generation, Restrictions.read(self.store))
            with self._lock:
                self._kept = kept
        hidden = kept[1].hidden_from(allowed_projects(token, base))
        return within.hiding(hidden) if hidden else within
