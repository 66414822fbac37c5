"""The audit trail of writes through the API: each one a ``prov:Activity`` in the audit graph, hash-chained.

An entry names the agent (the token's name), the time, the action, the graph, its content before and after
(version, content digest, triple count), the source digest and the client's address. Each entry carries its
place in the chain (``audit:index``), the previous entry's hash and its own: SHA-256 over the previous hash and
the entry's own statements (sorted N-Triples, the hash itself left out). Editing, removing or inserting an entry
breaks the chain at that entry, which :func:`verify` names. Entries are written in the same transaction as the
change they record (the store's swap), so a change is never without its entry.

Literals are written in the store's canonical forms (whole seconds, plain integers), so that the statements read
back are the statements hashed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from pyoxigraph import Literal, NamedNode, QuerySolutions, Triple

from expgraph.namespaces import PROV, RDF, RDFS, XSD, Namespace
from expgraph.store import GraphInfo, Store
from expgraph.store.base import AUDIT
from expgraph.team.tokens import Token, TokenStore

AUDIT_TERMS = Namespace("https://w3id.org/expgraph/audit#")
GENESIS = "0" * 64


#: Who may read the audit trail (token names, client addresses): those who may write. Readers and anonymous
#: visitors of the public ``/sparql`` may not; contributors may, as their clients read their own import records
#: there (an unchanged source is then skipped without being read).
AUDIT_READER = "contributor"


def hidden_graphs(token: Token | None) -> frozenset[str]:
    """The graphs a caller with ``token`` may not read because of the trail: the audit graph, below contributor.
    (The hook for :func:`expgraph.web.sparql.scope_of`: its scope hides these too.)"""
    return frozenset() if token is not None and token.allows(AUDIT_READER) else frozenset({AUDIT.value})


def in_trail(base: str, iri: NamedNode) -> bool:
    """Whether ``iri`` is one of the trail's own nodes (an entry, a token's agent): their pages show token names
    and client addresses, so they are for those who may read the trail, as the audit graph is."""
    return iri.value.startswith((f"{base}audit/", f"{base}agent/token/"))


def may_read_trail(token: Token | None) -> bool:
    return not hidden_graphs(token)


@dataclass(frozen=True)
class Change:
    """What one write did to one graph, as the entry records it."""

    action: str  # replace, drop, retire, restore, purge, token create, token revoke
    graph: NamedNode  # for a token change, the token's agent
    before: GraphInfo | None
    digest_after: str | None
    triples_after: int | None
    source_digest: str | None = None
    reason: str | None = None
    subject: NamedNode | None = None  # the thing retired or restored
    time: str | None = None  # when it happened, if not now (a token change journalled earlier)
    journal: int | None = None  # a token change's number in the token table's journal


def _now() -> Literal:
    text = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Literal(text, datatype=XSD.dateTime)


def agent_node(base: str, name: str) -> NamedNode:
    """The agent a token stands for (its name hashed into the IRI, so the IRI is safe whatever the name)."""
    return NamedNode(f"{base}agent/token/{hashlib.sha256(name.encode()).hexdigest()[:16]}")


def _integer(value: int) -> Literal:
    return Literal(str(value), datatype=XSD.integer)


def entry_hash(previous: str, triples: list[Triple]) -> str:
    lines = sorted(str(t) for t in triples if t.predicate != AUDIT_TERMS.entryHash)
    return hashlib.sha256((previous + "\n" + "\n".join(lines)).encode()).hexdigest()


def chain_head(store: Store) -> tuple[int, str]:
    """The next entry's index and the last entry's hash (the genesis hash for an empty trail)."""
    rows = store.query(f"SELECT ?i ?h WHERE {{ ?e {AUDIT_TERMS.index} ?i ; {AUDIT_TERMS.entryHash} ?h }} "
                       "ORDER BY DESC(?i) LIMIT 1", graphs=[AUDIT])
    assert isinstance(rows, QuerySolutions)
    for row in rows:
        return int(row["i"].value) + 1, row["h"].value
    return 0, GENESIS


def entry_node(base: str, index: int) -> NamedNode:
    """The IRI of the audit entry at ``index``: the activity itself (a retirement points to it)."""
    return NamedNode(f"{base}audit/{index}")


def entry(store: Store, change: Change, *, agent: str, client: str, base: str) -> list[Triple]:
    """The audit statements of one change, chained to the trail's last entry. Call it under the server's write
    lock, and write the result in the same transaction as the change (the ``audit=`` of a store write)."""
    index, previous = chain_head(store)
    node = entry_node(base, index)
    agent_iri = agent_node(base, agent)
    t = AUDIT_TERMS
    triples = [
        Triple(node, RDF.type, PROV.Activity),
        Triple(node, RDF.type, t.WriteActivity),
        Triple(node, RDFS.label, Literal(f"{change.action} <{change.graph.value}>")),
        Triple(node, PROV.startedAtTime, Literal(change.time, datatype=XSD.dateTime) if change.time else _now()),
        Triple(node, PROV.wasAssociatedWith, agent_iri),
        Triple(node, t.agentName, Literal(agent)),
        Triple(node, t.action, Literal(change.action)),
        Triple(node, t.graph, change.graph),
        Triple(node, t.clientAddress, Literal(client)),
        Triple(node, t.index, _integer(index)),
        Triple(node, t.previousHash, Literal(previous)),
    ]
    if change.triples_after is not None:
        triples.append(Triple(node, t.triplesAfter, _integer(change.triples_after)))
    if change.journal is not None:
        triples.append(Triple(node, t.tokenJournal, _integer(change.journal)))
    if change.before is not None:
        triples += [Triple(node, t.versionBefore, change.before.version),
                    Triple(node, t.digestBefore, Literal(change.before.digest)),
                    Triple(node, t.triplesBefore, _integer(change.before.triples))]
    optional = [(t.digestAfter, change.digest_after), (t.sourceDigest, change.source_digest),
                (t.reason, change.reason)]
    triples += [Triple(node, predicate, Literal(value)) for predicate, value in optional if value is not None]
    if change.subject is not None:
        triples.append(Triple(node, PROV.used, change.subject))
    triples.append(Triple(node, t.entryHash, Literal(entry_hash(previous, triples))))
    # the agent's description is shared by its entries, so it stays outside each entry's hash
    return [*triples, Triple(agent_iri, RDF.type, PROV.Agent), Triple(agent_iri, RDFS.label, Literal(agent))]


def record_token_changes(store: Store, tokens: TokenStore, *, base: str, client: str = "local") -> int:
    """Write the token table's journalled changes the trail lacks (those after the last it recorded) as entries,
    each in its own transaction; how many. Idempotent: a change is recorded once, whoever calls this (the command
    that made the change when it holds the store, else the server holding it). Call under the write lock."""
    rows = store.query(f"SELECT (MAX(?n) AS ?last) WHERE {{ ?e {AUDIT_TERMS.tokenJournal} ?n }}", graphs=[AUDIT])
    assert isinstance(rows, QuerySolutions)
    last = next((int(row["last"].value) for row in rows if row["last"] is not None), -1)
    pending = tokens.changes(after=last)
    for change in pending:
        token = agent_node(base, change.name)
        recorded = Change(change.action, token, None, None, None, reason=change.detail or None, subject=token,
                          time=change.time, journal=change.seq)
        store.append_audit(entry(store, recorded, agent=change.agent, client=client, base=base))
    return len(pending)


@dataclass(frozen=True)
class Verdict:
    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store) -> Verdict:
    """Check the chain from its first entry: indexes without gaps, each entry's previous hash the one before it,
    each entry's hash its content's. Every broken entry is named."""
    rows = store.query(f"SELECT ?e ?p ?o WHERE {{ ?e {AUDIT_TERMS.index} ?i ; ?p ?o }}", graphs=[AUDIT])
    assert isinstance(rows, QuerySolutions)
    by_entry: dict[str, list[Triple]] = defaultdict(list)
    for row in rows:
        by_entry[row["e"].value].append(Triple(row["e"], row["p"], row["o"]))

    def value(triples: list[Triple], predicate: NamedNode) -> str | None:
        found = [t.object.value for t in triples if t.predicate == predicate]
        return found[0] if len(found) == 1 else None

    ordered = sorted(by_entry.items(), key=lambda item: int(value(item[1], AUDIT_TERMS.index) or -1))
    problems = []
    previous = GENESIS
    for position, (iri, triples) in enumerate(ordered):
        index, stated_previous, stated = (value(triples, AUDIT_TERMS.index), value(triples, AUDIT_TERMS.previousHash),
                                          value(triples, AUDIT_TERMS.entryHash))
        if index != str(position):
            problems.append(f"entry <{iri}>: index {index}, expected {position} (an entry is missing or added)")
        elif stated_previous != previous:
            problems.append(f"entry {index} <{iri}>: does not follow the entry before it (chain broken)")
        elif stated is None or entry_hash(stated_previous, triples) != stated:
            problems.append(f"entry {index} <{iri}>: its content does not match its hash (edited)")
        previous = stated or ""
    return Verdict(len(ordered), tuple(problems))


#: The fields of an entry as :func:`recent` lists them, by predicate.
_FIELDS = {"index": AUDIT_TERMS.index, "time": PROV.startedAtTime, "agent": AUDIT_TERMS.agentName,
           "action": AUDIT_TERMS.action, "graph": AUDIT_TERMS.graph, "thing": PROV.used,
           "reason": AUDIT_TERMS.reason, "client": AUDIT_TERMS.clientAddress,
           "triples_before": AUDIT_TERMS.triplesBefore, "triples_after": AUDIT_TERMS.triplesAfter,
           "digest_before": AUDIT_TERMS.digestBefore, "digest_after": AUDIT_TERMS.digestAfter}


def recent(store: Store, limit: int = 50, before: int | None = None) -> list[dict[str, str]]:
    """The last ``limit`` entries (before the entry numbered ``before``, for paging), newest first, as plain dicts
    (for ``/audit``, ``/api/v1/audit`` and ``audit-log show``)."""
    optional = " ".join(f"OPTIONAL {{ ?e {predicate} ?{name} }}" for name, predicate in _FIELDS.items()
                        if name != "index")
    older = f"FILTER(?index < {int(before)})" if before is not None else ""
    rows = store.query(f"SELECT * WHERE {{ ?e {AUDIT_TERMS.index} ?index {optional} {older} }} "
                       f"ORDER BY DESC(?index) LIMIT {int(limit)}", graphs=[AUDIT])
    assert isinstance(rows, QuerySolutions)
    names = [v.value for v in rows.variables]
    return [{name: term.value for name, term in zip(names, row, strict=True) if term is not None} for row in rows]
